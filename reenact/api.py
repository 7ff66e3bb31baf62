"""reenact as a library: track a clip, train a target, re-render, go live, evaluate.

The `reenact` command is a thin layer over these calls, and so are the
browser editor and the batch runner: what a command does, a program can do
with the same call. A short session:

    from reenact import api

    target = api.Target.load("models/edtalk")
    summary = api.rerender(target, "clip.mp4", "dubbed.mp4", source="driver.mp4",
                           recombination=api.RecombineConfig(mode="expression"),
                           edits=[api.Smile(0.5, timing=api.Timing(start=10, end=25))])
    print(summary.line())

Long steps report progress through `bars`: a function `(description, total)
-> context manager` yielding an `update(n)` callable (the CLI passes tqdm
bars; the default shows none). One-line notes (which backend was chosen, a
still source) go to `say`. Errors are `reenact.errors.ReenactError`s that say
what was wrong; outputs are written under a temporary name and renamed, and an
output that is one of the inputs is refused before any work.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reenact.edits import (
    MIN_REACH,
    Edit,
    Editor,
    LookAt,
    SetActionUnit,
    SetEyeOpenness,
    Smile,
    Timing,
    TurnHead,
    emotion_edits,
)
from reenact.errors import ReenactError, SettingError
from reenact.eval.edit_fidelity import EditCheck, check_edits, checks_table
from reenact.eval.evaluate import EvalConfig, evaluate_cross, evaluate_self
from reenact.eval.report import VIDEO, write_report
from reenact.eval.results import EvalResult
from reenact.model_folder import MODEL_JSON, ModelFolder, ModelInfo, file_hash, open_model, write_atomic
from reenact.output_paths import check_outputs
from reenact.params import FaceModel, FaceParams, Track
from reenact.pipeline.label import METADATA_KEY, provenance, read_metadata, synthetic_metadata
from reenact.pipeline.live import LiveConfig, LiveSummary, run_live
from reenact.pipeline.offline import OfflineConfig, RunSummary, rerender_clip
from reenact.pipeline.stages import FrameStages, Generate
from reenact.recombine import RecombineConfig, RegionWeights, output_cuts, recombine
from reenact.render.blend import BlendConfig
from reenact.render.crop import FollowerCache
from reenact.render.edit_mask import EditMaskConfig, edit_regions
from reenact.render.preview import conditioning_overlay
from reenact.runtime.backend import Backend
from reenact.runtime.config import BackendConfig
from reenact.runtime.selection import open_backend
from reenact.tracking.cut_list import AUTO, CutList
from reenact.train.config import TrainConfig
from reenact.train.run import TrainResult, train_target
from reenact.video_io import VideoReader

__all__ = [
    "AUTO", "BackendConfig", "BlendConfig", "CutList", "FramePreview", "FramePreviewer", "LiveConfig", "LiveSession", "LookAt", "RecombineConfig",
    "RegionWeights", "SetActionUnit", "SetEyeOpenness", "Smile", "Target", "Timing", "TrainConfig", "TurnHead",
    "emotion_edits", "evaluate", "evaluate_edits", "output_params", "plan_rerender", "render", "RenderPlan", "rerender",
    "settings_hash", "track", "train", "up_to_date",
]

Update = Callable[[int], object]
Bars = Callable[[str, int | None], AbstractContextManager[Update]]
"""`bars(description, total)` -> a context manager yielding `update(frames_done)`."""
Say = Callable[[str], object]
PathLike = str | os.PathLike


@contextlib.contextmanager
def no_bars(description: str, total: int | None) -> Iterator[Update]:
    """The default `Bars`: no progress shown."""
    yield lambda n: None


def _quiet(line: str) -> None:
    """The default `say`: notes dropped."""


def track(video: PathLike, cuts: CutList = AUTO, *, face: int = 0, max_faces: int = 2, smooth: bool = True,
          model: FaceModel | None = None, bars: Bars = no_bars, description: str = "tracking") -> Track:
    """Track the face in `video` into per-frame parameters (MediaPipe Face Mesh, fitted, filtered, cut at shots).

        clip = api.track("clip.mp4")
        clip.save("clip.npz")

    `face`: which face to follow (0: the largest at the start); `model`: fit in this face model (a trained
    target's, so that its generator understands the parameters); `cuts`: where shots start (`AUTO`: detected).
    """
    from reenact.tracking.landmarks import LandmarkConfig
    from reenact.tracking.tracker import TrackerConfig, track_video

    if face < 0:
        raise SettingError(f"--face must be 0 or more (0 = the largest face), got {face}")
    config = TrackerConfig(landmarks=LandmarkConfig(face=face, max_faces=max(max_faces, face + 1)), cut_list=cuts,
                           smooth=smooth)
    with bars(description, VideoReader(video).n_frames) as update:
        return track_video(video, config, progress=update, model=model)


@dataclass(frozen=True)
class Target:
    """A trained target: its model folder and the track of the clip it was trained on.

        target = api.Target.load("models/edtalk")
        print(target.info.preset, target.info.size, target.track.n_frames)
    """

    folder: ModelFolder
    track: Track
    """The training clip's track: the target's face model, and its lid and smile motion for edits."""

    @classmethod
    def load(cls, model: PathLike | ModelFolder) -> Target:
        """Open a model folder (checked complete and intact) and load its track."""
        folder = open_model(model)
        return cls(folder, folder.load_track())

    @property
    def info(self) -> ModelInfo:
        return self.folder.info()

    def clip_track(self, clip: PathLike, cuts: CutList = AUTO, bars: Bars = no_bars) -> Track:
        """A clip of the target in the model's face model: the model's own track for its training clip (unless
        `cuts` asks for other cuts than detected: its filters must restart there), else the clip tracked now and
        fitted against the model (its identity is what the generator knows)."""
        if cuts.detect and file_hash(clip) == self.info.data_hash:
            return self.track
        return track(clip, cuts, model=self.track.model, bars=bars, description="tracking target")

    def open_backend(self, config: BackendConfig = BackendConfig(), say: Say = _quiet) -> Backend:
        """The generator's inference backend `config` asks for; says which one `auto` took and what it skipped."""
        selection = open_backend(self.folder, config)
        skipped = ", ".join(str(candidate) for candidate, _ in selection.skipped)
        say(f"backend: {selection.backend.describe()}" + (f" (not available here: {skipped})" if skipped else ""))
        for note in selection.notes():  # e.g. why the INT8 generator was not used
            say(f"backend: {note}")
        return selection.backend

    def generate_stage(self, backend: Backend) -> Generate:
        """The pipeline's generate stage for this model on `backend` (what `rerender`, `LiveSession` and
        `evaluate` run)."""
        return Generate(backend, self.info.generator.context)


def _target(target: Target | PathLike) -> Target:
    return target if isinstance(target, Target) else Target.load(target)


def _backend(target: Target, backend: BackendConfig | Backend, say: Say) -> Backend:
    return backend if isinstance(backend, Backend) else target.open_backend(backend, say)


def output_params(target: Track, source: Track | None = None, recombination: RecombineConfig | None = None,
                  edits: Sequence[Edit] = (), loop_source: bool = False, motion: Track | None = None,
                  say: Say | None = None) -> FaceParams:
    """The parameters to render for each frame of the `target` clip: `source` recombined onto it (when given),
    then `edits` applied.

        params = api.output_params(target_track, source_track, api.RecombineConfig(mode="expression"))

    `motion`: the track the edits learn the person's lid and smile motion from (a model's own training track:
    a short shot of the target may never blink); default `target`. `say`: where an edit's warnings go (an
    action unit outside the target's reach; default: Python warnings).
    """
    params = recombine(source, target, recombination or RecombineConfig(), loop_source) if source else target.params
    return Editor(motion or target, say=say).apply(params, edits) if edits else params


@dataclass(frozen=True)
class RenderPlan:
    """What a re-render of a clip decides before its first frame is drawn: the parameters of every frame, where
    shots start, what is re-rendered and how it is labelled. Any range of frames can then be drawn on its own
    (`render`): a range starting at a shot cut comes out as it does in a whole run, where every filter restarts
    at the cut too."""

    model: Path
    """The model folder."""
    target_clip: Path
    params: FaceParams
    """The output parameters of the clip's frames (recombined and edited)."""
    target_params: FaceParams
    """The target frames' own parameters (the edit mask covers their face and the output's)."""
    cuts: np.ndarray
    """int first frames of the shots of either clip (the crop follower and the stack restart there)."""
    target_cuts: np.ndarray
    """int first frames of the target clip's own shots: where it can be split (`reenact run --split-shots`)."""
    edit: EditMaskConfig
    """The regions the edits and the source change."""
    blend: BlendConfig
    watermark: bool
    metadata: dict[str, str]
    """The output's synthetic label."""
    frames: int
    """How many frames the output has (the shorter clip's, unless the source loops)."""
    source: Path | None = None
    loop_source: bool = False


def plan_rerender(
    target: Target | PathLike,
    target_clip: PathLike,
    *,
    source: PathLike | None = None,
    recombination: RecombineConfig | None = None,
    edits: Sequence[Edit] = (),
    loop_source: bool = False,
    cuts: CutList = AUTO,
    source_cuts: CutList = AUTO,
    blend: BlendConfig = BlendConfig(),
    watermark: bool = False,
    command: str = "rerender",
    bars: Bars = no_bars,
    say: Say = _quiet,
) -> RenderPlan:
    """Track what needs tracking and decide every frame of a re-render (see `rerender` for the arguments)."""
    target = _target(target)
    target_clip = Path(target_clip)
    source = Path(source) if source is not None else None
    total = VideoReader(target_clip).n_frames  # both inputs checked before the long work
    if source is not None:
        VideoReader(source)
    inputs = _label_inputs(target_clip, source, recombination, edits, loop_source, cuts, source_cuts, blend,
                           watermark)  # as asked, before a still source's defaults apply
    target_track, source_track, recombination, loop_source = _track_inputs(
        target, target_clip, source, recombination, loop_source, cuts, source_cuts, bars, say)
    params = output_params(target_track, source_track, recombination, edits, loop_source, motion=target.track,
                           say=say)
    if not params.valid.any():
        raise ReenactError(f"no frame of {target_clip} shows a face; nothing to re-render")
    # Cuts of either clip restart the crop follower and the conditioning stack.
    shot_cuts = output_cuts(source_track, target_track, loop_source) if source_track else target_track.cuts
    metadata = synthetic_metadata(target.folder.model_hash(), target.folder.path.name,
                                  extra={"command": command, **inputs})
    edit = edit_regions((recombination or RecombineConfig()) if source else None, edits)
    frames = min(len(params), total) if total else len(params)
    return RenderPlan(target.folder.path, target_clip, params, target_track.params[:len(params)], shot_cuts,
                      target_track.cuts, edit, blend, watermark, metadata, frames, source, loop_source)


def _track_inputs(target: Target, target_clip: Path, source: Path | None, recombination: RecombineConfig | None,
                  loop_source: bool, cuts: CutList, source_cuts: CutList, bars: Bars,
                  say: Say) -> tuple[Track, Track | None, RecombineConfig | None, bool]:
    """The target clip's track and the source's, and the recombination and looping to use: a still source
    (a photo) is fitted in the target's face model and held, absolute, over the whole clip."""
    still = source is not None and VideoReader(source).is_still
    if still:
        loop_source = True
        recombination = dataclasses.replace(recombination or RecombineConfig(), relative=False)
        say(f"{source.name} is a still image: its expression and head pose are held over the whole clip")
    target_track = target.clip_track(target_clip, cuts, bars)
    source_track = None
    if source is not None:
        source_track = (track(source, model=target_track.model, bars=bars, description="tracking source photo")
                        if still else track(source, source_cuts, bars=bars, description="tracking source"))
    return target_track, source_track, recombination, loop_source


def render(plan: RenderPlan, output: PathLike, *, backend: BackendConfig | Backend = BackendConfig(), batch: int = 8,
           review: PathLike | None = None, frames: tuple[int, int] | None = None, piece: bool = False,
           target: Target | None = None, bars: Bars = no_bars, say: Say = _quiet) -> RunSummary:
    """Draw the planned frames [start, end) of `frames` (default: all) into `output`, with the clip's audio and a
    source | target | result `review` when asked. A `piece` is to be joined with others (no audio, lossless)."""
    target = target or Target.load(plan.model)
    output = Path(output)
    review = Path(review) if review is not None else None
    start, end = frames or (0, plan.frames)
    engine = _backend(target, backend, say)
    reader = VideoReader(plan.target_clip)
    source_frames = None
    if plan.source is not None and review is not None:
        clip = VideoReader(plan.source)
        source_frames = itertools.islice(itertools.cycle(clip) if plan.loop_source else iter(clip), start, None)
    stages = FrameStages.for_model(target.folder, engine, target.track.model, reader.fps,
                                   (reader.width, reader.height), plan.edit, plan.blend, plan.watermark)
    config = OfflineConfig(batch=batch, review=review, metadata=plan.metadata, audio=not piece,
                           crf=0 if piece else OfflineConfig.crf)
    with bars("rendering", end - start) as update:
        return rerender_clip(plan.target_clip, plan.params[:end], plan.cuts, output, stages, config, source_frames,
                             update, target_params=plan.target_params[:end], first=start)


def rerender(
    target: Target | PathLike,
    target_clip: PathLike,
    output: PathLike,
    *,
    source: PathLike | None = None,
    recombination: RecombineConfig | None = None,
    edits: Sequence[Edit] = (),
    loop_source: bool = False,
    cuts: CutList = AUTO,
    source_cuts: CutList = AUTO,
    backend: BackendConfig | Backend = BackendConfig(),
    blend: BlendConfig = BlendConfig(),
    watermark: bool = False,
    batch: int = 8,
    review: PathLike | None = None,
    params_out: PathLike | None = None,
    command: str = "rerender",
    bars: Bars = no_bars,
    say: Say = _quiet,
) -> RunSummary:
    """Re-render `target_clip` of the target into `output`, driven by `source` (a video or a still image) and/or
    changed by `edits`; every frame kept at the clip's rate, its audio copied, frames without a face untouched,
    the file labelled synthetic (`command` names what made it).

        api.rerender("models/edtalk", "clip.mp4", "smile.mp4", edits=[api.Smile(0.8)])

    `recombination`: what the source drives (default: everything); `review`: also write source | target |
    result side by side; `params_out`: also save the rendered parameters (`FaceParams.save`). A still
    `source` holds its expression and pose (absolute) over the whole clip.
    """
    target = _target(target)
    check_outputs({"-o": Path(output), "--review": Path(review) if review is not None else None,
                   "--params-out": Path(params_out) if params_out is not None else None},
                  {"target": Path(target_clip), "source": Path(source) if source else None,
                   **target.folder.own_files()})
    plan = plan_rerender(target, target_clip, source=source, recombination=recombination, edits=edits,
                         loop_source=loop_source, cuts=cuts, source_cuts=source_cuts, blend=blend, watermark=watermark,
                         command=command, bars=bars, say=say)
    if params_out is not None:
        plan.params[:plan.frames].save(params_out)
    return render(plan, output, backend=backend, batch=batch, review=review, target=target, bars=bars, say=say)


@dataclass(frozen=True)
class FramePreview:
    """One frame of a re-render, drawn on its own (`FramePreviewer`): uint8 H x W x 3 RGB images."""

    original: np.ndarray
    """The target clip's frame as it is."""
    conditioning: np.ndarray
    """What the generator is asked, on the frame (`render.preview.conditioning_overlay`)."""
    rendered: np.ndarray
    """The frame as a whole re-render draws it (the original where it shows no face)."""
    seconds: float
    """How long drawing it took."""


class FramePreviewer:
    """Any single frame of a re-render of one clip, drawn again and again as the edits change (the browser
    editor's preview): the target, the clip's and the source's tracks, the backend, the frame decoder and the
    edits' learnt motions are loaded once, here, so that a frame then costs its conditioning window and one
    generator call.

        previewer = api.FramePreviewer("models/edtalk", "clip.mp4")
        preview = previewer(120, edits=[api.Smile(0.8)])

    A frame comes out as `rerender` with the same arguments draws it: its shot's crop filter is run from the
    shot's first frame and the W - 1 frames before it fill the conditioning stack.
    """

    def __init__(self, target: Target | PathLike, target_clip: PathLike, *, source: PathLike | None = None,
                 loop_source: bool = False, cuts: CutList = AUTO, source_cuts: CutList = AUTO,
                 backend: BackendConfig | Backend | None = None, blend: BlendConfig | None = None,
                 bars: Bars = no_bars, say: Say = _quiet) -> None:
        """`backend`: default `BackendConfig()`; `blend`: default `BlendConfig()`."""
        from reenact.video_io import FrameSeeker

        self.target = _target(target)
        self.target_clip = Path(target_clip)
        self.source = Path(source) if source is not None else None
        self.frames = FrameSeeker(self.target_clip)
        self._decoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reenact-preview-decode")
        """Decodes the frame shown while its conditioning is drawn (a seek decodes from the last keyframe; PyAV
        and torch's ops release the GIL, so the two share a 2-core CPU)."""
        if self.source is not None:
            VideoReader(self.source)  # checked before the long work
        self.target_track, self.source_track, self._still_recombination, self.loop_source = _track_inputs(
            self.target, self.target_clip, self.source, None, loop_source, cuts, source_cuts, bars, say)
        if not self.target_track.params.valid.any():
            raise ReenactError(f"no frame of {self.target_clip} shows a face; nothing to re-render")
        self.backend = _backend(self.target, backend or BackendConfig(), say)
        self.blend = blend or BlendConfig()
        self.editor = Editor(self.target.track, say=say)
        self.cuts = (output_cuts(self.source_track, self.target_track, self.loop_source) if self.source_track
                     else self.target_track.cuts)
        self._recombined: dict[RecombineConfig, FaceParams] = {}
        self._crops = FollowerCache()
        reader = self.frames.reader
        self._frame_size = (reader.width, reader.height)
        self._fps = reader.fps
        self.n_frames = min(len(self.frames), len(self._params(RecombineConfig())))

    def recombination(self, asked: RecombineConfig | None) -> RecombineConfig | None:
        """What the source drives with: `asked`, made absolute for a still source (as `rerender` does); None
        without a source."""
        if self.source_track is None:
            return None
        asked = asked or RecombineConfig()
        return dataclasses.replace(asked, relative=False) if self._still_recombination is not None else asked

    def _params(self, recombination: RecombineConfig) -> FaceParams:
        """The clip's parameters before the edits (the source recombined onto it, kept for each setting)."""
        if self.source_track is None:
            return self.target_track.params
        if recombination not in self._recombined:
            self._recombined = {recombination: recombine(self.source_track, self.target_track, recombination,
                                                         self.loop_source)}
        return self._recombined[recombination]

    def __call__(self, index: int, edits: Sequence[Edit] = (),
                 recombination: RecombineConfig | None = None) -> FramePreview:
        """Frame `index` (0 <= index < n_frames) re-rendered with `edits` and, with a source, `recombination`."""
        start_time = time.perf_counter()
        if not 0 <= index < self.n_frames:
            raise SettingError(f"frame {index} is not in {self.target_clip.name} (frames 0 to {self.n_frames - 1})")
        decoded = self._decoder.submit(self.frames.__getitem__, index)
        recombination = self.recombination(recombination)
        params = self._params(recombination or RecombineConfig())
        shot = int(max([0, *(int(cut) for cut in self.cuts if cut <= index)]))
        span = params[shot:index + 1]
        edited = self.editor.apply(span, edits, first_frame=shot) if edits else span
        own = self.target_track.params[shot:index + 1]
        stages = FrameStages.for_model(self.target.folder, self.backend, self.target.track.model, self._fps,
                                       self._frame_size, edit_regions(recombination, edits), self.blend)
        window = self.target.info.conditioning().window
        new_shots = np.isin(np.arange(shot, index + 1), self.cuts)
        new_shots[0] = True
        drawn = max(0, len(edited) - window)  # the frames before only move the crop; W fill the stack
        stages.condition.advance(edited[:drawn], new_shots[:drawn], self._crops)
        conditioned = None
        for offset in range(drawn, len(edited)):
            shown = offset == len(edited) - 1  # only the frame shown needs an edit mask (with the target's face)
            conditioned = stages.condition(edited[offset], bool(new_shots[offset]), own[offset] if shown else None,
                                           edit_mask=shown)
        frame = decoded.result()
        crop = stages.generate([conditioned], [frame])[0] if conditioned.valid else None
        rendered = stages.composite(frame, conditioned, crop)
        overlay = conditioning_overlay(frame, conditioned)
        return FramePreview(frame, overlay, rendered, time.perf_counter() - start_time)

    def close(self) -> None:
        self._decoder.shutdown()
        self.frames.close()


def settings_hash(recombination: RecombineConfig | None, edits: Sequence[Edit], loop_source: bool, cuts: CutList,
                  source_cuts: CutList, blend: BlendConfig, watermark: bool) -> str:
    """sha256 of the settings that shape a re-rendered clip (not the backend: every backend renders the same
    picture within its tolerance), recorded in its label so that a batch rerun knows the clip is up to date."""
    record = {"recombination": recombination, "edits": [(type(edit).__name__, edit) for edit in edits],
              "loop_source": loop_source, "cuts": cuts, "source_cuts": source_cuts, "blend": blend,
              "watermark": watermark}
    text = json.dumps(record, sort_keys=True, default=_plain)
    return hashlib.sha256(text.encode()).hexdigest()


def _label_inputs(target_clip: PathLike, source: PathLike | None, recombination: RecombineConfig | None,
                  edits: Sequence[Edit], loop_source: bool, cuts: CutList, source_cuts: CutList, blend: BlendConfig,
                  watermark: bool) -> dict[str, str]:
    """What a re-rendered clip's label records of its inputs (names and sha256) and settings (`settings_hash`;
    what drives from a source counts only with one): what `up_to_date` compares."""
    settings = settings_hash(recombination if source else None, edits, loop_source, cuts,
                             source_cuts if source else AUTO, blend, watermark)
    return {**provenance("target", target_clip), **provenance("source", source), "settings_sha256": settings}


def _plain(value: object) -> object:
    """JSON for the settings' values: dataclasses as dicts, sets sorted, the rest as text."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    if isinstance(value, (set, frozenset)):
        return sorted(str(item) for item in value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def up_to_date(output: PathLike, target: Target | PathLike, target_clip: PathLike, *, source: PathLike | None = None,
               recombination: RecombineConfig | None = None, edits: Sequence[Edit] = (), loop_source: bool = False,
               cuts: CutList = AUTO, source_cuts: CutList = AUTO, blend: BlendConfig = BlendConfig(),
               watermark: bool = False, **_rendering: object) -> bool:
    """Whether `output` is what `rerender` with these arguments would write: its label names the same model,
    the same inputs (by content) and the same settings. `_rendering` takes `rerender`'s other arguments (the
    backend, the batch size, progress), which do not change the picture."""
    output = Path(output)
    if not output.is_file():
        return False
    try:
        record = json.loads(read_metadata(output).get(METADATA_KEY, "{}"))
    except (ReenactError, json.JSONDecodeError):
        return False
    target = _target(target)
    expected = {"model_hash": target.folder.model_hash(),
                **_label_inputs(target_clip, source, recombination, edits, loop_source, cuts, source_cuts, blend,
                                watermark)}
    return all(record.get(key) == value for key, value in expected.items()) and (source is not None) == (
        "source" in record)


class LiveSession:
    """A camera driving the target in real time, into a window, a virtual camera or a file.

        session = api.LiveSession("models/edtalk", api.LiveConfig(camera=0, sink="window"))
        print(session.run().line())
    """

    def __init__(self, target: Target | PathLike, config: LiveConfig,
                 backend: BackendConfig | Backend = BackendConfig(threads=1), say: Say = print) -> None:
        """`backend`: one generator thread by default, the other stages run beside it (measured fastest on 2
        cores). A file sink that is one of the inputs is refused here."""
        self.target, self.config, self.backend, self.say = _target(target), config, backend, say
        if isinstance(config.sink, Path):
            info = self.target.info
            camera = config.camera if isinstance(config.camera, Path) else None
            check_outputs({"--sink": config.sink}, {
                "camera": camera, "background": config.background,
                "training clip": Path(info.source) if info.source else None, **self.target.folder.own_files()})

    def run(self) -> LiveSummary:
        """Run until the camera ends, q/Esc, `max_seconds` or Ctrl-C; the summary says fps and latency."""
        return run_live(self.target.folder, self.config, lambda: _backend(self.target, self.backend, self.say),
                        say=self.say)


def evaluate(
    target: Target | PathLike,
    output: PathLike,
    *,
    target_clip: PathLike | None = None,
    source: PathLike | None = None,
    recombination: RecombineConfig | None = None,
    training_clip: PathLike | None = None,
    score_size: int | None = None,
    backend: BackendConfig | Backend = BackendConfig(),
    bars: Bars = no_bars,
    say: Say = _quiet,
) -> EvalResult:
    """Score the model against the nearest-frame and warp baselines on the same frames, and write the report
    (report.md, metrics.json, metrics.png, the side-by-side video) into the folder `output`.

        result = api.evaluate("models/edtalk", "out/eval")
        print(result.summary()["model"]["psnr_face"])

    Self-reenactment by default (the training clip's held-out tail), or every frame of `target_clip` (another
    clip of the same person); cross-reenactment with `source` (fidelity and flicker, no ground truth).
    `score_size`: score in crops of this size, not the model's (`EvalConfig.score_size`: to compare models
    trained at different sizes on the same pixels).
    """
    target = _target(target)
    output = Path(output)
    inputs = {"target": target_clip, "source": source, "training clip": training_clip}
    reports = {f"-o {output}'s {name}": output / name for name in ("metrics.json", "report.md", "metrics.png", VIDEO)}
    check_outputs({"-o": output, **reports}, {**{k: Path(v) if v else None for k, v in inputs.items()},
                                              **target.folder.own_files()}, folders=("-o",))
    if target_clip and source:
        raise SettingError("give --target (self-reenactment of another clip) or --source (cross-reenactment), "
                           "not both")
    for clip in inputs.values():
        if clip is not None:
            VideoReader(clip)  # every input checked before the long work starts
    generate = target.generate_stage(_backend(target, backend, say))
    if generate.backend.name != "torch":
        torch.set_num_threads(1)  # only the rasteriser uses torch then; one thread is fastest for its small ops
    output.mkdir(parents=True, exist_ok=True)
    video = output / VIDEO
    config = EvalConfig(score_size=score_size)
    if source:
        result = evaluate_cross(target.folder, generate, Path(source), track(source, bars=bars), recombination,
                                training_clip=training_clip, config=config, video=video)
    else:
        clip = (Path(target_clip), target.clip_track(target_clip, bars=bars)) if target_clip else None
        result = evaluate_self(target.folder, generate, clip, training_clip=training_clip, config=config, video=video)
    write_report(result, output)
    return result


EDIT_REPORT = ("edits.md", "edits.json", "plain.mp4", "edited.mp4", "edited_review.mp4")
"""What `evaluate_edits` writes into its folder: the table, the same as JSON, both renders and target | edited."""


def evaluate_edits(
    target: Target | PathLike,
    edits: Sequence[Edit],
    output: PathLike,
    *,
    target_clip: PathLike | None = None,
    max_frames: int = 300,
    backend: BackendConfig | Backend = BackendConfig(),
    bars: Bars = no_bars,
    say: Say = _quiet,
) -> list[EditCheck]:
    """Render `edits` on a clip of the target (default: its training clip), re-track the result and say, per
    edit, what was asked and what the picture shows (`reenact.eval.edit_fidelity`); writes `EDIT_REPORT`.

        checks = api.evaluate_edits("models/edtalk", [api.Smile(1.0, timing=api.Timing(50, 60, 120))], "out/edits")
        print([(c.measure, c.reached) for c in checks])

    Only the frames from the first edit's start (less the conditioning window, which fills the stack) to the
    last frame any edit acts on are rendered, at most `max_frames` of them; the edit's own render and one
    without it (the same edit mask re-rendered) are both re-tracked, so what both get wrong cancels.
    """
    if not edits:
        raise SettingError("no edit to evaluate: give at least one (--smile, --close-eye, --au, ...)")
    target = _target(target)
    output = Path(output)
    clip = Path(target_clip if target_clip is not None else target.info.source)
    check_outputs({"-o": output, **{f"-o {output}'s {name}": output / name for name in EDIT_REPORT}},
                  {"target": clip, **target.folder.own_files()}, folders=("-o",))
    n = VideoReader(clip).n_frames
    first = max(0, min(edit.timing.start for edit in edits) - target.info.conditioning().window)
    ends = [n if e.timing.release is None else e.timing.release + e.timing.end - e.timing.start for e in edits]
    last = min(n, max(ends) + 1, first + max_frames)
    if first >= last:
        raise SettingError(f"the edits start at frame {first}, after the end of {clip.name} ({n} frames)")
    engine = _backend(target, backend, say)
    plan = plan_rerender(target, clip, edits=edits, command="eval --edits", bars=bars, say=say)
    plain_plan = dataclasses.replace(plan, params=plan.target_params)  # same mask re-rendered, nothing changed
    output.mkdir(parents=True, exist_ok=True)
    retracked = {}
    for name, chosen, review in (("plain", plain_plan, None), ("edited", plan, output / "edited_review.mp4")):
        video = output / f"{name}.mp4"
        render(plan=chosen, output=video, backend=engine, review=review, frames=(first, last), piece=True,
               target=target, bars=bars, say=say)
        retracked[name] = track(video, model=target.track.model, bars=bars, description=f"re-tracking {name}").params
    span = slice(first, last)
    checks = check_edits(edits, np.arange(first, last), plan.target_params[span], plan.params[span],
                         retracked["plain"], retracked["edited"], Editor(target.track), MIN_REACH)
    table = checks_table(checks)
    write_atomic(output / "edits.md", (f"# Edit fidelity: {target.folder.path.name} on {clip.name}, frames "
                                       f"{first}-{last - 1}\n\n{table}\n").encode())
    record = [{name: None if isinstance(value, float) and not np.isfinite(value) else value
               for name, value in {**dataclasses.asdict(c), "reached": c.reached, "passed": c.passed}.items()}
              for c in checks]  # a measure with no frame compared is null, not JSON's non-standard NaN
    write_atomic(output / "edits.json", json.dumps(record, indent=2, allow_nan=False).encode())
    return checks


def train(target_clip: PathLike, output: PathLike, config: TrainConfig, *, track_file: PathLike | None = None,
          resume: bool = False, force: bool = False, device: str = "auto", minutes: float | None = None,
          say: Say = print) -> TrainResult:
    """Fit a target's generator on its clip into the model folder `output` (tracked, cached, trained, exported).

        from reenact.train.config import train_preset
        result = api.train("target.mp4", "models/me", train_preset("cpu"), minutes=60)
        target = api.Target.load(result.folder.path)

    `track_file`: start from this track instead of tracking (no MediaPipe needed); `minutes`: stop then and
    export what there is; `resume`: continue the run in `output` from its checkpoint.
    """
    from reenact.model_folder import CHECKPOINT, GENERATOR_ONNX, GENERATOR_WEIGHTS, TRACK

    target_clip, output = Path(target_clip), Path(output)
    written = {f"-o {output}'s {name}": output / name
               for name in (MODEL_JSON, GENERATOR_WEIGHTS, GENERATOR_ONNX, TRACK, CHECKPOINT, "log.csv")}
    check_outputs({"-o": output, **written}, {"target clip": target_clip, "--track": track_file}, folders=("-o",))
    return train_target(target_clip, output, config, track_path=Path(track_file) if track_file else None,
                        resume=resume, force=force, device=device,
                        time_limit=None if minutes is None else 60 * minutes, say=say)

