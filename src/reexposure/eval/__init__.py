"""Evaluation: ``reexpose eval``, metrics (PSNR, SSIM, log-PSNR, PU21-PSNR, texture) and baselines.

- :mod:`reexposure.eval.metrics`: metric definitions on NCHW tensors.
- :mod:`reexposure.eval.pu21`: the PU21 perceptually uniform encoding (Mantiuk & Azimi 2021).
- :mod:`reexposure.eval.baselines`: methods by name (naive, brightness, kovaleski, ours, expandnet).
- :mod:`reexposure.eval.run`: the harness and its CLI (``add_cli``).
"""

from .metrics import fit_scale, gradient_energy, log_psnr, psnr, ssim, texture_ratio
from .pu21 import pu21_encode, pu21_psnr

__all__ = ["psnr", "ssim", "log_psnr", "pu21_psnr", "pu21_encode", "gradient_energy", "texture_ratio",
           "fit_scale"]
