"""The training step, shared by the single-process loop and every Ray Train worker.

``PatchBatches`` draws class-balanced, augmented patches from region-year samples (missing sensor groups
stay NaN: the fusion stems mask them, exactly as at inference); ``fit_steps`` runs the optimisation steps
on whatever module it is given (a plain ViTUNet or its DistributedDataParallel wrapper).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from glacierscale.classes import BACKGROUND, DEBRIS_ICE
from glacierscale.model.bands import GROUPS
from glacierscale.model.checkpoint import NODATA_CLASS
from glacierscale.training.data import Sample
from glacierscale.training.randomise import Randomisation, randomise_optical
from glacierscale.training.sources import GLACIER_LABEL, NOT_GLACIER_LABEL

DEBRIS_WEIGHT = 2.0  # cross-entropy weight of debris-covered ice (the rarest, hardest class)
FAR_FROM_ICE_PX = 25  # 500 m at 20 m: ground this far from every glacier is bare rock, moraine, scree or lakes
# shares of patch centres: debris, clean ice, ground far from ice; the rest fall anywhere. Centring a fifth of the
# patches on ice-free ground teaches what bare rock looks like away from the context of a glacier (a zero-shot
# real scene had 41 % of its bare rock called ice by a model that saw rock mostly beside ice; docs/model.md)
CENTRES = ((2, 0.20), (1, 0.27), (0, 0.20), (3, 0.06))  # 3: water (lakes, sea), where a region has it
CLOUD_COVER = (0.15, 1.0)  # share of a clouded patch that loses its optical data (1.0: fully overcast)
BLIND_GROUPS = ("sar", "thermal")  # without both, rock-coloured debris cover looks like the rock around it
BlindDebris = Literal["debris", "background"]  # the label of debris-covered ice in a blind patch
# the brightness-consistency copies are scaled by a gain drawn in this range: the ×0.7 / ×1.3 brightness ablation
CONSISTENCY_GAIN = (0.7, 1.3)


@dataclass(frozen=True)
class StepSettings:
    """What one optimisation run needs besides the model and the data."""

    steps: int
    batch_size: int  # per process
    patch_size: int
    lr: float
    seed: int
    sensor_dropout: dict[str, float]
    randomise: bool = True  # domain randomisation of the optical bands (training/randomise.py); False: ±15 % gain
    optical_clouds: float = 0.0  # share of patches whose optical bands are missing under a cloud-shaped mask
    clip_grad_norm: float = 1.0  # gradient-norm clipping (0: none); without it a 2,400-step run diverged at step 1,350
    # share of patches that lose SAR and thermal together (optical + DEM only, as a Landsat/HLS scene with a DEM);
    # in every patch whose input holds neither (drawn away or absent), debris is neither a centre target nor
    # up-weighted (see PatchBatches.weighted_patch)
    blind_share: float = 0.0
    # decay of an exponential moving average of the weights (and BatchNorm statistics), 0: none; the model
    # returned by fit_steps then carries the average, which depends less on the last batches drawn
    ema: float = 0.0
    brightness_gain: tuple[float, float] = Randomisation.gain  # the per-patch gain range of the randomisation
    haze: tuple[float, float] = Randomisation.haze  # the range of its additive residual at B02
    # brightness consistency: the last ``consistency_pairs`` patches of every batch are copies of the first ones with
    # every optical band scaled by one gain (CONSISTENCY_GAIN); the loss adds ``consistency_weight`` × the symmetric
    # KL divergence between the class probabilities of each patch and its copy (0 pairs: off, as before)
    consistency_pairs: int = 0
    consistency_weight: float = 1.0
    # what debris-covered ice is labelled in a blind patch (no SAR and no thermal in its input): "debris" (as
    # elsewhere) or "background", because optical + DEM alone cannot tell it from bare rock (the simulator gives
    # debris the local rock's spectrum), and a real HLS scene's sunlit valley floor was read as debris-covered ice
    blind_debris: BlindDebris = "debris"


class PatchBatches:
    """Class-balanced patches with flips, rotations, optical domain randomisation and whole-group sensor dropout."""

    def __init__(self, samples: list[Sample], bands: list[str], mean: np.ndarray, std: np.ndarray,
                 settings: StepSettings, rng: np.random.Generator) -> None:
        if not samples:
            raise ValueError("no training samples")
        self.samples, self.settings, self.rng = samples, settings, rng
        self.mean = np.asarray(mean, np.float32)[:, None, None]
        self.std = np.asarray(std, np.float32)[:, None, None]
        self.optical = [bands.index(b) for b in GROUPS["optical"] if b in bands]
        self.dropout = [(g, [bands.index(b) for b in GROUPS[g] if b in bands], p)
                        for g, p in settings.sensor_dropout.items()]
        # the band indices of every group a patch may lose (the dropout groups and the blind pair)
        self.group_idx = {g: [bands.index(b) for b in GROUPS[g] if b in bands]
                          for g in {*settings.sensor_dropout, *BLIND_GROUPS} if g in GROUPS}
        self.blind_idx = [i for g in BLIND_GROUPS for i in self.group_idx[g]]
        # the sensor groups each sample has at all (the classic-physics regions have no thermal sensor)
        self._has = [{g for g in BLIND_GROUPS
                      if any(b in bands and np.isfinite(s.data[bands.index(b)]).any() for b in GROUPS[g])}
                     for s in samples]
        # where the centres of class-balanced patches may fall, per sample
        self.randomisation = Randomisation(gain=settings.brightness_gain, haze=settings.haze)
        # (outline labels, GLACIER_LABEL, stand for clean-ice centres: they are glacier, clean or debris-covered)
        self._where = [self._centres(s.labels) for s in samples]

    @staticmethod
    def _centres(labels: np.ndarray) -> dict[int, np.ndarray]:
        """Return the pixels where patches of each target may be centred (0: ground far from every glacier)."""
        from scipy.ndimage import distance_transform_edt

        ice = (labels == 1) | (labels == 2) | (labels == GLACIER_LABEL)
        ground = (labels == 0) | (labels == NOT_GLACIER_LABEL)
        far = ground & (distance_transform_edt(~ice) > FAR_FROM_ICE_PX) if ice.any() else ground
        return {1: np.argwhere((labels == 1) | (labels == GLACIER_LABEL)), 2: np.argwhere(labels == 2),
                0: np.argwhere(far), 3: np.argwhere(labels == 3)}

    def patch(self) -> tuple[np.ndarray, np.ndarray]:
        """Return one augmented, normalised patch (band, y, x) with NaN where a group is missing, and labels."""
        x, y, _ = self.weighted_patch()
        return x, y

    def weighted_patch(self) -> tuple[np.ndarray, np.ndarray, float]:
        """Return a patch, its labels and the debris weight of its loss.

        Which sensor groups the patch loses is drawn first. A patch without SAR and thermal ("blind": only optical
        and the DEM) is not centred on debris and its debris pixels are not up-weighted: those two sensors are what
        tell debris-covered ice from the bare rock, moraine and forefield around it, so without them the loss should
        not push ambiguous rock towards debris (a real HLS scene had its bare forefield read as debris; docs/model.md).
        """
        rng, size = self.rng, self.settings.patch_size
        k = int(rng.integers(len(self.samples)))
        s = self.samples[k]
        h, w = s.labels.shape
        dropped = {g for g, idx, p in self.dropout if idx and rng.random() < p}
        if self.blind_idx and rng.random() < self.settings.blind_share:
            dropped |= set(BLIND_GROUPS)
        # blind: the patch's input holds neither SAR nor thermal, whichever way each went (the blind share, its own
        # dropout, or a region without that sensor): a region without thermal is blind at every SAR dropout. Counting
        # only draws of both groups (the same share for every region) was tried and undid the fix: 0.431 of the real
        # Athabasca bare rock read as ice against 0.000 (docs/model.md, "Clean tongues and blind patches")
        blind = not (self._has[k] - dropped)
        u, target, edge = rng.random(), -1, 0.0
        for cls, share in CENTRES:
            if blind and cls == 2:
                continue  # its share falls to patches centred anywhere
            edge += share
            if u < edge:
                target = cls
                break
        cand = self._where[k].get(target, np.empty((0, 2)))
        if len(cand):
            cy, cx = cand[rng.integers(len(cand))]
            r = int(np.clip(cy - size // 2 + rng.integers(-size // 4, size // 4 + 1), 0, h - size))
            c = int(np.clip(cx - size // 2 + rng.integers(-size // 4, size // 4 + 1), 0, w - size))
        else:
            r, c = int(rng.integers(0, h - size + 1)), int(rng.integers(0, w - size + 1))
        x, y = s.data[:, r:r + size, c:c + size], s.labels[r:r + size, c:c + size]
        if blind and self.settings.blind_debris == "background":
            # without SAR or thermal, rock-coloured debris is not called ice
            y = np.where(y == DEBRIS_ICE, np.uint8(BACKGROUND), y)
        rot = int(rng.integers(4))
        x, y = np.rot90(x, rot, axes=(1, 2)), np.rot90(y, rot)
        if rng.random() < 0.5:
            x, y = x[:, :, ::-1], y[:, ::-1]
        x = x.astype(np.float32)  # a copy
        if self.settings.randomise:  # another sensor, processor, atmosphere and date (training/randomise.py)
            x[self.optical] = randomise_optical(x[self.optical], rng, self.randomisation)
        else:
            x[self.optical] *= rng.uniform(0.85, 1.15)  # illumination / calibration spread, all optical bands alike
        x = ((x - self.mean) / self.std).astype(np.float32, copy=False)
        for g in dropped:
            x[self.group_idx[g]] = np.nan  # the group is missing, as when its sensor had no scene in the window
        if self.optical and rng.random() < self.settings.optical_clouds:
            optical = x[self.optical]
            optical[:, cloud_mask(size, rng)] = np.nan  # the labels stay: SAR + DEM (+ thermal) map those pixels
            x[self.optical] = optical
        return x, y.copy(), (1.0 if blind else DEBRIS_WEIGHT)

    def brighter(self, x: np.ndarray, gain: float) -> np.ndarray:
        """Return a normalised patch as it would be with every optical band of its reflectance times ``gain``."""
        out = x.copy()
        k = self.optical
        out[k] = gain * x[k] + (gain - 1.0) * self.mean[k] / self.std[k]  # (g·r − mean) / std; NaN stays NaN
        return out

    def batch(self) -> tuple[Any, Any, Any]:
        """Return (x, y, debris weight per patch) torch tensors of one batch."""
        import torch

        pairs = self.settings.consistency_pairs
        items = [self.weighted_patch() for _ in range(self.settings.batch_size - pairs)]
        for x, y, w in items[:pairs]:  # the copies come last, in the order of their originals
            items.append((self.brighter(x, float(self.rng.uniform(*CONSISTENCY_GAIN))), y, w))
        xs, ys, ws = zip(*items, strict=True)
        return (torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys).astype(np.int64)),
                torch.tensor(ws, dtype=torch.float32))


def cloud_mask(size: int, rng: np.random.Generator) -> np.ndarray:
    """Return a (size, size) bool mask of cloud-shaped optical gaps covering a random share of the patch.

    Smooth noise at 2-3 scales, thresholded at the quantile of the drawn cover (CLOUD_COVER): blobs with ragged
    edges, as the clouds and cloud shadows no scene of a season cleared; a cover of 1 is a fully overcast patch.
    """
    from scipy import ndimage

    cover = float(rng.uniform(*CLOUD_COVER))
    if cover >= 0.95:
        return np.ones((size, size), dtype=bool)
    field = np.zeros((size, size), dtype=np.float32)
    for cells, amp in ((4, 1.0), (8, 0.5), (16, 0.25)):
        coarse = rng.standard_normal((cells, cells)).astype(np.float32)
        field += amp * ndimage.zoom(coarse, size / cells, order=1)[:size, :size]
    return np.asarray(field >= np.quantile(field, 1.0 - cover))


def dice_loss(logits: Any, target: Any) -> Any:
    """Return 1 − mean soft Dice over classes (nodata pixels ignored)."""
    import torch

    probs = torch.softmax(logits, dim=1)
    valid = (target != NODATA_CLASS).unsqueeze(1)
    onehot = torch.nn.functional.one_hot(target.clamp(max=probs.shape[1] - 1), probs.shape[1]).permute(0, 3, 1, 2)
    probs, onehot = probs * valid, onehot * valid
    inter = (probs * onehot).sum(dim=(0, 2, 3))
    denom = probs.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
    return 1 - ((2 * inter + 1) / (denom + 1)).mean()


def weighted_nll(logp: Any, target: Any, debris_weight: Any | None = None) -> Any:
    """Return the class-weighted mean negative log-likelihood (as ``nll_loss(weight=...)``; NODATA ignored).

    ``debris_weight`` (one value per patch) replaces DEBRIS_WEIGHT patch by patch.
    """
    import torch

    weight = torch.tensor([1.0, 1.0, DEBRIS_WEIGHT, 1.0][:logp.shape[1]], device=logp.device)
    valid = target != NODATA_CLASS
    t = torch.where(valid, target, torch.zeros_like(target)).clamp(max=logp.shape[1] - 1)
    nll = -logp.gather(1, t.unsqueeze(1)).squeeze(1)
    w = weight[t]
    if debris_weight is not None:
        w = torch.where(t == 2, debris_weight.to(w.dtype).view(-1, *([1] * (t.dim() - 1))), w)
    w = w * valid
    return (w * nll).sum() / w.sum().clamp(min=1e-12)


def segmentation_loss(logits: Any, target: Any, debris_weight: Any | None = None) -> Any:
    """Return class-weighted cross-entropy + Dice.

    Pixels labelled GLACIER_LABEL (inside an inventory outline: clean or debris-covered unknown) add
    −log(p(clean) + p(debris)) to the cross-entropy and pixels labelled NOT_GLACIER_LABEL (outside every outline)
    −log(p(background) + p(water)), weighted by their share of the labelled pixels, and a
    glacier-vs-background Dice; the per-class terms see only per-class labels. A batch without such pixels
    gets exactly the per-class loss. ``debris_weight`` (per patch) replaces DEBRIS_WEIGHT patch by patch.
    """
    import torch

    outline, outside = target == GLACIER_LABEL, target == NOT_GLACIER_LABEL
    if not bool(outline.any() or outside.any()):
        ce = weighted_nll(torch.log_softmax(logits, dim=1), target, debris_weight)
        return ce + dice_loss(logits, target)
    per_class = torch.where(outline | outside, torch.full_like(target, NODATA_CLASS), target)
    n_class, n_outline = int((per_class != NODATA_CLASS).sum()), int((outline | outside).sum())
    logp = torch.log_softmax(logits, dim=1)
    glacier_logp = torch.logsumexp(logp[:, 1:3], dim=1)
    other_logp = torch.logsumexp(logp[:, [0, 3] if logp.shape[1] > 3 else [0]], dim=1)
    loss = -(glacier_logp[outline].sum() + other_logp[outside].sum()) / (n_class + n_outline)
    if n_class:
        ce = weighted_nll(logp, per_class, debris_weight)
        loss = loss + ce * n_class / (n_class + n_outline) + dice_loss(logits, per_class)
    # glacier vs background over every labelled pixel
    valid = target != NODATA_CLASS
    p_glacier = glacier_logp.exp()[valid]
    is_glacier = ((target == 1) | (target == 2) | outline)[valid].float()
    dice = 1 - (2 * (p_glacier * is_glacier).sum() + 1) / (p_glacier.sum() + is_glacier.sum() + 1)
    return loss + dice


def consistency_loss(logits: Any, copies: Any) -> Any:
    """Return the symmetric KL divergence between the class probabilities of patches and of their copies (per pixel)."""
    import torch.nn.functional as F

    a, b = F.log_softmax(logits, dim=1), F.log_softmax(copies, dim=1)
    return 0.5 * ((a.exp() - b.exp()) * (a - b)).sum(dim=1).mean()


def fit_steps(model: Any, batches: PatchBatches, settings: StepSettings,
              on_step: Callable[[int, float], None] | None = None) -> list[float]:
    """Run the optimisation steps on ``model`` (AdamW, one-cycle, gradient-norm clipping); return the loss of every step.

    Under torch.distributed (Ray Train) gradients are averaged by DDP and the returned loss of a step is
    the mean over the workers. With ``settings.ema`` > 0 the model ends with the moving average of its weights
    and BatchNorm statistics (``torch.optim.swa_utils.AveragedModel``), updated after every step.
    """
    import torch
    import torch.distributed as dist
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=settings.lr, total_steps=settings.steps, pct_start=0.1)
    distributed = dist.is_available() and dist.is_initialized()
    net = getattr(model, "module", model)  # the network itself under DistributedDataParallel
    average = (AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(settings.ema), use_buffers=True)
               if settings.ema > 0 else None)
    losses: list[float] = []
    model.train()
    for step in range(settings.steps):
        xb, yb, wb = batches.batch()
        logits = model(xb)
        loss = segmentation_loss(logits, yb, wb)
        pairs = settings.consistency_pairs
        if pairs and settings.consistency_weight > 0:  # the copies are the batch's last patches
            loss = loss + settings.consistency_weight * consistency_loss(logits[:pairs], logits[-pairs:])
        opt.zero_grad()
        loss.backward()
        if settings.clip_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.clip_grad_norm)
        opt.step()
        sched.step()
        if average is not None:
            average.update_parameters(net)
        value = loss.detach()
        if distributed:
            dist.all_reduce(value, op=dist.ReduceOp.SUM)
            value = value / dist.get_world_size()
        losses.append(float(value))
        if on_step is not None:
            on_step(step, losses[-1])
    if average is not None:
        net.load_state_dict(average.module.state_dict())
    model.eval()
    return losses
