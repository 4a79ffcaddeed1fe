"""Our onnxruntime text detector / recogniser / line crop against rapidocr 3.10's own.

The embedded engine used to run PP-OCRv6 through rapidocr's model wrappers; the ports in
``core.detector``, ``core.recognizer`` and ``core.crop`` must give the same boxes (same
order), the same crops, the same texts and the same scores, configured as the engine
configures rapidocr. Compared on dev-set images (doc pages, a receipt, a table, a scene
photo, line crops) and on images rendered here (Latin + CJK lines, a vertical line, a
very wide strip, tiny and blank crops). rapidocr is only imported here, never at runtime.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

rapidocr = pytest.importorskip("rapidocr")

from rapidocr import RapidOCR  # noqa: E402
from rapidocr.ch_ppocr_det import TextDetector as RapidDetector  # noqa: E402
from rapidocr.ch_ppocr_rec import TextRecInput, TextRecOutput  # noqa: E402
from rapidocr.ch_ppocr_rec import TextRecognizer as RapidRecognizer  # noqa: E402
from rapidocr.utils.process_img import get_rotate_crop_image  # noqa: E402

from ocrgate.engines.embedded.core.crop import crop_line  # noqa: E402
from ocrgate.engines.embedded.core.detector import TextDetector  # noqa: E402
from ocrgate.engines.embedded.core.recognizer import TextRecognizer  # noqa: E402

MODELS = Path(rapidocr.__file__).resolve().parent / "models"
DET_MODEL = MODELS / "PP-OCRv6_det_small.onnx"
REC_MODEL = MODELS / "PP-OCRv6_rec_small.onnx"
EVAL_DIR = Path(
    os.environ.get(
        "OCRGATE_EVAL_DIR", Path(__file__).resolve().parents[4].parent / "shared" / "eval"
    )
)
DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
NOTO_CJK = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"

# the engine's settings (EmbeddedSettings defaults)
THREADS = {"intra_op_threads": 2, "inter_op_threads": 1}
DET_KNOBS = {"limit_type": "max", "limit_side_len": 1600, "box_thresh": 0.5, "unclip_ratio": 1.6}

DET_IMAGES = [
    "doc_parsing/odb_docstructb-8fd667.jpg",  # A4 page, shrunk to 1600
    "doc_parsing/odb_eastmoney-b0f6dd.jpg",  # A4 page, Chinese
    "doc_parsing/odb_notes-253b79.jpg",
    "kie/sroie_005.jpg",
    "kie/sroie_046.jpg",  # receipt photo
    "table/odb_notes-253b79_a11.png",
    "table/ptn_PMC1626454_002_00.png",
    "text_localization/ic15_img_10.jpg",  # scene photo, slanted boxes
]
REC_PAGES = [
    "doc_parsing/odb_docstructb-8fd667.jpg",
    "doc_parsing/odb_notes-253b79.jpg",
    "kie/sroie_005.jpg",
    "table/ptn_PMC1626454_002_00.png",
]


# ---------------------------------------------------------------------- rapidocr side
def rapid_cfg(limit_side_len: int = 1600, limit_type: str = "max", batch_num: int = 1):
    """rapidocr's config as the embedded engine built it (RapidOCR params)."""
    params = {
        "Global.use_cls": False,
        "Global.log_level": "critical",
        "EngineConfig.onnxruntime.intra_op_num_threads": THREADS["intra_op_threads"],
        "EngineConfig.onnxruntime.inter_op_num_threads": THREADS["inter_op_threads"],
        "Det.model_path": str(DET_MODEL),
        "Det.limit_type": limit_type,
        "Det.limit_side_len": limit_side_len,
        "Det.box_thresh": 0.5,
        "Det.unclip_ratio": 1.6,
        "Rec.model_path": str(REC_MODEL),
        "Rec.rec_batch_num": batch_num,
    }
    cfg = RapidOCR(params=params).cfg
    for section in (cfg.Det, cfg.Rec):
        section.engine_cfg = cfg.EngineConfig[section.engine_type.value]
        section.model_root_dir = cfg.Global.model_root_dir
    cfg.Rec.font_path = None
    return cfg


