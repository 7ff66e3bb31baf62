"""Upper eyelids put where each eye's openness parameter says, whatever the expression basis can do.

A target's expression basis is a PCA of its own clip, in which both eyes blink
together, so it cannot close one eye: `edit --close-eye left` moved the
coefficients towards the clip's blink and rendered both eyes half closed (on
target_edtalk a mesh openness of 0.16 and 0.17 eye widths where 0.30 and 0 were
asked), and the re-tracked result showed 21% of the closure. Openness is
tracked per eye as a parameter of its own, so the renderer places the lids by
it: each eye's upper lid contour is moved along the eye's up axis until its gap
to the lower lid is the asked openness times the mesh's own gap profile, and
the lid skin above it follows, fading to still over `LID_REACH`. On tracked
frames the mesh already has the tracked openness within about 0.02 eye widths
(the PCA's residual, well under a pixel at 256), so training frames barely
move; an edited or driven openness then reaches the picture's conditioning
exactly, one eye at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reenact.tracking.canonical_face import canonical_face
from reenact.tracking.fitting import eye_axes

LID_REACH = 0.4
"""Height above the upper lid contour, in eye widths, over which the lid's move fades to nothing: on the
canonical face the lid skin's first ring of vertices lies ~0.1 above the contour (moves 3/4), the next ~0.3 (a
quarter), the brow ~0.6 (still)."""
MIN_GAP = 0.03
"""Smallest mesh openness (eye widths) whose gap profile is scaled; a mesh eye closed tighter than this is opened
with the canonical face's profile instead."""


@dataclass(frozen=True)
class _Eye:
    corners: tuple[int, int]
    """The corner vertices (the eye's x axis runs from the first to the second)."""
    top: int
    bottom: int
    """Where in `upper` and in `lower` the lid vertices that `FaceParams.openness` is measured between lie."""
    upper: np.ndarray
    """Upper lid contour vertices, corners excluded, in order from the first corner to the second."""
    lower: np.ndarray
    """Lower lid contour vertices with both corners, in the same order."""
    skin: np.ndarray
    """Vertices above the upper contour, between the corners, within LID_REACH of it on the canonical face."""
    profile: np.ndarray
    """The canonical face's gap at each `upper` vertex over its openness (1 at the middle, 0 at the corners)."""


def _eye_frame(points: np.ndarray, corners: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per shape T x 468 x 2: the eye's centre T x 2, x and up axes T x 2 and width T (`eye_axes`)."""
    first, second = points[:, corners[0]], points[:, corners[1]]
    return ((first + second) / 2, *eye_axes(first, second))


def _coordinates(points: np.ndarray, vertices: np.ndarray, frame: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Vertices' positions along the eye (-1 .. 1 between the corners) and above its axis (eye widths)."""
    centre, x_dir, up, width = frame
    rel = points[:, vertices] - centre[:, None]
    return ((rel * x_dir[:, None]).sum(-1) / (width[:, None] / 2),
            (rel * up[:, None]).sum(-1) / width[:, None])


def _lid_gaps(points: np.ndarray, frame: tuple, upper: np.ndarray, lower: np.ndarray, top: int,
              bottom: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per shape: the upper contour's positions along the eye and heights (T x U), the lower lid's height below
    each (the contour read there, and at `top` the `bottom` vertex that openness is measured to) and the gap."""
    lid_u, lid_v = _coordinates(points, upper, frame)
    low_u, low_v = _coordinates(points, lower, frame)
    floor = _interp(lid_u, low_u, low_v)
    floor[:, top] = low_v[:, bottom]
    return lid_u, lid_v, floor, lid_v - floor


def _interp(u: np.ndarray, knots_u: np.ndarray, knots_v: np.ndarray) -> np.ndarray:
    """Per row, knots_v's piecewise-linear curve over knots_u (increasing along each row) read at u (0 beyond
    the ends)."""
    return np.stack([np.interp(u[t], knots_u[t], knots_v[t], left=0.0, right=0.0) for t in range(len(u))])


class Eyelids:
    """Moves the upper lids of canonical shapes to given openness values (`place`)."""

    def __init__(self) -> None:
        face = canonical_face()
        points = face.vertices[None, :, :2]
        self.eyes = []
        for e in range(2):
            left, right, top, bottom = (int(i) for i in face.eye_points[e])
            frame = _eye_frame(points, (left, right))
            contour = np.asarray(face.eyes[e])
            u, v = (c[0] for c in _coordinates(points, contour, frame))
            inside = np.abs(u) < 0.999
            along = np.argsort(u)  # each contour kept in order along the eye, as interpolation needs
            upper = contour[along][(inside & (v > 0))[along]]
            lower = contour[along][(~inside | (v <= 0))[along]]
            su, sv = (c[0] for c in _coordinates(points, np.arange(len(face.vertices)), frame))
            lid_u, lid_v = (c[0] for c in _coordinates(points, upper, frame))
            height = sv - _interp(su[None], np.r_[-1.0, lid_u, 1.0][None], np.r_[0.0, lid_v, 0.0][None])[0]
            skin = np.flatnonzero((np.abs(su) < 1) & (height > 1e-6) & (height < LID_REACH)
                                  & ~np.isin(np.arange(len(su)), contour))
            at_top, at_bottom = list(upper).index(top), list(lower).index(bottom)
            gap = _lid_gaps(points, frame, upper, lower, at_top, at_bottom)[3][0]
            self.eyes.append(_Eye((left, right), at_top, at_bottom, upper, lower, skin,
                                  (gap / gap[at_top]).astype(np.float32)))

    def place(self, shapes: np.ndarray, openness: np.ndarray) -> np.ndarray:
        """Copy of canonical shapes T x 468 x 3 whose upper lids open each eye to `openness` T x 2 (right, left;
        lid gap over eye width, as `FaceParams.openness`; values below 0 close the eye)."""
        out = shapes.copy()
        points = shapes[..., :2]
        for e, eye in enumerate(self.eyes):
            frame = _eye_frame(points, eye.corners)
            lid_u, lid_v, floor, gap = _lid_gaps(points, frame, eye.upper, eye.lower, eye.top, eye.bottom)
            mesh = gap[:, eye.top]
            profile = np.where((mesh > MIN_GAP)[:, None], gap / np.maximum(mesh, MIN_GAP)[:, None], eye.profile)
            move = floor + np.maximum(openness[:, e], 0.0)[:, None] * profile - lid_v  # eye widths, along up
            skin_u, skin_v = _coordinates(points, eye.skin, frame)
            ends = np.ones((len(shapes), 1))
            knots_u = np.concatenate([-ends, lid_u, ends], 1)
            height = skin_v - _interp(skin_u, knots_u, np.concatenate([0 * ends, lid_v, 0 * ends], 1))
            fade = np.clip(1.0 - height / LID_REACH, 0.0, 1.0)
            skin_move = _interp(skin_u, knots_u, np.concatenate([0 * ends, move, 0 * ends], 1)) * fade
            _, _, up, width = frame
            for vertices, amount in ((eye.upper, move), (eye.skin, skin_move)):
                out[:, vertices, :2] += (amount * width[:, None])[..., None] * up[:, None]
        return out
