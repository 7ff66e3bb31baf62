"""Edit-mask growth: the CPU's OpenCV dilation equals a square max filter, at the borders too."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from reenact.render.edit_mask import grow_mask


def _square_max_filter(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """The definition: a pixel is in the grown mask when any pixel within `pixels` (Chebyshev) is in the mask."""
    flat = mask.reshape(-1, 1, *mask.shape[-2:]).float()
    return (F.max_pool2d(flat, 2 * pixels + 1, 1, pixels) > 0).reshape(mask.shape)


@pytest.mark.parametrize("pixels", [0, 1, 13])
def test_grow_mask_is_a_square_max_filter(pixels):
    g = torch.Generator().manual_seed(0)
    mask = torch.rand(2, 3, 64, 64, generator=g) > 0.995  # scattered pixels, some at the borders
    mask[0, 0, 0, 0] = mask[1, 2, 63, 10] = True
    grown = grow_mask(mask, pixels)
    assert grown.shape == mask.shape and grown.dtype == torch.bool
    assert torch.equal(grown, _square_max_filter(mask, pixels) if pixels else mask)
    assert grown[0, 0, :pixels + 1, :pixels + 1].all()  # the corner pixel's square, cut by the border
