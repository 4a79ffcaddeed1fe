"""Command line: ``ocrgate serve``, ``ocrgate ocr FILE...``, ``ocrgate batch`` (batch/cli.py),
and the operator commands (``keys``, ``accounts``, ``usage``: admin.py; ``eval``:
eval/command.py)."""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import signal
import sys
from typing import Any

from .config import load_settings

log = logging.getLogger("ocrgate")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _exit_quietly(signum: int, _frame: Any) -> None:
    raise SystemExit(0)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .logs import configure as configure_logs

    overrides: dict[str, Any] = {"host": args.host, "port": args.port}
    if args.api_key:
        overrides["api_keys"] = args.api_key
    settings = load_settings(args.config, **overrides)
    configure_logs(settings.log_format, args.log_level.upper())
    from .api.app import create_app
    from .store import Store

    store = Store.open(settings.data_dir, settings.database_url)
    if settings.open_mode and not settings.admin_keys and not store.keys.any_active():
        if not _is_loopback(settings.host):
            log.warning("no API key configured: refusing to listen on %s; binding 127.0.0.1 only",
                        settings.host)
        settings.host = "127.0.0.1"
        log.warning("no API key configured: any key is accepted and the server listens on "
                    "127.0.0.1 only (set api_keys or OCRGATE_API_KEYS to serve other hosts)")
    if args.ray is not None:  # the same API as a Ray Serve application (cluster/)
        store.close()
        return _serve_on_ray(args, settings)
    from .service import OcrService

    service = OcrService(settings, serving=True)
    app = create_app(settings, service=service, store=store)
    log.info("ocrgate listening on http://%s:%d (native: /api/v1, compatible: /compatible-mode/v1; "
             "store: %s)", settings.host, settings.port, store.backend)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT and then raises the signal again; with
    # the default handlers the process would die there, skipping the ``finally`` below and
    # every exit hook (engine workers left running, a shared semaphore reported leaked)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_quietly)
    try:
        # log_config=None: uvicorn's loggers go through the handler configured above (text or JSON)
        uvicorn.run(app, host=settings.host, port=settings.port, log_level=args.log_level,
                    log_config=None)
    finally:
        service.close()
        store.close()
    return 0


def _serve_on_ray(args: argparse.Namespace, settings: Any) -> int:
    from .cluster import RayMissing, require_ray
    from .cluster.options import from_arguments

    try:
        address, options = from_arguments(args)
        require_ray()
    except (ValueError, RayMissing) as exc:
        print(f"ocrgate serve --ray: {exc}", file=sys.stderr)
        return 2
    from .cluster.serve_app import serve_on_ray

    return serve_on_ray(settings, options, address, args.log_level)


def _ocr_units(paths: list[str]) -> list[tuple[str, int | None, int, Any]]:
    """(name, page from 1 or None, pages, the path or the PDF page): a PDF is read page by page."""
    from pathlib import Path

    from .batch.pages import Page, open_source

    units: list[tuple[str, int | None, int, Any]] = []
    for path in paths:
        file = Path(path)
        source = open_source(file.resolve(), file.name) if file.is_file() else None
        if source is None or source.kind != "pdf" or source.error:
            units.append((path, None, 1, path))
            continue
        units += [(path, i + 1, source.pages, Page(source, i)) for i in range(source.pages)]
    return units


def cmd_ocr(args: argparse.Namespace) -> int:
    from .batch.pages import Page, page_bytes
    from .errors import OcrError
    from .library import recognize
    from .service import OcrService

    settings = load_settings(args.config)
    # one command, known files: warming every network up front would only delay the answer
    settings.engine.warm_up = False
    settings.pdf_rasterize = True  # on the command line the user is the operator: PDFs are read
    settings.pdf_max_pages = 1  # ... one page per request
    service = OcrService(settings)
    status = 0
    outputs = []
    units = _ocr_units(args.files)
    for path, page, pages, item in units:
        where = path if page is None else f"{path} (page {page}/{pages})"
        try:
            image = page_bytes(item)[0] if isinstance(item, Page) else item  # one page at a time
            rec = recognize(image, task=args.task, model=args.model,
                            enable_rotate=args.rotate, service=service)
        except OcrError as err:
            print(f"{where}: error {err.status} {err.code}: {err.message}", file=sys.stderr)
            status = 1
            continue
        if args.format == "json":
            entry = {"file": path, **({"page": page} if page is not None else {}),
                     "text": rec.text, "ocr_result": rec.ocr_result,
                     "finish_reason": rec.finish_reason,
                     "usage": {"input_tokens": rec.usage.input_tokens,
                               "output_tokens": rec.usage.output_tokens,
                               "image_tokens": rec.usage.image_tokens}}
            outputs.append(entry)
        else:
            if len(units) > 1:
                print(f"==> {where} <==")
            print(rec.text)
    if args.format == "json":
        json.dump(outputs if len(outputs) != 1 else outputs[0], sys.stdout, ensure_ascii=False, indent=2)
        print()
    return status


def cmd_draw_bbox(args: argparse.Namespace) -> int:
    from .render.draw import draw_file

    print(draw_file(args.image, args.response, args.output, args.label))
    return 0


def cmd_formula_export(args: argparse.Namespace) -> int:
    from .build.formula_export import main as export_main

    return export_main(args.rest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ocrgate", description="Self-hosted Qwen-OCR-compatible OCR")
    parser.add_argument("--config", help="TOML configuration file (or $OCRGATE_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--api-key", action="append", help="accepted API key (repeatable)")
    serve.add_argument("--log-level", default="info")
    from .cluster.options import add_arguments as add_ray_arguments

    add_ray_arguments(serve, "run as a Ray Serve application", serving=True)
    serve.set_defaults(func=cmd_serve)

    ocr = sub.add_parser("ocr", help="recognise image files and PDFs (every page) without a server")
    ocr.add_argument("files", nargs="+")
    ocr.add_argument("--task", default=None, help="built-in task, e.g. advanced_recognition")
    ocr.add_argument("--model", default="qwen-vl-ocr-latest")
    ocr.add_argument("--rotate", action="store_true", help="auto-correct page orientation")
    ocr.add_argument("--format", choices=["text", "json"], default="text")
    ocr.set_defaults(func=cmd_ocr)

    draw = sub.add_parser("draw-bbox", help="draw advanced_recognition boxes on the image (spec §11)")
    draw.add_argument("image")
    draw.add_argument("response", help="saved native response (or ocr_result) JSON")
    draw.add_argument("-o", "--output", default=None, help="default: <name>_location<ext> beside the image")
    draw.add_argument("--label", action="store_true", help="write each line's text near its box")
    draw.set_defaults(func=cmd_draw_bbox)

    export = sub.add_parser("formula-export", add_help=False,
                            help="only the formula export of `models install` (see --help)")
    export.set_defaults(func=cmd_formula_export)
    export.add_argument("rest", nargs=argparse.REMAINDER)

    from .admin import register as register_admin
    from .batch.cli import register as register_batch
    from .build.model_install import register as register_models
    from .doctor import register as register_doctor
    from .eval.command import register as register_eval

    register_models(sub)
    register_doctor(sub)
    register_eval(sub)
    register_admin(sub)
    register_batch(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its plugin and migration chatter
    args = build_parser().parse_args(argv)
    from .engines.embedded.nets.files import ModelMissing

    try:
        return int(args.func(args))
    except ModelMissing as exc:  # a model the text reader needs: say how to get it
        print(f"ocrgate {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
