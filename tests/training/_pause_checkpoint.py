"""``python _pause_checkpoint.py STEP SENTINEL ARGS...``: ``reexpose train ARGS`` that stops just before
the checkpoint of step STEP is renamed onto ``last.pt``: its temporary file is complete, its path is
written to SENTINEL, and the process sleeps (for the test to SIGKILL it). The pause is patched in here,
around ``os.replace``, so that the product code carries no test hook."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch

from reexposure.apps.cli import main

STEP, SENTINEL = int(sys.argv[1]), Path(sys.argv[2])
_replace = os.replace


def _pausing_replace(src, dst, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    if Path(dst).name == "last.pt" and torch.load(src, weights_only=True)["step"] == STEP:
        SENTINEL.write_text(str(src))
        time.sleep(3600)
    return _replace(src, dst, *args, **kwargs)


os.replace = _pausing_replace
sys.exit(main(["train", *sys.argv[3:]]))
