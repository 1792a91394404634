"""Losses: log-domain MSE, SN-PatchGAN hinge losses on tone-mapped LDR, VGG19 perceptual loss.

Elementwise cores plus one masked reduction (:func:`masked_mean`).

References
----------
- Yu, J. et al. "Free-Form Image Inpainting with Gated Convolution." ICCV 2019 (SN-PatchGAN, hinge).
- Johnson, J. et al. "Perceptual Losses for Real-Time Style Transfer and Super-Resolution." ECCV 2016.
- Simonyan, K., Zisserman, A. "Very Deep Convolutional Networks..." ICLR 2015 (VGG19).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["masked_mean", "log_mse", "ldr_loss", "texture_loss", "tonemap_for_d", "hinge_d_loss", "hinge_g_loss",
           "VGG19", "VGG_CONV3_4", "find_vgg_weights", "hub_checkpoints", "PerceptualLoss"]

LOG_EPS = 1e-3  # radiance floor for the log (1/1000 of the clip level)


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of ``x`` (B,C,H,W) weighted by ``mask`` (B,1,H,W); plain mean without a mask."""
    if mask is None:
        return x.mean()
    weight = mask.expand_as(x)
    return (x * weight).sum() / weight.sum().clamp_min(1.0)


def log_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """MSE between ``log(pred + eps)`` and ``log(target + eps)`` (radiance), over ``mask``."""
    err = (torch.log(pred.clamp_min(0) + LOG_EPS) - torch.log(target.clamp_min(0) + LOG_EPS)) ** 2
    return masked_mean(err, mask)


def ldr_loss(sq_err: torch.Tensor, region: torch.Tensor | None, kind: str = "mse", eps: float = 1e-4) -> torch.Tensor:
    """The rendered-photo term from squared errors ``sq_err`` (B,3,H,W) over ``region`` (B,1|3,H,W
    or ``None`` = everywhere).

    ``mse``: one mean over every region pixel of the batch (crops with large errors dominate).
    ``log``: the mean over crops of ``log10(MSE_i + eps)``, i.e. minus a tenth of each crop's PSNR:
    what an evaluation that averages PSNR in dB over images rewards, so a crop whose highlights are
    barely above the clip level (the naive answer is already close) counts as much as a sun."""
    if kind == "mse":
        return masked_mean(sq_err, region)
    w = torch.ones_like(sq_err) if region is None else region.expand_as(sq_err)
    per = (sq_err * w).sum(dim=(1, 2, 3)) / w.sum(dim=(1, 2, 3)).clamp_min(1.0)
    return torch.log10(per + eps).mean()


def texture_loss(fake_ldr: torch.Tensor, real_ldr: torch.Tensor, region: torch.Tensor, patch: int = 16,
                 eps: float = 6e-5) -> torch.Tensor:
    """Local gradient-energy matching of two renditions (B,C,H,W in [0,1]) over ``region``
    (B,1|C,H,W, > 0 = inside): how much texture there is, not where exactly.

    Per ``patch`` x ``patch`` tile, the mean squared forward difference (x and y, neighbour pairs
    with both pixels inside the region, summed over channels) of each rendition; the loss is the
    mean over tiles, weighted by their share of region pairs, of ``|log(E_fake + eps) -
    log(E_real + eps)|``. A smooth (blurred) prediction where the truth has texture scores
    ``log(E_real / E_fake)``; identical energies score 0 whatever the pixels. ``eps`` (energy per
    pair, default about (2/255)^2) keeps flat tiles from counting 8-bit noise as texture.

    It complements a pixel loss, which rewards the mean of the plausible answers (a smooth one);
    alone it would be satisfied by noise of the right strength."""
    r = (region > 0).to(fake_ldr.dtype).expand_as(fake_ldr)
    rx = r[..., :, 1:] * r[..., :, :-1]
    ry = r[..., 1:, :] * r[..., :-1, :]
    pairs = F.pad(rx, (0, 1)) + F.pad(ry, (0, 0, 0, 1))

    def energy(x: torch.Tensor) -> torch.Tensor:
        dx = (x[..., :, 1:] - x[..., :, :-1]) ** 2 * rx
        dy = (x[..., 1:, :] - x[..., :-1, :]) ** 2 * ry
        e = F.pad(dx, (0, 1)) + F.pad(dy, (0, 0, 0, 1))
        return F.avg_pool2d(e.sum(1, keepdim=True), patch, ceil_mode=True)

    n = F.avg_pool2d(pairs.sum(1, keepdim=True), patch, ceil_mode=True)
    per_pair = n.clamp_min(1e-12)
    diff = (torch.log(energy(fake_ldr) / per_pair + eps) - torch.log(energy(real_ldr) / per_pair + eps)).abs()
    return (diff * n).sum() / n.sum().clamp_min(1e-12)


