"""Pasting a generated crop back into its frame without a visible seam or colour jump.

The generator predicts the whole aligned crop: face, hair, neck and the local
background. As in Deep Video Portraits, the crop goes back through the inverse
of its frame-to-crop affine under a mask that fades to zero over a feather band
at its border. Where the feather mixes generated and real pixels, their colours
must agree, or the square shows; so before pasting, a low-frequency colour
correction is added to the crop: the difference real minus generated, measured
in the feather band (where both show the same local background), spread over
the crop by normalised Gaussian convolution (far from the band it tends to the
band's mean difference). It removes brightness and white-balance drift and
lighting gradients, and leaves the generated detail alone. An offset, not a
local gain: a gain fitted on the band's colours (a bright wall) and carried to
colours the band lacks (a dark shirt far from it) tinted them visibly, while
the offset's worst case is a slight shift.

Masks: `crop` (the whole square, feathered at its border; the DVP choice) or
`face` (the rendered face mask grown to take in the hairline and jaw, then
feathered): use it when the target frame was edited, so that only the face is
replaced. `poisson` solves for the crop's colours from the frame along the
mask's edge (OpenCV's seamless cloning): no feather, slower, for offline use.

Two implementations: `blend_reference` works on the whole frame at full
resolution, plainly; `blend` (the one to use, a few ms at 640x480 with a 256
crop) works only inside the crop's bounding box and computes the smooth
correction on a grid `color_sigma / 3` times coarser. Pixels outside the crop's
footprint are returned bit-identical in both.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import cv2
import numpy as np

from reenact.errors import SettingError
from reenact.render.crop import crop_matrix, warp_from_crop, warp_to_crop

BLEND_MASKS = ("crop", "face")
"""`BlendConfig.mask` choices."""
BLEND_METHODS = ("feather", "poisson")
"""`BlendConfig.method` choices."""

@dataclass(frozen=True)
class BlendConfig:
    """How a generated crop is pasted back into its frame."""

    mask: Literal["crop", "face"] = "crop"
    """Which pixels the crop replaces: the whole crop square feathered at its border (the generator draws
    the local background too), or only the rendered face grown by `grow` (for edited target frames)."""
    feather: float = 16.0
    """Width in crop pixels of the band where the mask ramps from 0 to 1 (smoothstep)."""
    grow: float = 24.0
    """Face mask only: how far in crop pixels beyond the rendered face the mask reaches (hairline, jaw,
    ears); the feather ramp lies within this margin, so the face itself is fully replaced."""
    match_color: bool = True
    """Add the low-frequency colour correction measured in the feather band before pasting."""
    color_sigma: float = 24.0
    """Gaussian sigma in crop pixels of the correction: large enough to ignore detail the generator
    draws differently, small enough to follow a lighting gradient across the crop."""
    method: Literal["feather", "poisson"] = "feather"
    """Feathered alpha blend (fast, live), or Poisson blending (cv2.seamlessClone; no colour correction
    needed, tens of ms: offline)."""

    def __post_init__(self) -> None:
        if self.mask not in BLEND_MASKS:
            raise SettingError(f"mask must be 'crop' or 'face', got {self.mask!r}")
        if self.method not in BLEND_METHODS:
            raise SettingError(f"method must be 'feather' or 'poisson', got {self.method!r}")
        if self.feather < 1:
            raise SettingError(f"feather must be at least 1 crop pixel, got {self.feather}")
        if self.mask == "face" and self.grow < self.feather:
            raise SettingError(f"grow ({self.grow}) must be at least feather ({self.feather}), "
                               "or the feather would fade the face itself")
        if self.color_sigma <= 0:
            raise SettingError(f"color_sigma must be positive, got {self.color_sigma}")


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


@lru_cache(maxsize=8)
def _square_mask(size: int, feather: float) -> np.ndarray:
    """float32 S x S: 0 on the crop's outermost pixels, rising to 1 at `feather` pixels in (read-only, cached)."""
    index = np.arange(size, dtype=np.float32)
    edge = np.minimum(index, size - 1 - index)
    mask = _smoothstep(np.minimum(edge[:, None], edge[None, :]) / feather).astype(np.float32)
    mask.setflags(write=False)
    return mask


