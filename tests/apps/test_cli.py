"""The ``reexpose`` command line: every subcommand, batches, clobbering rules and bad input.

Most runs call :func:`reexposure.apps.cli.main` in-process (same code path as the console script; a
fresh Python process costs seconds of torch import on a 2-core machine); a few run
``python -m reexposure`` in a subprocess to check the real entry point, exit codes and stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from reexposure.apps import cli
from reexposure.apps.cli.main import COMMANDS

REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    """A tiny generator with a random head (so its output is not the naive answer), as a file."""
    from reexposure.core.model import GatedUNet, GeneratorConfig
    from reexposure.core.weights import save_weights

    torch.manual_seed(0)
    model = GatedUNet(GeneratorConfig(width=4, depth=3, max_width=16))
    torch.nn.init.normal_(model.head.weight, std=0.05)
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    save_weights(model, path, description="tiny test model", trained_steps=7)
    return path


def _photo(seed: int = 0, h: int = 96, w: int = 128) -> np.ndarray:
    """Textured background with a clipped disc."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    base = 70 + 40 * np.sin(xx / 7.0)[..., None] + 25 * np.cos(yy / 5.0)[..., None]
    img = np.clip(base + rng.normal(0, 6, (h, w, 3)), 0, 225).astype(np.uint8)
    img[(yy - h // 2) ** 2 + (xx - w // 3) ** 2 < (h // 4) ** 2] = 255
    return img


def _save_jpeg(path: Path, arr: np.ndarray, exif: bool = False) -> Path:
    im = Image.fromarray(arr)
    kwargs = {}
    if exif:
        e = Image.Exif()
        e[0x010F] = "TestCam"  # Make
        kwargs["exif"] = e.tobytes()
    im.save(path, quality=95, **kwargs)
    return path


@pytest.fixture()
def photo(tmp_path: Path) -> Path:
    return _save_jpeg(tmp_path / "photo.jpg", _photo(), exif=True)


def run(capsys, *argv: object) -> tuple[int, str, str]:
    """``reexpose ARGV`` in-process -> (exit code, stdout, stderr)."""
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_process(*argv: object, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(REPO / "src"))
    return subprocess.run([sys.executable, "-m", "reexposure", *map(str, argv)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def assert_one_error_line(err: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("reexpose: error: "), err
    assert "Traceback" not in err


def files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def mean(path: Path) -> float:
    with Image.open(path) as im:
        return float(np.asarray(im.convert("RGB"), dtype=np.float32).mean())


# --------------------------------------------------------------------------- entry point


def test_console_entry_point_default_command(tmp_path: Path, photo: Path, model_file: Path):
    """`python -m reexposure PHOTO --ev -2` (no command name) writes ./photo_ev-2.jpg and says
    which model it used, first."""
    proc = run_process(photo.name, "--ev", "-2", "--model", model_file, "--threads", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    assert first.startswith("model: ") and str(model_file) in first
    assert "tiny test model" in first and "trained_steps=7" in first
    out = tmp_path / "photo_ev-2.jpg"
    assert out.is_file() and mean(out) < mean(photo) - 10
    with Image.open(out) as im:
        assert im.getexif().get(0x010F) == "TestCam"  # EXIF kept
    assert proc.stderr.strip() == ""


def test_console_bad_input_one_line(tmp_path: Path, model_file: Path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(_save_jpeg(tmp_path / "ok.jpg", _photo()).read_bytes()[:700])
    proc = run_process(bad, "--ev", "-2", "--model", model_file, "-o", tmp_path / "out", cwd=tmp_path)
    assert proc.returncode == 2
    assert_one_error_line(proc.stderr)
    assert "broken.jpg" in proc.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_help_lists_commands_with_examples(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for name in ("expose", "hdr", "sweep", "compare", "bench"):
        assert name in out
    assert "examples:" in out
    for name in ("expose", "hdr", "sweep", "compare", "bench"):
        code, out, _ = run(capsys, name, "--help")
        assert code == 0 and "examples:" in out and f"reexpose {name}" in out.replace("reexpose photo", "")


def test_no_arguments_and_usage_errors_are_one_line(capsys, photo):
    code, _, err = run(capsys)
    assert code == 2
    assert_one_error_line(err)
    code, _, err = run(capsys, photo)  # --ev missing
    assert code == 2
    assert_one_error_line(err)
    assert "--ev" in err


def test_a_missing_optional_package_is_one_line_naming_the_extra(capsys, monkeypatch):
    """A command whose extra is not installed (here: uvicorn for ``serve``) fails with one line
    that names the package and the extra, exit code 1."""
    import builtins

    real_import = builtins.__import__

    def no_uvicorn(name, *args, **kwargs):
        if name == "uvicorn":
            raise ModuleNotFoundError("No module named 'uvicorn'", name="uvicorn")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_uvicorn)
    code, _, err = run(capsys, "serve", "--port", "0")
    assert code == 1
    assert_one_error_line(err)
    assert "'uvicorn'" in err and "reexposure[web]" in err


def test_help_lists_every_command(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for name in COMMANDS:
        assert name in out


# --------------------------------------------------------------------------- subcommands


def test_expose_several_evs_into_folder(capsys, tmp_path, photo, model_file):
    out = tmp_path / "out"
    code, stdout, err = run(capsys, "expose", photo, "--ev", "-2", "--ev", "1", "--ev", "0", "-o", f"{out}/",
                            "--model", model_file, "--quality", "90")
    assert code == 0, err
    assert files(out) == {"photo_ev-2.jpg", "photo_ev+1.jpg", "photo_ev0.jpg"}
    assert stdout.splitlines()[0].startswith("model: ")
    assert mean(out / "photo_ev-2.jpg") < mean(out / "photo_ev0.jpg") < mean(out / "photo_ev+1.jpg")
    assert abs(mean(out / "photo_ev0.jpg") - mean(photo)) < 2.0  # EV 0 gives the photo back


def test_expose_to_named_file_and_format(capsys, tmp_path, photo, model_file):
    code, _, err = run(capsys, photo, "--ev", "-1", "-o", tmp_path / "dark.png", "--model", model_file)
    assert code == 0, err
    with Image.open(tmp_path / "dark.png") as im:
        assert im.format == "PNG" and im.size == (128, 96)
    code, _, err = run(capsys, photo, "--ev", "-1", "--ev", "-2", "-o", tmp_path / "x.png", "--model", model_file)
    assert code == 2  # one file name for two outputs
    assert_one_error_line(err)
    code, _, err = run(capsys, photo, "--ev", "-1", "--format", "webp", "-o", tmp_path / "w", "--model", model_file)
    assert code == 0, err
    assert files(tmp_path / "w") == {"photo_ev-1.webp"}


def test_quiet_prints_nothing_and_skip_existing_with_nothing_to_do(capsys, tmp_path, photo, model_file):
    code, out, err = run(capsys, photo, "--ev", "-1", "-o", tmp_path / "q", "--model", model_file, "-q")
    assert code == 0 and out == "" and err == ""
    assert (tmp_path / "q" / "photo_ev-1.jpg").is_file()
    code, out, err = run(capsys, photo, "--ev", "-1", "-o", tmp_path / "q", "--model", model_file, "--skip-existing")
    assert code == 0 and "nothing to do" in out and "model:" not in out  # the model is not even loaded


def test_hdr_formats(capsys, tmp_path, photo, model_file):
    from reexposure.formats.io import read_hdr

    for ext in ("exr", "hdr", "pfm"):
        out = tmp_path / f"rad.{ext}"
        code, stdout, err = run(capsys, "hdr", photo, "-o", out, "--model", model_file)
        assert code == 0, err
        rad = read_hdr(out)
        assert rad.shape == (96, 128, 3) and rad.dtype == np.float32
        from scipy.ndimage import maximum_filter

        with Image.open(photo) as im:
            codes = np.asarray(im.convert("RGB"))
        lin = (codes.astype(np.float32) / 255.0) ** 2
        # outside the (dilated) saturation mask the radiance is the linearised photo, to the
        # precision of the format: EXR half floats, RGBE's 8-bit mantissa with a shared exponent,
        # PFM float32
        unclipped = maximum_filter(codes.max(axis=2), size=3) < 245
        rtol, atol = {"exr": (1e-3, 1e-6), "hdr": (1e-2, 1e-4), "pfm": (1e-6, 1e-7)}[ext]
        np.testing.assert_allclose(rad[unclipped], lin[unclipped], rtol=rtol, atol=atol)
        assert rad.max() > 1.0 or np.abs(rad - lin).max() > 1e-3  # the clipped disc was reconstructed
        assert f"wrote {out}" in stdout


def test_strength_option(capsys, tmp_path, photo, model_file):
    from reexposure.formats.io import read_hdr

    peaks = {}
    for s in ("0", "1", "2"):
        out = tmp_path / f"rad_{s}.pfm"
        code, _, err = run(capsys, "hdr", photo, "-o", out, "--model", model_file, "--strength", s)
        assert code == 0, err
        peaks[s] = float(read_hdr(out).max())
    assert peaks["0"] <= peaks["1"] <= peaks["2"] and peaks["0"] < peaks["2"]
    for bad in ("-1", "3.5", "nan"):
        code, _, err = run(capsys, photo, "--ev", "-2", "-o", tmp_path / "x.jpg", "--model", model_file,
                           "--strength", bad)
        assert code == 2 and "--strength must be within 0-3" in err
        assert_one_error_line(err)
    assert not (tmp_path / "x.jpg").exists()


def test_area_option_sets_one_areas_strength(capsys, tmp_path, photo, model_file):
    """--area X,Y=S changes the clipped disc it names and nothing else; a bad value or a point far
    from every clipped area is one error line, exit 2, and writes nothing."""
    from reexposure.formats.io import read_hdr

    base, calm = tmp_path / "base.pfm", tmp_path / "calm.pfm"
    assert run(capsys, "hdr", photo, "-o", base, "--model", model_file)[0] == 0
    # the disc of _photo(): centre (row 48, column 42), radius 24
    code, _, err = run(capsys, "hdr", photo, "-o", calm, "--model", model_file, "--area", "42,48=0")
    assert code == 0, err
    a, b = read_hdr(base), read_hdr(calm)
    changed = (a != b).any(axis=2)
    assert changed.any() and not changed[:, 80:].any()
    for bad, message in (("42x48", "expected X,Y=S"), ("42,48=3.5", "strength must be within 0-3"),
                         ("120,5=1", "no clipped area at or within"), ("500,5=1", "outside the 128x96 photo")):
        code, _, err = run(capsys, photo, "--ev", "-2", "-o", tmp_path / "x.jpg", "--model", model_file,
                           "--area", bad)
        assert code == 2 and message in err, err
        assert_one_error_line(err)
    assert not (tmp_path / "x.jpg").exists()


def test_a_library_logging_an_error_before_raising_gives_one_error_line(capsys, monkeypatch, tmp_path, photo,
                                                                         model_file):
    """Pillow logs "More samples per pixel than can be decoded" at error level and then raises on a
    corrupt TIFF (found by tests/tools/test_fuzz_decoders.py): the user sees the raised error only;
    with -v the library's line too."""
    import logging

    from reexposure.apps.cli import photo as photo_cli
    from reexposure.formats.io import ImageError

    def read_input(args, src):
        logging.getLogger("PIL.TiffImagePlugin").error("More samples per pixel than can be decoded: %s", 278)
        logging.getLogger("reexposure").warning("a message of the package itself")
        raise ImageError(f"{src}: corrupt or truncated TIFF file (cannot read its header)")

    monkeypatch.setattr(photo_cli, "read_input", read_input)
    code, _, err = run(capsys, photo, "--ev", "-1", "-o", tmp_path / "out/", "--model", model_file)
    assert code == 2
    assert "More samples" not in err and "reexpose: warning: a message of the package itself" in err
    assert [ln for ln in err.splitlines() if ln.startswith("reexpose: error: ")] == [
        f"reexpose: error: {photo}: corrupt or truncated TIFF file (cannot read its header)"]
    code, _, err = run(capsys, photo, "--ev", "-1", "-o", tmp_path / "out/", "--model", model_file, "-v")
    assert code == 2 and "reexpose: error: More samples per pixel than can be decoded: 278" in err


def test_sweep_mp4_and_gif(capsys, tmp_path, photo, model_file):
    import imageio_ffmpeg

    mp4 = tmp_path / "s.mp4"
    code, _, err = run(capsys, "sweep", photo, "-o", mp4, "--from", "-3", "--to", "3", "--seconds", "1",
                       "--fps", "8", "--model", model_file)
    assert code == 0, err
    assert mp4.read_bytes()[4:8] == b"ftyp"
    reader = imageio_ffmpeg.read_frames(str(mp4))
    meta = next(reader)
    assert meta["codec"].startswith("h264") and tuple(meta["size"]) == (128, 96)
    assert sum(1 for _ in reader) == 8
    code, _, err = run(capsys, "sweep", photo, "-o", tmp_path / "g/", "--format", "gif", "--seconds", "0.5",
                       "--size", "64", "--model", model_file)
    assert code == 0, err
    with Image.open(tmp_path / "g" / "photo_sweep.gif") as im:
        assert im.n_frames == 8 and im.size == (64, 48)  # 15 fps default for GIF


def test_compare(capsys, tmp_path, photo, model_file):
    out = tmp_path / "cmp.jpg"
    code, _, err = run(capsys, "compare", photo, "--ev", "-2", "-o", out, "--width", "160", "--model", model_file)
    assert code == 0, err
    with Image.open(out) as im:
        assert im.format == "JPEG" and im.width == 3 * 160 + 16 and im.height > 120 + 160


# --------------------------------------------------------------------------- batches


def test_folder_batch_progress_and_skip_existing(capsys, tmp_path, model_file):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        _save_jpeg(src / f"p{i}.jpg", _photo(seed=i))
    (src / "notes.txt").write_text("not a photo")
    _save_jpeg(src / "p0_ev-1.jpg", _photo())  # an earlier output: skipped when reading a folder
    out = tmp_path / "out"
    code, stdout, err = run(capsys, src, "--ev", "-1", "-o", out, "--model", model_file, "--progress")
    assert code == 0, err
    assert files(out) == {"p0_ev-1.jpg", "p1_ev-1.jpg", "p2_ev-1.jpg"}
    assert "3/3" in err and "photo" in err  # the progress bar
    assert stdout.count("wrote ") == 3
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    (out / "p1_ev-1.jpg").unlink()
    code, stdout, err = run(capsys, src, "--ev", "-1", "-o", out, "--model", model_file, "--skip-existing")
    assert code == 0, err
    assert "skipped 2 of 3" in stdout and stdout.count("wrote ") == 1
    assert (out / "p0_ev-1.jpg").stat().st_mtime_ns == before["p0_ev-1.jpg"]
    assert (out / "p1_ev-1.jpg").is_file()


def test_batch_goes_on_after_a_bad_photo(capsys, tmp_path, model_file):
    src = tmp_path / "in"
    src.mkdir()
    _save_jpeg(src / "a.jpg", _photo())
    (src / "b.jpg").write_bytes(b"")
    _save_jpeg(src / "c.jpg", _photo(seed=2))
    code, stdout, err = run(capsys, src, "--ev", "-1", "-o", tmp_path / "out", "--model", model_file)
    assert code == 2
    assert files(tmp_path / "out") == {"a_ev-1.jpg", "c_ev-1.jpg"}
    lines = err.strip().splitlines()
    assert len(lines) == 2 and all(ln.startswith("reexpose: error: ") for ln in lines)
    assert "b.jpg" in lines[0] and "1 of 3" in lines[1]


def test_existing_output_kept_unless_force(capsys, tmp_path, photo, model_file):
    out = tmp_path / "photo_ev-2.jpg"
    out.write_bytes(b"precious")
    code, _, err = run(capsys, photo, "--ev", "-2", "-o", tmp_path, "--model", model_file)
    assert code == 2
    assert_one_error_line(err)
    assert out.read_bytes() == b"precious"
    code, _, err = run(capsys, photo, "--ev", "-2", "-o", tmp_path, "--model", model_file, "--force")
    assert code == 0, err
    assert out.read_bytes()[:2] == b"\xff\xd8"


@pytest.mark.parametrize("force", [False, True])
def test_input_never_overwritten(capsys, tmp_path, photo, model_file, force):
    original = photo.read_bytes()
    args = [photo, "--ev", "-2", "-o", photo, "--model", model_file] + (["--force"] if force else [])
    code, _, err = run(capsys, *args)
    assert code == 2
    assert_one_error_line(err)
    assert photo.read_bytes() == original
    code, _, err = run(capsys, "compare", photo, "-o", photo, "--model", model_file, *(["--force"] if force else []))
    assert code == 2 and photo.read_bytes() == original


# --------------------------------------------------------------------------- bad input (issue 2)


def _truncated(tmp: Path) -> Path:
    data = _save_jpeg(tmp / "full.jpg", _photo()).read_bytes()
    (tmp / "full.jpg").unlink()
    p = tmp / "truncated.jpg"
    p.write_bytes(data[: len(data) // 2])
    return p


def _tiny(tmp: Path) -> Path:
    p = tmp / "one.png"
    Image.new("RGB", (1, 1), (255, 255, 255)).save(p)
    return p


BAD_INPUTS = {
    "missing file": lambda t: ([t / "nope.jpg", "--ev", "-2"], "nope.jpg"),
    "not an image": lambda t: ([_write(t / "text.jpg", b"hello, I am text\n" * 20), "--ev", "-2"], "text.jpg"),
    "truncated file": lambda t: ([_truncated(t), "--ev", "-2"], "truncated.jpg"),
    "zero bytes": lambda t: ([_write(t / "empty.jpg", b""), "--ev", "-2"], "empty.jpg"),
    "1x1": lambda t: ([_tiny(t), "--ev", "-2"], "one.png"),
    "decompression bomb": lambda t: ([_save_jpeg(t / "big.jpg", _photo()), "--ev", "-2", "--max-pixels", "5000"],
                                     "big.jpg"),
    "unknown output extension": lambda t: ([_save_jpeg(t / "p.jpg", _photo()), "--ev", "-2", "-o", t / "out.xyz"],
                                           "out.xyz"),
    "output folder is a file": lambda t: ([_save_jpeg(t / "p.jpg", _photo()), "--ev", "-2", "-o",
                                           _write(t / "afile", b"x") / "sub/"], "afile"),
    "EV above 10": lambda t: ([_save_jpeg(t / "p.jpg", _photo()), "--ev", "10.5"], "10.5"),
    "EV below -10": lambda t: ([_save_jpeg(t / "p.jpg", _photo()), "--ev", "-11"], "-11"),
    "EV not a number": lambda t: ([_save_jpeg(t / "p.jpg", _photo()), "--ev", "nan"], "nan"),
    "sweep EV outside": lambda t: (["sweep", _save_jpeg(t / "p.jpg", _photo()), "--from", "-12"], "-12"),
    "unknown sweep extension": lambda t: (["sweep", _save_jpeg(t / "p.jpg", _photo()), "-o", t / "s.avi"], "s.avi"),
    "unknown hdr extension": lambda t: (["hdr", _save_jpeg(t / "p.jpg", _photo()), "-o", t / "r.tiff"], "r.tiff"),
    "missing model": lambda t: ([_save_jpeg(t / "p.jpg", _photo()), "--ev", "-1", "--model", t / "m.safetensors"],
                                "m.safetensors"),
    "bad CRF": lambda t: ([_save_jpeg(t / "p.jpg", _photo()), "--ev", "-1", "--crf", "banana"], "banana"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_one_line_no_output(capsys, tmp_path, monkeypatch, model_file, case):
    monkeypatch.chdir(tmp_path)
    args, mention = BAD_INPUTS[case](tmp_path)
    if "--model" not in args:
        args = [*args, "--model", model_file]
    before = files(tmp_path)
    code, _, err = run(capsys, *args)
    assert code == 2, err
    assert_one_error_line(err)
    assert mention in err
    assert files(tmp_path) == before  # no partial output, no temporary file


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output_folder(capsys, tmp_path, photo, model_file):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        code, _, err = run(capsys, photo, "--ev", "-2", "-o", ro, "--model", model_file)
    finally:
        ro.chmod(0o700)
    assert code == 2
    assert_one_error_line(err)
    assert list(ro.iterdir()) == []


def test_interrupt_exits_130(capsys, photo, model_file, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    from reexposure.apps.cli import photo as photo_cli

    monkeypatch.setattr(photo_cli, "_cmd_expose", interrupted)
    code, _, err = run(capsys, photo, "--ev", "-2", "--model", model_file)
    assert code == 130
    assert_one_error_line(err)


def test_max_pixels_flag_error_names_the_flag_not_the_environment(capsys, photo, model_file, monkeypatch):
    """Defect: ``--max-pixels 10`` failed with a hint to set REEXPOSE_MAX_PIXELS although the flag
    was given. The hint now names what set the limit."""
    monkeypatch.delenv("REEXPOSE_MAX_PIXELS", raising=False)
    code, _, err = run(capsys, photo, "--ev", "-2", "--model", model_file, "--max-pixels", "10")
    assert code == 2
    assert_one_error_line(err)
    assert "limit 10" in err and "--max-pixels" in err and "REEXPOSE_MAX_PIXELS" not in err
    monkeypatch.setenv("REEXPOSE_MAX_PIXELS", "10")  # the environment variable: its own hint
    code, _, err = run(capsys, photo, "--ev", "-2", "--model", model_file)
    assert code == 2 and "set REEXPOSE_MAX_PIXELS higher" in err


# --------------------------------------------------------------------------- bench


def test_bench_help_is_plain_text_and_complete(capsys):
    """Defect: ``reexpose bench --help`` printed raw Markdown and broke off at "then times:"."""
    code, out, _ = run(capsys, "bench", "--help")
    assert code == 0
    assert "``" not in out and "* ``" not in out and ":class:" not in out and ":meth:" not in out
    text = " ".join(out.split())
    assert "then times two steps" in text and "reconstruct the Reconstructor" in text and "render RadianceMap" in text
    assert "no warm-up" in text and "examples:" in text


def test_bench_markdown_section_is_replaced_in_place(tmp_path):
    from reexposure.apps.bench import update_markdown

    md = tmp_path / "benchmarks.md"
    md.write_text("# Benchmarks\n\n## Training\n\nkeep me\n\n## Inference\n\nold\n\n## Quality\n\nkeep too\n")
    update_markdown(md, "## Inference\n\nnew numbers\n")
    text = md.read_text()
    assert "old" not in text and "new numbers" in text
    assert text.index("keep me") < text.index("new numbers") < text.index("keep too")
    # the dated notes written under the generated part survive a new run
    md.write_text(text.replace("new numbers\n", "new numbers\n\n**2026-12-04, v0.4.** why it changed\n\n"
                                                 "**2026-12-01.** older note\n"))
    update_markdown(md, "## Inference\n\nnewest\n")
    text = md.read_text()
    assert "new numbers" not in text and "newest" in text
    assert text.index("newest") < text.index("**2026-12-04, v0.4.** why") < text.index("older note") < text.index(
        "keep too")
    update_markdown(tmp_path / "fresh.md", "## Inference\n\nx\n")
    assert (tmp_path / "fresh.md").read_text().startswith("# Benchmarks\n\n## Inference")


def test_bench_synthetic_photos_hit_their_clipped_share(tmp_path):
    from reexposure.apps.bench import Case, synthesize

    for frac in (0.05, 0.30, 0.0):
        share = synthesize(tmp_path / "p.npy", Case(0.2, frac))
        photo = np.load(tmp_path / "p.npy")
        assert photo.shape == (387, 516, 3) and photo.dtype == np.uint8
        assert abs(share - frac) < 0.4 * frac + 1e-9
        if frac == 0:
            assert photo.max() < 245  # below the saturation-mask ramp: the network never runs


def test_bench_runs_a_case_and_writes_markdown(capsys, tmp_path, model_file):
    md = tmp_path / "benchmarks.md"
    code, out, err = run(capsys, "bench", "--cases", "0.05:5", "--model", model_file, "--threads", "1",
                         "--output", md)
    assert code == 0, err
    assert "| 0.05 MP, 5% clipped |" in out and "latency" in out
    text = md.read_text()
    assert "## Inference" in text and "reexpose bench --cases 0.05:5" in text and "tiny test model" in text
    header = next(ln for ln in text.splitlines() if ln.startswith("| case |")).split("|")
    row = next(ln for ln in text.splitlines() if ln.startswith("| 0.05 MP")).split("|")
    peak = float(row[header.index(" **peak RSS MB** ")].strip().strip("*"))
    assert 50 < peak < 4000  # a real RSS measurement in MB
