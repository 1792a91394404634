"""Fetch 18 extra HDR panoramas for training: the Poly Haven HDRIs packaged by ``@pmndrs/assets``.

The npm package ``@pmndrs/assets`` (CC0-1.0, https://github.com/pmndrs/assets) carries a selection of
Poly Haven HDRIs (CC0) as base64 ``data:`` URLs inside JavaScript modules (``hdri/<name>.exr.js``):
equirectangular, 512x256 px, OpenEXR with DWAB (lossy) compression. This script downloads the
package tarball from the npm registry (or reads one you pass with ``--tarball``), checks its
SHA-1 against the registry's published one for the pinned version, and writes the decoded files as
``OUT/pmndrs_<name>.exr`` (prefixed so that none shares a name, and so a hold-out entry, with a
scene of ``../shared/data/hdr``: ``city``, ``forest``, ``hall``, ``park``, ``studio`` do) with
the package's LICENSE beside them. DWAB's ringing around suns and lamps (negative lobes, zeroed
channels) is repaired first (:func:`repair_dwab_blocks`; ``--raw`` keeps the packaged bytes).

Training uses one folder, so combine it with the shared data by links, e.g.::

    python scripts/fetch_pmndrs_hdri.py data/pmndrs
    mkdir -p data/combined && ln -s "$(realpath ../shared/data/hdr)"/* data/combined/ \\
        && ln -s "$(realpath data/pmndrs)" data/combined/pmndrs
    reexpose train --config configs/cpu-stage3.yaml data=data/combined ...

None of the 18 is a copy of a scene of ``../shared/data/hdr`` (checked by the correlation of their
high-passed log luminance at every horizontal turn and mirror: at most 0.61; MODEL_CARD.md).

Exit status: 0 written, 2 bad input (one line on stderr), 130 interrupted.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import re
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import numpy as np
from tqdm import tqdm

from reexposure.formats.io import ImageError, atomic_output, read_hdr, write_hdr

VERSION = "1.7.0"
URL = f"https://registry.npmjs.org/@pmndrs/assets/-/assets-{VERSION}.tgz"
SHA1 = "46e14926f6a40b44ac44bde8140b423148b9221f"  # `npm view @pmndrs/assets@1.7.0 dist.shasum`
PREFIX = "data:application/exr;base64,"
DATA_URL = re.compile(re.escape(PREFIX) + r"([A-Za-z0-9+/=]+)")
EXR_MAGIC = b"\x76\x2f\x31\x01"


class FetchError(Exception):
    """A one-line reason why nothing (more) was written."""


def decode_module(text: str, name: str) -> bytes:
    """The OpenEXR bytes inside one ``hdri/<name>.exr.js`` module (``export default 'data:...'``)."""
    match = DATA_URL.search(text)
    if match is None:
        raise FetchError(f"{name}: no {PREFIX!r} data URL in the module")
    data = base64.b64decode(match.group(1), validate=True)
    if not data.startswith(EXR_MAGIC):
        raise FetchError(f"{name}: decoded data is not an OpenEXR file")
    return data


def read_tarball(path: Path | None) -> bytes:
    """The package tarball: ``path`` if given, else downloaded from the npm registry; SHA-1 checked."""
    if path is not None:
        try:
            blob = path.read_bytes()
        except OSError as exc:
            raise FetchError(f"cannot read {path}: {exc.strerror or exc}") from None
    else:
        try:
            with urllib.request.urlopen(URL, timeout=120) as response:
                blob = response.read()
        except OSError as exc:
            raise FetchError(f"cannot download {URL} ({exc}); download it elsewhere and pass --tarball") from None
    digest = hashlib.sha1(blob).hexdigest()
    if digest != SHA1:
        raise FetchError(f"tarball SHA-1 {digest} is not @pmndrs/assets@{VERSION}'s ({SHA1})")
    return blob


def extract(blob: bytes) -> tuple[dict[str, bytes], bytes]:
    """``{name: exr bytes}`` for every ``package/hdri/*.exr.js`` of the tarball, and its LICENSE."""
    files: dict[str, bytes] = {}
    licence = b""
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for member in tar.getmembers():
            if not member.isfile():
                continue
            if member.name == "package/LICENSE":
                licence = tar.extractfile(member).read()  # type: ignore[union-attr]
            elif member.name.startswith("package/hdri/") and member.name.endswith(".exr.js"):
                name = member.name[len("package/hdri/"):-len(".exr.js")]
                text = tar.extractfile(member).read().decode("ascii")  # type: ignore[union-attr]
                files[name] = decode_module(text, member.name)
    if not files:
        raise FetchError("no hdri/*.exr.js modules in the tarball")
    return files, licence


def repair_dwab_blocks(rgb: np.ndarray, bright: float = 4.0) -> tuple[np.ndarray, int]:
    """Undo DWAB's ringing around light sources; returns the repaired copy and the blocks replaced.

    DWAB codes 8x8 blocks by a quantised DCT. Around a sun or a lamp (10^3-10^4 times the image's
    95th percentile) the lost high frequencies leave lobes of large negative values beside the peak
    (e.g. -1876 next to 11800) and zeroed channels. An 8x8 block (aligned to the data window) is
    damaged if it has a negative value and a value above ``bright`` times the 95th percentile of the
    per-pixel maximum. Each group of touching damaged blocks is replaced by one grey value, the
    group's mean over its pixels and channels (its energy, which the low frequencies keep; one block
    alone may hold only a negative lobe): a light source blurred to the blocks it spans, instead of a
    ring of black and coloured pixels. Other negative values (small ones in dark areas) are set to 0.

    ``rgb``: HxWx3 float linear radiance, any scale."""
    from scipy import ndimage

    out = np.array(rgb, dtype=np.float32)
    h, w = out.shape[:2]
    peak = float(np.quantile(out.max(-1), 0.95))
    pad = np.pad(out, ((0, -h % 8), (0, -w % 8), (0, 0)), mode="edge")
    blocks = pad.reshape(pad.shape[0] // 8, 8, pad.shape[1] // 8, 8, 3)
    damaged = (blocks.min(axis=(1, 3, 4)) < 0) & (blocks.max(axis=(1, 3, 4)) > bright * peak)
    groups, count = ndimage.label(damaged, structure=np.ones((3, 3)))
    for group in range(1, count + 1):
        ys, xs = np.nonzero(groups == group)
        pixels = np.zeros((h, w), dtype=bool)
        for by, bx in zip(ys, xs):
            pixels[8 * by:8 * by + 8, 8 * bx:8 * bx + 8] = True
        out[pixels] = max(float(out[pixels].mean()), 0.0)
    return np.maximum(out, 0.0), int(damaged.sum())


def read_exr_bytes(data: bytes, name: str) -> np.ndarray:
    """The HxWx3 float32 RGB pixels of an in-memory OpenEXR file (``read_hdr``), negatives kept."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        return read_hdr(path, keep_negative=True)


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path, help="folder for pmndrs_<name>.exr and LICENSE (created)")
    ap.add_argument("--tarball", type=Path, help=f"a local copy of assets-{VERSION}.tgz instead of downloading")
    ap.add_argument("--force", action="store_true", help="overwrite files that already exist")
    ap.add_argument("--raw", action="store_true",
                    help="write the packaged EXR bytes as they are (DWAB ringing around lights kept; "
                         "see repair_dwab_blocks)")
    args = ap.parse_args(argv)
    try:
        files, licence = extract(read_tarball(args.tarball))
        targets = {args.out / f"pmndrs_{name}.exr": data for name, data in sorted(files.items())}
        targets[args.out / "LICENSE"] = licence
        existing = [p.name for p in targets if p.exists()]
        if existing and not args.force:
            raise FetchError(f"{args.out}: {len(existing)} files exist ({existing[0]}, ...); pass --force")
        args.out.mkdir(parents=True, exist_ok=True)
        repaired = 0
        for path, data in tqdm(targets.items(), desc="write", unit="file", disable=None):
            if path.name == "LICENSE" or args.raw:
                with atomic_output(path, force=args.force) as tmp:
                    tmp.write_bytes(data)
            else:
                rgb, blocks = repair_dwab_blocks(read_exr_bytes(data, path.name))
                repaired += blocks
                write_hdr(path, rgb, half=True, force=args.force)
    except (FetchError, ImageError) as exc:
        print(f"fetch_pmndrs_hdri: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"fetch_pmndrs_hdri: error: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    how = "as packaged" if args.raw else f"{repaired} 8x8 blocks of DWAB ringing replaced by their group's mean"
    print(f"wrote {len(files)} HDR panoramas (@pmndrs/assets {VERSION}, CC0-1.0) to {args.out}; {how}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
