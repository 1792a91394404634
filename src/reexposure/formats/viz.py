"""Pictures for people: contact sheets of labelled image rows (PIL only)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from ..core.arrays import to_uint8

__all__ = ["contact_sheet"]


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def contact_sheet(rows: Sequence[Sequence[torch.Tensor | np.ndarray]], labels: Sequence[str],
                  row_labels: Sequence[str] | None = None, cell: int = 256, pad: int = 4) -> Image.Image:
    """A grid image: one row per sample, one column per label; cells resized to ``cell`` px high."""
    header = 22
    side = 0 if row_labels is None else 150
    cells = [[Image.fromarray(to_uint8(im)) for im in row] for row in rows]
    widths = [max(int(round(c.width * cell / c.height)) for c in col) for col in zip(*cells)] if cells else []
    W = side + sum(widths) + pad * (len(widths) + 1)
    H = header + len(cells) * (cell + pad) + pad
    sheet = Image.new("RGB", (W, H), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    font = _font(14)
    x = side + pad
    for w, label in zip(widths, labels):
        draw.text((x + 2, 3), label, fill=(235, 235, 235), font=font)
        x += w + pad
    for r, row in enumerate(cells):
        y = header + r * (cell + pad)
        if row_labels is not None:
            draw.text((4, y + 4), row_labels[r][:22], fill=(235, 235, 235), font=font)
        x = side + pad
        for w, im in zip(widths, row):
            sheet.paste(im.resize((w, cell), Image.Resampling.LANCZOS), (x, y))
            x += w + pad
    return sheet
