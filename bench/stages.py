"""Where the time goes: per image class, the seconds in each stage of one in-process request and
each stage's share of the whole request (median over repetitions).

    .venv/bin/python bench/stages.py [--reps 3] [--task text_recognition] [--out reports/stages.json]

Stages are the ones the code marks with ``ocrgate.timing.stage``: fetch, decode (the
request's image loading), queue, engine (holding orientation, detection, crop,
recognition, reading order) and render. ``other`` is the rest of the request (request
preparation, tokens, Python glue).
"""

from __future__ import annotations

import argparse
import base64
import statistics
import time

from common import image_classes, machine, png, write_json

ORDER = ("fetch", "decode", "queue", "orientation", "detection", "crop", "recognition",
         "reading order", "render")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--task", default="text_recognition")
    ap.add_argument("--rotate", action="store_true", help="enable_rotate (adds orientation)")
    ap.add_argument("--out", default="reports/stages.json")
    args = ap.parse_args()

    import ocrgate
    from ocrgate.library import default_service
    from ocrgate.timing import record

    service = default_service()
    classes = {name: ["data:image/png;base64," + base64.b64encode(png(im)).decode() for im in imgs]
               for name, imgs in image_classes().items()}
    for urls in classes.values():  # warm-up: first-seen shapes
        ocrgate.recognize(urls[0], task=args.task, service=service)
    rows = []
    for name, urls in classes.items():
        samples: list[dict[str, float]] = []
        for _ in range(args.reps):
            for url in urls:
                start = time.perf_counter()
                with record() as times:
                    ocrgate.recognize(url, task=args.task, enable_rotate=args.rotate,
                                      service=service)
                times["total"] = time.perf_counter() - start
                samples.append(times)
        row: dict[str, object] = {"class": name, "images": len(urls), "reps": args.reps}
        total = statistics.median(s["total"] for s in samples)
        stages = {k: statistics.median(s.get(k, 0.0) for s in samples) for k in (*ORDER, "engine")}
        stages["other"] = max(0.0, total - sum(stages[k] for k in ("fetch", "decode", "queue",
                                                                     "engine", "render")))
        row["total_s"] = total
        row["stages_s"] = stages
        rows.append(row)
        cells = "  ".join(f"{k} {stages[k] * 1000:.0f} ms ({stages[k] / total:.0%})"
                          for k in (*ORDER, "other") if stages[k] > 0.0005)
        print(f"{name:11s} total {total * 1000:.0f} ms | {cells}")
    write_json(args.out, {"machine": machine(), "task": args.task, "rotate": args.rotate,
                          "rows": rows})


if __name__ == "__main__":
    main()
