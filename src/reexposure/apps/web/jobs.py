"""Reconstruction jobs of the web app: :class:`Job` (one upload and its radiance map) and
:class:`JobStore` (jobs by id, the bounded queue, time-to-live clean-up; thread safe).
"""

from __future__ import annotations

import gzip
import logging
import math
import re
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ...core.infer import RadianceMap, Reconstructor
from ...core.model import GatedUNet
from .preview import encode_preview, make_preview
from .settings import WebSettings

#: what a job id looks like (random URL-safe token)
_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

__all__ = ["Job", "JobStore", "QueueFull"]

log = logging.getLogger("reexposure.apps.web")


class _Cancelled(Exception):
    pass


@dataclass
class Job:
    """One reconstruction: the uploaded photo, its state and, when done, the radiance map."""

    id: str
    name: str  # display / download file stem, sanitised
    photo: Any  # reexposure.formats.io.Photo
    created: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)
    state: str = "queued"  # queued | running | done | error
    stage: str = "waiting in the queue"
    error: str | None = None
    http_status: int = 200  # for failed jobs: what a download of it answers
    started: float | None = None
    finished: float | None = None
    deadline: float | None = None
    tiles_done: int = 0
    tiles_total: int | None = None
    cancelled: bool = False
    radiance: RadianceMap | None = None
    preview_gz: bytes | None = None
    preview_size: tuple[int, int] | None = None  # (h, w)
    areas_gz: bytes | None = None  # the gzipped area map (preview.encode_area_map), made on first request
    sweep: tuple[tuple[float, str], bytes] | None = None  # ((strength, areas), MP4) of the last sweep rendered
    future: Future | None = None

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")


class QueueFull(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("queue full")
        self.retry_after = retry_after


class JobStore:
    """Jobs by id, the bounded reconstruction queue and the time-to-live clean-up. Thread safe."""

    def __init__(self, settings: WebSettings, model: GatedUNet) -> None:
        self.settings = settings
        self.model = model
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()
        self.slots = 0  # reserved + queued + running reconstructions
        self.durations: list[float] = []
        self.executor = ThreadPoolExecutor(max_workers=max(1, settings.workers), thread_name_prefix="reexpose")

    # -- queue slots
    def retry_after(self) -> int:
        """Seconds a client should wait before trying again: the queue ahead times the mean duration."""
        recent = self.durations[-10:]
        mean = sum(recent) / len(recent) if recent else 10.0
        return int(min(300, max(1, math.ceil(mean * self.slots / max(1, self.settings.workers)))))

    def reserve(self) -> None:
        """Take a place in the queue or raise :class:`QueueFull`."""
        with self.lock:
            if self.slots >= self.settings.queue:
                raise QueueFull(self.retry_after())
            self.slots += 1

    def release(self) -> None:
        with self.lock:
            self.slots = max(0, self.slots - 1)

    # -- jobs
    def add(self, job: Job) -> None:
        with self.lock:
            self.jobs[job.id] = job
            finished = sorted((j for j in self.jobs.values() if not j.active), key=lambda j: j.last_used)
            excess = len(self.jobs) - self.settings.max_jobs
            for old in finished[:max(0, excess)]:
                del self.jobs[old.id]

    def get(self, job_id: str) -> Job | None:
        if not _JOB_ID.match(job_id):
            return None
        with self.lock:
            job = self.jobs.get(job_id)
            if job is not None:
                job.last_used = time.monotonic()
            return job

    def remove(self, job_id: str) -> bool:
        with self.lock:
            job = self.jobs.pop(job_id, None)
        if job is None:
            return False
        job.cancelled = True
        return True

    def purge(self, now: float | None = None) -> int:
        """Drop finished jobs unused for ``ttl`` seconds (and their photos); returns how many."""
        now = time.monotonic() if now is None else now
        with self.lock:
            old = [k for k, j in self.jobs.items() if not j.active and now - j.last_used > self.settings.ttl]
            for k in old:
                del self.jobs[k]
        return len(old)

    def queue_position(self, job: Job) -> int:
        with self.lock:
            queued = sorted((j for j in self.jobs.values() if j.state == "queued"), key=lambda j: j.created)
        return next((i for i, j in enumerate(queued) if j is job), 0) + 1

    def submit(self, job: Job) -> None:
        """Queue a reconstruction (its slot must already be reserved)."""
        job.future = self.executor.submit(self._process, job)

    def _process(self, job: Job) -> None:
        try:
            if job.cancelled:
                return
            job.started = time.monotonic()
            job.deadline = job.started + self.settings.job_timeout
            job.state, job.stage = "running", "reconstructing the highlights"
            rec = Reconstructor(self.model)
            rgb = job.photo.rgb
            job.tiles_total = rec.window_count(rgb.shape[0], rgb.shape[1])

            def on_window(done: int) -> None:  # progress per tile; stop between tiles once cancelled
                if job.cancelled:
                    raise _Cancelled()
                job.tiles_done = done

            rm = rec(rgb, on_window=on_window)
            if job.cancelled:
                return
            job.stage = "preparing the preview"
            prev = make_preview(rm, self.settings.preview_max_side, self.settings.preview_max_pixels)
            payload = gzip.compress(encode_preview(prev), compresslevel=1)
            if job.cancelled:
                return
            job.radiance, job.preview_gz, job.preview_size = rm, payload, prev.shape
            job.finished = time.monotonic()
            job.state, job.stage = "done", "done"
            self.durations.append(job.finished - job.started)
        except _Cancelled:
            pass
        except Exception as exc:  # report to the client; the server keeps running
            log.exception("reconstruction %s failed", job.id)
            if not job.cancelled:
                job.state, job.stage, job.http_status = "error", "failed", 500
                job.error = f"reconstruction failed: {type(exc).__name__}: {exc}"
        finally:
            self.release()

    def expire(self, job: Job) -> None:
        """Called when a running job passes its deadline: fail it and stop it at the next tile.
        Its queue slot is released when its thread actually finishes."""
        if job.active and not job.cancelled:
            job.cancelled = True
            job.state, job.stage, job.http_status = "error", "timed out", 504
            job.error = (f"the reconstruction took longer than {self.settings.job_timeout:g} s and was "
                         "stopped; try a smaller photo")

    def shutdown(self) -> None:
        for job in list(self.jobs.values()):
            job.cancelled = True
        self.executor.shutdown(wait=False, cancel_futures=True)
