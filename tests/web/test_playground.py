"""The playground page in headless Chromium against a live ocrgate on loopback.

Each test drives the page as a person would (pick/drop/paste a file or type a URL, choose
a task, Run) and checks what is shown: boxes drawn where the returned coordinates say and
over the rendered text, a KIE tree, a table, a formula and a document rendered, the
service's own error messages, the code snippets (which are then run). Screenshots go to
each test's tmp_path.
"""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from tests.conftest import API_KEY, font, png_bytes, render_lines
from tests.web.conftest import launch

NATIVE = "/api/v1/services/aigc/multimodal-generation/generation"
BOX_RGB = (255, 0, 80)  # --box in style.css


@dataclass
class Session:
    page: object
    origin: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    other_origins: list[str] = field(default_factory=list)  # e.g. an image URL typed in


@pytest.fixture
def session(browser, server: str) -> Iterator[Session]:  # noqa: ANN001
    page = browser.new_page()
    s = Session(page, server)
    page.on("pageerror", lambda exc: s.errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: s.errors.append(msg.text) if msg.type == "error" else None)
    page.on("request", lambda req: s.requests.append(req.url))
    page.goto(f"{server}/playground")
    page.fill("#api-key", API_KEY)
    page.dispatch_event("#api-key", "change")
    # the model list comes from GET /compatible-mode/v1/models with the typed key
    page.wait_for_selector("#model option[value='qwen-vl-ocr-2025-11-20']", state="attached")
    s.errors.clear()  # the list asked for before the key was typed was refused (401)
    yield s
    page.close()
    # everything came from the server itself (no CDN, no font service)
    foreign = [u for u in s.requests
               if not u.startswith((server, "data:", "blob:", *s.other_origins))]
    assert not foreign, foreign


def assert_no_page_errors(s: Session, allow: str | None = None) -> None:
    """No script error; `allow`: the one HTTP status the browser may log as a failed load."""
    errors = [e for e in s.errors if not (allow and f"status of {allow}" in e)]
    assert not errors, errors


def run(s: Session, timeout_ms: int = 180_000) -> str:
    """Click Run and wait until this run has finished; returns body[data-state]."""
    runs = int(s.page.get_attribute("body", "data-runs") or 0)
    s.page.click("#run")
    s.page.wait_for_selector(f"body[data-runs='{runs + 1}']", state="attached", timeout=timeout_ms)
    return s.page.get_attribute("body", "data-state") or ""


def pick(s: Session, path: Path, task: str | None) -> None:
    s.page.set_input_files("#file", str(path))
    s.page.select_option("#task", task or "")


def final_json(s: Session) -> dict:
    return json.loads(s.page.inner_text("#tab-json"))


def error_panel(s: Session) -> tuple[str, str]:
    assert s.page.is_visible("#error")
    return (s.page.get_attribute("#error", "data-code") or "", s.page.inner_text("#error .error-message"))


# ---- rendered inputs --------------------------------------------------------------------

RECEIPT = ["CORNER MARKET", "12 Harbour Road, Leith", "Date 14/03/2025", "Milk 1L 2.40",
           "Sourdough bread 3.10", "Apples 1kg 4.25", "TOTAL 9.75", "Thank you for shopping"]


