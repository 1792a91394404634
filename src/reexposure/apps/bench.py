"""Inference benchmark: latency and peak memory on synthetic photos (``reexpose bench``).

Each case synthesises a 4:3 photo of N megapixels with a given share of clipped pixels, saves it
as a raw ``.npy`` file, and runs in a **fresh Python process** so that its peak resident memory
(``getrusage(RUSAGE_SELF).ru_maxrss``) belongs to that case alone. The child loads the photo and
the model, then times:

* ``reconstruct``: :class:`~reexposure.core.infer.Reconstructor` on the uint8 photo (linearisation,
  saturation mask, the generator on every tile that has clipped pixels, feathered blending);
* ``render``: :meth:`RadianceMap.reexpose` at EV -2 to an 8-bit image (strip by strip).

*Latency* is their sum: what the ``reexpose`` command spends per photo beyond decoding and
encoding. Not timed: Python start-up, ``import torch``, loading the model (reported separately as
``load``), JPEG decoding and encoding. Peak RSS is the whole child process (Python, torch, the
photo, the model, the radiance map and the output image). One cold run per case (no warm-up), as a
command-line user would see it.

Synthetic photos: a log-radiance field made of low-frequency sinusoids (round "blobs", e.g. lamps
or reflections) or a vertical gradient with ragged clouds ("sky"), plus fine texture noise; the
exposure is set so that the requested share of pixels is at or above the clip level; rendered with
the default camera curve and quantised to 8 bits. The 0% case is exposed so that nothing reaches
the saturation-mask ramp (the network does not run at all).
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..core.arrays import to_uint8
from ..core.camera import DEFAULT_CRF, render_ldr
from ..core.files import atomic_write_bytes
from ..core.infer import Reconstructor

log = logging.getLogger(__name__)

__all__ = ["Case", "DEFAULT_CASES", "synthesize", "run_case", "format_table", "update_markdown",
           "main", "DESCRIPTION", "machine_info", "section_text", "format_targets", "select_cases",
           "run_cases"]

#: plain-text description for ``reexpose bench --help`` (the module docstring is reStructuredText)
DESCRIPTION = """\
Inference latency and peak memory on synthetic photos. Each case synthesises a 4:3 photo of N
megapixels with a given share of clipped pixels and runs in a fresh Python process, so that its
peak resident memory belongs to that case alone. The child loads the photo and the model, then
times two steps:

  reconstruct  the Reconstructor on the 8-bit photo (linearisation, saturation mask, the network
               on every tile with clipped pixels, feathered blending)
  render       RadianceMap.reexpose at EV -2 to an 8-bit image, strip by strip

