"""Source + target face parameters -> output parameters, in the target's face model.

A mode is a set of `Component`s (pose, expression, gaze); each component is one
small transfer function that writes its fields of the output, and everything a
mode does not transfer stays the target's own frame. Transfers are relative:
the source's change from its reference (most neutral) frame is applied to the
target's reference frame, so a long face drives a round face without carrying
its own proportions over.

Expression retargeting, per frame:
1. the source's canonical offset from its reference, `source.shapes(e) - source.shapes(e_ref)`;
2. scaled per vertex and axis by the ratio of the two identities' feature sizes
   (mouth, each eye, each brow), blended smoothly over the face (`retarget_scale`);
3. times the overall intensity, added to the target reference's shape;
4. blended per vertex with the target's own frame by the region weights
   (`region_masks`: a partition of unity, so weights never tear the mesh);
5. fitted in the target's basis and clamped to the coefficient range seen in
   the target's clip, so the generator is never asked for an unseen expression.

`Recombiner` works on blocks of frames (one frame live, a whole clip offline)
and carries the state that spans blocks: the last valid source frame, held
while the source face is lost, and how present the source currently is. A shot
cut in either clip starts afresh, with no easing across it (the picture jumps
there anyway): the source drives from the cut's first frame if its face is
there, and the target's own frame shows until it comes back if not.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from reenact.errors import SettingError
from reenact.geometry import rotation_from_vector, rotation_to_vector
from reenact.params import FaceModel, FaceParams, Track
from reenact.tracking.face_regions import feature_ratio, neutral_frame, region_masks, retarget_scale


class Component(enum.Enum):
    """What a transfer carries from the source to the output."""

    POSE = "pose"
    """Rotation, translation and scale."""
    EXPRESSION = "expression"
    """Expression coefficients and eye openness (the lids are part of the mesh)."""
    GAZE = "gaze"
    """Iris positions."""


MODES: dict[str, frozenset[Component]] = {
    "full": frozenset(Component),
    "expression": frozenset({Component.EXPRESSION, Component.GAZE}),
    "pose": frozenset({Component.POSE}),
    "gaze": frozenset({Component.GAZE}),
}
"""Named modes; any other set of components can be passed as a mode too."""

REGIONS = ("mouth", "eyes", "brows")
"""Regions with their own weight; `region_masks` rows are sub-regions of these."""
_SUB_REGION_OF = np.array([0, 1, 1, 2, 2])
"""Index into REGIONS of each sub-region."""

HOLD_STRENGTH = 4.0
"""Extra fitting weight of vertices whose region weight is 0 (see `weighted_projector`).
The target's PCA components are global (talking moves mouth, cheeks and lids together), so
a held region moves a little with the driven ones. On real tracks (drive_d0 driving
target_edtalk, drive_d10 driving target_wojtek) 4 cuts that stray motion by about a third,
while the driven region's fit error grows by about as much."""

@dataclass(frozen=True)
class RegionWeights:
    """How much each face region follows the source (0: the target's own frame, 1: the source)."""

    mouth: float = 1.0
    """Lips, jaw and chin (and, fading out, the lower cheeks)."""
    eyes: float = 1.0
    """Eyelids, gaze and openness."""
    brows: float = 1.0
    """Eyebrows and forehead."""

    def __post_init__(self) -> None:
        for name in REGIONS:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise SettingError(f"region weight {name} must lie in [0, 1], got {value}; use intensity to exaggerate")

    def as_array(self) -> np.ndarray:
        """float32 3: mouth, eyes, brows."""
        return np.array([getattr(self, name) for name in REGIONS], dtype=np.float32)


