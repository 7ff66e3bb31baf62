"""`reenact track`: a video in, a `Track` (per-frame face parameters) out.

Three steps, each usable alone: detect landmarks and shot cuts frame by frame
(`detect_clip`), smooth them within each shot (`smooth_landmarks`: forwards and
backwards, so without lag, as a clip on disk allows; live tracking is causal),
then build the subject's face model and fit every frame (`fit_track`). Every
temporal filter restarts at the clip's cuts: detected ones (`cuts.py`) or
those the user names (`cut_list.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reenact.errors import InputError, NoFaceError
from reenact.geometry import rotation_from_vector, rotation_to_vector
from reenact.params import FaceModel, FaceParams, Track
from reenact.tracking.canonical_face import N_LANDMARKS
from reenact.tracking.cut_list import AUTO, CutList
from reenact.tracking.cuts import CutConfig, CutDetector
from reenact.tracking.filters import SPEED_CUTOFF_HZ, OneEuroConfig, smooth_sequence, smooth_sequence_zero_phase
from reenact.tracking.fitting import FitConfig, fit_clip, fit_error, fit_frames, scatter
from reenact.tracking.landmarks import LandmarkConfig, LandmarkDetector
from reenact.video_io import VideoReader

Progress = Callable[[int], None]
"""Called with the number of frames just processed."""
MIN_SIDE = 64
"""Smallest frame side tracked: Face Mesh finds 'faces' in smaller frames, but their landmarks are noise."""


@dataclass(frozen=True)
class TrackerConfig:
    """Everything `reenact track` can be told."""

    landmarks: LandmarkConfig = field(default_factory=LandmarkConfig)
    cuts: CutConfig = field(default_factory=CutConfig)
    cut_list: CutList = AUTO
    """Where shots start: detected (auto), nowhere (none), or at the frames and times the user gave."""
    fit: FitConfig = field(default_factory=FitConfig)
    smooth: bool = True
    """Temporal filtering of landmarks and pose (restarted at cuts and gaps)."""
    zero_phase: bool = True
    """Filter forwards and backwards (no lag); False filters from past frames only, as live tracking must and as
    clips were tracked before (`tools/eval_baselines.py --sweep-smoothing` measures what that lag costs)."""
    landmark_filter: OneEuroConfig = field(
        default_factory=lambda: OneEuroConfig(min_cutoff=1.5, beta=0.1, d_cutoff=SPEED_CUTOFF_HZ))
    """One Euro settings for landmarks (px)."""
    pose_filter: OneEuroConfig = field(
        default_factory=lambda: OneEuroConfig(min_cutoff=2.0, beta=0.5, d_cutoff=SPEED_CUTOFF_HZ))
    """One Euro settings for pose (radians, px, log-scale)."""
    min_valid_fraction: float = 0.0
    """Refuse clips where fewer frames than this hold a face (0: any face frame will do)."""


@dataclass
class ClipLandmarks:
    """Raw per-frame detections of a clip."""

    landmarks: np.ndarray
    """float32 Tx478x3 px, NaN where no face."""
    valid: np.ndarray
    """bool T."""
    cuts: np.ndarray
    """int32 frames that start a new shot (0 excluded)."""
    fps: float
    width: int
    height: int


def detect_clip(path: str | Path, config: TrackerConfig = TrackerConfig(), progress: Progress | None = None) -> ClipLandmarks:
    """Raw landmarks and shot cuts of every frame of a video (refused up front when too small to track a face in).

    The landmark tracker restarts at picture cuts (decided as each frame comes) and at the user's cuts;
    jump cuts are found once all frames are in, from how the face region changed (see `cuts.py`).
    """
    reader = VideoReader(path)
    if min(reader.width, reader.height) < MIN_SIDE:
        raise InputError(f"{path} is {reader.width}x{reader.height}: too small to track a face in "
                         f"(frames need at least {MIN_SIDE} px on each side)")
    given = None if config.cut_list.detect else set(config.cut_list.resolve(reader.fps).tolist())
    cut_detector = CutDetector(config.cuts)
    frames_landmarks: list[np.ndarray | None] = []
    with LandmarkDetector(config.landmarks) as detector:
        for i, rgb in enumerate(reader):
            restart = cut_detector.picture_cut(rgb) if given is None else i in given
            if restart:
                detector.restart()
            face = detector.detect(rgb)
            if given is None:
                cut_detector.add_face(face)
            frames_landmarks.append(face)
            if progress:
                progress(1)
    if not frames_landmarks:
        raise NoFaceError(f"{path} holds no video frames")
    landmarks = np.full((len(frames_landmarks), N_LANDMARKS, 3), np.nan, dtype=np.float32)
    valid = np.array([f is not None for f in frames_landmarks])
    if valid.any():
        landmarks[valid] = np.stack([f for f in frames_landmarks if f is not None])
    if given is None:
        cuts = cut_detector.cuts()
    else:
        cuts = config.cut_list.resolve(reader.fps, len(frames_landmarks))
    return ClipLandmarks(landmarks, valid, cuts, reader.fps, reader.width, reader.height)


def smooth_landmarks(clip: ClipLandmarks, config: OneEuroConfig, zero_phase: bool = True) -> np.ndarray:
    """The clip's landmarks, One Euro filtered within each shot and run of face frames."""
    smooth = smooth_sequence_zero_phase if zero_phase else smooth_sequence
    return smooth(clip.landmarks, clip.valid, clip.cuts, clip.fps, config).astype(np.float32)