Latency is their sum: what 'reexpose' spends per photo beyond decoding and encoding. Not timed:
Python start-up, importing torch, loading the model (reported as 'load'), decoding and encoding.
Peak RSS is the whole child process. One cold run per case, no warm-up."""

#: (megapixels, clipped fraction) of the default run (issue 2's targets)
DEFAULT_CASES = ((1.0, 0.05), (1.0, 0.30), (12.0, 0.05), (12.0, 0.30), (12.0, 0.0), (48.0, 0.05))
BENCH_EV = -2.0
_STRIP = 256


class Case(tuple):
    """``(megapixels, clipped_fraction)``."""

    def __new__(cls, mp: float, frac: float) -> Case:
        return super().__new__(cls, (float(mp), float(frac)))

    @property
    def mp(self) -> float:
        return self[0]

    @property
    def frac(self) -> float:
        return self[1]

    @property
    def name(self) -> str:
        return f"{self.mp:g} MP, {100 * self.frac:g}% clipped"

    def size(self) -> tuple[int, int]:
        """(height, width) of a 4:3 photo of ``mp`` megapixels."""
        h = max(8, int(round(math.sqrt(self.mp * 1e6 * 3 / 4))))
        return h, max(8, int(round(h * 4 / 3)))


def _log_field(y: np.ndarray, x: np.ndarray, h: int, w: int, params: dict) -> np.ndarray:
    """Low-frequency log-radiance (float32, len(y) x len(x)) at rows ``y`` and columns ``x``."""
    u = (np.asarray(y, dtype=np.float32) / np.float32(h))[:, None]
    v = (np.asarray(x, dtype=np.float32) / np.float32(w))[None, :]
    f = np.zeros((u.shape[0], v.shape[1]), dtype=np.float32)
    for a, fy, fx, ph in params["waves"]:
        f += np.float32(a) * np.sin(np.float32(2 * np.pi) * (fy * u + fx * v) + np.float32(ph)).astype(np.float32)
    if params["sky"]:
        f += np.float32(3.0) * (np.float32(0.6) - u).astype(np.float32)
    return f


def _params(frac: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    sky = frac >= 0.2
    n = 6 if not sky else 4
    cycles = (2.0, 6.0) if not sky else (1.0, 3.0)
    waves = [(float(rng.uniform(0.3, 0.8)), float(rng.uniform(*cycles)) * rng.choice([-1, 1]),
              float(rng.uniform(*cycles)) * rng.choice([-1, 1]), float(rng.uniform(0, 2 * np.pi)))
             for _ in range(n)]
    return {"waves": waves, "sky": sky}


def synthesize(path: str | Path, case: Case, seed: int = 0) -> float:
    """Write the synthetic photo of ``case`` to ``path`` (``.npy``, HxWx3 uint8), strip by strip
    (memory a few strips). Returns the share of pixels whose brightest channel is 255."""
    from numpy.lib.format import open_memmap

    h, w = case.size()
    params = _params(case.frac, seed)
    # exposure: the (1 - frac) quantile of the smooth field on a coarse grid becomes the clip level
    gy = np.linspace(0, h - 1, min(h, 400), dtype=np.float32)
    gx = np.linspace(0, w - 1, min(w, 400), dtype=np.float32)
    coarse = _log_field(gy, gx, h, w, params)
    if case.frac > 0:
        offset = float(np.quantile(coarse, 1.0 - case.frac))
        scale = 1.0
    else:  # nothing may reach the mask ramp (code 245): brightest pixel at ~0.75 of the clip level
        offset = float(coarse.max()) + 0.6
        scale = 0.85 / math.exp(-0.6 + 0.35)  # texture adds at most 0.35 in log: peak <= 0.85 (code 235)
    tint = np.array([1.0, 0.93, 0.82], dtype=np.float32)
    out = open_memmap(str(path), mode="w+", dtype=np.uint8, shape=(h, w, 3))
    clipped = 0
    xs = np.arange(w, dtype=np.float32)
    for y0 in range(0, h, _STRIP):
        y1 = min(h, y0 + _STRIP)
        rng = np.random.default_rng([seed, y0])
        field = _log_field(np.arange(y0, y1, dtype=np.float32), xs, h, w, params)
        texture = rng.normal(0.0, 0.08, size=(y1 - y0, w)).astype(np.float32)
        texture = np.clip(texture, -0.35, 0.35)
        rad = np.exp(field - offset + texture)[..., None] * tint * np.float32(scale)
        ldr = render_ldr(rad.astype(np.float32), 0.0, DEFAULT_CRF, bits=None)  # the default camera curve
        ldr += rng.normal(0.0, 0.004, size=ldr.shape).astype(np.float32)  # sensor noise
        strip = to_uint8(ldr)
        out[y0:y1] = strip
        clipped += int((strip.max(axis=2) == 255).sum())
    out.flush()
    del out
    return clipped / (h * w)


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _child(spec: dict) -> dict:
    """Runs inside the fresh process: load, time, measure. Returns the result dict."""
    import torch

    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    photo = np.load(spec["photo"])
    t0 = time.perf_counter()
    rec = Reconstructor(spec.get("model"), threads=spec.get("threads"))
    load_s = time.perf_counter() - t0
    rss_before = _peak_rss_mb()
    t0 = time.perf_counter()
    rmap = rec(photo)
    t1 = time.perf_counter()
    out = rmap.reexpose(BENCH_EV)
    t2 = time.perf_counter()
    assert out.shape == photo.shape and out.dtype == np.uint8
    n_params = sum(p.numel() for p in rec.model.parameters())
    net_px = sum(int(b.shape[1]) * int(b.shape[2]) for b in rmap.boosts.values())
    return {
        "height": int(photo.shape[0]), "width": int(photo.shape[1]),
        "clipped_pct": 100.0 * rmap.clipped_fraction(),
        "tiles_run": len(rmap.boosts), "tile": rec.tile, "context": rec.context,
        "load_s": load_s, "reconstruct_s": t1 - t0, "render_s": t2 - t1, "latency_s": t2 - t0,
        "rss_before_mb": rss_before, "peak_rss_mb": _peak_rss_mb(),
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "model": {k: v for k, v in rec.info.items() if k in ("path", "description", "trained_steps", "config")},
        "params": n_params, "network_mp": net_px / 1e6, "gflop_per_mp": _gflop_per_mp(rec.model),
    }


def _gflop_per_mp(model) -> float:
    """Floating-point operations of one generator pass per megapixel (counted by torch on 128x128)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    n = 128
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(torch.rand(1, 3, n, n), torch.rand(1, 1, n, n))
    return counter.get_total_flops() / (n * n) * 1e6 / 1e9


