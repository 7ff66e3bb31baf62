"""Does a generated face do what it was asked? Re-track it and compare with the parameters that conditioned it.

Generated crops go through reenact's own tracker (Face Mesh, then the fit
against the target's face model), in order and in video mode as a real clip
would, and each frame's re-tracked face is compared with the conditioning
parameters:

- landmark error: mean distance between the re-tracked 468 mesh landmarks and
  the vertices the parameters place (the model's shape posed), in % of the
  inter-ocular distance of the latter;
- expression error: RMS per-vertex distance (mm, canonical space) between the
  re-tracked and the wanted expression shapes; the basis is orthonormal, so
  this is the coefficients' distance over sqrt(468);
- gaze error: the iris offsets' distance, per eye in half eye widths, averaged
  over both eyes; openness error likewise, in eye widths;
- pose error: the angle (degrees) of the rotation between the re-tracked and
  the wanted head rotation.

Expression, gaze, openness and pose are compared after the same fit on both
sides: the re-tracked landmarks and the landmarks the wanted parameters imply
(`implied_landmarks`) each go through `fit_frames`. The fit is not an exact
inverse of placing (expressions move the rigid points a little, and a track's
openness is measured on the raw landmarks, not on the model's shape), and
fitting both sides cancels that bias: the wanted parameters' own landmarks
score 0.

A frame where Face Mesh finds no face gets no errors (NaN); the share of
frames with a face found is a metric of its own. Even the real frames score
above 0 (the model's fit error, tracker noise and the track's temporal
filter): the report shows them as the floor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Self

import cv2
import numpy as np

from reenact.params import FaceModel, FaceParams, place
from reenact.render.conditioning import iris_centres
from reenact.render.crop import apply_affine, invert_affine
from reenact.tracking.canonical_face import N_LANDMARKS, N_VERTICES, canonical_face
from reenact.tracking.fitting import fit_frames, inter_ocular_distance
from reenact.tracking.landmarks import LandmarkConfig, LandmarkDetector

ERRORS = ("landmark_error", "expression_error", "gaze_error", "openness_error", "pose_error")
"""Per-frame error fields of `Fidelity`, in report order."""


@dataclass(frozen=True)
class FidelityConfig:
    """How generated frames are re-tracked."""

    min_size: int = 256
    """Crops smaller than this many pixels are upscaled (bilinear) to it before Face Mesh sees them: its
    face detector misses faces in small images (the `tiny` preset works at 64 px)."""
    landmarks: LandmarkConfig = field(default_factory=lambda: LandmarkConfig(max_faces=1))
    """Face Mesh settings; a crop holds one face."""


@dataclass
class Fidelity:
    """Per-frame fidelity of T frames to their conditioning parameters (NaN where not compared)."""

    compared: np.ndarray
    """bool T: the conditioning had a face (frames without one are not asked for a face)."""
    found: np.ndarray
    """bool T: re-tracking found a face (only where `compared`)."""
    landmark_error: np.ndarray
    """float64 T: mean 2D distance of the 468 mesh landmarks, % of the inter-ocular distance."""
    expression_error: np.ndarray
    """float64 T: RMS per-vertex distance of the expression shapes, mm in canonical space."""
    gaze_error: np.ndarray
    """float64 T: iris offset distance in half eye widths, mean of both eyes."""
    openness_error: np.ndarray
    """float64 T: absolute openness difference in eye widths, mean of both eyes."""
    pose_error: np.ndarray
    """float64 T: angle of the rotation between the two head rotations, degrees."""

    def found_rate(self) -> float:
        """Share of the compared frames where a face was found (NaN when none was compared)."""
        compared = int(self.compared.sum())
        return float(self.found.sum() / compared) if compared else float("nan")


def rotation_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in degrees (float64 T) of the rotation taking each of a (T x 3 x 3) to b: the geodesic distance."""
    # |a - b|_F = 2 sqrt(2) sin(angle / 2): unlike the trace's arccos, exact for small angles.
    frobenius = np.linalg.norm((a.astype(np.float64) - b.astype(np.float64)).reshape(len(a), 9), axis=1)
    return np.degrees(2 * np.arcsin(np.clip(frobenius / (2 * np.sqrt(2)), 0.0, 1.0)))


