"""Drawing a track over its video so a person can check the fit by eye.

Per frame: the fitted mesh as a wireframe (green), the head's axes from the nose
tip (x red, y green, z blue), a gaze arrow from each iris (yellow, 4x the iris offset), and a line
of text with yaw/pitch/roll, eye openness and the fit error. Frames without a
face say so. The first frame of a new shot gets a red border, and "CUT at t s"
stays up for half a second after it, long enough to be seen at full speed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import cv2
import numpy as np

from reenact.geometry import euler_degrees
from reenact.params import Track, place
from reenact.tracking.canonical_face import canonical_face

NOSE_TIP = 4
"""Face Mesh landmark at the tip of the nose: where the head axes are drawn from."""
CUT_LABEL_SECONDS = 0.5
"""How long the CUT label stays up after a cut."""


def latest_cut(track: Track, index: int) -> int | None:
    """The cut that frame `index` follows by at most CUT_LABEL_SECONDS, or None."""
    earlier = track.cuts[track.cuts <= index]
    if len(earlier) and index - earlier[-1] < max(1, round(CUT_LABEL_SECONDS * track.fps)):
        return int(earlier[-1])
    return None


def draw_frame(rgb: np.ndarray, track: Track, index: int, vertices: np.ndarray | None = None,
               note: str = "") -> np.ndarray:
    """A copy of frame `index` (uint8 HxWx3 RGB) with the fit drawn over it.

    `vertices` (468x3 px) are the fitted mesh of this frame; computed when not given. `note`: one more line
    of text under the pose line (what a layer above measured of this frame, e.g. its strongest action units).
    """
    out = rgb.copy()
    h = out.shape[0]
    thickness = max(1, round(h / 480))
    font = 0.4 * max(1.0, h / 480)
    params = track.params
    cut = latest_cut(track, index)
    if cut is not None:
        if cut == index:
            cv2.rectangle(out, (0, 0), (out.shape[1] - 1, h - 1), (255, 64, 64), 2 * thickness + 2)
        cv2.putText(out, f"CUT at {cut / track.fps:.2f} s", (8, h - 10), cv2.FONT_HERSHEY_SIMPLEX, font * 1.5,
                    (255, 64, 64), thickness + 1)
    if not params.valid[index]:
        cv2.putText(out, "no face", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, font, (255, 64, 64), thickness)
        return out
    face = canonical_face()
    if vertices is None:
        vertices = params[index].vertices(track.model)[0]
    xy = vertices[:, :2]
    edges = face.tessellation_edges
    segments = np.stack([xy[edges[:, 0]], xy[edges[:, 1]]], axis=1)
    mesh = out.copy()
    cv2.polylines(mesh, np.round(segments).astype(np.int32), False, (0, 220, 0), 1, cv2.LINE_AA)
    out = cv2.addWeighted(mesh, 0.45, out, 0.55, 0)  # a see-through wireframe keeps the face visible

    # Head axes: canonical unit axes from the nose tip, 4 cm long.
    axes = track.model.identity[NOSE_TIP] + np.vstack([np.zeros(3), 4 * np.eye(3)]).astype(np.float32)
    pts = place(axes[None], params.rotation[index : index + 1], params.translation[index : index + 1],
                params.scale[index : index + 1])[0, :, :2]
    origin = tuple(np.round(pts[0]).astype(int))
    for tip, colour in zip(pts[1:], [(255, 0, 0), (0, 255, 0), (0, 128, 255)]):
        cv2.arrowedLine(out, origin, tuple(np.round(tip).astype(int)), colour, thickness + 1, cv2.LINE_AA, tipLength=0.15)

    # Gaze: from each iris landmark, along the eye's image axes, scaled by eye width.
    lm = track.landmarks[index]
    for eye in range(2):
        corner_l, corner_r = xy[face.eye_points[eye, 0]], xy[face.eye_points[eye, 1]]
        x_dir = corner_r - corner_l
        y_dir = np.array([x_dir[1], -x_dir[0]])  # image y points down; canonical "up" is -y
        gx, gy = params.gaze[index, eye]
        start = lm[face.iris_centres[eye], :2]
        end = start + 2.0 * (gx * x_dir + gy * y_dir)  # 4x the iris offset, to be visible
        cv2.arrowedLine(out, tuple(np.round(start).astype(int)), tuple(np.round(end).astype(int)),
                        (255, 230, 0), thickness + 1, cv2.LINE_AA, tipLength=0.3)

    yaw, pitch, roll = euler_degrees(params.rotation[index])
    r_open, l_open = params.openness[index]
    text = (f"yaw {yaw:+5.1f} pitch {pitch:+5.1f} roll {roll:+5.1f}  "
            f"eyes {r_open:.2f}/{l_open:.2f}  fit {track.fit_error[index]:.1f}px")
    cv2.putText(out, text, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, font, (0, 0, 0), thickness + 2, cv2.LINE_AA)
    cv2.putText(out, text, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, font, (255, 255, 255), thickness, cv2.LINE_AA)
    if note:
        y = 20 + round(30 * font)
        cv2.putText(out, note, (8, y), cv2.FONT_HERSHEY_SIMPLEX, font, (0, 0, 0), thickness + 2, cv2.LINE_AA)
        cv2.putText(out, note, (8, y), cv2.FONT_HERSHEY_SIMPLEX, font, (255, 230, 120), thickness, cv2.LINE_AA)
    return out


def overlay_frames(frames: Iterable[np.ndarray], track: Track,
                   notes: Sequence[str] | None = None) -> Iterator[np.ndarray]:
    """The clip's frames with the track drawn over each (frames beyond the track pass unchanged); `notes`: a
    line of text per frame to add (see `draw_frame`)."""
    all_vertices = track.params.vertices(track.model)
    for i, rgb in enumerate(frames):
        note = notes[i] if notes is not None and i < len(notes) else ""
        yield draw_frame(rgb, track, i, all_vertices[i], note) if i < track.n_frames else rgb
