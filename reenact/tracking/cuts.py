"""Shot-cut detection: where an edited clip jumps from one shot to the next.

A cut changes the whole picture at once, so consecutive frames' colour
histograms (hue-saturation, on a small copy of the frame) jump apart; within a
shot, speech and head motion move them little. A cut is declared when the
Bhattacharyya distance between consecutive frames' histograms exceeds a
threshold, or exceeds a lower one while the tracked face also jumps in place or
size (a cut between two shots of one scene).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class CutConfig:
    """Thresholds of the cut detector."""

    threshold: float = 0.35
    """Histogram distance (Bhattacharyya, 0..1) above which consecutive frames are different shots."""
    face_threshold: float = 0.15
    """Lower histogram distance that counts as a cut when the face also jumps."""
    face_jump: float = 0.5
    """Face jump, as a fraction of the inter-ocular distance (centre move or size change), that supports a cut."""


def frame_histogram(rgb: np.ndarray) -> np.ndarray:
    """Normalised 16x16 hue-saturation histogram of a frame (computed on a 64 px wide copy)."""
    h, w = rgb.shape[:2]
    small = cv2.resize(rgb, (64, max(1, round(64 * h / w))), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [16, 16], [0, 180, 0, 256])
    return cv2.normalize(hist, None, alpha=1.0, norm_type=cv2.NORM_L1)


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya distance of two histograms from `frame_histogram`: 0 same, 1 disjoint."""
    return float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))


def face_jump(previous: np.ndarray, current: np.ndarray) -> float:
    """How far a face (478x3 landmarks, px) jumped between frames, in units of its inter-ocular distance.

    The larger of the centre's move and the change of size.
    """
    def centre_and_size(points: np.ndarray) -> tuple[np.ndarray, float]:
        xy = points[:, :2]
        return xy.mean(0), float(np.linalg.norm(xy.max(0) - xy.min(0)))

    c0, s0 = centre_and_size(previous)
    c1, s1 = centre_and_size(current)
    size = max(s0, 1e-6)
    # A face's bounding-box diagonal is about 2.5 inter-ocular distances.
    return max(float(np.linalg.norm(c1 - c0)), abs(s1 - s0)) / (size / 2.5)


class CutDetector:
    """Feed frames in order; each call says whether that frame starts a new shot."""

    def __init__(self, config: CutConfig = CutConfig()) -> None:
        self.config = config
        self._previous: np.ndarray | None = None
        self.last_distance = 0.0

    def __call__(self, rgb: np.ndarray) -> bool:
        """Whether `rgb` starts a new shot by the histogram test alone (the first frame never does)."""
        hist = frame_histogram(rgb)
        self.last_distance = 0.0 if self._previous is None else histogram_distance(self._previous, hist)
        self._previous = hist
        return self.last_distance > self.config.threshold

    def confirms(self, previous_face: np.ndarray | None, face: np.ndarray | None) -> bool:
        """Whether the last frame's weaker histogram change plus a face jump make a cut."""
        if previous_face is None or face is None or self.last_distance <= self.config.face_threshold:
            return False
        return face_jump(previous_face, face) > self.config.face_jump
