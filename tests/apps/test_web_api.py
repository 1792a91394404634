"""HTTP API of the web app (``reexpose serve``), through FastAPI's TestClient (httpx).

Covers upload (raw body and multipart), samples, reconstruction status, the radiance preview,
server-side renders and downloads, and every limit: upload size, pixel count, queue (503 +
Retry-After), time-to-live, job timeout, unknown jobs, sample-name whitelist, content types.
"""

from __future__ import annotations

import argparse
import io
import struct
import threading
import time
import zlib
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image, ImageCms  # noqa: E402

from reexposure.apps.web import app as webapp  # noqa: E402
from reexposure.apps.web import preview as webpreview  # noqa: E402
from reexposure.apps.web.app import WebSettings, create_app, decode_preview, encode_preview  # noqa: E402
from reexposure.core.infer import Reconstructor  # noqa: E402
from reexposure.core.model import GatedUNet, GeneratorConfig  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# --------------------------------------------------------------------------- helpers


def png_bytes(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header says width x height but whose pixel data is a few bytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + chunk(b"IEND", b""))


def jpeg_with_metadata(rgb: np.ndarray) -> tuple[bytes, bytes, bytes]:
    """A JPEG carrying an ICC profile and EXIF (camera make); returns (jpeg, icc, exif)."""
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "ReexposeTestCam"  # Make
    exif_bytes = exif.tobytes()
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=95, icc_profile=icc, exif=exif_bytes)
    return buf.getvalue(), icc, exif_bytes


def wait_done(client: TestClient, job_id: str, timeout: float = 60.0) -> dict:
    t0 = time.monotonic()
    while True:
        r = client.get(f"/api/jobs/{job_id}")
        assert r.status_code == 200, r.text
        s = r.json()
        if s["state"] in ("done", "error"):
            return s
        assert time.monotonic() - t0 < timeout, f"job still {s['state']} after {timeout} s"
        time.sleep(0.05)


@contextmanager
def client_for(model: GatedUNet, **settings):
    app = create_app(WebSettings(model=model, **settings))
    with TestClient(app) as client:
        yield client