@dataclass(frozen=True)
class RecombineConfig:
    """How source and target parameters are combined."""

    mode: str | frozenset[Component] = "full"
    """A name in MODES (full, expression, pose, gaze) or a set of Components to transfer;
    what is not transferred stays the target's own frame."""
    weights: RegionWeights = field(default_factory=RegionWeights)
    """Per-region share of the source's expression (gaze and openness follow `eyes`)."""
    intensity: float = 1.0
    """Scale of the source's expression change: 0 holds the target's reference (neutral)
    expression, 1 transfers it, above 1 exaggerates it (still clamped)."""
    relative: bool = True
    """Transfer the source's change from its reference frame onto the target's reference
    (rotation, expression, gaze, openness). False transfers them as absolute values (from
    frontal, the identity shape, centred irises); translation and scale are always relative,
    since two videos' pixel positions cannot be compared."""
    source_ref: int | None = None
    """Source reference frame; None picks the most neutral one (`neutral_frame`)."""
    target_ref: int | None = None
    """Target reference frame; None picks the most neutral one."""
    clamp: bool = True
    """Clamp output coefficients to the range seen in the target's clip."""
    clamp_margin: float = 0.05
    """Widen that range by this fraction of its width on each side."""
    ease_seconds: float = 0.5
    """When the source face is lost, hold its last valid frame and ease the output back to
    the target's own over this long (and in again when it returns)."""

    def __post_init__(self) -> None:
        if isinstance(self.mode, str) and self.mode not in MODES:
            raise SettingError(f"unknown mode {self.mode!r}; expected one of {', '.join(MODES)} or a set of Components")
        if not isinstance(self.mode, str) and (not self.mode or not all(isinstance(c, Component) for c in self.mode)):
            raise SettingError(f"mode must be a mode name or a non-empty set of Components, got {self.mode!r}")
        if self.intensity < 0:
            raise SettingError(f"intensity must be >= 0, got {self.intensity}")
        if self.clamp_margin < 0:
            raise SettingError(f"clamp_margin must be >= 0, got {self.clamp_margin}")
        if self.ease_seconds < 0:
            raise SettingError(f"ease_seconds must be >= 0, got {self.ease_seconds}")

    @property
    def components(self) -> frozenset[Component]:
        return MODES[self.mode] if isinstance(self.mode, str) else frozenset(self.mode)


# --- region weights and retargeting ---------------------------------------------------------


def vertex_weights(weights: RegionWeights) -> np.ndarray:
    """float32 468 per-vertex weight: the region weights blended by `region_masks`."""
    return (weights.as_array()[_SUB_REGION_OF] @ region_masks()).astype(np.float32)


def weighted_projector(basis: np.ndarray, hold: np.ndarray) -> np.ndarray:
    """float32 Kx(468*3) least-squares fit of canonical offsets in `basis`, with extra weight on held vertices.

    `hold` (468, in [0, 1]) marks vertices that should not move: each vertex's
    squared error counts 1 + HOLD_STRENGTH * hold. With nothing held this is the
    plain orthogonal projection (`FaceModel.project`); with a region held, the
    fit trades some accuracy elsewhere for keeping that region still, as far as
    the target's global basis allows.
    """
    flat = basis.reshape(len(basis), -1).astype(np.float64)
    importance = np.repeat(1.0 + HOLD_STRENGTH * hold.astype(np.float64), 3)
    weighted = flat * importance
    return np.linalg.solve(weighted @ flat.T, weighted).astype(np.float32)


def widen_range(coefficient_range: np.ndarray, margin: float) -> np.ndarray:
    """float32 Kx2 bounds widened by `margin` of each range's width on both sides."""
    pad = margin * (coefficient_range[:, 1] - coefficient_range[:, 0])
    return np.stack([coefficient_range[:, 0] - pad, coefficient_range[:, 1] + pad], axis=1).astype(np.float32)


# --- reference frames -------------------------------------------------------------------


def reference_frame(model: FaceModel, params: FaceParams, index: int | None) -> FaceParams:
    """The 1-frame reference: frame `index`, or the most neutral frame when None."""
    if index is None:
        index = neutral_frame(model, params)
    if not 0 <= index < len(params):
        raise SettingError(f"reference frame {index} is outside the track's {len(params)} frames")
    if not params.valid[index]:
        raise SettingError(f"reference frame {index} holds no face; pick a valid frame")
    return params[index].copy()


def _absolute(reference: FaceParams) -> FaceParams:
    """The neutral element of each transfer (frontal, identity shape, centred irises, zero openness),
    keeping the reference's translation and scale: absolute transfer is relative transfer from it."""
    out = reference.copy()
    out.rotation[:] = np.eye(3, dtype=np.float32)
    out.expression[:] = 0
    out.gaze[:] = 0
    out.openness[:] = 0
    return out


# --- transfers: one per component ---------------------------------------------------------


