"""Inputs expanded into pages: folders, globs, repeats, name clashes, PDF and TIFF pages."""

from __future__ import annotations

import io
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image

from ocrgate.batch.pages import Page, expand, open_source, page_bytes
from tests.conftest import render_lines


def test_expand(tmp_path: Path) -> None:
    for rel in ("a/x.png", "a/deep/y.jpg", "a/skip.txt", "b/x.png"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    found, missing = expand([str(tmp_path / "a"), str(tmp_path / "b" / "*.png"),
                             str(tmp_path / "a" / "x.png"), str(tmp_path / "none*"),
                             str(tmp_path / "gone.png")])
    assert [name for _p, name in found] == ["deep/y.jpg", "x.png", "b/x.png"]
    assert found[0][0] == (tmp_path / "a" / "deep" / "y.jpg").resolve()
    assert missing == [str(tmp_path / "none*"), str(tmp_path / "gone.png")]


def test_pdf_and_tiff_pages_are_standalone(tmp_path: Path) -> None:
    images = [render_lines([f"Page {i}"], size=24) for i in range(3)]
    images[0].save(tmp_path / "d.pdf", save_all=True, append_images=images[1:])
    frames = [im.copy() for im in images]  # (a PDF save leaves encoder state on the image)
    frames[0].save(tmp_path / "t.tiff", save_all=True, append_images=frames[1:], compression=None)
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4 truncated")
    pdf = open_source(tmp_path / "d.pdf", "d.pdf")
    assert (pdf.kind, pdf.pages, pdf.error) == ("pdf", 3, None)
    data, mime = page_bytes(Page(pdf, 2))
    assert mime == "application/pdf" and len(pdfium.PdfDocument(data)) == 1
    tiff = open_source(tmp_path / "t.tiff", "t.tiff")
    data, mime = page_bytes(Page(tiff, 1))
    assert (tiff.kind, tiff.pages, mime) == ("tiff", 3, "image/png")
    with Image.open(io.BytesIO(data)) as im:
        assert im.size == images[1].size
    broken = open_source(tmp_path / "bad.pdf", "bad.pdf")
    assert broken.error and broken.pages == 1
    assert pdf.key(0, "t", "m") != open_source(tmp_path / "d.pdf", "other").key(1, "t", "m")