def tonemap_for_d(radiance: torch.Tensor, ev: torch.Tensor | float = 0.0) -> torch.Tensor:
    """What the discriminator and the perceptual loss see: the naive camera's LDR rendition,
    ``sqrt(clip(radiance * 2**ev, 0, 1))`` (B,3,H,W) in [0,1].

    ``ev`` (stops, scalar or (B,) tensor) darkens first: at EV 0 every predicted highlight clips
    back to 1.0 and the discriminator would see nothing of it, so training renders at a random
    negative EV, the same one for the real and the generated radiance."""
    if isinstance(ev, torch.Tensor) and ev.ndim == 1:
        ev = ev.view(-1, 1, 1, 1)
    x = (radiance * 2.0**ev).clamp(0.0, 1.0)
    return torch.sqrt(x + 1e-8)


def hinge_d_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """Discriminator hinge loss: ``mean(relu(1 - D(real))) + mean(relu(1 + D(fake)))``."""
    return F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean()


def hinge_g_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """Generator hinge loss: ``-mean(D(fake))``."""
    return -fake_scores.mean()


# VGG19 'features' configuration (torchvision layout): ints are conv widths, 'M' max-pools.
_VGG19_CFG: list[int | str] = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"]
#: Index of conv3_4 in ``features`` (torchvision numbering: conv, relu, ... conv3_4 is 16).
VGG_CONV3_4 = 16


class VGG19(nn.Module):
    """VGG19 feature extractor with torchvision's ``features.N`` parameter names, truncated after
    layer ``last`` (default conv3_4, *before* its ReLU). Loads a torchvision ``vgg19`` state dict
    (``classifier.*`` keys are ignored)."""

    def __init__(self, last: int = VGG_CONV3_4) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 3
        for v in _VGG19_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(in_ch, int(v), 3, padding=1), nn.ReLU(inplace=False)]
                in_ch = int(v)
        self.features = nn.Sequential(*layers[: last + 1])
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def load_torchvision(self, path: str | Path) -> None:
        """Load the ``features.*`` tensors of a torchvision ``vgg19`` state dict file (as
        ``torch.save(torchvision.models.vgg19(...).state_dict())`` writes it, e.g.
        ``vgg19-dcbb9e9d.pth``). Raises ``ValueError`` (one line) for anything else."""
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as exc:  # missing file, pickle, zip errors
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise ValueError(f"{path}: not a readable torch state dict ({type(exc).__name__}: {msg})") from None
        if not isinstance(state, dict):
            raise ValueError(f"{path}: not a torchvision vgg19 state dict (a {type(state).__name__})")
        own = {k: v for k, v in state.items() if k.startswith("features.") and k in self.state_dict()}
        missing = [k for k in self.state_dict() if k.startswith("features.") and k not in own]
        if missing:
            raise ValueError(f"{path}: not a torchvision vgg19 state dict (missing {missing[0]})")
        mine = self.state_dict()
        for k, v in own.items():
            if tuple(v.shape) != tuple(mine[k].shape):
                raise ValueError(f"{path}: not a torchvision vgg19 state dict ({k} has shape {tuple(v.shape)})")
        self.load_state_dict(own, strict=False)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        """(B,3,H,W) in [0,1] -> features after layer ``last``."""
        return self.features((rgb - self.mean) / self.std)


def hub_checkpoints() -> Path:
    """torchvision's weights cache: ``$TORCH_HOME/hub/checkpoints`` (default ``~/.cache/torch``)."""
    return Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")) / "hub" / "checkpoints"


def find_vgg_weights(path: str | None = None) -> Path | None:
    """The VGG19 weights file: ``path`` if given, else torchvision's file in the torch hub cache
    (``$TORCH_HOME/hub/checkpoints/vgg19-dcbb9e9d.pth``). ``None`` if absent."""
    if path:
        return Path(path) if Path(path).is_file() else None
    for p in sorted(hub_checkpoints().glob("vgg19-*.pth")):
        return p
    return None


class PerceptualLoss(nn.Module):
    """MSE between VGG19 conv3_4 (pre-ReLU) features of two LDR images in [0,1]."""

    def __init__(self, weights: str | Path | None) -> None:
        super().__init__()
        self.vgg = VGG19()
        if weights is not None:
            self.vgg.load_torchvision(weights)
        self.vgg.requires_grad_(False).eval()

    def forward(self, pred_ldr: torch.Tensor, target_ldr: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(self.vgg(pred_ldr), self.vgg(target_ldr))