class GatedModel(GatedUNet):
    """A tiny generator whose forward pass waits for ``gate`` (to hold a job in the worker)."""

    def __init__(self, gate: threading.Event) -> None:
        super().__init__(GeneratorConfig(width=4, depth=3, max_width=16))
        self.gate = gate
        self.entered = threading.Event()

    def forward(self, lin: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        self.entered.set()
        assert self.gate.wait(30), "test gate never opened"
        return super().forward(lin, mask)


@pytest.fixture()
def samples_dir(tmp_path: Path, highlight_photo: np.ndarray) -> Path:
    d = tmp_path / "samples"
    d.mkdir()
    Image.fromarray(highlight_photo).save(d / "discs.jpg", quality=95)
    (d / "notes.txt").write_text("not a sample")
    return d


@pytest.fixture()
def client(tiny_model: GatedUNet, samples_dir: Path):
    with client_for(tiny_model, samples_dir=samples_dir) as c:
        yield c


# --------------------------------------------------------------------------- pages and config


def test_index_static_and_security_headers(client: TestClient) -> None:
    r = client.get("/", headers={"Origin": "http://evil.example"})
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert '/static/app.js' in r.text and 'id="ev"' in r.text
    assert "access-control-allow-origin" not in r.headers  # no CORS by default
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    for asset, kind in [("app.js", "javascript"), ("style.css", "css")]:
        r = client.get(f"/static/{asset}")
        assert r.status_code == 200 and kind in r.headers["content-type"]
    # preflight from another origin is not granted
    r = client.options("/api/jobs", headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in r.headers


def test_config_lists_whitelisted_samples_and_limits(tiny_model: GatedUNet, samples_dir: Path) -> None:
    with client_for(tiny_model, samples_dir=samples_dir, max_upload_bytes=12345, max_pixels=6789) as c:
        cfg = c.get("/api/config").json()
    assert [s["name"] for s in cfg["samples"]] == ["discs"]  # notes.txt is not a sample
    assert cfg["max_upload_bytes"] == 12345 and cfg["max_pixels"] == 6789
    assert cfg["ev_min"] == -4 and cfg["ev_max"] == 4 and cfg["crf_gamma"] == 2.0
    assert "image/jpeg" in cfg["accepted_types"]


def test_default_samples_are_the_shipped_ones(tiny_model: GatedUNet) -> None:
    shipped = sorted(p.stem for p in (Path(webapp.__file__).parents[2] / "samples").glob("*.jpg"))
    with client_for(tiny_model) as c:
        names = [s["name"] for s in c.get("/api/config").json()["samples"]]
        assert names == shipped
        if names:
            r = c.get(f"/api/samples/{names[0]}/thumb.jpg")
            assert r.status_code == 200
            assert max(Image.open(io.BytesIO(r.content)).size) <= 320


# --------------------------------------------------------------------------- reconstruct and preview


def test_upload_reconstruct_and_preview_match_the_library(client: TestClient, tiny_model: GatedUNet,
                                                          highlight_photo: np.ndarray) -> None:
    r = client.post("/api/jobs", content=png_bytes(highlight_photo),
                    headers={"Content-Type": "image/png", "X-Filename": "my photo (1).png"})
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["location"] == f"/api/jobs/{job['id']}"
    assert job["state"] in ("queued", "running", "done") and len(job["id"]) >= 16
    s = wait_done(client, job["id"])
    assert s["state"] == "done", s
    h, w = highlight_photo.shape[:2]
    assert (s["width"], s["height"]) == (w, h) and s["name"] == "my_photo_1"
    assert s["preview"] == {"width": w, "height": h, "url": f"/api/jobs/{job['id']}/preview",
                            "areas_url": f"/api/jobs/{job['id']}/areas"}

    r = client.get(s["preview"]["url"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    assert r.headers.get("content-encoding") == "gzip"  # httpx decompressed it for us
    assert r.content[:4] == b"RXP2" and struct.unpack_from("<II", r.content, 4) == (w, h)
    prev = decode_preview(r.content)
    lin = (highlight_photo.astype(np.float64) / 255.0) ** 2  # inverse of the sqrt CRF
    np.testing.assert_allclose(prev.naive, lin, rtol=2e-3, atol=1e-6)
    want = Reconstructor(tiny_model)(highlight_photo).to_tensor()[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(prev.ours, want, rtol=4e-3, atol=1e-6)
    clipped = highlight_photo.min(axis=2) == 255
    assert np.abs(prev.ours[clipped] - prev.naive[clipped]).max() > 1e-3  # the model changed highlights
    far = prev.mask == 0
    assert far.any() and np.array_equal(prev.ours[far], prev.naive[far])  # and nothing else
    assert prev.mask[clipped].min() == 1.0
    bare = Reconstructor(tiny_model, strength=0.0)(highlight_photo).to_tensor()[0].permute(1, 2, 0).numpy()
    assert prev.guide is not None
    np.testing.assert_allclose(prev.guide, bare, rtol=4e-3, atol=1e-6)  # the radiance at strength 0


def test_multipart_upload_and_type_from_extension(client: TestClient, highlight_photo: np.ndarray) -> None:
    data = png_bytes(highlight_photo[:64, :96])
    r = client.post("/api/jobs", files={"file": ("small.png", data, "image/png")})
    assert r.status_code == 202, r.text
    assert wait_done(client, r.json()["id"])["state"] == "done"
    # browsers send HEIC & co as application/octet-stream: the extension decides
    r = client.post("/api/jobs", files={"file": ("small.png", data, "application/octet-stream")})
    assert r.status_code == 202, r.text
    wait_done(client, r.json()["id"])
    r = client.post("/api/jobs", files={"other": ("small.png", data, "image/png")})
    assert r.status_code == 422 and "file" in r.json()["detail"]


def test_sample_job(client: TestClient) -> None:
    r = client.post("/api/samples/discs")
    assert r.status_code == 202, r.text
    s = wait_done(client, r.json()["id"])
    assert s["state"] == "done" and s["name"] == "discs" and (s["width"], s["height"]) == (256, 192)
    assert s["clipped_fraction"] > 0.05


def test_preview_of_a_large_photo_is_downscaled_in_linear_light(tiny_model: GatedUNet,
                                                                highlight_photo: np.ndarray) -> None:
    with client_for(tiny_model, preview_max_side=100, preview_max_pixels=10**6) as c:
        r = c.post("/api/jobs", content=png_bytes(highlight_photo), headers={"Content-Type": "image/png"})
        s = wait_done(c, r.json()["id"])
        assert (s["preview"]["width"], s["preview"]["height"]) == (100, 75)
        prev = decode_preview(c.get(s["preview"]["url"]).content)
    assert prev.shape == (75, 100)
    lin = (highlight_photo.astype(np.float64) / 255.0) ** 2
    # area averaging in linear light keeps the mean radiance (gamma-space averaging would not)
    assert abs(prev.naive.mean() - lin.mean()) / lin.mean() < 0.01
    assert abs(prev.naive.mean() - ((highlight_photo / 255.0).mean() ** 2)) > 0.01


def test_make_preview_integer_factor_is_a_box_average(tiny_model: GatedUNet, highlight_photo: np.ndarray) -> None:
    rm = Reconstructor(tiny_model)(highlight_photo)
    prev = webapp.make_preview(rm, max_side=64, max_pixels=10**6)  # 256x192 -> 64x48, k = 4
    full = rm.to_tensor()[0].permute(1, 2, 0).numpy()
    want = full.reshape(48, 4, 64, 4, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(prev.ours, want, rtol=1e-5, atol=1e-7)
    back = decode_preview(encode_preview(prev))
    np.testing.assert_allclose(back.ours, prev.ours, rtol=2e-3, atol=1e-6)
    np.testing.assert_allclose(back.mask, prev.mask, atol=1 / 255)


def test_preview_renders_any_strength_from_ours_and_guide(tiny_model: GatedUNet,
                                                          highlight_photo: np.ndarray) -> None:
    """What the page computes for the strength slider, guide * (ours / guide) ** s, is the library's
    radiance at strength s (the preview at full size: no averaging between them)."""
    rm = Reconstructor(tiny_model)(highlight_photo)
    prev = decode_preview(encode_preview(webapp.make_preview(rm, max_side=256, max_pixels=10**6)))
    assert prev.shape == highlight_photo.shape[:2] and prev.guide is not None
    for s in (0.0, 0.5, 2.0):
        want = rm.with_strength(s).to_tensor()[0].permute(1, 2, 0).numpy()
        got = prev.guide * (prev.ours / np.maximum(prev.guide, 1e-12)) ** s
        np.testing.assert_allclose(got, want, rtol=1e-2, atol=1e-5)
    assert not np.allclose(prev.guide, prev.ours)  # the model's brightness is in ours only


def test_preview_size_limits() -> None:
    assert webpreview.preview_size(100, 200, 2048, 2_100_000) == (100, 200)  # never upscaled
    h, w = webpreview.preview_size(3000, 4000, 2048, 2_100_000)
    assert max(h, w) <= 2048 and h * w <= 2_100_000 and abs(w / h - 4 / 3) < 0.01
    h, w = webpreview.preview_size(1000, 8000, 2048, 2_100_000)
    assert w == 2048 and h == 256


# --------------------------------------------------------------------------- renders and downloads


@pytest.fixture()
def done_job(client: TestClient, highlight_photo: np.ndarray):
    jpeg, icc, exif = jpeg_with_metadata(highlight_photo)
    r = client.post("/api/jobs", content=jpeg, headers={"Content-Type": "image/jpeg", "X-Filename": "beach.jpg"})
    assert r.status_code == 202, r.text
    s = wait_done(client, r.json()["id"])
    assert s["state"] == "done"
    return s, jpeg, icc


def test_render_jpeg_at_ev_keeps_exif_and_icc(client: TestClient, done_job, tiny_model: GatedUNet) -> None:
    s, jpeg, icc = done_job
    r = client.get(f"/api/jobs/{s['id']}/photo.jpg", params={"ev": -2})
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.headers["content-disposition"] == 'attachment; filename="beach_ev-2.0.jpg"'
    im = Image.open(io.BytesIO(r.content))
    assert im.format == "JPEG" and im.size == (s["width"], s["height"])
    assert im.info.get("icc_profile") == icc
    assert im.getexif().get(0x010F) == "ReexposeTestCam"
    got = np.asarray(im.convert("RGB")).astype(np.float64)
    photo = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
    want = Reconstructor(tiny_model)(photo).reexpose(-2.0).astype(np.float64)
    assert np.abs(got - want).mean() < 2.5  # only JPEG coding error (a noisy photo)
    r0 = client.get(f"/api/jobs/{s['id']}/photo.jpg", params={"ev": 0})
    base = np.asarray(Image.open(io.BytesIO(r0.content)).convert("RGB")).astype(np.float64)
    assert got.mean() < base.mean() - 20  # darker at -2 EV
    assert np.abs(base - photo).mean() < 2.5  # EV 0 gives the photo back


def test_ev_outside_the_slider_range_is_rejected(client: TestClient, done_job) -> None:
    s, _, _ = done_job
    for ev in ("4.5", "-9", "nan", "abc"):
        r = client.get(f"/api/jobs/{s['id']}/photo.jpg", params={"ev": ev})
        assert r.status_code == 422, (ev, r.status_code)


def test_exr_download_is_the_full_resolution_radiance(client: TestClient, done_job, tiny_model: GatedUNet,
                                                      tmp_path: Path) -> None:
    from reexposure.formats.io import read_hdr

    s, jpeg, _ = done_job
    r = client.get(f"/api/jobs/{s['id']}/radiance.exr")
    assert r.status_code == 200 and r.content[:4] == b"\x76\x2f\x31\x01"  # OpenEXR magic
    assert r.headers["content-disposition"] == 'attachment; filename="beach_radiance.exr"'
    path = tmp_path / "r.exr"
    path.write_bytes(r.content)
    got = read_hdr(path)
    photo = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
    want = Reconstructor(tiny_model)(photo).to_tensor()[0].permute(1, 2, 0).numpy()
    assert got.shape == want.shape == (s["height"], s["width"], 3)
    np.testing.assert_allclose(got, want, rtol=2e-3, atol=1e-6)


def test_downloads_take_a_strength(client: TestClient, done_job, tiny_model: GatedUNet, tmp_path: Path) -> None:
    """?strength=S renders the downloads at RadianceMap.strength S (the page's strength slider);
    the default 1 is the model's answer, 0 keeps only what the photo implies, out of range is 422."""
    from reexposure.formats.io import read_hdr

    s, jpeg, _ = done_job
    photo = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
    got = {}
    for strength in (0.0, 2.0):
        r = client.get(f"/api/jobs/{s['id']}/radiance.exr", params={"strength": strength})
        assert r.status_code == 200
        assert r.headers["content-disposition"] == f'attachment; filename="beach_radiance_s{strength:g}.exr"'
        (tmp_path / "r.exr").write_bytes(r.content)
        got[strength] = read_hdr(tmp_path / "r.exr")
        want = Reconstructor(tiny_model, strength=strength)(photo).to_tensor()[0].permute(1, 2, 0).numpy()
        np.testing.assert_allclose(got[strength], want, rtol=2e-3, atol=1e-6)
    assert got[2.0].max() > got[0.0].max()
    r = client.get(f"/api/jobs/{s['id']}/photo.jpg", params={"ev": -2, "strength": 0})
    assert r.status_code == 200 and r.headers["content-disposition"] == 'attachment; filename="beach_ev-2.0_s0.jpg"'
    default = client.get(f"/api/jobs/{s['id']}/photo.jpg", params={"ev": -2})
    assert r.content != default.content
    for bad in (-0.1, 3.5, "x"):
        assert client.get(f"/api/jobs/{s['id']}/photo.jpg", params={"strength": bad}).status_code == 422
    assert client.get(f"/api/jobs/{s['id']}/sweep.mp4", params={"strength": 9}).status_code == 422


def test_area_map_names_each_clipped_area_and_downloads_take_their_strengths(
        client: TestClient, done_job, tiny_model: GatedUNet, tmp_path: Path) -> None:
    """/areas gives the clipped areas at the preview's size and a pixel of each; ?areas=X,Y=S with
    such a pixel renders the downloads with that area at strength S (RadianceMap.with_areas) and
    the rest at ?strength; malformed areas, strengths out of range and points far from every clipped
    area are 422."""
    from reexposure.apps.web.preview import decode_area_map
    from reexposure.core.strength import AreaStrength, near_clip_areas
    from reexposure.formats.io import read_hdr

    s, jpeg, _ = done_job
    assert s["preview"]["areas_url"] == f"/api/jobs/{s['id']}/areas"
    r = client.get(s["preview"]["areas_url"])
    assert r.status_code == 200
    amap = decode_area_map(r.content)
    photo = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
    full = near_clip_areas(photo)
    assert amap.labels.shape == (s["preview"]["height"], s["preview"]["width"])
    assert len(amap.points) == full.max() >= 3 and set(np.unique(amap.labels)) <= set(range(len(amap.points) + 1))
    for i, (x, y) in enumerate(amap.points, start=1):
        assert full[y, x] == i  # each point lies in its own area
    # the largest area, calmed to 0, the rest at strength 2
    big = 1 + int(np.argmax(np.bincount(full.ravel())[1:]))
    x, y = amap.points[big - 1]
    r = client.get(f"/api/jobs/{s['id']}/radiance.exr", params={"strength": 2, "areas": f"{x},{y}=0"})
    assert r.status_code == 200
    assert r.headers["content-disposition"] == 'attachment; filename="beach_radiance_s2_areas.exr"'
    (tmp_path / "r.exr").write_bytes(r.content)
    rm = Reconstructor(tiny_model, strength=2.0)(photo)
    want = rm.with_areas([AreaStrength(int(x), int(y), 0.0)]).to_array()
    np.testing.assert_allclose(read_hdr(tmp_path / "r.exr"), want, rtol=2e-3, atol=1e-6)
    assert not np.allclose(want, rm.to_array())
    for bad in ("1x2", f"{x},{y}=3.5", "0,0=1", ";".join(["0,0=1"] * 257)):
        r = client.get(f"/api/jobs/{s['id']}/photo.jpg", params={"areas": bad})
        assert r.status_code == 422 and r.json()["detail"].startswith("areas: "), r.text


def test_sweep_mp4_goes_dark_then_bright(tiny_model: GatedUNet, highlight_photo: np.ndarray) -> None:
    import imageio_ffmpeg

    with client_for(tiny_model, sweep_seconds=1.0, sweep_fps=12) as c:
        r = c.post("/api/jobs", content=png_bytes(highlight_photo), headers={"Content-Type": "image/png"})
        s = wait_done(c, r.json()["id"])
        r = c.get(f"/api/jobs/{s['id']}/sweep.mp4")
        assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
        assert r.content[4:8] == b"ftyp"
        again = c.get(f"/api/jobs/{s['id']}/sweep.mp4")
        assert again.content == r.content  # cached
    evs = webapp.sweep_evs(1.0, 12)
    assert evs[0] == 0 and min(evs) == -4 and max(evs) == 4 and evs[-1] == 0
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
        f.write(r.content)
        f.flush()
        reader = imageio_ffmpeg.read_frames(f.name)
        meta = reader.__next__()
        frames = [np.frombuffer(b, np.uint8).reshape(meta["size"][1], meta["size"][0], 3) for b in reader]
    assert meta["size"] == (256, 192) and len(frames) == len(evs)
    dark, bright = frames[int(np.argmin(evs))], frames[int(np.argmax(evs))]
    assert dark.mean() + 50 < bright.mean()


def test_ultrahdr_download_when_available(client: TestClient, done_job) -> None:
    s, _, _ = done_job
    r = client.get(f"/api/jobs/{s['id']}/ultrahdr.jpg")
    if webapp._ultrahdr_encoder() is None:
        assert r.status_code == 404 and "ultrahdr" not in s["downloads"]
        return
    assert r.status_code == 200 and r.content[:2] == b"\xff\xd8"
    from reexposure.formats.ultrahdr import is_ultrahdr

    assert is_ultrahdr(r.content)


def test_results_before_the_reconstruction_finishes_are_409(tiny_model: GatedUNet,
                                                             highlight_photo: np.ndarray) -> None:
    gate = threading.Event()
    model = GatedModel(gate)
    try:
        with client_for(model) as c:
            r = c.post("/api/jobs", content=png_bytes(highlight_photo), headers={"Content-Type": "image/png"})
            jid = r.json()["id"]
            assert model.entered.wait(10)
            s = c.get(f"/api/jobs/{jid}").json()
            assert s["state"] == "running" and s["progress"] == 0.0
            for url in ("preview", "photo.jpg", "radiance.exr", "sweep.mp4"):
                assert c.get(f"/api/jobs/{jid}/{url}").status_code == 409
            gate.set()
            assert wait_done(c, jid)["state"] == "done"
            assert c.get(f"/api/jobs/{jid}/preview").status_code == 200
    finally:
        gate.set()


# --------------------------------------------------------------------------- limits


def test_oversize_upload_is_413(tiny_model: GatedUNet, highlight_photo: np.ndarray) -> None:
    data = png_bytes(highlight_photo)
    with client_for(tiny_model, max_upload_bytes=len(data) - 1) as c:
        r = c.post("/api/jobs", content=data, headers={"Content-Type": "image/png"})
        assert r.status_code == 413
        assert "too large" in r.json()["detail"] and "kB" in r.json()["detail"]

        def chunks():  # no Content-Length: the streamed body is counted
            for i in range(0, len(data), 4096):
                yield data[i:i + 4096]

        r = c.post("/api/jobs", content=chunks(), headers={"Content-Type": "image/png"})
        assert r.status_code == 413
        r = c.post("/api/jobs", files={"file": ("a.png", data, "image/png")})
        assert r.status_code == 413
        assert c.get("/api/config").json()["max_upload_bytes"] == len(data) - 1
    with client_for(tiny_model, max_upload_bytes=len(data)) as c:
        assert c.post("/api/jobs", content=data, headers={"Content-Type": "image/png"}).status_code == 202


def test_too_many_pixels_is_413_with_a_message(tiny_model: GatedUNet, highlight_photo: np.ndarray) -> None:
    with client_for(tiny_model, max_pixels=256 * 192 - 1) as c:
        r = c.post("/api/jobs", content=png_bytes(highlight_photo), headers={"Content-Type": "image/png"})
        assert r.status_code == 413
        assert "megapixels" in r.json()["detail"] and "at most" in r.json()["detail"]
        # headers that claim huge images are refused before anything is decoded (the data is tiny)
        for side in (3000, 100_000):  # below / above Pillow's own decompression-bomb limit
            r = c.post("/api/jobs", content=png_header_only(side, side), headers={"Content-Type": "image/png"})
            assert r.status_code == 413 and "megapixels" in r.json()["detail"], r.text
    with client_for(tiny_model, max_pixels=256 * 192) as c:
        r = c.post("/api/jobs", content=png_bytes(highlight_photo), headers={"Content-Type": "image/png"})
        assert r.status_code == 202


def test_full_queue_is_503_with_retry_after_and_the_loop_stays_responsive(highlight_photo: np.ndarray) -> None:
    gate = threading.Event()
    model = GatedModel(gate)
    data = png_bytes(highlight_photo)
    try:
        with client_for(model, queue=1) as c:
            first = c.post("/api/jobs", content=data, headers={"Content-Type": "image/png"})
            assert first.status_code == 202
            assert model.entered.wait(10)  # the worker thread is busy inside the network
            t0 = time.monotonic()
            assert c.get("/api/config").status_code == 200  # the event loop is not blocked
            assert c.get(f"/api/jobs/{first.json()['id']}").json()["state"] == "running"
            assert time.monotonic() - t0 < 5
            sample = c.get("/api/config").json()["samples"][0]["name"]
            for r in (c.post("/api/jobs", content=data, headers={"Content-Type": "image/png"}),
                      c.post("/api/jobs", files={"file": ("a.png", data, "image/png")}),
                      c.post(f"/api/samples/{sample}")):
                assert r.status_code == 503
                assert int(r.headers["retry-after"]) >= 1
                assert "busy" in r.json()["detail"]
            gate.set()
            assert wait_done(c, first.json()["id"])["state"] == "done"
            r = c.post("/api/jobs", content=data, headers={"Content-Type": "image/png"})
            assert r.status_code == 202  # the slot was given back
            wait_done(c, r.json()["id"])
    finally:
        gate.set()


def test_job_timeout_fails_the_job_and_frees_the_slot_when_the_thread_ends(highlight_photo: np.ndarray) -> None:
    gate = threading.Event()
    model = GatedModel(gate)
    data = png_bytes(highlight_photo)
    try:
        with client_for(model, queue=1, job_timeout=0.3) as c:
            jid = c.post("/api/jobs", content=data, headers={"Content-Type": "image/png"}).json()["id"]
            s = wait_done(c, jid, timeout=10)
            assert s["state"] == "error" and "longer than 0.3 s" in s["error"]
            r = c.get(f"/api/jobs/{jid}/photo.jpg")
            assert r.status_code == 409 and "longer than" in r.json()["detail"]
            # the thread is still inside the network: its slot is still taken
            assert c.post("/api/jobs", content=data, headers={"Content-Type": "image/png"}).status_code == 503
            gate.set()
            t0 = time.monotonic()
            while True:
                r = c.post("/api/jobs", content=data, headers={"Content-Type": "image/png"})
                if r.status_code == 202:
                    break
                assert r.status_code == 503 and time.monotonic() - t0 < 10
                time.sleep(0.05)
            assert c.get(f"/api/jobs/{jid}").json()["state"] == "error"  # a late result is discarded
    finally:
        gate.set()


def test_a_render_past_the_timeout_is_504(tiny_model: GatedUNet, highlight_photo: np.ndarray,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    gate = threading.Event()

    def stuck_render(rm) -> bytes:  # noqa: ANN001
        gate.wait(30)
        return b"late"

    monkeypatch.setattr(webapp, "_render_exr", stuck_render)
    try:
        with client_for(tiny_model, job_timeout=1.0) as c:
            jid = c.post("/api/jobs", content=png_bytes(highlight_photo[:32, :32]),
                         headers={"Content-Type": "image/png"}).json()["id"]
            assert wait_done(c, jid)["state"] == "done"
            t0 = time.monotonic()
            r = c.get(f"/api/jobs/{jid}/radiance.exr")
            assert r.status_code == 504 and "took longer than 1 s" in r.json()["detail"]
            assert time.monotonic() - t0 < 10
            assert c.get(f"/api/jobs/{jid}").status_code == 200  # the server still answers
    finally:
        gate.set()


def test_jobs_expire_after_the_ttl(tiny_model: GatedUNet, highlight_photo: np.ndarray) -> None:
    with client_for(tiny_model, ttl=0.4) as c:
        jid = c.post("/api/jobs", content=png_bytes(highlight_photo[:64, :64]),
                     headers={"Content-Type": "image/png"}).json()["id"]
        assert wait_done(c, jid)["state"] == "done"
        store = c.app.state.store
        assert jid in store.jobs
        time.sleep(1.0)
        # the janitor (every ttl/4 s) dropped it, photo and radiance included, without any request
        assert jid not in store.jobs
        assert c.get(f"/api/jobs/{jid}").status_code == 404


def test_unknown_and_deleted_jobs_are_404(client: TestClient, highlight_photo: np.ndarray) -> None:
    for jid in ("A" * 22, "nope", "..", "%2e%2e%2fetc%2fpasswd", "a" * 100):
        for suffix in ("", "/preview", "/photo.jpg", "/radiance.exr", "/sweep.mp4"):
            r = client.get(f"/api/jobs/{jid}{suffix}")
            assert r.status_code == 404, (jid, suffix, r.status_code)
    assert client.delete("/api/jobs/" + "B" * 22).status_code == 404
    jid = client.post("/api/jobs", content=png_bytes(highlight_photo[:32, :32]),
                      headers={"Content-Type": "image/png"}).json()["id"]
    wait_done(client, jid)
    assert client.delete(f"/api/jobs/{jid}").status_code == 204
    assert client.get(f"/api/jobs/{jid}").status_code == 404


def test_sample_names_are_whitelisted(client: TestClient, samples_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.jpg"
    Image.new("RGB", (8, 8)).save(secret)
    (samples_dir / "late.jpg").write_bytes(secret.read_bytes())  # added after start-up: not listed
    for name in ("..", "...", "../secret", "..%2Fsecret", "%2e%2e%2fsecret", "discs.jpg", "discs%00",
                 "..%5c..%5csecret", "late", "notes", "DISCS", "-rf", "a b", "discs%2F..%2Fdiscs"):
        for method, suffix in (("post", ""), ("get", "/thumb.jpg")):
            r = getattr(client, method)(f"/api/samples/{name}{suffix}")
            assert r.status_code in (400, 404, 405), (name, suffix, r.status_code)
    assert client.post("/api/samples/..").status_code in (400, 404)
    r = client.post("/api/samples/a.b")
    assert r.status_code == 400 and "invalid sample name" in r.json()["detail"]
    assert client.post("/api/samples/discs").status_code == 202


def test_wrong_content_types_are_415_and_bad_images_422(client: TestClient, highlight_photo: np.ndarray) -> None:
    data = png_bytes(highlight_photo)
    for ctype in ("text/plain", "application/json", "application/octet-stream", "image/svg+xml", ""):
        r = client.post("/api/jobs", content=data, headers={"Content-Type": ctype})
        assert r.status_code == 415, (ctype, r.status_code)
        assert "unsupported content type" in r.json()["detail"]
    r = client.post("/api/jobs", files={"file": ("notes.txt", b"hello", "text/plain")})
    assert r.status_code == 415 and "unsupported file type" in r.json()["detail"]
    r = client.post("/api/jobs", content=b"this is not a png", headers={"Content-Type": "image/png"})
    assert r.status_code == 422 and "could not read this file as a PNG image" in r.json()["detail"]
    # defect: the message used to read "as a image/jpeg image"
    r = client.post("/api/jobs", content=b"this is not a jpeg", headers={"Content-Type": "image/jpeg"})
    assert r.status_code == 422 and "could not read this file as a JPEG image" in r.json()["detail"]
    r = client.post("/api/jobs", content=b"nor a heic", headers={"Content-Type": "image/heic"})
    assert r.status_code == 422 and "as a HEIC image" in r.json()["detail"]
    r = client.post("/api/jobs", content=data[: len(data) // 3], headers={"Content-Type": "image/png"})
    assert r.status_code == 422 and "\n" not in r.json()["detail"]
    r = client.post("/api/jobs", content=b"", headers={"Content-Type": "image/png"})
    assert r.status_code == 422 and "empty" in r.json()["detail"]
    assert client.app.state.store.slots == 0  # failed uploads give their queue slot back


def test_uploads_are_never_written_to_disk(client: TestClient, highlight_photo: np.ndarray,
                                           monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    before = set(tmp_path.rglob("*"))
    r = client.post("/api/jobs", content=png_bytes(highlight_photo), headers={"Content-Type": "image/png"})
    wait_done(client, r.json()["id"])
    client.get(f"/api/jobs/{r.json()['id']}/photo.jpg")
    assert set(tmp_path.rglob("*")) == before  # render temp files are deleted too


# --------------------------------------------------------------------------- CLI


def test_serve_cli_options(tmp_path: Path) -> None:
    from reexposure.apps.cli import serve as serve_cli

    parser = argparse.ArgumentParser(prog="reexpose")
    serve_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve"])
    assert (args.host, args.port, args.model, args.queue) == ("127.0.0.1", 8000, None, 4)
    assert args.func is serve_cli.serve
    args = parser.parse_args(["serve", "--port", "9000", "--max-upload-mb", "2", "--max-pixels", "24e6",
                              "--queue", "2", "--ttl", "60", "--timeout", "30", "--model", "m.safetensors"])
    st = serve_cli.settings_from_args(args)
    assert st.max_upload_bytes == 2 * 1024 * 1024 and st.max_pixels == 24_000_000
    assert (st.queue, st.ttl, st.job_timeout, st.model) == (2, 60.0, 30.0, "m.safetensors")
    for bad in (["--port", "70000"], ["--queue", "0"], ["--ttl", "-1"], ["--max-pixels", "x"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["serve", *bad])


def test_serve_with_a_missing_model_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from reexposure.apps.cli import main as cli_main

    assert cli_main(["serve", "--model", str(tmp_path / "missing.safetensors"), "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("reexpose: error: ") and "not found" in err and "\n" not in err


def test_serve_is_registered_in_the_main_cli(capsys: pytest.CaptureFixture) -> None:
    cli = pytest.importorskip("reexposure.apps.cli")
    try:
        code = cli.main(["serve", "--help"])
    except SystemExit as exc:
        code = exc.code
    assert code == 0
    out = capsys.readouterr().out
    assert "--max-upload-mb" in out and "--queue" in out and "examples:" in out
