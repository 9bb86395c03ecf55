"""ViT-U-Net in plain torch: convolutional stem, transformer encoder over patch tokens, U-Net decoder.

The stem keeps full-resolution detail for the skip connections; the transformer sees the whole patch at
1/8 resolution so context (a tongue continuing a valley glacier, a snow field far from any ice) informs
every pixel; the decoder restores resolution with the skips. timm is not used (it cannot import here).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ModelSpec:
    """Architecture hyper-parameters, stored in the checkpoint config."""

    in_channels: int
    n_classes: int = 3
    widths: tuple[int, int, int] = (16, 32, 64)
    embed_dim: int = 96
    depth: int = 3
    heads: int = 4
    mlp_ratio: float = 2.0
    token_grid: int = 16  # learned position embeddings for a 128-px patch; interpolated for others

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["widths"] = list(self.widths)
        return d


def conv_block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout), nn.GELU(),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.GELU(),
    )


class TransformerBlock(nn.Module):
    """Pre-norm transformer block using torch's fused scaled-dot-product attention."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
        x = x + self.proj(att.transpose(1, 2).reshape(b, n, d))
        return x + self.mlp(self.norm2(x))


class Up(nn.Module):
    """Upsample ×2, concatenate the skip, refine."""

    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.block = conv_block(cin + cskip, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.block(torch.cat([x, skip], dim=1))


class ViTUNet(nn.Module):
    """Per-pixel classifier: (B, C, H, W) → logits (B, n_classes, H, W); H and W multiples of 8."""

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        w1, w2, w3 = spec.widths
        self.enc1 = conv_block(spec.in_channels, w1)
        self.enc2 = conv_block(w1, w2, stride=2)
        self.enc3 = conv_block(w2, w3, stride=2)
        self.embed = nn.Conv2d(w3, spec.embed_dim, 2, stride=2)
        self.pos = nn.Parameter(torch.zeros(1, spec.embed_dim, spec.token_grid, spec.token_grid))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.blocks = nn.ModuleList(TransformerBlock(spec.embed_dim, spec.heads, spec.mlp_ratio)
                                    for _ in range(spec.depth))
        self.norm = nn.LayerNorm(spec.embed_dim)
        self.up3 = Up(spec.embed_dim, w3, w3)
        self.up2 = Up(w3, w2, w2)
        self.up1 = Up(w2, w1, w1)
        self.head = nn.Conv2d(w1, spec.n_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s1 = self.enc1(x)
        s2 = self.enc2(s1)
        s3 = self.enc3(s2)
        t = self.embed(s3)
        b, d, h, w = t.shape
        pos = self.pos if (h, w) == self.pos.shape[-2:] else F.interpolate(
            self.pos, size=(h, w), mode="bicubic", align_corners=False)
        tokens = (t + pos).flatten(2).transpose(1, 2)
        for blk in self.blocks:
            tokens = blk(tokens)
        t = self.norm(tokens).transpose(1, 2).reshape(b, d, h, w)
        y = self.up3(t, s3)
        y = self.up2(y, s2)
        y = self.up1(y, s1)
        return self.head(y)