def run_case(case: Case, model: str | None = None, threads: int | None = None, workdir: str | Path | None = None,
             timeout: float = 3600.0, seed: int = 0) -> dict:
    """Synthesise ``case``, run it in a fresh subprocess and return its measurements."""
    with tempfile.TemporaryDirectory(dir=workdir, prefix="reexpose-bench-") as tmp:
        photo = Path(tmp) / "photo.npy"
        synthesize(photo, case, seed=seed)
        spec = {"photo": str(photo), "model": model, "threads": threads}
        env = dict(os.environ)
        if threads:
            env["OMP_NUM_THREADS"] = str(threads)
        proc = subprocess.run([sys.executable, "-m", "reexposure.apps.bench", "--child", json.dumps(spec)],
                              capture_output=True, text=True, timeout=timeout, env=env)
        if proc.returncode != 0:
            lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
            raise RuntimeError(f"benchmark case {case.name} failed: {lines[-1] if lines else proc.returncode}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["case"] = case.name
    result["mp"], result["frac"] = case.mp, case.frac
    return result


def check_targets(results: Sequence[dict]) -> list[tuple[str, bool | None, str]]:
    """Issue 2's targets as ``(target, met or None if not measured, measured value)``."""
    def find(mp: float, frac: float) -> dict | None:
        return next((r for r in results if r["mp"] == mp and r["frac"] == frac), None)

    out: list[tuple[str, bool | None, str]] = []
    r = find(12.0, 0.05)
    out.append(("12 MP, 5% clipped: latency < 10 s", None if r is None else r["latency_s"] < 10.0,
                "not measured" if r is None else f"{r['latency_s']:.2f} s"))
    out.append(("12 MP, 5% clipped: peak RSS < 2 GB", None if r is None else r["peak_rss_mb"] < 2048.0,
                "not measured" if r is None else f"{r['peak_rss_mb']:.0f} MB"))
    n = find(12.0, 0.0)
    out.append(("12 MP, nothing clipped: latency < 2 s", None if n is None else n["latency_s"] < 2.0,
                "not measured" if n is None else f"{n['latency_s']:.2f} s"))
    b = find(48.0, 0.05)
    if r is None or b is None:
        out.append(("48 MP peak RSS <= 1.5x 12 MP (5% clipped)", None, "not measured"))
    else:
        ratio = b["peak_rss_mb"] / r["peak_rss_mb"]
        out.append(("48 MP peak RSS <= 1.5x 12 MP (5% clipped)", ratio <= 1.5,
                    f"{b['peak_rss_mb']:.0f} / {r['peak_rss_mb']:.0f} MB = {ratio:.2f}x"))
    return out


def format_table(results: Sequence[dict]) -> str:
    """Markdown table of the results."""
    head = ("| case | size | clipped | tiles run | network MP | GFLOP/s | reconstruct s | render s | "
            "**latency s** | **peak RSS MB** | RSS before MB | load s |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    rows = []
    for r in results:
        gflop = r.get("network_mp", 0.0) * r.get("gflop_per_mp", 0.0)
        rate = f"{gflop / r['reconstruct_s']:.1f}" if gflop and r["reconstruct_s"] > 0 else "-"
        rows.append(f"| {r['case']} | {r['width']}x{r['height']} | {r['clipped_pct']:.1f}% | {r['tiles_run']} | "
                    f"{r.get('network_mp', 0.0):.1f} | {rate} | {r['reconstruct_s']:.2f} | {r['render_s']:.2f} | "
                    f"**{r['latency_s']:.2f}** | **{r['peak_rss_mb']:.0f}** | {r['rss_before_mb']:.0f} | "
                    f"{r['load_s']:.2f} |")
    return head + "\n".join(rows) + "\n"


def format_targets(results: Sequence[dict]) -> str:
    lines = []
    for name, ok, value in check_targets(results):
        mark = "not measured" if ok is None else ("met" if ok else "**MISSED**")
        lines.append(f"- {name}: {value} ({mark})")
    return "\n".join(lines) + "\n"


def machine_info() -> dict:
    """CPU model, core count, torch version, Python, load average."""
    import torch

    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "n/a"
    return {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__, "python": platform.python_version(),
            "load": load, "memory_gb": _mem_gb()}


def _mem_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return None


def section_text(results: Sequence[dict], machine: dict, command: str, failed: Sequence[str] = ()) -> str:
    """The ``## Inference`` section of docs/benchmarks.md."""
    m = dict(results[0]["model"]) if results else {}
    try:  # a path inside the working folder (the repository) is shown relative to it
        m["path"] = str(Path(m["path"]).resolve().relative_to(Path.cwd().resolve()))
    except (KeyError, ValueError, OSError):
        pass
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    mem = f", {machine['memory_gb']:.0f} GB RAM" if machine.get("memory_gb") else ""
    threads = results[0]["threads"] if results else "?"
    text = f"""## Inference

Measured {when} with

    {command}

- Machine: {machine['cpu']}, {machine['cores']} cores{mem}; torch {machine['torch']} (CPU), Python
  {machine['python']}, {threads} torch threads; load average at the start {machine['load']}
  (other jobs on the machine slow the numbers down).
- Model: `{m.get('path', '?')}`: {m.get('description', 'no description')}
  (trained_steps {m.get('trained_steps', '?')}; config {m.get('config', '?')};
  {results[0]['params'] if results else '?'} parameters,
  {results[0].get('gflop_per_mp', 0) if results else 0:.0f} GFLOP per megapixel of network input).
  Tiles of {results[0]['tile'] if results else '?'} px with {results[0]['context'] if results else '?'} px context
  (TileOptions defaults). *Network MP*: pixels the generator ran on (tiles overlap, and tiles
  without clipped pixels are skipped); *GFLOP/s*: the generator's operations / reconstruct time.
- Each case runs in a fresh process on a synthetic 4:3 photo (see `src/reexposure/apps/bench.py`).
  *Latency* = reconstruct (linearise, mask, generator on every tile with clipped pixels, blend) +
  render (re-expose at EV {BENCH_EV:g} to an 8-bit image). Not included: Python start-up, importing
  torch, loading the model (*load*), image decoding and encoding. *Peak RSS* is the whole process
  (`ru_maxrss`), including Python and torch; *RSS before* is the peak before reconstruction
  (interpreter, torch, model, the decoded photo).

{format_table(results)}
Targets (issue 2):

{format_targets(results)}"""
    if failed:
        text += "\nCases that did not finish:\n\n" + "".join(f"- {f}\n" for f in failed)
    return text


def update_markdown(path: str | Path, section: str) -> None:
    """Replace (or append) the generated part of the ``## Inference`` section of a markdown file,
    atomically. The notes people wrote under it are kept: every paragraph of the old section from
    the first one that starts with ``**`` (the dated notes, "**2026-12-04 11:18, ...**") on."""
    path = Path(path)
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    lines = old.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.strip() == "## Inference"), None)
    if start is None:
        new = old.rstrip("\n") + "\n\n" + section
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        notes_at = next((i for i in range(start + 1, end) if lines[i].startswith("**")), end)
        notes = "".join(lines[notes_at:end]).strip("\n")
        rest = "".join(lines[end:])
        body = section.rstrip("\n") + "\n" + ("\n" + notes + "\n" if notes else "")
        new = "".join(lines[:start]) + body + ("\n" + rest if rest else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, new.encode())


