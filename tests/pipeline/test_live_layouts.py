"""Live thread layouts (issue 19): two generator calls in flight, and tracking on a smaller frame."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from reenact.pipeline.live import FrameMeta, GenerateAhead, LiveConfig, run_live
from reenact.tracking.landmarks import LandmarkDetector
from reenact.tracking.live import LiveTrackingConfig, SourceTracker
from reenact.video_io import VideoReader, read_frames


class SlowOne:
    """Stands in for `GenerateOne`: takes `seconds` per frame and records how many run at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.running, self.most = seconds, 0, 0
        self._lock = threading.Lock()

    def __call__(self, item: FrameMeta) -> FrameMeta:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.seconds)
        with self._lock:
            self.running -= 1
        return item


def test_generate_ahead_keeps_two_in_flight_in_capture_order() -> None:
    one = SlowOne(0.05)
    ahead = GenerateAhead(one, depth=2)  # type: ignore[arg-type]
    frames = [FrameMeta(seq, 0.0) for seq in range(8)]
    start = time.perf_counter()
    out = [ahead(frame) for frame in frames]  # type: ignore[arg-type]
    elapsed = time.perf_counter() - start
    ahead.close()
    assert out[0] is None  # held until the next frame comes
    assert [o.seq for o in out[1:]] == list(range(7))  # then handed on oldest first, none lost or reordered
    assert one.most == 2  # two generated at once...
    assert elapsed < 7 * 0.05  # ...so 8 frames take less time than one after the other would


def test_depth_2_runs_end_to_end(random_model, data, tmp_path) -> None:
    from reenact.runtime.config import BackendConfig
    from reenact.runtime.selection import open_backend

    backend = open_backend(random_model, BackendConfig(backend="onnxruntime", device="cpu", threads=1)).backend
    config = LiveConfig(camera=data / "drive_d0.mp4", sink=tmp_path / "live.mp4", generate_depth=2,
                        report_every=1.0, warmup_seconds=0.0)
    summary = run_live(random_model, config, backend, say=lambda line: None)
    backend.close()
    # The file camera plays in real time, so how many frames get through depends on the machine's load:
    # the test asks only that frames went past the two in flight and that the file holds at least as many
    # frames as were shown (it repeats a frame until the next arrives, to keep the camera's timing).
    assert summary.failed == 0 and summary.generated > 2 and summary.rendered <= summary.captured
    assert VideoReader(tmp_path / "live.mp4").n_frames >= summary.rendered
    assert "generate" in summary.clock.seconds and np.isfinite(summary.latency_ms).all()


def test_tracking_on_a_smaller_frame_finds_the_same_landmarks(random_model, data) -> None:
    frames, _ = read_frames(data / "drive_d3.mp4")
    frames = frames[:20]  # 512 x 512
    with LandmarkDetector() as detector:
        full = [detector.detect(f) for f in frames]
    tracker = SourceTracker(random_model.load_track().model, LiveTrackingConfig(detect_width=256))
    small = [tracker._detect(f) for f in frames]
    tracker.close()
    assert all(a is not None and b is not None for a, b in zip(full, small))
    error = np.median([np.abs(a[:, :2] - b[:, :2]).mean() for a, b in zip(full, small)])
    assert error < 3.0  # px of the 512 frame: scaled back to its pixels, and as steady
    face = np.ptp(full[0][:, 1])
    assert 0.5 < np.ptp(small[0][:, 1]) / face < 1.5


def test_layout_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="generate_depth"):
        LiveConfig(generate_depth=0)
    with pytest.raises(ValueError, match="detect_width"):
        LiveTrackingConfig(detect_width=10)
