"""PDF pages as images (spec §5.6 extension ``pdf_rasterize``), rendered with pypdfium2.

Each page is rendered at ``dpi``, lowered per page when the render would exceed the
request's ``max_pixels`` (the model would downscale to that anyway), with a page cap.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import image_invalid, invalid_parameter

PDF_MAGIC = b"%PDF"
_lock = threading.Lock()  # pdfium is not thread-safe


@dataclass(frozen=True)
class PdfSettings:
    max_pages: int = 20
    dpi: int = 200


def is_pdf(data: bytes) -> bool:
    return data[:1024].lstrip().startswith(PDF_MAGIC)


@contextmanager
def _document(data: bytes) -> Iterator[Any]:
    """The PDF opened by pdfium (under the module lock), its errors made 400s."""
    import pypdfium2 as pdfium

    with _lock:
        try:
            doc = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            text = str(exc).lower()
            if "password" in text:
                raise invalid_parameter(
                    "The PDF is encrypted (password protected); send an unencrypted PDF."
                ) from None
            raise image_invalid(f"Failed to read the PDF: {exc}.") from None
        try:
            yield doc
        finally:
            doc.close()


def probe_pdf(data: bytes, settings: PdfSettings, max_pixels: int) -> list[tuple[int, int, float]]:
    """(width, height, scale) of every page as it will be rendered; nothing is rendered."""
    with _document(data) as doc:
        pages = len(doc)
        if pages == 0:
            raise image_invalid("The PDF has no pages.")
        if pages > settings.max_pages:
            raise invalid_parameter(
                f"The PDF has {pages} pages; at most {settings.max_pages} pages are accepted "
                "per request (split the document)."
            )
        out = []
        for i in range(pages):
            page = doc[i]
            w_pt, h_pt = page.get_size()
            page.close()
            scale = settings.dpi / 72.0
            if w_pt * h_pt * scale * scale > max_pixels:
                scale = math.sqrt(max_pixels / (w_pt * h_pt))
            # pdfium rounds the bitmap size like this
            out.append((max(1, math.ceil(w_pt * scale)), max(1, math.ceil(h_pt * scale)), scale))
        return out


def render_page(data: bytes, index: int, scale: float) -> np.ndarray:
    """One page as contiguous BGR ``uint8`` on white."""
    with _document(data) as doc:
        page = doc[index]
        try:
            bitmap = page.render(scale=scale, fill_color=(255, 255, 255, 255), rev_byteorder=False)
            arr = np.asarray(bitmap.to_numpy())
        finally:
            page.close()
    if arr.ndim == 2:
        return np.ascontiguousarray(np.repeat(arr[:, :, None], 3, axis=2))
    return np.ascontiguousarray(arr[..., :3])


def page_count(data: bytes) -> int:
    with _document(data) as doc:
        return len(doc)


def single_page(data: bytes, index: int) -> bytes:
    """Page ``index`` as a PDF of its own (nothing is rendered: a page travels small, and is
    rendered where it is read)."""
    import pypdfium2 as pdfium

    with _document(data) as doc:
        out = pdfium.PdfDocument.new()
        try:
            out.import_pages(doc, [index])
            buf = io.BytesIO()
            out.save(buf)
        finally:
            out.close()
    return buf.getvalue()


def rasterize_pdf(data: bytes, settings: PdfSettings, max_pixels: int) -> list[np.ndarray]:
    """RGB arrays of every page, in order."""
    return [np.ascontiguousarray(render_page(data, i, scale)[..., ::-1])
            for i, (_, _, scale) in enumerate(probe_pdf(data, settings, max_pixels))]
