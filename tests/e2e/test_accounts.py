"""Accounts at the edge, end to end: store keys, per-key limits answered to the real openai and
dashscope SDKs, the usage ledger against what the clients saw, revocation, account isolation
of uploads, the admin report, /metrics, /health and /ready."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dashscope
import httpx
import openai
import pytest
from dashscope import MultiModalConversation
from openai import OpenAI
from prometheus_client.parser import text_string_to_metric_families

from ocrgate.api.app import create_app
from ocrgate.metering import cost
from ocrgate.store import Store, UsageEntry
from ocrgate.tasks.catalog import DEFAULT_PROMPT
from tests import pg
from tests.conftest import API_KEY, REPO, data_url, png_bytes, render_lines, serve

ADMIN_KEY = "sk-admin-test"
LINES = ["Team usage 2026", "Ledger line two"]


@dataclasses.dataclass
class Deployment:
    origin: str
    store: Store
    data_dir: Path
    app: object
    database_url: str | None

    def flush(self) -> None:
        assert self.app.state.gate.ledger.flush(10)  # type: ignore[attr-defined]

    def rows(self) -> dict[str, UsageEntry]:
        self.flush()
        return {r.request_id: r for r in self.store.usage.rows()}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def deployment(request: pytest.FixtureRequest, lean_service,  # noqa: ANN001
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """The lean engine behind an app with its own store: SQLite under data_dir, or a
    database on the test PostgreSQL cluster (both run every test here)."""
    data_dir = tmp_path_factory.mktemp("accounts")
    with contextlib.ExitStack() as stack:
        url = None
        if request.param == "postgresql":
            url = stack.enter_context(pg.database(request.getfixturevalue("pg_server")))
        settings = dataclasses.replace(lean_service.settings, data_dir=str(data_dir), database_url=url,
                                       api_keys=[API_KEY], admin_keys=[ADMIN_KEY], upload_policy_qps=3)
        store = Store.open(data_dir, url)
        stack.callback(store.close)
        app = create_app(settings, service=lean_service, store=store)
        with serve(lean_service, app=app) as origin:
            yield Deployment(origin, store, data_dir, app, url)


@pytest.fixture(scope="module")
def image() -> str:
    return data_url(png_bytes(render_lines(LINES, size=30)))


def _openai(dep: Deployment, key: str) -> OpenAI:
    return OpenAI(base_url=f"{dep.origin}/compatible-mode/v1", api_key=key, max_retries=0)


def _messages(url: str) -> list[dict]:
    return [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                         {"type": "text", "text": DEFAULT_PROMPT}]}]


def _native(dep: Deployment, key: str, image: str, **kw):  # noqa: ANN202
    dashscope.base_http_api_url = f"{dep.origin}/api/v1"
    return MultiModalConversation.call(api_key=key, model=kw.pop("model", "qwen-vl-ocr-latest"),
                                       messages=[{"role": "user", "content": [{"image": image}]}], **kw)


def test_rpm_breach_is_rate_quota_in_both_dialects(deployment: Deployment, image: str) -> None:
    key = deployment.store.keys.create("team-rpm", rpm=2).secret
    client = _openai(deployment, key)
    for _ in range(2):
        client.chat.completions.create(model="qwen-vl-ocr-latest", messages=_messages(image))
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="qwen-vl-ocr-latest", messages=_messages(image))
    err = caught.value
    assert err.status_code == 429 and err.code == "limit_requests" and err.type == "limit_requests"
    assert "rate limit exceeded" in err.message
    assert 1 <= int(err.response.headers["Retry-After"]) <= 60
    # the limit is per model: another model still has room; the native dialect says RateQuota
    assert _native(deployment, key, image, model="qwen-vl-ocr").status_code == 200
    _native(deployment, key, image, model="qwen-vl-ocr")
    rsp = _native(deployment, key, image, model="qwen-vl-ocr")
    assert (rsp.status_code, rsp.code) == (429, "Throttling.RateQuota")
    row = deployment.rows()[rsp.request_id]  # throttled requests are in the ledger too
    assert (row.account_id, row.status, row.error_code, row.output_tokens, row.cost) == (
        "team-rpm", 429, "Throttling.RateQuota", 0, 0.0)


def test_tpm_counts_used_tokens_and_is_allocation_quota(deployment: Deployment, image: str) -> None:
    key = deployment.store.keys.create("team-tpm", tpm=50).secret
    first = _native(deployment, key, image)
    assert first.status_code == 200 and first.usage["total_tokens"] > 50  # admitted, then counted
    rsp = _native(deployment, key, image)
    assert (rsp.status_code, rsp.code) == (429, "Throttling.AllocationQuota")
    with pytest.raises(openai.RateLimitError) as caught:
        _openai(deployment, key).chat.completions.create(model="qwen-vl-ocr-latest",
                                                         messages=_messages(image))
    assert caught.value.code == "Throttling.AllocationQuota"
    assert caught.value.type == "insufficient_quota"


def test_account_limits_cover_all_its_keys(deployment: Deployment, image: str) -> None:
    one = deployment.store.keys.create("team-shared").secret
    two = deployment.store.keys.create("team-shared").secret
    deployment.store.accounts.set_limits("team-shared", rpm=1, tpm=None)
    assert _native(deployment, one, image).status_code == 200
    rsp = _native(deployment, two, image)
    assert (rsp.status_code, rsp.code) == (429, "Throttling.RateQuota")


def test_ledger_matches_what_clients_saw(deployment: Deployment, image: str) -> None:
    new = deployment.store.keys.create("team-ledger", name="mixed")
    key = new.secret
    client = _openai(deployment, key)
    seen: dict[str, tuple[int, int, int, int, bool]] = {}  # request id -> text, image, output, status, stream

    rsp = _native(deployment, key, image)
    seen[rsp.request_id] = (rsp.usage["input_tokens_details"]["text_tokens"], rsp.usage["image_tokens"],
                            rsp.usage["output_tokens"], 200, False)
    for incremental in (True, False):
        chunks = list(_native(deployment, key, image, stream=True, incremental_output=incremental))
        last = chunks[-1]
        assert last.output.choices[0].finish_reason == "stop"
        seen[last.request_id] = (last.usage["input_tokens_details"]["text_tokens"],
                                 last.usage["image_tokens"], last.usage["output_tokens"], 200, True)
    sync = client.chat.completions.create(model="qwen-vl-ocr", messages=_messages(image))
    u = sync.usage
    seen[sync.id.removeprefix("chatcmpl-")] = (u.prompt_tokens_details.text_tokens,
                                               u.prompt_tokens_details.image_tokens,
                                               u.completion_tokens, 200, False)
    stream = list(client.chat.completions.create(model="qwen-vl-ocr-latest", messages=_messages(image),
                                                 stream=True, stream_options={"include_usage": True}))
    u = stream[-1].usage
    seen[stream[-1].id.removeprefix("chatcmpl-")] = (u.prompt_tokens_details.text_tokens,
                                                     u.prompt_tokens_details.image_tokens,
                                                     u.completion_tokens, 200, True)
    bad = _native(deployment, key, "data:image/png;base64,bm90IGFuIGltYWdl")
    assert bad.status_code == 400
    seen[bad.request_id] = (0, 0, 0, 400, False)

    rows = {rid: row for rid, row in deployment.rows().items() if row.account_id == "team-ledger"}
    assert set(rows) == set(seen)
    for rid, (text, img, out, status, streamed) in seen.items():
        row = rows[rid]
        assert (row.text_tokens, row.image_tokens, row.output_tokens, row.status, row.stream) == \
               (text, img, out, status, streamed), rid
        assert row.key_id == new.info.id
        prices = deployment.app.state.gate.settings.prices  # type: ignore[attr-defined]
        assert row.cost == pytest.approx(cost(prices, row.model, row.model_resolved,
                                              row.input_tokens, row.output_tokens))
    assert rows[bad.request_id].error_code == "InvalidParameter"
    assert {r.dialect for r in rows.values()} == {"native", "compatible"}
    # the compatible dialect's default prompt triggers text_recognition (spec §6.3)
    assert {(r.dialect, r.task) for r in rows.values() if r.status == 200} == {
        ("native", "free_prompt"), ("compatible", "text_recognition")}
    assert rows[sync.id.removeprefix("chatcmpl-")].model_resolved == "qwen-vl-ocr-2025-08-28"


def test_config_keys_keep_working(deployment: Deployment, image: str) -> None:
    rsp = _native(deployment, API_KEY, image)
    assert rsp.status_code == 200
    row = deployment.rows()[rsp.request_id]
    assert row.account_id == "default" and row.key_id is not None and row.key_id.startswith("cfg-")
    assert API_KEY not in json.dumps(dataclasses.asdict(row))


def _cli(dep: Deployment, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OCRGATE_DATA_DIR": str(dep.data_dir),
           "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO)])}
    env.pop("OCRGATE_CONFIG", None)
    env.pop("OCRGATE_DATABASE_URL", None)
    if dep.database_url:
        env["OCRGATE_DATABASE_URL"] = dep.database_url
    return subprocess.run([sys.executable, "-m", "ocrgate.cli", *args], capture_output=True,
                          text=True, encoding="utf-8", timeout=120, env=env)


def test_key_made_and_revoked_by_the_cli_mid_run(deployment: Deployment, image: str) -> None:
    made = _cli(deployment, "keys", "create", "--account", "team-cli", "--name", "runner")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("sk-")
    client = _openai(deployment, key)
    assert client.chat.completions.create(model="qwen-vl-ocr", messages=_messages(image)).usage
    key_id = next(k.id for k in deployment.store.keys.list("team-cli"))
    listed = _cli(deployment, "keys", "list", "--account", "team-cli")
    assert key_id in listed.stdout and key not in listed.stdout and key[:7] in listed.stdout
    revoked = _cli(deployment, "keys", "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    with pytest.raises(openai.AuthenticationError) as caught:  # the very next request
        client.chat.completions.create(model="qwen-vl-ocr", messages=_messages(image))
    assert caught.value.code == "invalid_api_key"
    assert _native(deployment, key, image).code == "InvalidApiKey"
    assert _cli(deployment, "keys", "revoke", key_id).returncode == 1


def _upload(dep: Deployment, key: str, data: bytes) -> str:
    """The dashscope SDK's upload flow by hand: getPolicy, then the multipart POST."""
    pol = httpx.get(f"{dep.origin}/api/v1/uploads", params={"action": "getPolicy",
                                                          "model": "qwen-vl-ocr-latest"},
                    headers={"Authorization": f"Bearer {key}"}).json()["data"]
    object_key = f"{pol['upload_dir']}/page.png"
    form = {"OSSAccessKeyId": pol["oss_access_key_id"], "Signature": pol["signature"],
            "policy": pol["policy"], "key": object_key, "x-oss-object-acl": pol["x_oss_object_acl"],
            "x-oss-forbid-overwrite": pol["x_oss_forbid_overwrite"], "success_action_status": "200"}
    r = httpx.post(pol["upload_host"], data=form, files={"file": ("page.png", data, "image/png")})
    assert r.status_code == 200, r.text
    return f"oss://{object_key}"


