"""The face's regions on MediaPipe's canonical mesh: mouth, each eye and each brow, and what they measure.

Recombination weighs its transfer by these regions, edits and the edit mask
select them, the conditioning draws them, and live calibration picks the most
neutral frame by the mouth's shape; so they live here, below all of those, on
the canonical face they are defined on.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from reenact.params import FaceModel, FaceParams
from reenact.tracking.canonical_face import N_VERTICES, canonical_face

RATIO_LIMITS = (0.5, 2.0)
"""Feature-size ratios between identities are clipped to this range: beyond it
the tracks are wrong, not the faces."""

SUB_REGIONS = ("mouth", "right_eye", "left_eye", "right_brow", "left_brow")
"""Rows of `region_masks`: mouth (lips and jaw), then each eye and brow, right (subject's) first."""


def _sub_region_cores() -> list[np.ndarray]:
    """Vertex ids that belong wholly to each sub-region (weight 1 there)."""
    face = canonical_face()
    y = face.vertices[:, 1]
    jaw = np.flatnonzero(y < y[face.lips].min())  # everything below the lower lip moves with the jaw
    return [np.union1d(face.lips, jaw), face.eyes[0], face.eyes[1], face.brows[0], face.brows[1]]


@lru_cache(maxsize=1)
def region_masks() -> np.ndarray:
    """float32 5x468 soft sub-region membership of every vertex (rows: SUB_REGIONS), summing to 1.

    Each sub-region's core vertices (lips and jaw, eyelid contours, brows) are 1
    in their own row; every other vertex gets the harmonic interpolation of those
    labels over the mesh (edges weighted by inverse length on the mean face), so
    memberships fall off smoothly with distance along the surface, cheeks share
    mouth and eyes, and the forehead goes with the brows.
    """
    face = canonical_face()
    edges = face.tessellation_edges
    lengths = np.linalg.norm(face.vertices[edges[:, 0]] - face.vertices[edges[:, 1]], axis=1)
    laplacian = np.zeros((N_VERTICES, N_VERTICES))
    np.add.at(laplacian, (edges[:, 0], edges[:, 1]), -1.0 / lengths)
    np.add.at(laplacian, (edges[:, 1], edges[:, 0]), -1.0 / lengths)
    laplacian[np.diag_indices(N_VERTICES)] = -laplacian.sum(1)
    labels = np.zeros((N_VERTICES, len(SUB_REGIONS)))
    fixed = np.zeros(N_VERTICES, dtype=bool)
    for r, ids in enumerate(_sub_region_cores()):
        labels[ids, r] = 1.0
        fixed[ids] = True
    free = ~fixed
    labels[free] = np.linalg.solve(laplacian[np.ix_(free, free)], -laplacian[np.ix_(free, fixed)] @ labels[fixed])
    return labels.T.astype(np.float32)


def feature_sizes(identity: np.ndarray) -> np.ndarray:
    """float32 5x2 width and height (cm) of each sub-region of a neutral shape 468x3.

    Mouth: lip width, and lip top to chin; eyes: corner to corner, and lid gap;
    brows: brow length, and brow height above the eye's corners. Expression
    motion of a region scales with these (a lid closes by its own gap).
    """
    face = canonical_face()
    mouth = identity[_sub_region_cores()[0]]
    sizes = [[np.ptp(identity[face.lips, 0]), np.ptp(mouth[:, 1])]]
    for e in range(2):
        corner_a, corner_b, upper, lower = identity[face.eye_points[e]]
        sizes.append([np.linalg.norm((corner_b - corner_a)[:2]), upper[1] - lower[1]])
    for e in range(2):
        corners_y = identity[face.eye_points[e, :2], 1].mean()
        brow = identity[face.brows[e]]
        sizes.append([np.ptp(brow[:, 0]), brow[:, 1].mean() - corners_y])
    return np.abs(np.array(sizes, dtype=np.float32))


def feature_ratio(source: FaceModel, target: FaceModel) -> np.ndarray:
    """float32 5x2 target-to-source `feature_sizes` ratios, clipped to RATIO_LIMITS."""
    ratio = feature_sizes(target.identity) / np.maximum(feature_sizes(source.identity), 1e-6)
    return np.clip(ratio, *RATIO_LIMITS).astype(np.float32)


def retarget_scale(source: FaceModel, target: FaceModel) -> np.ndarray:
    """float32 468x3 per-vertex, per-axis factors mapping source canonical offsets onto the target's face.

    x and y: the target-to-source ratio of each sub-region's feature sizes,
    blended by `region_masks` (so a wide mouth's motion narrows on a narrow
    mouth, a lid closes by the target's own lid gap, and the factors vary
    smoothly between regions); z: the ratio of the faces' depths. Ratios are
    clipped to RATIO_LIMITS.
    """
    ratio = feature_ratio(source, target)
    depth = np.clip(np.ptp(target.identity[:, 2]) / max(float(np.ptp(source.identity[:, 2])), 1e-6), *RATIO_LIMITS)
    scale = np.empty((N_VERTICES, 3), dtype=np.float32)
    scale[:, :2] = region_masks().T @ ratio
    scale[:, 2] = depth
    return scale


def mouth_corners() -> np.ndarray:
    """int 2 vertex ids of the mouth corners, subject's right (-x) then left (+x), from the lip contour."""
    face = canonical_face()
    x = face.vertices[face.lips, 0]
    return face.lips[[np.argmin(x), np.argmax(x)]]


def mouth_shape(model: FaceModel, expression: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inner-lip gap and corner-to-corner width (cm, each T) of the subject's canonical mouth for coefficients TxK."""
    face = canonical_face()
    y = face.vertices[:, 1]
    middle = face.lips[np.abs(face.vertices[face.lips, 0]) < 1e-3]  # the lip contours cross the mid-plane 4 times
    inner = middle[np.argsort(y[middle])][1:3]  # lower and upper inner lip
    ids = np.concatenate([inner, mouth_corners()])
    points = model.identity[ids] + np.einsum("tk,kvc->tvc", expression, model.basis[:, ids])
    return points[:, 1, 1] - points[:, 0, 1], points[:, 3, 0] - points[:, 2, 0]


def neutral_frame(model: FaceModel, params: FaceParams) -> int:
    """Index of the clip's most neutral frame.

    Among valid frames with both eyes open (at least 80% of the clip's median
    openness) and the mouth closed (inner-lip gap in the clip's lowest quarter),
    the best by the sum of its ranks in mouth width (smiles widen it), head
    rotation angle and expression size. Not the expression size alone: the
    identity is the clip's median face, so in a clip that mostly smiles the
    smallest expression is a smile.
    """
    valid = np.flatnonzero(params.valid)
    if len(valid) == 0:
        raise ValueError("no valid frame to take as the reference: the track holds no face")
    openness = params.openness[valid].min(1)
    median = float(np.median(openness))
    pool = valid[openness >= min(0.8 * median, median)]
    gap, width = mouth_shape(model, params.expression[pool])
    closed = gap <= np.percentile(gap, 25)
    pool, width = pool[closed], width[closed]
    trace = np.trace(params.rotation[pool], axis1=1, axis2=2)
    angle = np.arccos(np.clip((trace - 1) / 2, -1, 1))
    size = np.linalg.norm(params.expression[pool], axis=1)
    ranks = [np.argsort(np.argsort(x)) for x in (width, angle, size)]
    return int(pool[np.argmin(np.sum(ranks, axis=0))])
