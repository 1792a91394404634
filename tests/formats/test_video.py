"""Exposure-sweep videos: frame schedule, geometry, MP4 (H.264) and GIF files, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reexposure.core.infer import Reconstructor
from reexposure.formats import video


@pytest.fixture()
def rmap(tiny_model, highlight_photo):
    return Reconstructor(tiny_model)(highlight_photo)


def test_sweep_evs_endpoints_and_spacing():
    evs = video.sweep_evs(-3.0, 3.0, 7)
    assert evs == pytest.approx([-3, -2, -1, 0, 1, 2, 3])
    assert video.sweep_evs(1.0, -1.0, 2) == [1.0, -1.0]
    with pytest.raises(ValueError):
        video.sweep_evs(0, 1, 1)


@pytest.mark.parametrize("h,w,max_size", [(192, 256, 100), (1001, 777, 0), (3000, 4000, 1280), (7, 9, 4)])
def test_video_geometry_even_and_fits(h, w, max_size):
    k, vh, vw = video.video_geometry(h, w, max_size)
    assert vh % 2 == 0 and vw % 2 == 0
    assert vh <= h // k and vw <= w // k and h // k - vh <= 1 and w // k - vw <= 1
    if max_size:
        assert max(h // k, w // k) <= max_size
        assert k == 1 or max(h // (k - 1), w // (k - 1)) > max_size  # the smallest factor that fits


def test_frames_follow_exposure(rmap):
    """Frames get brighter with EV, and the full-resolution path equals RadianceMap.reexpose."""
    evs = [-2.0, 0.0, 2.0]
    frames = list(video.sweep_frames(rmap, evs, max_size=0))
    assert [f.shape for f in frames] == [(192, 256, 3)] * 3
    np.testing.assert_array_equal(frames[1], rmap.reexpose(0.0))
    means = [float(f.mean()) for f in frames]
    assert means[0] < means[1] < means[2]
    small = list(video.sweep_frames(rmap, evs, max_size=100))
    assert small[0].shape == (64, 84, 3)  # k = 3: 192/3 x 256/3 -> even
    # downscaling averages radiance in linear light: a small frame is close to the big one averaged
    big = frames[1][:192, :252].astype(np.float32).reshape(64, 3, 84, 3, 3).mean(axis=(1, 3))
    assert np.abs(small[1].astype(np.float32) - big).mean() < 6.0


def test_write_mp4_h264(rmap, tmp_path: Path):
    import imageio_ffmpeg

    out = tmp_path / "sweep.mp4"
    n = video.write_sweep(out, rmap, -3, 3, seconds=1.0, fps=10, max_size=128)
    assert n == 10
    head = out.read_bytes()[:12]
    assert head[4:8] == b"ftyp"
    reader = imageio_ffmpeg.read_frames(str(out))
    meta = reader.__next__()
    assert meta["codec"].startswith("h264") and tuple(meta["size"]) == (128, 96)
    frames = [np.frombuffer(f, np.uint8).reshape(96, 128, 3) for f in reader]
    assert len(frames) == 10
    assert frames[0].mean() < frames[-1].mean()  # -3 EV darker than +3 EV
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.mp4"]  # no temp file left


def test_write_gif(rmap, tmp_path: Path):
    from PIL import Image

    out = tmp_path / "sweep.gif"
    n = video.write_sweep(out, rmap, -2, 2, seconds=0.5, fps=12, max_size=64)
    assert n == 6
    with Image.open(out) as im:
        assert im.format == "GIF" and im.n_frames == 6 and im.size == (64, 48)
        assert im.info["duration"] == 80  # 1/12 s rounded to GIF's 10 ms steps
        im.seek(0)
        first = np.asarray(im.convert("RGB"), dtype=np.float32).mean()
        im.seek(5)
        last = np.asarray(im.convert("RGB"), dtype=np.float32).mean()
    assert first < last


def test_refuses_to_clobber_and_cleans_up(rmap, tmp_path: Path):
    from reexposure.formats.io import ImageError

    out = tmp_path / "sweep.mp4"
    out.write_bytes(b"keep me")
    with pytest.raises(ImageError):
        video.write_sweep(out, rmap, -1, 1, seconds=0.2, fps=10, max_size=64)
    assert out.read_bytes() == b"keep me"
    video.write_sweep(out, rmap, -1, 1, seconds=0.2, fps=10, max_size=64, force=True)
    assert out.read_bytes()[4:8] == b"ftyp"
    with pytest.raises(ImageError):
        video.write_sweep(tmp_path / "sweep.avi", rmap, -1, 1, seconds=0.2, fps=10)


def test_encoder_failure_leaves_nothing(rmap, tmp_path: Path, monkeypatch):
    def broken(path, frames, size, fps):
        Path(path).write_bytes(b"half a video")
        raise OSError("disk full")

    monkeypatch.setattr(video, "write_mp4", broken)
    with pytest.raises(OSError):
        video.write_sweep(tmp_path / "sweep.mp4", rmap, -1, 1, seconds=0.2, fps=10, max_size=64)
    assert list(tmp_path.iterdir()) == []
