"""Fixtures of the formats tests."""

from __future__ import annotations

import pytest
from io_helpers import ADOBE_PRIMARIES, P3_PRIMARIES, make_icc


@pytest.fixture(scope="module")
def p3_icc() -> bytes:
    return make_icc("Display P3 (test)", P3_PRIMARIES, "srgb")


@pytest.fixture(scope="module")
def adobe_icc() -> bytes:
    return make_icc("Adobe RGB (1998) (test)", ADOBE_PRIMARIES, "adobe")
