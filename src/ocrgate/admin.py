"""Operator commands on the store: ``ocrgate keys …``, ``ocrgate accounts …``, ``ocrgate usage``.

They open the same store the server uses (``database_url`` or ``<data_dir>/ocrgate.db``), so
a key revoked here is refused by a running server on its next request.
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from .config import load_settings
from .metering import USAGE_GROUPINGS as GROUPINGS

if TYPE_CHECKING:
    from .store import Store


def _store(args: argparse.Namespace) -> Store:
    from .store import Store  # SQLAlchemy: only for the commands that use the store

    settings = load_settings(args.config)
    return Store.open(settings.data_dir, settings.database_url)


def _when(ts: float | None) -> str:
    return "" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _print_table(headers: list[str], rows: list[list[Any]]) -> None:
    table = Table(*headers)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    Console(width=200).print(table)


def cmd_keys_create(args: argparse.Namespace) -> int:
    new = _store(args).keys.create(args.account, name=args.name, rpm=args.rpm, tpm=args.tpm)
    print(new.secret)
    print(f"key id {new.info.id}, account {new.info.account_id}: the key is shown only now; "
          "store it safely", file=sys.stderr)
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    keys = _store(args).keys.list(args.account)
    _print_table(["id", "account", "name", "key", "rpm", "tpm", "created", "revoked"],
                 [[k.id, k.account_id, k.name, k.hint + "…", k.rpm, k.tpm, _when(k.created_at),
                   _when(k.revoked_at)] for k in keys if args.all or k.active])
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    if not _store(args).keys.revoke(args.key_id):
        print(f"no active key with id {args.key_id}", file=sys.stderr)
        return 1
    print(f"revoked {args.key_id}")
    return 0


def cmd_accounts_list(args: argparse.Namespace) -> int:
    store = _store(args)
    counts: dict[str, int] = {}
    for key in store.keys.list():
        counts[key.account_id] = counts.get(key.account_id, 0) + int(key.active)
    _print_table(["account", "rpm", "tpm", "active keys", "created"],
                 [[a.id, a.rpm or "default", a.tpm or "default", counts.get(a.id, 0),
                   _when(a.created_at)] for a in store.accounts.list()])
    return 0


def cmd_accounts_limits(args: argparse.Namespace) -> int:
    info = _store(args).accounts.set_limits(args.account, args.rpm, args.tpm)
    print(f"{info.id}: rpm {info.rpm or 'model default'}, tpm {info.tpm or 'model default'}")
    return 0


def cmd_usage(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    from .store import Store
    from .store.usage import parse_when, summary_dict

    store = Store.open(settings.data_dir, settings.database_url)
    since = parse_when(args.since) if args.since else None
    until = parse_when(args.until) if args.until else None
    rows = [summary_dict(r, args.by) for r in store.usage.summary(args.account, since, until, args.by)]
    if args.csv:
        out = sys.stdout if args.csv == "-" else open(args.csv, "w", newline="")  # noqa: SIM115
        try:
            fields = ["account"] + ([args.by] if args.by else []) + [
                "requests", "failed", "input_tokens", "text_tokens", "image_tokens",
                "output_tokens", "total_tokens", "cost"]
            writer = csv.DictWriter(out, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
        finally:
            if out is not sys.stdout:
                out.close()
        if args.csv == "-":
            return 0
    headers = list(rows[0]) if rows else ["account", "requests"]
    headers = [f"cost ({settings.currency})" if h == "cost" else h for h in headers]
    _print_table(headers, [list(r.values()) for r in rows])
    return 0


def _limits(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rpm", type=int, default=None, help="requests per minute, per model")
    parser.add_argument("--tpm", type=int, default=None, help="tokens per minute, per model")


def register(sub: Any) -> None:
    """Add the keys, accounts and usage commands to ``ocrgate``'s sub-parsers."""
    keys = sub.add_parser("keys", help="API keys in the store").add_subparsers(dest="keys_cmd",
                                                                              required=True)
    create = keys.add_parser("create", help="make a key for an account; prints it once")
    create.add_argument("--account", required=True)
    create.add_argument("--name", default=None)
    _limits(create)
    create.set_defaults(func=cmd_keys_create)
    listing = keys.add_parser("list", help="keys (no secrets)")
    listing.add_argument("--account", default=None)
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    listing.set_defaults(func=cmd_keys_list)
    revoke = keys.add_parser("revoke", help="revoke a key by id (refused from the next request on)")
    revoke.add_argument("key_id")
    revoke.set_defaults(func=cmd_keys_revoke)

    accounts = sub.add_parser("accounts", help="accounts and their limits").add_subparsers(
        dest="accounts_cmd", required=True)
    accounts.add_parser("list", help="accounts, limits, key counts").set_defaults(func=cmd_accounts_list)
    limits = accounts.add_parser("limits", help="set an account's per-model limits "
                                 "(omitted: back to the model defaults)")
    limits.add_argument("account")
    _limits(limits)
    limits.set_defaults(func=cmd_accounts_limits)

    usage = sub.add_parser("usage", help="usage and cost from the ledger")
    usage.add_argument("--account", default=None)
    usage.add_argument("--since", default=None, help="YYYY-MM-DD, ISO date-time (UTC) or epoch s")
    usage.add_argument("--until", default=None, help="exclusive; same forms as --since")
    usage.add_argument("--by", choices=GROUPINGS, default=None)
    usage.add_argument("--csv", default=None, metavar="FILE", help="also write CSV ('-': stdout only)")
    usage.set_defaults(func=cmd_usage)
