"""Image I/O: the only module that touches codecs. Converts to and from NCHW float32 tensors.

(Minimal first version: EXR reading for training. Extended by the I/O work.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

__all__ = ["read_hdr", "to_tensor", "from_tensor"]


class ImageError(ValueError):
    """A file that cannot be read or written as an image; the message is one line for the user."""


def to_tensor(hwc: np.ndarray) -> torch.Tensor:
    """HWC numpy (float or uint8) -> (1, C, H, W) float32 tensor (uint8 is divided by 255)."""
    arr = np.asarray(hwc)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        arr = arr.astype(np.float32) / 65535.0
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).permute(2, 0, 1)[None].contiguous()


def from_tensor(t: torch.Tensor) -> np.ndarray:
    """(1, C, H, W) or (C, H, W) tensor -> contiguous HWC float32 numpy array."""
    if t.ndim == 4:
        if t.shape[0] != 1:
            raise ValueError("from_tensor takes a batch of one")
        t = t[0]
    return np.ascontiguousarray(t.detach().cpu().float().permute(1, 2, 0).numpy())


def read_hdr(path: str | Path) -> np.ndarray:
    """Read an OpenEXR file as HWC float32 RGB linear radiance (NaN/Inf/negatives set to 0)."""
    import OpenEXR

    try:
        channels = OpenEXR.File(str(path)).channels()
    except Exception as exc:  # OpenEXR raises a bare Exception for bad files
        raise ImageError(f"{path}: not a readable EXR file ({exc})") from None
    if "RGB" in channels:
        arr = channels["RGB"].pixels
    elif all(k in channels for k in "RGB"):
        arr = np.stack([channels[k].pixels for k in "RGB"], axis=-1)
    elif "Y" in channels:
        arr = np.repeat(channels["Y"].pixels[..., None], 3, axis=-1)
    else:
        raise ImageError(f"{path}: EXR has no RGB or Y channels ({', '.join(channels)})")
    arr = np.asarray(arr, dtype=np.float32)
    return np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0).clip(min=0.0)
