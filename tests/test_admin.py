"""The operator commands in-process: keys, accounts, usage (table and CSV)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from ocrgate.cli import main
from ocrgate.store import Store, UsageEntry


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OCRGATE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("OCRGATE_CONFIG", raising=False)
    monkeypatch.delenv("OCRGATE_DATABASE_URL", raising=False)
    return tmp_path


def test_keys_and_accounts(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--account", "team-a", "--name", "ci", "--rpm", "5"]) == 0
    secret = capsys.readouterr().out.strip()
    assert secret.startswith("sk-")
    store = Store.open(data_dir)
    [key] = store.keys.list()
    assert (key.account_id, key.name, key.rpm) == ("team-a", "ci", 5)
    assert main(["accounts", "limits", "team-a", "--tpm", "1000"]) == 0
    assert "tpm 1000" in capsys.readouterr().out
    assert main(["accounts", "list"]) == 0
    out = capsys.readouterr().out
    assert "team-a" in out and "1000" in out
    assert main(["keys", "revoke", key.id]) == 0
    assert capsys.readouterr().out == f"revoked {key.id}\n"
    assert main(["keys", "list"]) == 0
    assert key.id not in capsys.readouterr().out  # revoked keys only with --all
    assert main(["keys", "list", "--all"]) == 0
    assert key.id in capsys.readouterr().out
    with pytest.raises(ValueError, match="invalid account id"):
        main(["keys", "create", "--account", "bad account"])


def test_usage_table_and_csv(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = Store.open(data_dir)
    store.usage.add_many([
        UsageEntry("r1", "team-a", "native", 200, task="text_recognition", text_tokens=10,
                   image_tokens=90, output_tokens=7, cost=0.25, created_at=1_780_000_000),
        UsageEntry("r2", "team-a", "compatible", 500, task="table_parsing", created_at=1_780_000_100),
        UsageEntry("r3", "team-b", "native", 200, task="text_recognition", output_tokens=3,
                   created_at=1_780_090_000),
    ])
    out_csv = data_dir / "usage.csv"
    assert main(["usage", "--by", "task", "--csv", str(out_csv)]) == 0
    table = capsys.readouterr().out
    assert "table_parsing" in table and "team-b" in table
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text())))
    assert [(r["account"], r["task"], r["requests"], r["failed"]) for r in rows] == [
        ("team-a", "table_parsing", "1", "1"), ("team-a", "text_recognition", "1", "0"),
        ("team-b", "text_recognition", "1", "0")]
    assert rows[1]["input_tokens"] == "100" and float(rows[1]["cost"]) == 0.25
    assert main(["usage", "--account", "team-a", "--until", "2026-05-28T20:28:00Z", "--csv", "-"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[1].split(",")[:3] == ["team-a", "1", "0"]  # only r1 is before --until
