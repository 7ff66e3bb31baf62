"""Tracking the real face clips in $REENACT_DATA: validity, fit error, known answers, jitter, cuts."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from reenact.geometry import euler_degrees
from reenact.tracking.fitting import fit_frames, inter_ocular_distance
from reenact.tracking.landmarks import LandmarkDetector
from reenact.tracking.tracker import TrackerConfig, detect_clip, smooth_landmarks
from reenact.video_io import VideoWriter, read_frames

TALKING_HEADS = ["target_franck.mp4", "target_edtalk.mp4", "target_wojtek.mp4", "drive_d3.mp4", "drive_d9.mp4",
                 "drive_d10.mp4", "drive_d12.mp4", "drive_d19.mp4", "drive_d0.mp4"]


@pytest.mark.parametrize("name", TALKING_HEADS)
def test_clip_is_tracked_with_small_fit_error(tracked, name):
    track = tracked(name)
    valid = track.params.valid
    assert valid.mean() >= 0.98, f"{name}: face in only {valid.mean():.1%} of frames"
    assert np.isnan(track.params.scale[~valid]).all(), "invalid frames must not carry values"
    iod = np.nanmedian(inter_ocular_distance(track.landmarks))
    error = np.nanmedian(track.fit_error)
    print(f"{name}: median fit error {error:.2f} px = {100 * error / iod:.2f}% of IOD ({iod:.0f} px), "
          f"{track.model.n_components} components")
    assert error / iod < 0.02, f"{name}: fit error {error:.2f} px is {100 * error / iod:.1f}% of IOD"


def single_frame_params(rgb: np.ndarray, model):
    """Fit one image on its own (fresh detector, no temporal context) with a clip's model."""
    with LandmarkDetector() as detector:
        landmarks = detector.detect(rgb)
    assert landmarks is not None, "no face found in the test image"
    return fit_frames(landmarks[None], model)


@pytest.fixture(scope="module")
def wojtek_frame(data, tracked):
    frames, _ = read_frames(data / "target_wojtek.mp4")
    return frames[0], tracked("target_wojtek.mp4").model