def paste_mask(size: int, config: BlendConfig = BlendConfig(), face_mask: np.ndarray | None = None) -> np.ndarray:
    """float32 S x S in [0, 1]: how much of the generated crop each crop pixel takes.

    `face_mask` (bool S x S, numpy or a CPU torch tensor; `ConditionedFrame.face_mask`)
    is needed for `config.mask == "face"`; an empty face mask gives an all-zero mask.
    """
    square = _square_mask(size, config.feather)
    if config.mask == "crop":
        return square
    if face_mask is None:
        raise ValueError("BlendConfig(mask='face') needs the frame's rendered face mask")
    face = np.asarray(face_mask, dtype=bool)
    if face.shape != (size, size):
        raise ValueError(f"face mask must be bool {size} x {size}, got shape {face.shape}")
    if not face.any():
        return np.zeros((size, size), np.float32)
    # Distance of every pixel to the nearest face pixel (0 on the face).
    distance = cv2.distanceTransform((~face).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return (_smoothstep((config.grow - distance) / config.feather) * square).astype(np.float32)


def _checked_crop(crop: np.ndarray, frame: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """The generated crop as float32 S x S x 3 in [0, 255], once frame, crop and matrix are checked."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame must be uint8 H x W x 3 RGB, got {frame.dtype} {frame.shape}")
    if np.shape(matrix) != (2, 3):
        raise ValueError(f"matrix must be the 2 x 3 frame-to-crop affine, got shape {np.shape(matrix)}")
    if crop.ndim != 3 or crop.shape[2] != 3 or crop.shape[0] != crop.shape[1]:
        raise ValueError(f"crop must be S x S x 3 RGB, got shape {crop.shape}")
    if crop.dtype == np.uint8:
        return crop.astype(np.float32)
    if crop.dtype not in (np.float32, np.float64):
        raise ValueError(f"crop must be uint8 in [0, 255] or float in [-1, 1], got {crop.dtype}")
    low, high = float(crop.min()), float(crop.max())
    if low < -1.01 or high > 1.01:
        raise ValueError(f"a float crop must lie in [-1, 1] (the generator's range), got [{low:.3g}, {high:.3g}]")
    return ((crop.astype(np.float32) + 1.0) * 127.5).clip(0.0, 255.0)


def _to_frame(matrix: np.ndarray, columns: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Frame coordinates (x, y) of crop points (columns[None, :], rows[:, None]) under the frame-to-crop affine.

    Elementwise on purpose: np.linalg and small matmuls wake OpenBLAS's thread
    pool, which costs milliseconds per call on a loaded 2-core machine.
    """
    inverse = cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64))
    x = (inverse[0, 0] * columns)[None, :] + (inverse[0, 1] * rows)[:, None] + inverse[0, 2]
    y = (inverse[1, 0] * columns)[None, :] + (inverse[1, 1] * rows)[:, None] + inverse[1, 2]
    return x, y


def _inside_frame(matrix: np.ndarray, size: int, frame_shape: tuple[int, ...]) -> np.ndarray:
    """float32 S x S: 1 where the crop pixel's centre lies on the frame (elsewhere the crop shows repeated
    edge pixels, which say nothing about the colours to match)."""
    height, width = frame_shape[:2]
    corner_x, corner_y = _to_frame(matrix, np.array([0.0, size]), np.array([0.0, size]))
    if corner_x.min() >= 0 and corner_y.min() >= 0 and corner_x.max() <= width and corner_y.max() <= height:
        return np.ones((size, size), np.float32)  # the usual case, and much cheaper
    centres = np.arange(size) + 0.5
    x, y = _to_frame(matrix, centres, centres)
    return ((x >= 0) & (x < width) & (y >= 0) & (y < height)).astype(np.float32)


def _band_weight(mask: np.ndarray, matrix: np.ndarray, frame_shape: tuple[int, ...]) -> np.ndarray:
    """float32 S x S: the feather band (0 < mask < 1) where it lies on the frame: where the colours must agree."""
    band = ((mask > 0) & (mask < 1)).astype(np.float32)
    return band * _inside_frame(matrix, mask.shape[0], frame_shape)


