"""Model fitting on synthetic landmarks with known answers."""

from __future__ import annotations

import numpy as np

from reenact.geometry import euler_degrees, rotation_from_euler
from reenact.params import place
from reenact.tracking.canonical_face import canonical_face
from reenact.tracking.fitting import (
    build_face_model,
    eye_state,
    fit_frames,
    weighted_similarity,
)


def test_weighted_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(4, 33, 3))
    rotation = rotation_from_euler(rng.uniform(-60, 60, size=(4, 3))).astype(np.float64)
    scale = rng.uniform(0.5, 3, size=4)
    translation = rng.normal(size=(4, 3)) * 10
    dst = scale[:, None, None] * np.einsum("tij,tnj->tni", rotation, src) + translation[:, None]
    r, s, t = weighted_similarity(src, dst, rng.uniform(0.1, 1, size=33))
    np.testing.assert_allclose(r, rotation, atol=1e-6)
    np.testing.assert_allclose(s, scale, rtol=1e-6)
    np.testing.assert_allclose(t, translation, atol=1e-6)


def synthetic_clip(n: int = 60):
    """Landmarks of the mean face with random expressions, poses and irises, and the truth."""
    rng = np.random.default_rng(3)
    face = canonical_face()
    lips = np.zeros((468, 3), np.float32)
    lips[face.lips, 1] = 0.3  # a mouth-opening direction
    brows = np.zeros((468, 3), np.float32)
    brows[np.concatenate(face.brows), 1] = 0.2
    amount = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
    shapes = face.vertices + amount[:, :1, None] * lips + amount[:, 1:, None] * brows
    ypr = rng.uniform(-25, 25, size=(n, 3))
    rotation = rotation_from_euler(ypr)
    translation = rng.uniform(100, 300, size=(n, 2)).astype(np.float32)
    scale = rng.uniform(8, 15, size=n).astype(np.float32)
    # Irises: at each eye's centre, shifted by a known gaze.
    ep = face.eye_points
    centre = np.stack([(shapes[:, ep[:, 0]] + shapes[:, ep[:, 1]]) / 2], 0)[0]  # n x 2 x 3
    lid_mid_y = (shapes[:, ep[:, 2], 1] + shapes[:, ep[:, 3], 1]) / 2
    half = np.linalg.norm(shapes[:, ep[:, 1]] - shapes[:, ep[:, 0]], axis=-1) / 2
    gaze = rng.uniform(-0.3, 0.3, size=(n, 2, 2)).astype(np.float32)
    iris = centre.copy()
    iris[..., 0] += gaze[..., 0] * half  # canonical eye axis is close to +x on the mean face
    iris[..., 1] = lid_mid_y + gaze[..., 1] * half
    points = np.zeros((n, 478, 3), np.float32)
    points[:, :468] = shapes
    points[:, face.iris_centres] = iris
    landmarks = place(points, rotation, translation, scale)
    return landmarks, shapes, ypr, translation, scale, gaze


def test_fit_recovers_pose_expression_and_gaze():
    landmarks, shapes, ypr, translation, scale, gaze = synthetic_clip()
    face = canonical_face()
    model = build_face_model(shapes)
    params = fit_frames(landmarks, model)
    np.testing.assert_allclose(euler_degrees(params.rotation), ypr, atol=0.05)
    np.testing.assert_allclose(params.scale, scale, rtol=1e-3)
    np.testing.assert_allclose(params.translation, translation, atol=0.2)
    # Two expression directions were used: the model needs two components and reproduces the shapes.
    assert model.n_components == 2
    np.testing.assert_allclose(model.shapes(params.expression), shapes, atol=1e-3)
    # The eye axis of the mean face is within a few degrees of +x, so gaze comes back closely.
    np.testing.assert_allclose(params.gaze, gaze, atol=0.03)
    measured_gaze, _ = eye_state(np.concatenate([shapes, np.zeros((len(shapes), 10, 3), np.float32)], 1))
    assert measured_gaze.shape == (len(shapes), 2, 2)
    assert face.eye_points.shape == (2, 4)


def test_identity_is_robust_to_outlier_frames():
    _, shapes, *_ = synthetic_clip(61)
    corrupted = shapes.copy()
    corrupted[:10] += 5.0  # a sixth of the frames wildly off
    model = build_face_model(corrupted)
    np.testing.assert_allclose(model.identity, np.median(shapes, 0), atol=0.35)
