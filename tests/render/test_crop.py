"""The aligned crop: smooth, restarted at cuts and gaps, holding the face, and exactly invertible."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.params import FaceParams
from reenact.render.crop import (
    CropFollower,
    FollowerCache,
    apply_affine,
    crop_matrix,
    face_windows,
    follow_clip,
    invert_affine,
    warp_from_crop,
    warp_to_crop,
)


def concatenate(*parts: FaceParams) -> FaceParams:
    return FaceParams(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in vars(parts[0])})


def jitter(centres: np.ndarray) -> float:
    """Mean size of the frame-to-frame change of velocity (px per frame^2): what shakes the picture."""
    return float(np.abs(np.diff(centres, 2, axis=0)).mean())


def test_crop_is_smoother_than_the_face(d0_track):
    track = d0_track
    windows = follow_clip(track.params, track.fps, (track.width, track.height), track.cuts)
    face_centres = track.landmarks[:, :468, :2].mean(1)
    assert windows.shape == (track.n_frames, 3)
    assert jitter(windows[:, :2]) < 0.4 * jitter(face_centres)
    assert jitter(windows[:, 2:]) < 0.4 * jitter(face_windows(track.params)[:, 2:])


def test_crop_holds_the_face_with_margin(d0_track):
    track = d0_track
    windows = follow_clip(track.params, track.fps, (track.width, track.height), track.cuts)
    landmarks = apply_affine(track.landmarks[:, :, :2], crop_matrix(windows, 256))
    assert landmarks.min() > 0.1 * 256 and landmarks.max() < 0.9 * 256


def test_crop_restarts_at_a_cut_and_after_a_gap(d0_track):
    params = d0_track.params
    moved = params.copy()
    moved.translation += np.array([120.0, -40.0], dtype=np.float32)
    moved.scale *= 0.7
    clip = concatenate(params[:30], moved[:30])
    size = (d0_track.width, d0_track.height)
    raw = face_windows(clip)

    windows = follow_clip(clip, d0_track.fps, size, np.array([30]))
    np.testing.assert_allclose(windows[30], raw[30])  # the new shot starts where its face is
    lagging = follow_clip(clip, d0_track.fps, size, np.array([], dtype=np.int64))
    assert np.abs(lagging[30, :2] - raw[30, :2]).max() > 20  # without the cut the filter would drag across it

    clip.valid[10] = False
    windows = follow_clip(clip, d0_track.fps, size, np.array([30]))
    np.testing.assert_allclose(windows[10], windows[9])  # a frame without a face holds the last window
    np.testing.assert_allclose(windows[11], raw[11])  # and the filter restarts after it


def test_following_a_span_at_once_is_following_it_frame_by_frame(d0_track):
    """`CropFollower.advance` (the frames before a preview) leaves the filter where one call per frame would,
    across a cut and a frame without a face."""
    params = d0_track.params[:40].copy()
    params.valid[12] = False
    new_shots = np.zeros(40, dtype=bool)
    new_shots[25] = True
    size = (d0_track.width, d0_track.height)
    one_by_one, at_once = CropFollower(d0_track.fps, size), CropFollower(d0_track.fps, size)
    for i in range(39):
        one_by_one(params[i], bool(new_shots[i]))
    at_once.advance(params[:39], new_shots[:39])
    np.testing.assert_array_equal(at_once(params[39]), one_by_one(params[39]))


def test_a_cached_follow_resumes_where_following_from_the_start_ends(d0_track):
    """`FollowerCache` (the editor's previews): a span that begins as an earlier one resumes from a kept state
    and ends exactly where a fresh follower fed the whole span ends; a span that differs early does not reuse
    the later states."""
    params = d0_track.params[:150].copy()
    new_shots = np.zeros(150, dtype=bool)
    new_shots[[0, 70]] = True
    size = (d0_track.width, d0_track.height)

    def followed(span: FaceParams, shots: np.ndarray) -> np.ndarray:
        follower = CropFollower(d0_track.fps, size)
        follower.advance(span, shots)
        return follower._last

    cache = FollowerCache(every=16)
    fresh = CropFollower(d0_track.fps, size)
    for end in (100, 150, 120, 40):
        resumed = cache.follow(fresh, params[:end], new_shots[:end])
        np.testing.assert_array_equal(resumed._last, followed(params[:end], new_shots[:end]))
    assert fresh._filter._x is None  # the fresh follower given is never fed
    turned = params.copy()
    turned.translation[50:] += 30.0  # as an edit from frame 50 on would
    np.testing.assert_array_equal(cache.follow(fresh, turned[:150], new_shots)._last, followed(turned, new_shots))


def test_follower_before_any_face_and_bad_input(d0_track):
    params = d0_track.params[:1].copy()
    params.valid[:] = False
    follower = CropFollower(25.0, (640, 480))
    np.testing.assert_allclose(follower(params), [320, 240, 480])
    with pytest.raises(ValueError, match="one frame"):
        follower(d0_track.params[:2])
    with pytest.raises(ValueError, match="fps"):
        CropFollower(0.0, (640, 480))


def test_inverse_round_trips_points():
    rng = np.random.default_rng(0)
    windows = np.column_stack([rng.uniform(0, 600, 5), rng.uniform(0, 400, 5), rng.uniform(100, 700, 5)])
    matrices = crop_matrix(windows, 256)
    points = rng.uniform(-100, 700, (5, 40, 3)).astype(np.float32)
    there = apply_affine(points, matrices)
    np.testing.assert_allclose(apply_affine(there, invert_affine(matrices)), points, rtol=1e-5, atol=1e-3)
    # The window's centre and corners land on the crop's centre and corners; depth scales with x and y.
    corner = windows[:, None, :2] + np.array([[-0.5, -0.5], [0.0, 0.0], [0.5, 0.5]]) * windows[:, None, 2:]
    expected = np.broadcast_to([[0, 0], [128, 128], [256, 256]], (5, 3, 2))
    np.testing.assert_allclose(apply_affine(corner, matrices), expected, atol=1e-9)
    np.testing.assert_allclose(there[..., 2], points[..., 2] * (256 / windows[:, 2:]), rtol=1e-5)
    with pytest.raises(ValueError):
        apply_affine(points[..., :1], matrices)


def blob(height: int, width: int, x: float, y: float, sigma: float) -> np.ndarray:
    """A Gaussian spot centred at continuous coordinates (x, y) (pixel centres at + 0.5), uint8."""
    rows, cols = np.mgrid[:height, :width] + 0.5
    return np.round(255 * np.exp(-((cols - x) ** 2 + (rows - y) ** 2) / (2 * sigma**2))).astype(np.uint8)


def centroid(image: np.ndarray) -> np.ndarray:
    rows, cols = np.mgrid[: image.shape[0], : image.shape[1]] + 0.5
    weight = image.astype(np.float64)
    return np.array([(cols * weight).sum(), (rows * weight).sum()]) / weight.sum()


@pytest.mark.parametrize("side", [128.0, 300.0, 900.0])  # enlarging, shrinking, shrinking by over 2x (box filter)
def test_warp_puts_frame_points_where_the_affine_says(side):
    frame = blob(1000, 1200, 611.3, 498.7, sigma=side / 40)
    matrix = crop_matrix(np.array([620.0, 470.0, side]), 256)
    crop = warp_to_crop(np.dstack([frame] * 3), matrix, 256)
    assert crop.shape == (256, 256, 3) and crop.dtype == np.uint8
    expected = apply_affine(np.array([[611.3, 498.7]]), matrix)[0]
    np.testing.assert_allclose(centroid(crop[..., 0]), expected, atol=0.15)
    # Pasted back, the spot returns to where it was.
    back = warp_from_crop(crop[..., 0], matrix, (1200, 1000))
    np.testing.assert_allclose(centroid(back), [611.3, 498.7], atol=0.25 * side / 256 + 0.1)


def test_warp_from_crop_leaves_the_rest_of_the_frame_empty():
    matrix = crop_matrix(np.array([100.0, 80.0, 64.0]), 256)
    back = warp_from_crop(np.full((256, 256), 200, np.uint8), matrix, (320, 240))
    assert back.shape == (240, 320)
    assert back[80, 100] == 200 and back[10, 10] == 0 and back[80, 200] == 0