def _smooth_offset(band: np.ndarray, sigma: float) -> np.ndarray:
    """float32 H x W x 3: the Gaussian-weighted mean of the band's colour differences around every pixel.

    `band` is H x W x 4: the band weight w, then w (real - generated) per colour
    channel. Normalised convolution: both are blurred with a Gaussian of
    `sigma` px and divided; where the Gaussian holds scant weight (far from the
    band) the result tends to the band's overall mean difference. Zero when the
    band holds no weight (nothing to match).
    """
    total = float(band[..., 0].sum())
    if total < 1e-6:
        return np.zeros((*band.shape[:2], 3), np.float32)
    overall = band[..., 1:].reshape(-1, 3).sum(0) / total
    blurred = cv2.GaussianBlur(band, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
    floor = 0.01 * float(blurred[..., 0].max())
    return ((blurred[..., 1:] + floor * overall) / (blurred[..., :1] + floor)).astype(np.float32)


def _color_corrected_reference(generated: np.ndarray, real: np.ndarray, weight: np.ndarray,
                               sigma: float) -> np.ndarray:
    """float32 S x S x 3: the generated crop plus the smooth colour offset, computed at full resolution."""
    band = np.concatenate([weight[..., None], weight[..., None] * (real - generated)], axis=2)
    return generated + _smooth_offset(band, sigma)


def _color_corrected(generated: np.ndarray, real: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """float32 S x S x 3: `_color_corrected_reference` with the offset computed on a grid about sigma / 3 times
    coarser. Box averages are linear, so box-averaging the weighted differences first and blurring them on the
    coarse grid approximates the fine blur; an offset this smooth loses nothing by being upsampled."""
    size = weight.shape[0]
    factor = max(1, int(sigma // 3))
    small = (max(1, size // factor),) * 2
    band = np.concatenate([weight[..., None], weight[..., None] * (real - generated)], axis=2)
    offset = _smooth_offset(cv2.resize(band, small, interpolation=cv2.INTER_AREA), sigma * small[0] / size)
    return generated + cv2.resize(offset, (size, size), interpolation=cv2.INTER_LINEAR)


def _footprint_box(matrix: np.ndarray, size: int, frame_shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1): the frame pixels the crop square can reach (one pixel of slack), clipped; None if none."""
    corner_x, corner_y = _to_frame(matrix, np.array([0.0, size]), np.array([0.0, size]))
    height, width = frame_shape[:2]
    x0, y0 = max(int(np.floor(corner_x.min())) - 1, 0), max(int(np.floor(corner_y.min())) - 1, 0)
    x1, y1 = min(int(np.ceil(corner_x.max())) + 1, width), min(int(np.ceil(corner_y.max())) + 1, height)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def _shifted(matrix: np.ndarray, x0: int, y0: int) -> np.ndarray:
    """The frame-to-crop affine for a sub-image whose top-left pixel is frame pixel (x0, y0)."""
    out = np.array(matrix, dtype=np.float64)
    out[:, 2] += out[:, 0] * x0 + out[:, 1] * y0
    return out


def _mix(frame: np.ndarray, generated: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """uint8: (1 - alpha) frame + alpha generated, rounded; exactly `frame` where alpha is 0.

    cv2.blendLinear divides by the weights' sum plus 1e-5, which moves a value
    of at most 255 by less than 0.003: rounding undoes it. (An order of
    magnitude faster than the same in numpy here.)
    """
    mixed = cv2.blendLinear(frame.astype(np.float32), generated, 1.0 - alpha, alpha)
    return cv2.convertScaleAbs(mixed)


def _poisson(frame: np.ndarray, generated: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """uint8: the generated pixels cloned into the frame where alpha > 1/2 (cv2.seamlessClone, normal clone)."""
    inside = alpha > 0.5
    inside[[0, -1], :] = inside[:, [0, -1]] = False  # the solver needs a frame pixel all round
    if not inside.any():
        return frame.copy()
    source = generated.round().clip(0, 255).astype(np.uint8)
    x, y, w, h = cv2.boundingRect(inside.astype(np.uint8))
    # seamlessClone centres the mask's bounding box on this point: give it the box's own centre.
    cloned = cv2.seamlessClone(source, frame, inside.astype(np.uint8) * 255, (x + w // 2, y + h // 2),
                               cv2.NORMAL_CLONE)
    return np.where(inside[..., None], cloned, frame)


def _prepared_crop(frame: np.ndarray, crop: np.ndarray, matrix: np.ndarray, config: BlendConfig,
                   face_mask: np.ndarray | None, reference: bool) -> tuple[np.ndarray, np.ndarray]:
    """The colour-corrected generated crop (float32 S x S x 3, [0, 255]) and its paste mask (float32 S x S)."""
    generated = _checked_crop(crop, frame, matrix)
    size = generated.shape[0]
    mask = paste_mask(size, config, face_mask)
    if config.match_color and config.method == "feather":
        real = warp_to_crop(frame, matrix, size).astype(np.float32)
        weight = _band_weight(mask, matrix, frame.shape)
        correct = _color_corrected_reference if reference else _color_corrected
        generated = correct(generated, real, weight, config.color_sigma)
    return generated, mask


def blend(frame: np.ndarray, crop: np.ndarray, matrix: np.ndarray, config: BlendConfig = BlendConfig(),
          face_mask: np.ndarray | None = None) -> np.ndarray:
    """The frame (uint8 H x W x 3 RGB) with the generated crop pasted in; a new array of the same size.

    `crop`: uint8 S x S x 3 RGB in [0, 255], or float S x S x 3 in [-1, 1] (the
    generator's range, channels last). `matrix`: the frame-to-crop affine
    (`ConditionedFrame.matrix`). `face_mask`: bool S x S, for `mask="face"`.
    Only the crop's bounding box is computed; pixels outside the crop's
    footprint are returned bit-identical. Agrees with `blend_reference`.
    """
    generated, mask = _prepared_crop(frame, crop, matrix, config, face_mask, reference=False)
    out = frame.copy()
    box = _footprint_box(matrix, generated.shape[0], frame.shape)
    if box is None:
        return out
    x0, y0, x1, y1 = box
    shifted, box_size = _shifted(matrix, x0, y0), (x1 - x0, y1 - y0)
    warped, alpha = warp_from_crop(generated, shifted, box_size), warp_from_crop(mask, shifted, box_size)
    paste = _poisson if config.method == "poisson" else _mix
    out[y0:y1, x0:x1] = paste(frame[y0:y1, x0:x1], warped, alpha)
    return out


def blend_reference(frame: np.ndarray, crop: np.ndarray, matrix: np.ndarray, config: BlendConfig = BlendConfig(),
                    face_mask: np.ndarray | None = None) -> np.ndarray:
    """`blend` done plainly: the whole frame, and the colour correction at full resolution (slow; for tests)."""
    generated, mask = _prepared_crop(frame, crop, matrix, config, face_mask, reference=True)
    frame_size = (frame.shape[1], frame.shape[0])
    warped = warp_from_crop(generated, matrix, frame_size)
    alpha = warp_from_crop(mask, matrix, frame_size)
    paste = _poisson if config.method == "poisson" else _mix
    return paste(frame, warped, alpha)


def benchmark_ms(frame_size: tuple[int, int] = (640, 480), crop_size: int = 256,
                 config: BlendConfig = BlendConfig(), repeats: int = 50) -> float:
    """Median ms of one `blend` of a crop_size crop into a frame of (width, height) (for tools/bench.py).

    Synthetic pictures: the cost does not depend on content. The window is a
    square of 0.7 times the frame's height near the centre, as for a webcam face.
    """
    width, height = frame_size
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    crop = rng.integers(0, 256, size=(crop_size, crop_size, 3), dtype=np.uint8)
    matrix = crop_matrix(np.array([0.52 * width, 0.47 * height, 0.7 * height]), crop_size)
    face = np.zeros((crop_size, crop_size), bool)
    face[crop_size // 4: 3 * crop_size // 4, crop_size // 4: 3 * crop_size // 4] = True
    for _ in range(3):
        blend(frame, crop, matrix, config, face)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        blend(frame, crop, matrix, config, face)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
