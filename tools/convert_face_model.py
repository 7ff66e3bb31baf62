"""Convert MediaPipe's canonical face into the package data file, once.

Reads `geometry_pipeline_metadata_landmarks.pbtxt` (from $REENACT_DATA/face_model,
default ../shared/data/face_model) for the mesh (vertices in landmark order, UVs,
triangles) and the 33 weighted rigid landmarks, and MediaPipe's own
`face_mesh_connections` for the landmark index sets of lips, eyes, brows, irises
and face oval. Writes `reenact/tracking/data/canonical_face.npz` so that an
installed reenact needs nothing from outside.

    python tools/convert_face_model.py
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
from mediapipe.python.solutions import face_mesh_connections as fmc

from reenact.sample_data import data_dir

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "reenact" / "tracking" / "data" / "canonical_face.npz"


def _indices(connections: frozenset[tuple[int, int]]) -> np.ndarray:
    return np.array(sorted({i for edge in connections for i in edge}), dtype=np.int32)


def _eye_points(contour: np.ndarray, vertices: np.ndarray) -> dict[str, int]:
    """Corners (extremes in x) and lid midpoints (extremes in y near the centre) of one eye."""
    xy = vertices[contour, :2]
    lateral_left = contour[np.argmin(xy[:, 0])]
    lateral_right = contour[np.argmax(xy[:, 0])]
    centre_x = xy[:, 0].mean()
    near_centre = np.abs(xy[:, 0] - centre_x) < 0.25 * np.ptp(xy[:, 0])
    upper = contour[near_centre][np.argmax(xy[near_centre, 1])]
    lower = contour[near_centre][np.argmin(xy[near_centre, 1])]
    return {"left": int(lateral_left), "right": int(lateral_right), "upper": int(upper), "lower": int(lower)}


def main() -> int:
    data = data_dir()
    pbtxt = (data / "face_model" / "geometry_pipeline_metadata_landmarks.pbtxt").read_text()
    basis = re.findall(r"landmark_id:\s*(\d+)\s+weight:\s*([-\d.eE+]+)", pbtxt)
    vertex_buffer = np.array(re.findall(r"vertex_buffer:\s*([-\d.eE+]+)", pbtxt), dtype=np.float64)
    index_buffer = np.array(re.findall(r"index_buffer:\s*(\d+)", pbtxt), dtype=np.int32)
    mesh = vertex_buffer.reshape(-1, 5)
    vertices, uvs = mesh[:, :3], mesh[:, 3:]
    triangles = index_buffer.reshape(-1, 3)
    if vertices.shape != (468, 3) or triangles.shape != (898, 3) or len(basis) != 33:
        print(f"unexpected canonical face: {vertices.shape} vertices, {triangles.shape} triangles, "
              f"{len(basis)} rigid landmarks", file=sys.stderr)
        return 1

    # MediaPipe's LEFT/RIGHT are the subject's; the subject's right eye has the smaller canonical x.
    right_eye, left_eye = _indices(fmc.FACEMESH_RIGHT_EYE), _indices(fmc.FACEMESH_LEFT_EYE)
    eyes = [_eye_points(right_eye, vertices), _eye_points(left_eye, vertices)]
    np.savez_compressed(
        OUT,
        vertices=vertices.astype(np.float32),
        uvs=uvs.astype(np.float32),
        triangles=triangles,
        rigid_ids=np.array([int(i) for i, _ in basis], dtype=np.int32),
        rigid_weights=np.array([float(w) for _, w in basis], dtype=np.float32),
        lips=_indices(fmc.FACEMESH_LIPS),
        right_eye=right_eye,
        left_eye=left_eye,
        right_brow=_indices(fmc.FACEMESH_RIGHT_EYEBROW),
        left_brow=_indices(fmc.FACEMESH_LEFT_EYEBROW),
        face_oval=_indices(fmc.FACEMESH_FACE_OVAL),
        right_iris=_indices(fmc.FACEMESH_RIGHT_IRIS),
        left_iris=_indices(fmc.FACEMESH_LEFT_IRIS),
        # Per eye (subject's right, left): image-left corner, image-right corner, upper lid, lower lid.
        eye_points=np.array([[e["left"], e["right"], e["upper"], e["lower"]] for e in eyes], dtype=np.int32),
        # Iris centres: MediaPipe's refined landmarks 468 (right) and 473 (left).
        iris_centres=np.array([468, 473], dtype=np.int32),
        tessellation_edges=np.array(sorted(fmc.FACEMESH_TESSELATION), dtype=np.int32),
    )
    print(f"wrote {OUT.relative_to(ROOT)}: 468 vertices, {len(triangles)} triangles, eyes {eyes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
