"""The remote engine against a second ocrgate on loopback, and against failing upstreams."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from ocrgate.config import RemoteConfig, Settings
from ocrgate.engines.vlm.generative import Done, Generation, GenerativeEngine, Piece
from ocrgate.errors import OcrError
from ocrgate.images import ImageItem
from ocrgate.service import OcrService
from ocrgate.tasks.catalog import ADVANCED_PROMPT, KIE_SCHEMA_PROMPT
from tests.conftest import API_KEY, serve
from tests.engines.vlm.conftest import COMPAT, NATIVE, compat_chunks, image_url, native_body, post

FIXTURES = Path(__file__).parent / "fixtures"
PLAIN = "hello remote world, streamed in pieces"


class ScriptedVlm(GenerativeEngine):
    """Upstream stand-in: canned model text per prompt, streamed 4 characters a token."""

    def __init__(self) -> None:
        super().__init__("scripted")
        self.seen: list[tuple[int, int]] = []

    def generate(self, gen: Generation) -> Iterator[Piece | Done]:
        h, w = gen.images[0].shape[:2]
        self.seen.append((w, h))
        if gen.prompt == ADVANCED_PROMPT:
            # a quarter-to-half box of the image the model saw (resized pixels)
            text = json.dumps([{"bbox_2d": [w // 4, h // 4, w // 2, h // 2], "text_content": "box"}])
            text = f"```json\n{text}\n```"
        elif gen.prompt.startswith(KIE_SCHEMA_PROMPT):
            text = (FIXTURES / "kie_malformed.txt").read_text()
        else:
            text = PLAIN
        pieces = [text[i:i + 4] for i in range(0, len(text), 4)][: gen.max_tokens]
        for n, piece in enumerate(pieces, 1):
            yield Piece(piece, n)
        yield Done("length" if len(pieces) == gen.max_tokens else "stop", len(pieces))


def _service(tmp: Path, engines: dict, default: str, **remote) -> OcrService:
    settings = Settings(api_keys=[API_KEY], data_dir=str(tmp), allow_private_urls=True)
    settings.default_engine = default
    for name, cfg in remote.items():
        settings.engines[name] = cfg
    return OcrService(settings, engines=engines)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, ScriptedVlm]]:
    engine = ScriptedVlm()
    service = _service(tmp_path_factory.mktemp("up"), {"scripted": engine}, "scripted")
    with serve(service) as origin:
        yield origin, engine


@pytest.fixture(scope="module")
def downstream(upstream, tmp_path_factory: pytest.TempPathFactory) -> OcrService:
    origin, _ = upstream
    cfg = RemoteConfig(base_url=origin + "/compatible-mode/v1", model="qwen-vl-ocr-2025-08-28",
                       api_key=API_KEY, coordinates="pixels", max_retries=0, timeout_s=30)
    return _service(tmp_path_factory.mktemp("down"), {}, "up", up=cfg)


@pytest.fixture(scope="module")
def downstream_server(downstream: OcrService) -> Iterator[str]:
    with serve(downstream) as origin:
        yield origin


def _request(service: OcrService, task: str | None = None, url: str | None = None,
             model: str = "qwen-vl-ocr", **params):
    return service.prepare(model=model, images=[ImageItem(url or image_url())], task=task,
                           user_text="" if task else "Read it.", params=params)


# -- against a second ocrgate --------------------------------------------------------

def test_text_and_upstream_token_count(downstream: OcrService) -> None:
    completion = downstream.run(_request(downstream, "text_recognition"))
    assert completion.text == PLAIN
    assert completion.finish_reason == "stop"
    assert completion.usage.output_tokens == len(range(0, len(PLAIN), 4))  # upstream's real count


def test_max_tokens_goes_upstream(downstream: OcrService) -> None:
    completion = downstream.run(_request(downstream, "text_recognition", max_tokens=3))
    assert completion.text == PLAIN[:12]
    assert (completion.finish_reason, completion.usage.output_tokens) == ("length", 3)


def test_streaming_through_remote(downstream_server: str) -> None:
    messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": image_url()}},
                                             {"type": "text", "text": "Read it."}]}]
    r = post(downstream_server, COMPAT, {"model": "qwen-vl-ocr", "messages": messages, "stream": True,
                                         "stream_options": {"include_usage": True}})
    chunks = compat_chunks(r.text)
    deltas = [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]
    assert "".join(d or "" for d in deltas) == PLAIN
    assert len([d for d in deltas if d]) > 3  # passed through as it came
    assert chunks[-1]["usage"]["completion_tokens"] == len(range(0, len(PLAIN), 4))


def test_advanced_recognition_maps_back_to_original_pixels(downstream: OcrService, upstream) -> None:
    from PIL import Image

    from tests.conftest import data_url, png_bytes

    _, engine = upstream
    url = data_url(png_bytes(Image.new("RGB", (800, 400), "white")))
    completion = downstream.run(_request(downstream, "advanced_recognition", url=url,
                                         model="qwen-vl-ocr-2025-08-28"))
    assert engine.seen[-1] == (812, 392)  # F28 smart resize, unchanged by the upstream
    (word,) = completion.ocr_result["words_info"]
    assert word["text"] == "box"
    x1, y1, x2, y2 = 812 // 4 * 800 / 812, 392 // 4 * 400 / 392, 812 // 2 * 800 / 812, 392 // 2 * 400 / 392
    expected = [x1, y1, x2, y1, x2, y2, x1, y2]
    assert all(abs(a - b) <= 1 for a, b in zip(word["location"], expected, strict=True))
    assert completion.text.startswith("```json")


def test_kie_through_remote(downstream_server: str) -> None:
    schema = {"发票代码": "", "发票号码": "", "票价": ""}
    body = native_body("qwen-vl-ocr", [image_url()], "key_information_extraction", schema=schema)
    doc = post(downstream_server, NATIVE, body).json()
    content = doc["output"]["choices"][0]["message"]["content"][0]
    assert content["ocr_result"]["kv_result"] == {"发票代码": "221021325353", "发票号码": "10283819",
                                                  "票价": None}
    assert content["text"].startswith("```json")


# -- failing upstreams ---------------------------------------------------------------

OK_STREAM = [
    {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
    {"choices": [{"index": 0, "delta": {"content": "flaky "}, "finish_reason": None}]},
    {"choices": [{"index": 0, "delta": {"content": "but fine"}, "finish_reason": None}]},
    {"choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "stop"}]},
    {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}},
]


class Upstream:
    """A scripted chat-completions server: each request takes the next action of ``script``
    (an HTTP status, ``"hang"``, ``"slow"`` or ``"ok"``); the last action repeats."""

    def __init__(self, script: list) -> None:
        self.script = list(script)
        self.hits = 0
        self.active = 0
        self.max_active = 0
        self.auth: list[str | None] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer.lock:
                    action = outer.script[min(outer.hits, len(outer.script) - 1)]
                    outer.hits += 1
                    outer.active += 1
                    outer.max_active = max(outer.max_active, outer.active)
                    outer.auth.append(self.headers.get("Authorization"))
                try:
                    if action == "hang":
                        time.sleep(3)
                        return
                    if action == "slow":
                        time.sleep(0.3)
                        action = "ok"
                    if isinstance(action, int):
                        body = json.dumps({"error": {"message": f"status {action}"}}).encode()
                        self.send_response(action)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(body)))
                        if action == 429:
                            self.send_header("Retry-After", "0")
                        self.end_headers()
                        self.wfile.write(body)
                        return
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.end_headers()
                    for chunk in OK_STREAM:
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.write(b"data: [DONE]\n\n")
                finally:
                    with outer.lock:
                        outer.active -= 1

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def make_upstream():
    made: list[Upstream] = []

    def make(script: list) -> Upstream:
        made.append(Upstream(script))
        return made[-1]

    yield make
    for up in made:
        up.close()


def _engine(url: str, **kw):
    from ocrgate.engines.vlm.remote import RemoteEngine

    options = dict(base_url=url, model="any-vlm", max_retries=2, backoff_s=0.01, max_backoff_s=0.05,
                   timeout_s=5, connect_timeout_s=1)
    options.update(kw)
    return RemoteEngine("remote", RemoteConfig(**options))


def test_retries_429_and_500_then_succeeds(make_upstream, downstream: OcrService,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UPSTREAM_KEY", "sk-upstream")
    up = make_upstream([429, 500, "ok"])
    engine = _engine(up.url, api_key_env="UPSTREAM_KEY")
    result = engine.run(_request(downstream, "text_recognition"))
    assert (result.text, result.output_tokens, result.finish_reason) == ("flaky but fine", 4, "stop")
    assert up.hits == 3
    assert set(up.auth) == {"Bearer sk-upstream"}


@pytest.mark.parametrize(("status", "code", "http"), [(500, "ModelUnavailable", 503),
                                                      (429, "Throttling", 429),
                                                      (400, "InvalidParameter", 400)])
def test_gives_up_with_a_clear_error(make_upstream, downstream: OcrService, status: int, code: str,
                                     http: int) -> None:
    up = make_upstream([status])
    engine = _engine(up.url, max_retries=1)
    with pytest.raises(OcrError) as info:
        engine.run(_request(downstream, "text_recognition"))
    assert (info.value.code, info.value.status) == (code, http)
    assert up.hits == (1 if status == 400 else 2)  # 4xx other than 429 is not retried


def test_hanging_upstream_times_out(make_upstream, downstream: OcrService) -> None:
    up = make_upstream(["hang"])
    engine = _engine(up.url, max_retries=1, timeout_s=0.3)
    t0 = time.perf_counter()
    with pytest.raises(OcrError) as info:
        engine.run(_request(downstream, "text_recognition"))
    assert info.value.code == "InternalError.Timeout" and info.value.status == 500
    assert up.hits == 2 and time.perf_counter() - t0 < 2.5


def test_unreachable_upstream(downstream: OcrService) -> None:
    from tests.conftest import free_port

    engine = _engine(f"http://127.0.0.1:{free_port()}/v1", max_retries=1)
    with pytest.raises(OcrError) as info:
        engine.run(_request(downstream, "text_recognition"))
    assert info.value.code == "ModelUnavailable"


def test_concurrency_limit(make_upstream, downstream: OcrService) -> None:
    up = make_upstream(["slow"])
    engine = _engine(up.url, max_concurrency=1)
    request = _request(downstream, "text_recognition")
    results: list[str | None] = []
    threads = [threading.Thread(target=lambda: results.append(engine.run(request).text))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["flaky but fine"] * 3
    assert up.max_active == 1

    up2 = make_upstream(["slow"])
    engine = _engine(up2.url, max_concurrency=3)
    threads = [threading.Thread(target=lambda: engine.run(request)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert up2.max_active > 1


def test_request_body_sent_upstream(downstream: OcrService) -> None:
    engine = _engine("http://unused/v1", extra_body={"repetition_penalty": 1.05})
    request = _request(downstream, "table_parsing", max_tokens=99, seed=7)
    from ocrgate.engines.vlm.generative import model_image

    gen = Generation([model_image(request.images[0], 28, 32)], request.prompt, 99, request.sampling)
    body = engine.body(gen, stream=True)
    assert body["messages"][0]["content"][-1] == {"type": "text", "text": request.prompt}
    assert body["messages"][0]["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")
    assert (body["max_tokens"], body["seed"], body["repetition_penalty"]) == (99, 7, 1.05)
    assert body["stream_options"] == {"include_usage": True}


def test_models_endpoint_and_routes(tmp_path: Path) -> None:
    from ocrgate.engines.registry import EngineRegistry
    from ocrgate.model_specs import resolve_model
    from ocrgate.tasks.catalog import Task

    text_only = ScriptedVlm()
    text_only._tasks = frozenset({Task.TEXT_RECOGNITION, Task.TABLE_PARSING})
    full = ScriptedVlm()
    latest = resolve_model("qwen-vl-ocr-latest").id
    registry = EngineRegistry({"embedded": text_only, "vlm": full}, default="embedded", routes={
        (latest, Task.FORMULA_RECOGNITION): "vlm", (latest, Task.DOCUMENT_PARSING): "vlm",
        ("*", None): "vlm"})
    spec = resolve_model("qwen-vl-ocr-latest")
    assert registry.tasks_for(spec) == {"embedded": ["text_recognition", "table_parsing"],
                                        "vlm": ["document_parsing", "formula_recognition"]}
    assert registry.route(spec, None) is full  # free prompts
    assert registry.route(resolve_model("qwen-vl-ocr"), Task.TABLE_PARSING) is text_only
    with pytest.raises(OcrError) as info:
        registry.route(resolve_model("qwen-vl-ocr"), Task.FORMULA_RECOGNITION)
    assert "Engines that do: vlm" in info.value.message and info.value.status == 400
    with pytest.raises(ValueError, match="unknown engine"):
        EngineRegistry({"embedded": full}, "embedded", routes={("*", Task.TABLE_PARSING): "nope"})


def test_configuration_errors(tmp_path: Path) -> None:
    from ocrgate.config import load_settings

    def load(text: str):
        path = tmp_path / "c.toml"
        path.write_text(text)
        return load_settings(path)

    with pytest.raises(ValueError, match="kind"):
        load('[engines.x]\nkind = "magic"\n')
    with pytest.raises(ValueError, match="model_path"):
        load('[engines.x]\nkind = "local_vlm"\n')
    with pytest.raises(ValueError, match="unknown configuration key"):
        load('[engines.x]\nkind = "remote"\nbase_url = "http://h/v1"\nmodel = "m"\ncolour = 1\n')
    with pytest.raises(ValueError, match="unknown task"):
        load('[routes."qwen-vl-ocr"]\nocr = "x"\n')
    settings = load('[engines.up]\nkind = "remote"\nbase_url = "http://h/v1"\nmodel = "m"\n'
                    '[routes."*"]\ndefault = "up"\n[routes."qwen-vl-ocr-latest"]\nfree_prompt = "up"\n')
    assert settings.routes == {"*": {"default": "up"}, "qwen-vl-ocr-latest": {"free_prompt": "up"}}
    with pytest.raises(ValueError, match="unknown engine 'nope'"):
        OcrService(Settings(data_dir=str(tmp_path), routes={"*": {"default": "nope"}}))
    with pytest.raises(ValueError, match="unknown model"):
        OcrService(Settings(data_dir=str(tmp_path), routes={"qwen-max": {"default": "embedded"}}))


def test_downstream_models_endpoint(downstream_server: str) -> None:
    r = httpx.get(downstream_server + "/compatible-mode/v1/models/qwen-vl-ocr",
                  headers={"Authorization": f"Bearer {API_KEY}"})
    engines = r.json()["engines"]
    assert list(engines) == ["up"] and len(engines["up"]) == 7
