"""Reading and writing video files: RGB uint8 HxWx3 frames in, H.264 files out.

PyAV is the primary decoder and encoder; frames decode through OpenCV where PyAV
is absent (the GPU machine has cv2 but no av), so training can run there.
Outputs are written to a temporary name and renamed into place on success,
so a failed run (a full disk included) never damages an existing file nor
leaves a partial one. A writer can copy another file's audio stream packet for
packet (no re-encode), and can give each frame the timestamp of the input
frame it came from, so a re-rendered clip keeps its sound and timing even when
the input's frame rate varies (phone footage).

Frames come out upright: a video whose container asks for a rotation (a phone's
display matrix) is rotated as a player would show it, so tracking sees an
upright face and outputs need no rotation of their own.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Self

import numpy as np

from reenact.errors import InputError, OutputError

try:
    import av
except ImportError:  # pragma: no cover - exercised on machines without PyAV
    av = None

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
"""A file with one of these suffixes is a still image (PyAV and OpenCV read it as a one-frame video)."""


def upright(rgb: np.ndarray, rotation: int) -> np.ndarray:
    """The frame as a player shows it: `rotation` is the container's counter-clockwise display rotation."""
    turns = round(rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


class VideoReader:
    """Iterate a video file's frames as RGB uint8 HxWx3 arrays.

    Besides `fps` (float) it exposes the exact frame `rate` (a Fraction, so a
    29.97 clip stays 30000/1001; the average rate of a variable-rate clip), the
    video stream's `time_base` (None when OpenCV reads the file), `has_audio`,
    `rotation` (the display rotation applied; width and height are of the
    upright frames) and `is_still` (a still image), so a writer can reproduce
    them; `timed()` gives each frame with its timestamp. Raises `InputError`
    (one clear sentence) for a missing file, a file that is not a video, or a
    video whose first frame does not decode.
    """

    def __init__(self, path: str | Path, backend: str = "auto") -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"video not found: {self.path}")
        if self.path.stat().st_size == 0:
            raise InputError(f"{self.path} is an empty file, not a video")
        if backend == "auto":
            backend = "av" if av is not None else "cv2"
        self.backend = backend
        if backend == "av":
            self._open_av()
        else:
            self._open_cv2()
        if self.width <= 0 or self.height <= 0:
            raise InputError(f"{self.path} has no decodable video frames")
        self.is_still = self.path.suffix.lower() in IMAGE_SUFFIXES or self.n_frames == 1

    def _open_av(self) -> None:
        try:
            container = av.open(str(self.path))
        except (av.error.FFmpegError, UnicodeDecodeError) as e:
            reason = getattr(e, "strerror", None) or str(e)
            raise InputError(f"{self.path} is not a readable video ({reason})") from None
        if not container.streams.video:
            container.close()
            raise InputError(f"{self.path} holds no video stream")
        stream = container.streams.video[0]
        self.rate = Fraction(stream.average_rate or stream.guessed_rate or 25)
        self.fps = float(self.rate)
        self.time_base: Fraction | None = stream.time_base
        self._start = stream.start_time or 0
        try:  # the first frame: proves the file decodes, and carries the display rotation
            first = next(container.decode(stream), None)
        except (av.error.FFmpegError, ValueError) as e:
            container.close()
            raise InputError(f"{self.path} is not a readable video (its first frame does not decode: {e})") from None
        if first is None:
            container.close()
            raise InputError(f"{self.path} holds no video frames")
        self.rotation = int(first.rotation or 0) % 360
        self.width, self.height = (first.width, first.height) if self.rotation % 180 == 0 else (first.height, first.width)
        if stream.frames:
            self.n_frames = int(stream.frames)
        elif stream.duration and stream.time_base:
            self.n_frames = round(float(stream.duration * stream.time_base) * self.fps)
        else:
            self.n_frames = 0
        self.has_audio = bool(container.streams.audio)
        container.close()

    def _open_cv2(self) -> None:
        import cv2

        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise InputError(f"{self.path} is not a readable video")
        self.fps = float(cap.get(cv2.CAP_PROP_FPS) or 25)
        self.rate = Fraction(self.fps).limit_denominator(1001)
        self.time_base = None  # OpenCV does not report it.
        self.rotation = 0  # OpenCV applies a display rotation itself.
        self.width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.n_frames = max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
        self.has_audio = False  # OpenCV cannot tell; only PyAV copies audio.
        cap.release()

    def __iter__(self) -> Iterator[np.ndarray]:
        return (rgb for rgb, _ in self.timed())

    def timed(self) -> Iterator[tuple[np.ndarray, int | None]]:
        """Each upright frame with its timestamp: pts in `time_base` units from the stream's start
        (None when OpenCV reads the file)."""
        return self._iter_av() if self.backend == "av" else self._iter_cv2()

    def _iter_av(self) -> Iterator[tuple[np.ndarray, int | None]]:
        with av.open(str(self.path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            try:
                for frame in container.decode(stream):
                    pts = None if frame.pts is None else frame.pts - self._start
                    yield upright(frame.to_ndarray(format="rgb24"), self.rotation), pts
            except av.error.FFmpegError as e:
                raise InputError(f"{self.path}: decoding failed: {e}") from None

    def _iter_cv2(self) -> Iterator[tuple[np.ndarray, int | None]]:
        import cv2

        cap = cv2.VideoCapture(str(self.path))
        try:
            while True:
                ok, bgr = cap.read()
                if not ok:
                    return
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), None
        finally:
            cap.release()


class FrameSeeker:
    """Any frame of a video by its index, for scrubbing back and forth (the browser editor's preview).

    The frames' timestamps are read once from the packets (no decoding); a frame is then decoded from the
    keyframe before it, or onward from the last frame decoded when it lies a little ahead, and the frames
    most recently asked for are kept up to `cache_bytes`. Frames come out upright, as `VideoReader` gives them,
    and index i is the i-th frame `VideoReader` yields.
    """

    AHEAD = 48
    """Frames decoded onward rather than seeking, when the wanted one is at most this far past the last decoded."""

    def __init__(self, path: str | Path, cache_bytes: int = 256 << 20) -> None:
        self.reader = VideoReader(path)
        if self.reader.backend != "av":
            raise InputError(f"seeking in {self.reader.path} needs PyAV (pip install av)")
        self._container = av.open(str(self.reader.path))
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"  # frame threads: a seek decodes up to a keyframe interval of frames
        self._pts = sorted(packet.pts for packet in self._container.demux(stream) if packet.pts is not None)
        self._index_of = {pts: i for i, pts in enumerate(self._pts)}
        self._frames: Iterator | None = None
        self._last = -1
        self._cache: dict[int, np.ndarray] = {}
        self._cache_bytes = cache_bytes

    def __len__(self) -> int:
        return len(self._pts)

    def __getitem__(self, index: int) -> np.ndarray:
        """uint8 HxWx3 RGB of frame `index` (0 <= index < len)."""
        if not 0 <= index < len(self._pts):
            raise IndexError(f"frame {index} of {self.reader.path.name}, which has {len(self._pts)} frames")
        if index in self._cache:
            self._cache[index] = self._cache.pop(index)  # most recently used last
            return self._cache[index]
        if self._frames is None or not self._last < index <= self._last + self.AHEAD:
            stream = self._container.streams.video[0]
            self._container.seek(self._pts[index], stream=stream, backward=True, any_frame=False)
            self._frames = self._container.decode(stream)
        for frame in self._frames:
            at = self._index_of.get(frame.pts, -1)
            self._last = at
            if at == index:  # only the frame asked for is converted to RGB: the others cost their decoding alone
                self._keep(at, upright(frame.to_ndarray(format="rgb24"), self.reader.rotation))
                return self._cache[index]
            if at > index:
                break
        self._frames = None
        raise InputError(f"{self.reader.path}: frame {index} did not decode")

    def _keep(self, index: int, rgb: np.ndarray) -> None:
        self._cache[index] = rgb
        while len(self._cache) > 1 and sum(frame.nbytes for frame in self._cache.values()) > self._cache_bytes:
            del self._cache[next(iter(self._cache))]

    def close(self) -> None:
        self._container.close()


def read_frames(path: str | Path) -> tuple[np.ndarray, float]:
    """All frames of a (short) video as uint8 TxHxWx3 RGB, with its fps."""
    reader = VideoReader(path)
    frames = list(reader)
    if not frames:
        raise InputError(f"{path} holds no video frames")
    return np.stack(frames), reader.fps


class VideoWriter:
    """Write RGB uint8 HxWx3 frames to an H.264 MP4, atomically.

    Frames go to a hidden temporary file beside `path`; `close()` renames it
    into place. Leaving the `with` block by an exception removes the temporary
    file, unless `keep_partial` is set and the exception is Ctrl-C: then what
    was written is finished into a playable file (what Ctrl-C in a long offline
    run should leave). A write the disk refuses (full, read-only) raises
    OutputError and leaves nothing behind, the existing file at `path` kept.

    `fps` may be a float or an exact Fraction (`VideoReader.rate`); `time_base`
    sets the MP4 track's time base (pass `VideoReader.time_base` to keep the
    input's). `write(rgb, pts)` with the input frame's pts (in `time_base`
    units, `VideoReader.timed`) keeps that frame's time, so a variable-rate
    clip keeps its timing; without pts frames are spaced at `fps`.
    `metadata` is written into the container; keys outside MP4's standard set
    (title, comment, description, ...) are kept too.

    `audio_from` names a file whose first audio stream is copied packet for
    packet, without re-encoding: packets keep their bytes and their timing
    relative to that file's first video frame, and those starting after the
    last written video frame's end are left out (a run stopped early, or one that
    wrote only part of the clip, gets the matching stretch of sound). A file
    without audio adds none; `has_audio` tells which happened.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float | Fraction,
        width: int,
        height: int,
        metadata: dict[str, str] | None = None,
        crf: int = 18,
        *,
        audio_from: str | Path | None = None,
        time_base: Fraction | None = None,
        keep_partial: bool = False,
    ) -> None:
        if av is None:
            raise InputError("writing video needs PyAV: pip install av")
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"cannot write {self.path}: {e.strerror or e}") from None
        self.width, self.height = width, height
        self.rate = fps if isinstance(fps, Fraction) else Fraction(fps).limit_denominator(1001)
        if self.rate <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.frames_written = 0
        self.keep_partial = keep_partial
        self.time_base = time_base
        self._end = Fraction(0)  # output seconds covered by the frames written
        self._audio_in = self._audio_out = None
        self._tmp = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix or '.mp4'}")
        # Without use_metadata_tags the MP4 muxer silently drops keys outside the iTunes set.
        options = {"movflags": "use_metadata_tags"} if metadata else {}
        try:
            self._container = av.open(str(self._tmp), mode="w", format="mp4", container_options=options)
        except OSError as e:
            self._tmp.unlink(missing_ok=True)
            raise OutputError(f"cannot write {self.path}: {e.strerror or e}") from None
        try:
            for key, value in (metadata or {}).items():
                self._container.metadata[key] = value
            self._stream = self._container.add_stream("libx264", rate=self.rate)
            # H.264 with yuv420p needs even dimensions.
            self._stream.width, self._stream.height = width - width % 2, height - height % 2
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": str(crf), "preset": "veryfast"}
            if time_base is not None:
                self._stream.time_base = time_base
                self._stream.codec_context.time_base = time_base  # frames keep input pts at this precision
            self._audio_out = self._open_audio(Path(audio_from)) if audio_from is not None else None
        except BaseException:
            self.abort()
            raise

    @property
    def has_audio(self) -> bool:
        """An audio stream is being copied into the output."""
        return self._audio_out is not None

    def _open_audio(self, source: Path) -> av.audio.stream.AudioStream | None:
        """Add a copy of `source`'s first audio stream to the output (None if it has none)."""
        try:
            self._audio_in = av.open(str(source))
        except (av.error.FFmpegError, UnicodeDecodeError) as e:
            raise InputError(f"cannot read audio from {source}: {e}") from None
        if not self._audio_in.streams.audio:
            self._audio_in.close()
            self._audio_in = None
            return None
        audio = self._audio_in.streams.audio[0]
        try:
            out = self._container.add_stream_from_template(audio)
        except ValueError:
            raise InputError(
                f"the {audio.codec_context.name} audio of {source} cannot be copied into MP4 unchanged; "
                "convert it (e.g. to AAC) first, or write without audio"
            ) from None
        # Audio keeps its offset from the source's first video frame, which becomes our time 0.
        video = self._audio_in.streams.video[0] if self._audio_in.streams.video else None
        start = (video.start_time or 0) * video.time_base if video is not None else 0
        self._audio_shift = round(start / audio.time_base)
        self._audio_base = audio.time_base
        self._audio_packets = (
            p for p in self._audio_in.demux(audio) if p.size and p.pts is not None and p.dts is not None
        )
        self._audio_next = next(self._audio_packets, None)
        return out

    def _copy_audio(self, until: Fraction) -> None:
        """Mux the source's audio packets that start before `until` seconds of output."""
        while self._audio_next is not None and (self._audio_next.pts - self._audio_shift) * self._audio_base < until:
            packet = self._audio_next
            packet.pts -= self._audio_shift
            packet.dts -= self._audio_shift
            packet.stream = self._audio_out
            self._container.mux(packet)
            self._audio_next = next(self._audio_packets, None)

    def write(self, rgb: np.ndarray, pts: int | None = None) -> None:
        """Append one RGB uint8 HxWx3 frame of the size given at construction, at `pts` (in `time_base`
        units, after the previous frame's) or, without it, one frame period after the previous frame."""
        if rgb.shape != (self.height, self.width, 3) or rgb.dtype != np.uint8:
            raise ValueError(
                f"frames must be uint8 {self.height}x{self.width}x3 RGB, got {rgb.dtype} {'x'.join(map(str, rgb.shape))}"
            )
        h, w = self._stream.height, self._stream.width
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:h, :w]), format="rgb24")
        if pts is not None and self.time_base is not None:
            frame.pts, frame.time_base = pts, self.time_base
            start = pts * self.time_base
        else:
            start = self._end if self.frames_written else Fraction(0)
            frame.pts, frame.time_base = round(start * self.rate), 1 / self.rate
        self._end = start + 1 / self.rate
        with self._refused_writes():
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
            self.frames_written += 1
            if self._audio_out is not None:
                self._copy_audio(self._end)

    def close(self) -> None:
        """Flush the encoder, add the audio up to the last frame's end and move the file into place."""
        if self.frames_written == 0:
            self.abort()
            raise ValueError(f"no frames were written to {self.path}")
        with self._refused_writes():
            for packet in self._stream.encode():
                self._container.mux(packet)
            if self._audio_out is not None:
                self._copy_audio(self._end)
                self._audio_in.close()
            self._container.close()
            os.replace(self._tmp, self.path)

    @contextlib.contextmanager
    def _refused_writes(self) -> Iterator[None]:
        """Turn a write the disk refuses into OutputError, the partial file removed."""
        try:
            yield
        except OSError as e:
            self.abort()
            raise OutputError(f"cannot write {self.path}: {e.strerror or e}; nothing was written there, "
                              "an existing file is kept") from None

    def abort(self) -> None:
        """Drop the partial file."""
        if self._audio_in is not None:
            self._audio_in.close()
        with contextlib.suppress(OSError):  # closing flushes, which a full disk refuses again
            self._container.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None or (self.keep_partial and self.frames_written and issubclass(exc_type, KeyboardInterrupt)):
            self.close()
        else:
            self.abort()
