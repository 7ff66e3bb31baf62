"""Offline re-rendering of a clip: every frame kept, in order, at the clip's rate, with its audio.

The output parameters for the clip's frames are computed first (tracking and
recombination are cheap and need the whole source for its neutral reference);
then frames stream through condition -> generate (in batches) -> composite ->
encoder. Each output frame keeps its input frame's timestamp, so a
variable-rate clip (phone footage) stays in step with its copied audio.
Frames without a face in the target pass through untouched. The file
is written under a temporary name and renamed at the end; Ctrl-C finishes what
was written into a playable file.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reenact.params import FaceParams
from reenact.pipeline.stages import FrameStages, StageClock
from reenact.render.conditioning import ConditionedFrame
from reenact.render.preview import side_by_side
from reenact.video_io import VideoReader, VideoWriter

Progress = Callable[[int], object]


@dataclass(frozen=True)
class OfflineConfig:
    """How a clip is re-rendered and what is written besides the result."""

    batch: int = 8
    """Frames per generator call (bigger batches use the backend better offline)."""
    review: Path | None = None
    """Also write a side-by-side review video here: source | target | result."""
    metadata: dict[str, str] = field(default_factory=dict)
    """Container metadata of the outputs (the synthetic label)."""
    audio: bool = True
    """Copy the clip's audio (off for a range of frames that is joined with others afterwards)."""
    crf: int = 18
    """H.264 quality (0: lossless but for chroma subsampling, for pieces encoded again once joined)."""


@dataclass
class RunSummary:
    """What a run did, for the closing line."""

    frames: int = 0
    generated: int = 0
    seconds: float = 0.0
    clock: StageClock = field(default_factory=StageClock)

    def line(self) -> str:
        fps = self.frames / self.seconds if self.seconds else 0.0
        return (f"{self.frames} frames ({self.generated} generated, {self.frames - self.generated} passed through) "
                f"in {self.seconds:.1f} s ({fps:.1f} fps); {self.clock.summary()}")


@dataclass
class _Pending:
    index: int
    frame: np.ndarray
    pts: int | None
    """The input frame's timestamp (`VideoReader.timed`), kept in the output."""
    conditioned: ConditionedFrame
    source: np.ndarray | None


def rerender_clip(
    target_video: Path,
    params: FaceParams,
    cuts: np.ndarray,
    output: Path,
    stages: FrameStages,
    config: OfflineConfig = OfflineConfig(),
    source_frames: Iterator[np.ndarray] | None = None,
    progress: Progress | None = None,
    target_params: FaceParams | None = None,
    first: int = 0,
) -> RunSummary:
    """Re-render the first len(params) frames of `target_video` into `output` (see the module docstring).

    `params`: the output parameters per target frame (recombined and edited);
    `cuts`: the target's shot cuts; `stages`: the model's. `source_frames`: the source's frames in step
    with the target's, for the review video. `target_params`: the target frames' own
    parameters (a context model re-renders where they and `params` put the face). `first`: render frames
    from this one on (decoding the ones before); it starts a shot.
    """
    reader = VideoReader(target_video)
    summary = RunSummary()
    new_shot = np.zeros(len(params), dtype=bool)
    new_shot[np.asarray(cuts, dtype=np.int64)[np.asarray(cuts) < len(params)]] = True
    new_shot[min(first, len(params) - 1)] = True
    start = time.perf_counter()
    with contextlib.ExitStack() as stack:
        writer = stack.enter_context(VideoWriter(
            output, reader.rate, reader.width, reader.height, config.metadata, config.crf,
            audio_from=target_video if config.audio else None, time_base=reader.time_base, keep_partial=True,
        ))
        review = None
        if config.review is not None:
            review = stack.enter_context(VideoWriter(config.review, reader.rate, *_review_size(reader, source_frames),
                                                     config.metadata, time_base=reader.time_base, keep_partial=True))
        pending: list[_Pending] = []
        frames = itertools.islice(_decoded(reader, summary.clock), first, len(params))  # before first: dropped
        sources = source_frames if source_frames is not None else itertools.repeat(None)
        for index, ((frame, pts), source) in enumerate(zip(frames, sources), start=first):
            with summary.clock.time("condition"):
                target = None if target_params is None else target_params[index]
                conditioned = stages.condition(params[index], bool(new_shot[index]), target)
            pending.append(_Pending(index, frame, pts, conditioned, source))
            if len(pending) == config.batch:
                _flush(pending, stages, writer, review, summary, progress)
        _flush(pending, stages, writer, review, summary, progress)
    summary.seconds = time.perf_counter() - start
    return summary


def _decoded(reader: VideoReader, clock: StageClock) -> Iterator[tuple[np.ndarray, int | None]]:
    """The reader's frames with their timestamps, decoding timed."""
    frames = reader.timed()
    while True:
        with clock.time("decode"):
            frame = next(frames, None)
        if frame is None:
            return
        yield frame


def _review_size(reader: VideoReader, source_frames: Iterator[np.ndarray] | None) -> tuple[int, int]:
    """Width and height of a review tile: (source |) target | result at the target's height."""
    panels = 3 if source_frames is not None else 2
    width = reader.width * panels  # the source panel is resized to the target's height and cropped to this
    return width - width % 2, reader.height - reader.height % 2


def _flush(
    pending: list[_Pending],
    stages: FrameStages,
    writer: VideoWriter,
    review: VideoWriter | None,
    summary: RunSummary,
    progress: Progress | None,
) -> None:
    """Generate the pending frames with a face in one batch, then composite and write all, in order."""
    faces = [p for p in pending if p.conditioned.valid]
    with summary.clock.time("generate", max(1, len(faces))):
        generated = stages.generate([p.conditioned for p in faces], [p.frame for p in faces])
        crops = dict(zip((p.index for p in faces), generated))
    for p in pending:
        with summary.clock.time("composite"):
            out = stages.composite(p.frame, p.conditioned, crops.get(p.index))
        with summary.clock.time("encode"):
            writer.write(out, p.pts)
            if review is not None:
                review.write(_review_tile(p, out, writer.width), p.pts)
        summary.frames += 1
        summary.generated += p.index in crops
        if progress:
            progress(1)
    pending.clear()


def _review_tile(pending: _Pending, result: np.ndarray, frame_width: int) -> np.ndarray:
    height = pending.frame.shape[0]
    panels = [pending.frame, result]
    labels = ["target", "result"]
    if pending.source is not None:
        panels, labels = [pending.source, *panels], ["source", *labels]
    tile = side_by_side(panels, height, labels)
    width = frame_width * len(panels)
    width -= width % 2
    canvas = np.zeros((height - height % 2, width, 3), np.uint8)
    w = min(width, tile.shape[1])
    canvas[:, :w] = tile[: canvas.shape[0], :w]
    return canvas
