"""Train ocrgate's own formula recogniser on data from ``generate.py`` (needs a GPU).

    python train/formula/train.py --data data/fml --out runs/fml [--steps 300000]
    # interrupted? run the same command again: it resumes from runs/fml/last.pt

Inputs go through the runtime's own preprocessing (``preprocess.ink_crop`` and
``network_input``, with the glyph-size rescaling to ``target_glyph`` and a random
factor 0.8-1.25), so what the network sees in training is what it sees when served.

The vocabulary (LaTeX tokens: commands, escaped characters, single characters) is
built from the training labels on the first run and stored in ``OUT/vocab.json``.
Checkpoints: ``OUT/last.pt`` every ``--save-every`` steps (model, optimiser,
scheduler, step, RNG states, config, vocabulary) and ``OUT/best.pt`` on the best
validation token NED (greedy decoding of ``--val`` held-out samples).
Export with ``export_onnx.py``.

This was not run in the session that wrote it (no GPU there); a CPU smoke run of a
few steps is ``--steps 3 --batch 4 --device cpu``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import random
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "src"))

from model import BOS, EOS, PAD, SPECIALS, UNK, Config, FormulaNet, tokenize  # noqa: E402

MEAN, STD = 0.7931, 0.1738


def runtime_preprocessing():
    """The runtime's formula preprocessing (``nets/formula/preprocess.py``, numpy + Pillow
    only), loaded from its file so that the engine is not imported."""
    name = "ocrgate_formula_preprocess"
    if name in sys.modules:
        return sys.modules[name]
    path = ROOT / "src" / "ocrgate" / "engines" / "embedded" / "nets" / "formula" / "preprocess.py"
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


# -------------------------------------------------------------------------- data


class Samples:
    def __init__(self, root: Path, vocab: dict[str, int], cfg: Config, target_glyph: float,
                 augment_scale: bool = True, augment: bool = False) -> None:
        self.root = root
        self.items = [json.loads(x) for x in (root / "labels.jsonl").read_text().splitlines() if x]
        self.vocab = vocab
        self.cfg = cfg
        self.fm = runtime_preprocessing()
        self.target = target_glyph
        self.augment_scale = augment_scale
        # clean 1-bit renders (generate.py --clean) are made to look scanned here, per draw
        self.augment = _scan_augment() if augment else None

    def __len__(self) -> int:
        return len(self.items)

    def encode(self, latex: str) -> list[int]:
        return [BOS] + [self.vocab.get(t, UNK) for t in tokenize(latex)][: self.cfg.max_len - 1] + [EOS]

    def image(self, i: int, rng: random.Random) -> np.ndarray | None:
        with Image.open(self.root / self.items[i]["image"]) as im:
            pil = im.convert("L")
        if self.augment is not None:
            pil = self.augment(pil, rng).convert("L")
        gray = np.asarray(pil)
        first = self.fm.ink_crop(gray)
        if first is None:
            return None
        padded = first[0]
        h = self.fm.glyph_height(padded)
        scale = 1.0 if not h else min(max(self.target / h, 0.2), 2.0)
        if self.augment_scale:
            scale *= rng.uniform(0.8, 1.25)
        return self.fm.network_input(padded, scale, (self.cfg.max_width, self.cfg.max_height))

    def batch(self, idx: list[int], rng: random.Random):
        imgs, seqs = [], []
        for i in idx:
            x = self.image(i, rng)
            if x is not None:
                imgs.append(x)
                seqs.append(self.encode(self.items[i]["latex"]))
        if not imgs:
            return None
        h = max(x.shape[0] for x in imgs)
        w = max(x.shape[1] for x in imgs)
        img = np.full((len(imgs), 1, h, w), 255, np.uint8)
        for k, x in enumerate(imgs):
            img[k, 0, : x.shape[0], : x.shape[1]] = x
        t = max(len(s) for s in seqs)
        tok = np.full((len(seqs), t), PAD, np.int64)
        for k, s in enumerate(seqs):
            tok[k, : len(s)] = s
        image = (torch.from_numpy(img).float() / 255.0 - MEAN) / STD
        return image, torch.from_numpy(tok)


def _scan_augment():  # type: ignore[no-untyped-def]
    """generate.augment, imported from the script beside this one."""
    spec = importlib.util.spec_from_file_location("fml_generate", Path(__file__).with_name("generate.py"))
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.augment


def build_vocab(root: Path, min_count: int = 2) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for line in (root / "labels.jsonl").read_text().splitlines():
        if line:
            counts.update(tokenize(json.loads(line)["latex"]))
    vocab = {s: i for i, s in enumerate(SPECIALS)}
    for tok, n in counts.most_common():
        if n >= min_count and tok not in vocab:
            vocab[tok] = len(vocab)
    return vocab


def buckets(data: Samples, batch: int, rng: random.Random, val: set[int]):
    """Endless batches of samples of similar image width (less padding)."""
    order = [i for i in range(len(data)) if i not in val]
    while True:
        rng.shuffle(order)
        chunk = 100 * batch
        for s in range(0, len(order), chunk):
            part = sorted(order[s:s + chunk], key=lambda i: len(data.items[i]["latex"]))
            groups = [part[k:k + batch] for k in range(0, len(part), batch)]
            rng.shuffle(groups)
            yield from groups


class WorkerBatches(torch.utils.data.IterableDataset):
    """Endless batches built in DataLoader worker processes, each with its own random stream."""

    def __init__(self, data: Samples, batch: int, val: set[int], seed: int) -> None:
        self.data, self.size, self.val, self.seed = data, batch, val, seed

    def __iter__(self):  # type: ignore[no-untyped-def]
        info = torch.utils.data.get_worker_info()
        rng = random.Random(self.seed * 1000 + (info.id if info else 0))
        for idx in buckets(self.data, self.size, rng, self.val):
            yield self.data.batch(idx, rng)


# ---------------------------------------------------------------------- validation


@torch.no_grad()
def greedy(net: FormulaNet, image: torch.Tensor, max_len: int) -> list[int]:
    memory = net.encoder(image)
    out = [BOS]
    for _ in range(max_len):
        tok = torch.tensor([out], device=image.device)
        x = net.tok(tok) + net.pos(torch.arange(len(out), device=image.device))[None]
        for layer in net.layers:
            x = layer(x, memory)
        nxt = int(net.head(net.norm(x))[0, -1].argmax())
        if nxt == EOS:
            break
        out.append(nxt)
    return out[1:]


def validate(net, data: Samples, val: list[int], device, inv: dict[int, str]) -> float:
    from rapidfuzz.distance import Levenshtein

    net.eval()
    rng = random.Random(0)
    neds = []
    for i in val:
        x = data.image(i, rng)
        if x is None:
            continue
        image = (torch.from_numpy(x).float()[None, None].to(device) / 255.0 - MEAN) / STD
        ref = tokenize(data.items[i]["latex"])
        limit = min(data.cfg.max_len, 2 * len(ref) + 10)  # a looping net must not stall
        pred = [inv.get(t, "") for t in greedy(net, image, limit)]
        neds.append(Levenshtein.distance(pred, ref) / max(len(pred), len(ref), 1))
    net.train()
    return float(np.mean(neds)) if neds else 1.0


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=300_000)
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--warmup", type=int, default=4000)
    ap.add_argument("--val", type=int, default=300, help="held-out samples")
    ap.add_argument("--val-every", type=int, default=5000)
    ap.add_argument("--save-every", type=int, default=1000)
    ap.add_argument("--target-glyph", type=float, default=13.0)
    ap.add_argument("--workers", type=int, default=0,
                    help="data-loading processes (0: in the training loop)")
    ap.add_argument("--augment", action="store_true",
                    help="augment clean renders (generate.py --clean) toward scans on the fly")
    ap.add_argument("--max-minutes", type=float, default=0.0,
                    help="stop (after saving last.pt) when this much time has passed; 0: no limit")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0: default)")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    a.out.mkdir(parents=True, exist_ok=True)
    device = torch.device(a.device)

    vocab_path = a.out / "vocab.json"
    if vocab_path.exists():
        vocab = json.loads(vocab_path.read_text())
    else:
        vocab = build_vocab(a.data)
        vocab_path.write_text(json.dumps(vocab, ensure_ascii=False))
    cfg = Config(vocab_size=len(vocab))
    data = Samples(a.data, vocab, cfg, a.target_glyph, augment=a.augment)
    val = list(range(min(a.val, len(data) // 10)))
    inv = {i: t for t, i in vocab.items()}

    net = FormulaNet(cfg).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=a.lr, weight_decay=0.01)

    def lr_at(step: int) -> float:
        if step < a.warmup:
            return (step + 1) / a.warmup
        p = (step - a.warmup) / max(1, a.steps - a.warmup)
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, p)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    step, best = 0, 1.0
    rng = random.Random(a.seed)
    last = a.out / "last.pt"
    if last.exists():
        ck = torch.load(last, map_location=device, weights_only=False)
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        step, best = ck["step"], ck.get("best", 1.0)
        rng.setstate(ck["rng"])
        torch.set_rng_state(ck["torch_rng"])
        print(f"resumed at step {step} (best val NED {best:.3f})")
    print(f"{sum(p.numel() for p in net.parameters()) / 1e6:.1f}M parameters, "
          f"{len(data)} samples, vocabulary {len(vocab)}")

    def save(path: Path) -> None:
        torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(), "step": step, "best": best,
                    "rng": rng.getstate(), "torch_rng": torch.get_rng_state(),
                    "config": cfg.to_dict(), "vocab": vocab,
                    "target_glyph": a.target_glyph}, str(path) + ".tmp")
        Path(str(path) + ".tmp").replace(path)

    amp = device.type == "cuda"
    if a.workers > 0:
        loader = torch.utils.data.DataLoader(
            WorkerBatches(data, a.batch, set(val), a.seed + step), batch_size=None,
            num_workers=a.workers, prefetch_factor=4, persistent_workers=True)
        stream = iter(loader)
    else:
        batches = buckets(data, a.batch, rng, set(val))
        stream = (data.batch(next(batches), rng) for _ in iter(int, 1))
    net.train()
    t0 = started = time.time()
    while step < a.steps:
        if a.max_minutes and time.time() - started > a.max_minutes * 60:
            ned = validate(net, data, val, device, inv) if val else 1.0
            print(f"time limit at step {step}: val NED {ned:.3f}", flush=True)
            if ned < best:
                best = ned
                save(a.out / "best.pt")
            save(last)
            break
        b = next(stream)
        if b is None:
            continue
        image, tok = (t.to(device, non_blocking=True) for t in b)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits = net(image, tok[:, :-1])
            loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]),
                                   tok[:, 1:].reshape(-1), ignore_index=PAD,
                                   label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        step += 1
        if step % 100 == 0:
            print(f"step {step} loss {loss.item():.3f} lr {sched.get_last_lr()[0]:.2e} "
                  f"{(time.time() - t0) / 100:.2f}s/step", flush=True)
            t0 = time.time()
        if step % a.save_every == 0 or step == a.steps:
            save(last)
        if val and (step % a.val_every == 0 or step == a.steps):
            ned = validate(net, data, val, device, inv)
            print(f"step {step} val NED {ned:.3f}", flush=True)
            if ned < best:
                best = ned
                save(a.out / "best.pt")
            save(last)
    return 0


if __name__ == "__main__":
    sys.exit(main())
