"""Image and temporal metrics on known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reenact.eval.metrics import flicker, flicker_per_pair, image_scores, l1, pair_flicker, psnr, ssim, ssim_map


def _image(seed: int = 0, high: int = 200) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, high, (48, 64, 3), dtype=np.uint8)


def test_identical_images_score_perfectly() -> None:
    image = _image()
    assert psnr(image, image) == math.inf
    assert ssim(image, image) == pytest.approx(1.0)
    assert l1(image, image) == 0.0


@pytest.mark.parametrize("k", [1, 5, 40])
def test_a_constant_shift_gives_the_known_error(k: int) -> None:
    image = _image(high=200)
    shifted = image + np.uint8(k)
    assert psnr(shifted, image) == pytest.approx(20 * np.log10(255 / k))
    assert l1(shifted, image) == pytest.approx(k / 255)
    mask = np.zeros(image.shape[:2], dtype=bool)
    mask[10:20, 5:30] = True
    assert psnr(shifted, image, mask) == pytest.approx(20 * np.log10(255 / k))


def test_image_scores_match_the_single_metrics() -> None:
    real, pred = _image(1), _image(2)
    face = np.zeros(real.shape[:2], dtype=bool)
    face[8:40, 10:50] = True
    scores = image_scores(pred, real, face)
    assert scores["psnr"] == psnr(pred, real) and scores["l1"] == l1(pred, real)
    assert scores["ssim"] == pytest.approx(ssim(pred, real), abs=1e-12)
    assert scores["ssim_face"] == pytest.approx(ssim(pred, real, face), abs=1e-12)
    assert scores["psnr_face"] == psnr(pred, real, face)
    assert ssim_map(pred, real).shape == real.shape[:2]
    assert math.isnan(image_scores(pred, real, None)["psnr_face"])


def _moving_clip(n: int = 6) -> list[np.ndarray]:
    """A textured image sliding right by 2 px a frame: real motion."""
    wide = np.random.default_rng(3).integers(0, 256, (48, 64 + 2 * n, 3), dtype=np.uint8)
    return [np.ascontiguousarray(wide[:, 2 * t : 2 * t + 64]) for t in range(n)]


def test_flicker_is_zero_for_the_real_clip_and_a_static_one() -> None:
    clip = _moving_clip()
    assert flicker(clip, clip) == 0.0
    static = [_image()] * 5
    assert flicker(static, static) == 0.0
    assert flicker_per_pair(static, static).tolist() == [0.0] * 4


def test_flicker_counts_added_noise_but_not_real_motion() -> None:
    clip = _moving_clip()
    rng = np.random.default_rng(4)
    noisy = [np.clip(f.astype(int) + rng.integers(-10, 11, f.shape), 0, 255).astype(np.uint8) for f in clip]
    # Where the real clip moves more than the noise, about half the noise's mean absolute value shows.
    assert flicker(noisy, clip) > 0.5 * 5 / 255
    static = [_image()] * 5
    noisy_static = [np.clip(f.astype(int) + rng.integers(-10, 11, f.shape), 0, 255).astype(np.uint8)
                    for f in static]
    # Noise of +-10 levels, independent per frame: the mean absolute difference of two draws, ~7 levels.
    assert flicker(noisy_static, static) == pytest.approx(7 / 255, rel=0.15)
    # A frozen output moves less than the real clip: no flicker (PSNR and fidelity catch it).
    assert flicker([clip[0]] * len(clip), clip) == 0.0


def test_pair_flicker_floors_per_pixel() -> None:
    zero, one, two = (np.full((4, 4, 3), v, dtype=np.uint8) for v in (0, 1, 2))
    half = zero.copy()
    half[:2] = 2
    # Generated frames step by 2 everywhere, the real ones by 2 on half the pixels: the other half flickers.
    assert pair_flicker(zero, two, zero, half) == pytest.approx(1 / 255)
    # The real clip moving more than the generated one is no flicker.
    assert pair_flicker(zero, one, zero, two) == 0.0
    with pytest.raises(ValueError, match="length"):
        flicker([zero], [zero])