def render_receipt(tmp: Path, width: int = 900) -> tuple[Path, list[tuple[str, tuple[int, ...]]]]:
    """A receipt wider than the page shows it (so the boxes are scaled), with each line's
    ink box as drawn."""
    f = font(30)
    img = Image.new("RGB", (width, 60 + 56 * len(RECEIPT)), "white")
    draw = ImageDraw.Draw(img)
    truth = []
    for i, text in enumerate(RECEIPT):
        xy = (60 + (i % 3) * 40, 30 + 56 * i)
        draw.text(xy, text, fill="black", font=f)
        truth.append((text, tuple(draw.textbbox(xy, text, font=f))))
    path = tmp / "receipt.png"
    img.save(path)
    return path, truth


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def segment_distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance of each point (N×2) to the segment a–b."""
    ab = b - a
    t = np.clip(((points - a) @ ab) / max(float(ab @ ab), 1e-9), 0.0, 1.0)
    return np.linalg.norm(points - (a + t[:, None] * ab), axis=1)


# ---- tests ------------------------------------------------------------------------------


def test_page_served_at_root_and_playground_loads_light_and_offline(
        playwright_driver, server: str, tmp_path: Path) -> None:  # noqa: ANN001
    """A cold load (empty profile): only same-origin requests, small transfer, no errors."""
    context = launch(playwright_driver, tmp_path / "profile")
    try:
        page = context.new_page()
        finished: list = []
        errors: list[str] = []
        page.on("requestfinished", lambda request: finished.append(request))
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        response = page.goto(f"{server}/")
        assert response is not None and response.status == 200
        assert "default-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
        assert page.title() == "ocrgate playground"
        assert page.is_visible("#run") and page.is_visible("#drop")
        # no key typed: the model list request is refused, and the page says why
        assert "API key" in page.inner_text("#models-status")
        page.screenshot(path=str(tmp_path / "cold-load.png"), full_page=True)
        urls = [r.url for r in finished]
        assert all(u.startswith(server) for u in urls), urls
        weight = sum(r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"] for r in finished)
        (tmp_path / "weight.json").write_text(json.dumps({"bytes": weight, "requests": urls}))
        print(f"\ncold load of {server}/: {len(urls)} requests, {weight / 1024:.1f} KB transferred")
        assert weight < 150 * 1024  # KaTeX and DOMPurify load only when an answer needs them
        assert not errors, errors
        assert page.goto(f"{server}/playground").status == 200
    finally:
        context.close()


def test_advanced_recognition_draws_boxes_over_the_text(session: Session, tmp_path: Path) -> None:
    s, page = session, session.page
    path, truth = render_receipt(tmp_path)
    pick(s, path, "advanced_recognition")
    with page.expect_response(lambda r: r.url.endswith(NATIVE)) as caught:
        assert run(s) == "done"
    response = caught.value
    # streamed over native SSE, shown piece by piece
    assert response.request.headers.get("x-dashscope-sse") == "enable"
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(m) for m in re.findall(r"^data:(.*)$", response.text(), re.M)]
    assert len(events) >= 2
    assert int(page.get_attribute("#tab-text", "data-deltas") or 0) >= 2
    page.screenshot(path=str(tmp_path / "advanced.png"), full_page=True)
    page.locator("#stage").screenshot(path=str(tmp_path / "advanced-stage.png"))

    words = final_json(s)["ocr_result"]["words_info"]
    assert words == events[-1]["output"]["choices"][0]["message"]["content"][0]["ocr_result"]["words_info"]
    # usage and timing shown as the service reported them
    usage = events[-1]["usage"]
    stats = page.inner_text("#stats")
    assert f"input {usage['input_tokens']} tokens (image {usage['image_tokens']})" in stats
    assert f"output {usage['output_tokens']}" in stats and "first result" in stats
    assert int(page.get_attribute("#stats", "data-first-ms") or -1) >= 0

    # 1. the returned boxes are where the text was drawn
    assert len(words) == len(truth), [w["text"] for w in words]
    for text, ink in truth:
        best = max(words, key=lambda w: iou(ink, (min(w["location"][0::2]), min(w["location"][1::2]),
                                                   max(w["location"][0::2]), max(w["location"][1::2]))))
        xs, ys = best["location"][0::2], best["location"][1::2]
        assert iou(ink, (min(xs), min(ys), max(xs), max(ys))) > 0.5, (text, ink, best)

    # 2. the page draws them where the coordinates say, scaled to the displayed image
    natural = page.evaluate("() => [document.getElementById('preview').naturalWidth, "
                            "document.getElementById('preview').naturalHeight]")
    assert natural == list(Image.open(path).size)
    img_box = page.locator("#preview").bounding_box()
    shot = np.asarray(Image.open(io.BytesIO(page.screenshot(clip=img_box))).convert("RGB")).astype(int)
    scale = np.array([img_box["width"] / natural[0], img_box["height"] / natural[1]])
    assert scale[0] < 0.9  # the picture is shown smaller than it is: the mapping is exercised
    r, g, b = shot[..., 0], shot[..., 1], shot[..., 2]
    stroke = (r > 200) & (g < 90) & (b > 30) & (b < 150)
    ys_px, xs_px = np.nonzero(stroke)
    painted = np.stack([xs_px, ys_px], axis=1).astype(float) + 0.5
    segments = []
    for w in words:
        quad = np.array(w["location"], dtype=float).reshape(4, 2) * scale
        for k in range(4):
            segments.append((quad[k], quad[(k + 1) % 4]))
    # every edge is painted along its length ...
    for a, b_ in segments:
        for t in (0.2, 0.5, 0.8):
            p = a + t * (b_ - a)
            assert np.min(np.linalg.norm(painted - p, axis=1)) < 3.0, (a, b_, t)
    # ... and nothing is painted away from the edges
    nearest = np.min(np.stack([segment_distance(painted, a, b_) for a, b_ in segments]), axis=0)
    assert np.mean(nearest < 3.0) > 0.97, np.percentile(nearest, [50, 90, 99])

    # 3. a box and its line are linked both ways
    page.hover("#boxes polygon[data-index='3']")
    page.wait_for_selector(".lines li[data-index='3'].active")
    page.click("#boxes polygon[data-index='5']")
    page.wait_for_selector(".lines li[data-index='5'].selected")
    page.click(".lines li[data-index='1']")
    page.wait_for_selector("#boxes polygon[data-index='1'].selected", state="attached")
    assert page.inner_text(".lines li[data-index='1'] .line-text") == words[1]["text"]
    assert_no_page_errors(s)


def test_kie_with_a_schema_from_the_examples(session: Session, tmp_path: Path) -> None:
    s, page = session, session.page
    path, _ = render_receipt(tmp_path)
    pick(s, path, "key_information_extraction")
    page.select_option("#schema-example", label="Receipt (SROIE fields)")
    schema = json.loads(page.input_value("#schema"))
    assert list(schema) == ["company", "date", "address", "total"]
    assert run(s) == "done"
    page.screenshot(path=str(tmp_path / "kie.png"), full_page=True)
    kv = final_json(s)["ocr_result"]["kv_result"]
    assert list(kv) == list(schema)
    assert kv["total"] and "9.75" in kv["total"]
    # shown as a tree: one entry per key, the values as JSON strings
    keys = page.locator(".json-tree .json-key").all_inner_texts()
    assert keys == list(schema)
    assert json.dumps(kv["total"]) in page.locator(".json-tree .json-string").all_inner_texts()
    assert_no_page_errors(s)


def test_service_errors_are_shown_in_the_page(session: Session, tmp_path: Path) -> None:
    s, page = session, session.page
    path, _ = render_receipt(tmp_path)
    pick(s, path, "key_information_extraction")
    # a schema the service rejects (nested 4 levels): its message, not a blank panel
    page.fill("#schema", json.dumps({"a": {"b": {"c": {"d": ""}}}}))
    assert run(s) == "error"
    code, message = error_panel(s)
    assert code == "InvalidParameter" and "nested deeper than 3 levels" in message
    page.screenshot(path=str(tmp_path / "bad-schema.png"), full_page=True)
    # text that is not JSON at all is caught before anything is sent
    sent = len([u for u in s.requests if u.endswith(NATIVE)])
    page.fill("#schema", "{company: ")
    assert page.is_visible("#schema-status") and "Not valid JSON" in page.inner_text("#schema-status")
    assert run(s) == "error"
    assert "not valid JSON" in error_panel(s)[1]
    assert len([u for u in s.requests if u.endswith(NATIVE)]) == sent

    # an image over the data-URL limit (10 MiB of base64): noise does not compress
    noise = np.random.default_rng(0).integers(0, 256, (1700, 2000, 3), dtype=np.uint8)
    big = tmp_path / "noise.png"
    Image.fromarray(noise).save(big, compress_level=1)
    assert len(base64.b64encode(big.read_bytes())) > 10 * 1024 * 1024
    pick(s, big, "text_recognition")
    assert run(s) == "error"
    code, message = error_panel(s)
    assert code == "BadRequest.TooLarge" and "10485760" in message

    # a PDF while the server has pdf_rasterize off
    pdf = tmp_path / "page.pdf"
    render_lines(["A PDF page"], size=30).save(pdf, format="PDF")
    pick(s, pdf, "text_recognition")
    assert "PDF" in page.inner_text("#source-info") and page.is_hidden("#stage")
    assert run(s) == "error"
    code, message = error_panel(s)
    assert code == "InvalidParameter" and "pdf_rasterize" in message
    page.screenshot(path=str(tmp_path / "pdf-error.png"), full_page=True)
    assert_no_page_errors(s, allow="400")


def test_table_is_rendered_as_html(session: Session, tmp_path: Path) -> None:
    from tests.engines.embedded.handlers.test_table import GRID, expected, table_image

    s, page = session, session.page
    path = tmp_path / "table.png"
    path.write_bytes(png_bytes(Image.fromarray(table_image(GRID))))
    pick(s, path, "table_parsing")
    assert run(s) == "done"
    page.screenshot(path=str(tmp_path / "table-shown.png"), full_page=True)
    cells = page.evaluate("""() => [...document.querySelectorAll('.html-answer table tr')].map(
        tr => [...tr.cells].map(td => [td.textContent.trim(), td.rowSpan, td.colSpan]))""")
    assert [[tuple(c) for c in row] for row in cells] == expected(GRID)
    assert_no_page_errors(s)


def test_formula_is_rendered_with_katex(session: Session, tmp_path: Path) -> None:
    from ocrgate.engines.embedded.nets.files import formula_dir, missing_formula_files
    from tests.engines.embedded.handlers.test_formula import HAVE_LATEX, render_latex

    if missing_formula_files(formula_dir()) or not HAVE_LATEX:
        pytest.skip("formula model files or latex/dvipng absent (scripts/setup.sh installs both)")
    s, page = session, session.page
    path = tmp_path / "formula.png"
    path.write_bytes(png_bytes(Image.fromarray(render_latex(r"\frac{a+b}{c-d}", 200, tmp_path))))
    pick(s, path, "formula_recognition")
    assert run(s) == "done"
    page.screenshot(path=str(tmp_path / "formula-shown.png"), full_page=True)
    answer = final_json(s)["text"]
    assert answer.startswith("$$") and answer.endswith("$$")
    assert page.locator("#tab-result .math-display .katex-display").count() == 1
    assert page.locator("#tab-result .katex-error").count() == 0
    tex = page.text_content("#tab-result annotation[encoding='application/x-tex']") or ""
    assert tex.strip() == answer[2:-2].strip()
    assert r"\frac" in tex
    # KaTeX's fonts came from the server (the session checks that every request did)
    assert any("KaTeX_Main" in u for u in s.requests)
    assert_no_page_errors(s)


def test_document_is_rendered(session: Session, tmp_path: Path) -> None:
    s, page = session, session.page
    path = tmp_path / "page.png"
    render_lines(["Annual Report", "", "Sales rose in every region this year.",
                  "The board thanks all staff for their work."], size=30, width=1100).save(path)
    pick(s, path, "document_parsing")
    assert run(s) == "done"
    page.screenshot(path=str(tmp_path / "document-shown.png"), full_page=True)
    answer = final_json(s)["text"]
    assert answer.startswith("```latex")
    shown = page.inner_text("#tab-result .latex-document")
    for words in ("Sales rose in every region", "thanks all staff"):
        assert words in shown, shown
    # the title, where the engine kept it, as a heading (the layout model may call it a header)
    if "Annual Report" in answer:
        assert page.locator("#tab-result .latex-document :is(h2, h3, h4, p)",
                            has_text="Annual Report").count() == 1
    assert "\\begin" not in shown and "\\usepackage" not in shown and "documentclass" not in shown
    assert_no_page_errors(s)


def test_drop_paste_and_url_inputs(session: Session, tmp_path: Path, image_dir: Path,
                                   image_server: str) -> None:
    s, page = session, session.page
    lines = ["Dropped in", "by a test"]
    raw = png_bytes(render_lines(lines, size=30))
    size = list(Image.open(io.BytesIO(raw)).size)
    for event in ("drop", "paste"):
        page.evaluate("""([b64, kind]) => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const data = new DataTransfer();
            data.items.add(new File([bytes], kind + '.png', {type: 'image/png'}));
            const event = kind === 'drop'
              ? new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true})
              : new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true});
            document.dispatchEvent(event);
        }""", [base64.b64encode(raw).decode(), event])
        page.wait_for_selector(f"#source-info[data-size='{size[0]}x{size[1]}']")
        assert page.inner_text("#source-info").startswith(f"{event}.png")
        page.evaluate("() => document.getElementById('source-info').removeAttribute('data-size')")
    (image_dir / "by-url.png").write_bytes(raw)
    s.other_origins.append(image_server)
    page.fill("#url", f"{image_server}/by-url.png")
    page.press("#url", "Enter")
    page.wait_for_selector(f"#source-info[data-size='{size[0]}x{size[1]}']")
    page.select_option("#task", "text_recognition")
    assert run(s) == "done"
    answer = final_json(s)["text"]
    assert answer.split("\n") == lines
    assert page.inner_text("#tab-result") == answer
    # the snippets for a URL source pass the URL on (the service fetches it)
    snippets = check_snippets(s, tmp_path, answer, stream=True)
    assert all(f"{image_server}/by-url.png" in code for code in snippets.values())
    assert_no_page_errors(s)


def _run_snippet(kind: str, code: str, cwd: Path) -> str:
    env = {"DASHSCOPE_API_KEY": API_KEY, "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    command = ["bash", "-c", code] if kind == "curl" else [sys.executable, "-c", code]
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert proc.returncode == 0, (kind, code, proc.stdout, proc.stderr)
    return proc.stdout


@pytest.mark.parametrize(("task", "stream"), [("text_recognition", False), ("text_recognition", True),
                                            ("key_information_extraction", False)])
def test_code_snippets_make_the_same_request(session: Session, tmp_path: Path, task: str,
                                             stream: bool) -> None:
    """The three snippets, copied from the page and run as they are, get the same answer
    (for KIE the openai one selects the task by the schema prompt, spec §6.3)."""
    s, page = session, session.page
    lines = ["Snippet check", "Total 12.50"]
    path = tmp_path / "lines.png"
    render_lines(lines, size=30).save(path)
    pick(s, path, task)
    if task == "key_information_extraction":
        page.select_option("#schema-example", label="Invoice (spec §2.1)")
    page.fill("#max-tokens", "200")
    page.fill("#max-pixels", "1000000")
    if page.is_checked("#stream") != stream:
        page.click("#stream")
    assert run(s) == "done"
    answer = final_json(s)["text"]
    if task == "text_recognition":
        assert answer.split("\n") == lines
    else:
        assert answer.startswith("```json") and "开票日期" in answer
    page.click("[data-tab=code]")
    page.screenshot(path=str(tmp_path / "code.png"), full_page=True)
    snippets = check_snippets(s, tmp_path, answer, stream)
    for code in snippets.values():
        assert "1000000" in code and "200" in code, code
    # Copy puts the snippet on the clipboard as shown
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=s.origin)
    page.click("[data-snippet=openai] .copy")
    page.wait_for_selector("[data-snippet=openai] .copy:text('Copied')")
    assert page.evaluate("() => navigator.clipboard.readText()") == snippets["openai"]
    assert_no_page_errors(s)


def check_snippets(s: Session, cwd: Path, answer: str, stream: bool) -> dict[str, str]:
    """Run the page's three snippets as they are (in `cwd`, where the picked file lies):
    each must print the answer the page got."""
    snippets = {kind: s.page.inner_text(f"[data-snippet={kind}] pre")
                for kind in ("curl", "dashscope", "openai")}
    for kind, code in snippets.items():
        assert s.origin in code and API_KEY not in code, kind
        out = _run_snippet(kind, code, cwd)
        if kind == "curl" and not stream:
            assert json.loads(out)["output"]["choices"][0]["message"]["content"][0]["text"] == answer
        elif kind == "curl":
            pieces = [json.loads(m)["output"]["choices"][0]["message"]["content"]
                      for m in re.findall(r"^data:(.*)$", out, re.M)]
            assert "".join(c[0]["text"] for c in pieces if c) == answer
        else:
            assert answer in out, (kind, out)
    return snippets
