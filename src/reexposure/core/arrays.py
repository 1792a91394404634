"""Conversions between photo arrays and tensors, written once.

Conventions: a *photo* is an ``HxWx3`` (or ``HxWxC``) numpy array, uint8 (0..255), uint16
(0..65535) or float in [0, 1]; an *ldr tensor* is ``(1, C, H, W)`` float32 in [0, 1]; 8-bit
quantisation rounds half up (``floor(x * 255 + 0.5)`` after clipping to [0, 1]).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["to_tensor", "from_tensor", "to_uint8", "uint8_to_ldr"]


def to_tensor(hwc: np.ndarray) -> torch.Tensor:
    """HWC numpy array -> (1, C, H, W) float32 tensor; uint8 is divided by 255, uint16 by 65535,
    floats are kept as they are."""
    arr = np.asarray(hwc)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    elif arr.dtype == np.uint16:
        arr = arr.astype(np.float32) / 65535.0
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).permute(2, 0, 1)[None].contiguous()


def from_tensor(t: torch.Tensor) -> np.ndarray:
    """(1, C, H, W) or (C, H, W) tensor -> C-contiguous HWC float32 numpy array."""
    if t.ndim == 4:
        if t.shape[0] != 1:
            raise ValueError("from_tensor takes a batch of one")
        t = t[0]
    return np.ascontiguousarray(t.detach().cpu().float().permute(1, 2, 0).numpy())


def to_uint8(image: np.ndarray | torch.Tensor) -> np.ndarray:
    """A photo or an ldr tensor as an 8-bit array.

    numpy: uint8 unchanged, uint16 rounded from 0..65535 (``/ 257``), floats in [0, 1] clipped and
    rounded to 0..255; same shape. torch: (1,C,H,W) or (C,H,W) in [0, 1] -> HxWxC uint8 (clipped,
    rounded). The result is C-contiguous."""
    if isinstance(image, torch.Tensor):
        t = image.detach().float().cpu()
        if t.ndim == 4:
            if t.shape[0] != 1:
                raise ValueError("to_uint8 takes a batch of one")
            t = t[0]
        return np.ascontiguousarray((t.clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy())
    arr = np.asarray(image)
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if arr.dtype == np.uint16:
        return np.ascontiguousarray((arr.astype(np.float32) / 257.0 + 0.5).astype(np.uint8))
    return np.ascontiguousarray((np.clip(arr.astype(np.float32), 0, 1) * 255.0 + 0.5).astype(np.uint8))


def uint8_to_ldr(photo: np.ndarray) -> torch.Tensor:
    """An HxWx3 uint8 photo -> (1,3,H,W) float32 ldr tensor in [0, 1] (``/ 255``); ValueError for
    anything else."""
    if photo.dtype != np.uint8 or photo.ndim != 3 or photo.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 uint8 photo, got {photo.dtype} {photo.shape}")
    arr = photo if photo.flags.writeable and photo.flags.c_contiguous else np.array(photo, order="C")
    return torch.from_numpy(arr).permute(2, 0, 1)[None].float() / 255.0
