"""scripts/bracket_levels.py on a synthetic bracket set: one row per clipped-channel group and
method, the truth the same for every method; a bad folder is a one-line error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from reexposure.core.weights import save_weights

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bracket_levels.py"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "eval"))
from test_eval_brackets import make_set  # noqa: E402


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300,
                          check=False)


def test_levels_table_for_two_models(tmp_path: Path, tiny_model) -> None:  # type: ignore[no-untyped-def]
    make_set(tmp_path / "brackets", "one")
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    save_weights(tiny_model, a)
    save_weights(tiny_model, b)
    out = _run("--brackets", str(tmp_path / "brackets"), "--weights", str(a), "--weights", str(b), "--threads", "1")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "| pair | channels clipped | pixels | truth | naive | a | b |"
    rows = [ln.split(" | ") for ln in lines[2:]]
    assert [r[1] for r in rows] == ["0", "1", "2", "3"]  # one entry with a darker frame, four groups
    assert all(r[0] == "| one/bright.png" for r in rows)
    assert rows[3][5] == rows[3][6].rstrip(" |")  # the same weights give the same level
    bad = _run("--brackets", str(tmp_path / "nothing"))
    assert bad.returncode == 2 and bad.stderr.startswith("bracket_levels: ") and len(bad.stderr.splitlines()) == 1
