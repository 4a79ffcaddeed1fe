"""draw-bbox: boxes from ``location`` and from ``rotate_rect`` coincide within 2 px (spec §11)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ocrgate.cli import main
from ocrgate.render.draw import rotate_rect_points
from tests.conftest import png_bytes, render_lines

LINES = ["Draw these boxes", "and this second line", "third one, slightly longer here"]


def test_location_and_rotate_rect_agree(service) -> None:
    import ocrgate

    img = render_lines(LINES, size=30).rotate(4, expand=True, fillcolor="white")
    rec = ocrgate.recognize(img, task="advanced_recognition", service=service)
    words = rec.ocr_result["words_info"]
    assert len(words) == len(LINES)
    for w in words:
        quad = np.array(w["location"]).reshape(4, 2)
        corners = np.array(rotate_rect_points(w["rotate_rect"]))
        # same corners up to order: each location corner has a rotate_rect corner within 2 px
        dist = np.linalg.norm(quad[:, None, :] - corners[None, :, :], axis=2).min(axis=1)
        assert dist.max() <= 2.0 + 1e-6, (w, corners)


def test_cli_draws_red_boxes(service, tmp_path: Path) -> None:
    import ocrgate

    path = tmp_path / "page.png"
    path.write_bytes(png_bytes(render_lines(LINES, size=30)))
    rec = ocrgate.recognize(path, task="advanced_recognition", service=service)
    resp = tmp_path / "resp.json"
    resp.write_text(json.dumps({"ocr_result": rec.ocr_result}))
    assert main(["draw-bbox", str(path), str(resp), "--label"]) == 0
    out = np.asarray(Image.open(tmp_path / "page_location.png").convert("RGB"))
    red = (out[..., 0] > 200) & (out[..., 1] < 60) & (out[..., 2] < 60)
    x1, y1 = rec.ocr_result["words_info"][0]["location"][:2]
    assert red[max(0, y1 - 2):y1 + 3, max(0, x1 - 2):x1 + 3].any()
    assert red.sum() > 100


@pytest.mark.parametrize("rect", [[100, 50, 80, 20, 0], [100, 50, 20, 80, -89.5]])
def test_rotate_rect_points(rect) -> None:
    pts = np.array(rotate_rect_points(rect))
    assert pts[:, 0].min() >= 59 and pts[:, 0].max() <= 141
