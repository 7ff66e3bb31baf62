"""Image quality metrics on uint8 RGB images: PSNR, SSIM and L1 over the whole image or a mask; flicker.

One implementation serves training's validation and `reenact eval`, so the
numbers in a training log and an eval report mean the same thing. SSIM is
scikit-image's with Wang et al.'s settings (Gaussian window, sigma 1.5, no
sample-covariance correction); its per-pixel map makes the masked (face
region) variant a plain mean over the mask.

Sharpness is the variance of the Laplacian (of the grey image) inside the
face, generated over real: 1 is as much fine detail as the real frame, and an
L1-trained generator's blur shows as a value well below it, where PSNR barely
moves.

Temporal stability (`flicker`) compares, pixel by pixel, how much consecutive
generated frames differ with how much the real frames they stand for differ,
so that real motion is not counted as flicker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise

import cv2
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


def ssim_map(pred: np.ndarray, real: np.ndarray) -> np.ndarray:
    """float64 H x W local SSIM (`ssim`'s map, averaged over channels): one pass serves the crop and a mask."""
    _check_pair(pred, real, None)
    _, local = structural_similarity(
        pred, real, channel_axis=2, data_range=255, gaussian_weights=True, sigma=1.5,
        use_sample_covariance=False, full=True,
    )
    return local.mean(axis=2)


def laplacian_variance(image: np.ndarray, mask: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image (uint8 H x W x 3 RGB) over the bool mask: fine detail."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)
    return float(cv2.Laplacian(grey, cv2.CV_64F, ksize=3)[mask].var())


def sharpness(pred: np.ndarray, real: np.ndarray, mask: np.ndarray) -> float:
    """`laplacian_variance` of `pred` over that of `real` inside `mask` (1: as detailed as the real frame)."""
    _check_pair(pred, real, mask)
    return laplacian_variance(pred, mask) / max(laplacian_variance(real, mask), 1e-9)


def image_scores(
    pred: np.ndarray, real: np.ndarray, face: np.ndarray | None, regions: Mapping[str, np.ndarray | None] | None = None
) -> dict[str, float]:
    """PSNR, SSIM and L1 over the whole image; PSNR, SSIM and sharpness over `face` (bool H x W; NaN when None
    or empty); PSNR and SSIM over each of `regions` (name -> bool H x W, keys psnr_NAME and ssim_NAME). One
    SSIM pass: keys psnr, psnr_face, ssim, ssim_face, l1, sharpness (the same values as `psnr`, `ssim`, `l1`,
    `sharpness`)."""
    local = ssim_map(pred, real)
    has_face = face is not None and bool(face.any())
    scores = {
        "psnr": psnr(pred, real),
        "ssim": float(local.mean()),
        "l1": l1(pred, real),
        "sharpness": sharpness(pred, real, face) if has_face else float("nan"),
    }
    for name, mask in {"face": face, **(regions or {})}.items():
        present = mask is not None and bool(mask.any())
        scores[f"psnr_{name}"] = psnr(pred, real, mask) if present else float("nan")
        scores[f"ssim_{name}"] = float(local[mask].mean()) if present else float("nan")
    return scores


def pair_flicker(
    generated_previous: np.ndarray, generated: np.ndarray, real_previous: np.ndarray, real: np.ndarray
) -> float:
    """Flicker of one pair of consecutive frames (uint8 H x W x 3 each), in the [0, 1] units of `l1`: per pixel
    and channel, how much more the generated frame changed than the real one, floored at 0, averaged."""
    for a, b in ((generated_previous, generated), (real_previous, real), (generated, real)):
        _check_pair(a, b, None)
    change_generated = np.abs(generated.astype(np.int16) - generated_previous.astype(np.int16))
    change_real = np.abs(real.astype(np.int16) - real_previous.astype(np.int16))
    return float(np.maximum(change_generated - change_real, 0).mean() / 255.0)


def flicker_per_pair(frames_generated: Sequence[np.ndarray], frames_real: Sequence[np.ndarray]) -> np.ndarray:
    """float64 T - 1: `pair_flicker` of each pair of consecutive frames of two clips of T frames."""
    if len(frames_generated) != len(frames_real) or len(frames_real) < 2:
        raise ValueError(
            f"need two clips of one length >= 2 frames, got {len(frames_generated)} and {len(frames_real)}"
        )
    pairs = zip(pairwise(frames_generated), pairwise(frames_real))
    return np.array([pair_flicker(g0, g1, r0, r1) for (g0, g1), (r0, r1) in pairs], dtype=np.float64)


def flicker(frames_generated: Sequence[np.ndarray], frames_real: Sequence[np.ndarray]) -> float:
    """Temporal instability of generated frames against the real frames they stand for ([0, 1] units).

    The mean over consecutive pairs of `pair_flicker`: per pixel, the change
    from one generated frame to the next beyond the real clip's own change at
    that pixel between the same two frames. Real motion costs nothing, and
    neither does moving less than the real clip; the floor is per pixel, so
    calm regions cannot hide flickering ones, and noise shows even where the
    real clip moves. The real clip scores 0 against itself, a static clip 0
    against itself, and per-frame noise added to a static clip about the mean
    absolute difference of two noise draws (half that where the real clip moves
    more than the noise). A generator that freezes scores 0 here and is caught
    by PSNR and landmark fidelity instead; one that moves the right content to
    slightly wrong pixels pays here too.
    """
    return float(flicker_per_pair(frames_generated, frames_real).mean())
