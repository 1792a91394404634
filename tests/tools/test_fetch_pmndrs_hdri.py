"""scripts/fetch_pmndrs_hdri.py on synthetic tarballs (no network)."""

from __future__ import annotations

import base64
import importlib.util
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fetch_pmndrs_hdri.py"
_spec = importlib.util.spec_from_file_location("fetch_pmndrs_hdri", SCRIPT)
assert _spec is not None and _spec.loader is not None
fetch = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fetch)


def _tarball(modules: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, text in {"package/LICENSE": "CC0 1.0 Universal\n", **modules}.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _exr_bytes(tmp_path: Path) -> bytes:
    from reexposure.formats.io import write_hdr

    path = tmp_path / "x.exr"
    write_hdr(path, np.full((4, 6, 3), 2.5, np.float32))
    return path.read_bytes()


def test_extract_decodes_every_module_and_the_licence(tmp_path: Path) -> None:
    """Each ``hdri/<name>.exr.js`` data URL decodes to the exact EXR bytes; other files are ignored."""
    exr = _exr_bytes(tmp_path)
    url = "export default 'data:application/exr;base64," + base64.b64encode(exr).decode() + "'\n"
    files, licence = fetch.extract(_tarball({"package/hdri/city.exr.js": url, "package/hdri/city.exr.d.ts": url,
                                             "package/models/suzi.glb.js": url}))
    assert files == {"city": exr}
    assert licence.startswith(b"CC0")


def test_decode_module_refuses_what_is_not_an_exr_data_url() -> None:
    """A module without a data URL, or one whose payload is not OpenEXR, is a one-line FetchError."""
    with pytest.raises(fetch.FetchError, match="no 'data:application/exr"):
        fetch.decode_module("export default 42\n", "a.exr.js")
    png = "export default 'data:application/exr;base64," + base64.b64encode(b"\x89PNG....").decode() + "'"
    with pytest.raises(fetch.FetchError, match="not an OpenEXR"):
        fetch.decode_module(png, "b.exr.js")


def test_main_checks_the_tarball_hash_and_refuses_to_clobber(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A tarball that is not the pinned version's is refused (exit 2, nothing written); a good one is
    written as pmndrs_<name>.exr readable by read_hdr, and a second run needs --force."""
    import hashlib

    from reexposure.formats.io import read_hdr

    exr = _exr_bytes(tmp_path)
    blob = _tarball({"package/hdri/night.exr.js":
                     "export default 'data:application/exr;base64," + base64.b64encode(exr).decode() + "'"})
    tarball = tmp_path / "assets.tgz"
    tarball.write_bytes(blob)
    out = tmp_path / "out"
    assert fetch.main([str(out), "--tarball", str(tarball)]) == 2
    assert "SHA-1" in capsys.readouterr().err and not out.exists()

    monkeypatch.setattr(fetch, "SHA1", hashlib.sha1(blob).hexdigest())
    assert fetch.main([str(out), "--tarball", str(tarball)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["LICENSE", "pmndrs_night.exr"]
    np.testing.assert_allclose(np.asarray(read_hdr(out / "pmndrs_night.exr")), 2.5)
    capsys.readouterr()
    assert fetch.main([str(out), "--tarball", str(tarball)]) == 2
    assert "--force" in capsys.readouterr().err
    assert fetch.main([str(out), "--tarball", str(tarball), "--force", "--raw"]) == 0
    assert (out / "pmndrs_night.exr").read_bytes() == exr  # --raw: the packaged bytes


def test_repair_replaces_ringing_groups_by_their_energy_and_keeps_the_rest() -> None:
    """Two touching 8x8 blocks around a peak with negative lobes become one grey value, their mean
    (the energy they held); a small negative far from any light becomes 0; other pixels stay."""
    rgb = np.full((16, 32, 3), 0.5, np.float32)
    rgb[2:6, 6:10] = [[900.0, 800.0, 1000.0]]   # a lamp straddling blocks (0, 0) and (0, 1)
    rgb[1, 5] = -300.0                          # its ringing, in block (0, 0)
    rgb[6, 11] = [-200.0, 5.0, 5.0]             # and in block (0, 1)
    rgb[12, 28] = [-0.01, 0.2, 0.2]             # DWAB noise in a dark block far away
    repaired, blocks = fetch.repair_dwab_blocks(rgb)
    assert blocks == 2
    group = rgb[0:8, 0:16]
    np.testing.assert_allclose(repaired[0:8, 0:16], group.mean(), rtol=1e-5)
    assert repaired[12, 28].tolist() == [0.0, pytest.approx(0.2), pytest.approx(0.2)]
    np.testing.assert_array_equal(repaired[8:, :16], rgb[8:, :16])
    assert repaired.min() >= 0
