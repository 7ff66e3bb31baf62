"""Image quality metrics on uint8 RGB images: PSNR, SSIM and L1, over the whole image or a mask.

One implementation serves training's validation and `reenact eval`, so the
numbers in a training log and an eval report mean the same thing. SSIM is
scikit-image's with Wang et al.'s settings (Gaussian window, sigma 1.5, no
sample-covariance correction); its per-pixel map makes the masked (face
region) variant a plain mean over the mask.
"""

from __future__ import annotations

import numpy as np
from skimage.metrics import structural_similarity


def _check_pair(pred: np.ndarray, real: np.ndarray, mask: np.ndarray | None) -> None:
    if pred.shape != real.shape or pred.ndim != 3 or pred.shape[2] != 3:
        raise ValueError(f"expected two uint8 H x W x 3 images of one shape, got {pred.shape} and {real.shape}")
    if pred.dtype != np.uint8 or real.dtype != np.uint8:
        raise ValueError(f"expected uint8 images, got {pred.dtype} and {real.dtype}")
    if mask is not None and (mask.shape != pred.shape[:2] or not mask.any()):
        raise ValueError(f"mask must be a non-empty bool H x W = {pred.shape[:2]}, got shape {mask.shape}")


def _squared_error(pred: np.ndarray, real: np.ndarray, mask: np.ndarray | None) -> float:
    error = (pred.astype(np.float64) - real.astype(np.float64)) ** 2
    return float(error[mask].mean() if mask is not None else error.mean())


def psnr(pred: np.ndarray, real: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB (peak 255) over all pixels or the `mask` (bool H x W); inf when equal."""
    _check_pair(pred, real, mask)
    mse = _squared_error(pred, real, mask)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def ssim(pred: np.ndarray, real: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Structural similarity (1 = identical) averaged over all pixels or the `mask` (bool H x W)."""
    _check_pair(pred, real, mask)
    _, local = structural_similarity(
        pred, real, channel_axis=2, data_range=255, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, full=True,
    )
    local = local.mean(axis=2)
    return float(local[mask].mean() if mask is not None else local.mean())


def l1(pred: np.ndarray, real: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean absolute difference in [0, 1] units (255 = 1) over all pixels or the `mask`."""
    _check_pair(pred, real, mask)
    error = np.abs(pred.astype(np.float64) - real.astype(np.float64)) / 255.0
    return float(error[mask].mean() if mask is not None else error.mean())
