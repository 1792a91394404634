"""Training: the seed's GAN recipe (log-MSE + SN-PatchGAN hinge on tone-mapped LDR + VGG19
conv3_4 pre-ReLU perceptual), resumable exactly, one process or many (torchrun + DDP).

Run: ``reexpose train --config configs/cpu-small.yaml [key=value ...] [--resume]``.

The step shape follows BasicSR's SRGAN step: D frozen during the G step, D trained on the
detached output; both steps return ``(loss, metrics)``. All randomness is a function of
``(seed, step)``, so ``--resume`` continues the same run exactly.
"""

from __future__ import annotations

import contextlib
import io as _io
import logging
import math
import os
import signal
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP

from . import camera
from .config import ConfigError, load, to_dict
from .data import DataConfig, HDRPairs, PairSynthesizer, find_hdr_files, normalize_95
from .io import read_hdr
from .losses import PerceptualLoss, find_vgg_weights, hinge_d_loss, hinge_g_loss, log_mse, masked_mean, tonemap_for_d
from .model import DiscriminatorConfig, GatedUNet, GeneratorConfig, SNPatchGAN, compose_radiance
from .weights import atomic_write_bytes, save_weights

__all__ = ["TrainConfig", "HOLDOUT_SCENES", "Trainer", "train", "validation_set"]

log = logging.getLogger(__name__)

