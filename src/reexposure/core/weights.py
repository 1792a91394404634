"""Inference weights: fp16 safetensors files that describe themselves, and the shipped default.

A weights file holds the generator's parameters (fp16) and, in its metadata, the architecture
(``arch``: ``gated_unet`` or ``expandnet``; files without it are ``gated_unet``), its config
(:class:`~reexposure.core.model.GeneratorConfig` or :class:`~reexposure.core.model.ExpandNetConfig`) plus
provenance (``format``, ``trained_steps``, ``description``). Loading never builds a discriminator,
a VGG or an optimiser.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import torch

from .files import atomic_write_bytes
from .model import Generator, arch_of, build_generator

__all__ = ["DEFAULT_MODEL", "default_model_path", "save_weights", "load_generator", "average_generators", "ModelError"]

FORMAT = "reexposure-generator-v1"
DEFAULT_MODEL = "default.safetensors"


class ModelError(ValueError):
    """A weights file that is missing or not a reexposure model (one-line message)."""


def default_model_path() -> Path:
    """Path of the default model shipped inside the package (``reexposure/weights/``)."""
    return Path(str(resources.files("reexposure") / "weights" / DEFAULT_MODEL))


def save_weights(model: Generator, path: str | Path, **info: object) -> None:
    """Export generator ``model`` (any architecture of :data:`reexposure.core.model.ARCHITECTURES`)
    as fp16 safetensors with its architecture and config (atomic write)."""
    from safetensors.torch import save

    tensors = {k: v.detach().to(torch.float16).contiguous().cpu() for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, "arch": arch_of(model), "config": json.dumps(model.config.to_dict())}
    meta.update({k: str(v) for k, v in info.items()})
    atomic_write_bytes(Path(path), save(tensors, metadata=meta))


def load_generator(path: str | Path | None = None) -> tuple[Generator, dict[str, str]]:
    """Load a generator (float32, eval mode) and its metadata. ``None`` loads the shipped default.
    The class is rebuilt from the file's ``arch`` metadata (``GatedUNet`` when absent).

    Raises :class:`ModelError` with a one-line message if the file is missing or not ours; there
    is no silent fallback to an untrained network."""
    from safetensors import safe_open

    p = Path(path) if path is not None else default_model_path()
    if not p.is_file():
        if path is None:
            raise ModelError(f"the default model is missing from the installation ({p}); reinstall "
                             "reexposure or pass --model PATH")
        raise ModelError(f"model file {p} not found")
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != FORMAT:
                raise ModelError(f"{p} is not a reexposure model file (format {meta.get('format')!r})")
            state = {k: f.get_tensor(k).float() for k in f.keys()}
        model = build_generator(meta.get("arch", "gated_unet"), json.loads(meta["config"]))
        model.load_state_dict(state)
    except ModelError:
        raise
    except Exception as exc:  # safetensors raises several types for a corrupt file
        raise ModelError(f"{p} is not a valid reexposure model file ({type(exc).__name__}: {exc})") from None
    model.eval().requires_grad_(False)
    meta = dict(meta)
    meta["path"] = str(p)
    return model, meta


def average_generators(paths: list[str | Path]) -> tuple[Generator, dict[str, str]]:
    """Uniform average of the weights of several generator files of one architecture and config
    (snapshots of a run: a smoother model than any one of them). Returns the model and the *last*
    file's metadata (list snapshots in order: its ``trained_steps`` is the run's) plus ``averaged``
    (the comma-separated paths). Raises :class:`ModelError` if the files disagree on architecture
    or config."""
    if not paths:
        raise ModelError("no weights files to average")
    model, first = load_generator(paths[0])
    meta = first
    total = {k: v.double().clone() for k, v in model.state_dict().items()}
    for p in paths[1:]:
        other, meta = load_generator(p)
        # compared as configs, not as metadata text: a file written before a config field existed
        # (it loads with the field's default) is the same network as one that spells the default out
        if (meta.get("arch", "gated_unet"), other.config.to_dict()) != (first.get("arch", "gated_unet"),
                                                                      model.config.to_dict()):
            raise ModelError(f"{p} is a different network from {paths[0]}: cannot average them")
        for k, v in other.state_dict().items():
            total[k] += v.double()
    model.load_state_dict({k: (v / len(paths)).float() for k, v in total.items()})
    meta = dict(meta)
    if len(paths) > 1:
        meta["averaged"] = ",".join(str(p) for p in paths)
    return model, meta
