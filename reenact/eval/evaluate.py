"""`reenact eval`'s core: a model and its baselines scored on the same frames, in the model's own crop
(or a crop of another size, `EvalConfig.score_size`, to compare models trained at different sizes).

Self-reenactment: the target drives itself on frames it was not trained on
(the validation tail of its clip, or another clip of the same person); each
frame is regenerated from its own tracked parameters and compared with the
real frame's crop (the same frame-to-crop affine), and the generated frames are
re-tracked and compared with those parameters. The real crops go through the
re-tracking too: their scores are the floor the tracker itself sets.

Cross-reenactment: another person drives (the recombined parameters); nothing
real shows the result, so only fidelity to the recombined parameters and
flicker are measured, flicker against the driver's own crops (how much the
driving video itself changes from frame to frame; both crops sit on the head,
so a pixel shows about the same part of the face in both).

The nearest-neighbour and warp baselines (`reenact.eval.baselines`) take
their images from the training frames only, as the model did, and are scored
frame by frame beside the model. Every method is scored over the crop, the
face, the edit mask (what a context model re-renders; the default whole-face
mask, so that copied context is never counted as generated quality), the eyes
and the mouth (lids, lips and openings), and for sharpness. When the model takes
context, each baseline is composited over the same context with the same mask,
so the crop scores compare like with like. The loop streams: it keeps one previous frame
per method, never the clip.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Self

import cv2
import numpy as np
from tqdm import tqdm

from reenact.errors import InputError, SettingError
from reenact.eval.baselines import NearestFrames, crop_points, over_context, read_crops, warp_face
from reenact.eval.fidelity import FidelityConfig, Retracker, compare_to_params
from reenact.eval.metrics import image_scores, pair_flicker
from reenact.eval.report import ComparisonVideo
from reenact.eval.results import IMAGE_METRICS, EvalResult, MethodScores
from reenact.model_folder import ModelFolder, ModelInfo, file_hash
from reenact.params import FaceModel, FaceParams, Track
from reenact.pipeline.stages import Conditioner, Generate
from reenact.recombine import RecombineConfig, recombine
from reenact.render.conditioning import ConditionedFrame, ConditioningConfig
from reenact.render.crop import crop_matrix, follow_clip, warp_to_crop
from reenact.render.edit_mask import EditMaskConfig
from reenact.tracking.canonical_face import N_LANDMARKS
from reenact.tracking.face_regions import SUB_REGIONS
from reenact.tracking.fitting import fit_frames, scatter
from reenact.video_io import VideoReader

MODEL, NEAREST, WARP, REAL = "model", "nearest", "warp", "real"
"""Method names: the generator, the two baselines, and the real frames (self-reenactment's floor)."""
NO_FACE_GREY = 128
"""Panel value in the comparison video for frames whose conditioning has no face."""


@dataclass(frozen=True)
class EvalConfig:
    """How an evaluation runs."""

    fidelity: FidelityConfig = field(default_factory=FidelityConfig)
    """Re-tracking of the generated frames."""
    video_height: int = 256
    """Height of each panel of the side-by-side video (px)."""
    progress: bool = True
    """Show progress bars (decoding the training clip, scoring frames)."""
    score_size: int | None = None
    """Crop size the frames are scored at (None: the model's). The references, masks and baselines are then
    made at this size, and the model's output is resized to it as paste-back resizes it (bilinear), so a model
    trained at 192 is scored on the same pixels and masks as one trained at 256 (the baselines' context ramp
    scales with the model's, so they differ from that eval's by its width only)."""


@dataclass
class EvalSequence:
    """What is evaluated: a sequence's conditioning parameters and the real video to set beside them."""

    params: FaceParams
    """The conditioning parameters of T frames, in the target's face model."""
    cuts: np.ndarray
    """int frames that start a new shot (the crop filter, the stack and the re-tracking restart there)."""
    fps: float
    """Frame rate the crop follows the head at."""
    frame_size: tuple[int, int]
    """(width, height) of the frames the parameters are posed in."""
    span: tuple[int, int]
    """[start, end) frames scored; frames before only run the crop filter and fill the stack, as in training."""
    reference_clip: Path
    """The video whose frame t goes with params[t]: the target's own clip (self) or the driver's (cross)."""
    driver_matrices: np.ndarray | None = None
    """None: the reference is the real target (ground truth), cropped with the conditioning's own affines.
    Else the driver's frame-to-crop affines (T x 2 x 3, from its own track): cross-reenactment, where the
    driver's crops serve only as flicker's reference."""
    target_clip: Path | None = None
    """Cross-reenactment: the target video whose frame t is re-rendered (the context), and ..."""
    target_params: FaceParams | None = None
    """... its frames' own parameters (the edit mask covers them and the output's). None: the reference clip."""

    @property
    def ground_truth(self) -> bool:
        return self.driver_matrices is None


@dataclass
class TrainingFrames:
    """Where the baselines take their images from: the frames of the target's clip the model trained on."""

    clip: Path
    """The target's training video."""
    track: Track
    """Its track (the target's face model and per-frame parameters)."""
    frames: np.ndarray
    """int frame indices trained on (the validation tail left out)."""


def conditioned_span(
    params: FaceParams,
    model: FaceModel,
    fps: float,
    frame_size: tuple[int, int],
    cuts: np.ndarray,
    config: ConditioningConfig,
    span: tuple[int, int],
    edit: EditMaskConfig | None = None,
    target: FaceParams | None = None,
) -> Iterator[ConditionedFrame]:
    """The conditioning of frames [start, end), exactly as `condition_clip` over the whole sequence gives it
    (so as the training cache holds it), without rasterising the frames before: those only advance the crop
    filter, and the W - 1 frames just before the span fill the stack. `edit`: give each frame this edit mask,
    over the face of `params` and, when given, of the target frames' own parameters `target`."""
    start, end = span
    conditioner = Conditioner(model, fps, frame_size, config, edit)
    new_shot = np.zeros(len(params), dtype=bool)
    new_shot[np.asarray(cuts, dtype=np.int64)] = True
    warm = max(0, start - (config.window - 1))
    conditioner.advance(params[:warm], new_shot[:warm])
    for i in range(warm, end):
        frame = conditioner(params[i], bool(new_shot[i]), None if target is None else target[i])
        if i >= start:
            yield frame


def _bar(total: int, desc: str, enabled: bool) -> tqdm:
    return tqdm(total=total, desc=desc, unit="frame", dynamic_ncols=True, disable=not enabled)


def _reference_frames(clip: Path, span: tuple[int, int]) -> Iterator[np.ndarray]:
    """Frames [start, end) of a video; InputError if it ends early."""
    start, end = span
    index = -1
    for index, rgb in enumerate(VideoReader(clip)):
        if index >= end:
            return
        if index >= start:
            yield rgb
    if index < end - 1:
        raise InputError(f"{clip} has {index + 1} frames, but frames up to {end} are to be evaluated")


class _Scores:
    """The methods' per-frame scores, filled in frame by frame (re-trackers held open meanwhile)."""

    def __init__(self, methods: list[str], n: int, ground_truth: bool, fidelity: FidelityConfig) -> None:
        self.methods = methods
        scored = [m for m in methods if ground_truth and m != REAL]  # the real frames against themselves: trivial
        self.images = {m: {k: np.full(n, np.nan) for k in IMAGE_METRICS} if m in scored else {} for m in methods}
        self.flicker = {m: np.full(n, np.nan) for m in methods}
        self.landmarks = {m: np.full((n, N_LANDMARKS, 3), np.nan, dtype=np.float32) for m in methods}
        self.retrackers = {m: Retracker(fidelity) for m in methods}
        self._previous: dict[str, np.ndarray] = {}
        self._previous_reference: np.ndarray | None = None

    def add(
        self, k: int, shown: dict[str, np.ndarray], reference: np.ndarray, conditioned: ConditionedFrame, new_run: bool
    ) -> None:
        """Score frame k: each method's image (`shown`), the reference crop, and the frame's conditioning;
        `new_run`: the previous frame does not continue into this one (no flicker measured)."""
        face = conditioned.face_mask.cpu().numpy()
        regions = scored_regions(conditioned)
        for m in self.methods:
            image = shown[m]
            if not new_run:
                self.flicker[m][k] = pair_flicker(self._previous[m], image, self._previous_reference, reference)
            self._previous[m] = image
            if self.images[m]:
                for name, value in image_scores(image, reference, face, regions).items():
                    self.images[m][name][k] = value
            self.landmarks[m][k] = self.retrackers[m](image, conditioned.matrix, new_run)
        self._previous_reference = reference

    def result(self, wanted: FaceParams, model: FaceModel) -> dict[str, MethodScores]:
        return {
            m: MethodScores(
                images=self.images[m],
                fidelity=compare_to_params(self.landmarks[m], wanted, model),
                flicker=self.flicker[m],
            )
            for m in self.methods
        }

    def close(self) -> None:
        for retracker in self.retrackers.values():
            retracker.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def scored_regions(conditioned: ConditionedFrame) -> dict[str, np.ndarray]:
    """The masks scored besides the face (`REGIONS`): the edit mask, and the eyes and the mouth (the loss's
    mouth-and-eyes pixels, split by sub-region)."""
    sub = conditioned.sub_regions.cpu().numpy()
    near = conditioned.region_mask.cpu().numpy()
    eyes = np.isin(sub, [1 + SUB_REGIONS.index(name) for name in ("right_eye", "left_eye")])
    return {
        "edit": conditioned.edit_mask.cpu().numpy(),
        "eyes": near & eyes,
        "mouth": near & (sub == 1 + SUB_REGIONS.index("mouth")),
    }


def _training_index(training: TrainingFrames, conditioning: ConditioningConfig) -> tuple[NearestFrames, np.ndarray]:
    """The training frames with a face, indexed by their crop points in the crops training saw, and every
    frame's frame-to-crop affine (T x 2 x 3) to crop them with."""
    track = training.track
    frames = np.asarray(training.frames, dtype=np.int64)
    frames = frames[track.params.valid[frames]]
    windows = follow_clip(track.params, track.fps, (track.width, track.height), track.cuts, conditioning.crop)
    matrices = crop_matrix(windows, conditioning.crop.size)
    return NearestFrames(frames, crop_points(track.params[frames], track.model, matrices[frames])), matrices


def evaluate(
    sequence: EvalSequence,
    training: TrainingFrames,
    conditioning: ConditioningConfig,
    generate: Generate | None,
    config: EvalConfig = EvalConfig(),
    video: Path | None = None,
    description: dict[str, str | int | float] | None = None,
    context_feather: int | None = None,
) -> EvalResult:
    """Score the model (`generate`, the pipeline's stage on any backend; None: the baselines alone) and the baselines on `sequence`'s span.

    `context_feather`: the model takes context (`GeneratorConfig.context_feather`): the baselines are
    composited over the same context with the same ramp. Writes the side-by-side video to `video` on the way
    when given.
    """
    start, end = sequence.span
    if not 0 <= start < end <= len(sequence.params):
        raise ValueError(f"span {sequence.span} is not within the sequence's {len(sequence.params)} frames")
    model_size = conditioning.crop.size
    size = config.score_size or model_size
    if size < 32:
        raise SettingError(f"--score-size {size}: crops under 32 px cannot be scored (masks, re-tracking)")
    scoring = replace(conditioning, crop=replace(conditioning.crop, size=size))
    model = training.track.model
    params = sequence.params
    scored = np.arange(start, end)
    wanted = params[scored]
    valid = np.asarray(wanted.valid, dtype=bool)
    matrices = crop_matrix(follow_clip(params[:end], sequence.fps, sequence.frame_size, sequence.cuts,
                                       scoring.crop), size)[start:end]

    wanted_points = crop_points(wanted[np.flatnonzero(valid)], model, matrices[valid])
    index, training_matrices = _training_index(training, scoring)
    nearest = np.full(len(scored), -1, dtype=np.int64)
    nearest_distance = np.full(len(scored), np.nan)
    nearest[valid], nearest_distance[valid] = index.query(wanted_points)
    needed = {int(f): training_matrices[f] for f in np.unique(nearest[valid])}
    with _bar(int(max(needed, default=-1)) + 1, "reading training frames", config.progress) as bar:
        neighbour_crops = read_crops(training.clip, needed, size, bar.update)

    methods = ([MODEL] if generate is not None else []) + [NEAREST, WARP] + ([REAL] if sequence.ground_truth else [])
    labels = ["real" if sequence.ground_truth else "driver", *[m for m in methods if m != REAL]]
    edit = EditMaskConfig()
    def conditioned(config: ConditioningConfig) -> Iterator[ConditionedFrame]:
        return conditioned_span(params, model, sequence.fps, sequence.frame_size, sequence.cuts, config,
                                (start, end), edit, sequence.target_params)

    conditioned_frames = conditioned(scoring)
    # What the generator takes: the same frames conditioned at its own size (the scoring frames, if the same).
    model_frames = conditioned(conditioning) if size != model_size and generate is not None else None
    references = _reference_frames(sequence.reference_clip, sequence.span)
    if sequence.target_clip is None:
        frames: Iterator[tuple[ConditionedFrame, np.ndarray, np.ndarray]] = (
            (c, rgb, rgb) for c, rgb in zip(conditioned_frames, references))
    else:
        frames = zip(conditioned_frames, references, _reference_frames(sequence.target_clip, sequence.span))
    wanted_row = np.cumsum(valid) - 1  # row of each valid frame in wanted_points
    cuts = set(np.asarray(sequence.cuts, dtype=np.int64).tolist())
    with ExitStack() as stack:
        scores = stack.enter_context(_Scores(methods, len(scored), sequence.ground_truth, config.fidelity))
        writer = None if video is None else stack.enter_context(
            ComparisonVideo(video, sequence.fps, labels, config.video_height)
        )
        bar = stack.enter_context(_bar(len(scored), f"scoring {' / '.join(methods)}", config.progress))
        for k, (frame, rgb, target_rgb) in enumerate(frames):
            model_frame = frame if model_frames is None else next(model_frames)
            reference_matrix = frame.matrix if sequence.ground_truth else sequence.driver_matrices[start + k]
            reference = warp_to_crop(rgb, reference_matrix, size)
            if valid[k]:
                neighbour = neighbour_crops[int(nearest[k])]
                shown = {
                    NEAREST: neighbour,
                    WARP: warp_face(neighbour, index.points_of(int(nearest[k])), wanted_points[wanted_row[k]]),
                }
                if context_feather is not None:
                    context = warp_to_crop(target_rgb, frame.matrix, size)
                    shown = {m: over_context(image, context, frame.edit_mask, context_feather * size // model_size)
                             for m, image in shown.items()}
                shown[REAL] = reference
                if generate is not None:
                    generated = _checked(generate([model_frame], [target_rgb])[0], model_size)
                    shown[MODEL] = generated if size == model_size else cv2.resize(
                        generated, (size, size), interpolation=cv2.INTER_LINEAR)
                new_run = k == 0 or (start + k) in cuts or not valid[k - 1]
                scores.add(k, shown, reference, frame, new_run)
                panels = [shown[label] for label in labels[1:]]
            else:
                panels = [np.full_like(reference, NO_FACE_GREY)] * (len(labels) - 1)
            if writer is not None:
                writer.write([reference, *panels])
            bar.update(1)

    return EvalResult(
        mode="self" if sequence.ground_truth else "cross",
        frames=scored,
        methods=scores.result(wanted, model),
        nearest=nearest,
        nearest_distance=nearest_distance,
        description={"frames": f"{start}-{end - 1}", "crop_size": model_size, "score_size": size,
                     "training_frames": len(index.frames),
                     **(description or {})},
    )


def _checked(image: np.ndarray, size: int) -> np.ndarray:
    if image.shape != (size, size, 3) or image.dtype != np.uint8:
        raise ValueError(f"the renderer must return uint8 {size} x {size} x 3, got {image.dtype} {image.shape}")
    return image


def params_in_model(track: Track, model: FaceModel) -> FaceParams:
    """A clip's frames fitted in another face model of the same person: a clip tracked on its own has its own
    identity and expression basis, but a model understands only its target's. A track already fitted in `model`
    (`track_video(..., model=model)`, as `reenact eval --target` makes) is used as it is."""
    if all(np.array_equal(a, b) for a, b in ((track.model.identity, model.identity), (track.model.basis, model.basis))):
        return track.params
    valid = np.asarray(track.params.valid, dtype=bool)
    if not valid.any():
        raise InputError(f"no face was tracked in {track.source or 'the clip'}")
    return scatter(fit_frames(track.landmarks[valid], model), valid)


def training_frames(folder: ModelFolder, clip: str | Path | None = None) -> TrainingFrames:
    """The frames a model trained on: its clip (`clip`, default the path model.json names, checked to be the
    same bytes) and its track, without the validation frames."""
    info = folder.info()
    path = Path(clip if clip is not None else info.source)
    if not path.is_file():
        raise InputError(f"the model's training clip {path} is not found; give its path (the baselines need it)")
    if file_hash(path) != info.data_hash:
        raise InputError(f"{path} is not the clip {folder.path} was trained on (its content hash differs)")
    track = folder.load_track()
    held_out = np.arange(*info.validation)
    return TrainingFrames(path, track, np.setdiff1d(np.arange(track.n_frames), held_out))


def evaluate_self(
    folder: ModelFolder,
    generate: Generate | None,
    target: tuple[Path, Track] | None = None,
    training_clip: str | Path | None = None,
    config: EvalConfig = EvalConfig(),
    video: Path | None = None,
) -> EvalResult:
    """Self-reenactment: the model's validation frames (or every frame of `target`, another clip of the same
    person given with its track) regenerated from their own parameters and compared with the real frames."""
    info = folder.info()
    training = training_frames(folder, training_clip)
    track = training.track
    if target is None:
        sequence = EvalSequence(track.params, track.cuts, track.fps, (track.width, track.height),
                                tuple(info.validation), training.clip)
        clip = training.clip
    else:
        clip, target_track = target
        params = params_in_model(target_track, track.model)
        sequence = EvalSequence(params, target_track.cuts, target_track.fps,
                                (target_track.width, target_track.height), (0, target_track.n_frames), Path(clip))
    return evaluate(sequence, training, info.conditioning(), generate, config, video,
                    {"model": str(folder.path), "target": str(clip)}, _context_feather(info))


def evaluate_cross(
    folder: ModelFolder,
    generate: Generate | None,
    source_clip: Path,
    source: Track,
    recombination: RecombineConfig | None = None,
    training_clip: str | Path | None = None,
    config: EvalConfig = EvalConfig(),
    video: Path | None = None,
) -> EvalResult:
    """Cross-reenactment: `source` (the driver's track, of `source_clip`) drives the model's target through
    `recombine` (`recombination`, default `RecombineConfig()`); fidelity to the recombined parameters and
    flicker against the driver's own crops."""
    info = folder.info()
    training = training_frames(folder, training_clip)
    target = training.track
    params = recombine(source, target, recombination or RecombineConfig())
    n = len(params)
    cuts = np.union1d(source.cuts[source.cuts < n], target.cuts[target.cuts < n]).astype(np.int64)
    conditioning = info.conditioning()
    driver = crop_matrix(follow_clip(source.params[:n], source.fps, (source.width, source.height), source.cuts,
                                     conditioning.crop), conditioning.crop.size)
    sequence = EvalSequence(params, cuts, source.fps, (target.width, target.height), (0, n), Path(source_clip),
                            driver_matrices=driver, target_clip=training.clip, target_params=target.params[:n])
    return evaluate(sequence, training, conditioning, generate, config, video,
                    {"model": str(folder.path), "source": str(source_clip)}, _context_feather(info))


def _context_feather(info: ModelInfo) -> int | None:
    """The model's context ramp width, or None for a generator that paints the whole crop."""
    return info.generator.context_feather if info.generator.context else None
