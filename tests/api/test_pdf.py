"""PDF input (pdf_rasterize): pages read in order, page cap, encrypted and corrupt PDFs."""

from __future__ import annotations

import io

import httpx
import pytest
from pypdf import PdfReader, PdfWriter

from ocrgate.config import Settings
from ocrgate.errors import OcrError
from ocrgate.images import ImageItem
from ocrgate.service import OcrService
from tests.conftest import API_KEY, data_url, render_lines

PAGES = [["First page heading", "alpha bravo charlie"], ["Second page heading", "delta echo foxtrot"],
         ["Third page heading", "golf hotel india"]]


def make_pdf(pages: list[list[str]]) -> bytes:
    images = [render_lines(lines, size=30, width=1000) for lines in pages]
    buf = io.BytesIO()
    images[0].save(buf, format="PDF", save_all=True, append_images=images[1:], resolution=100)
    return buf.getvalue()


@pytest.fixture(scope="module")
def pdf_service(service, tmp_path_factory) -> OcrService:
    """Same engine as the session service, PDF input switched on, 3-page cap."""
    settings = Settings(data_dir=str(tmp_path_factory.mktemp("pdf")), pdf_rasterize=True, pdf_max_pages=3)
    return OcrService(settings, engine=service.registry.engines["embedded"])


def _run(svc: OcrService, raw: bytes, task: str | None = None):
    request = svc.prepare(model="qwen-vl-ocr-latest", images=[ImageItem(data_url(raw, "application/pdf"))],
                          task=task)
    return request, svc.run(request)


def test_three_page_pdf_in_order(pdf_service: OcrService) -> None:
    request, completion = _run(pdf_service, make_pdf(PAGES), task="advanced_recognition")
    assert [img.page for img in request.images] == [0, 1, 2]
    assert request.image_tokens == sum(img.tokens for img in request.images)
    words = completion.ocr_result["words_info"]
    assert [w["text"] for w in words] == [t for page in PAGES for t in page]
    assert [w["image_index"] for w in words] == [0, 0, 1, 1, 2, 2]


def test_max_pixels_lowers_render_dpi(pdf_service: OcrService) -> None:
    raw = make_pdf(PAGES[:1])
    request = pdf_service.prepare(model="qwen-vl-ocr-latest", images=[
        ImageItem(data_url(raw, "application/pdf"), max_pixels=500_000)])
    img = request.images[0]
    assert img.width * img.height <= 500_000 * 1.01


def test_page_cap(pdf_service: OcrService) -> None:
    with pytest.raises(OcrError) as info:
        _run(pdf_service, make_pdf(PAGES + [["Fourth page"]]))
    assert info.value.status == 400 and "4 pages" in info.value.message and "at most 3" in info.value.message


def test_encrypted_pdf(pdf_service: OcrService) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(PAGES[:1]))))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    with pytest.raises(OcrError) as info:
        _run(pdf_service, buf.getvalue())
    assert info.value.status == 400 and "encrypted" in info.value.message


def test_corrupt_pdf(pdf_service: OcrService) -> None:
    with pytest.raises(OcrError) as info:
        _run(pdf_service, b"%PDF-1.7\n" + b"\x00garbage" * 50)
    assert info.value.status == 400 and "Failed to read the PDF" in info.value.message


def test_pdf_refused_when_off(server: str) -> None:
    body = {"model": "qwen-vl-ocr", "input": {"messages": [{"role": "user", "content": [
        {"image": data_url(make_pdf(PAGES[:1]), "application/pdf")}]}]}}
    r = httpx.post(server + "/api/v1/services/aigc/multimodal-generation/generation", json=body,
                   headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60)
    assert r.status_code == 400
    assert "PDF" in r.json()["message"] and "pdf_rasterize" in r.json()["message"]
