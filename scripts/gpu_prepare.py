"""Prepare what a lent GPU machine needs for scripts/gpu_run.sh (run HERE, on the CPU machine).

    .venv/bin/python scripts/gpu_prepare.py                  # -> .gpu/ (ignored by git)

The device tool sends the working tree plus at most 8 ignored folders named in ``carry`` (64 MiB in
all); ``../shared`` does not travel. This writes into ``--out`` (default ``.gpu``):

* ``hdr/``: every scene of ``--src`` (default ``../shared/data/hdr``) that the config does not
  ``exclude`` (training scenes and the held-out ones, which validation and the evaluation use), in
  the same folder layout, so scene names (file stems) are unchanged. Each is downscaled to
  ``--max-side`` px on its long side (antialiased, as ``reexpose eval --max-side`` does), scaled by
  a power of two so that 95% of its pixels lie near or below 1 (training and evaluation normalise
  each image this way anyway), rounded to ``--mantissa-bits`` bits of half-float mantissa (7: at
  most 0.4% relative error, which ZIP then packs ~30% smaller than the full 10 bits) and written
  as half-float OpenEXR with ZIP compression by the package's own writer (``reexposure.formats.io.write_hdr``).
* ``crf/emor.txt``: the EMoR camera curves the config's ``pairs.emor_path`` names (copied from
  ``--emor``).
* ``whl/``: the wheels the device's Python (3.12, x86-64) lacks: OpenEXR, at the version installed
  here (``read_hdr`` needs it for .exr). numpy, torch, pillow, scipy, safetensors, pyyaml and tqdm
  are there; pillow-heif and imageio-ffmpeg are imported lazily and not needed for train/eval.
* ``MANIFEST.json``: what was written, from where, and how.

The starting weights (``src/reexposure/weights/default.safetensors``) are tracked and travel anyway.
It prints the size of what travels (working tree + this folder) and fails above 64 MiB.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MIB = 2**20
LIMIT_MIB = 64.0  # what the device tool carries, in all
TARGET_MIB = 45.0  # what the issue asks to stay under
HALF_MAX = 65504.0
WHEEL_PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
                   "manylinux2014_x86_64", "manylinux1_x86_64")
#: distributions the device lacks (import name, distribution name)
DEVICE_MISSING = (("OpenEXR", "OpenEXR"),)


def round_mantissa(half: np.ndarray, bits: int) -> np.ndarray:
    """float16 array -> the same values rounded (to nearest) to ``bits`` mantissa bits (of 10).
    Values that would round up past the largest finite half are truncated instead."""
    if bits >= 10:
        return half
    drop = 10 - bits
    u = half.view(np.uint16).astype(np.uint32)
    mask = np.uint32(0xFFFF ^ ((1 << drop) - 1))
    rounded = ((u + np.uint32(1 << (drop - 1))) & mask).astype(np.uint16)
    finite = (rounded & 0x7C00) != 0x7C00  # exponent all ones = inf/nan
    out = np.where(finite, rounded, (u & mask).astype(np.uint16))
    return out.astype(np.uint16).view(np.float16)


def pack_scene(image: np.ndarray, max_side: int, bits: int) -> np.ndarray:
    """HxWx3 float32 radiance -> downscaled, power-of-two scaled, mantissa-rounded float32 values
    that float16 holds exactly (what write_hdr(half=True) then writes without further rounding)."""
    from reexposure.eval.run import downscale

    img = downscale(np.ascontiguousarray(image, dtype=np.float32), max_side)
    peak = img.max(axis=-1)
    q = float(np.percentile(peak, 95))
    if not math.isfinite(q) or q <= 0:
        positive = peak[peak > 0]
        q = float(positive.max()) if positive.size else 1.0
    e = -round(math.log2(q))
    top = float(img.max())
    while top > 0 and top * 2.0**e > HALF_MAX:
        e -= 1
    img = img * np.float32(2.0**e)
    half = np.minimum(img, HALF_MAX).astype(np.float16)
    return round_mantissa(half, bits).astype(np.float32)


def travelling_tree_bytes(repo: Path) -> tuple[int, int]:
    """(bytes, files) of what the device tool sends besides carried folders: tracked files and
    untracked files that git does not ignore."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo,
                             capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return 0, 0
    total = n = 0
    for name in set(out.decode(errors="replace").split("\0")):
        p = repo / name
        if name and p.is_file() and not p.is_symlink():
            total += p.stat().st_size
            n += 1
    return total, n


def folder_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def download_wheels(dest: Path, python_version: str) -> list[str]:
    """pip-download the wheels of :data:`DEVICE_MISSING` (versions as installed here) into ``dest``."""
    from importlib import metadata

    dest.mkdir(parents=True, exist_ok=True)
    got = []
    for _, dist in DEVICE_MISSING:
        version = metadata.version(dist)
        if list(dest.glob(f"{dist.lower()}-{version}-*.whl")):
            got.append(f"{dist}=={version} (already there)")
            continue
        for old in dest.glob(f"{dist.lower()}-*.whl"):  # one version of each: two stop the install
            old.unlink()
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--python-version", python_version, "--implementation", "cp", "-d", str(dest), "-q"]
        for plat in WHEEL_PLATFORMS:
            cmd += ["--platform", plat]
        cmd.append(f"{dist}=={version}")
        r = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if r.returncode:
            raise SystemExit(f"gpu_prepare: error: pip download {dist}=={version} failed "
                             f"(no network? pass --no-wheels to skip):\n{r.stderr.strip()[-800:]}")
        got.append(f"{dist}=={version}")
    return got


