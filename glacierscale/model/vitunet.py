"""ViT-U-Net in plain torch: per-sensor fusion stems, transformer encoder over patch tokens, U-Net decoder.

Each sensor group (optical, SAR + coherence, thermal, DEM-derived) has its own small convolutional stem;
their features are fused at full resolution, where a group that is missing (NaN input: no scene in the
window, a swath edge, modality dropout) contributes zeros and a 0 in its presence channel, so one network
runs with any optional group absent. The fused stem keeps full-resolution detail for the skip connections;
the transformer sees the whole patch at 1/8 resolution so context (a tongue continuing a valley glacier, a
snow field far from any ice) informs every pixel; the decoder restores resolution with the skips.
Without groups (``ModelSpec(in_channels=N)``) one shared stem reads all bands (NaN as 0).
timm is not used (it cannot import here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

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
    # per-sensor-group fusion stems: (group name, input channel indices); () = one shared stem over all bands
    groups: tuple[tuple[str, tuple[int, ...]], ...] = field(default=())
    stem_width: int = 12  # output channels of each group's stem

    def __post_init__(self) -> None:
        used = [i for _, idx in self.groups for i in idx]
        if any(not 0 <= i < self.in_channels for i in used) or len(set(used)) != len(used):
            raise ValueError(f"groups {self.groups} must use distinct channels of 0..{self.in_channels - 1}")

    @classmethod
    def for_bands(cls, bands: Sequence[str], **kwargs: Any) -> ModelSpec:
        """Return a spec with one fusion stem per sensor group present in ``bands`` (see model/bands.py)."""
        from glacierscale.model.bands import bands_by_group

        groups = tuple((g, tuple(bands.index(b) for b in members)) for g, members in bands_by_group(list(bands)).items())
        return cls(in_channels=len(bands), groups=groups, **kwargs)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelSpec:
        """Return the spec stored by ``to_dict`` (a checkpoint's ``architecture``)."""
        d = {k: v for k, v in d.items() if k != "name"}
        d["widths"] = tuple(d["widths"])
        d["groups"] = tuple((str(g), tuple(int(i) for i in idx)) for g, idx in dict(d.get("groups", {})).items())
        return cls(**d)

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["widths"] = list(self.widths)
        d["groups"] = {g: list(idx) for g, idx in self.groups}
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


class FusionStem(nn.Module):
    """One conv stem per sensor group, masked by the group's per-pixel presence, fused by a 1×1 conv."""

    def __init__(self, groups: tuple[tuple[str, tuple[int, ...]], ...], width: int, out: int) -> None:
        super().__init__()
        self.index = [list(idx) for _, idx in groups]
        self.stems = nn.ModuleList(conv_block(len(idx), width) for idx in self.index)
        self.fuse = nn.Sequential(nn.Conv2d(len(groups) * (width + 1), out, 1, bias=False), nn.BatchNorm2d(out),
                                  nn.GELU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats, present = [], []
        for idx, stem in zip(self.index, self.stems, strict=True):
            xg = x[:, idx]
            ok = torch.isfinite(xg).all(dim=1, keepdim=True)  # the group is present at this pixel
            m = ok.to(x.dtype)
            feats.append(stem(torch.where(ok, xg, 0.0)) * m)
            present.append(m)
        return self.fuse(torch.cat(feats + present, dim=1))


class ViTUNet(nn.Module):
    """Per-pixel classifier: (B, C, H, W) → logits (B, n_classes, H, W); H and W multiples of 8.

    With sensor groups, NaN input marks a missing value (the model masks it); without, NaN reads as 0.
    """

    accepts_missing = True  # inference passes NaN through (Checkpoint.normalise(keep_nan=True))

    def __init__(self, spec: ModelSpec) -> None:
        super().__init__()
        self.spec = spec
        w1, w2, w3 = spec.widths
        self.enc1: nn.Module = (FusionStem(spec.groups, spec.stem_width, w1) if spec.groups
                                else conv_block(spec.in_channels, w1))
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
        s1 = self.enc1(x if self.spec.groups else torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0))
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