@dataclass(frozen=True)
class Pairing:
    """What the transfers need about a source-target pair, computed once per reference change."""

    source_model: FaceModel
    target_model: FaceModel
    source_ref: FaceParams
    target_ref: FaceParams
    """1-frame references (neutral elements where transfer is absolute)."""
    intensity: float
    eyes_weight: float
    vertex_weights: np.ndarray
    """float32 468x3 share of the source per vertex coordinate."""
    scale: np.ndarray
    """float32 468x3 retargeting factors (`retarget_scale`)."""
    openness_ratio: np.ndarray
    """float32 2 target-to-source neutral openness, per eye."""
    projector: np.ndarray
    """float32 Kx(468*3) `weighted_projector` of the target basis."""
    bounds: np.ndarray | None
    """float32 Kx2 clamp bounds, or None for no clamping."""


def transfer_pose(pair: Pairing, source: FaceParams, target: FaceParams, amount: np.ndarray, out: FaceParams) -> None:
    """Rotation R_src R_src_ref^T R_tgt_ref; translation and scale changes in units of each face's size."""
    s_ref, t_ref = pair.source_ref, pair.target_ref
    rotation = source.rotation @ s_ref.rotation[0].T @ t_ref.rotation[0]
    size = t_ref.scale[0] / s_ref.scale[0]
    translation = t_ref.translation[0] + (source.translation - s_ref.translation[0]) * size
    scale = source.scale * size
    out.rotation[:] = blend_rotation(target.rotation, rotation, amount)
    out.translation[:] = target.translation + amount[:, None] * (translation - target.translation)
    out.scale[:] = target.scale * (scale / target.scale) ** amount


def transfer_expression(pair: Pairing, source: FaceParams, target: FaceParams, amount: np.ndarray, out: FaceParams) -> None:
    """Retargeted, intensity-scaled source offsets on the target's reference, blended with the target's
    own frame by region weight, fitted in the target basis and clamped (see the module docstring)."""
    source_basis = pair.source_model.basis.reshape(pair.source_model.n_components, -1)
    target_basis = pair.target_model.basis.reshape(pair.target_model.n_components, -1)
    source_offsets = (source.expression - pair.source_ref.expression) @ source_basis
    driven = (pair.target_ref.expression - target.expression) @ target_basis
    driven += pair.intensity * source_offsets * pair.scale.reshape(-1)
    share = amount[:, None] * pair.vertex_weights.reshape(-1)
    expression = target.expression + (share * driven) @ pair.projector.T
    if pair.bounds is not None:
        expression = np.clip(expression, pair.bounds[:, 0], pair.bounds[:, 1])
    out.expression[:] = expression
    openness = pair.target_ref.openness + pair.intensity * pair.openness_ratio * (source.openness - pair.source_ref.openness)
    eye_share = (amount * pair.eyes_weight)[:, None]
    out.openness[:] = np.maximum(target.openness + eye_share * (openness - target.openness), 0)


def transfer_gaze(pair: Pairing, source: FaceParams, target: FaceParams, amount: np.ndarray, out: FaceParams) -> None:
    """The source's gaze change on the target's reference gaze (both in half eye widths)."""
    gaze = pair.target_ref.gaze + (source.gaze - pair.source_ref.gaze)
    eye_share = (amount * pair.eyes_weight)[:, None, None]
    out.gaze[:] = target.gaze + eye_share * (gaze - target.gaze)


Transfer = Callable[[Pairing, FaceParams, FaceParams, np.ndarray, FaceParams], None]
"""(pairing, source, target, amount, out): writes one component's fields of `out` for T frames;
`amount` (T, 0..1) is how present the source is (1 unless it was lost)."""
TRANSFERS: dict[Component, Transfer] = {
    Component.POSE: transfer_pose,
    Component.EXPRESSION: transfer_expression,
    Component.GAZE: transfer_gaze,
}
"""The transfer of each component; a mode runs those of its components."""


