"""Paste-back: only the crop's footprint changes, the frame's own crop comes back intact, colour drift is
matched at the seam, and the fast path agrees with the plain reference."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.render.blend import BlendConfig, blend, blend_reference, paste_mask
from reenact.render.crop import crop_matrix, warp_from_crop, warp_to_crop

SIZE = 256

CONFIGS = {
    "crop": BlendConfig(),
    "crop-no-colour": BlendConfig(match_color=False),
    "face": BlendConfig(mask="face"),
    "poisson": BlendConfig(method="poisson"),
}


@pytest.fixture(scope="module")
def frame(data) -> np.ndarray:
    """A 512x480 webcam-like frame (drive_d9: a man before a wall, a picture and a bed)."""
    from reenact.video_io import VideoReader

    return next(iter(VideoReader(data / "drive_d9.mp4")))


def windows(frame: np.ndarray) -> dict[str, np.ndarray]:
    height, width = frame.shape[:2]
    return {
        "inside": np.array([0.5 * width, 0.45 * height, 0.7 * height]),
        "off the corner": np.array([0.15 * width, 0.9 * height, 0.8 * height]),
        "small": np.array([0.6 * width, 0.3 * height, 100.0]),  # the crop magnifies the frame
    }


def face_mask() -> np.ndarray:
    """An elliptical stand-in for the rendered face (bool S x S)."""
    rows, cols = np.mgrid[:SIZE, :SIZE]
    return ((cols - SIZE / 2) / (0.3 * SIZE)) ** 2 + ((rows - 0.55 * SIZE) / (0.38 * SIZE)) ** 2 < 1


def drifted(crop: np.ndarray) -> np.ndarray:
    """The crop with a generator-like colour drift: a gain per channel, an offset and a lighting gradient."""
    rows, cols = np.mgrid[:SIZE, :SIZE] / (SIZE - 1)
    shift = np.stack([30 * cols, -20 * rows, np.full_like(rows, 10.0)], axis=-1)
    return np.clip(crop * np.array([1.1, 0.95, 0.85]) + shift, 0, 255).astype(np.uint8)


def footprint(matrix: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """bool H x W: frame pixels the crop square reaches at all (through bilinear interpolation)."""
    return warp_from_crop(np.ones((SIZE, SIZE), np.float32), matrix, (frame.shape[1], frame.shape[0])) > 0


def seam(matrix: np.ndarray, frame: np.ndarray, config: BlendConfig) -> np.ndarray:
    """bool H x W: where the paste mask mixes generated and real pixels."""
    alpha = warp_from_crop(paste_mask(SIZE, config, face_mask()), matrix, (frame.shape[1], frame.shape[0]))
    return (alpha > 0.02) & (alpha < 0.98)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a.astype(np.float64) - b) ** 2)))


@pytest.mark.parametrize("name", CONFIGS)
def test_pixels_outside_the_footprint_are_untouched(frame, name):
    rng = np.random.default_rng(1)
    crop = rng.integers(0, 256, size=(SIZE, SIZE, 3), dtype=np.uint8)
    before = frame.copy()
    for window in windows(frame).values():
        matrix = crop_matrix(window, SIZE)
        out = blend(frame, crop, matrix, CONFIGS[name], face_mask())
        assert out.shape == frame.shape and out.dtype == np.uint8
        outside = ~footprint(matrix, frame)
        assert np.array_equal(out[outside], frame[outside])
        assert np.array_equal(blend_reference(frame, crop, matrix, CONFIGS[name], face_mask())[outside], frame[outside])
        assert not np.array_equal(out, frame)
    assert np.array_equal(frame, before)  # the input frame is left alone


def test_a_rotated_crop_also_touches_only_its_footprint(frame):
    angle = np.deg2rad(20)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = crop_matrix(windows(frame)["inside"], SIZE)
    centre = np.array([SIZE / 2, SIZE / 2])
    matrix = np.concatenate([rotation @ matrix[:, :2], (rotation @ (matrix[:, 2] - centre) + centre)[:, None]], 1)
    crop = np.full((SIZE, SIZE, 3), 255, np.uint8)
    out = blend(frame, crop, matrix, BlendConfig(match_color=False))
    outside = ~footprint(matrix, frame)
    assert np.array_equal(out[outside], frame[outside])
    np.testing.assert_allclose(out, blend_reference(frame, crop, matrix, BlendConfig(match_color=False)), atol=3)


@pytest.mark.parametrize("name", CONFIGS)
def test_the_frames_own_crop_comes_back_nearly_unchanged(frame, name):
    for window in windows(frame).values():
        matrix = crop_matrix(window, SIZE)
        own = warp_to_crop(frame, matrix, SIZE)
        out = blend(frame, own, matrix, CONFIGS[name], face_mask())
        inside = footprint(matrix, frame)
        # The crop resamples the frame twice (to 256 px and back), losing fine detail; blending adds next to
        # nothing (the Poisson solve drifts a little).
        resampled = warp_from_crop(own, matrix, (frame.shape[1], frame.shape[0]))
        slack = 1.0 if name == "poisson" else 0.3
        assert psnr(out[inside], frame[inside]) > max(35.0, psnr(resampled[inside], frame[inside]) - slack), window


@pytest.mark.parametrize("name", ["crop", "face", "poisson"])
def test_colour_drift_is_matched_at_the_seam(frame, name):
    config = CONFIGS[name]
    for window in windows(frame).values():
        matrix = crop_matrix(window, SIZE)
        crop = drifted(warp_to_crop(frame, matrix, SIZE))
        ring = seam(matrix, frame, config)
        error = np.abs(blend(frame, crop, matrix, config, face_mask()).astype(float) - frame)[ring].mean()
        raw = BlendConfig(mask=config.mask, match_color=False)
        uncorrected = np.abs(blend(frame, crop, matrix, raw, face_mask()).astype(float) - frame)[ring].mean()
        assert uncorrected > 5  # the drift is plain to see without matching
        assert error < 2.5 and error < 0.3 * uncorrected, window


@pytest.mark.parametrize("name", CONFIGS)
def test_fast_path_agrees_with_the_reference(frame, name):
    for window in windows(frame).values():
        matrix = crop_matrix(window, SIZE)
        crop = drifted(warp_to_crop(frame, matrix, SIZE))
        fast = blend(frame, crop, matrix, CONFIGS[name], face_mask()).astype(int)
        reference = blend_reference(frame, crop, matrix, CONFIGS[name], face_mask())
        difference = np.abs(fast - reference)
        # The coarse-grid colour offset and the warp's fixed-point rounding in a sub-image differ by a level
        # or so in a few pixels.
        assert difference.max() <= 4 and difference.mean() < 0.1, window


def test_float_crop_in_the_generators_range(frame):
    matrix = crop_matrix(windows(frame)["inside"], SIZE)
    crop = np.random.default_rng(2).integers(0, 256, size=(SIZE, SIZE, 3), dtype=np.uint8)
    as_float = crop.astype(np.float32) / 127.5 - 1.0
    np.testing.assert_allclose(blend(frame, as_float, matrix), blend(frame, crop, matrix), atol=1)


def test_face_mask_mode_replaces_only_around_the_face(frame):
    config = BlendConfig(mask="face")
    matrix = crop_matrix(windows(frame)["inside"], SIZE)
    crop = np.zeros((SIZE, SIZE, 3), np.uint8)
    mask = paste_mask(SIZE, config, face_mask())
    assert mask[face_mask()].min() == 1.0  # the face itself is fully replaced
    grown = warp_from_crop(mask, matrix, (frame.shape[1], frame.shape[0])) > 0
    out = blend(frame, crop, matrix, config, face_mask())
    assert np.array_equal(out[~grown], frame[~grown])
    assert 0 < grown.mean() < footprint(matrix, frame).mean()

    no_face = np.zeros((SIZE, SIZE), bool)
    assert np.array_equal(blend(frame, crop, matrix, config, no_face), frame)


def test_crop_off_the_frame_changes_nothing(frame):
    matrix = crop_matrix(np.array([-500.0, -500.0, 200.0]), SIZE)
    crop = np.zeros((SIZE, SIZE, 3), np.uint8)
    assert np.array_equal(blend(frame, crop, matrix), frame)


def test_bad_inputs_are_refused(frame):
    matrix = crop_matrix(windows(frame)["inside"], SIZE)
    crop = np.zeros((SIZE, SIZE, 3), np.uint8)
    with pytest.raises(ValueError, match="S x S x 3"):
        blend(frame, crop[:, :-1], matrix)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        blend(frame, np.full((SIZE, SIZE, 3), 200.0, np.float32), matrix)
    with pytest.raises(ValueError, match="face mask"):
        blend(frame, crop, matrix, BlendConfig(mask="face"))
    with pytest.raises(ValueError, match="uint8"):
        blend(frame.astype(np.float32), crop, matrix)
    with pytest.raises(ValueError, match="grow"):
        BlendConfig(mask="face", feather=30, grow=10)
    with pytest.raises(ValueError, match="method"):
        BlendConfig(method="alpha")
