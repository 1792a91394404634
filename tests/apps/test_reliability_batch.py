"""Nothing lost: a batch ``reexpose`` run that is interrupted (SIGINT, SIGKILL) or whose writes fail
(full disk, unusable folder) leaves no partial output, keeps every earlier output intact, and a
``--skip-existing`` run completes the rest; a failing checkpoint write keeps the previous
``last.pt`` loadable.

Interruptions run the real CLI in a subprocess with a tiny model; failing writes are simulated
in-process by making the write (or the final rename) raise ENOSPC, since the tests run as root
(chmod does not stop root) and cannot mount a small file system.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from reexposure.formats import io as rio
from reexposure.formats import photo as rphoto

EVS = ("-2", "1")
N_PHOTOS = 4


def _photos(folder: Path, n: int = N_PHOTOS, size: tuple[int, int] = (256, 384)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        rng = np.random.default_rng(i)
        img = rng.integers(30, 200, (*size, 3), dtype=np.uint8)
        img[40:140, 60:200] = 255
        p = folder / f"photo{i}.{'jpg' if i % 2 else 'png'}"
        Image.fromarray(img).save(p)
        paths.append(p)
    return paths


def _expected(photos: list[Path], out: Path) -> list[Path]:
    return [out / f"{p.stem}_ev{ev}{p.suffix}" for p in photos for ev in ("-2", "+1")]


def _argv(photos: list[Path], out: Path, model: Path, *extra: str) -> list[str]:
    argv = [str(p) for p in photos]
    for ev in EVS:
        argv += ["--ev", ev]
    return argv + ["-o", f"{out}/", "--model", str(model), "--threads", "1", *extra]


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _check_outputs(out: Path, photos: list[Path]) -> dict[str, str]:
    """Every visible file in ``out`` is a complete image of the right size; returns name -> sha256."""
    sizes = {p.stem: Image.open(p).size for p in photos}
    found = {}
    for p in sorted(out.iterdir()):
        if p.name.startswith("."):
            continue
        with Image.open(p) as im:
            im.load()  # a truncated file raises here
            assert im.size == sizes[p.stem.rsplit("_ev", 1)[0]], p
        photo = rio.read_photo(p)
        assert photo.rgb.shape[2] == 3
        found[p.name] = _digest(p)
    return found


def _hidden(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith(".")) if out.exists() else []


def _cli(argv: list[str], cwd: Path, wrapper: str | None = None, **env_extra: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **env_extra}
    cmd = [sys.executable, "-c", wrapper, *argv] if wrapper else [sys.executable, "-m", "reexposure", *argv]
    # SIGINT back to its default in the child: a shell starts background jobs (`pytest ... &`) with
    # SIGINT ignored, children inherit that, and Python then never raises KeyboardInterrupt
    return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _wait_for_outputs(proc: subprocess.Popen, out: Path, n: int, timeout: float = 180) -> None:
    t0 = time.monotonic()
    while True:
        visible = [p for p in out.iterdir() if not p.name.startswith(".")] if out.exists() else []
        if len(visible) >= n:
            return
        assert proc.poll() is None, f"the run ended first: {proc.communicate()}"
        assert time.monotonic() - t0 < timeout, "no output appeared"
        time.sleep(0.02)


def _resume_and_check(photos: list[Path], out: Path, model: Path, before: dict[str, str], cwd: Path) -> None:
    """``--skip-existing`` writes exactly what is missing; what was there is byte-identical."""
    res = subprocess.run([sys.executable, "-m", "reexposure", *_argv(photos, out, model, "--skip-existing", "-q")],
                         cwd=cwd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    after = _check_outputs(out, photos)
    assert sorted(after) == sorted(p.name for p in _expected(photos, out))
    for name, digest in before.items():
        assert after[name] == digest, f"{name} was rewritten"
    assert _hidden(out) == [], "temporary files left behind"


# ------------------------------------------------------------------------------ interruptions


def test_sigint_mid_batch_leaves_complete_outputs_and_resumes(tmp_path: Path, tiny_weights: Path) -> None:
    # 12 photos, so that the batch is still running when the signal lands
    photos = _photos(tmp_path / "in", n=12)
    out = tmp_path / "out"
    proc = _cli(_argv(photos, out, tiny_weights), tmp_path)
    try:
        _wait_for_outputs(proc, out, 2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines == ["reexpose: error: interrupted"], err
    assert _hidden(out) == []
    before = _check_outputs(out, photos)
    assert 2 <= len(before) < 2 * len(photos)
    _resume_and_check(photos, out, tiny_weights, before, tmp_path)


def test_sigkill_mid_batch_leaves_complete_outputs_and_resumes(tmp_path: Path, tiny_weights: Path) -> None:
    photos = _photos(tmp_path / "in")
    out = tmp_path / "out"
    proc = _cli(_argv(photos, out, tiny_weights), tmp_path)
    try:
        _wait_for_outputs(proc, out, 2)
        proc.kill()
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    before = _check_outputs(out, photos)  # whatever is visible is complete
    assert 2 <= len(before) < 2 * N_PHOTOS
    _resume_and_check(photos, out, tiny_weights, before, tmp_path)


_KILL_DURING_WRITE = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    import reexposure.formats.photo as rio
    original = rio._save_photo
    calls = []

    def slow_save(tmp, *args, **kw):
        original(tmp, *args, **kw)
        calls.append(tmp)
        if len(calls) == 3:  # the third output: half written when the process dies
            data = Path(tmp).read_bytes()
            Path(tmp).write_bytes(data[: len(data) // 2])
            Path(os.environ["REEXPOSE_TEST_MARKER"]).write_text(str(tmp))
            time.sleep(600)

    rio._save_photo = slow_save
    from reexposure.apps.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def test_sigkill_while_writing_an_output_leaves_only_a_hidden_temp_file(tmp_path: Path, tiny_weights: Path) -> None:
    """Killed in the middle of writing the third output: that output does not exist under its
    name (only a hidden temp file does), the first two are intact, and the resumed run removes
    the temp file and completes the batch."""
    photos = _photos(tmp_path / "in", n=3)
    out = tmp_path / "out"
    marker = tmp_path / "writing"
    proc = _cli(_argv(photos, out, tiny_weights), tmp_path, wrapper=_KILL_DURING_WRITE,
                REEXPOSE_TEST_MARKER=str(marker))
    try:
        t0 = time.monotonic()
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() - t0 < 180
            time.sleep(0.02)
        proc.kill()
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    torn = Path(marker.read_text())
    assert torn.exists() and torn.parent == out and torn.name.startswith(".")
    expected = _expected(photos, out)
    assert not expected[2].exists()  # the output being written is not there under its name
    before = _check_outputs(out, photos)
    assert sorted(before) == sorted(p.name for p in expected[:2])
    _resume_and_check(photos, out, tiny_weights, before, tmp_path)
    assert not torn.exists()


def test_skip_existing_resumes_a_photo_interrupted_between_its_evs(tmp_path: Path, tiny_weights: Path) -> None:
    from reexposure.apps.cli import main

    photos = _photos(tmp_path / "in", n=2, size=(48, 64))
    out = tmp_path / "out"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(_argv(photos, out, tiny_weights, "-q")) == 0
    expected = _expected(photos, out)
    expected[3].unlink()  # photo1: its EV -2 was written, its EV +1 not
    before = _check_outputs(out, photos)
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(_argv(photos, out, tiny_weights, "--skip-existing", "-q"))
    assert code == 0, err.getvalue()
    after = _check_outputs(out, photos)
    assert sorted(after) == sorted(p.name for p in expected)
    assert all(after[k] == v for k, v in before.items())


# ------------------------------------------------------------------------------ failing writes


def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("where", ["encode", "rename"])
def test_full_disk_keeps_earlier_outputs_and_leaves_no_partial_file(tmp_path: Path, tiny_weights: Path,
                                                                     monkeypatch, where: str) -> None:
    """The disk fills up while the third output is written (or renamed into place): the run
    reports it on one line and goes on with the other photos, which are written; the earlier
    outputs are untouched; no partial or temporary file is left."""
    from reexposure.apps.cli import main

    photos = _photos(tmp_path / "in", n=3, size=(48, 64))
    out = tmp_path / "out"
    original_save, original_link = rphoto._save_photo, os.link
    calls = {"n": 0}

    def save(tmp, *args, **kw):
        calls["n"] += 1
        if where == "encode" and calls["n"] == 3:
            Path(tmp).write_bytes(b"\xff\xd8\xff partial")
            _enospc()
        return original_save(tmp, *args, **kw)

    def link(src, dst, *args, **kw):
        if where == "rename" and calls["n"] == 3:
            _enospc()
        return original_link(src, dst, *args, **kw)

    monkeypatch.setattr(rphoto, "_save_photo", save)
    monkeypatch.setattr(os, "link", link)
    monkeypatch.setattr(os, "replace", lambda *a, **k: _enospc() if calls["n"] == 3 else os.rename(*a, **k))
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(_argv(photos, out, tiny_weights, "-q"))
    assert code == 2
    lines = [ln for ln in err.getvalue().splitlines() if ln.strip()]
    assert "No space left on device" in lines[0] and lines[0].startswith("reexpose: error: "), lines
    assert "Traceback" not in err.getvalue()
    expected = _expected(photos, out)
    assert not expected[2].exists()
    written = _check_outputs(out, photos)
    assert sorted(written) == sorted(p.name for p in expected if p != expected[2] and p != expected[3])
    assert _hidden(out) == []
    monkeypatch.undo()
    with contextlib.redirect_stdout(io.StringIO()):  # after space is freed, the batch can be completed
        assert main(_argv(photos, out, tiny_weights, "--skip-existing", "-q")) == 0
    after = _check_outputs(out, photos)
    assert len(after) == len(expected) and all(after[k] == v for k, v in written.items())


def test_output_folder_that_cannot_exist_is_one_line_and_writes_nothing(tmp_path: Path, tiny_weights: Path) -> None:
    """A folder under a regular file (what a read-only folder is to root: unwritable whatever
    the permissions)."""
    from reexposure.apps.cli import main

    photos = _photos(tmp_path / "in", n=1, size=(48, 64))
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main([str(photos[0]), "--ev", "-1", "-o", f"{blocker}/out/", "--model", str(tiny_weights)])
    assert code == 2
    assert err.getvalue().count("\n") == 1 and err.getvalue().startswith("reexpose: error: ")
    assert blocker.read_text() == "not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "in"]


# ------------------------------------------------------------------------------ training checkpoints


@pytest.mark.parametrize("failure", ["write", "rename"])
def test_failing_checkpoint_write_keeps_the_previous_last_pt(tmp_path: Path, monkeypatch, failure: str) -> None:
    from _train_helpers import make_hdr_folder, tiny_config

    from reexposure.training.trainer import Trainer

    data = make_hdr_folder(tmp_path / "data")
    out = tmp_path / "run"
    out.mkdir()
    trainer = Trainer(tiny_config(data, out), torch.device("cpu"))
    trainer.step = 5
    ckpt = out / "last.pt"
    trainer.save(ckpt)
    good = ckpt.read_bytes()
    trainer.step = 6
    with torch.no_grad():
        for p in trainer.G.parameters():
            p.add_(1.0)
    if failure == "write":
        monkeypatch.setattr(os, "fsync", _enospc)  # the data never reaches the disk
    else:
        monkeypatch.setattr(os, "replace", _enospc)  # written, but the rename fails
    with pytest.raises(OSError) as info:
        trainer.save(ckpt)
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert ckpt.read_bytes() == good
    assert sorted(p.name for p in out.iterdir()) == ["last.pt"], "temporary checkpoint left behind"
    fresh = Trainer(tiny_config(data, out), torch.device("cpu"))
    fresh.load(ckpt)
    assert fresh.step == 5
    ref = torch.load(ckpt, weights_only=True)["generator"]
    for k, v in fresh.G.state_dict().items():
        assert torch.equal(v, ref[k])
