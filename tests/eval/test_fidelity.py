"""Fidelity: known answers on synthetic landmarks, and re-tracking real frames against their own track."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.eval.fidelity import Retracker, compare_to_params, implied_landmarks, rotation_angle
from reenact.geometry import rotation_from_euler
from reenact.render.crop import CropConfig, crop_matrix, follow_clip, warp_to_crop
from reenact.tracking.canonical_face import N_LANDMARKS
from reenact.tracking.fitting import inter_ocular_distance


@pytest.fixture(scope="module")
def wojtek(tracked):
    pytest.importorskip("mediapipe", reason="tracking a real clip needs MediaPipe")
    return tracked("target_wojtek.mp4")


def test_rotation_angle_is_the_angle_between() -> None:
    a = rotation_from_euler(np.array([[10.0, -5.0, 3.0]]))
    b = a @ rotation_from_euler(np.array([[0.0, 0.0, 12.0]]))
    assert rotation_angle(a, b)[0] == pytest.approx(12.0, abs=1e-3)
    assert rotation_angle(a, a)[0] == pytest.approx(0.0, abs=1e-2)


def test_the_parameters_own_landmarks_score_zero_and_a_shift_its_size(wojtek) -> None:
    params = wojtek.params[np.arange(0, 40, 4)]
    landmarks = implied_landmarks(params, wojtek.model)
    exact = compare_to_params(landmarks, params, wojtek.model)
    assert exact.found.all() and exact.found_rate() == 1.0
    for name in ("landmark_error", "expression_error", "gaze_error", "openness_error", "pose_error"):
        assert np.nanmax(getattr(exact, name)) < 1e-3, name
    shifted = landmarks.copy()
    shifted[..., 0] += 4.0  # every landmark 4 px to the right
    moved = compare_to_params(shifted, params, wojtek.model)
    iod = inter_ocular_distance(params.vertices(wojtek.model))
    np.testing.assert_allclose(moved.landmark_error, 100 * 4.0 / iod, rtol=1e-4)
    assert np.nanmax(moved.pose_error) < 1e-2 and np.nanmax(moved.expression_error) < 1e-2


def test_frames_without_a_face_count_against_the_found_rate(wojtek) -> None:
    params = wojtek.params[np.arange(4)].copy()
    params.valid[3] = False  # not asked for a face: not compared
    landmarks = implied_landmarks(params, wojtek.model)
    landmarks[1] = np.nan  # asked, but none found
    fidelity = compare_to_params(landmarks, params, wojtek.model)
    assert fidelity.compared.tolist() == [True, True, True, False]
    assert fidelity.found.tolist() == [True, False, True, False]
    assert fidelity.found_rate() == pytest.approx(2 / 3)
    assert np.isnan(fidelity.landmark_error[[1, 3]]).all()


def test_real_crops_retracked_match_their_own_track(wojtek, data) -> None:
    from reenact.video_io import VideoReader

    n = 16
    params = wojtek.params[np.arange(n)]
    size = 128  # below FidelityConfig.min_size: exercises the upscaling
    matrices = crop_matrix(follow_clip(params, wojtek.fps, (wojtek.width, wojtek.height), [], CropConfig(size=size)),
                           size)
    landmarks = np.empty((n, N_LANDMARKS, 3), dtype=np.float32)
    with Retracker() as retrack:
        for t, rgb in zip(range(n), VideoReader(data / "target_wojtek.mp4")):
            landmarks[t] = retrack(warp_to_crop(rgb, matrices[t], size), matrices[t], new_shot=t == 0)
    fidelity = compare_to_params(landmarks, params, wojtek.model)
    assert fidelity.found.all()
    assert np.median(fidelity.landmark_error) < 2.5
    assert np.median(fidelity.pose_error) < 3.0