def test_uploads_are_invisible_to_other_accounts(deployment: Deployment) -> None:
    alice = deployment.store.keys.create("team-alice").secret
    alice2 = deployment.store.keys.create("team-alice").secret
    bob = deployment.store.keys.create("team-bob").secret
    url = _upload(deployment, alice, png_bytes(render_lines(LINES, size=30)))
    assert _native(deployment, alice, url).status_code == 200
    assert _native(deployment, alice2, url).status_code == 200  # same account, other key
    refused = _native(deployment, bob, url)
    assert (refused.status_code, refused.code) == (400, "InvalidParameter")
    assert "does not appear to be valid" in refused.message


def test_upload_policy_qps(deployment: Deployment) -> None:
    key = deployment.store.keys.create("team-qps").secret
    oks = 0
    for _ in range(100):  # 3 per second configured: a 429 comes within a few calls
        r = httpx.get(f"{deployment.origin}/api/v1/uploads",
                      params={"action": "getPolicy", "model": "qwen-vl-ocr"},
                      headers={"Authorization": f"Bearer {key}"})
        if r.status_code != 200:
            break
        oks += 1
    assert r.status_code == 429 and oks >= 3
    assert r.json()["code"] == "Throttling.RateQuota" and r.headers["Retry-After"] == "1"


