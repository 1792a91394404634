#!/usr/bin/env python
"""Coverage-guided fuzzing of reexposure's decoders with atheris (libFuzzer for Python).

Targets: ``photo`` (reexposure.formats.io.read_photo: JPEG, PNG, TIFF, WebP, HEIC, GIF, BMP), ``hdr``
(reexposure.formats.io.read_hdr: OpenEXR, Radiance .hdr, PFM) and ``ultrahdr``
(reexposure.formats.ultrahdr.read_ultrahdr). With ``--target all`` (the default) the first byte of each
input picks the target (0 photo, 1 hdr, 2 ultrahdr, modulo 3) and the rest is the file.

The property checked is the one in tests/test_fuzz_decoders.py: every input ends in a result or
in ``reexposure.formats.io.ImageError``, whose message is one line. Any other exception is a crash: libFuzzer
stops, prints the traceback and writes the input to ``crash-<sha1>``. Hangs and memory blow-ups are
caught by libFuzzer's ``-timeout`` (seconds per input) and ``-rss_limit_mb``; the pixel limit is
lowered to 2 megapixels (``--max-pixels``) so that a mutated header that declares a large image
stays cheap.

Usage (from the repository root, in the project's venv; ``pip install atheris`` or
``pip install -e .[fuzz]``)::

    python fuzz/fuzz_decoders.py -max_total_time=60 corpus/            # all targets, 60 s
    python fuzz/fuzz_decoders.py --target hdr -max_total_time=300 -timeout=10 corpus-hdr/
    python fuzz/fuzz_decoders.py --make-corpus corpus/                 # only write the seeds
    python fuzz/fuzz_decoders.py crash-1234abcd                        # replay one input
    python fuzz/fuzz_decoders.py --no-atheris --seconds 60             # without atheris: random
                                                                       # mutations of the seeds

An empty (or missing) corpus folder is filled with the seeds of fuzz/seeds.py first. Options not
listed here are passed to libFuzzer (``-help=1`` lists them); ``-print_final_stats=1`` prints the
number of inputs run.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

TARGETS = ("photo", "hdr", "ultrahdr")
EXTS = {"photo": ".img", "hdr": ".hdr", "ultrahdr": ".jpg"}

# Heavy libraries that are not fuzzed are imported before instrumentation (instrumenting them
# would only slow every input down).
import numpy  # noqa: E402,F401
import torch  # noqa: E402,F401

_io = _ultrahdr = None
_work: Path | None = None
_target = "all"


def _load(instrument: bool) -> None:
    """Import the decoders, instrumented for coverage when atheris is in use. Pillow's plugins
    (pure Python header parsers) are instrumented too; the C codecs are not."""
    global _io, _ultrahdr
    if instrument:
        import atheris

        with atheris.instrument_imports(include=["reexposure", "PIL", "pillow_heif"]):
            import PIL.Image  # noqa: F401

            from reexposure.formats import io as rio
            from reexposure.formats import ultrahdr
    else:
        from reexposure.formats import io as rio
        from reexposure.formats import ultrahdr
    _io, _ultrahdr = rio, ultrahdr


def run_one(data: bytes) -> str:
    """Decode one input; returns "result" or "error"; raises on anything else (a crash)."""
    assert _io is not None and _ultrahdr is not None and _work is not None
    if _target == "all":
        if not data:
            return "error"
        target, blob = TARGETS[data[0] % 3], data[1:]
    else:
        target, blob = _target, data
    path = _work / f"input{EXTS[target]}"
    path.write_bytes(blob)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if target == "photo":
                photo = _io.read_photo(path)
                rgb = photo.rgb
                if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype.kind != "u":
                    raise AssertionError(f"malformed photo {rgb.shape} {rgb.dtype}")
            elif target == "hdr":
                arr = _io.read_hdr(path)
                if arr.dtype != numpy.float32 or not numpy.isfinite(arr).all() or (arr < 0).any():
                    raise AssertionError("read_hdr returned non-finite or negative values")
            else:
                base, hdr, _ = _ultrahdr.read_ultrahdr(blob)
                if hdr.shape != base.shape:
                    raise AssertionError(f"HDR rendition {hdr.shape} != base {base.shape}")
    except _io.ImageError as exc:
        msg = str(exc)
        if not msg.strip() or "\n" in msg or len(msg) > 400:
            raise AssertionError(f"error message is not one short line: {msg!r}") from None
        return "error"
    return "result"


def make_corpus(folder: Path, target: str) -> int:
    """Write the seeds of fuzz/seeds.py into ``folder`` (in this harness's input encoding)."""
    import seeds

    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for s in seeds.seeds():
        if target != "all" and s.target != target:
            continue
        data = (bytes([TARGETS.index(s.target)]) if target == "all" else b"") + s.data
        (folder / f"seed-{s.name}-{hashlib.sha1(data).hexdigest()[:8]}").write_bytes(data)
        n += 1
    return n


def _no_atheris(seconds: float, target: str) -> int:
    """Fallback without atheris: random stacked mutations of the seeds for ``seconds``."""
    import seeds

    pool = [s for s in seeds.seeds() if target in ("all", s.target)]
    rng = random.Random(int(os.environ.get("FUZZ_SEED", time.time())))
    names = sorted(seeds.MUTATIONS)
    end = time.monotonic() + seconds
    counts = {"result": 0, "error": 0}
    slowest = 0.0
    while time.monotonic() < end:
        s = rng.choice(pool)
        ops = [(rng.choice(names), rng.randrange(1 << 20), rng.randrange(1 << 16),
                rng.randbytes(rng.randint(1, 24))) for _ in range(rng.randint(1, 4))]
        data = seeds.mutate(s.data, ops)
        if target == "all":
            data = bytes([TARGETS.index(s.target)]) + data
        t0 = time.perf_counter()
        try:
            counts[run_one(data)] += 1
        except BaseException:
            crash = Path(f"crash-{hashlib.sha1(data).hexdigest()}")
            crash.write_bytes(data)
            print(f"crash on a mutation of {s.name}; input written to {crash}", file=sys.stderr)
            raise
        slowest = max(slowest, time.perf_counter() - t0)
    total = sum(counts.values())
    print(f"{total} inputs in {seconds:g} s: {counts['result']} results, {counts['error']} one-line errors, "
          f"no crash; slowest {slowest * 1000:.0f} ms")
    return 0


def main(argv: list[str] | None = None) -> int:
    global _work, _target
    argv = list(sys.argv if argv is None else argv)
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--target", choices=("all",) + TARGETS, default="all")
    ap.add_argument("--max-pixels", type=int, default=2_000_000)
    ap.add_argument("--make-corpus", metavar="DIR", default=None)
    ap.add_argument("--no-atheris", action="store_true")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--help", "-h", action="store_true")
    ours, rest = ap.parse_known_args(argv[1:])
    if ours.help:
        print(__doc__)
        return 0
    _target = ours.target
    if ours.make_corpus:
        n = make_corpus(Path(ours.make_corpus), ours.target)
        print(f"wrote {n} seeds to {ours.make_corpus}")
        return 0
    try:
        import atheris
    except ImportError:
        atheris = None
        if not ours.no_atheris:
            print("atheris is not installed (pip install atheris); running random mutations instead",
                  file=sys.stderr)
    use_atheris = atheris is not None and not ours.no_atheris
    _load(instrument=use_atheris)
    _io.set_max_pixels(ours.max_pixels)
    _work = Path(tempfile.mkdtemp(prefix="reexpose-atheris-"))
    try:
        if not use_atheris:
            return _no_atheris(ours.seconds, ours.target)
        for arg in rest:  # an empty corpus folder gets the seeds
            if not arg.startswith("-"):
                p = Path(arg)
                if not p.exists() or (p.is_dir() and not any(p.iterdir())):
                    print(f"seeding {p} with {make_corpus(p, ours.target)} files", file=sys.stderr)
        atheris.Setup([argv[0], *rest], lambda data: run_one(bytes(data)))
        atheris.Fuzz()
        return 0
    finally:
        for p in _work.iterdir():
            p.unlink()
        _work.rmdir()


if __name__ == "__main__":
    sys.exit(main())
