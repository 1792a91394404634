"""Bounded fuzzing of every decoder entry point (property tests with hypothesis).

Each example takes a small valid seed file (fuzz/seeds.py: JPEG baseline/progressive/CMYK/gray,
PNG 8/16-bit/palette/APNG, TIFF 8/16-bit/multipage/CMYK, WebP still/animated, HEIC, GIF, EXR,
Radiance .hdr, PFM, Ultra HDR gain-map JPEG; with EXIF orientation, ICC profiles, broken ICC/EXIF
blocks, NaN/Inf/negative HDR values), applies one to four mutations (truncation, bit flips, byte
insertions and deletions, overwrites, lying 16/32-bit integers, duplicated ranges, zeroed tails)
and feeds the result to the decoder. The property: every input ends, within a time bound, either
in a well-formed result or in :class:`reexposure.formats.io.ImageError` with a one-line message; anything
else (another exception type escaping, a hang, a malformed result) fails the test and hypothesis
shrinks it to a minimal file.

Budget: ``REEXPOSE_FUZZ_EXAMPLES`` examples per format (default 100; about 20-40 s for all of
this file on one thread). The pixel limit is lowered to 2 megapixels while fuzzing, so a mutated
header that declares a big image costs little; tests/test_reliability_limits.py checks the real
default limit against giant declared sizes under an address-space limit.

Figures: with ``REEXPOSE_FUZZ_STATS=path.json`` the counts (results, errors, slowest decode)
per format are written there at the end (docs/reliability.md quotes them).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reexposure.formats import io as rio
from reexposure.formats.io import ImageError, Photo
from reexposure.formats.ultrahdr import read_ultrahdr

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "fuzz"))
import seeds as fuzz_seeds  # noqa: E402  (fuzz/seeds.py)

EXAMPLES = int(os.environ.get("REEXPOSE_FUZZ_EXAMPLES", "100"))
#: seconds one decode may take (the inputs are tiny: real decodes take milliseconds; this only
#: catches hangs and runaway work, with room for a loaded CI machine)
DECODE_S = float(os.environ.get("REEXPOSE_FUZZ_DECODE_S", "5"))
FUZZ_PIXELS = 2_000_000
MESSAGE_MAX = 400

SEEDS = fuzz_seeds.seeds()
BY_FORMAT: dict[str, list] = defaultdict(list)
for _s in SEEDS:
    BY_FORMAT[_s.fmt].append(_s)
FORMATS = [f for f in fuzz_seeds.FORMATS if BY_FORMAT.get(f)]

STATS: dict[str, dict[str, float]] = defaultdict(lambda: {"inputs": 0, "results": 0, "errors": 0, "max_s": 0.0})

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=2 * DECODE_S),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


@pytest.fixture(scope="module", autouse=True)
def _fuzz_environment():
    """Lower the process-wide pixel limit for the fuzzing (restored afterwards); write the stats."""
    rio.set_max_pixels(FUZZ_PIXELS)
    try:
        yield
    finally:
        rio.set_max_pixels(None)
        out = os.environ.get("REEXPOSE_FUZZ_STATS")
        if out:
            Path(out).write_text(json.dumps({"examples_per_format": EXAMPLES, "formats": STATS}, indent=2))


_WORK = Path(tempfile.gettempdir())  # replaced by a private folder while this module's tests run


@pytest.fixture(scope="module", autouse=True)
def _work_folder():
    global _WORK
    with tempfile.TemporaryDirectory(prefix="reexpose-fuzz-") as tmp:
        _WORK = Path(tmp)
        yield


def _decode(target: str, path: Path, blob: bytes):
    if target == "photo":
        return rio.read_photo(path)
    if target == "hdr":
        return rio.read_hdr(path)
    return read_ultrahdr(blob)


def _validate(target: str, result) -> None:
    """A result must be well formed: the right shapes, dtypes and value ranges."""
    if target == "photo":
        assert isinstance(result, Photo)
        rgb = result.rgb
        assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype in (np.uint8, np.uint16)
        assert rgb.flags.c_contiguous
        h, w = rgb.shape[:2]
        assert h >= 2 and w >= 2 and h * w <= FUZZ_PIXELS
        if result.alpha is not None:
            assert result.alpha.shape == (h, w) and result.alpha.dtype == rgb.dtype
        assert result.icc is None or isinstance(result.icc, bytes)
        assert result.exif is None or isinstance(result.exif, bytes)
    elif target == "hdr":
        assert result.dtype == np.float32 and result.ndim == 3 and result.shape[2] == 3
        assert result.shape[0] * result.shape[1] <= FUZZ_PIXELS
        assert np.isfinite(result).all() and (result >= 0).all(), "read_hdr must sanitise NaN/Inf/negative"
    else:
        base, hdr, meta = result
        assert base.dtype == np.uint8 and base.ndim == 3 and base.shape[2] == 3
        assert hdr.dtype == np.float32 and hdr.shape == base.shape
        assert base.shape[0] * base.shape[1] <= FUZZ_PIXELS


def check_input(fmt: str, target: str, ext: str, blob: bytes) -> str:
    """Decode ``blob``; returns "result" or "error" and fails on anything else."""
    path = _WORK / f"input{ext}"
    path.write_bytes(blob)
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = _decode(target, path, blob)
    except ImageError as exc:
        outcome = "error"
        msg = str(exc)
        assert msg.strip(), "empty error message"
        assert "\n" not in msg and "\r" not in msg, f"multi-line message: {msg!r}"
        assert len(msg) <= MESSAGE_MAX, f"message too long ({len(msg)} chars)"
        assert "Traceback" not in msg
    else:
        outcome = "result"
        _validate(target, result)
    elapsed = time.perf_counter() - t0
    stats = STATS[fmt]
    stats["inputs"] += 1
    stats["results" if outcome == "result" else "errors"] += 1
    stats["max_s"] = round(max(stats["max_s"], elapsed), 4)
    assert elapsed < DECODE_S, f"{fmt} decode took {elapsed:.2f} s"
    return outcome


MUTATION_OPS = st.lists(
    st.tuples(st.sampled_from(sorted(fuzz_seeds.MUTATIONS)), st.integers(0, 1 << 20), st.integers(0, 1 << 16),
              st.binary(min_size=1, max_size=24)),
    min_size=1, max_size=4,
)


# ------------------------------------------------------------------------------ seeds are valid


@pytest.mark.parametrize("seed", SEEDS, ids=[s.name for s in SEEDS])
def test_seed_decodes(seed) -> None:
    """Every unmutated seed is a readable file (so the fuzzing starts from valid inputs)."""
    assert check_input(seed.fmt, seed.target, seed.ext, seed.data) == "result"


def test_every_format_has_seeds() -> None:
    missing = [f for f in ("jpeg", "png", "tiff", "webp", "heic", "exr", "hdr", "pfm", "ultrahdr") if f not in FORMATS]
    assert not missing, f"no seeds for {missing}"
    animated = {s.name for s in SEEDS if "apng" in s.name or "animated" in s.name}
    assert {"png_apng", "webp_animated", "gif_animated"} <= animated


# ------------------------------------------------------------------------------ mutated seeds


@pytest.mark.parametrize("fmt", FORMATS)
@FUZZ_SETTINGS
@given(data=st.data())
def test_mutated_files_end_in_result_or_one_line_error(fmt: str, data) -> None:
    seed = data.draw(st.sampled_from(BY_FORMAT[fmt]), label="seed")
    ops = data.draw(MUTATION_OPS, label="mutations")
    check_input(fmt, seed.target, seed.ext, fuzz_seeds.mutate(seed.data, ops))


_MAGICS = {
    "photo": [b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xdb", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*",
              b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"RIFF\x00\x00\x00\x00WEBPVP8L", b"GIF89a", b"BM",
              b"\x00\x00\x00\x18ftypheic", b"\x00\x00\x00\x1cftypavif"],
    "hdr": [b"\x76\x2f\x31\x01\x02\x00\x00\x00", b"#?RADIANCE\n", b"#?RGBE\nFORMAT=32-bit_rle_rgbe\n\n-Y 4 +X 9\n",
            b"PF\n", b"Pf\n3 2\n-1\n", b"PF\n2 2\n1.0\n"],
    "ultrahdr": [b"\xff\xd8\xff\xe1", b"\xff\xd8\xff\xe2\x00\x58MPF\x00"],
}


@pytest.mark.parametrize("target", sorted(_MAGICS))
@FUZZ_SETTINGS
@given(data=st.data())
def test_random_bytes_behind_a_valid_signature(target: str, data) -> None:
    """Random bytes that start like a real file (the decoder is chosen, then given garbage)."""
    magic = data.draw(st.sampled_from(_MAGICS[target]), label="magic")
    body = data.draw(st.binary(max_size=600), label="body")
    ext = {"photo": ".jpg", "hdr": ".hdr", "ultrahdr": ".jpg"}[target]
    check_input(f"random-{target}", target, ext, magic + body)


# ------------------------------------------------------------------------------ the CLI


@pytest.mark.parametrize("fmt", ["jpeg", "png", "tiff", "webp"])
@settings(max_examples=max(5, EXAMPLES // 8), deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_cli_on_mutated_photos_exits_cleanly(fmt: str, data, tiny_weights: Path) -> None:
    """``reexpose PHOTO --ev -1`` on a mutated photo: exit 0 with a complete output, or exit 2 with
    exactly one ``reexpose: error:`` line and no traceback; never a partial or temporary file."""
    from reexposure.apps.cli import main

    seed = data.draw(st.sampled_from(BY_FORMAT[fmt]), label="seed")
    blob = fuzz_seeds.mutate(seed.data, data.draw(MUTATION_OPS, label="mutations"))
    with tempfile.TemporaryDirectory(prefix="reexpose-fuzz-cli-") as tmp:
        src = Path(tmp) / f"in{seed.ext}"
        src.write_bytes(blob)
        out = Path(tmp) / "out"
        err = io.StringIO()
        t0 = time.perf_counter()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code = main([str(src), "--ev", "-1", "-o", f"{out}/", "--model", str(tiny_weights),
                         "--max-pixels", str(FUZZ_PIXELS), "-q"])
        assert time.perf_counter() - t0 < 4 * DECODE_S
        lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
        assert "Traceback" not in err.getvalue()
        written = sorted(p.name for p in out.iterdir()) if out.exists() else []
        if code == 0:
            assert written == [f"in_ev-1{'.tif' if seed.ext == '.tif' else seed.ext}"], written
            assert rio.read_photo(out / written[0]).rgb.ndim == 3
        else:
            assert code == 2, (code, lines)
            assert lines and lines[-1].startswith("reexpose: error: "), lines
            errors = [ln for ln in lines if ln.startswith("reexpose: error: ")]
            assert len(errors) == 1, lines
            assert written == [], f"partial output left: {written}"


# ------------------------------------------------------------------------------ found by fuzzing


def test_regression_long_radiance_format_line_gives_a_short_message(tmp_path: Path) -> None:
    """atheris: a Radiance header whose FORMAT= line is 4 kB long was echoed whole in the error."""
    p = tmp_path / "long.hdr"
    p.write_bytes(b"#?RADIANCE\nFORMAT=" + bytes(range(32, 127)) * 40 + b"\n\n-Y 2 +X 2\n" + b"\0" * 16)
    with pytest.raises(ImageError) as info:
        rio.read_hdr(p)
    assert "\n" not in str(info.value) and len(str(info.value)) <= MESSAGE_MAX


def test_regression_exr_with_many_odd_channels_gives_a_short_message(tmp_path: Path) -> None:
    """An EXR without RGB/Y channels listed every channel name it found in the message."""
    names = {f"channel_with_a_rather_long_name_{i:03d}": np.zeros((2, 2), np.float32) for i in range(40)}
    p = tmp_path / "odd.exr"
    p.write_bytes(fuzz_seeds._exr(names, "NONE"))
    with pytest.raises(ImageError, match="no RGB or Y channels") as info:
        rio.read_hdr(p)
    assert len(str(info.value)) <= MESSAGE_MAX


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_regression_exif_that_pillow_cannot_rewrite_still_orients(fmt: str) -> None:
    """atheris: a WebP whose EXIF holds SamplesPerPixel (0x0115) as ASCII next to Orientation 3
    made ImageOps.exif_transpose raise struct.error out of read_photo."""
    from PIL import Image

    tiff = (b"MM\x00*\x00\x00\x00\x08\x00\x02" + b"\x01\x15\x00\x02\x00\x00\x00\x08\x00\x00\x00\x26"
            + b"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x03\x00\x00" + b"\x00\x00\x00\x00" + b"FuzzCam\x00")
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[0, 0] = 255  # top-left marker: after a 180 degree turn it is bottom-right
    buf = io.BytesIO()
    extra = {"lossless": True} if fmt == "WEBP" else {}
    Image.fromarray(rgb).save(buf, format=fmt, exif=b"Exif\x00\x00" + tiff, **extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        photo = rio.read_photo(buf.getvalue())
    assert photo.rgb.shape == (4, 6, 3)
    assert photo.rgb[-1, -1].min() > 200 and photo.rgb[0, 0].max() < 50
