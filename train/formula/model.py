"""ocrgate's own small formula recogniser (torch), built to export to the runtime's ONNX
contract (see ``ocrgate.build.formula_export`` / ``ocrgate.engines.embedded.nets.formula``):

* encoder: image (1, 1, H, W) → cross-attention keys/values of every decoder layer;
* decoder step: token, position, cross k/v, past self-attention k/v → logits, present k/v.

Sizes (defaults): CNN stem 16× downsampling to 256 channels, 2 transformer encoder
layers, 3 decoder layers, d = 256, 4 heads — about 9M parameters, a third of pix2tex.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

TOKEN = re.compile(r"\\[a-zA-Z]+\*?|\\.|[^\s]")
SPECIALS = ["[PAD]", "[BOS]", "[EOS]", "[UNK]"]
PAD, BOS, EOS, UNK = range(4)


def tokenize(latex: str) -> list[str]:
    return TOKEN.findall(latex)


@dataclass
class Config:
    vocab_size: int = 600
    dim: int = 256
    heads: int = 4
    enc_layers: int = 2
    dec_layers: int = 3
    ff_mult: int = 4
    max_len: int = 400
    max_height: int = 256
    max_width: int = 1024
    dropout: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)


def conv_bn(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


def sinusoid_2d(h: int, w: int, dim: int, device=None) -> torch.Tensor:
    """(h·w, dim) fixed 2-D position code: half the channels for y, half for x."""
    quarter = dim // 4
    freq = torch.exp(torch.arange(quarter, device=device, dtype=torch.float32)
                     * (-math.log(10000.0) / quarter))
    y = torch.arange(h, device=device, dtype=torch.float32)[:, None] * freq[None]
    x = torch.arange(w, device=device, dtype=torch.float32)[:, None] * freq[None]
    py = torch.cat([y.sin(), y.cos()], 1)[:, None, :].expand(h, w, 2 * quarter)
    px = torch.cat([x.sin(), x.cos()], 1)[None, :, :].expand(h, w, 2 * quarter)
    return torch.cat([py, px], -1).reshape(h * w, 4 * quarter)


class Encoder(nn.Module):
    def __init__(self, c: Config) -> None:
        super().__init__()
        self.cnn = nn.Sequential(
            conv_bn(1, 32), nn.MaxPool2d(2),
            conv_bn(32, 64), nn.MaxPool2d(2),
            conv_bn(64, 128), conv_bn(128, 128), nn.MaxPool2d(2),
            conv_bn(128, 256), conv_bn(256, 256), nn.MaxPool2d(2),
            nn.Conv2d(256, c.dim, 1),
        )
        # own layers rather than nn.TransformerEncoder: its fused attention path exports
        # with the traced sequence length baked in
        self.layers = nn.ModuleList([EncoderLayer(c) for _ in range(c.enc_layers)])
        self.norm = nn.LayerNorm(c.dim)
        self.dim = c.dim

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        f = self.cnn(image)  # (B, d, H/16, W/16)
        b, d, h, w = f.shape
        x = f.flatten(2).transpose(1, 2) + sinusoid_2d(h, w, d, f.device)[None]
        for layer in self.layers:
            x = layer(x)
        return self.norm(x)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)

    def split(self, t: torch.Tensor) -> torch.Tensor:
        b, n, d = t.shape
        return t.view(b, n, self.heads, d // self.heads).transpose(1, 2)

    def merge(self, t: torch.Tensor) -> torch.Tensor:
        b, h, n, dh = t.shape
        return t.transpose(1, 2).reshape(b, n, h * dh)


class EncoderLayer(nn.Module):
    def __init__(self, c: Config) -> None:
        super().__init__()
        self.n1, self.n2 = nn.LayerNorm(c.dim), nn.LayerNorm(c.dim)
        self.attn = Attention(c.dim, c.heads)
        self.ff = nn.Sequential(nn.Linear(c.dim, c.dim * c.ff_mult), nn.GELU(),
                                nn.Dropout(c.dropout), nn.Linear(c.dim * c.ff_mult, c.dim))
        self.drop = nn.Dropout(c.dropout)

    def forward(self, x):
        a = self.attn
        h = self.n1(x)
        q, k, v = a.split(a.q(h)), a.split(a.k(h)), a.split(a.v(h))
        x = x + self.drop(a.out(a.merge(F.scaled_dot_product_attention(q, k, v))))
        return x + self.drop(self.ff(self.n2(x)))


class DecoderLayer(nn.Module):
    def __init__(self, c: Config) -> None:
        super().__init__()
        self.n1, self.n2, self.n3 = (nn.LayerNorm(c.dim) for _ in range(3))
        self.self_attn = Attention(c.dim, c.heads)
        self.cross_attn = Attention(c.dim, c.heads)
        self.ff = nn.Sequential(nn.Linear(c.dim, c.dim * c.ff_mult), nn.GELU(),
                                nn.Dropout(c.dropout), nn.Linear(c.dim * c.ff_mult, c.dim))
        self.drop = nn.Dropout(c.dropout)

    def forward(self, x, memory, pad_mask=None):
        a = self.self_attn
        h = self.n1(x)
        q, k, v = a.split(a.q(h)), a.split(a.k(h)), a.split(a.v(h))
        x = x + self.drop(a.out(a.merge(F.scaled_dot_product_attention(q, k, v, is_causal=True))))
        c = self.cross_attn
        h = self.n2(x)
        q, k, v = c.split(c.q(h)), c.split(c.k(memory)), c.split(c.v(memory))
        x = x + self.drop(c.out(c.merge(F.scaled_dot_product_attention(q, k, v))))
        return x + self.drop(self.ff(self.n3(x)))


class FormulaNet(nn.Module):
    def __init__(self, c: Config) -> None:
        super().__init__()
        self.config = c
        self.encoder = Encoder(c)
        self.tok = nn.Embedding(c.vocab_size, c.dim, padding_idx=PAD)
        self.pos = nn.Embedding(c.max_len + 1, c.dim)
        self.layers = nn.ModuleList([DecoderLayer(c) for _ in range(c.dec_layers)])
        self.norm = nn.LayerNorm(c.dim)
        self.head = nn.Linear(c.dim, c.vocab_size)

    def forward(self, image: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (B, T, V) for ``tokens`` = [BOS] y1 … (inputs)."""
        memory = self.encoder(image)
        t = tokens.shape[1]
        x = self.tok(tokens) + self.pos(torch.arange(t, device=tokens.device))[None]
        for layer in self.layers:
            x = layer(x, memory)
        return self.head(self.norm(x))


