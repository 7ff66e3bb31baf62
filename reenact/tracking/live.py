"""Tracking the live source: one camera frame in, the source's face parameters out, causally.

A live source has no face model built beforehand, so the tracker calibrates on
its first second or so of face frames: the source's identity is the median
pose-normalised shape of those frames (two passes, as `fit_clip` does), and its
neutral reference is the most neutral of them (`neutral_frame`). Until then its
output is invalid, and the runner shows the target's own frames.

The source's model borrows the TARGET's expression basis and coefficient
range. Recombination fits the source's expression offsets in the target's
basis anyway (`transfer_expression`), so a basis of the source's own would add
a second-long PCA at calibration and a re-fit per frame for nothing the output
can show; what the target's basis cannot express is what the generator was
never trained on.

A still photo as the camera cannot be calibrated so (its one face is both
identity and expression): `hold_still` fits it in the target's own model, so
its expression shows as the target's, to be transferred as it is (absolute).

Landmarks are One Euro filtered (causal), with the real time between the
frames tracked, since live frames may be dropped; the filter restarts when the
face is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from reenact.errors import SettingError
from reenact.params import FaceModel, FaceParams, unplace
from reenact.tracking.canonical_face import N_VERTICES
from reenact.tracking.face_regions import neutral_frame
from reenact.tracking.filters import SPEED_CUTOFF_HZ, OneEuroConfig, OneEuroFilter
from reenact.tracking.fitting import fit_frames, fit_pose, pose_normalised_shapes
from reenact.tracking.landmarks import LandmarkConfig, LandmarkDetector


@dataclass(frozen=True)
class LiveTrackingConfig:
    """How the live source is tracked and calibrated."""

    landmarks: LandmarkConfig = field(default_factory=lambda: LandmarkConfig(max_faces=1))
    """Face Mesh settings; one face is looked for, the cheapest on every frame."""
    landmark_filter: OneEuroConfig = field(
        default_factory=lambda: OneEuroConfig(min_cutoff=1.5, beta=0.1, d_cutoff=SPEED_CUTOFF_HZ))
    """One Euro settings for landmarks (px), as `reenact track` uses (causally here)."""
    calibration_seconds: float = 1.0
    """Seconds of face frames the source's identity and neutral reference are taken from."""
    min_calibration_frames: int = 8
    """At least this many face frames, however long that takes (a slow machine tracks fewer per second)."""
    detect_width: int | None = None
    """Face Mesh is given the camera frame scaled down to this width (landmarks scaled back to the frame's
    pixels); None: the full frame. MediaPipe works on its own small crops of the face, so a smaller frame
    mostly saves its conversion of the whole picture."""

    def __post_init__(self) -> None:
        if self.detect_width is not None and self.detect_width < 64:
            raise SettingError(f"detect_width must be >= 64 px (or None), got {self.detect_width}")
        if self.calibration_seconds < 0:
            raise SettingError(f"calibration_seconds must be >= 0, got {self.calibration_seconds}")
        if self.min_calibration_frames < 1:
            raise SettingError(f"min_calibration_frames must be >= 1, got {self.min_calibration_frames}")


def invalid_params(n_components: int) -> FaceParams:
    """One frame without a face (values NaN, valid False) for a model of `n_components` coefficients."""
    nan = np.float32(np.nan)
    return FaceParams(
        rotation=np.full((1, 3, 3), nan), translation=np.full((1, 2), nan), scale=np.full(1, nan),
        expression=np.full((1, n_components), nan), gaze=np.full((1, 2, 2), nan), openness=np.full((1, 2), nan),
        valid=np.zeros(1, dtype=bool),
    )


def calibrate(landmarks: np.ndarray, target: FaceModel) -> tuple[FaceModel, FaceParams]:
    """The source's model (its identity, the target's basis) and neutral reference from landmarks Tx478x3."""
    first = np.median(pose_normalised_shapes(landmarks), axis=0)
    rotation, translation, scale = fit_pose(landmarks, first)
    identity = np.median(unplace(landmarks[:, :N_VERTICES], rotation, translation, scale), axis=0)
    model = FaceModel(identity=identity.astype(np.float32), basis=target.basis,
                      coefficient_range=target.coefficient_range)
    params = fit_frames(landmarks, model)
    return model, params[neutral_frame(model, params)].copy()


class SourceTracker:
    """Feed camera frames in order with their capture times; get 1-frame FaceParams of the source."""

    def __init__(self, target: FaceModel, config: LiveTrackingConfig = LiveTrackingConfig()) -> None:
        self.target, self.config = target, config
        self.model: FaceModel | None = None
        """The source's model, once calibrated."""
        self.reference: FaceParams | None = None
        """The source's neutral reference (1 frame), once calibrated."""
        self._detector = LandmarkDetector(config.landmarks)
        self._filter = OneEuroFilter(config.landmark_filter)
        self._last_time: float | None = None
        self._collected: list[np.ndarray] = []
        self._collected_since: float | None = None

    @property
    def calibrated(self) -> bool:
        return self.reference is not None

    def hold_still(self) -> None:
        """Track a still photo: fitted in the target's model, its first face is the reference (no calibration)."""
        self.model = self.target

    def __call__(self, rgb: np.ndarray, t: float) -> FaceParams:
        """The source's parameters in frame `rgb` (uint8 H x W x 3) captured at `t` seconds; invalid
        when no face is found or until calibration is done."""
        raw = self._detect(rgb)
        if raw is None:
            self._filter.reset()
            self._last_time = None
            return invalid_params(self.target.n_components)
        dt = max(t - self._last_time, 1e-3) if self._last_time is not None else 1.0  # the first passes as is
        self._last_time = t
        landmarks = self._filter(raw, dt).astype(np.float32)
        if self.model is None and not self._calibrating(landmarks, t):
            return invalid_params(self.target.n_components)
        params = fit_frames(landmarks[None], self.model)
        if self.reference is None:  # a still photo (`hold_still`): its face is its own reference
            self.reference = params.copy()
        return params

    def _detect(self, rgb: np.ndarray) -> np.ndarray | None:
        """Face Mesh landmarks (478x3, the frame's px), found on the frame scaled to `detect_width`."""
        width = self.config.detect_width
        h, w = rgb.shape[:2]
        if width is None or w <= width:
            return self._detector.detect(rgb)
        height = max(1, round(h * width / w))
        raw = self._detector.detect(cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA))
        if raw is None:
            return None
        sx, sy = w / width, h / height
        return raw * np.array([sx, sy, sx], dtype=np.float32)  # z is in px of the width, as x is

    def _calibrating(self, landmarks: np.ndarray, t: float) -> bool:
        """Collect a calibration frame; True once calibrated by it."""
        self._collected.append(landmarks)
        if self._collected_since is None:
            self._collected_since = t
        long_enough = t - self._collected_since >= self.config.calibration_seconds
        if not long_enough or len(self._collected) < self.config.min_calibration_frames:
            return False
        self.model, self.reference = calibrate(np.stack(self._collected), self.target)
        self._collected = []
        return True

    def close(self) -> None:
        self._detector.close()