class RecordingDetector(RapidDetector):
    """rapidocr's detector, remembering its boxes before sorting (its scores stay in that
    order: rapidocr sorts the boxes but not the scores)."""

    raw_boxes: np.ndarray

    def sorted_boxes(self, dt_boxes: np.ndarray) -> np.ndarray:  # type: ignore[override]
        self.raw_boxes = dt_boxes.copy()
        return super().sorted_boxes(dt_boxes)


def rapid_detect(det: RecordingDetector, bgr: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """rapidocr's sorted boxes and, for each, the score of that box."""
    out = det(bgr)
    if out.boxes is None:
        return np.zeros((0, 4, 2), np.float32), []
    used: set[int] = set()
    scores = []
    for box in out.boxes:
        j = next(
            j
            for j in range(len(det.raw_boxes))
            if j not in used and np.array_equal(det.raw_boxes[j], box)
        )
        used.add(j)
        scores.append(float(out.scores[j]))
    return out.boxes, scores


@pytest.fixture(scope="module")
def rapid_det() -> RecordingDetector:
    return RecordingDetector(rapid_cfg().Det)


@pytest.fixture(scope="module")
def det() -> TextDetector:
    return TextDetector(DET_MODEL, **THREADS, **DET_KNOBS)


@pytest.fixture(scope="module")
def rapid_recs() -> dict[int, RapidRecognizer]:
    return {n: RapidRecognizer(rapid_cfg(batch_num=n).Rec) for n in (1, 6)}


@pytest.fixture(scope="module")
def recs() -> dict[int, TextRecognizer]:
    return {n: TextRecognizer(REC_MODEL, **THREADS, batch_num=n) for n in (1, 6)}


# ---------------------------------------------------------------------- images
def load_bgr(rel: str) -> np.ndarray:
    path = EVAL_DIR / rel
    if not path.is_file():
        pytest.skip(f"dev image not found: {path}")
    with Image.open(path) as im:
        return np.ascontiguousarray(np.asarray(im.convert("RGB"))[..., ::-1])


def font(size: int, cjk: bool = False) -> ImageFont.FreeTypeFont:
    path = NOTO_CJK if cjk else DEJAVU
    if not os.path.exists(path):
        pytest.skip(f"font not found: {path}")
    return ImageFont.truetype(path, size)


def text_image(text: str, size: int, cjk: bool = False, pad: int = 6) -> Image.Image:
    f = font(size, cjk)
    x0, y0, x1, y1 = f.getbbox(text)
    img = Image.new("RGB", (x1 - x0 + 2 * pad, y1 - y0 + 2 * pad), "white")
    ImageDraw.Draw(img).text((pad - x0, pad - y0), text, font=f, fill="black")
    return img


def rendered_page() -> np.ndarray:
    """A page of Latin and CJK lines at several sizes, one vertical line, one slanted."""
    page = Image.new("RGB", (1100, 900), "white")
    lines = [
        ("Invoice No. 2024-0117   Total: 1,234.56 EUR", 30, False),
        ("The quick brown fox jumps over the lazy dog.", 22, False),
        ("人工智能正在改变我们的生活方式。", 34, True),
        ("Mixed 中英文 text 123 (test)", 26, True),
        ("small print: terms & conditions apply", 14, False),
    ]
    y = 40
    for text, size, cjk in lines:
        page.paste(text_image(text, size, cjk), (40, y))
        y += int(size * 2.2)
    page.paste(text_image("VERTICAL LINE", 28).rotate(90, expand=True), (980, 60))
    slanted = text_image("slanted text line 42", 32).rotate(12, expand=True, fillcolor="white")
    page.paste(slanted, (420, 560))
    return np.ascontiguousarray(np.asarray(page)[..., ::-1])


def rendered_crops() -> list[np.ndarray]:
    """Line crops: short, long, CJK, a very wide strip, a tall one, tiny and blank."""
    imgs = [
        text_image("Hello", 30),
        text_image("Total 42.00", 18),
        text_image("中文识别测试", 32, cjk=True),
        text_image(
            "A very long strip of text that keeps going and going, far past 320 px "
            "so the batch must be padded to its aspect ratio",
            20,
        ),
        text_image("Tall", 40).rotate(90, expand=True),
    ]
    crops = [np.ascontiguousarray(np.asarray(im)[..., ::-1]) for im in imgs]
    crops.append(np.full((3, 5, 3), 255, np.uint8))  # tiny
    crops.append(np.full((32, 100, 3), 255, np.uint8))  # blank: empty text, score 0
    return crops


def dev_line_crops() -> list[np.ndarray]:
    folder = EVAL_DIR / "text_recognition"
    if not folder.is_dir():
        pytest.skip(f"dev set not found: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix in (".png", ".jpg"))
    return [load_bgr(f"text_recognition/{p.name}") for p in files]


# ---------------------------------------------------------------------- checks
def assert_same_detection(
    ours: tuple[list[np.ndarray], list[float]], theirs: tuple[np.ndarray, list[float]]
) -> None:
    quads, scores = ours
    ref_boxes, ref_scores = theirs
    assert len(quads) == len(ref_boxes)
    if quads:
        np.testing.assert_allclose(np.stack(quads), ref_boxes, rtol=0, atol=1e-3)
    np.testing.assert_allclose(scores, ref_scores, rtol=0, atol=1e-4)


def assert_same_reading(ours: list[tuple[str, float]], theirs: TextRecOutput) -> None:
    assert [t for t, _ in ours] == list(theirs.txts or ())
    np.testing.assert_allclose([s for _, s in ours], list(theirs.scores), rtol=0, atol=1e-4)


# ---------------------------------------------------------------------- tests
@pytest.mark.parametrize("rel", DET_IMAGES)
def test_detector_matches_rapidocr_on_dev_images(
    rel: str, det: TextDetector, rapid_det: RecordingDetector
) -> None:
    bgr = load_bgr(rel)
    ours = det(bgr)
    assert len(ours[0]) > 0
    assert_same_detection(ours, rapid_detect(rapid_det, bgr))


def test_detector_matches_rapidocr_on_rendered_page(
    det: TextDetector, rapid_det: RecordingDetector
) -> None:
    bgr = rendered_page()
    ours = det(bgr)
    assert len(ours[0]) >= 7
    assert_same_detection(ours, rapid_detect(rapid_det, bgr))


def test_detector_limit_override_and_min_mode(det: TextDetector) -> None:
    bgr = load_bgr("kie/sroie_005.jpg")
    rapid_736 = RecordingDetector(rapid_cfg(limit_side_len=736).Det)
    assert_same_detection(det(bgr, limit_side_len=736), rapid_detect(rapid_736, bgr))
    # rapidocr's default: shortest side enlarged to at least 736
    ours_min = TextDetector(DET_MODEL, **THREADS, limit_side_len=736, limit_type="min")
    rapid_min = RecordingDetector(rapid_cfg(limit_side_len=736, limit_type="min").Det)
    small = cv2.resize(bgr, (bgr.shape[1] // 2, bgr.shape[0] // 2), interpolation=cv2.INTER_AREA)
    assert_same_detection(ours_min(small), rapid_detect(rapid_min, small))


def test_float_images_match_rapidocr(
    det: TextDetector,
    rapid_det: RecordingDetector,
    recs: dict[int, TextRecognizer],
    rapid_recs: dict[int, RapidRecognizer],
) -> None:
    """Non-uint8 input skips the lookup tables: rapidocr's arithmetic is used instead."""
    bgr = load_bgr("table/odb_notes-253b79_a11.png").astype(np.float32)
    quads, scores = det(bgr)
    assert quads
    assert_same_detection((quads, scores), rapid_detect(rapid_det, bgr))
    crops = [crop_line(bgr, q) for q in quads]
    assert_same_reading(recs[6](crops), rapid_recs[6](TextRecInput(img=crops)))


@pytest.mark.parametrize("height", [10, 16, 17, 40, 80])
def test_detector_small_heights_match(
    height: int, det: TextDetector, rapid_det: RecordingDetector
) -> None:
    """Sides round to multiples of 32 half-to-even: 16 px → nothing, 80 px → 64."""
    strip = np.asarray(text_image("Strip 0123456789", 40).resize((400, height)))[..., ::-1]
    strip = np.ascontiguousarray(strip)
    assert_same_detection(det(strip), rapid_detect(rapid_det, strip))


def test_crops_match_rapidocr(det: TextDetector) -> None:
    for bgr in (load_bgr("text_localization/ic15_img_10.jpg"), rendered_page()):
        h, w = bgr.shape[:2]
        quads, _ = det(bgr)
        # boxes slightly outside the image exercise the clipping
        quads = quads + [q + np.float32([[-9, -7]] * 4) for q in quads[:3]]
        for q in quads:
            ref = q.astype(np.float32).copy()
            ref[:, 0] = np.clip(ref[:, 0], 0, w)
            ref[:, 1] = np.clip(ref[:, 1], 0, h)
            np.testing.assert_array_equal(crop_line(bgr, q), get_rotate_crop_image(bgr, ref))


def test_crop_turns_tall_lines_and_blanks_empty_quads() -> None:
    bgr = rendered_page()
    tall = np.float32([[980, 60], [1020, 60], [1020, 300], [980, 300]])
    crop = crop_line(bgr, tall)
    assert crop.shape[:2] == (40, 240)  # turned a quarter: now wide
    np.testing.assert_array_equal(crop, get_rotate_crop_image(bgr, tall.copy()))
    # less than a pixel wide, or entirely outside the image: an 8×8 white placeholder
    for empty in ([[10, 10], [10.5, 10], [10.5, 40], [10, 40]], [[2000, 5], [2100, 5]] * 2):
        out = crop_line(bgr, np.float32(empty))
        assert out.shape == (8, 8, 3) and int(out.min()) == 255


@pytest.mark.parametrize("batch_num", [1, 6])
def test_recognizer_matches_rapidocr(
    batch_num: int,
    det: TextDetector,
    recs: dict[int, TextRecognizer],
    rapid_recs: dict[int, RapidRecognizer],
) -> None:
    crops = dev_line_crops() + rendered_crops()
    for rel in REC_PAGES:
        bgr = load_bgr(rel)
        crops += [crop_line(bgr, q) for q in det(bgr)[0]]
    ours = recs[batch_num](crops)
    assert len(ours) == len(crops)
    assert_same_reading(ours, rapid_recs[batch_num](TextRecInput(img=crops)))
    assert ours[-1] != ("", 0.0) and ("", 0.0) in ours  # real text read; the blank crop empty


def test_recognizer_single_and_empty(recs: dict[int, TextRecognizer]) -> None:
    assert recs[1]([]) == []
    text, score = recs[1]([rendered_crops()[0]])[0]
    assert text == "Hello" and 0.5 < score <= 1.0


def test_recognizer_refuses_model_without_character_metadata(tmp_path: Path) -> None:
    model = tmp_path / "no_dict_rec.onnx"
    shutil.copyfile(DET_MODEL, model)  # a valid ONNX file without 'character' metadata
    with pytest.raises(ValueError, match=r"no_dict_rec\.onnx.*'character'"):
        TextRecognizer(model)
