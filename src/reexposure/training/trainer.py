"""Training: the seed's GAN recipe (log-MSE + SN-PatchGAN hinge on tone-mapped LDR + VGG19
conv3_4 pre-ReLU perceptual), resumable exactly, one process or many (torchrun + DDP).

Run: ``reexpose train --config configs/cpu-small.yaml [key=value ...] [--resume]``
(also ``python -m reexposure train ...``; many GPUs: ``torchrun --nproc_per_node=N -m reexposure
train --config configs/full.yaml``).

The step shape follows BasicSR's SRGAN step: D frozen during the G step, D trained on the
detached output; both steps return ``(loss, metrics)``. All randomness is a function of
``(seed, step)`` (data: ``(seed, sample number)``), so ``--resume`` continues the same run
exactly: same samples, same optimiser state, same losses.

A run folder holds ``config.yaml`` (the effective config), ``last.pt`` (resumable checkpoint,
written atomically every ``ckpt_every`` steps and on exit), ``model.safetensors`` (EMA generator,
fp16, what ``--model`` loads), ``log.jsonl`` (losses, learning rate, loader share, validation),
``sheet_NNNNNN.png`` (validation contact sheets at EV -2) and ``tb/`` (TensorBoard).
"""

from __future__ import annotations

import contextlib
import io as _io
import json
import logging
import math
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP

from ..core import camera
from ..core.files import atomic_write_bytes, stale_temp_files
from ..core.model import (
    ARCHITECTURES,
    DiscriminatorConfig,
    ExpandNetConfig,
    GatedUNet,
    Generator,
    GeneratorConfig,
    SNPatchGAN,
    build_generator,
)
from ..core.weights import ModelError, load_generator, save_weights
from ..eval.baselines import ExpandNet, Naive, Ours
from ..eval.run import DEFAULT_CLIPS, EvalError, case_photo, evaluate_case, load_scene
from ..formats.io import read_hdr
from ..formats.scenes import holdout_scenes
from ..formats.viz import contact_sheet
from .config import ConfigError, load, to_dict
from .data import DataConfig, HDRPairs, PairSynthesizer, camera_case_photo, find_hdr_files, find_ldr_files, normalize_95
from .losses import (
    PerceptualLoss,
    find_vgg_weights,
    hinge_d_loss,
    hinge_g_loss,
    hub_checkpoints,
    ldr_loss,
    log_mse,
    masked_mean,
    texture_loss,
    tonemap_for_d,
)
from .runtime import _any_rank, _append_jsonl, _device, _flatten, _is_main_thread, _rank, _truncate_log, _unwrap, _world

__all__ = ["TrainConfig", "Trainer", "StepBatches", "train", "validation_set",
           "load_train_config", "CHECKPOINT_VERSION"]

log = logging.getLogger(__name__)

