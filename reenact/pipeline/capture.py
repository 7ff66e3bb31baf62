"""Live capture: a webcam, or a video file played in real time so the live path can be run without one.

Each source hands out RGB uint8 H x W x 3 frames with the `time.perf_counter()`
moment the frame became available, which is where live latency is measured
from. Both are opened and checked up front, so a missing camera or file is one
clear error before any model is loaded or thread started.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Protocol

import numpy as np

from reenact.errors import InputError
from reenact.video_io import VideoReader

DEFAULT_WEBCAM_FPS = 30.0
"""Frame rate assumed for a webcam that does not report one."""
LOST_AFTER_SECONDS = 1.0
"""A webcam that delivers no frame for this long has gone (unplugged, or taken by another program)."""


class Capture(Protocol):
    """A live frame source."""

    fps: float
    """Frames per second the source delivers (a file's own rate)."""
    width: int
    height: int
    is_still: bool
    """The source shows one still image (a photo standing in for a camera)."""

    def read(self) -> tuple[np.ndarray, float] | None:
        """The next frame (RGB uint8 H x W x 3) and when it became available; None at the end or once stopped."""
        ...

    def close(self) -> None: ...


class Webcam:
    """A camera by OpenCV index; its driver buffer is kept to one frame, so frames are not read late."""

    is_still = False

    def __init__(self, index: int) -> None:
        import cv2

        self._cv2 = cv2
        self.index = index
        self._cap = cv2.VideoCapture(index)
        ok, frame = self._cap.read() if self._cap.isOpened() else (False, None)
        if not ok or frame is None:
            self._cap.release()
            where = "ls /dev/video*" if sys.platform.startswith("linux") else "the system's camera settings"
            raise InputError(
                f"cannot open camera {index}: no such device, or it is busy or not permitted (check {where}); "
                "another index may work, or pass a video file with --camera FILE.mp4"
            )
        self._cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self.height, self.width = frame.shape[:2]
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0) or DEFAULT_WEBCAM_FPS

    def read(self) -> tuple[np.ndarray, float] | None:
        """The next frame; a camera never ends, so failing reads for LOST_AFTER_SECONDS raise InputError."""
        failing_since = time.perf_counter()
        while True:
            ok, bgr = self._cap.read()
            if ok and bgr is not None:
                return self._cv2.cvtColor(bgr, self._cv2.COLOR_BGR2RGB), time.perf_counter()
            if time.perf_counter() - failing_since > LOST_AFTER_SECONDS:
                raise InputError(f"camera {self.index} stopped delivering frames (unplugged, or taken by another "
                                 "program)")
            time.sleep(0.01)

    def close(self) -> None:
        self._cap.release()


class FileCamera:
    """A video file standing in for a camera: frames released at the file's own rate, in real time.

    Frame i becomes available i / fps seconds after the first read, as a camera
    would deliver it; when the reader falls behind that schedule the frame is
    handed out at once, with the later time (a camera does not wait for
    anyone). `loop` restarts the file at its end; otherwise `read` returns None
    there. A still image (`is_still`) is a camera showing that photo: it is
    handed out again and again. `stop` (an Event) cuts a pacing wait short.
    """

    def __init__(self, path: Path, loop: bool = False, stop: threading.Event | None = None) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise InputError(f"camera {self.path} is a folder; give a camera index or a video file")
        reader = VideoReader(self.path)  # raises InputError for a missing or unreadable file
        self._reader, self.is_still = reader, reader.is_still
        self.loop = loop or self.is_still
        self.fps, self.width, self.height = reader.fps, reader.width, reader.height
        self._stop = stop or threading.Event()
        self._frames = iter(reader)
        self._start: float | None = None
        self._count = 0

    def read(self) -> tuple[np.ndarray, float] | None:
        frame = next(self._frames, None)
        if frame is None and self.loop and self._count:
            self._frames = iter(self._reader)
            frame = next(self._frames, None)
        if frame is None:
            return None
        now = time.perf_counter()
        if self._start is None:
            self._start = now
        due = self._start + self._count / self.fps
        if due > now and self._stop.wait(due - now):
            return None
        self._count += 1
        return frame, time.perf_counter()

    def close(self) -> None:
        self._frames = iter(())


def open_capture(camera: int | Path, loop: bool = False, stop: threading.Event | None = None) -> Capture:
    """A webcam by index, or a video file paced in real time (`loop`: restart at its end)."""
    if isinstance(camera, int):
        if camera < 0:
            raise InputError(f"camera index must be 0 or more, got {camera}")
        return Webcam(camera)
    return FileCamera(Path(camera), loop, stop)
