"""``reexpose serve``: a web app to drop a photo, drag an exposure slider and watch highlights return.

The server reconstructs the radiance of an uploaded photo (or a shipped sample) in a worker
thread, then sends the browser a downscaled *preview* of the radiance map in a compact half-float
encoding (:func:`encode_preview`). The page renders any exposure itself (WebGL2 shader, 2D-canvas
fallback), so the EV slider never waits for the server. Full-resolution results are rendered on
the server on demand: a re-exposed JPEG (EXIF and ICC of the upload kept), the EXR radiance map
and a sweep MP4. A strength slider (``RadianceMap.strength``, the CLI's ``--strength``) sets how
much of the network's brightness is used, in the page (the preview carries the radiance at strength
0 too) and in every download (``?strength=S``, S in [0, 3], default 1); a picked clipped area can
have its own (``RadianceMap.with_areas``, the CLI's ``--area``: the page reads the area map, the
downloads take ``?areas=X,Y=S;X,Y=S``, points of the photo in pixels).

HTTP API (all under ``/api``; JSON unless noted)::

    GET    /api/config                      limits, accepted types, samples, available downloads
    GET    /api/samples/{name}/thumb.jpg    sample thumbnail (names come from a fixed whitelist)
    POST   /api/samples/{name}              start a reconstruction of a shipped sample -> 202 job
    POST   /api/jobs                        upload (raw image body with an image/* Content-Type,
                                            or multipart/form-data field "file") -> 202 job
    GET    /api/jobs/{id}                   status: queued | running | done | error, progress
    GET    /api/jobs/{id}/preview           radiance preview, binary (see encode_preview)
    GET    /api/jobs/{id}/areas             clipped areas at the preview's size, binary (see encode_area_map)
    GET    /api/jobs/{id}/photo.jpg?ev=E    full-resolution re-exposed JPEG (E in [-4, 4])
    GET    /api/jobs/{id}/radiance.exr      full-resolution radiance map (half float EXR)
    GET    /api/jobs/{id}/sweep.mp4         H.264 video sweeping EV -4..+4
    GET    /api/jobs/{id}/ultrahdr.jpg      Ultra HDR (gain map) JPEG of the photo
                                            (all four take ?strength=S, S in [0, 3], default 1,
                                            and ?areas=X,Y=S;... for single clipped areas)
    DELETE /api/jobs/{id}                   forget a job now

Limits: uploads above ``max_upload_bytes`` get 413, photos above ``max_pixels`` get 413 with a
message, a full reconstruction queue gets 503 with ``Retry-After``, unknown or expired jobs 404,
unsupported content types 415. Jobs (the decoded photo and its radiance) live in memory only and
are dropped ``ttl`` seconds after their last use; the temporary files that the codecs need are
deleted as soon as they are written or read. Nothing a client sends names a path: job ids are
random tokens and sample names are keys of a dictionary built at start-up. No CORS headers are
sent, so other origins cannot read the API from a browser.
"""

from __future__ import annotations

import asyncio
import gzip
import importlib.util
import io as _stdio
import re
import secrets
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from ...core import camera
from ...core.infer import RadianceMap
from ...core.model import GatedUNet
from ...core.strength import MAX_STRENGTH, AreaStrength
from ...core.weights import load_generator
from ...formats import io as rio
from ...formats import ultrahdr, video
from ...formats.extensions import PHOTO_MEDIA_TYPES
from ...formats.video import sweep_evs as ramp
from .jobs import Job, JobStore, QueueFull
from .preview import (
    PREVIEW_MAGIC,
    Preview,
    decode_preview,
    encode_area_map,
    encode_preview,
    make_area_map,
    make_preview,
)
from .settings import WebSettings

__all__ = ["WebSettings", "create_app", "make_preview", "encode_preview", "decode_preview", "Preview",
           "PREVIEW_MAGIC"]


STATIC_DIR = Path(__file__).resolve().parent / "static"
EV_MIN, EV_MAX = -4.0, 4.0

#: upload file extension -> media type (formats.extensions: the one list)
_EXT_TYPES = PHOTO_MEDIA_TYPES
#: declared upload type -> file extension handed to the decoder (the first extension of each type)
ACCEPTED_TYPES: dict[str, str] = {}
for _ext, _type in PHOTO_MEDIA_TYPES.items():
    ACCEPTED_TYPES.setdefault(_type, _ext)
