"""Head-pose conventions shared by tracking, recombination and rendering.

A frame's face is placed in the image by a weak-perspective similarity:

    p_image = scale * FLIP @ rotation @ X + (tx, ty, 0)

where X is a point in canonical space (+y up, +z towards the camera), `rotation`
is the head rotation in that y-up camera frame (identity = frontal), and FLIP
turns y-up/z-towards-camera into image axes (x right, y down, z away from the
camera: smaller z is nearer, as in MediaPipe).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

FLIP = np.diag([1.0, -1.0, -1.0]).astype(np.float32)
"""Canonical (y up, z towards camera) to image axes (y down, z away)."""


def euler_degrees(rotation: np.ndarray) -> np.ndarray:
    """Head yaw, pitch and roll in degrees, float32 ...x3, from rotations ...x3x3.

    Yaw turns about the vertical axis (positive: the nose turns towards the
    image's right), pitch about the horizontal axis (positive: the nose turns
    down), roll in the image plane (positive: counter-clockwise as seen in the
    image).
    """
    shape = rotation.shape[:-2]
    r = Rotation.from_matrix(rotation.reshape(-1, 3, 3).astype(np.float64))
    # Intrinsic Y (yaw), then X (pitch), then Z (roll).
    ypr = r.as_euler("YXZ", degrees=True)
    return ypr.reshape(*shape, 3).astype(np.float32)


def rotation_from_euler(ypr_degrees: np.ndarray) -> np.ndarray:
    """Inverse of `euler_degrees`: float32 ...x3x3 rotations from yaw, pitch, roll in degrees."""
    ypr = np.asarray(ypr_degrees, dtype=np.float64)
    r = Rotation.from_euler("YXZ", ypr.reshape(-1, 3), degrees=True)
    return r.as_matrix().reshape(*ypr.shape[:-1], 3, 3).astype(np.float32)


def rotation_to_vector(rotation: np.ndarray) -> np.ndarray:
    """Axis-angle vectors (radians) ...x3 of rotations ...x3x3: a smooth space for filtering."""
    shape = rotation.shape[:-2]
    return Rotation.from_matrix(rotation.reshape(-1, 3, 3).astype(np.float64)).as_rotvec().reshape(*shape, 3)


def rotation_from_vector(rotvec: np.ndarray) -> np.ndarray:
    """Inverse of `rotation_to_vector`: float32 ...x3x3."""
    v = np.asarray(rotvec, dtype=np.float64)
    return Rotation.from_rotvec(v.reshape(-1, 3)).as_matrix().reshape(*v.shape[:-1], 3, 3).astype(np.float32)
