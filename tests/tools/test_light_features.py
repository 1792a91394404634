"""scripts/light_features.py end to end on a tiny synthetic HDR folder (scikit-learn is optional)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from _train_helpers import make_hdr_folder

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "light_features.py"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], check=False, capture_output=True, text=True,
                          timeout=300)


def test_light_features_table_or_a_one_line_error(tmp_path: Path) -> None:
    data = make_hdr_folder(tmp_path / "hdr", h=160, w=192)
    out = _run("--data", str(data), "--holdout", "v", "--side", "96")
    if importlib.util.find_spec("sklearn") is None:
        assert out.returncode == 1 and "scikit-learn" in out.stderr and "Traceback" not in out.stderr
        return
    assert out.returncode == 0, out.stderr
    for row in ("| model alone |", "| regressor on all features |"):
        assert row in out.stdout
    bad = _run("--data", str(data), "--holdout", "nope", "--side", "96")
    assert bad.returncode == 1 and "held-out scenes" in bad.stderr and "Traceback" not in bad.stderr
