"""Reading and writing video files: RGB uint8 HxWx3 frames in, H.264 files out.

PyAV is the primary decoder and encoder; frames decode through OpenCV where PyAV
is absent (the GPU machine has cv2 but no av), so training can run there.
Outputs are written to a temporary name and renamed into place on success,
so a failed run never damages an existing file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import numpy as np

from reenact.errors import InputError

try:
    import av
except ImportError:  # pragma: no cover - exercised on machines without PyAV
    av = None


class VideoReader:
    """Iterate a video file's frames as RGB uint8 HxWx3 arrays.

    Raises `InputError` (one clear sentence) for a missing file, a file that is
    not a video, or a video without frames.
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
        self.fps = float(stream.average_rate or stream.guessed_rate or 25)
        self.width, self.height = stream.codec_context.width, stream.codec_context.height
        if stream.frames:
            self.n_frames = int(stream.frames)
        elif stream.duration and stream.time_base:
            self.n_frames = int(round(float(stream.duration * stream.time_base) * self.fps))
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
        self.width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.n_frames = max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
        self.has_audio = False  # OpenCV cannot tell; only PyAV copies audio.
        cap.release()

    def __iter__(self) -> Iterator[np.ndarray]:
        return self._iter_av() if self.backend == "av" else self._iter_cv2()

    def _iter_av(self) -> Iterator[np.ndarray]:
        with av.open(str(self.path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            try:
                for frame in container.decode(stream):
                    yield frame.to_ndarray(format="rgb24")
            except av.error.FFmpegError as e:
                raise InputError(f"{self.path}: decoding failed: {e}") from None

    def _iter_cv2(self) -> Iterator[np.ndarray]:
        import cv2

        cap = cv2.VideoCapture(str(self.path))
        try:
            while True:
                ok, bgr = cap.read()
                if not ok:
                    return
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            cap.release()


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
    file unless `keep_partial` is set (Ctrl-C should still leave a playable file).
    `metadata` is written into the container (e.g. that the video is synthetic).
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        width: int,
        height: int,
        metadata: dict[str, str] | None = None,
        crf: int = 18,
    ) -> None:
        if av is None:
            raise InputError("writing video needs PyAV: pip install av")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix or '.mp4'}")
        self._container = av.open(str(self._tmp), mode="w", format="mp4")
        for key, value in (metadata or {}).items():
            self._container.metadata[key] = value
        rate = Fraction(fps).limit_denominator(1001)
        self._stream = self._container.add_stream("libx264", rate=rate)
        # H.264 with yuv420p needs even dimensions.
        self._stream.width, self._stream.height = width - width % 2, height - height % 2
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"crf": str(crf), "preset": "veryfast"}
        self.frames_written = 0
        self.keep_partial = False

    def write(self, rgb: np.ndarray) -> None:
        """Append one RGB uint8 HxWx3 frame."""
        h, w = self._stream.height, self._stream.width
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:h, :w]), format="rgb24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> None:
        """Flush the encoder and move the file into place."""
        if self.frames_written == 0:
            self.abort()
            raise ValueError(f"no frames were written to {self.path}")
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Drop the partial file."""
        self._container.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None or (self.keep_partial and self.frames_written):
            self.close()
        else:
            self.abort()