def test_admin_usage_report_matches_cli(deployment: Deployment, image: str) -> None:
    key = deployment.store.keys.create("team-report").secret
    for _ in range(2):
        assert _native(deployment, key, image).status_code == 200
    deployment.flush()
    url = f"{deployment.origin}/admin/v1/usage"
    r = httpx.get(url, params={"account": "team-report", "by": "model"},
                  headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert r.status_code == 200, r.text
    report = r.json()
    [row] = report["data"]
    assert (row["account"], row["model"], row["requests"]) == ("team-report", "qwen-vl-ocr-latest", 2)
    assert report["totals"]["total_tokens"] == row["input_tokens"] + row["output_tokens"]
    assert report["currency"] == "CNY"
    csv_out = _cli(deployment, "usage", "--account", "team-report", "--by", "model", "--csv", "-")
    assert csv_out.returncode == 0, csv_out.stderr
    header, line = csv_out.stdout.strip().splitlines()
    assert header.split(",")[:3] == ["account", "model", "requests"]
    values = dict(zip(header.split(","), line.split(","), strict=True))
    assert int(values["output_tokens"]) == row["output_tokens"]
    assert float(values["cost"]) == pytest.approx(row["cost"])
    table = _cli(deployment, "usage", "--by", "day")
    assert "team-report" in table.stdout and "cost (CNY)" in table.stdout
    # not an admin: 403; not a key: 401; bad grouping: 400
    assert httpx.get(url, headers={"Authorization": f"Bearer {key}"}).json()["code"] == "AccessDenied"
    assert httpx.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401
    bad = httpx.get(url, params={"by": "colour"}, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert bad.status_code == 400 and "'by'" in bad.json()["message"]


def test_metrics_health_ready(deployment: Deployment, image: str) -> None:
    key = deployment.store.keys.create("team-metrics").secret
    assert _native(deployment, key, image).status_code == 200
    deployment.flush()
    text = httpx.get(f"{deployment.origin}/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    requests = families["ocrgate_requests"].samples
    assert any(s.labels == {"dialect": "native", "model": "qwen-vl-ocr-latest", "task": "free_prompt",
                            "status": "200"} and s.value >= 1 for s in requests)
    assert any(s.labels["status"] == "429" for s in requests)
    counts = {s.labels["stage"]: s.value for s in families["ocrgate_stage_duration_seconds"].samples
              if s.name.endswith("_count")}
    assert all(counts.get(stage, 0) > 0 for stage in ("fetch", "decode", "queue", "engine", "render"))
    assert families["process_resident_memory_bytes"].samples[0].value > 50e6
    assert families["ocrgate_queue_depth"].samples[0].value == 0
    busy = families["ocrgate_engine_busy_seconds"].samples
    assert any(s.labels.get("engine") == "embedded" and s.value > 0 for s in busy)
    tokens = {s.labels["kind"]: 0.0 for s in families["ocrgate_tokens"].samples}
    for s in families["ocrgate_tokens"].samples:
        if s.name.endswith("_total"):
            tokens[s.labels["kind"]] += s.value
    rows = deployment.store.usage.rows()
    assert tokens["output"] == sum(r.output_tokens for r in rows)  # metrics agree with the ledger
    assert tokens["image"] == sum(r.image_tokens for r in rows)
    assert httpx.get(f"{deployment.origin}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{deployment.origin}/ready")
    assert ready.status_code == 200
    assert ready.json()["store"] == {"backend": deployment.store.backend, "reachable": True}


def test_ready_is_503_without_store(lean_service, tmp_path: Path) -> None:  # noqa: ANN001
    from starlette.testclient import TestClient

    dead = Store("postgresql://nobody@127.0.0.1:1/none", tmp_path, auto_migrate=False)
    app = create_app(service=lean_service, store=dead)
    with TestClient(app) as client:
        r = client.get("/ready")
        assert r.status_code == 503 and r.json()["store"]["reachable"] is False
        assert client.get("/health").status_code == 200


def test_client_leaving_a_stream_is_recorded(deployment: Deployment, image: str) -> None:
    key = deployment.store.keys.create("team-gone").secret
    body = {"model": "qwen-vl-ocr-latest", "stream": True,
            "messages": _messages(image)}
    with httpx.stream("POST", f"{deployment.origin}/compatible-mode/v1/chat/completions", json=body,
                      headers={"Authorization": f"Bearer {key}"}) as r:
        next(r.iter_lines())  # the first chunk, then hang up
    deadline = time.time() + 30
    while time.time() < deadline:
        rows = [r for r in deployment.rows().values() if r.account_id == "team-gone"]
        if rows:
            break
        time.sleep(0.1)
    [row] = rows
    assert row.status in (200, 499) and row.stream