def blend_rotation(a: np.ndarray, b: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """float32 Tx3x3 rotations from a (amount 0) to b (amount 1) along the shortest arc."""
    step = rotation_to_vector(np.swapaxes(a, 1, 2) @ b) * amount[:, None]
    return (a @ rotation_from_vector(step)).astype(np.float32)


def smoothstep(x: np.ndarray) -> np.ndarray:
    """Ease in and out over [0, 1] (3x^2 - 2x^3), clipped outside."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


# --- the streaming recombiner ---------------------------------------------------------------


def _concat(a: FaceParams, b: FaceParams) -> FaceParams:
    return FaceParams(**{f.name: np.concatenate([getattr(a, f.name), getattr(b, f.name)]) for f in dataclasses.fields(a)})


def _assign(out: FaceParams, rows: np.ndarray, values: FaceParams) -> None:
    for f in dataclasses.fields(out):
        getattr(out, f.name)[rows] = getattr(values, f.name)


class Recombiner:
    """Per-block recombination with state across blocks: live calls it per frame, `recombine` per clip.

    Holds the last valid source frame and the source's presence (0..1): while
    the source face is lost, its last frame is held and the presence eases
    down to 0 (the target's own frame) over `config.ease_seconds`, and back up
    when it returns. At a new shot (of either clip) the presence jumps to 1 or
    0 instead, so nothing from before the cut is held into it. Output frames
    are valid exactly where the target's are.
    """

    def __init__(
        self,
        source_model: FaceModel,
        target_model: FaceModel,
        source_reference: FaceParams,
        target_reference: FaceParams,
        config: RecombineConfig = RecombineConfig(),
        fps: float = 25.0,
        coefficient_range: np.ndarray | None = None,
    ) -> None:
        """References: valid 1-frame FaceParams of each subject; `coefficient_range` (Kx2) defaults to
        the target model's, and is what `config.clamp` clamps to (widened by `config.clamp_margin`)."""
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.source_model, self.target_model, self.config = source_model, target_model, config
        self.transfers = [TRANSFERS[c] for c in Component if c in config.components]
        self._step = 1.0 / max(1.0, round(config.ease_seconds * fps))
        self._range = target_model.coefficient_range if coefficient_range is None else coefficient_range
        if self._range.shape != (target_model.n_components, 2):
            raise ValueError(f"coefficient_range must be {target_model.n_components}x2, got {self._range.shape}")
        self._source_ref = self._check_reference(source_reference, source_model, "source")
        self._target_ref = self._check_reference(target_reference, target_model, "target")
        self.pairing = self._pair()
        self.reset()

    @classmethod
    def from_tracks(cls, source: Track, target: Track, config: RecombineConfig = RecombineConfig()) -> Recombiner:
        """A recombiner for two tracked clips: references from the config (or the most neutral frames),
        the target's fps, and clamping to the range of the target model and the target's own track."""
        return cls(
            source.model,
            target.model,
            reference_frame(source.model, source.params, config.source_ref),
            reference_frame(target.model, target.params, config.target_ref),
            config,
            fps=target.fps,
        )

    def reset(self) -> None:
        """Forget the held source frame (e.g. at a shot cut); the source counts as present."""
        self._held = self._source_ref.copy()
        self._presence = 1.0

    def set_source_reference(self, frame: FaceParams) -> None:
        """Recalibrate: from now on, changes are measured from this source frame (live: the current one)."""
        self._source_ref = self._check_reference(frame, self.source_model, "source")
        self.pairing = self._pair()

    def set_target_reference(self, frame: FaceParams) -> None:
        """Apply changes onto this target frame from now on."""
        self._target_ref = self._check_reference(frame, self.target_model, "target")
        self.pairing = self._pair()

    def __call__(self, source: FaceParams, target: FaceParams, new_shot: np.ndarray | None = None) -> FaceParams:
        """Output FaceParams (target's model) for T source and T target frames, in order.

        `new_shot` (bool T, optional): frames where either clip starts a new shot.
        """
        if len(source) != len(target):
            raise ValueError(f"source and target blocks must have equal lengths, got {len(source)} and {len(target)}")
        if new_shot is not None and len(new_shot) != len(source):
            raise ValueError(f"new_shot must have one flag per frame ({len(source)}), got {len(new_shot)}")
        self._check_coefficients(source, self.source_model, "source")
        self._check_coefficients(target, self.target_model, "target")
        source, amount = self._hold(source, np.zeros(len(source), dtype=bool) if new_shot is None else new_shot)
        out = target.copy()
        rows = target.valid
        if rows.any():
            block = out[rows]
            for transfer in self.transfers:
                transfer(self.pairing, source[rows], target[rows], amount[rows], block)
            _assign(out, rows, block)
        return out

    def _hold(self, source: FaceParams, new_shot: np.ndarray) -> tuple[FaceParams, np.ndarray]:
        """Source frames with lost ones replaced by the last valid one, and the presence per frame.

        After a cut that finds the source's face lost, the presence is 0 until the face returns, so
        what is held from before the cut never shows.
        """
        index = np.where(source.valid, np.arange(1, len(source) + 1), 0)
        filled = _concat(self._held, source)[np.maximum.accumulate(index)]
        self._held = filled[len(filled) - 1].copy()
        presence = np.empty(len(source), dtype=np.float32)
        for t, ok in enumerate(source.valid):  # a clipped ramp: each frame depends on the last
            if new_shot[t]:
                self._presence = 1.0 if ok else 0.0
            else:
                self._presence = min(1.0, self._presence + self._step) if ok else max(0.0, self._presence - self._step)
            presence[t] = self._presence
        return filled, smoothstep(presence).astype(np.float32)

    def _pair(self) -> Pairing:
        config = self.config
        relative = config.relative
        source_ref = self._source_ref if relative else _absolute(self._source_ref)
        target_ref = self._target_ref if relative else _absolute(self._target_ref)
        weights = vertex_weights(config.weights)
        ratio = feature_ratio(self.source_model, self.target_model)
        return Pairing(
            source_model=self.source_model,
            target_model=self.target_model,
            source_ref=source_ref,
            target_ref=target_ref,
            intensity=config.intensity,
            eyes_weight=config.weights.eyes,
            vertex_weights=np.repeat(weights[:, None], 3, axis=1),
            scale=retarget_scale(self.source_model, self.target_model),
            openness_ratio=(ratio[1:3, 1] / ratio[1:3, 0]).astype(np.float32),
            projector=weighted_projector(self.target_model.basis, 1.0 - weights),
            bounds=widen_range(self._range, config.clamp_margin) if config.clamp else None,
        )

    @staticmethod
    def _check_coefficients(params: FaceParams, model: FaceModel, who: str) -> None:
        if params.expression.shape[1:] != (model.n_components,):
            raise ValueError(
                f"{who} expression has {params.expression.shape[1:]} coefficients, its model has {model.n_components}"
            )

    @classmethod
    def _check_reference(cls, frame: FaceParams, model: FaceModel, who: str) -> FaceParams:
        if len(frame) != 1 or not frame.valid[0]:
            raise ValueError(f"{who} reference must be one valid frame, got {len(frame)} frame(s), valid={frame.valid.tolist()}")
        cls._check_coefficients(frame, model, who)
        return frame.copy()


def output_length(source: Track, target: Track, loop_source: bool = False) -> int:
    """Frames of the output: the shorter clip's, or the target's when the source loops."""
    return target.n_frames if loop_source else min(source.n_frames, target.n_frames)


def output_cuts(source: Track, target: Track, loop_source: bool = False) -> np.ndarray:
    """int64 output frames where a new shot starts in either clip: the target's cuts, the source's
    (mapped onto the output's frames), and each restart of a looping source."""
    n = output_length(source, target, loop_source)
    source_frame = np.arange(n) % source.n_frames
    from_source = np.isin(source_frame, source.cuts) | ((source_frame == 0) & (np.arange(n) > 0))
    return np.union1d(target.cuts[target.cuts < n], np.flatnonzero(from_source)).astype(np.int64)


def recombine(source: Track, target: Track, config: RecombineConfig = RecombineConfig(), loop_source: bool = False) -> FaceParams:
    """Output parameters (in the target's model) of a source clip driving a target clip, frame by frame.

    Length: `output_length`. Frames are paired by index; fps are not resampled.
    Shot cuts of both clips (`output_cuts`) restart the lost-face easing.
    """
    n = output_length(source, target, loop_source)
    new_shot = np.zeros(n, dtype=bool)
    new_shot[output_cuts(source, target, loop_source)] = True
    recombiner = Recombiner.from_tracks(source, target, config)
    return recombiner(source.params[np.arange(n) % source.n_frames], target.params[:n], new_shot)