# ------------------------------------------------------------------ export wrappers


class ExportEncoder(nn.Module):
    """image → (cross_k, cross_v): (layers, 1, heads, N, dim/heads) each."""

    def __init__(self, net: FormulaNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, image):
        memory = self.net.encoder(image)
        ks = [L.cross_attn.split(L.cross_attn.k(memory)) for L in self.net.layers]
        vs = [L.cross_attn.split(L.cross_attn.v(memory)) for L in self.net.layers]
        return torch.stack(ks), torch.stack(vs)


class ExportStep(nn.Module):
    """One decoding step with a key/value cache (the runtime's decoder contract)."""

    def __init__(self, net: FormulaNet) -> None:
        super().__init__()
        self.net = net

    @staticmethod
    def attend(q, k, v):
        scale = q.shape[-1] ** -0.5
        return torch.matmul((torch.matmul(q, k.transpose(-1, -2)) * scale).softmax(-1), v)

    def forward(self, token, pos, cross_k, cross_v, past_k, past_v):
        net = self.net
        x = net.tok(token) + net.pos(pos)[None]
        new_k, new_v = [], []
        for i, L in enumerate(net.layers):
            a = L.self_attn
            h = L.n1(x)
            k = torch.cat((past_k[i], a.split(a.k(h))), dim=2)
            v = torch.cat((past_v[i], a.split(a.v(h))), dim=2)
            new_k.append(k)
            new_v.append(v)
            x = x + a.out(a.merge(self.attend(a.split(a.q(h)), k, v)))
            c = L.cross_attn
            x = x + c.out(c.merge(self.attend(c.split(c.q(L.n2(x))), cross_k[i], cross_v[i])))
            x = x + L.ff(L.n3(x))
        logits = net.head(net.norm(x))[:, -1]
        return logits, torch.stack(new_k), torch.stack(new_v)