def main(argv: list[str] | None = None) -> int:
    from reexposure.formats.io import read_hdr, write_hdr
    from reexposure.formats.scenes import find_hdr_files
    from reexposure.training.trainer import load_train_config

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--config", default=str(REPO / "configs" / "gpu-8min.yaml"),
                    help="training config whose exclude list is applied (default configs/gpu-8min.yaml)")
    ap.add_argument("--src", type=Path, default=REPO.parent / "shared" / "data" / "hdr",
                    help="source HDR folder (default ../shared/data/hdr)")
    ap.add_argument("--out", type=Path, default=REPO / ".gpu", help="output folder (default .gpu)")
    ap.add_argument("--emor", default=str(REPO.parent / "shared" / "data" / "crf" / "emor.txt"),
                    help="EMoR file copied to OUT/crf/emor.txt ('' = none)")
    ap.add_argument("--max-side", type=int, default=512, help="long side of the written scenes, px (default 512)")
    ap.add_argument("--mantissa-bits", type=int, default=7, choices=range(4, 11), metavar="4..10",
                    help="half-float mantissa bits kept (default 7; 10 = lossless half)")
    ap.add_argument("--no-wheels", action="store_true", help="do not download the wheels the device lacks")
    ap.add_argument("--python-version", default="3.12", help="the device's Python (default 3.12)")
    args = ap.parse_args(argv)

    t0 = time.time()
    config = load_train_config(args.config, [])
    exclude = set(config.exclude)
    holdout = set(config.holdout)
    files = find_hdr_files(args.src)
    if not files:
        ap.exit(1, f"gpu_prepare: error: no HDR files in {args.src}\n")
    hdr_out = args.out / "hdr"
    if hdr_out.exists():
        shutil.rmtree(hdr_out)  # no stale scenes from an earlier preparation
    scenes = []
    for p in files:
        if p.stem in exclude:
            continue
        rel = p.relative_to(args.src).with_suffix(".exr")
        dst = hdr_out / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        img = pack_scene(read_hdr(p), args.max_side, args.mantissa_bits)
        write_hdr(dst, img, half=True, force=True)
        scenes.append({"scene": p.stem, "file": str(rel), "size": [int(img.shape[1]), int(img.shape[0])],
                       "holdout": p.stem in holdout, "bytes": dst.stat().st_size})
    missing_holdout = sorted(holdout - {s["scene"] for s in scenes})

    emor = ""
    if args.emor:
        src = Path(args.emor)
        if not src.is_file():
            ap.exit(1, f"gpu_prepare: error: EMoR file {src} not found (pass --emor '' to go without)\n")
        (args.out / "crf").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, args.out / "crf" / "emor.txt")
        emor = str(src)
    wheels = [] if args.no_wheels else download_wheels(args.out / "whl", args.python_version)

    data_bytes = folder_bytes(hdr_out)
    manifest = {"src": str(args.src), "config": str(args.config), "max_side": args.max_side,
                "mantissa_bits": args.mantissa_bits, "format": "OpenEXR half, ZIP (reexposure.formats.io.write_hdr)",
                "scenes": len(scenes), "train_scenes": sum(not s["holdout"] for s in scenes),
                "holdout_scenes": sum(s["holdout"] for s in scenes), "missing_holdout": missing_holdout,
                "excluded": sorted(exclude & {p.stem for p in files}), "emor": emor, "wheels": wheels,
                "hdr_mib": round(data_bytes / MIB, 2), "files": scenes}
    (args.out / "MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n")

    prep = folder_bytes(args.out)
    tree, n_tree = travelling_tree_bytes(REPO)
    total = prep + tree
    print(f"wrote {args.out}: {len(scenes)} scenes ({manifest['train_scenes']} train, "
          f"{manifest['holdout_scenes']} held out, {len(manifest['excluded'])} excluded) at <= {args.max_side} px, "
          f"{args.mantissa_bits}-bit mantissa: {data_bytes / MIB:.1f} MiB; wheels: {', '.join(wheels) or 'none'}; "
          f"in {time.time() - t0:.0f} s")
    if missing_holdout:
        print(f"warning: held-out scenes not in {args.src}: {', '.join(missing_holdout)}")
    print(f"travels: {args.out} {prep / MIB:.1f} MiB + working tree {tree / MIB:.1f} MiB ({n_tree} files) "
          f"= {total / MIB:.1f} MiB (limit {LIMIT_MIB:.0f} MiB, target < {TARGET_MIB:.0f} MiB)")
    if total > LIMIT_MIB * MIB:
        print("gpu_prepare: error: over the device tool's 64 MiB: lower --max-side or --mantissa-bits",
              file=sys.stderr)
        return 1
    if total > TARGET_MIB * MIB:
        print(f"warning: above the {TARGET_MIB:.0f} MiB target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