def select_cases(sizes: Sequence[float]) -> list[Case]:
    """The default cases of these megapixel sizes; a size without default cases gets 5%, 30% and
    0% clipped. Raises ``ValueError`` when nothing is selected."""
    cases = [Case(*c) for c in DEFAULT_CASES if c[0] in sizes]
    cases += [Case(s, f) for s in sizes if s not in {c[0] for c in DEFAULT_CASES} for f in (0.05, 0.30, 0.0)]
    if not cases:
        raise ValueError("no benchmark cases selected")
    return cases


def run_cases(cases: Sequence[Case], model: str | None = None, threads: int | None = None,
              timeout: float = 3600.0, json_path: str | Path | None = None,
              on_result: Callable[[Case, dict], None] | None = None,
              machine: dict | None = None) -> tuple[dict, list[dict], list[str]]:
    """Run ``cases`` one after the other (:func:`run_case`, each in a fresh process). A case that
    times out or fails is recorded in ``failed`` and the others still run; ``on_result(case,
    result)`` is called after each finished case, and ``json_path`` (if given) is rewritten after
    every case, so a long run keeps what it measured. ``machine``: :func:`machine_info`, taken now
    if not given. Returns (machine, results, failed); raises ``RuntimeError`` when no case finished."""
    machine = machine or machine_info()
    results: list[dict] = []
    failed: list[str] = []

    def save() -> None:
        if json_path:
            Path(json_path).write_text(json.dumps({"machine": machine, "results": results, "failed": failed},
                                                  indent=2))

    for case in cases:
        try:
            r = run_case(case, model=model, threads=threads, timeout=timeout)
        except subprocess.TimeoutExpired:
            failed.append(f"{case.name}: did not finish within {timeout:g} s")
            log.error("%s", failed[-1])
            continue
        except RuntimeError as exc:
            failed.append(str(exc))
            log.error("%s", failed[-1])
            continue
        results.append(r)
        if on_result is not None:
            on_result(case, r)
        save()
    if not results:
        raise RuntimeError("no benchmark case finished: " + "; ".join(failed))
    save()
    return machine, results, failed


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m reexposure.apps.bench --child SPEC``: one benchmark case in this process (internal;
    :func:`run_case` starts it). ``reexpose bench`` is the command for people."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) == 2 and argv[0] == "--child":
        print(json.dumps(_child(json.loads(argv[1]))))
        return 0
    print("usage: python -m reexposure.apps.bench --child SPEC (internal); run 'reexpose bench' instead",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