def fit_track(
    clip: ClipLandmarks, config: TrackerConfig = TrackerConfig(), source: str = "", model: FaceModel | None = None
) -> Track:
    """Fit every frame of a clip's detections into a Track: against `model` when given (another clip of a
    subject whose model was already built, e.g. a trained target's), else a model built from this clip."""
    n_valid = int(clip.valid.sum())
    if n_valid == 0:
        raise NoFaceError(f"no face found in any of the {len(clip.valid)} frames of {source or 'the clip'}")
    if n_valid < config.min_valid_fraction * len(clip.valid):
        raise NoFaceError(
            f"only {n_valid} of {len(clip.valid)} frames of {source or 'the clip'} hold a face "
            f"(need {config.min_valid_fraction:.0%})"
        )
    landmarks = smooth_landmarks(clip, config.landmark_filter, config.zero_phase) if config.smooth else clip.landmarks
    if model is None:
        model, params, errors = fit_clip(landmarks, clip.valid, config.fit)
    else:
        fitted = fit_frames(landmarks[clip.valid], model)
        errors = np.full(len(clip.valid), np.nan, dtype=np.float32)
        errors[clip.valid] = fit_error(fitted, model, landmarks[clip.valid])
        params = scatter(fitted, clip.valid)
    if config.smooth:
        smooth_pose(params, clip, config.pose_filter, config.zero_phase)
    return Track(
        params=params,
        model=model,
        landmarks=landmarks,
        fit_error=errors,
        cuts=clip.cuts,
        fps=clip.fps,
        width=clip.width,
        height=clip.height,
        filtered=config.smooth,
        source=source,
    )


def smooth_pose(params: FaceParams, clip: ClipLandmarks, config: OneEuroConfig, zero_phase: bool = True) -> None:
    """One Euro filter the head pose in place (axis-angle, translation, log-scale), restarting at cuts."""
    valid = params.valid
    pose = np.full((len(valid), 6), np.nan)
    pose[valid, :3] = rotation_to_vector(params.rotation[valid])
    pose[valid, 3:5] = params.translation[valid]
    pose[valid, 5] = np.log(params.scale[valid])
    smooth = smooth_sequence_zero_phase if zero_phase else smooth_sequence
    pose = smooth(pose, valid, clip.cuts, clip.fps, config)
    params.rotation[valid] = rotation_from_vector(pose[valid, :3])
    params.translation[valid] = pose[valid, 3:5]
    params.scale[valid] = np.exp(pose[valid, 5])


def track_video(
    path: str | Path,
    config: TrackerConfig = TrackerConfig(),
    progress: Progress | None = None,
    model: FaceModel | None = None,
) -> Track:
    """Track a video end to end (fitted against `model` when given, see `fit_track`)."""
    return fit_track(detect_clip(path, config, progress), config, source=str(path), model=model)
