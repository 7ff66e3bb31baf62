"""The live background: the target frames the driven face is rendered into.

By default the model's training clip, looped; or another clip of the target,
or a still image of it. A clip plays in real time whatever the live frame rate:
each live frame takes the background frame due at its capture time (frames in
between are decoded and skipped), so the target's own motion keeps its speed
when frames are dropped. Every background frame comes with the target's face
parameters in the model's face model, which recombination starts from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reenact.errors import InputError, NoFaceError
from reenact.model_folder import file_hash
from reenact.params import FaceModel, FaceParams, Track
from reenact.recombine import reference_frame
from reenact.video_io import IMAGE_SUFFIXES, VideoReader


@dataclass
class BackgroundFrame:
    """One background frame with what the stages need about it."""

    index: int
    """Frame number in the background clip (0 for an image)."""
    rgb: np.ndarray
    """uint8 H x W x 3 RGB."""
    params: FaceParams
    """1 frame: the target's face in it (in the model's face model; invalid where there is none)."""
    new_shot: bool
    """The clip jumped here (it looped, a shot cut was passed, or frames were skipped over a cut)."""


class StillBackground:
    """One image, every frame."""

    def __init__(self, rgb: np.ndarray, params: FaceParams) -> None:
        self.rgb, self.params = rgb, params
        self.height, self.width = rgb.shape[:2]
        self.reference = params.copy()
        self._first = True

    def at(self, t: float) -> BackgroundFrame:
        new_shot, self._first = self._first, False
        return BackgroundFrame(0, self.rgb, self.params, new_shot)


class ClipBackground:
    """A clip looped in real time (see the module docstring), decoded as it plays (memory stays flat)."""

    def __init__(self, path: Path, params: FaceParams, cuts: np.ndarray, reference: FaceParams) -> None:
        self.path, self.params, self.reference = path, params, reference
        reader = VideoReader(path)
        self._reader = reader
        self.fps, self.width, self.height = reader.fps, reader.width, reader.height
        self._cut = np.zeros(len(params) + 1, dtype=bool)
        self._cut[np.asarray(cuts, dtype=np.int64)[np.asarray(cuts) < len(params)]] = True
        self._frames: Iterator[np.ndarray] = iter(())
        self._rgb: np.ndarray | None = None
        self._index = -1  # frame of the clip last decoded
        self._played = -1  # frames decoded since the start, loops included
        self._origin: float | None = None
        self._jumped = True

    def at(self, t: float) -> BackgroundFrame:
        """The frame due at time `t` (seconds, `time.perf_counter()`); the first call is the clip's start.

        More than a second behind schedule (a stall), the clock is moved on
        rather than decoding the whole gap.
        """
        if self._origin is None:
            self._origin = t
        due = int((t - self._origin) * self.fps)
        if due - self._played > self.fps:
            self._origin = t - (self._played + 1) / self.fps
            due = self._played + 1
        while self._played < due or self._rgb is None:
            self._advance()
        new_shot, self._jumped = self._jumped, False
        return BackgroundFrame(self._index, self._rgb, self.params[self._index], new_shot)

    def _advance(self) -> None:
        """Decode the next frame, looping at the end of the track (or of the decodable frames)."""
        frame = next(self._frames, None) if self._index + 1 < len(self.params) else None
        if frame is None:
            self._frames, self._index, self._jumped = iter(self._reader), -1, True
            frame = next(self._frames, None)
            if frame is None:
                raise InputError(f"{self.path} yields no frames")
        self._index += 1
        self._played += 1
        self._rgb = frame
        self._jumped |= bool(self._cut[self._index])


Background = StillBackground | ClipBackground


def open_background(
    track: Track, data_hash: str, path: Path | None = None, target_ref: int | None = None,
    say: Callable[[str], object] = print,
) -> Background:
    """The live background: `path` (a still image or a clip of the target), else the target's training clip.

    `track` is the model's own (its face model, and the training clip's
    parameters), `data_hash` the training clip's (`ModelInfo.data_hash`). The
    training clip, recognised by its hash, uses the track's parameters; any
    other clip is tracked now against the model's face model (its identity is
    what the generator knows), an image likewise. `target_ref`: the frame of a
    clip whose face the source's changes are applied to (None: its most neutral).
    """
    if path is None:
        path = Path(track.source) if track.source else None
        if path is None or not path.is_file():
            raise InputError(
                f"the model's training clip {path} is not there to loop as the background; "
                "give a clip or an image of the target with --background"
            )
    path = Path(path)
    if not path.is_file():
        raise InputError(f"background not found: {path}")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return _still(path, track.model)
    if file_hash(path) == data_hash:
        params, cuts = track.params, track.cuts
    else:
        from reenact.tracking.tracker import track_video

        say(f"tracking the background {path.name} against the model (once, before going live)")
        other = track_video(path, model=track.model)
        params, cuts = other.params, other.cuts
    if not params.valid.any():
        raise NoFaceError(f"no frame of the background {path} shows a face to drive")
    try:
        reference = reference_frame(track.model, params, target_ref)
    except ValueError as e:
        raise InputError(f"background {path}: {e}") from None
    return ClipBackground(path, params, cuts, reference)


def _still(path: Path, model: FaceModel) -> StillBackground:
    """An image of the target, decoded and its face fitted in the model's face model exactly as `reenact edit`
    does it for an image (`track_video`), so a live frame over it is what an offline render of it is."""
    from reenact.tracking.tracker import track_video

    track = track_video(path, model=model)
    if not track.params.valid[0]:
        raise NoFaceError(f"no face found in the background image {path}")
    return StillBackground(next(iter(VideoReader(path))), track.params[:1])
