"""The live runner's parts on synthetic input: the workers' just-in-time pacing (a fake clock) and `LiveStats`."""

from __future__ import annotations

import threading

import pytest

from reenact.pipeline.live import FrameMeta, LiveStats, Worker, _Failures
from reenact.pipeline.slots import LatestSlot
from reenact.pipeline.stages import StageClock


class FakeClock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def chain(clock: FakeClock, pace: bool = True) -> tuple[Worker, Worker]:
    """An upstream worker handing to a downstream one, neither started."""
    stop = threading.Event()
    failures = _Failures(lambda line: None, 10, stop)
    slots = [LatestSlot(name) for name in ("a", "b", "sink")]
    upstream = Worker("a", slots[0], slots[1], [], failures, stop, pace, clock)
    downstream = Worker("b", slots[1], slots[2], [], failures, stop, pace, clock)
    upstream.downstream = downstream
    return upstream, downstream


def test_an_idle_worker_takes_at_once() -> None:
    clock = FakeClock()
    upstream, downstream = chain(clock)
    assert downstream.next_take() == clock.now
    assert upstream._start_after(clock.now, False) == clock.now  # both idle, nothing takes time yet


def test_upstream_starts_just_in_time_for_a_busy_downstream() -> None:
    clock = FakeClock()
    upstream, downstream = chain(clock)
    upstream.seconds_per_item, downstream.seconds_per_item = 0.02, 0.10
    downstream._busy_until = clock.now + 0.08  # busy with an item for 80 ms more
    # Free at +80 ms: start the next item 20 ms (its own time) before that.
    assert upstream._start_after(clock.now, False) == pytest.approx(clock.now + 0.06)
    # An item already waiting for the downstream worker comes first: one more 100 ms item.
    downstream.inbox.put("waiting")
    assert upstream._start_after(clock.now, False) == pytest.approx(clock.now + 0.16)
    # What this worker is finishing goes downstream first as well (handing), however many wait.
    assert downstream.next_take(handed=True) == pytest.approx(clock.now + 0.18)


def test_without_pacing_a_worker_never_waits() -> None:
    clock = FakeClock()
    upstream, downstream = chain(clock, pace=False)
    upstream.seconds_per_item, downstream.seconds_per_item = 0.02, 0.10
    downstream._busy_until = clock.now + 0.08
    assert upstream._start_after(clock.now, False) == clock.now


def test_time_per_item_is_smoothed() -> None:
    worker, _ = chain(FakeClock())
    worker._learn(0.1)
    assert worker.seconds_per_item == 0.1  # the first item sets it
    worker._learn(0.2)
    assert worker.seconds_per_item == pytest.approx(0.1 + Worker.SMOOTHING * 0.1)


def test_workers_run_items_through_their_steps_and_close_downstream() -> None:
    stop = threading.Event()
    failures = _Failures(lambda line: None, 10, stop)
    inbox, outbox = LatestSlot("in"), LatestSlot("out")
    worker = Worker("double", inbox, outbox, [lambda item: item * 2], failures, stop)
    worker.start()
    inbox.put(21)
    assert outbox.get(timeout=5) == 42
    inbox.close()
    worker.join(timeout=5)
    assert outbox.get(timeout=1) is None and outbox.closed


def meta(seq: int, captured: float, **stage_seconds: float) -> FrameMeta:
    frame = FrameMeta(seq, captured, StageClock())
    for stage, seconds in stage_seconds.items():
        frame.clock.seconds[stage] += seconds
        frame.clock.calls[stage] += 1
    frame.generated = True
    return frame


def test_live_stats_count_after_the_warmup() -> None:
    stats = LiveStats(warmup=1.0)
    # 30 fps for 3 s, each frame shown 50 ms after capture; the first second is warm-up.
    for k in range(90):
        stats.add(meta(k, k / 30, generate=0.03), k / 30 + 0.05)
    assert stats.rendered == 90 and stats.generated == 90
    assert len(stats.latencies) == 60  # frames shown from 1 s on
    assert stats.fps() == pytest.approx(30.0)
    assert all(latency == pytest.approx(0.05) for latency in stats.latencies)
    assert stats.seconds() == pytest.approx(89 / 30)
    assert stats.clock.calls["generate"] == 90 and stats.clock.seconds["generate"] == pytest.approx(2.7)


def test_live_stats_report_covers_the_frames_since_the_last() -> None:
    stats = LiveStats(warmup=0.0)
    for k in range(10):
        stats.add(meta(k, k * 0.1), k * 0.1 + 0.02)
    line = stats.report(now=1.0, captured=12)  # the first window runs from the first frame shown, at 0.02 s
    assert f"{10 / 0.98:.1f} fps" in line and "10 shown of 12 captured" in line and "p50 20 " in line
    for k in range(10, 15):
        stats.add(meta(k, k * 0.1), k * 0.1 + 0.04)
    line = stats.report(now=1.5, captured=20)
    assert "10.0 fps" in line and "5 shown of 8 captured" in line and "p50 40 " in line


def test_live_stats_without_enough_frames_say_zero_fps() -> None:
    stats = LiveStats(warmup=5.0)
    stats.add(meta(0, 0.0), 0.05)
    assert stats.fps() == 0.0 and stats.latencies == []
