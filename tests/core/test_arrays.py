"""core.arrays: the one uint8 <-> tensor conversion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reexposure.core.arrays import from_tensor, to_tensor, to_uint8, uint8_to_ldr


def test_tensor_and_array_paths_quantise_the_same() -> None:
    rng = np.random.default_rng(0)
    hwc = rng.uniform(-0.2, 1.2, (7, 9, 3)).astype(np.float32)
    hwc[0, 0] = [0.5 / 255, 1.5 / 255, 254.5 / 255]  # ties round half up
    from_numpy = to_uint8(hwc)
    from_torch = to_uint8(to_tensor(hwc))
    assert from_numpy.dtype == np.uint8 and from_numpy.shape == (7, 9, 3)
    assert np.array_equal(from_numpy, from_torch)
    assert from_numpy[0, 0].tolist() == [1, 2, 255]
    assert from_numpy.min() >= 0 and hwc.min() < 0 and (from_numpy[hwc >= 1] == 255).all()


def test_uint8_round_trip_and_16_bit() -> None:
    u8 = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    ldr = uint8_to_ldr(u8)
    assert ldr.shape == (1, 3, 16, 16) and ldr.dtype == torch.float32
    assert np.array_equal(to_uint8(ldr), u8) and np.array_equal(to_uint8(u8), u8)
    assert np.array_equal(to_uint8(u8.astype(np.uint16) * 257), u8)
    assert np.array_equal(from_tensor(to_tensor(u8)) * 255.0, u8.astype(np.float32))


def test_bad_inputs_are_value_errors() -> None:
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        uint8_to_ldr(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="batch of one"):
        to_uint8(torch.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match="batch of one"):
        from_tensor(torch.zeros(2, 3, 4, 4))
