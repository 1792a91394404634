"""formats.scenes: scene folders and the named splits (data, not code)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reexposure.formats.scenes import DataError, find_hdr_files, holdout_scenes, normalize_95, split_scenes


def test_holdout_split_is_read_from_its_data_file() -> None:
    scenes = holdout_scenes()
    assert len(scenes) == 19 and len(set(scenes)) == 19  # 13 until v0.3, six of polyhaven_more since v0.4
    assert scenes[0] == "GoldenGate" and "chinese_garden_1k" in scenes and scenes[-1] == "spree_bank_1k"
    text = (Path(__file__).resolve().parents[2] / "src/reexposure/formats/splits/holdout.txt").read_text()
    assert all(s in text for s in scenes)


def test_unknown_or_bad_split_names_are_errors() -> None:
    with pytest.raises(DataError, match="no split named 'nope'"):
        split_scenes("nope")
    with pytest.raises(DataError, match="bad split name"):
        split_scenes("../etc")


def test_find_hdr_files_skips_hidden_and_excluded(tmp_path: Path) -> None:
    for rel in ("a.exr", "sub/b.HDR", ".hidden/c.pfm", "sub/.d.exr", "e.jpg", "f.exr"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    assert [p.name for p in find_hdr_files(tmp_path, exclude=("f",))] == ["a.exr", "b.HDR"]
    with pytest.raises(DataError, match="not a folder"):
        find_hdr_files(tmp_path / "missing")


def test_normalize_95() -> None:
    img = np.linspace(0, 10, 100 * 3, dtype=np.float32).reshape(10, 10, 3)
    out = normalize_95(img)
    assert np.mean(out.max(axis=-1) <= 1.0) == pytest.approx(0.95, abs=0.02)