def implied_landmarks(params: FaceParams, model: FaceModel) -> np.ndarray:
    """float32 T x 478 x 3 frame px: the landmarks `params` imply, the model's mesh posed and each iris
    (centre and ring) at the centre the gaze puts it (what the conditioning draws)."""
    shapes = model.shapes(params.expression)
    irises = iris_centres(shapes, params.gaze)
    points = np.empty((len(params), N_LANDMARKS, 3), dtype=np.float32)
    points[:, :N_VERTICES] = shapes
    face = canonical_face()
    for eye in range(2):
        points[:, [face.iris_centres[eye], *face.irises[eye]]] = irises[:, eye, None]
    return place(points, params.rotation, params.translation, params.scale)


def compare_to_params(landmarks: np.ndarray, wanted: FaceParams, model: FaceModel) -> Fidelity:
    """Fidelity of re-tracked landmarks (float T x 478 x 3, frame px, NaN where no face was found) to the
    parameters `wanted` (T frames, in the face model `model`)."""
    if landmarks.shape != (len(wanted), N_LANDMARKS, 3):
        raise ValueError(f"landmarks must be {len(wanted)} x {N_LANDMARKS} x 3, got shape {landmarks.shape}")
    compared = np.asarray(wanted.valid, dtype=bool)
    found = compared & np.isfinite(landmarks).all(axis=(1, 2))
    errors = {name: np.full(len(wanted), np.nan) for name in ERRORS}
    if found.any():
        got = landmarks[found]
        implied = implied_landmarks(wanted[np.flatnonzero(found)], model)
        distance = np.linalg.norm(got[:, :N_VERTICES, :2] - implied[:, :N_VERTICES, :2], axis=-1).mean(axis=1)
        errors["landmark_error"][found] = 100 * distance / inter_ocular_distance(implied)
        fitted, want = fit_frames(got, model), fit_frames(implied, model)
        coefficients = np.linalg.norm(fitted.expression - want.expression, axis=1)
        errors["expression_error"][found] = 10 * coefficients / np.sqrt(N_VERTICES)  # cm -> mm
        errors["gaze_error"][found] = np.linalg.norm(fitted.gaze - want.gaze, axis=-1).mean(axis=1)
        errors["openness_error"][found] = np.abs(fitted.openness - want.openness).mean(axis=1)
        errors["pose_error"][found] = rotation_angle(want.rotation, fitted.rotation)
    return Fidelity(compared=compared, found=found, **errors)


class Retracker:
    """Feed crops in order; get Face Mesh's landmarks of each, mapped back into frame coordinates."""

    def __init__(self, config: FidelityConfig = FidelityConfig()) -> None:
        self.config = config
        self._detector = LandmarkDetector(config.landmarks)

    def __call__(self, crop: np.ndarray, matrix: np.ndarray, new_shot: bool = False) -> np.ndarray:
        """Landmarks float32 478 x 3 in frame px (NaN when no face) of a uint8 S x S x 3 crop whose
        frame-to-crop affine is `matrix` (2 x 3); `new_shot` restarts the tracker (a cut, a gap)."""
        if new_shot:
            self._detector.restart()
        size = crop.shape[0]
        upscale = max(1.0, self.config.min_size / size)
        if upscale > 1:
            side = round(size * upscale)
            crop = cv2.resize(crop, (side, side), interpolation=cv2.INTER_LINEAR)
        found = self._detector.detect(np.ascontiguousarray(crop))
        if found is None:
            return np.full((N_LANDMARKS, 3), np.nan, dtype=np.float32)
        to_frame = invert_affine(np.asarray(matrix, dtype=np.float64))
        return apply_affine(found / (crop.shape[0] / size), to_frame).astype(np.float32)

    def close(self) -> None:
        self._detector.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
