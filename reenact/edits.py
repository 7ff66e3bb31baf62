"""Direct edits of a target's face parameters, without a source actor.

Each edit is a small frozen dataclass (turn the head, smile, open or close an
eye, look somewhere, set a FACS action unit) with a `Timing`: it eases in between two frames, holds, and
optionally eases out again. An `Editor` applies a list of edits, in order, to
FaceParams of the target (its own track, or the output of `recombine`); the
smile motion is learnt from the target's own clip, so edits stay within the
expressions its generator has seen, and coefficients are clamped to the range
seen there. An eye's openness is a parameter of its own, which the renderer
turns into lid positions.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from reenact.errors import SettingError
from reenact.facs.reading import MAX_INTENSITY, AUReader
from reenact.facs.units import ACTION_UNITS, EMOTIONS, openness_effects, resolve, subject_fields
from reenact.geometry import euler_degrees, rotation_from_euler
from reenact.params import FaceParams, Track
from reenact.recombine import reference_frame, smoothstep, weighted_projector, widen_range
from reenact.tracking.canonical_face import canonical_face
from reenact.tracking.face_regions import mouth_corners

EASINGS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda x: np.clip(x, 0.0, 1.0),
    "smoothstep": smoothstep,
}
"""Easing curves over [0, 1] by name."""

EDITED_FIELDS = ("rotation", "expression", "gaze", "openness")
"""The FaceParams fields edits may change (translation and scale stay the target's)."""
EYES: dict[str, list[int]] = {"right": [0], "left": [1], "both": [0, 1]}
"""Eye names (the subject's own right and left) to FaceParams eye indices."""

MIN_SMILE_CM = 0.05
"""Smallest mouth-corner raise (cm) taken as a smile of amount 1, for clips without smiles."""
SMILE_DIRECTION = np.array([0.5, 1.0, 0.0])
"""Mouth-corner motion of a smile for the subject's left corner (outwards and up; mirrored in x for the right)."""
SMILE_FALLOFF = 0.4
"""Width (in lip widths) of the Gaussian falloff of the smile's motion around each mouth corner."""
AU_MODES = ("set", "add")
"""How an action-unit edit acts: move the frame's own intensity to the value, or add the value to it."""
AU_HOLD = 0.1
"""Vertices an AU moves by less than this share of its largest movement are held still when the AU is fitted
in a target's basis (as recombination holds the regions it does not drive)."""
MAX_AU_GAIN = 3.0
"""Most an AU's fitted coefficients are scaled up so that they read back as the intensity asked (a basis that
reproduces part of the movement reads as less of the AU)."""
MIN_REACH = 0.5
"""Share of an AU's displacement the target's basis must reproduce; below it an AU edit warns that it names
an AU outside the target's reach."""


class ReachWarning(UserWarning):
    """An edit asks for an action unit the target's expression basis reproduces poorly."""


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
    """Move an eye's openness (lid gap over eye width; 0 closed, ~0.3 wide) to a value. The expression is left
    alone: the renderer puts each lid where its openness says (`reenact.render.eyelids`), one eye at a time,
    which a basis fitted on a clip of two-eyed blinks cannot."""

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


@dataclass(frozen=True)
class SetActionUnit:
    """Move a FACS action unit's intensity (`reenact.facs.units`; 1 = its pronounced movement) to a value, or
    add to it. Read and moved relative to the target's neutral frame; a one-sided unit named without its side
    ("12" for L12 and R12) acts on both."""

    unit: str = "12"
    """An AU code: 12, L12, R45, 43 (an alias of 45), ..."""
    intensity: float = 1.0
    mode: str = "set"
    """A name in AU_MODES."""
    timing: Timing = field(default_factory=Timing)

    def __post_init__(self) -> None:
        resolve(self.unit)
        if self.mode not in AU_MODES:
            raise SettingError(f"unknown AU mode {self.mode!r}; expected one of {', '.join(AU_MODES)}")
        low = 0.0 if self.mode == "set" else -MAX_INTENSITY
        if not low <= self.intensity <= MAX_INTENSITY:
            raise SettingError(f"AU{self.unit} intensity must be within {low:g}..{MAX_INTENSITY:g} "
                               f"(mode {self.mode}), got {self.intensity}")

    def apply(self, out: FaceParams, weight: np.ndarray, editor: Editor) -> None:
        columns = list(resolve(self.unit))
        if self.mode == "set":
            change = weight[:, None] * (self.intensity - editor.read_aus(out)[:, columns])
        else:
            change = weight[:, None] * np.full(len(columns), self.intensity, dtype=np.float32)
        share = editor.room(out.expression, change @ editor.au_directions(columns))[:, None]
        out.expression += share * (change @ editor.au_directions(columns))
        out.openness[:] = np.maximum(out.openness + share * (change @ editor.au_openness[columns]), 0.0)


def emotion_edits(emotion: str, amount: float, timing: Timing = Timing()) -> list[SetActionUnit]:
    """An EMFACS prototype (`facs.units.EMOTIONS`) as AU edits, each AU set to `amount`."""
    if emotion not in EMOTIONS:
        raise SettingError(f"unknown emotion {emotion!r}; expected one of {', '.join(EMOTIONS)}")
    return [SetActionUnit(code, amount, timing=timing) for code in EMOTIONS[emotion]]


Edit = TurnHead | Smile | SetEyeOpenness | LookAt | SetActionUnit
"""Any direct edit."""
EDIT_TYPES = (TurnHead, Smile, SetEyeOpenness, LookAt, SetActionUnit)


class Editor:
    """Applies edits to a target's FaceParams, with the smile motion learnt from the target's clip."""

    def __init__(self, track: Track, reference: int | None = None, clamp: bool = True, clamp_margin: float = 0.05,
                 say: Callable[[str], object] | None = None) -> None:
        """`track`: the target's (training) track; `reference`: its neutral frame (None: the most neutral);
        `clamp`: keep edited coefficients within the range seen in the track, widened by `clamp_margin`;
        `say`: where warnings go (an AU outside the target's reach; default: a `ReachWarning`)."""
        if clamp_margin < 0:
            raise SettingError(f"clamp_margin must be >= 0, got {clamp_margin}")
        self.model = track.model
        self.clip = track.params
        self.reference = reference_frame(track.model, track.params, reference)
        self.bounds = widen_range(track.model.coefficient_range, clamp_margin) if clamp else None
        self.say = say or (lambda line: warnings.warn(line, ReachWarning, stacklevel=4))
        self._aus: dict[int, np.ndarray] = {}

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

    def room(self, expression: np.ndarray, change: np.ndarray) -> np.ndarray:
        """float32 T share (0..1) of each frame's coefficient `change` TxK that keeps `expression` TxK within
        the clamp's bounds (all of it without a clamp). Shortening the change, rather than clipping each
        coefficient as the final clamp does, keeps an AU's direction: a clipped mix of components is another
        movement (on edtalk, clipping let a smile's brows move by 13% of its corners, shortening by 5%)."""
        if self.bounds is None:
            return np.ones(len(expression), dtype=np.float32)
        with np.errstate(divide="ignore", invalid="ignore"):
            limit = np.where(change > 0, self.bounds[:, 1] - expression, self.bounds[:, 0] - expression) / change
        limit = np.where(np.isfinite(limit) & (change != 0), np.maximum(limit, 0.0), np.inf)
        return np.minimum(limit.min(1), 1.0).astype(np.float32)

    @cached_property
    def au_reader(self) -> AUReader:
        """Reads AU intensities of the target's frames relative to its reference frame."""
        return AUReader(self.model, self.reference.expression[0], self.reference.openness[0])

    @cached_property
    def au_fields(self) -> np.ndarray:
        """float32 Nx468x3 the AU fields on the target's face (`facs.units.subject_fields`)."""
        return subject_fields(self.model)

    @cached_property
    def au_openness(self) -> np.ndarray:
        """float32 Nx2 each AU's change of the target's eye openness at intensity 1."""
        return openness_effects(self.au_fields, self.model.identity)

    def read_aus(self, params: FaceParams) -> np.ndarray:
        """float32 TxN AU intensities of frames of the target (columns `facs.units.CODES`)."""
        return self.au_reader(params.expression, params.openness)

    def au_directions(self, columns: list[int]) -> np.ndarray:
        """float32 len(columns)xK coefficient change of intensity 1 of each AU (fitted on first use)."""
        for c in columns:
            if c not in self._aus:
                self._aus[c], reach = self._fit_au(c)
                if reach < MIN_REACH:
                    au = ACTION_UNITS[c]
                    self.say(f"{au.label} ({au.name}) is outside the target's reach: its expression basis "
                             f"reproduces {reach:.0%} of the movement (under {MIN_REACH:.0%}), so the edit will "
                             "show weakly or move other parts of the face")
        return np.stack([self._aus[c] for c in columns])

    def reach(self, column: int) -> float:
        """Share (0..1) of AU `column`'s displacement the target's basis reproduces."""
        return self._fit_au(column)[1]

    def _fit_au(self, column: int) -> tuple[np.ndarray, float]:
        """An AU's field fitted in the target's basis, holding the vertices it barely moves (AU_HOLD), scaled
        so that it reads back as intensity 1 (by at most MAX_AU_GAIN), and the share of the field's squared
        displacement the unscaled fit reproduces (1 - residual / field)."""
        displacement = self.au_fields[column]
        moving = np.linalg.norm(displacement, axis=1)
        hold = np.clip(1.0 - moving / (AU_HOLD * moving.max()), 0.0, 1.0)
        coefficients = weighted_projector(self.model.basis, hold) @ displacement.ravel()
        reproduced = coefficients @ self.model.basis.reshape(self.model.n_components, -1)
        residual = float(np.sum((reproduced - displacement.ravel()) ** 2))
        reach = max(0.0, 1.0 - residual / float(np.sum(displacement ** 2)))
        reads = self.au_reader(self.reference.expression + coefficients,
                               self.reference.openness + self.au_openness[column])[0, column]
        coefficients = coefficients / np.clip(reads, 1.0 / MAX_AU_GAIN, 1.0)
        return coefficients.astype(np.float32), reach

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


def apply_edits(track: Track, edits: Sequence[Edit], params: FaceParams | None = None,
                say: Callable[[str], object] | None = None) -> FaceParams:
    """Edit a whole clip: `params` (default: the track's own) of the target `track`, frames from 0."""
    return Editor(track, say=say).apply(track.params if params is None else params, edits)