#: Scenes of ../shared/data/hdr never used for training (validation, evaluation, model card).
HOLDOUT_SCENES: tuple[str, ...] = (
    "GoldenGate", "Desk", "MtTamWest", "city", "forest", "streetlamp", "brightday", "nightlights",
    "leadenhall_market_1k", "wide_street_01_1k", "st_peters_square_night_1k", "noon_grass_1k",
    "chinese_garden_1k",
)


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run needs. Saved as ``config.yaml`` next to its checkpoints."""

    data: str = "../shared/data/hdr"
    holdout: tuple[str, ...] = HOLDOUT_SCENES
    out: str = "runs/default"
    steps: int = 6000
    batch: int = 8  # per process
    seed: int = 0
    threads: int = 2  # torch CPU threads (per process)
    workers: int = 0  # DataLoader worker processes
    device: str = "auto"  # auto, cpu, cuda
    bf16: bool = False  # bf16 autocast on CUDA
    lr_g: float = 1e-4  # DeepFill v2 / SN-PatchGAN defaults
    lr_d: float = 1e-4
    betas: tuple[float, float] = (0.5, 0.999)
    w_rec: float = 1.0  # log-domain MSE (inside the saturation mask)
    w_adv: float = 0.01  # hinge generator loss
    w_perc: float = 0.1  # VGG19 conv3_4 pre-ReLU; needs vgg_weights
    vgg_weights: str = ""  # torchvision vgg19 state dict; empty = look in the torch hub cache
    gan_start: int = 2000  # steps of reconstruction-only warm-up
    d_ev: tuple[float, float] = (-3.0, -1.0)  # EV range of the tone-mapping D and VGG see
    ema: float = 0.999
    log_every: int = 25
    ckpt_every: int = 250
    val_every: int = 500
    val_crop: int = 256
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    pairs: DataConfig = field(default_factory=DataConfig)


# --------------------------------------------------------------------------- helpers


def _rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def _world() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _unwrap(m: nn.Module) -> nn.Module:
    return m.module if isinstance(m, DDP) else m


def validation_set(config: TrainConfig, max_scenes: int | None = None) -> list[dict[str, torch.Tensor]]:
    """Fixed validation crops from the held-out scenes: per scene, one ``val_crop`` crop around
    its highlights at a 10% clipped share, square-root CRF, no JPEG. Deterministic."""
    files = [p for p in find_hdr_files(config.data) if p.stem in set(config.holdout)]
    files = files[:max_scenes] if max_scenes else files
    vcfg = replace(config.pairs, crop=config.val_crop, crf_bank=("sqrt",), jpeg_prob=0.0, noise_prob=0.0,
                   clip_share=(0.10, 0.10), clip_share_prob=1.0, highlight_crop_prob=1.0, scales=(1.0, 1.0))
    synth = PairSynthesizer(vcfg)
    out = []
    for i, p in enumerate(files):
        image = normalize_95(read_hdr(p))
        if min(image.shape[:2]) < config.val_crop:
            continue
        ldr, radiance = synth.pair(image, np.random.default_rng([config.seed, 99, i]))
        out.append({"ldr": torch.from_numpy(ldr).permute(2, 0, 1)[None].contiguous(),
                    "radiance": torch.from_numpy(np.ascontiguousarray(radiance)).permute(2, 0, 1)[None].contiguous(),
                    "name": p.stem})
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


# --------------------------------------------------------------------------- trainer


class Trainer:
    """Holds the networks, optimisers and EMA; :meth:`g_step` / :meth:`d_step` return
    ``(loss, metrics)``; :meth:`save` / :meth:`load` write and read resumable checkpoints."""

    def __init__(self, config: TrainConfig, device: torch.device) -> None:
        self.config = c = config
        self.device = device
        torch.manual_seed(c.seed)
        self.G: nn.Module = GatedUNet(c.generator).to(device)
        self.D: nn.Module = SNPatchGAN(c.discriminator).to(device)
        self.G_ema = GatedUNet(c.generator).to(device)
        self.G_ema.load_state_dict(self.G.state_dict())
        self.G_ema.requires_grad_(False).eval()
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=c.lr_g, betas=c.betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=c.lr_d, betas=c.betas)
        self.input_crf = camera.crf_from_name(c.pairs.input_crf)
        self.perceptual: PerceptualLoss | None = None
        if c.w_perc > 0:
            weights = find_vgg_weights(c.vgg_weights or None)
            if weights is None:
                hub = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")) / "hub" / "checkpoints"
                raise ConfigError(
                    "perceptual loss needs VGG19 weights: download torchvision's vgg19-dcbb9e9d.pth and pass "
                    f"vgg_weights=PATH or put it in {hub}; or set w_perc=0")
            self.perceptual = PerceptualLoss(weights).to(device)
        self.step = 0
        if _world() > 1:
            ids = [device.index] if device.type == "cuda" else None
            self.G = DDP(self.G, device_ids=ids)
            self.D = DDP(self.D, device_ids=ids)

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.config.bf16 and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def prepare(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(lin, mask, target radiance) from a batch of (ldr, radiance)."""
        ldr = batch["ldr"].to(self.device, non_blocking=True)
        target = batch["radiance"].to(self.device, non_blocking=True)
        lin = self.input_crf.inverse(ldr)
        mask = camera.saturation_mask(ldr)
        return lin, mask, target

    def gan_active(self) -> bool:
        return self.step >= self.config.gan_start and (self.config.w_adv > 0 or self.perceptual is not None)

    def d_ev(self, n: int) -> torch.Tensor:
        g = torch.Generator().manual_seed(self.config.seed * 1_000_003 + self.step)
        lo, hi = self.config.d_ev
        return (lo + (hi - lo) * torch.rand(n, generator=g)).to(self.device)

    def g_step(self, lin: torch.Tensor, mask: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        c = self.config
        with self.autocast():
            log_boost = self.G(lin, mask)
        log_boost = log_boost.float()
        pred = compose_radiance(lin, mask, log_boost)
        rec = log_mse(pred, target, mask)
        loss = c.w_rec * rec
        metrics = {"g_rec": float(rec.detach()), "boost_in_mask": float(masked_mean(log_boost.detach(), mask))}
        self._fake = pred.detach()
        if self.gan_active():
            ev = self.d_ev(lin.shape[0])
            fake_ldr = tonemap_for_d(pred, ev)
            real_ldr = tonemap_for_d(mask * target + (1 - mask) * lin, ev)
            if c.w_adv > 0:
                self.D.requires_grad_(False)
                with self.autocast():
                    adv = hinge_g_loss(self.D(fake_ldr, mask).float())
                self.D.requires_grad_(True)
                loss = loss + c.w_adv * adv
                metrics["g_adv"] = float(adv)
            if self.perceptual is not None:
                perc = self.perceptual(fake_ldr, real_ldr)
                loss = loss + c.w_perc * perc
                metrics["g_perc"] = float(perc)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        return loss.detach(), metrics

    def d_step(self, lin: torch.Tensor, mask: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        ev = self.d_ev(lin.shape[0])
        real_ldr = tonemap_for_d(mask * target + (1 - mask) * lin, ev)
        fake_ldr = tonemap_for_d(self._fake, ev)
        with self.autocast():
            real_scores = self.D(real_ldr, mask).float()
            fake_scores = self.D(fake_ldr, mask).float()
        loss = hinge_d_loss(real_scores, fake_scores)
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        return loss.detach(), {"d_loss": float(loss), "d_real": float(real_scores.mean()),
                               "d_fake": float(fake_scores.mean())}

    @torch.no_grad()
    def update_ema(self) -> None:
        decay = min(self.config.ema, (1 + self.step) / (10 + self.step))
        for e, p in zip(self.G_ema.parameters(), _unwrap(self.G).parameters()):
            e.lerp_(p.detach(), 1.0 - decay)

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
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
        return {"version": 1, "step": self.step, "config": to_dict(self.config),
                "generator": _unwrap(self.G).state_dict(), "discriminator": _unwrap(self.D).state_dict(),
                "generator_ema": self.G_ema.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict()}

    def save(self, path: Path) -> None:
        """Atomic checkpoint (temp file + fsync + rename); rank 0 only."""
        if _rank() != 0:
            return
        buf = _io.BytesIO()
        torch.save(self.state(), buf)
        atomic_write_bytes(path, buf.getvalue())

    def load(self, path: Path) -> None:
        try:
            state = torch.load(str(path), map_location=self.device, weights_only=True)
        except Exception as exc:
            raise ConfigError(f"cannot resume from {path}: {type(exc).__name__}: {exc}") from None
        _unwrap(self.G).load_state_dict(state["generator"])
        _unwrap(self.D).load_state_dict(state["discriminator"])
        self.G_ema.load_state_dict(state["generator_ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.step = int(state["step"])

    # ---------------------------------------------------------------- validation

    @torch.no_grad()
    def validate(self, val: list[dict[str, torch.Tensor]]) -> tuple[dict[str, float], list[list[torch.Tensor]]]:
        """EMA generator on the fixed validation crops: log-MSE inside the mask, and PSNR of the
        EV -2 rendition inside the (dilated) mask, ours and naive. Rows for a contact sheet."""
        G = self.G_ema
        sums = {"val_log_mse": 0.0, "val_log_mse_naive": 0.0, "val_psnr_ev-2": 0.0, "val_psnr_ev-2_naive": 0.0}
        rows = []
        for item in val:
            ldr = item["ldr"].to(self.device)
            target = item["radiance"].to(self.device)
            lin = self.input_crf.inverse(ldr)
            mask = camera.saturation_mask(ldr)
            pred = compose_radiance(lin, mask, G(lin, mask))
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


def _device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device=cuda but no CUDA GPU is available")
    if name == "cuda":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    if name != "cpu":
        raise ConfigError(f"unknown device {name!r} (auto, cpu, cuda)")
    return torch.device("cpu")


def train(config: TrainConfig, resume: bool = False, progress: bool = True) -> Path:
    """Run (or resume) training. Returns the run folder, which holds ``config.yaml``,
    ``last.pt`` (resumable), ``model.safetensors`` (EMA generator, fp16), ``sheet_*.png`` and
    TensorBoard logs."""
    import yaml
    from tqdm import tqdm

    from .viz import contact_sheet

    c = config
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
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        if not resume and ckpt.exists():
            raise ConfigError(f"{ckpt} exists: pass --resume to continue that run or choose another out=")
        atomic_write_bytes(out / "config.yaml", yaml.safe_dump(to_dict(c), sort_keys=False).encode())
    files = [p for p in find_hdr_files(c.data) if p.stem not in set(c.holdout)]
    if not files:
        raise ConfigError(f"no HDR images (.exr, .hdr, .pfm) for training in {c.data}")
    dataset = HDRPairs(files, c.pairs, seed=c.seed)
    trainer = Trainer(c, device)
    if resume:
        if not ckpt.exists():
            raise ConfigError(f"--resume: no checkpoint {ckpt}")
        trainer.load(ckpt)
    val = validation_set(c) if rank == 0 else []
    writer = None
    if rank == 0:
        try:
            from torch.utils.tensorboard import SummaryWriter
            writer = SummaryWriter(str(out / "tb"))
        except Exception:  # tensorboard is optional
            writer = None
    loader = torch.utils.data.DataLoader(
        dataset, batch_sampler=StepBatches(trainer.step, c.steps, c.batch, rank, world),
        num_workers=c.workers, persistent_workers=c.workers > 0)

    stop = {"flag": False}

    def _on_term(signum, frame):  # noqa: ANN001
        stop["flag"] = True

    old = signal.signal(signal.SIGTERM, _on_term)
    bar = tqdm(total=c.steps, initial=trainer.step, disable=not progress or rank != 0, desc="train", dynamic_ncols=True)
    t_load = t_total = 0.0
    t0 = time.perf_counter()
    try:
        it = iter(loader)
        while trainer.step < c.steps and not stop["flag"]:
            ta = time.perf_counter()
            batch = next(it)
            tb = time.perf_counter()
            G_train = trainer.G.train()
            del G_train
            metrics = trainer.train_step(batch)
            tc = time.perf_counter()
            t_load += tb - ta
            t_total += tc - ta
            s = trainer.step
            if rank == 0 and (s % c.log_every == 0 or s == c.steps):
                metrics["loader_share"] = t_load / max(t_total, 1e-9)
                metrics["samples_per_s"] = c.batch * world * c.log_every / max(t_total, 1e-9) if s % c.log_every == 0 else 0.0
                t_load = t_total = 0.0
                bar.set_postfix({k: f"{v:.3g}" for k, v in metrics.items() if k in ("g_rec", "boost_in_mask", "d_loss", "loader_share")})
                if writer:
                    for k, v in metrics.items():
                        writer.add_scalar(f"train/{k}", v, s)
                    writer.add_scalar("train/lr_g", trainer.opt_g.param_groups[0]["lr"], s)
                with open(out / "log.jsonl", "a") as f:
                    import json
                    f.write(json.dumps({"step": s, "time": time.perf_counter() - t0, **metrics}) + "\n")
            if rank == 0 and (s % c.val_every == 0 or s == c.steps) and val:
                vm, rows = trainer.validate(val)
                log.info("step %d %s", s, " ".join(f"{k}={v:.4g}" for k, v in vm.items()))
                with open(out / "log.jsonl", "a") as f:
                    import json
                    f.write(json.dumps({"step": s, **vm}) + "\n")
                sheet = contact_sheet(rows[:8], ["input", "naive EV-2", "ours EV-2", "truth EV-2"],
                                      [v["name"] for v in val[:8]], cell=160)
                buf = _io.BytesIO()
                sheet.save(buf, format="PNG")
                atomic_write_bytes(out / f"sheet_{s:06d}.png", buf.getvalue())
                if writer:
                    for k, v in vm.items():
                        writer.add_scalar(f"val/{k}", v, s)
                    writer.add_image("val/ev-2", np.asarray(sheet), s, dataformats="HWC")
            if s % c.ckpt_every == 0 or s == c.steps:
                trainer.save(ckpt)
                if rank == 0:
                    save_weights(trainer.G_ema, out / "model.safetensors", trained_steps=s)
            bar.update(1)
    except KeyboardInterrupt:
        stop["flag"] = True
    finally:
        signal.signal(signal.SIGTERM, old)
        bar.close()
        if trainer.step > 0:
            trainer.save(ckpt)
            if rank == 0:
                save_weights(trainer.G_ema, out / "model.safetensors", trained_steps=trainer.step)
        if writer:
            writer.close()
        if distributed and dist.is_initialized():
            dist.destroy_process_group()
    return out


def load_train_config(path: str | None, overrides: list[str]) -> TrainConfig:
    """A :class:`TrainConfig` from a YAML file and ``key=value`` overrides."""
    return load(TrainConfig, path, overrides)
