"""Where live frames go: a window (with keys), a virtual camera, or a video file.

Every sink is opened and checked before the live run starts, so a missing
display, virtual camera driver or unwritable file is one clear error with the
fix, not a crash mid-run. A sink takes RGB uint8 H x W x 3 frames with their
capture times and, while idle, is polled so a window stays responsive.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import numpy as np

from reenact.errors import ReenactError
from reenact.video_io import VideoWriter

KeyHandler = Callable[[int], None]
"""Called with each key code pressed in a window."""

VIRTUALCAM_INSTALL = "pip install 'reenact[virtualcam]'"
VIRTUALCAM_DRIVER = {
    "linux": "v4l2loopback (e.g. sudo apt install v4l2loopback-dkms && sudo modprobe v4l2loopback devices=1 "
             "exclusive_caps=1)",
    "darwin": "OBS Studio and start its virtual camera once",
    "win32": "OBS Studio (its virtual camera) or Unity Capture",
}


class Sink(Protocol):
    """A live output."""

    description: str
    """What the closing summary says the frames went to."""

    def write(self, rgb: np.ndarray, captured: float) -> None:
        """Show or store one frame captured at `captured` (seconds, `time.perf_counter()`)."""
        ...

    def poll(self) -> None:
        """Serve the user interface (keys) while no frame comes; a no-op for sinks without one."""
        ...

    def close(self) -> None: ...


class WindowSink:
    """An OpenCV window; each key pressed goes to `on_key`, and closing the window counts as Esc."""

    ESC = 27

    def __init__(self, width: int, height: int, on_key: KeyHandler, title: str = "reenact live") -> None:
        import cv2

        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            # Without a display OpenCV's Qt backend aborts the process rather than raising.
            raise ReenactError("--sink window needs a display (neither DISPLAY nor WAYLAND_DISPLAY is set): "
                               "run on a desktop session, or use --sink FILE.mp4 or --sink virtualcam")
        self._cv2, self.title, self.on_key = cv2, title, on_key
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
            cv2.resizeWindow(title, width, height)
        except cv2.error as e:
            raise ReenactError(f"cannot open a window ({e.err or e}); OpenCV may be a headless build: "
                               "pip install opencv-contrib-python, or use --sink FILE.mp4") from None
        self.description = "window"

    def write(self, rgb: np.ndarray, captured: float) -> None:
        self._cv2.imshow(self.title, self._cv2.cvtColor(rgb, self._cv2.COLOR_RGB2BGR))
        self.poll()

    def poll(self) -> None:
        key = self._cv2.waitKey(1)
        if key >= 0:
            self.on_key(key & 0xFF)
        elif self._cv2.getWindowProperty(self.title, self._cv2.WND_PROP_VISIBLE) < 1:
            self.on_key(self.ESC)

    def close(self) -> None:
        self._cv2.destroyWindow(self.title)


class VirtualCameraSink:
    """A virtual webcam other programs (video calls) can pick, through pyvirtualcam (an optional extra)."""

    def __init__(self, width: int, height: int, fps: float) -> None:
        try:
            import pyvirtualcam
        except ImportError:
            raise ReenactError(f"--sink virtualcam needs pyvirtualcam: {VIRTUALCAM_INSTALL}") from None
        try:
            self._camera = pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.RGB)
        except RuntimeError as e:
            driver = VIRTUALCAM_DRIVER.get(sys.platform, "a virtual camera driver")
            raise ReenactError(f"no virtual camera device to send to ({e}); install {driver}") from None
        self.description = f"virtual camera {self._camera.device}"

    def write(self, rgb: np.ndarray, captured: float) -> None:
        self._camera.send(rgb)

    def poll(self) -> None:
        pass

    def close(self) -> None:
        self._camera.close()


class FileSink:
    """An MP4 at a constant rate that plays back in real time; what was written survives Ctrl-C.

    Frame k of the file is what was on screen k / fps seconds after the first
    frame's capture: a frame is repeated until the next one arrives, and a frame
    arriving in the slot of one already written is skipped. A stall longer than
    `max_hold` seconds is cut out rather than filled.
    """

    def __init__(self, path: Path, width: int, height: int, fps: float, metadata: dict[str, str],
                 max_hold: float = 1.0) -> None:
        if path.suffix.lower() != ".mp4":
            raise ReenactError(f"--sink {path}: the file sink writes MP4; give a path ending in .mp4")
        try:
            self._writer = VideoWriter(path, fps, width, height, metadata, keep_partial=True)
        except OSError as e:
            raise ReenactError(f"cannot write {path}: {e}") from None
        self.path, self.fps = path, fps
        self._max_hold = max(1, round(max_hold * fps))
        self._origin: float | None = None
        self._slot = -1
        self._last: np.ndarray | None = None
        self.description = str(path)

    @property
    def frames_written(self) -> int:
        return self._writer.frames_written

    def write(self, rgb: np.ndarray, captured: float) -> None:
        if self._origin is None:
            self._origin = captured
        slot = round((captured - self._origin) * self.fps)
        if slot <= self._slot:
            return
        if slot - self._slot > self._max_hold:
            self._origin += (slot - self._slot - self._max_hold) / self.fps
            slot = self._slot + self._max_hold
        if self._last is not None:
            for _ in range(slot - self._slot - 1):
                self._writer.write(self._last)
        self._writer.write(rgb)
        self._slot, self._last = slot, rgb

    def poll(self) -> None:
        pass

    def close(self) -> None:
        """Finish the file (playable however the run ended); with no frame written, leave none."""
        if self._writer.frames_written:
            self._writer.close()
        else:
            self._writer.abort()


def open_sink(sink: str | Path, width: int, height: int, fps: float, metadata: dict[str, str],
              on_key: KeyHandler) -> Sink:
    """"window", "virtualcam", or a video file path; `metadata` labels a file, `on_key` serves a window."""
    if sink == "window":
        return WindowSink(width, height, on_key)
    if sink == "virtualcam":
        return VirtualCameraSink(width, height, fps)
    return FileSink(Path(sink), width, height, fps, metadata)
