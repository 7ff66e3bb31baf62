"""Fitting the face model to landmarks: pose, identity, expression basis and coefficients, gaze.

All functions are vectorised over frames (arrays with a leading T axis), so the
same code fits one live frame or a whole clip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reenact.geometry import FLIP
from reenact.params import FaceModel, FaceParams, unplace
from reenact.tracking.canonical_face import N_VERTICES, canonical_face


@dataclass(frozen=True)
class FitConfig:
    """How the face model is built from a clip."""

    variance: float = 0.98
    """Fraction of the expression energy the basis keeps."""
    max_components: int = 48
    """Cap on the number of expression basis vectors."""
    basis_frames: int = 3000
    """At most this many (evenly spaced) valid frames fit the basis, to bound memory and time."""


def weighted_similarity(src: np.ndarray, dst: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, ...]:
    """Weighted Umeyama: per frame, the s, R, t minimising sum_i w_i |dst_i - (s R src_i + t)|^2.

    src, dst: float TxNx3; weights: N (any positive scale). Returns rotation Tx3x3
    (proper, det +1), scale T and translation Tx3.
    """
    w = (weights / weights.sum()).astype(np.float64)[None, :, None]
    src64, dst64 = src.astype(np.float64), dst.astype(np.float64)
    mu_s, mu_d = (w * src64).sum(1), (w * dst64).sum(1)
    a, b = src64 - mu_s[:, None], dst64 - mu_d[:, None]
    cov = np.einsum("tni,tnj->tij", w * b, a)
    u, sigma, vt = np.linalg.svd(cov)
    d = np.ones_like(sigma)
    d[:, 2] = np.sign(np.linalg.det(u) * np.linalg.det(vt))
    rotation = u @ (d[:, :, None] * vt)
    var_s = (w * a * a).sum((1, 2))
    scale = (sigma * d).sum(1) / var_s
    translation = mu_d - scale[:, None] * np.einsum("tij,tj->ti", rotation, mu_s)
    return rotation, scale, translation


def fit_pose(landmarks: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Head rotation Tx3x3, translation Tx2 and scale T placing `reference` (468x3) onto landmarks TxNx3.

    Only MediaPipe's 33 weighted rigid landmarks (forehead, nose, cheekbones) are
    used, so expressions (lips, jaw, lids) do not move the pose.
    """
    face = canonical_face()
    ids = face.rigid_ids
    src = np.broadcast_to(reference[ids], (landmarks.shape[0], len(ids), 3))
    rot, scale, trans = weighted_similarity(src, landmarks[:, ids], face.rigid_weights)
    head_rotation = np.einsum("ij,tjk->tik", FLIP, rot)
    return head_rotation.astype(np.float32), trans[:, :2].astype(np.float32), scale.astype(np.float32)


