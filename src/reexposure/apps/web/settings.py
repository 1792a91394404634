"""Settings of the web app (the ``reexpose serve`` options).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...core.model import GatedUNet

__all__ = ["WebSettings"]


@dataclass
class WebSettings:
    """Server configuration (``reexpose serve`` options).

    ``model``: a :class:`GatedUNet`, a weights path, or ``None`` for the shipped default model.
    ``max_upload_bytes``: largest accepted upload body. ``max_pixels``: largest accepted photo
    (width x height). ``queue``: reconstructions waiting or running at once (more get 503).
    ``ttl``: seconds a job is kept after its last use. ``job_timeout``: seconds a reconstruction may
    run. ``samples_dir``: folder of sample photos (default: the ones shipped in the package).
    ``preview_max_side`` / ``preview_max_pixels``: size of the radiance preview sent to the browser.
    ``max_jobs``: jobs kept in memory at once (the least recently used finished job is dropped).
    """

    model: GatedUNet | str | Path | None = None
    max_upload_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 50_000_000
    queue: int = 4
    ttl: float = 1800.0
    job_timeout: float = 600.0
    workers: int = 1
    samples_dir: Path | None = None
    preview_max_side: int = 2048
    preview_max_pixels: int = 2_100_000
    max_jobs: int = 16
    sweep_seconds: float = 4.0
    sweep_fps: int = 25
    sweep_max_side: int = 960
