"""Export a checkpoint of ``train.py`` to the files the embedded engine serves.

    python train/formula/export_onnx.py runs/fml/best.pt --out ~/.cache/ocrgate/formula-own
    OCRGATE_FORMULA_DIR=~/.cache/ocrgate/formula-own ocrgate serve

Writes ``encoder.onnx`` (fp32) and ``encoder.int8.onnx``, ``decoder.int8.onnx``
(dynamic int8 quantisation of the linear layers), ``tokenizer.json`` (the vocabulary,
in the layout ``nets/formula`` reads: alphabetic commands carry a trailing ``Ġ`` so
that ``\\alpha x`` keeps its space; pix2tex's cleanup removes the needless ones) and
``manifest.json``. The encoder has no ``pos_idx`` input (positions are computed in
the graph); the runtime feeds only the inputs a model declares. Parity of the ONNX
decoder with the torch model is checked before anything is written.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from model import BOS, EOS, PAD, SPECIALS, Config, ExportEncoder, ExportStep, FormulaNet  # noqa: E402
from train import MEAN, STD  # noqa: E402

OPSET = 17


def tokenizer_json(vocab: dict[str, int]) -> dict:
    pieces = {}
    for tok, i in vocab.items():
        if tok in SPECIALS:
            continue
        piece = tok + "Ġ" if re.fullmatch(r"\\[a-zA-Z]+\*?", tok) else tok
        pieces[piece.replace(" ", "Ġ")] = i
    added = [{"id": vocab[s], "content": s, "special": True} for s in SPECIALS]
    return {"version": "1.0", "added_tokens": added,
            "model": {"type": "WordLevel", "vocab": {**{s: vocab[s] for s in SPECIALS}, **pieces}}}


def export(ckpt: Path, out: Path, check: bool = True) -> None:
    ck = torch.load(ckpt, map_location="cpu", weights_only=False)
    cfg = Config(**ck["config"])
    net = FormulaNet(cfg).eval()
    net.load_state_dict(ck["model"])
    enc, step = ExportEncoder(net).eval(), ExportStep(net).eval()
    heads, dh, layers = cfg.heads, cfg.dim // cfg.heads, cfg.dec_layers
    tmp = Path(tempfile.mkdtemp(prefix="fml-onnx-"))
    try:
        image = torch.randn(1, 1, 64, 320)
        with torch.no_grad():
            ck_, cv_ = enc(image)
        torch.onnx.export(enc, (image,), str(tmp / "encoder.onnx"), dynamo=False,
                          opset_version=OPSET, input_names=["image"],
                          output_names=["cross_k", "cross_v"],
                          dynamic_axes={"image": {2: "height", 3: "width"},
                                        "cross_k": {3: "n"}, "cross_v": {3: "n"}})
        past = torch.randn(layers, 1, heads, 3, dh)
        torch.onnx.export(step, (torch.tensor([[5]]), torch.tensor([3]), ck_, cv_, past, past),
                          str(tmp / "decoder.onnx"), dynamo=False, opset_version=OPSET,
                          input_names=["token", "pos", "cross_k", "cross_v", "past_k", "past_v"],
                          output_names=["logits", "present_k", "present_v"],
                          dynamic_axes={"cross_k": {3: "n"}, "cross_v": {3: "n"},
                                        "past_k": {3: "t"}, "past_v": {3: "t"},
                                        "present_k": {3: "t1"}, "present_v": {3: "t1"}})
        if check:
            _check(net, tmp, cfg)
        from onnxruntime.quantization import QuantType, quantize_dynamic

        for name in ("encoder", "decoder"):
            quantize_dynamic(str(tmp / f"{name}.onnx"), str(tmp / f"{name}.int8.onnx"),
                             weight_type=QuantType.QInt8)
        (tmp / "decoder.onnx").unlink()
        (tmp / "tokenizer.json").write_text(json.dumps(tokenizer_json(ck["vocab"]),
                                                       ensure_ascii=False))
        manifest = {
            "source": f"ocrgate train/formula checkpoint {ckpt.name} (step {ck.get('step')})",
            "license": "the project's own weights (synthetic training data)",
            "config": {
                "vocab_size": cfg.vocab_size, "max_height": cfg.max_height,
                "max_width": cfg.max_width, "min_height": 32, "min_width": 32,
                "patch_size": 16, "bos_token": BOS, "eos_token": EOS, "pad_token": PAD,
                "max_seq_len": cfg.max_len, "num_layers": layers, "heads": heads,
                "dim_head": dh, "mean": MEAN, "std": STD,
                "target_glyph": ck.get("target_glyph", 13.0),
            },
            "files": {p.name: {"bytes": p.stat().st_size} for p in sorted(tmp.iterdir())},
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        out.mkdir(parents=True, exist_ok=True)
        for p in tmp.iterdir():
            if p.name != "manifest.json":
                shutil.move(str(p), out / p.name)
        shutil.move(str(tmp / "manifest.json"), out / "manifest.json")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _check(net: FormulaNet, tmp: Path, cfg: Config) -> None:
    import onnxruntime as ort

    image = torch.randn(1, 1, 96, 480, generator=torch.Generator().manual_seed(0))
    tokens = torch.tensor([[BOS, 5, 9, 7, 6]])
    with torch.no_grad():
        ref = net(image, tokens)[0].numpy()
    es = ort.InferenceSession(str(tmp / "encoder.onnx"), providers=["CPUExecutionProvider"])
    ds = ort.InferenceSession(str(tmp / "decoder.onnx"), providers=["CPUExecutionProvider"])
    ck, cv = es.run(None, {"image": image.numpy()})
    pk = pv = np.zeros((cfg.dec_layers, 1, cfg.heads, 0, cfg.dim // cfg.heads), np.float32)
    worst = 0.0
    for i, t in enumerate(tokens[0].tolist()):
        logits, pk, pv = ds.run(None, {"token": np.array([[t]]), "pos": np.array([i]),
                                       "cross_k": ck, "cross_v": cv, "past_k": pk, "past_v": pv})
        worst = max(worst, float(np.abs(logits[0] - ref[i]).max()))
    print(f"max |logit difference| torch vs ONNX: {worst:.2e}")
    if worst > 1e-2:
        raise SystemExit("ONNX export does not match the torch model")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    export(a.checkpoint, a.out.expanduser())
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