_SAMPLE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")
_SAMPLE_EXTS = (".jpg", ".jpeg", ".png")
MULTIPART_OVERHEAD = 64 * 1024


# --------------------------------------------------------------------------- helpers


def _safe_stem(name: str | None) -> str:
    """A display / download file stem made of [A-Za-z0-9._-] only (never used as a path here)."""
    stem = Path(name or "").stem if name else ""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._-")[:60]
    return stem or "photo"


def _sample_index(folder: Path | None) -> dict[str, Path]:
    """The whitelist of sample photos: file stem -> path, fixed at start-up."""
    if folder is None:
        folder = Path(str(resources.files("reexposure") / "samples"))
    out: dict[str, Path] = {}
    if folder.is_dir():
        for p in sorted(folder.iterdir()):
            if p.is_file() and p.suffix.lower() in _SAMPLE_EXTS and _SAMPLE_NAME.match(p.stem):
                out[p.stem] = p.resolve()
    return out


def _image_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the header only; raises ValueError if no decoder recognises the bytes."""
    from PIL import Image

    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # pragma: no cover
        pass
    try:
        with Image.open(_stdio.BytesIO(data)) as im:
            return im.size
    except Image.DecompressionBombError:
        return (1 << 30, 1 << 30)
    except Exception as exc:
        raise ValueError(f"not a readable image ({type(exc).__name__})") from None


def _decode_photo(data: bytes, name: str, max_pixels: int):
    """Decode upload bytes in memory with :func:`reexposure.formats.io.read_photo` (EXIF orientation
    applied, ICC converted to sRGB; the original profile and EXIF are kept for the downloads)."""
    return rio.read_photo(data, max_pixels=max_pixels, name=name)


#: Most single areas a download may name (``?areas=``).
MAX_AREAS = 256


def parse_areas(text: str) -> tuple[AreaStrength, ...]:
    """``?areas=X,Y=S;X,Y=S`` as :class:`AreaStrength` values (empty text: none); ``ValueError``
    with a one-line message for a malformed one, a strength outside 0-3 or more than
    :data:`MAX_AREAS`."""
    items = [t for t in text.split(";") if t.strip()]
    if len(items) > MAX_AREAS:
        raise ValueError(f"at most {MAX_AREAS} areas, got {len(items)}")
    return tuple(AreaStrength.parse(t) for t in items)


def _at_strength(job: Job, strength: float, areas: tuple[AreaStrength, ...] = ()) -> RadianceMap:
    """The job's radiance map at ``strength`` (:meth:`RadianceMap.with_strength`) with ``areas`` at
    their own (:meth:`RadianceMap.with_areas`: ``ValueError`` for a point far from every clipped
    area)."""
    assert job.radiance is not None
    rm = job.radiance.with_strength(strength)
    return rm.with_areas(areas) if areas else rm


def _area_map_gz(job: Job) -> bytes:
    """The job's gzipped area map at the preview's size (:func:`make_area_map`)."""
    assert job.radiance is not None and job.preview_size is not None
    return gzip.compress(encode_area_map(make_area_map(job.radiance, job.preview_size)), compresslevel=1)


def _render_jpeg(job: Job, rm: RadianceMap, ev: float) -> bytes:
    rgb = rm.reexpose(ev)
    with tempfile.TemporaryDirectory(prefix="reexpose-render-") as tmp:
        path = Path(tmp) / "out.jpg"
        rio.write_photo(path, rgb, like=job.photo, quality=95)
        return path.read_bytes()


def _render_exr(rm: RadianceMap) -> bytes:
    arr = rm.to_array()
    with tempfile.TemporaryDirectory(prefix="reexpose-render-") as tmp:
        path = Path(tmp) / "radiance.exr"
        rio.write_hdr(path, arr, half=True)
        return path.read_bytes()


def sweep_evs(seconds: float, fps: int) -> list[float]:
    """EV of each frame of the sweep video: 0 -> -4 -> +4 -> 0, piecewise linear, ``seconds`` long."""
    n = max(8, int(round(seconds * fps)))
    q = n // 4
    down, up, back = ramp(0.0, EV_MIN, q + 1), ramp(EV_MIN, EV_MAX, 2 * q + 1), ramp(EV_MAX, 0.0, n - 3 * q + 1)
    return down[:-1] + up[:-1] + back


def _render_sweep(rm: RadianceMap, settings: WebSettings) -> bytes:
    """H.264 MP4 of the photo swept over EV (:mod:`reexposure.formats.video`), long side <= sweep_max_side."""
    _, h, w = video.video_geometry(*rm.shape, settings.sweep_max_side)
    evs = sweep_evs(settings.sweep_seconds, settings.sweep_fps)
    with tempfile.TemporaryDirectory(prefix="reexpose-render-") as tmp:
        path = Path(tmp) / "sweep.mp4"
        video.write_mp4(path, video.sweep_frames(rm, evs, settings.sweep_max_side), (w, h), settings.sweep_fps)
        return path.read_bytes()


def _ultrahdr_encoder() -> Callable[..., bytes] | None:
    """``reexposure.formats.ultrahdr.ultrahdr_bytes`` if that module is installed (optional hook)."""
    if importlib.util.find_spec("reexposure.formats.ultrahdr") is None:
        return None

    return getattr(ultrahdr, "ultrahdr_bytes", None)


#: accepted upload type -> how messages name it
_TYPE_NAMES = {"image/jpeg": "a JPEG image", "image/png": "a PNG image", "image/tiff": "a TIFF image",
               "image/webp": "a WebP image", "image/heic": "a HEIC image", "image/heif": "a HEIF image"}


def _type_name(ctype: str) -> str:
    """``image/jpeg`` -> ``a JPEG image`` (for messages)."""
    return _TYPE_NAMES.get(ctype, f"an image of type {ctype}")


def _mb(n: int) -> str:
    return f"{n / 1e6:.3g} MB" if n >= 1e6 else f"{n / 1e3:.3g} kB"


def _mp(n: int) -> str:
    return f"{n / 1e6:.3g} megapixels"


# --------------------------------------------------------------------------- app


def create_app(settings: WebSettings | None = None):
    """Build the FastAPI app. Loads the model now (raises :class:`reexposure.core.weights.ModelError`
    with a one-line message if it is missing)."""
    settings = settings or WebSettings()
    model: Any
    if isinstance(settings.model, GatedUNet):
        model, model_info = settings.model.eval(), {"path": "<in memory>"}
    else:
        model, model_info = load_generator(settings.model)
    store = JobStore(settings, model)
    samples = _sample_index(settings.samples_dir)
    thumbs: dict[str, bytes] = {}
    # full-resolution renders (downloads) run one at a time (CPU and memory) in their own thread
    renders = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reexpose-render")
    watchers: set[asyncio.Task] = set()

    async def janitor() -> None:
        while True:
            await asyncio.sleep(max(0.05, min(30.0, settings.ttl / 4)))
            store.purge()

    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app):  # noqa: ANN001
        task = asyncio.create_task(janitor())
        try:
            yield
        finally:
            task.cancel()
            for t in list(watchers):
                t.cancel()
            store.shutdown()
            renders.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="reexposure", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.store = store
    app.state.settings = settings
    app.state.samples = samples

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # noqa: ANN202
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
            "connect-src 'self'; media-src 'self' blob:; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'")
        if request.url.path.startswith("/static/") or request.url.path == "/":
            response.headers.setdefault("Cache-Control", "no-cache")
        return response

    def error(status: int, message: str, headers: dict[str, str] | None = None) -> HTTPException:
        return HTTPException(status_code=status, detail=message, headers=headers)

    def job_or_404(job_id: str) -> Job:
        store.purge()
        job = store.get(job_id)
        if job is None:
            raise error(404, "unknown or expired job; upload the photo again")
        return job

    def done_job(job_id: str) -> Job:
        job = job_or_404(job_id)
        if job.state == "error":
            raise error(409, job.error or "the reconstruction failed")
        if job.state != "done" or job.radiance is None:
            raise error(409, "the reconstruction is not finished yet")
        return job

    def status(job: Job) -> dict[str, Any]:
        now = time.monotonic()
        rgb = job.photo.rgb
        out: dict[str, Any] = {
            "id": job.id, "name": job.name, "state": job.state, "stage": job.stage, "error": job.error,
            "width": int(rgb.shape[1]), "height": int(rgb.shape[0]),
            "elapsed_s": round((job.finished or now) - (job.started or now), 2),
            "progress": None,
        }
        if job.state == "queued":
            out["queue_position"] = store.queue_position(job)
        if job.state == "running" and job.tiles_total:
            out["progress"] = min(1.0, job.tiles_done / job.tiles_total)
        if job.state == "done":
            out["progress"] = 1.0
            assert job.radiance is not None and job.preview_size is not None
            out["preview"] = {"width": job.preview_size[1], "height": job.preview_size[0],
                              "url": f"/api/jobs/{job.id}/preview", "areas_url": f"/api/jobs/{job.id}/areas"}
            out["clipped_fraction"] = round(job.radiance.clipped_fraction(), 5)
            out["downloads"] = {
                "jpeg": f"/api/jobs/{job.id}/photo.jpg", "exr": f"/api/jobs/{job.id}/radiance.exr",
                "mp4": f"/api/jobs/{job.id}/sweep.mp4"}
            if _ultrahdr_encoder() is not None:
                out["downloads"]["ultrahdr"] = f"/api/jobs/{job.id}/ultrahdr.jpg"
        return out

    async def watch(job: Job) -> None:
        """Fail a job that runs past its deadline (the thread stops at its next tile)."""
        try:
            while job.active and not (job.future and job.future.done()):
                if job.deadline is not None and time.monotonic() > job.deadline:
                    store.expire(job)
                    return
                await asyncio.sleep(0.1)
        except asyncio.CancelledError:
            pass

    def start(job: Job) -> JSONResponse:
        store.add(job)
        store.submit(job)
        task = asyncio.create_task(watch(job))
        watchers.add(task)
        task.add_done_callback(watchers.discard)
        return JSONResponse(status_code=202, content=status(job), headers={"Location": f"/api/jobs/{job.id}"})

    def queue_full(exc: QueueFull) -> HTTPException:
        return error(503, f"the server is busy ({settings.queue} reconstructions queued); try again in "
                          f"{exc.retry_after} s", {"Retry-After": str(exc.retry_after)})

    async def read_limited(request: Request, limit: int) -> bytes:
        chunks, n = [], 0
        try:
            async for chunk in request.stream():
                n += len(chunk)
                if n > limit:
                    raise too_big(n)
                chunks.append(chunk)
        except ClientDisconnect:  # the client went away mid-upload: nobody to answer, nothing to log
            raise error(400, "the upload was interrupted") from None
        return b"".join(chunks)

    def too_big(n: int | None = None) -> HTTPException:
        return error(413, f"the file is too large{f' ({_mb(n)} or more)' if n else ''}; this server accepts "
                          f"uploads up to {_mb(settings.max_upload_bytes)}")

    async def new_job(data: bytes, ctype: str, filename: str | None) -> JSONResponse:
        ext = ACCEPTED_TYPES[ctype]
        try:
            w, h = _image_size(data)
        except ValueError as exc:
            raise error(422, f"could not read this file as {_type_name(ctype)}: {exc}") from None
        if w * h > settings.max_pixels:
            raise error(413, f"the photo has {_mp(w * h)}; this server accepts at most "
                             f"{_mp(settings.max_pixels)}")
        try:
            store.reserve()
        except QueueFull as exc:
            raise queue_full(exc) from None
        try:
            photo = await run_in_threadpool(_decode_photo, data, _safe_stem(filename) + ext, settings.max_pixels)
        except Exception as exc:  # ImageError and decoder errors: a one-line message
            store.release()
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise error(422, f"could not read this image: {msg}") from None
        h, w = photo.rgb.shape[:2]
        if h < 2 or w < 2:
            store.release()
            raise error(422, f"the photo is too small ({w}x{h} pixels)")
        return start(Job(id=secrets.token_urlsafe(16), name=_safe_stem(filename), photo=photo))

    # ---- pages
    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # ---- API
    @app.get("/api/config")
    async def config() -> dict[str, Any]:
        crf = camera.DEFAULT_CRF
        return {
            "max_upload_bytes": settings.max_upload_bytes, "max_pixels": settings.max_pixels,
            "queue": settings.queue, "ttl_s": settings.ttl, "job_timeout_s": settings.job_timeout,
            "accepted_types": sorted(ACCEPTED_TYPES), "accepted_extensions": sorted(_EXT_TYPES),
            "ev_min": EV_MIN, "ev_max": EV_MAX, "crf": crf.name, "crf_gamma": float(getattr(crf, "gamma", 2.0)),
            "samples": [{"name": k, "thumb": f"/api/samples/{k}/thumb.jpg"} for k in samples],
            "ultrahdr": _ultrahdr_encoder() is not None,
            "model": {k: v for k, v in model_info.items() if k in ("description", "trained_steps")},
        }

    def sample_path(name: str) -> Path:
        if not _SAMPLE_NAME.match(name):
            raise error(400, "invalid sample name")
        path = samples.get(name)
        if path is None:
            raise error(404, f"no sample called {name!r}")
        return path

    @app.get("/api/samples/{name}/thumb.jpg")
    async def sample_thumb(name: str) -> Response:
        path = sample_path(name)
        if name not in thumbs:
            def make() -> bytes:
                from PIL import Image

                with Image.open(path) as im:
                    im = im.convert("RGB")
                    im.thumbnail((320, 320))
                    buf = _stdio.BytesIO()
                    im.save(buf, "JPEG", quality=85)
                return buf.getvalue()
            thumbs[name] = await run_in_threadpool(make)
        return Response(thumbs[name], media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})

    @app.post("/api/samples/{name}", status_code=202)
    async def sample_job(name: str) -> JSONResponse:
        path = sample_path(name)
        ctype = _EXT_TYPES[path.suffix.lower()]
        return await new_job(await run_in_threadpool(path.read_bytes), ctype, path.name)

    @app.post("/api/jobs", status_code=202)
    async def upload(request: Request) -> JSONResponse:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        limit = settings.max_upload_bytes
        multipart = ctype == "multipart/form-data"
        if not multipart and ctype not in ACCEPTED_TYPES:
            raise error(415, f"unsupported content type {ctype or '(none)'}; send a photo as "
                             f"{', '.join(sorted(ACCEPTED_TYPES))} (or multipart/form-data)")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > limit + (MULTIPART_OVERHEAD if multipart else 0):
                raise too_big(int(declared))
        if store.slots >= settings.queue:  # fail fast before reading the body
            raise queue_full(QueueFull(store.retry_after()))
        if not multipart:
            data = await read_limited(request, limit)
            filename = request.headers.get("x-filename")
        else:
            body = await read_limited(request, limit + MULTIPART_OVERHEAD)

            async def replay() -> dict[str, Any]:
                return {"type": "http.request", "body": body, "more_body": False}

            try:
                async with Request(request.scope, replay).form(max_files=1, max_fields=4) as form:
                    part = form.get("file")
                    if part is None or isinstance(part, str):
                        raise error(422, "the form has no file field called 'file'")
                    filename = part.filename
                    ptype = (part.content_type or "").split(";")[0].strip().lower()
                    if ptype not in ACCEPTED_TYPES:  # browsers send "" or octet-stream for HEIC
                        ptype = _EXT_TYPES.get(Path(filename or "").suffix.lower(), ptype)
                    ctype = ptype
                    data = await part.read()
            except HTTPException:
                raise
            except Exception as exc:
                raise error(400, f"malformed multipart upload ({type(exc).__name__})") from None
            if ctype not in ACCEPTED_TYPES:
                raise error(415, f"unsupported file type {ctype or '(none)'}; send a JPEG, PNG, TIFF, "
                                 "WebP or HEIC photo")
            if len(data) > limit:
                raise too_big(len(data))
        if not data:
            raise error(422, "the upload is empty")
        return await new_job(data, ctype, filename)

    @app.get("/api/jobs/{job_id}")
    async def job_status(job_id: str) -> dict[str, Any]:
        return status(job_or_404(job_id))

    @app.delete("/api/jobs/{job_id}", status_code=204, response_class=Response, response_model=None)
    async def job_delete(job_id: str) -> Response:
        job_or_404(job_id)
        store.remove(job_id)
        return Response(status_code=204)

    @app.get("/api/jobs/{job_id}/preview")
    async def job_preview(job_id: str, request: Request) -> Response:
        job = done_job(job_id)
        assert job.preview_gz is not None
        headers = {"Cache-Control": "private, max-age=3600", "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(job.preview_gz, media_type="application/octet-stream", headers=headers)
        return Response(gzip.decompress(job.preview_gz), media_type="application/octet-stream", headers=headers)

    def attachment(filename: str) -> dict[str, str]:
        return {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}

    async def heavy(fn: Callable[..., Any], *args: Any) -> Any:
        """Run a render in the render thread; answer 504 if it takes longer than the job timeout
        (the render itself cannot be interrupted; later renders wait behind it)."""
        fut = asyncio.get_running_loop().run_in_executor(renders, fn, *args)
        try:
            return await asyncio.wait_for(asyncio.shield(fut), settings.job_timeout)
        except asyncio.TimeoutError:
            raise error(504, f"rendering took longer than {settings.job_timeout:g} s; try again later") from None

    def strength_query() -> Any:
        return Query(1.0, ge=0.0, le=MAX_STRENGTH, description="how much of the network's brightness to use")

    def areas_query() -> Any:
        return Query("", max_length=8192, description="strengths of single clipped areas: X,Y=S;X,Y=S "
                                                      "(a pixel of each area, column and row, and its strength)")

    async def radiance_of(job: Job, strength: float, areas: str) -> RadianceMap:
        """The job's map at ``strength`` with ``areas`` (:func:`parse_areas`); 422 for bad areas."""
        try:
            parsed = parse_areas(areas)
            return await heavy(_at_strength, job, strength, parsed) if parsed else _at_strength(job, strength)
        except ValueError as exc:
            raise error(422, f"areas: {exc}") from None

    def suffix(strength: float, areas: str = "") -> str:
        return ("" if strength == 1.0 else f"_s{strength:g}") + ("_areas" if areas.strip(" ;") else "")

    @app.get("/api/jobs/{job_id}/areas")
    async def job_areas(job_id: str, request: Request) -> Response:
        job = done_job(job_id)
        if job.areas_gz is None:
            job.areas_gz = await heavy(_area_map_gz, job)
        headers = {"Cache-Control": "private, max-age=3600", "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(job.areas_gz, media_type="application/octet-stream", headers=headers)
        return Response(gzip.decompress(job.areas_gz), media_type="application/octet-stream", headers=headers)

    @app.get("/api/jobs/{job_id}/photo.jpg")
    async def job_jpeg(job_id: str, ev: float = Query(0.0, ge=EV_MIN, le=EV_MAX),
                       strength: float = strength_query(), areas: str = areas_query()) -> Response:
        job = done_job(job_id)
        data = await heavy(_render_jpeg, job, await radiance_of(job, strength, areas), ev)
        return Response(data, media_type="image/jpeg",
                        headers=attachment(f"{job.name}_ev{ev:+.1f}{suffix(strength, areas)}.jpg"))

    @app.get("/api/jobs/{job_id}/radiance.exr")
    async def job_exr(job_id: str, strength: float = strength_query(), areas: str = areas_query()) -> Response:
        job = done_job(job_id)
        data = await heavy(_render_exr, await radiance_of(job, strength, areas))
        return Response(data, media_type="image/x-exr",
                        headers=attachment(f"{job.name}_radiance{suffix(strength, areas)}.exr"))

    @app.get("/api/jobs/{job_id}/sweep.mp4")
    async def job_sweep(job_id: str, strength: float = strength_query(), areas: str = areas_query()) -> Response:
        job = done_job(job_id)
        key = (strength, areas)
        if job.sweep is None or job.sweep[0] != key:  # the last one is kept (memory: one per job)
            job.sweep = (key, await heavy(_render_sweep, await radiance_of(job, strength, areas), settings))
        return Response(job.sweep[1], media_type="video/mp4",
                        headers=attachment(f"{job.name}_sweep{suffix(strength, areas)}.mp4"))

    @app.get("/api/jobs/{job_id}/ultrahdr.jpg")
    async def job_ultrahdr(job_id: str, strength: float = strength_query(), areas: str = areas_query()) -> Response:
        job = done_job(job_id)
        encoder = _ultrahdr_encoder()
        if encoder is None:
            raise error(404, "Ultra HDR export is not available in this installation")
        data = await heavy(encoder, job.photo, await radiance_of(job, strength, areas))
        return Response(data, media_type="image/jpeg",
                        headers=attachment(f"{job.name}_ultrahdr{suffix(strength, areas)}.jpg"))

    return app