def eye_axes(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An eye's measuring frame from its corners' 2-D positions (... x 2 each): the unit x axis from the first
    corner to the second, the up axis (x rotated +90 degrees) and the corners' distance (...), as gaze and
    openness are measured in."""
    axis = second - first
    width = np.linalg.norm(axis, axis=-1)
    x_dir = axis / width[..., None]
    return x_dir, np.stack([-x_dir[..., 1], x_dir[..., 0]], axis=-1), width


def eye_state(canonical_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gaze Tx2x2 and openness Tx2 of both eyes from pose-normalised landmarks Tx478x3.

    Measured in canonical space, so head pose does not leak into gaze: x along
    the line between the eye's corners, y perpendicular (up), both in half eye
    widths from the eye's centre (corners' midpoint in x, lids' midpoint in y).
    """
    face = canonical_face()
    p = canonical_points[..., :2]
    left, right, upper, lower = (p[:, face.eye_points[:, k]] for k in range(4))  # each Tx2x2
    iris = p[:, face.iris_centres]
    x_dir, y_dir, width = eye_axes(left, right)
    half = width / 2
    gaze_x = ((iris - (left + right) / 2) * x_dir).sum(-1) / half
    gaze_y = ((iris - (upper + lower) / 2) * y_dir).sum(-1) / half
    openness = ((upper - lower) * y_dir).sum(-1) / width
    return np.stack([gaze_x, gaze_y], axis=-1).astype(np.float32), openness.astype(np.float32)


def build_face_model(canonical_shapes: np.ndarray, config: FitConfig = FitConfig()) -> FaceModel:
    """A subject's FaceModel from its pose-normalised shapes Tx468x3 (valid frames only).

    Identity is the per-vertex median (robust to expressions and outliers); the
    basis is an uncentred PCA of the offsets from it, keeping `config.variance`
    of their energy, at most `config.max_components` vectors.
    """
    identity = np.median(canonical_shapes, axis=0).astype(np.float32)
    offsets = (canonical_shapes - identity).reshape(len(canonical_shapes), -1)
    step = max(1, len(offsets) // config.basis_frames)
    _, sigma, vt = np.linalg.svd(offsets[::step].astype(np.float64), full_matrices=False)
    energy = np.cumsum(sigma**2) / max(float((sigma**2).sum()), 1e-12)
    k = int(min(np.searchsorted(energy, config.variance) + 1, config.max_components, len(sigma)))
    basis = vt[:k].reshape(k, N_VERTICES, 3).astype(np.float32)
    coefficients = offsets @ vt[:k].T.astype(np.float32)
    coefficient_range = np.stack([coefficients.min(0), coefficients.max(0)], axis=1).astype(np.float32)
    return FaceModel(identity=identity, basis=basis, coefficient_range=coefficient_range)


def fit_frames(landmarks: np.ndarray, model: FaceModel) -> FaceParams:
    """FaceParams for landmarks Tx478x3 (px) given the subject's model; all frames are taken as valid."""
    rotation, translation, scale = fit_pose(landmarks, model.identity)
    canonical = unplace(landmarks, rotation, translation, scale)
    expression = model.project(canonical[:, :N_VERTICES] - model.identity)
    gaze, openness = eye_state(canonical)
    return FaceParams(
        rotation=rotation,
        translation=translation,
        scale=scale,
        expression=expression,
        gaze=gaze,
        openness=openness,
        valid=np.ones(len(landmarks), dtype=bool),
    )


def pose_normalised_shapes(landmarks: np.ndarray) -> np.ndarray:
    """Mesh shapes Tx468x3 in canonical space, posed by the mean face: the input to `build_face_model`."""
    rotation, translation, scale = fit_pose(landmarks, canonical_face().vertices)
    return unplace(landmarks[:, :N_VERTICES], rotation, translation, scale)


def fit_error(params: FaceParams, model: FaceModel, landmarks: np.ndarray) -> np.ndarray:
    """Per-frame median image distance (px) between the fitted mesh and the 468 mesh landmarks."""
    fitted = params.vertices(model)
    return np.median(np.linalg.norm(fitted[..., :2] - landmarks[:, :N_VERTICES, :2], axis=-1), axis=1)


def inter_ocular_distance(landmarks: np.ndarray) -> np.ndarray:
    """Per-frame distance (px) between the two eyes' centres (corners' midpoints), Tx478x3 -> T."""
    eye = canonical_face().eye_points
    centres = (landmarks[:, eye[:, 0], :2] + landmarks[:, eye[:, 1], :2]) / 2
    return np.linalg.norm(centres[:, 0] - centres[:, 1], axis=-1)


def fit_clip(landmarks: np.ndarray, valid: np.ndarray, config: FitConfig = FitConfig()) -> tuple[FaceModel, FaceParams, np.ndarray]:
    """Build the subject's model from a clip's valid frames and fit every frame.

    Two passes: poses from the mean face give a first identity; poses refitted
    to that identity give the shapes the model is built from. Returns the model,
    FaceParams over all T frames (invalid frames flagged, their values NaN) and
    the per-frame fit error in px.
    """
    good = landmarks[valid]
    first = build_face_model(pose_normalised_shapes(good), config)
    rotation, translation, scale = fit_pose(good, first.identity)
    model = build_face_model(unplace(good[:, :N_VERTICES], rotation, translation, scale), config)
    fitted = fit_frames(good, model)
    # The range the generator will be trained on: this clip's own fitted coefficients.
    model.coefficient_range = np.stack([fitted.expression.min(0), fitted.expression.max(0)], axis=1)
    errors = np.full(len(landmarks), np.nan, dtype=np.float32)
    errors[valid] = fit_error(fitted, model, good)
    return model, scatter(fitted, valid), errors


def scatter(params: FaceParams, valid: np.ndarray) -> FaceParams:
    """Spread params of the valid frames over all frames of `valid`, NaN elsewhere."""
    def spread(values: np.ndarray) -> np.ndarray:
        out = np.full((len(valid), *values.shape[1:]), np.nan, dtype=values.dtype)
        out[valid] = values
        return out

    return FaceParams(
        rotation=spread(params.rotation),
        translation=spread(params.translation),
        scale=spread(params.scale),
        expression=spread(params.expression),
        gaze=spread(params.gaze),
        openness=spread(params.openness),
        valid=valid.copy(),
    )

