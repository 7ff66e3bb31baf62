"""MediaPipe's canonical face: topology, rigid landmarks and landmark index sets.

Loaded once from the package data file written by `tools/convert_face_model.py`;
every landmark index set the project uses lives here, derived from MediaPipe's
own data rather than typed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

N_VERTICES = 468
"""Vertices of the Face Mesh topology (landmarks 0..467)."""
N_LANDMARKS = 478
"""Face Mesh landmarks with refined irises (468 mesh points + 2 x 5 iris points)."""


@dataclass(frozen=True)
class CanonicalFace:
    """The metric mean face in canonical space (cm, +x to the subject's left, +y up, +z towards the camera).

    Eyes are indexed 0 = subject's right (image left when frontal), 1 = subject's left.
    """

    vertices: np.ndarray
    """float32 468x3 mean-face vertex positions."""
    uvs: np.ndarray
    """float32 468x2 texture coordinates in [0, 1]."""
    triangles: np.ndarray
    """int32 898x3 vertex indices, in MediaPipe's tessellation order."""
    rigid_ids: np.ndarray
    """int32 33 landmark ids MediaPipe uses for pose (forehead, nose, cheekbones)."""
    rigid_weights: np.ndarray
    """float32 33 Procrustes weights of those landmarks."""
    lips: np.ndarray
    """int32 lip contour landmark ids."""
    eyes: tuple[np.ndarray, np.ndarray]
    """int32 eyelid contour ids, (right eye, left eye)."""
    brows: tuple[np.ndarray, np.ndarray]
    """int32 eyebrow ids, (right, left)."""
    irises: tuple[np.ndarray, np.ndarray]
    """int32 iris ring ids (4 each), (right, left)."""
    iris_centres: np.ndarray
    """int32 2: iris centre landmark of the right and left eye."""
    eye_points: np.ndarray
    """int32 2x4: per eye, its image-left corner, image-right corner, upper-lid and lower-lid midpoint."""
    face_oval: np.ndarray
    """int32 landmark ids of the face outline."""
    tessellation_edges: np.ndarray
    """int32 Ex2 mesh edges, for drawing the wireframe."""


@lru_cache(maxsize=1)
def canonical_face() -> CanonicalFace:
    """Load the packaged canonical face (cached)."""
    with resources.files("reenact.tracking").joinpath("data/canonical_face.npz").open("rb") as f:
        d = dict(np.load(f))
    return CanonicalFace(
        vertices=d["vertices"],
        uvs=d["uvs"],
        triangles=d["triangles"],
        rigid_ids=d["rigid_ids"],
        rigid_weights=d["rigid_weights"],
        lips=d["lips"],
        eyes=(d["right_eye"], d["left_eye"]),
        brows=(d["right_brow"], d["left_brow"]),
        irises=(d["right_iris"], d["left_iris"]),
        iris_centres=d["iris_centres"],
        eye_points=d["eye_points"],
        face_oval=d["face_oval"],
        tessellation_edges=d["tessellation_edges"],
    )
