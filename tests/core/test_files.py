"""core.files: the one atomic write."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reexposure.core.files import atomic_path, atomic_write_bytes, file_mode, stale_temp_files


def test_atomic_write_replaces_and_leaves_no_temp_file(tmp_path: Path) -> None:
    out = tmp_path / "a.bin"
    atomic_write_bytes(out, b"one")
    atomic_write_bytes(out, b"two", sync_folder=True)
    assert out.read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]
    assert (out.stat().st_mode & 0o777) == file_mode()


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    out = tmp_path / "a.png"
    out.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(out) as tmp:
        tmp.write_bytes(b"half")
        assert tmp.parent == tmp_path and tmp.name.startswith(".a.") and tmp.suffix == ".png"
        raise RuntimeError("encoder died")
    assert out.read_bytes() == b"old" and sorted(os.listdir(tmp_path)) == ["a.png"]


def test_no_overwrite_commits_with_a_link(tmp_path: Path) -> None:
    out = tmp_path / "a.jpg"
    with atomic_path(out, overwrite=False) as tmp:
        tmp.write_bytes(b"first")
    assert out.read_bytes() == b"first"
    with pytest.raises(FileExistsError), atomic_path(out, overwrite=False) as tmp:
        tmp.write_bytes(b"second")
    assert out.read_bytes() == b"first" and sorted(os.listdir(tmp_path)) == ["a.jpg"]


def test_stale_temp_files_are_those_of_this_target_only(tmp_path: Path) -> None:
    out = tmp_path / "photo_ev-2.jpg"
    mine = tmp_path / ".photo_ev-2.abcd1234.tmp.jpg"
    other = tmp_path / ".photo_ev-3.abcd1234.tmp.jpg"
    for p in (mine, other):
        p.write_bytes(b"x")
    assert stale_temp_files(out) == [mine]
