"""Resource limits: the pixel limit in every entry point, giant declared sizes refused before any
allocation (under an address-space limit), and peak memory bounded by tiled inference.

Entry points covered: reexposure.formats.io.read_photo / read_hdr (argument, set_max_pixels,
REEXPOSE_MAX_PIXELS), reexposure.formats.ultrahdr.read_ultrahdr, the CLI (``--max-pixels`` and the
default for expose, hdr, sweep, compare, ultrahdr), ``reexpose eval`` on ordinary photos, and web
uploads (413). The server's own limits are tested against a real server in
tests/test_reliability_server.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reexposure.formats import io as rio
from reexposure.formats.io import ImageError

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "fuzz"))
import seeds as fuzz_seeds  # noqa: E402  (fuzz/seeds.py)

SMALL = 100  # pixel limit below every test image (24x32 = 768 pixels)


@pytest.fixture(autouse=True)
def _default_limit(monkeypatch):
    monkeypatch.delenv(rio.MAX_PIXELS_ENV, raising=False)
    rio.set_max_pixels(None)
    yield
    rio.set_max_pixels(None)


def _photo(h: int = 24, w: int = 32) -> np.ndarray:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 200, (h, w, 3), dtype=np.uint8)
    img[4:12, 4:12] = 255
    return img


def _run_cli(*argv: str) -> tuple[int, str]:
    from reexposure.apps.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(list(argv))
    return code, err.getvalue()


# ------------------------------------------------------------------------------ library entry points


@pytest.mark.parametrize("how", ["argument", "set_max_pixels", "environment"])
def test_read_photo_and_read_hdr_refuse_above_the_limit(tmp_path: Path, monkeypatch, how: str) -> None:
    files = {s.name: s for s in fuzz_seeds.seeds()}
    photos = [files[n] for n in ("jpeg_baseline", "png_rgb16", "tiff_rgb8_raw", "webp_lossy", "gif_animated")]
    if "heic_rgb" in files:
        photos.append(files["heic_rgb"])
    hdrs = [files[n] for n in ("exr_half_zip", "hdr_rle", "pfm_le")]
    kw = {}
    if how == "argument":
        kw = {"max_pixels": SMALL}
    elif how == "set_max_pixels":
        rio.set_max_pixels(SMALL)
    else:
        monkeypatch.setenv(rio.MAX_PIXELS_ENV, str(SMALL))
    for seed in photos + hdrs:
        p = tmp_path / f"{seed.name}{seed.ext}"
        p.write_bytes(seed.data)
        reader = rio.read_photo if seed.target == "photo" else rio.read_hdr
        with pytest.raises(ImageError, match="too large"):
            reader(p, **kw)
        reader(p, max_pixels=10_000)  # and the same file reads under a limit it fits


def test_read_ultrahdr_applies_the_pixel_limit() -> None:
    from reexposure.formats.ultrahdr import read_ultrahdr

    seed = next(s for s in fuzz_seeds.seeds() if s.name == "ultrahdr_rgb_map")
    read_ultrahdr(seed.data)  # 24x32: fine under the default limit
    rio.set_max_pixels(SMALL)
    with pytest.raises(ImageError, match="too large"):
        read_ultrahdr(seed.data)


def test_default_limit_refuses_giant_declared_sizes_quickly(tmp_path: Path) -> None:
    """In-process, default limit: every format's giant header (100000x100000 declared) is refused
    at once, before its pixels are decoded."""
    from reexposure.formats.ultrahdr import read_ultrahdr

    assert rio.get_max_pixels() == rio.DEFAULT_MAX_PIXELS
    for name, (target, ext, data) in fuzz_seeds.giant_headers().items():
        t0 = time.perf_counter()
        with pytest.raises(ImageError) as info:
            if target == "ultrahdr":
                read_ultrahdr(data)
            else:
                p = tmp_path / f"giant{ext}"
                p.write_bytes(data)
                (rio.read_photo if target == "photo" else rio.read_hdr)(p)
        assert "\n" not in str(info.value)
        assert time.perf_counter() - t0 < 5, name


_GIANT_SCRIPT = textwrap.dedent("""
    import json, os, resource, sys, tempfile, time, warnings
    sys.path.insert(0, sys.argv[1])
    import seeds
    from reexposure.formats import io as rio
    from reexposure.formats.ultrahdr import read_ultrahdr

    cases = {f"{k}@100000": v for k, v in seeds.giant_headers(100_000, 100_000).items()}
    # within the default limit (195 MP), 2.7 kB: the decoder must fail cleanly when memory runs out
    cases["jpeg@15000x13000"] = seeds.giant_headers(15_000, 13_000)["jpeg"]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    vm = int(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmSize")))
    limit = int(sys.argv[2]) << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    out = {"rss_before_mb": before / 1024, "vmsize_mb": vm / 1024, "cases": {}}
    d = tempfile.mkdtemp()
    warnings.simplefilter("ignore")
    for name, (target, ext, data) in cases.items():
        p = os.path.join(d, "g" + ext)
        open(p, "wb").write(data)
        t0 = time.perf_counter()
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            if target == "photo":
                rio.read_photo(p); r = ["result", ""]
            elif target == "hdr":
                rio.read_hdr(p); r = ["result", ""]
            else:
                read_ultrahdr(data); r = ["result", ""]
        except rio.ImageError as e:
            r = ["ImageError", str(e)]
        except BaseException as e:
            r = [type(e).__name__, str(e)]
        r += [time.perf_counter() - t0, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024]
        out["cases"][name] = r
        os.unlink(p)
    print(json.dumps(out))
""")


def test_giant_declared_sizes_under_an_address_space_limit(tmp_path: Path) -> None:
    """In a subprocess with RLIMIT_AS = its start-up size + 1 GiB and the default pixel limit
    (200 MP): every giant header ends in ImageError; those above the limit are refused from the
    header (no growth of the peak RSS); a 2.7 kB JPEG that declares 195 MP (under the limit)
    fails cleanly when the allocation is refused."""
    script = tmp_path / "giant.py"
    script.write_text(_GIANT_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop(rio.MAX_PIXELS_ENV, None)
    # measure the interpreter's size after imports, then allow 1 GiB more
    probe = subprocess.run([sys.executable, "-c", "import reexposure.formats.io, reexposure.formats.ultrahdr;"
                            "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmSize')))"],
                           capture_output=True, text=True, env=env, timeout=120)
    vm_mb = int(probe.stdout.split()[-1]) // 1024
    res = subprocess.run([sys.executable, str(script), str(REPO / "fuzz"), str(vm_mb + 1024)],
                         capture_output=True, text=True, env=env, timeout=180)
    assert res.returncode == 0, res.stderr[-2000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    header_checked = {"png", "jpeg", "tiff", "gif", "bmp", "hdr", "pfm", "exr", "ultrahdr"}
    for name, (kind, msg, seconds, rss_growth_mb) in out["cases"].items():
        fmt = name.split("@")[0]
        assert kind == "ImageError", (name, kind, msg)
        assert "\n" not in msg and len(msg) < 400, (name, msg)
        assert seconds < 10, (name, seconds)
        if name.endswith("@100000"):
            assert rss_growth_mb < 100, (name, rss_growth_mb)
            if fmt in header_checked:
                assert "too large" in msg, (name, msg)


# ------------------------------------------------------------------------------ the CLI


@pytest.mark.parametrize("command", ["expose", "hdr", "sweep", "compare", "ultrahdr"])
def test_cli_max_pixels_in_every_photo_command(tmp_path: Path, tiny_weights: Path, command: str) -> None:
    src = tmp_path / "photo.png"
    Image.fromarray(_photo()).save(src)
    out = tmp_path / "out"
    extra = {"expose": ["--ev", "-1"], "hdr": [], "sweep": ["--seconds", "0.5", "--fps", "4", "--format", "gif"],
             "compare": [], "ultrahdr": []}[command]
    argv = [command, str(src), *extra, "-o", f"{out}/", "--model", str(tiny_weights), "-q"]
    code, err = _run_cli(*argv, "--max-pixels", str(SMALL))
    assert code == 2 and "too large" in err and err.count("\n") == 1, err
    assert not out.exists() or not any(out.iterdir())
    code, err = _run_cli(*argv, "--max-pixels", "10000")
    assert code == 0, err
    assert len(list(out.iterdir())) >= 1


def test_cli_default_limit_comes_from_the_environment(tmp_path: Path, tiny_weights: Path, monkeypatch) -> None:
    src = tmp_path / "photo.jpg"
    Image.fromarray(_photo()).save(src)
    monkeypatch.setenv(rio.MAX_PIXELS_ENV, str(SMALL))
    code, err = _run_cli(str(src), "--ev", "-1", "-o", f"{tmp_path}/out/", "--model", str(tiny_weights), "-q")
    assert code == 2 and "too large" in err, err
    monkeypatch.delenv(rio.MAX_PIXELS_ENV)
    code, err = _run_cli(str(src), "--ev", "-1", "-o", f"{tmp_path}/out/", "--model", str(tiny_weights), "-q")
    assert code == 0, err


def test_cli_hdr_on_a_gain_map_jpeg_applies_the_limit(tmp_path: Path, tiny_weights: Path) -> None:
    seed = next(s for s in fuzz_seeds.seeds() if s.name == "ultrahdr_rgb_map")
    src = tmp_path / "gainmap.jpg"
    src.write_bytes(seed.data)
    code, err = _run_cli("hdr", str(src), "-o", f"{tmp_path}/out/", "--max-pixels", str(SMALL), "-q")
    assert code == 2 and "too large" in err, err


def test_eval_on_ordinary_photos_applies_the_limit(tmp_path: Path, monkeypatch) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(_photo(48, 64)).save(photos / "a.png")
    monkeypatch.setenv(rio.MAX_PIXELS_ENV, str(SMALL))
    code, err = _run_cli("eval", "--data", str(photos), "--method", "naive", "--out", str(tmp_path / "ev"),
                         "--no-progress")
    assert code == 2 and "too large" in err, err
    monkeypatch.delenv(rio.MAX_PIXELS_ENV)
    code, err = _run_cli("eval", "--data", str(photos), "--method", "naive", "--out", str(tmp_path / "ev"),
                         "--no-progress")
    assert code == 0, err


def test_web_upload_applies_the_limit(tiny_model) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from reexposure.apps.web.app import WebSettings, create_app

    buf = io.BytesIO()
    Image.fromarray(_photo()).save(buf, format="PNG")
    with TestClient(create_app(WebSettings(model=tiny_model, max_pixels=SMALL))) as client:
        r = client.post("/api/jobs", content=buf.getvalue(), headers={"content-type": "image/png"})
        assert r.status_code == 413 and "megapixels" in r.json()["detail"]
    with TestClient(create_app(WebSettings(model=tiny_model, max_pixels=10_000))) as client:
        r = client.post("/api/jobs", content=buf.getvalue(), headers={"content-type": "image/png"})
        assert r.status_code == 202


# ------------------------------------------------------------------------------ peak memory


def _clipped_photo(h: int, w: int) -> np.ndarray:
    """A photo with a clipped blob in every 256x256 cell, so that every tile is reconstructed."""
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    xx = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    base = 90 + 60 * np.sin(xx * 40) * np.cos(yy * 30)
    img = np.repeat(base[..., None], 3, axis=2)
    for y in range(128, h, 256):
        for x in range(128, w, 256):
            img[y - 40 : y + 40, x - 40 : x + 40] = 255
    return img.clip(0, 255).astype(np.uint8)


def _peak_rss_mb(argv: list[str], cwd: Path) -> tuple[float, float]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "reexposure", *argv], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t0 = time.monotonic()
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert os.waitstatus_to_exitcode(status) == 0, err
    return usage.ru_maxrss / 1024, time.monotonic() - t0


def test_peak_memory_of_the_cli_does_not_grow_with_the_photo(tmp_path: Path, tiny_weights: Path) -> None:
    """``reexpose PHOTO --ev -2`` with a tiny model, in a fresh process per size: the peak RSS for
    a 4.5 MP photo is less than 1.5x that for a 1.1 MP photo (4x the pixels; both above the
    one-pass size, so both tiled). Every 256x256 cell holds clipped pixels, so no tile is skipped."""
    sizes = {"1mp": (1056, 1056), "4mp": (2112, 2112)}
    peaks = {}
    for name, (h, w) in sizes.items():
        Image.fromarray(_clipped_photo(h, w)).save(tmp_path / f"{name}.jpg", quality=90)
        peaks[name], _ = _peak_rss_mb([f"{name}.jpg", "--ev", "-2", "-o", "out/", "--model", str(tiny_weights),
                                       "--threads", "1", "-q"], tmp_path)
        with Image.open(tmp_path / "out" / f"{name}_ev-2.jpg") as im:
            assert im.size == (w, h)
    ratio = peaks["4mp"] / peaks["1mp"]
    print(f"peak RSS: 1.1 MP {peaks['1mp']:.0f} MB, 4.5 MP {peaks['4mp']:.0f} MB, ratio {ratio:.2f}")
    assert ratio < 1.5, peaks