def rotate_image(rgb: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate counter-clockwise (as seen) about the centre on an enlarged canvas, so nothing is cut off."""
    h, w = rgb.shape[:2]
    side = int(np.ceil(np.hypot(h, w)))
    canvas = cv2.copyMakeBorder(rgb, (side - h) // 2, side - h - (side - h) // 2, (side - w) // 2,
                                side - w - (side - w) // 2, cv2.BORDER_REPLICATE)
    matrix = cv2.getRotationMatrix2D((side / 2, side / 2), degrees, 1.0)
    return cv2.warpAffine(canvas, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@pytest.mark.parametrize("angle", [-20.0, 15.0, 30.0])
def test_in_plane_rotation_changes_roll_by_that_angle(wojtek_frame, angle):
    rgb, model = wojtek_frame
    base = euler_degrees(single_frame_params(rotate_image(rgb, 0.0), model).rotation)[0]
    turned = euler_degrees(single_frame_params(rotate_image(rgb, angle), model).rotation)[0]
    assert abs((turned[2] - base[2]) - angle) < 2.0, f"roll {base[2]:.1f} -> {turned[2]:.1f} for {angle} degrees"


def test_mirroring_flips_the_sign_of_yaw(data, tracked):
    frames, _ = read_frames(data / "target_wojtek.mp4")
    model = tracked("target_wojtek.mp4").model
    yaw_all = euler_degrees(tracked("target_wojtek.mp4").params.rotation)[:, 0]
    turned = int(np.argmax(np.abs(yaw_all)))  # the most turned frame: a clear sign to flip
    yaw = euler_degrees(single_frame_params(frames[turned], model).rotation)[0, 0]
    yaw_mirrored = euler_degrees(single_frame_params(np.ascontiguousarray(frames[turned][:, ::-1]), model).rotation)[0, 0]
    assert abs(yaw) > 15
    assert np.sign(yaw_mirrored) == -np.sign(yaw)
    assert abs(yaw_mirrored + yaw) < 0.15 * abs(yaw), f"yaw {yaw:.1f} mirrored to {yaw_mirrored:.1f}"


def test_scaling_the_frame_scales_the_recovered_scale(wojtek_frame):
    rgb, model = wojtek_frame
    small = cv2.resize(rgb, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    s_full = single_frame_params(rgb, model).scale[0]
    s_small = single_frame_params(small, model).scale[0]
    assert abs(s_small / s_full - 0.6) < 0.6 * 0.03, f"scale ratio {s_small / s_full:.3f}, expected 0.6"


def test_closed_eyes_read_as_less_open(data, tracked):
    # drive_d10.mp4: frame 335 has both eyes shut, frame 60 wide open (checked by eye).
    frames, _ = read_frames(data / "drive_d10.mp4")
    model = tracked("drive_d10.mp4").model
    closed = single_frame_params(frames[335], model).openness[0]
    opened = single_frame_params(frames[60], model).openness[0]
    assert (closed < 0.5 * opened).all(), f"openness closed {closed} vs open {opened}"


def landmark_acceleration(landmarks: np.ndarray, valid: np.ndarray) -> float:
    """Median frame-to-frame second difference of the landmarks (px/frame^2) over runs of valid frames."""
    ok = valid[2:] & valid[1:-1] & valid[:-2]
    accel = landmarks[2:, :, :2] - 2 * landmarks[1:-1, :, :2] + landmarks[:-2, :, :2]
    return float(np.median(np.linalg.norm(accel[ok], axis=-1)))


@pytest.mark.parametrize("name", ["target_franck.mp4", "target_edtalk.mp4"])
def test_filter_reduces_jitter_without_dragging(detected, name):
    clip = detected(name)
    smoothed = smooth_landmarks(clip, TrackerConfig().landmark_filter)
    raw_jitter = landmark_acceleration(clip.landmarks, clip.valid)
    smooth_jitter = landmark_acceleration(smoothed, clip.valid)
    iod = np.nanmedian(inter_ocular_distance(clip.landmarks))
    lag = np.nanmedian(np.linalg.norm(smoothed[clip.valid, :, :2] - clip.landmarks[clip.valid, :, :2], axis=-1))
    print(f"{name}: landmark acceleration {raw_jitter:.3f} -> {smooth_jitter:.3f} px/frame^2, "
          f"median offset from raw {lag:.2f} px ({100 * lag / iod:.1f}% IOD)")
    assert smooth_jitter < 0.65 * raw_jitter
    assert lag < 0.02 * iod, "the filter drags landmarks too far from the detections"


@pytest.mark.parametrize("name", ["target_franck.mp4", "target_edtalk.mp4"])
def test_smoothed_mouth_and_lids_move_with_the_detections(detected, name):
    """Zero-phase smoothing: the mouth and eye openings peak on the raw detections' frames, not a frame late."""
    clip = detected(name)
    smoothed = smooth_landmarks(clip, TrackerConfig().landmark_filter)
    for part, (upper, lower) in {"mouth": (13, 14), "left eye": (159, 145)}.items():
        def opening(landmarks: np.ndarray) -> np.ndarray:
            return np.linalg.norm(landmarks[:, upper, :2] - landmarks[:, lower, :2], axis=-1)

        raw, smooth = opening(clip.landmarks), opening(smoothed)
        n = len(raw)
        shifts = range(-3, 4)
        correlation = [np.corrcoef(raw[5 + k:n - 5 + k], smooth[5:n - 5])[0, 1] for k in shifts]
        best = int(np.argmax(correlation))
        print(f"{name} {part}: best shift {shifts[best]} frames, correlation {correlation[best]:.3f}")
        assert shifts[best] == 0, f"{name}: the smoothed {part} opening trails the detections"
        assert correlation[best] > 0.97


def test_joined_clips_are_split_at_the_join(tmp_path, data):
    first, fps = read_frames(data / "target_franck.mp4")
    second, _ = read_frames(data / "drive_d19.mp4")
    h, w = first.shape[1:3]
    joined = list(first[:40]) + [cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in second[:30]]
    path = tmp_path / "joined.mp4"
    with VideoWriter(path, fps, w, h) as writer:
        for frame in joined:
            writer.write(frame)
    clip = detect_clip(path)
    assert clip.cuts.tolist() == [40]
