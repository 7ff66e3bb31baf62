"""Direct edits of a target's face parameters, without a source actor.

Each edit is a small frozen dataclass (turn the head, smile, open or close an
eye, look somewhere) with a `Timing`: it eases in between two frames, holds, and
optionally eases out again. An `Editor` applies a list of edits, in order, to
FaceParams of the target (its own track, or the output of `recombine`); the
eyelid and smile motions are learnt from the target's own clip, so edits stay
within the expressions its generator has seen, and coefficients are clamped
to the range seen there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from reenact.errors import SettingError
from reenact.geometry import euler_degrees, rotation_from_euler
from reenact.params import FaceParams, Track
from reenact.recombine import reference_frame, smoothstep, widen_range
from reenact.tracking.canonical_face import canonical_face
from reenact.tracking.face_regions import SUB_REGIONS, mouth_corners, region_masks

EASINGS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda x: np.clip(x, 0.0, 1.0),
    "smoothstep": smoothstep,
}
"""Easing curves over [0, 1] by name."""

EDITED_FIELDS = ("rotation", "expression", "gaze", "openness")
"""The FaceParams fields edits may change (translation and scale stay the target's)."""
EYES: dict[str, list[int]] = {"right": [0], "left": [1], "both": [0, 1]}
"""Eye names (the subject's own right and left) to FaceParams eye indices."""

MIN_LID_TRAVEL = 0.05
"""Openness drop (lid gap over eye width) the target's clip must show, from its reference
to its most-closed frame, to learn that eye's lid motion from it."""
MIN_SMILE_CM = 0.05
"""Smallest mouth-corner raise (cm) taken as a smile of amount 1, for clips without smiles."""
SMILE_DIRECTION = np.array([0.5, 1.0, 0.0])
"""Mouth-corner motion of a smile for the subject's left corner (outwards and up; mirrored in x for the right)."""
SMILE_FALLOFF = 0.4
"""Width (in lip widths) of the Gaussian falloff of the smile's motion around each mouth corner."""


@dataclass(frozen=True)
class Timing:
    """When an edit acts: eased in from `start` to `end` (frames), held, eased out after `release`."""

    start: int = 0
    """First frame the edit begins to act."""
    end: int = 0
    """Frame from which the edit acts fully (== start: at once)."""
    release: int | None = None
    """If set, the edit eases out from this frame over as many frames as it eased in."""
    easing: str = "smoothstep"
    """A name in EASINGS."""

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise SettingError(f"timing needs 0 <= start <= end, got start={self.start}, end={self.end}")
        if self.release is not None and self.release < self.end:
            raise SettingError(f"release ({self.release}) must not come before end ({self.end})")
        if self.easing not in EASINGS:
            raise SettingError(f"unknown easing {self.easing!r}; expected one of {', '.join(EASINGS)}")

    def weights(self, frames: np.ndarray) -> np.ndarray:
        """float32 share of the edit, 0..1, at each frame index."""
        ease = EASINGS[self.easing]
        length = self.end - self.start

        def ramp(begin: int) -> np.ndarray:
            if length == 0:
                return (frames >= begin).astype(np.float64)
            return ease((frames - begin) / length)

        weight = ramp(self.start)
        if self.release is not None:
            weight = weight - ramp(self.release)
        return weight.astype(np.float32)


def _check_eye(eye: str) -> None:
    if eye not in EYES:
        raise SettingError(f"unknown eye {eye!r}; expected one of {', '.join(EYES)}")


@dataclass(frozen=True)
class TurnHead:
    """Turn the head by yaw, pitch and roll degrees (as read by `geometry.euler_degrees`)."""

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    timing: Timing = field(default_factory=Timing)

    def apply(self, out: FaceParams, weight: np.ndarray, editor: Editor) -> None:
        """Adds the angles to the rotation's own yaw, pitch and roll, so each changes by exactly its amount."""
        turn = weight[:, None] * np.array([self.yaw, self.pitch, self.roll], dtype=np.float32)
        out.rotation[:] = rotation_from_euler(euler_degrees(out.rotation) + turn)


@dataclass(frozen=True)
class Smile:
    """Smile (negative: frown); amount 1 raises the mouth corners as far as the target's biggest smile."""

    amount: float = 1.0
    timing: Timing = field(default_factory=Timing)

    def apply(self, out: FaceParams, weight: np.ndarray, editor: Editor) -> None:
        out.expression += (weight * self.amount)[:, None] * editor.smile_direction


@dataclass(frozen=True)
class SetEyeOpenness:
    """Move an eye's openness (lid gap over eye width; 0 closed, ~0.3 wide) to a value, lids included."""

    openness: float = 0.0
    eye: str = "both"
    """right, left or both (the subject's own sides)."""
    timing: Timing = field(default_factory=Timing)

    def __post_init__(self) -> None:
        _check_eye(self.eye)
        if self.openness < 0:
            raise SettingError(f"openness must be >= 0, got {self.openness}")

    def apply(self, out: FaceParams, weight: np.ndarray, editor: Editor) -> None:
        eyes = EYES[self.eye]
        change = weight[:, None] * (self.openness - out.openness[:, eyes])
        out.openness[:, eyes] += change
        out.expression += change @ editor.lid_directions(eyes)


@dataclass(frozen=True)
class LookAt:
    """Set the gaze: iris offset from the eye's centre in half eye widths (x to the subject's left, y up)."""

    x: float = 0.0
    y: float = 0.0
    eye: str = "both"
    timing: Timing = field(default_factory=Timing)

    def __post_init__(self) -> None:
        _check_eye(self.eye)

    def apply(self, out: FaceParams, weight: np.ndarray, editor: Editor) -> None:
        eyes = EYES[self.eye]
        goal = np.array([self.x, self.y], dtype=np.float32)
        out.gaze[:, eyes] += weight[:, None, None] * (goal - out.gaze[:, eyes])


Edit = TurnHead | Smile | SetEyeOpenness | LookAt
"""Any direct edit."""
EDIT_TYPES = (TurnHead, Smile, SetEyeOpenness, LookAt)


class Editor:
    """Applies edits to a target's FaceParams, with lid and smile motions learnt from the target's clip."""

    def __init__(self, track: Track, reference: int | None = None, clamp: bool = True, clamp_margin: float = 0.05) -> None:
        """`track`: the target's (training) track; `reference`: its neutral frame (None: the most neutral);
        `clamp`: keep edited coefficients within the range seen in the track, widened by `clamp_margin`."""
        if clamp_margin < 0:
            raise SettingError(f"clamp_margin must be >= 0, got {clamp_margin}")
        self.model = track.model
        self.clip = track.params
        self.reference = reference_frame(track.model, track.params, reference)
        self.bounds = widen_range(track.model.coefficient_range, clamp_margin) if clamp else None
        self._lids: dict[int, np.ndarray] = {}

    def apply(self, params: FaceParams, edits: Sequence[Edit], first_frame: int = 0) -> FaceParams:
        """Edited copy of T frames of the target's params (frame numbers from `first_frame`: live, pass the
        running frame count). Edits act in order on valid frames; invalid frames stay invalid."""
        for edit in edits:
            if not isinstance(edit, EDIT_TYPES):
                raise SettingError(f"not an edit: {edit!r}; expected one of {', '.join(t.__name__ for t in EDIT_TYPES)}")
        if params.expression.shape[1:] != (self.model.n_components,):
            raise SettingError(
                f"params have {params.expression.shape[1:]} coefficients, the target model has {self.model.n_components}"
            )
        out = params.copy()
        rows = np.flatnonzero(params.valid)
        block = out[rows]
        before = block.expression.copy()
        for edit in edits:
            weight = edit.timing.weights(first_frame + rows)
            active = np.flatnonzero(weight)
            if len(active):
                part = block[active]
                edit.apply(part, weight[active], self)
                for name in EDITED_FIELDS:
                    getattr(block, name)[active] = getattr(part, name)
        if self.bounds is not None:
            changed = (block.expression != before).any(1)
            block.expression[changed] = np.clip(block.expression[changed], self.bounds[:, 0], self.bounds[:, 1])
        for name in EDITED_FIELDS:
            getattr(out, name)[rows] = getattr(block, name)
        return out

    def lid_directions(self, eyes: list[int]) -> np.ndarray:
        """float32 len(eyes)xK coefficient change per unit openness increase of each eye (learnt on first use)."""
        for e in eyes:
            if e not in self._lids:
                self._lids[e] = self._learn_lid(e)
        return np.stack([self._lids[e] for e in eyes])

    def _learn_lid(self, eye: int) -> np.ndarray:
        """The lid displacement from the reference to the clip's most-closed frame of this eye, kept to that
        eye's region, per unit of openness, least-squares fitted in the target's basis.

        Each eye's fit treats the rest of the face (the other eye too) as wanting
        no motion, so the directions add up for both eyes; a basis that only
        knows symmetric blinks closes one eye about halfway and the other a
        little (a wink needs a clip with winks).
        """
        valid = np.flatnonzero(self.clip.valid)
        closed = valid[np.argmin(self.clip.openness[valid, eye])]
        travel = float(self.reference.openness[0, eye] - self.clip.openness[closed, eye])
        if travel < MIN_LID_TRAVEL:
            name = ("right", "left")[eye]
            raise SettingError(
                f"the target's clip never closes its {name} eye (openness drops by {travel:.3f} at most, "
                f"need {MIN_LID_TRAVEL}), so its eyelid motion cannot be learnt; use a clip with blinks"
            )
        shapes = self.model.shapes(np.concatenate([self.reference.expression, self.clip.expression[closed : closed + 1]]))
        mask = region_masks()[SUB_REGIONS.index(("right_eye", "left_eye")[eye])]
        displacement = (shapes[0] - shapes[1]) * mask[:, None] / travel
        return self.model.project(displacement[None])[0]

    @cached_property
    def smile_direction(self) -> np.ndarray:
        """float32 K coefficient change of a smile of amount 1.

        A canonical smile, both mouth corners moving up and outwards with a
        Gaussian falloff over the neighbouring vertices (SMILE_FALLOFF lip widths),
        least-squares fitted in the target's basis; scaled so that amount 1 matches
        the 98th percentile of the corners' raise along that motion over the
        target's clip (at least MIN_SMILE_CM).
        """
        face = canonical_face()
        vertices = face.vertices
        lips_x = vertices[face.lips, 0]
        corners = mouth_corners()
        motion = np.stack([SMILE_DIRECTION * [-1, 1, 1], SMILE_DIRECTION])
        motion /= np.linalg.norm(motion, axis=1, keepdims=True)
        side = (vertices[:, 0] > 0).astype(int)
        distance = np.linalg.norm(vertices - vertices[corners][side], axis=1)
        falloff = np.exp(-((distance / (SMILE_FALLOFF * np.ptp(lips_x))) ** 2))
        direction = self.model.project((motion[side] * falloff[:, None])[None])[0]
        reach = self.model.basis[:, corners].reshape(self.model.n_components, 6)
        achieved = float(((direction @ reach).reshape(2, 3) * motion).sum(1).mean())
        if achieved <= 1e-3:
            raise SettingError("the target's expression basis cannot raise the mouth corners: its clip shows no smile")
        offsets = (self.clip.expression[self.clip.valid] - self.reference.expression) @ reach
        raise_cm = (offsets.reshape(-1, 2, 3) * motion).sum(-1).mean(1)
        scale = max(float(np.percentile(raise_cm, 98)), MIN_SMILE_CM)
        return (direction * scale / achieved).astype(np.float32)


def apply_edits(track: Track, edits: Sequence[Edit], params: FaceParams | None = None) -> FaceParams:
    """Edit a whole clip: `params` (default: the track's own) of the target `track`, frames from 0."""
    return Editor(track).apply(track.params if params is None else params, edits)
