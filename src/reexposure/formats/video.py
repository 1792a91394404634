"""Exposure-sweep videos: a photo rendered at exposures going from one EV to another.

Frames are rendered one at a time and handed to the encoder, so memory does not grow with the
number of frames: H.264 MP4 (libx264, yuv420p, through the ffmpeg binary that ships with
``imageio-ffmpeg``) or an animated GIF (Pillow; GIF stores palette frames, one byte per pixel).

The video is downscaled by an integer factor ``k`` so that its longest side fits ``max_size``:
the radiance map is averaged over ``k x k`` blocks *in linear light* (physically right, and the
same as photographing with a k-times smaller sensor), once, strip by strip. Each frame then only
costs exposing, clipping and applying the camera curve at video size. ``max_size=0`` renders
every frame at full resolution straight from the :class:`~reexposure.core.infer.RadianceMap`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..core.arrays import to_uint8
from ..core.camera import render_ldr
from ..core.infer import RadianceMap
from .io import ImageError, atomic_output

__all__ = ["sweep_evs", "video_geometry", "sweep_frames", "write_mp4", "write_gif", "write_sweep",
           "default_fps"]

MP4_CRF = 18  # x264 constant rate factor: visually lossless for photos


def default_fps(path: str | Path) -> float:
    """30 frames per second for MP4, 15 for GIF (GIF delays are in 1/100 s and players clamp short ones)."""
    return 15.0 if Path(path).suffix.lower() == ".gif" else 30.0


def sweep_evs(ev_from: float, ev_to: float, frames: int) -> list[float]:
    """``frames`` (>= 2) exposure values evenly spaced from ``ev_from`` to ``ev_to`` inclusive."""
    if frames < 2:
        raise ValueError(f"a sweep needs at least 2 frames, got {frames}")
    return [ev_from + (ev_to - ev_from) * i / (frames - 1) for i in range(frames)]


def video_geometry(height: int, width: int, max_size: int) -> tuple[int, int, int]:
    """``(k, h, w)``: integer downscale factor and the even frame size (yuv420p needs even sides)
    for a ``height x width`` photo whose video fits ``max_size`` (0 = no limit) on its long side."""
    k = 1 if max_size <= 0 else max(height, width) // (max_size + 1) + 1  # smallest k that fits
    h, w = height // k, width // k
    h, w = h - h % 2, w - w % 2
    if h < 2 or w < 2:
        raise ValueError(f"photo too small for a video ({width}x{height})")
    return k, h, w


def _small_radiance(rmap: RadianceMap, k: int, h: int, w: int) -> torch.Tensor:
    """Radiance averaged over k x k blocks, (1,3,h,w) float32, computed strip by strip."""
    parts = []
    rows = k * max(1, 256 // k)
    for _, rad in rmap.strips(rows):
        parts.append(F.avg_pool2d(rad, k) if k > 1 else rad)
    return torch.cat(parts, dim=2)[:, :, :h, :w].contiguous()


def sweep_frames(rmap: RadianceMap, evs: list[float], max_size: int = 1280) -> Iterator[np.ndarray]:
    """Yield the frames (HxWx3 uint8, even sides) of ``rmap`` rendered at each EV in ``evs``."""
    k, h, w = video_geometry(*rmap.shape, max_size)
    if max_size <= 0:
        for ev in evs:
            yield np.ascontiguousarray(rmap.reexpose(ev)[:h, :w])
        return
    small = _small_radiance(rmap, k, h, w)
    for ev in evs:
        yield to_uint8(render_ldr(small, ev, rmap.crf, bits=None))


def write_mp4(path: str | Path, frames: Iterator[np.ndarray], size: tuple[int, int], fps: float) -> int:
    """Encode HxWx3 uint8 frames of ``size`` (width, height), both even, as H.264 MP4 (yuv420p).
    Writes ``path`` directly (use :func:`write_sweep` for an atomic write). Returns the frame count."""
    import imageio_ffmpeg

    writer = imageio_ffmpeg.write_frames(
        str(path), size, fps=fps, codec="libx264", pix_fmt_in="rgb24", pix_fmt_out="yuv420p",
        quality=None, macro_block_size=2, ffmpeg_log_level="error",
        output_params=["-crf", str(MP4_CRF), "-preset", "veryfast", "-movflags", "+faststart", "-f", "mp4"])
    writer.send(None)
    n = 0
    try:
        for frame in frames:
            writer.send(np.ascontiguousarray(frame))
            n += 1
    finally:
        writer.close()
    return n


def write_gif(path: str | Path, frames: Iterator[np.ndarray], fps: float) -> int:
    """Encode frames as a looping animated GIF (adaptive palette per frame). Returns the frame count."""
    from PIL import Image

    pal = [Image.fromarray(f).quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
           for f in frames]
    if not pal:
        raise ValueError("no frames to write")
    duration = max(20, int(round(1000.0 / fps / 10.0)) * 10)  # GIF delays are in 1/100 s
    pal[0].save(str(path), format="GIF", save_all=True, append_images=pal[1:], duration=duration, loop=0,
                disposal=1, optimize=False)
    return len(pal)


def write_sweep(path: str | Path, rmap: RadianceMap, ev_from: float, ev_to: float, seconds: float = 4.0,
                fps: float | None = None, max_size: int = 1280, force: bool = False) -> int:
    """Write an exposure sweep of ``rmap`` from ``ev_from`` to ``ev_to`` EV lasting ``seconds`` to
    ``path`` (.mp4 or .gif), atomically; refuses to overwrite unless ``force``. Returns the frame count."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in (".mp4", ".gif"):
        raise ImageError(f"{path}: unknown video extension {ext or '(none)'!r} (use .mp4 or .gif)")
    fps = fps or default_fps(path)
    n = max(2, int(round(seconds * fps)))
    evs = sweep_evs(ev_from, ev_to, n)
    _, h, w = video_geometry(*rmap.shape, max_size)
    with atomic_output(path, force=force) as tmp:
        frames = sweep_frames(rmap, evs, max_size)
        if ext == ".mp4":
            return write_mp4(tmp, frames, (w, h), fps)
        return write_gif(tmp, frames, fps)