#: Checkpoint format: 1 (no ``arch``, always the gated U-Net) and 2 (``arch`` key) both load.
CHECKPOINT_VERSION = 2


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run needs. Saved as ``config.yaml`` next to its checkpoints."""

    data: str = "../shared/data/hdr"
    holdout: tuple[str, ...] = field(default_factory=holdout_scenes)
    exclude: tuple[str, ...] = ()  # scenes neither trained nor evaluated on (e.g. edited panoramas)
    out: str = "runs/default"
    arch: str = "gated_unet"  # generator: gated_unet (ours) | expandnet (baseline, Marnerides 2018)
    steps: int = 6000
    # wall-clock budget in minutes, counted from the first step (0 = off): the run then stops at the first
    # step past it and ends as if `steps` were reached (log, last validation, checkpoint, model.safetensors).
    # The learning-rate schedule still runs over `steps`, so a run stopped early ends above lr_min_ratio.
    max_minutes: float = 0.0
    batch: int = 8  # per process
    seed: int = 0
    threads: int = 2  # torch CPU threads (per process)
    workers: int = 0  # DataLoader worker processes
    device: str = "auto"  # auto, cpu, cuda
    bf16: bool = False  # bf16 autocast on CUDA
    lr_g: float = 1e-4  # DeepFill v2 / SN-PatchGAN defaults
    lr_d: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.999)
    w_rec: float = 1.0  # log-domain MSE (inside the saturation mask; whole image for expandnet)
    w_adv: float = 0.01  # hinge generator loss
    w_ldr: float = 0.0  # MSE of the rendered photo at the D/VGG EV, inside the mask (0 = the seed's recipe)
    # mse: pooled over the batch | log: mean over samples of log10(MSE + ldr_log_eps), i.e. -PSNR/10 per crop
    ldr_loss: str = "mse"
    ldr_log_eps: float = 1e-4  # floor of the per-crop MSE in the log loss (a 40 dB cap)
    w_tex: float = 0.0  # texture term: local gradient-energy match of the rendered photo in the mask (texture_loss)
    tex_patch: int = 16  # tile size (pixels) of the texture term
    # soft: losses weighted by the soft mask; binary: every pixel with mask > 0 counts fully
    rec_weighting: str = "soft"
    w_perc: float = 0.1  # VGG19 conv3_4 pre-ReLU; needs vgg_weights
    vgg_weights: str = ""  # torchvision vgg19 state dict; empty = look in the torch hub cache
    gan_start: int = 2000  # steps of reconstruction-only warm-up
    d_ev: tuple[float, float] = (-3.0, -1.0)  # EV range of the tone-mapping D and VGG see
    ema: float = 0.999
    lr_schedule: str = "constant"  # constant | cosine (from lr_decay_start down to lr * lr_min_ratio at `steps`)
    lr_decay_start: int = 0
    lr_min_ratio: float = 0.05
    # fine-tune: a weights file (.safetensors) of the same arch/config that G and its EMA start from
    init_from: str = ""
    # "" = train the whole generator; "colour" = only a guided head's colour channel (its brightness
    # and every feature stay those of init_from: a colour change measured without brightness drift)
    train_only: str = ""
    keep_every: int = 0  # also keep model_NNNNNN.safetensors every this many steps (0 = only the latest)
    log_every: int = 25
    ckpt_every: int = 250
    val_every: int = 500
    val_crop: int = 256
    val_side: int = 256  # also score whole held-out scenes (long side, px) the way `reexpose eval` does; 0 = off
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    expandnet: ExpandNetConfig = field(default_factory=ExpandNetConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    pairs: DataConfig = field(default_factory=DataConfig)

    def generator_config(self) -> Any:
        """The config of the selected architecture (``generator`` or ``expandnet``)."""
        return self.expandnet if self.arch == "expandnet" else self.generator


# --------------------------------------------------------------------------- helpers


def _train_colour_only(G: GatedUNet) -> None:
    """Freeze every weight of ``G`` but its head, and the head's brightness channel too (its
    gradient is zeroed, so Adam never moves it): only the colour channel of a guided head trains."""
    G.requires_grad_(False)
    keep = torch.zeros(G.head.weight.shape[0], device=G.head.weight.device)
    keep[1:] = 1.0
    for p in (G.head.weight, cast(torch.Tensor, G.head.bias)):
        p.requires_grad_(True)
        p.register_hook(lambda g: g * keep.view(-1, *([1] * (g.dim() - 1))))


def check_config(c: TrainConfig) -> None:
    """Fail early, with one line, on a config that cannot train (before any data is read)."""
    if c.arch not in ARCHITECTURES:
        raise ConfigError(f"arch: unknown generator architecture {c.arch!r} (known: {', '.join(ARCHITECTURES)})")
    for key in ("steps", "batch", "log_every", "ckpt_every", "val_every", "threads"):
        if getattr(c, key) < 1:
            raise ConfigError(f"{key} must be at least 1, got {getattr(c, key)}")
    if c.train_only not in ("", "colour"):
        raise ConfigError(f"train_only must be empty or 'colour', got {c.train_only!r}")
    if c.train_only == "colour" and (c.arch != "gated_unet" or c.generator.head != "guided"):
        raise ConfigError("train_only=colour needs a gated_unet with the guided head")
    if c.lr_schedule not in ("constant", "cosine"):
        raise ConfigError(f"lr_schedule must be constant or cosine, got {c.lr_schedule!r}")
    if not 0.0 <= c.lr_min_ratio <= 1.0:
        raise ConfigError(f"lr_min_ratio must be in [0, 1], got {c.lr_min_ratio}")
    if not 0.0 <= c.pairs.peak_prob <= 1.0 or not 1.0 < c.pairs.peak_range[0] <= c.pairs.peak_range[1]:
        raise ConfigError(f"pairs.peak_prob must be in [0, 1] and pairs.peak_range (lo, hi) with 1 < lo <= hi, "
                          f"got {c.pairs.peak_prob:g} and {list(c.pairs.peak_range)}")
    if not 0.0 <= c.pairs.ldr_share <= 1.0:
        raise ConfigError(f"pairs.ldr_share must be in [0, 1], got {c.pairs.ldr_share}")
    if c.pairs.ldr_share > 0 and not (c.pairs.ldr_data and Path(c.pairs.ldr_data).is_dir()):
        raise ConfigError(f"pairs.ldr_share={c.pairs.ldr_share:g} needs pairs.ldr_data, a folder of photos "
                          f"(got {c.pairs.ldr_data!r})")
    if c.keep_every < 0:
        raise ConfigError(f"keep_every must be >= 0, got {c.keep_every}")
    if not (c.max_minutes >= 0 and math.isfinite(c.max_minutes)):
        raise ConfigError(f"max_minutes must be >= 0 (0 = no time limit), got {c.max_minutes}")
    if c.init_from and not Path(c.init_from).is_file():
        raise ConfigError(f"init_from: weights file {c.init_from} not found")
    if c.ldr_loss not in ("mse", "log"):
        raise ConfigError(f"ldr_loss must be mse or log, got {c.ldr_loss!r}")
    if c.w_tex < 0 or c.tex_patch < 2:
        raise ConfigError(f"w_tex must be >= 0 and tex_patch >= 2, got {c.w_tex} and {c.tex_patch}")
    if c.ldr_log_eps <= 0:
        raise ConfigError(f"ldr_log_eps must be > 0, got {c.ldr_log_eps}")
    if c.rec_weighting not in ("soft", "binary"):
        raise ConfigError(f"rec_weighting must be soft or binary, got {c.rec_weighting!r}")
    if c.workers < 0:
        raise ConfigError(f"workers must be >= 0, got {c.workers}")
    m = c.generator_config().multiple
    for key, v in (("pairs.crop", c.pairs.crop), ("val_crop", c.val_crop)):
        if v < 16 or v % m:
            raise ConfigError(f"{key}={v} must be at least 16 and a multiple of {m} for this generator")
    for key, (lo, hi) in (("d_ev", c.d_ev), ("pairs.ev_range", c.pairs.ev_range)):
        if lo > hi:
            raise ConfigError(f"{key}: low end {lo} is above high end {hi}")
    try:
        for name in (*c.pairs.crf_bank, c.pairs.input_crf):
            camera.crf_from_name(name)
        if c.pairs.emor_path:
            camera.load_emor(c.pairs.emor_path)
    except ValueError as exc:
        raise ConfigError(f"pairs: {exc}") from None
    _device(c.device)
    if c.w_perc > 0 and find_vgg_weights(c.vgg_weights or None) is None:
        where = f"{c.vgg_weights} does not exist; " if c.vgg_weights else ""
        raise ConfigError(
            f"the perceptual loss (w_perc={c.w_perc:g}) needs VGG19 weights: {where}download torchvision's "
            f"vgg19-dcbb9e9d.pth and put it in {hub_checkpoints()} or pass --vgg-weights PATH; or set w_perc=0")


def validation_set(config: TrainConfig, max_scenes: int | None = None) -> list[dict[str, Any]]:
    """Fixed validation crops from the held-out scenes: per scene, one ``val_crop`` crop around
    its highlights at a 10% clipped share, square-root CRF, no JPEG. Deterministic."""
    files = [p for p in find_hdr_files(config.data) if p.stem in set(config.holdout)]
    files = files[:max_scenes] if max_scenes else files
    vcfg = replace(config.pairs, crop=config.val_crop, crf_bank=("sqrt",), jpeg_prob=0.0, noise_prob=0.0,
                   clip_share=(0.10, 0.10), clip_share_prob=1.0, highlight_crop_prob=1.0, scales=(1.0, 1.0),
                   emor_path="", camera_curves="bank")
    synth = PairSynthesizer(vcfg)
    out = []
    for i, p in enumerate(files):
        try:
            image = normalize_95(read_hdr(p))
        except (ValueError, OSError) as exc:
            log.warning("skipping unreadable validation file %s: %s", p, exc)
            continue
        if min(image.shape[:2]) < config.val_crop:
            continue
        ldr, radiance = synth.pair(image, np.random.default_rng([config.seed, 99, i]))
        out.append({"ldr": torch.from_numpy(ldr).permute(2, 0, 1)[None].contiguous(),
                    "radiance": torch.from_numpy(np.ascontiguousarray(radiance)).permute(2, 0, 1)[None].contiguous(),
                    "name": p.stem})
    return out


def validation_scenes(config: TrainConfig, fmt: str = "png", camera_seed: int | None = None) -> list[dict[str, Any]]:
    """Whole held-out scenes as `reexpose eval` makes them (its :func:`~reexposure.eval.run.load_scene`
    and :func:`~reexposure.eval.run.case_photo`), smaller: each scene downscaled to ``val_side`` px
    on its long side and exposed so that 2, 8 and 20% of its pixels clip (eval's default clips),
    rendered to an 8-bit photo with the square-root CRF and encoded as ``fmt`` (``png``, or
    ``jpeg`` at q90 as in `reexpose eval --format jpeg`); with ``camera_seed``, rendered instead as
    `reexpose eval --camera SEED` does (:func:`~reexposure.training.data.camera_case_photo`;
    ``fmt`` is then ignored). Items: ``name``, ``clip``, ``photo`` (HxWx3 uint8) and ``radiance``
    (1,3,H,W, the truth). Empty when ``val_side`` is 0."""
    if config.val_side <= 0:
        return []
    out = []
    for p in [p for p in find_hdr_files(config.data) if p.stem in set(config.holdout)]:
        try:
            image, t = load_scene(p, config.val_side)
        except (ValueError, OSError) as exc:
            log.warning("skipping unreadable validation file %s: %s", p, exc)
            continue
        for clip in DEFAULT_CLIPS:
            try:
                if camera_seed is None:
                    _, gt, photo = case_photo(image, t, clip, camera.DEFAULT_CRF, fmt)
                else:
                    _, gt, photo = camera_case_photo(image, clip, p.stem, camera_seed)
            except EvalError:
                continue
            out.append({"name": p.stem, "clip": clip, "photo": photo, "radiance": gt})
    return out


class StepBatches(torch.utils.data.Sampler):
    """Batches of sample numbers for steps ``start..steps-1`` on this rank: step s, rank r gets
    ``s*B*W + r*B + j``, so ranks never share a sample and each image is used once per epoch."""

    def __init__(self, start: int, steps: int, batch: int, rank: int, world: int) -> None:
        self.start, self.steps, self.batch, self.rank, self.world = start, steps, batch, rank, world

    def __iter__(self) -> Iterator[list[int]]:
        for s in range(self.start, self.steps):
            base = s * self.batch * self.world + self.rank * self.batch
            yield list(range(base, base + self.batch))

    def __len__(self) -> int:
        return max(0, self.steps - self.start)


class _Radiance(nn.Module):
    """Wraps a generator so that ``forward`` is its ``radiance`` (what DDP must see)."""

    def __init__(self, generator: Generator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, lin: torch.Tensor, mask: torch.Tensor, blend_mask: torch.Tensor) -> torch.Tensor:
        return self.generator.radiance(lin, mask, blend_mask)


def _write_checkpoint(path: Path, data: bytes) -> None:
    """Atomic write, folder synced too: a crash at any point leaves either the old or the new
    ``path``, never a torn one."""
    atomic_write_bytes(path, data, sync_folder=True)


# --------------------------------------------------------------------------- trainer


class Trainer:
    """Holds the networks, optimisers and EMA; :meth:`g_step` / :meth:`d_step` return
    ``(loss, metrics)``; :meth:`save` / :meth:`load` write and read resumable checkpoints.

    The generator is used only through ``radiance(lin, mask)``, so any architecture of
    :data:`reexposure.core.model.ARCHITECTURES` trains the same way."""

    def __init__(self, config: TrainConfig, device: torch.device) -> None:
        self.config = c = config
        self.device = device
        torch.manual_seed(c.seed)
        self.G: nn.Module = build_generator(c.arch, c.generator_config()).to(device)
        self.D: nn.Module = SNPatchGAN(c.discriminator).to(device)
        #: steps the generator had been trained for before this run (``init_from``'s metadata)
        self.init_steps = 0
        if c.init_from:
            self.init_steps = self._init_from(c.init_from)
        self.G_ema = build_generator(c.arch, c.generator_config()).to(device)
        self.G_ema.load_state_dict(self.G.state_dict())
        self.G_ema.requires_grad_(False).eval()
        if c.train_only == "colour":
            _train_colour_only(cast(GatedUNet, self.G))
        self.opt_g = torch.optim.Adam([p for p in self.G.parameters() if p.requires_grad], lr=c.lr_g, betas=c.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=c.lr_d, betas=c.betas)
        self.input_crf = camera.crf_from_name(c.pairs.input_crf)
        # the gated U-Net passes unmasked pixels through; a whole-image model is judged everywhere
        self.rec_in_mask = c.arch == "gated_unet"
        self.perceptual: PerceptualLoss | None = None
        if c.w_perc > 0:
            weights = find_vgg_weights(c.vgg_weights or None)
            if weights is None:
                check_config(c)  # raises the one-line message saying where to put the file
            try:
                self.perceptual = PerceptualLoss(weights).to(device)
            except (ValueError, OSError, RuntimeError) as exc:
                raise ConfigError(f"cannot load VGG19 weights {weights}: {str(exc).splitlines()[0]}") from None
        self.step = 0
        self.G_train: nn.Module = _Radiance(self.G)
        self.D_train: nn.Module = self.D
        if _world() > 1:
            ids = [device.index] if device.type == "cuda" else None
            self.G_train = DDP(self.G_train, device_ids=ids)
            self.D_train = DDP(self.D, device_ids=ids)
        self._fake: torch.Tensor | None = None

    def _init_from(self, path: str) -> int:
        """Start G from the weights file ``path`` (fine-tuning). Returns its ``trained_steps``."""
        try:
            model, meta = load_generator(path)
        except ModelError as exc:
            raise ConfigError(f"init_from: {exc}") from None
        have, want = model.config.to_dict(), self.config.generator_config().to_dict()
        # a gated U-Net may gain context blocks (they start at zero, i.e. as the file's network),
        # turn its rgb head into a guided one (GatedUNet.adopt_rgb_head) and change interior_smooth
        # (a fixed filter on its output), upsample (how the decoder interpolates), share_radius (the
        # blend's all-clipped weight) or fill_channels (the blend's lower bound): no weights, the
        # config's values are used; a new colour range restarts the colour channel
        # (GatedUNet.adopt_colour_range)
        same = {"context_blocks": 0, "head": "rgb", "interior_smooth": 0, "upsample": "nearest", "colour_max": 1.0,
                "share_radius": 0, "fill_channels": False}
        grows = (self.config.arch == "gated_unet" and have.get("context_blocks", 0) <= want.get("context_blocks", 0)
                 and have.get("head", "rgb") in ("rgb", want.get("head", "rgb"))
                 and {**have, **same} == {**want, **same})
        if meta.get("arch", "gated_unet") != self.config.arch or not (have == want or grows):
            raise ConfigError(f"init_from: {path} holds a {meta.get('arch', 'gated_unet')} {meta['config']}, "
                              f"the config asks for {self.config.arch} {json.dumps(want)}")
        state = model.state_dict()
        if isinstance(self.G, GatedUNet):
            state = self.G.adopt_colour_range(self.G.adopt_rgb_head(state), float(have.get("colour_max", 1.0)))
        missing, unexpected = self.G.load_state_dict(state, strict=False)
        assert not unexpected and all(k.startswith("context.") for k in missing), (missing, unexpected)
        try:
            return int(meta.get("trained_steps", 0))
        except ValueError:
            return 0

    def lr_scale(self, step: int | None = None) -> float:
        """Learning-rate factor at ``step`` (default: the current one): 1 for ``constant``; for
        ``cosine``, 1 until ``lr_decay_start`` then a half cosine down to ``lr_min_ratio`` at ``steps``."""
        c = self.config
        s = self.step if step is None else step
        if c.lr_schedule == "constant" or s <= c.lr_decay_start:
            return 1.0
        t = min(1.0, (s - c.lr_decay_start) / max(1, c.steps - c.lr_decay_start))
        return c.lr_min_ratio + (1.0 - c.lr_min_ratio) * 0.5 * (1.0 + math.cos(math.pi * t))

    def _apply_lr(self) -> None:
        k = self.lr_scale()
        for opt, lr in ((self.opt_g, self.config.lr_g), (self.opt_d, self.config.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr * k

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.config.bf16 and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def prepare(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(lin, mask, target radiance) from a batch of (ldr, radiance)."""
        ldr = batch["ldr"].to(self.device, non_blocking=True)
        target = batch["radiance"].to(self.device, non_blocking=True)
        lin = self.input_crf.inverse(ldr)
        mask = camera.saturation_mask(ldr, per_channel=True)
        return lin, mask, target

    def blend_mask(self, lin: torch.Tensor) -> torch.Tensor:
        """The blend's mask for a batch of linearised photos: per channel, undilated, from the
        photo itself (as at inference; the network sees the dilated one)."""
        return camera.saturation_mask(self.input_crf.forward(lin.clamp(0.0, 1.0)), per_channel=True, dilate=0)

    def gan_active(self) -> bool:
        return self.step >= self.config.gan_start and (self.config.w_adv > 0 or self.perceptual is not None)

    def d_ev(self, n: int) -> torch.Tensor:
        """The EV (stops, (n,)) at which D and VGG see this step's images; a function of (seed, step)."""
        g = torch.Generator().manual_seed(self.config.seed * 1_000_003 + self.step)
        lo, hi = self.config.d_ev
        return (lo + (hi - lo) * torch.rand(n, generator=g)).to(self.device)

    @staticmethod
    def real_radiance(lin: torch.Tensor, mask: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """What D is shown as real: the target inside the mask, the photo outside."""
        return mask * target + (1 - mask) * lin

    def g_step(self, lin: torch.Tensor, mask: torch.Tensor,
               target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        c = self.config
        with self.autocast():
            pred = self.G_train(lin, mask, self.blend_mask(lin))
        pred = pred.float()
        region = mask if c.rec_weighting == "soft" else (mask > 0).to(mask.dtype)
        rec = log_mse(pred, target, region if self.rec_in_mask else None)
        loss = c.w_rec * rec
        gain = torch.log(pred.detach().clamp_min(1e-6)) - torch.log(lin.clamp_min(1e-6))
        metrics = {"g_rec": float(rec.detach()), "boost_in_mask": float(masked_mean(gain, mask))}
        if c.w_ldr > 0 or c.w_tex > 0:
            # what the re-exposure metrics measure: the photo rendered at a darker EV
            ev = self.d_ev(lin.shape[0])
            pred_ldr, target_ldr = tonemap_for_d(pred, ev), tonemap_for_d(target, ev)
            if c.w_ldr > 0:
                ldr_err = ldr_loss((pred_ldr - target_ldr) ** 2, region if self.rec_in_mask else None,
                                   c.ldr_loss, c.ldr_log_eps)
                loss = loss + c.w_ldr * ldr_err
                metrics["g_ldr"] = float(ldr_err.detach())
            if c.w_tex > 0:
                tex = texture_loss(pred_ldr, target_ldr, mask if self.rec_in_mask else torch.ones_like(mask),
                                   c.tex_patch)
                loss = loss + c.w_tex * tex
                metrics["g_tex"] = float(tex.detach())
        self._fake = pred.detach()
        if self.gan_active():
            ev = self.d_ev(lin.shape[0])
            fake_ldr = tonemap_for_d(pred, ev)
            real_ldr = tonemap_for_d(self.real_radiance(lin, mask, target), ev)
            if c.w_adv > 0:
                D = _unwrap(self.D_train)  # no gradient for D here, so no DDP bookkeeping either
                D.requires_grad_(False)
                with self.autocast():
                    adv = hinge_g_loss(D(fake_ldr, mask).float())
                D.requires_grad_(True)
                loss = loss + c.w_adv * adv
                metrics["g_adv"] = float(adv.detach())
            if self.perceptual is not None:
                perc = self.perceptual(fake_ldr, real_ldr)
                loss = loss + c.w_perc * perc
                metrics["g_perc"] = float(perc.detach())
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        return loss.detach(), metrics

    def d_step(self, lin: torch.Tensor, mask: torch.Tensor,
               target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """One hinge step of D on tone-mapped LDR: real (target in the mask) and the detached fake
        of the last :meth:`g_step`, in one forward pass (one DDP reduction)."""
        assert self._fake is not None, "d_step needs a g_step first"
        ev = self.d_ev(lin.shape[0])
        real_ldr = tonemap_for_d(self.real_radiance(lin, mask, target), ev)
        fake_ldr = tonemap_for_d(self._fake, ev)
        with self.autocast():
            scores = self.D_train(torch.cat([real_ldr, fake_ldr]), torch.cat([mask, mask])).float()
        real_scores, fake_scores = scores.chunk(2)
        loss = hinge_d_loss(real_scores, fake_scores)
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        return loss.detach(), {"d_loss": float(loss.detach()), "d_real": float(real_scores.detach().mean()),
                               "d_fake": float(fake_scores.detach().mean())}

    @torch.no_grad()
    def update_ema(self) -> None:
        decay = min(self.config.ema, (1 + self.step) / (10 + self.step))
        for e, p in zip(self.G_ema.parameters(), self.G.parameters()):
            e.lerp_(p.detach(), 1.0 - decay)

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        self.G.train()
        self._apply_lr()
        lin, mask, target = self.prepare(batch)
        _, metrics = self.g_step(lin, mask, target)
        if self.gan_active() and self.config.w_adv > 0:
            _, dm = self.d_step(lin, mask, target)
            metrics.update(dm)
        self.update_ema()
        self.step += 1
        return metrics

    # ---------------------------------------------------------------- checkpoints

    def state(self) -> dict[str, Any]:
        return {"version": CHECKPOINT_VERSION, "arch": self.config.arch, "step": self.step,
                "config": to_dict(self.config), "generator": self.G.state_dict(),
                "discriminator": self.D.state_dict(), "generator_ema": self.G_ema.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict()}

    def save(self, path: Path) -> None:
        """Atomic checkpoint (temp file + fsync + rename); rank 0 only."""
        if _rank() != 0:
            return
        buf = _io.BytesIO()
        torch.save(self.state(), buf)
        _write_checkpoint(Path(path), buf.getvalue())

    def load(self, path: Path) -> None:
        """Restore everything :meth:`save` wrote (checkpoint versions 1 and 2)."""
        try:
            state = torch.load(str(path), map_location=self.device, weights_only=True)
        except Exception as exc:
            raise ConfigError(f"cannot resume from {path}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None
        arch = state.get("arch", "gated_unet")
        if arch != self.config.arch:
            raise ConfigError(f"cannot resume from {path}: it holds a {arch} generator, "
                              f"the config asks for {self.config.arch}")
        try:
            self.G.load_state_dict(state["generator"])
            self.D.load_state_dict(state["discriminator"])
            self.G_ema.load_state_dict(state["generator_ema"])
            self.opt_g.load_state_dict(state["opt_g"])
            self.opt_d.load_state_dict(state["opt_d"])
        except (KeyError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"cannot resume from {path}: it does not match this config "
                              f"({type(exc).__name__}: {str(exc).strip().splitlines()[0]})") from None
        self.step = int(state["step"])
        old = _flatten(state.get("config") or {})
        changed = sorted(k for k, v in _flatten(to_dict(self.config)).items()
                         if k in old and old[k] != v and k not in ("steps", "out", "threads", "workers", "device"))
        if changed:
            log.warning("resuming with a config that differs from the checkpoint's in: %s", ", ".join(changed))

    # ---------------------------------------------------------------- validation

    @torch.no_grad()
    def validate(self, val: list[dict[str, Any]]) -> tuple[dict[str, float], list[list[torch.Tensor]]]:
        """EMA generator on the fixed validation crops: log-MSE inside the mask, and PSNR of the
        EV -2 rendition inside the mask, ours and naive. Rows (input, naive EV -2, prediction
        EV -2, target EV -2), each (1,3,H,W) in [0,1], for a contact sheet."""
        G = self.G_ema
        sums = {"val_log_mse": 0.0, "val_log_mse_naive": 0.0, "val_psnr_ev-2": 0.0, "val_psnr_ev-2_naive": 0.0}
        rows = []
        for item in val:
            ldr = item["ldr"].to(self.device)
            target = item["radiance"].to(self.device)
            lin = self.input_crf.inverse(ldr)
            mask = camera.saturation_mask(ldr, per_channel=True)
            pred = G.radiance(lin, mask, self.blend_mask(lin)).float()
            sums["val_log_mse"] += float(log_mse(pred, target, mask))
            sums["val_log_mse_naive"] += float(log_mse(lin, target, mask))
            region = (mask > 0).float()
            gt2 = camera.render_ldr(target, -2)
            for key, est in (("val_psnr_ev-2", pred), ("val_psnr_ev-2_naive", lin)):
                mse = float(masked_mean((camera.render_ldr(est, -2) - gt2) ** 2, region))
                sums[key] += 10 * math.log10(1.0 / max(mse, 1e-10))
            rows.append([ldr.cpu(), camera.render_ldr(lin, -2, bits=None).cpu(),
                         camera.render_ldr(pred, -2, bits=None).cpu(), gt2.cpu()])
        n = max(len(val), 1)
        return {k: v / n for k, v in sums.items()}, rows

    @torch.no_grad()
    def validate_scenes(self, cases: list[dict[str, Any]]) -> dict[str, float]:
        """The EMA generator on :func:`validation_scenes`, scored by the evaluation's own
        :func:`reexposure.eval.run.evaluate_case` at EV -2 and -3 against ``naive``: mean over cases
        of the clipped-region PSNR gain over naive (dB) and of the texture ratio at EV -2. The gated
        U-Net runs through :class:`reexposure.core.infer.Reconstructor` (on a CPU copy when training on
        a GPU), i.e. exactly as at inference."""
        import copy

        if not cases:
            return {}
        G = self.G_ema if self.device.type == "cpu" else copy.deepcopy(self.G_ema).cpu()
        ours = Ours(G, crf=self.input_crf) if isinstance(G, GatedUNet) else ExpandNet(G)
        methods = {"naive": Naive(), "ours": ours}
        acc: dict[str, list[float]] = {"val_gain_ev-2": [], "val_gain_ev-3": [], "val_texture_ev-2": []}
        for case in cases:
            res, _ = evaluate_case(case["radiance"], case["photo"], methods, self.input_crf, evs=(-2.0, -3.0))
            for ev in ("-2", "-3"):
                gain = res["ours"]["ev"][ev]["psnr_clipped"] - res["naive"]["ev"][ev]["psnr_clipped"]
                if math.isfinite(gain):
                    acc[f"val_gain_ev{ev}"].append(gain)
            tex = res["ours"]["ev"]["-2"]["texture_clipped"]
            if math.isfinite(tex):
                acc["val_texture_ev-2"].append(tex)
        return {k: float(np.mean(v)) for k, v in acc.items() if v}


#: TensorBoard image tags written at every validation (first 4 validation crops each).
TB_IMAGE_TAGS = ("ev-2/input", "ev-2/naive", "ev-2/prediction", "ev-2/target")


def train(config: TrainConfig, resume: bool = False, progress: bool = True,
          on_step: Callable[[Trainer, dict[str, torch.Tensor], dict[str, float]], None] | None = None) -> Path:
    """Run (or resume) training. Returns the run folder (see the module docstring).

    ``on_step(trainer, batch, metrics)`` is called after every step (tests, instrumentation).
    Bad configs or data raise :class:`~reexposure.training.config.ConfigError` /
    :class:`~reexposure.training.data.DataError` (one-line messages) before any step runs."""
    import yaml
    from tqdm import tqdm

    c = config
    check_config(c)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() and c.device != "cpu" else "gloo"
        dist.init_process_group(backend)
    device = _device(c.device)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    torch.set_num_threads(max(1, c.threads))
    rank, world = _rank(), _world()
    out = Path(c.out)
    ckpt = out / "last.pt"
    if not Path(c.data).is_dir():
        raise ConfigError(f"data folder {c.data} does not exist or is not a folder")
    files = [p for p in find_hdr_files(c.data) if p.stem not in set(c.holdout) | set(c.exclude)]
    if not files:
        raise ConfigError(f"no HDR images (.exr, .hdr, .pfm) for training in {c.data}"
                          + (" (all of them are held out)" if find_hdr_files(c.data) else ""))
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        if not resume and ckpt.exists():
            raise ConfigError(f"{ckpt} exists: pass --resume to continue that run or choose another out=")
        if resume and not ckpt.exists():
            raise ConfigError(f"--resume: no checkpoint {ckpt}")
        for stale in stale_temp_files(ckpt):  # left by a run killed while writing
            stale.unlink(missing_ok=True)
        atomic_write_bytes(out / "config.yaml", yaml.safe_dump(to_dict(c), sort_keys=False).encode())
    if distributed:
        dist.barrier()
    photos = find_ldr_files(c.pairs.ldr_data) if c.pairs.ldr_share > 0 else []
    dataset = HDRPairs(files, c.pairs, seed=c.seed, photos=photos)
    if rank == 0 and photos:
        log.info("self-supervised pairs: %d of %d photos in %s usable, %.0f%% of samples",
                 len(dataset.photos), len(photos), c.pairs.ldr_data, 100 * c.pairs.ldr_share)
    trainer = Trainer(c, device)
    if resume:
        trainer.load(ckpt)
        if rank == 0:
            _truncate_log(out / "log.jsonl", trainer.step)
            log.info("resuming %s at step %d", out, trainer.step)
    val = validation_set(c) if rank == 0 else []
    val_cases = validation_scenes(c) if rank == 0 else []
    writer = None
    if rank == 0:
        try:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(out / "tb"), purge_step=trainer.step if resume else None)
        except Exception as exc:  # tensorboard is optional
            log.warning("no TensorBoard logs (%s)", exc)
            writer = None
    loader = torch.utils.data.DataLoader(
        dataset, batch_sampler=StepBatches(trainer.step, c.steps, c.batch, rank, world),
        num_workers=c.workers, persistent_workers=c.workers > 0)

    def validate(s: int) -> None:
        vm, rows = trainer.validate(val)
        vm.update(trainer.validate_scenes(val_cases))
        log.info("step %d %s", s, " ".join(f"{k}={v:.4g}" for k, v in vm.items()))
        _append_jsonl(out / "log.jsonl", {"step": s, **vm})
        sheet = contact_sheet(rows[:8], ["input", "naive EV-2", "ours EV-2", "truth EV-2"],
                              [v["name"] for v in val[:8]], cell=160)
        buf = _io.BytesIO()
        sheet.save(buf, format="PNG")
        atomic_write_bytes(out / f"sheet_{s:06d}.png", buf.getvalue())
        if writer:
            for k, v in vm.items():
                writer.add_scalar(f"val/{k}", v, s)
            for j, tag in enumerate(TB_IMAGE_TAGS):
                writer.add_images(tag, torch.cat([r[j] for r in rows[:4]]).clamp(0, 1), s)
            writer.flush()

    stop = {"flag": False}

    def _on_term(signum, frame):  # noqa: ANN001
        stop["flag"] = True

    old = signal.signal(signal.SIGTERM, _on_term) if _is_main_thread() else None
    bar = tqdm(total=c.steps, initial=trainer.step, disable=not progress or rank != 0, desc="train", dynamic_ncols=True)
    t_load = t_total = 0.0
    n_window = 0
    t0 = time.perf_counter()
    deadline: float | None = None  # max_minutes: set when the first step starts
    try:
        if rank == 0 and val and trainer.step == 0:
            validate(0)  # the untrained model: the "before" of every run
        it = iter(loader)
        while trainer.step < c.steps and not _any_rank(stop["flag"], device, distributed):
            ta = time.perf_counter()
            if c.max_minutes > 0 and deadline is None:
                deadline = ta + 60.0 * c.max_minutes
            batch = next(it)
            tb = time.perf_counter()
            metrics = trainer.train_step(batch)
            tc = time.perf_counter()
            # the last step: `steps` reached, or the time budget spent (agreed by all ranks)
            timed_out = deadline is not None and _any_rank(tc >= deadline, device, distributed)
            last = trainer.step == c.steps or timed_out
            t_load += tb - ta
            t_total += tc - ta
            n_window += 1
            s = trainer.step
            if on_step is not None:
                on_step(trainer, batch, metrics)
            if rank == 0 and (s % c.log_every == 0 or last):
                metrics["loader_share"] = t_load / max(t_total, 1e-9)
                metrics["samples_per_s"] = c.batch * world * n_window / max(t_total, 1e-9)
                metrics["lr_g"] = trainer.opt_g.param_groups[0]["lr"]
                t_load = t_total = 0.0
                n_window = 0
                bar.set_postfix({k: f"{v:.3g}" for k, v in metrics.items()
                                 if k in ("g_rec", "boost_in_mask", "d_loss", "loader_share")})
                if writer:
                    for k, v in metrics.items():
                        writer.add_scalar(f"train/{k}", v, s)
                _append_jsonl(out / "log.jsonl", {"step": s, "time": time.perf_counter() - t0, **metrics})
            if rank == 0 and (s % c.val_every == 0 or last) and val:
                validate(s)
            if s % c.ckpt_every == 0 or last:
                trainer.save(ckpt)
                if rank == 0:
                    _export(trainer, out / "model.safetensors")
            if rank == 0 and c.keep_every and s % c.keep_every == 0:
                _export(trainer, out / f"model_{s:06d}.safetensors")
            bar.update(1)
            if timed_out:
                if rank == 0:
                    log.info("max_minutes=%g reached: stopping at step %d of %d", c.max_minutes, s, c.steps)
                break
    except KeyboardInterrupt:
        stop["flag"] = True
    finally:
        if old is not None:
            signal.signal(signal.SIGTERM, old)
        bar.close()
        if trainer.step > 0:
            trainer.save(ckpt)
            if rank == 0:
                _export(trainer, out / "model.safetensors")
        if writer:
            writer.close()
        if distributed and dist.is_initialized():
            dist.destroy_process_group()
    return out


def _export(trainer: Trainer, path: Path) -> None:
    """The EMA generator as a weights file; ``trained_steps`` counts the steps of ``init_from`` too."""
    info: dict[str, object] = {"trained_steps": trainer.init_steps + trainer.step}
    if trainer.config.init_from:
        info.update(init_from=Path(trainer.config.init_from).name, init_steps=trainer.init_steps,
                    finetune_steps=trainer.step)
    save_weights(trainer.G_ema, path, **info)


def load_train_config(path: str | None, overrides: list[str]) -> TrainConfig:
    """A :class:`TrainConfig` from a YAML file and ``key=value`` overrides."""
    return load(TrainConfig, path, overrides)
