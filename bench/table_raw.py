"""Raw SLANet-1M + PP-OCRv6 on table images, scored like ``ocrgate eval --task table``.

"Raw" is what the two models give without ocrgate's table handler: SLANet on the whole
image, PP-OCRv6 detection + recognition on the image as given (no upscaling, no layout
regions, no cell re-reading), every OCR box put into the cell it overlaps most
(RapidTable's matching). It is the bar the handler has to clear.

    python bench/table_raw.py ../shared/eval/table /tmp/synth/tune/table [--out reports/x.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from ocrgate.engines.embedded.core import Reader
from ocrgate.engines.embedded.handlers.table.grid import (
    CellText,
    fill_cells,
    parse_structure,
    render_html,
)
from ocrgate.engines.embedded.nets import structure_net
from ocrgate.engines.embedded.settings import EmbeddedSettings
from ocrgate.eval.tables import table_scores


def raw_html(reader: Reader, structure, bgr: np.ndarray) -> str:
    scan = reader.detect_and_read(bgr, False)
    texts = []
    for q, (text, score) in zip(scan.quads, scan.reads, strict=True):
        if text.strip() and score >= reader.settings.text_score:
            q = np.asarray(q)
            texts.append(CellText(np.array([q[:, 0].min(), q[:, 1].min(), q[:, 0].max(),
                                            q[:, 1].max()]), text.strip()))
    st = structure(bgr)
    rows = parse_structure(st.tokens, st.boxes)
    fill_cells(rows, texts)
    return render_html(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("dirs", nargs="+", type=Path, help="table task folders (cases.jsonl + images)")
    p.add_argument("--out", type=Path)
    args = p.parse_args()
    settings = EmbeddedSettings()
    reader = Reader(settings)
    structure = structure_net(settings).get()
    report = {}
    for folder in args.dirs:
        cases = [json.loads(x) for x in (folder / "cases.jsonl").read_text().splitlines() if x]
        per = {}
        for c in cases:
            with Image.open(folder / c["image"]) as im:
                bgr = np.ascontiguousarray(np.asarray(im.convert("RGB"))[..., ::-1])
            per[c["id"]] = table_scores(raw_html(reader, structure, bgr), c["ground_truth"])
        teds = statistics.mean(v["teds"] for v in per.values())
        struct = statistics.mean(v["teds_struct"] for v in per.values())
        print(f"{folder}: raw SLANet-1M + PP-OCRv6 TEDS {teds:.3f} TEDS-S {struct:.3f} "
              f"({len(per)} tables)")
        report[str(folder)] = {"teds": teds, "teds_struct": struct, "cases": per}
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    sys.exit(main())
