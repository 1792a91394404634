"""Every maintenance script in scripts/ starts and prints its usage (imports resolve, options parse)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).resolve().parents[2] / "scripts").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_script_help(script: Path) -> None:
    out = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=300,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert "usage:" in out.stdout


def test_every_script_is_documented() -> None:
    readme = (SCRIPTS[0].parent / "README.md").read_text()
    assert all(f"`{s.name}`" in readme for s in SCRIPTS)
