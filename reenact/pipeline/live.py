"""`reenact live`: a camera drives the target in real time.

    capture -> track -> recombine, condition -> generate -> composite -> sink
    (thread)   (thread)  (thread)               (thread)    (thread)     (main thread)

Each arrow is a `LatestSlot`: a stage always takes the newest frame and a
frame still waiting when a newer one comes is dropped, so a slow stage lowers
the frame rate but not the latency. Frames travel as small typed packets: a
`FrameMeta` (sequence number, capture time, per-stage timings) beside the
pixels and parameters of that hop. The per-frame stages after recombination
are the same objects the offline runner uses (`reenact.pipeline.stages`). A
stage failing on one frame reports it and drops the frame; one failing on many
frames in a row stops the run.

The background (`reenact.pipeline.background`) is the model's training clip
played in real time, or a clip or image given; until the source is calibrated
(`reenact.tracking.live`), the output is the target's own frames.
The run stops at the end of a file camera (unless looped), on q or Esc in the
window, after `max_seconds`, or on Ctrl-C, and always leaves a finished file.
"""

from __future__ import annotations

import dataclasses
import itertools
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, Literal, TypeVar

import cv2
import numpy as np
import torch

from reenact.errors import InputError, ReenactError, SettingError
from reenact.model_folder import ModelFolder
from reenact.params import FaceModel, FaceParams
from reenact.pipeline.background import Background, BackgroundFrame, open_background
from reenact.pipeline.capture import Capture, open_capture
from reenact.pipeline.label import provenance, synthetic_metadata
from reenact.pipeline.sinks import Sink, open_sink
from reenact.pipeline.slots import LatestSlot
from reenact.pipeline.stages import Composite, Conditioner, FrameStages, Generate, StageClock
from reenact.recombine import MODES, Component, RecombineConfig, Recombiner
from reenact.render.blend import BlendConfig
from reenact.render.conditioning import ConditionedFrame
from reenact.render.edit_mask import POSE_GROW, EditMaskConfig
from reenact.render.preview import conditioning_panels
from reenact.runtime.backend import Backend
from reenact.tracking.live import LiveTrackingConfig, SourceTracker

Say = Callable[[str], object]
"""Where progress lines go (the CLI: stderr)."""

DELAYABLE_STAGES = ("track", "recombine", "condition", "generate", "composite")
"""Stages `LiveConfig.stage_delay` can slow down."""


LIVE_EDIT = EditMaskConfig(grow=POSE_GROW)
"""What live use re-renders of the background: the whole face, with the margin of a head turn (the mode key can
switch pose transfer on at any time)."""


@dataclass(frozen=True)
class LiveConfig:
    """Everything `reenact live` can be told, besides the model and the backend."""

    camera: int | Path = 0
    """A webcam index, or a video file played in real time at its own rate in place of a camera."""
    sink: Literal["window", "virtualcam"] | Path = "window"
    """Where frames go: a window (keys: c recalibrate, o overlay, m mode, q quit), a virtual camera
    (pyvirtualcam), or an MP4 file (labelled synthetic)."""
    background: Path | None = None
    """The target clip or image the face is rendered into; None: the model's training clip, looped."""
    recombine: RecombineConfig = field(default_factory=RecombineConfig)
    """What the source drives; `target_ref` indexes the background clip, `source_ref` must stay None
    (live takes the source's reference at calibration, and on the c key)."""
    blend: BlendConfig = field(default_factory=BlendConfig)
    """How generated crops are pasted into the background."""
    edit: EditMaskConfig = LIVE_EDIT
    """What a model that takes context re-renders of the background (the rest stays the background's own)."""
    tracking: LiveTrackingConfig = field(default_factory=LiveTrackingConfig)
    """How the camera's face is tracked and calibrated."""
    watermark: bool = False
    """Add the visible 'synthetic' mark to every frame (files are labelled in their metadata regardless)."""
    overlay: bool = False
    """Start with the conditioning images drawn in the top-left corner (the o key toggles it)."""
    loop_camera: bool = False
    """A file camera restarts at its end instead of ending the run."""
    max_seconds: float | None = None
    """Stop after this long (None: run until the camera ends, q, or Ctrl-C)."""
    report_every: float = 5.0
    """Seconds between fps and latency lines."""
    warmup_seconds: float = 1.0
    """Frames shown in the first seconds are left out of the fps and latency figures (first calls of the
    backends are slow); the frame counts include them."""
    stage_delay: dict[str, float] = field(default_factory=dict)
    """Extra seconds per frame in the named stages (DELAYABLE_STAGES): simulates a slower machine, to see
    frames dropped and latency held (tests and benchmarks)."""
    just_in_time: bool = True
    """Each stage takes its next frame only when the stage after it will be free by the time it is done
    (see `Worker`): behind a slow stage, no work is spent on frames that would be dropped. Off: every
    stage runs at the camera's rate and the slots drop what the slow stage cannot take."""
    max_consecutive_errors: int = 50
    """A stage failing on this many frames in a row stops the run (a persistent fault, not a bad frame)."""
    generate_depth: int = 1
    """Frames the generator works on at once, each on a thread of its own (`GenerateAhead`): 2 keeps both
    cores of a 2-core CPU generating, at the cost of holding each frame until the next one comes."""

    def __post_init__(self) -> None:
        if isinstance(self.camera, int) and self.camera < 0:
            raise SettingError(f"camera index must be 0 or more, got {self.camera}")
        if isinstance(self.sink, str) and self.sink not in ("window", "virtualcam"):
            raise SettingError(f"sink must be 'window', 'virtualcam' or a file path, got {self.sink!r}")
        if self.recombine.source_ref is not None:
            raise SettingError("live takes the source's reference frame at calibration (press c to retake it); "
                             "source_ref cannot be set")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise SettingError(f"max_seconds must be positive, got {self.max_seconds}")
        if self.report_every <= 0 or self.warmup_seconds < 0:
            raise SettingError(f"need report_every > 0 and warmup_seconds >= 0, got {self.report_every}, "
                             f"{self.warmup_seconds}")
        unknown = set(self.stage_delay) - set(DELAYABLE_STAGES)
        if unknown or any(d < 0 for d in self.stage_delay.values()):
            raise SettingError(f"stage_delay takes seconds >= 0 for {', '.join(DELAYABLE_STAGES)}; "
                             f"got {self.stage_delay}")
        if self.max_consecutive_errors < 1:
            raise SettingError(f"max_consecutive_errors must be >= 1, got {self.max_consecutive_errors}")
        if self.generate_depth < 1:
            raise SettingError(f"generate_depth must be >= 1, got {self.generate_depth}")


class LiveControls:
    """What the viewer can change while running (the window's keys); the stages read it every frame."""

    KEYS = "c recalibrate the neutral face, o conditioning overlay, m mode, q/Esc quit"

    def __init__(self, mode: str | frozenset[Component], overlay: bool, say: Say) -> None:
        self.mode, self.overlay, self.say = mode, overlay, say
        """The recombination mode (a name in MODES, or the configured set of components until m is pressed)."""
        self.recalibrate = threading.Event()
        """Set by the c key; the recombine stage takes the current source frame as the reference and clears it."""
        self.stop = threading.Event()
        """Set to end the run (q, Esc, Ctrl-C, max_seconds, a fatal error)."""

    def press(self, key: int) -> None:
        """Act on a key code from the window."""
        char = chr(key).lower() if 0 <= key < 128 else ""
        if char == "c":
            self.recalibrate.set()
        elif char == "o":
            self.overlay = not self.overlay
            self.say(f"conditioning overlay {'on' if self.overlay else 'off'}")
        elif char == "m":
            names = list(MODES)
            self.mode = names[(names.index(self.mode) + 1) % len(names)] if self.mode in names else names[0]
            self.say(f"mode: {self.mode}")
        elif char == "q" or key == 27:
            self.stop.set()


# --- what travels between the stages -------------------------------------------------------


@dataclass
class FrameMeta:
    """The small record that goes with a frame through every stage."""

    seq: int
    """Capture order."""
    captured: float
    """`time.perf_counter()` when the camera delivered the frame: latency is measured from here."""
    clock: StageClock = field(default_factory=StageClock)
    """Seconds this frame spent in each stage."""
    generated: bool = False
    """The generator drew this frame (False: the background passed through, no face in it)."""


@dataclass
class Captured:
    meta: FrameMeta
    rgb: np.ndarray
    """uint8 H x W x 3 camera frame."""


@dataclass
class Tracked:
    meta: FrameMeta
    source: FaceParams
    """1 frame: the source's face (invalid: none, or not calibrated yet)."""
    source_model: FaceModel | None
    """The source's face model once calibrated (the same object from then on)."""
    source_reference: FaceParams | None
    """The calibration's neutral frame."""


@dataclass
class Recombined:
    meta: FrameMeta
    background: BackgroundFrame
    output: FaceParams
    """1 frame: the face to render, in the target's model."""


@dataclass
class Conditioned:
    meta: FrameMeta
    background: np.ndarray
    conditioned: ConditionedFrame


@dataclass
class Generated:
    meta: FrameMeta
    background: np.ndarray
    conditioned: ConditionedFrame
    crop: np.ndarray | None
    """uint8 S x S x 3, or None when the frame has no face to draw."""


@dataclass
class Rendered:
    meta: FrameMeta
    frame: np.ndarray
    """uint8 H x W x 3: what the sink shows."""




# --- the stages ------------------------------------------------------------------------------


class _Delay:
    """`LiveConfig.stage_delay` for one stage."""

    def __init__(self, config: LiveConfig, stage: str) -> None:
        self.seconds = config.stage_delay.get(stage, 0.0)

    def __call__(self) -> None:
        if self.seconds:
            time.sleep(self.seconds)


class TrackSource:
    """Camera frame -> the source's face parameters (see `SourceTracker`)."""

    def __init__(self, tracker: SourceTracker, config: LiveConfig, say: Say) -> None:
        self.tracker, self.say, self.delay = tracker, say, _Delay(config, "track")

    def __call__(self, item: Captured) -> Tracked:
        with item.meta.clock.time("track"):
            was_calibrated = self.tracker.calibrated
            source = self.tracker(item.rgb, item.meta.captured)
            self.delay()
        if self.tracker.calibrated and not was_calibrated:
            self.say("source calibrated: its neutral face is taken as the reference (c retakes it)")
        calibrated = self.tracker.calibrated
        return Tracked(item.meta, source, self.tracker.model if calibrated else None, self.tracker.reference)


class LiveRecombine:
    """Source parameters + the background frame due at capture time -> the output parameters.

    The target's own frame until the source is calibrated; then a `Recombiner`,
    rebuilt when the mode changes, re-referenced on the c key.
    """

    def __init__(self, background: Background, target_model: FaceModel, config: LiveConfig, fps: float,
                 controls: LiveControls) -> None:
        self.background, self.target_model, self.fps, self.controls = background, target_model, fps, controls
        self.config = config.recombine
        self.delay = _Delay(config, "recombine")
        self._recombiner: Recombiner | None = None
        self._source_model: FaceModel | None = None
        self._source_reference: FaceParams | None = None
        self._mode = controls.mode

    def __call__(self, item: Tracked) -> Recombined:
        with item.meta.clock.time("background"):
            frame = self.background.at(item.meta.captured)
        with item.meta.clock.time("recombine"):
            self._update(item)
            output = self._recombiner(item.source, frame.params) if self._recombiner else frame.params
            self.delay()
        return Recombined(item.meta, frame, output)

    def _update(self, item: Tracked) -> None:
        """Follow calibration, the mode key and the recalibrate key."""
        if item.source_model is not None and item.source_model is not self._source_model:
            self._source_model, self._source_reference = item.source_model, item.source_reference
            self._recombiner = None
        mode = self.controls.mode
        if self._recombiner is not None and mode != self._mode:
            self._recombiner = None
        if self._recombiner is None and self._source_model is not None:
            self._mode = mode
            config = dataclasses.replace(self.config, mode=mode)
            self._recombiner = Recombiner(self._source_model, self.target_model, self._source_reference,
                                          self.background.reference, config, self.fps)
        if self.controls.recalibrate.is_set():
            self.controls.recalibrate.clear()
            if self._recombiner is None or not item.source.valid[0]:
                self.controls.say("recalibrate: no calibrated face in view yet")
                return
            self._source_reference = item.source.copy()
            self._recombiner.set_source_reference(self._source_reference)
            self.controls.say("recalibrated: the current face is the neutral reference")


class Condition:
    """Output parameters -> crop and conditioning stack (the offline runner's `Conditioner`)."""

    def __init__(self, conditioner: Conditioner, config: LiveConfig) -> None:
        self.conditioner, self.delay = conditioner, _Delay(config, "condition")

    def __call__(self, item: Recombined) -> Conditioned:
        with item.meta.clock.time("condition"):
            conditioned = self.conditioner(item.output, item.background.new_shot, item.background.params)
            self.delay()
        return Conditioned(item.meta, item.background.rgb, conditioned)


class GenerateOne:
    """Conditioning stack -> generated crop, one frame per call (the offline runner's `Generate`)."""

    def __init__(self, generate: Generate, config: LiveConfig) -> None:
        self.generate, self.delay = generate, _Delay(config, "generate")

    def __call__(self, item: Conditioned) -> Generated:
        crop = None
        if item.conditioned.valid:
            with item.meta.clock.time("generate"):
                crop = self.generate([item.conditioned], [item.background])[0]
                self.delay()
            item.meta.generated = True
        return Generated(item.meta, item.background, item.conditioned, crop)


class GenerateAhead:
    """`depth` frames generated at once: each call starts its frame on a pool thread and, once `depth` are in
    flight, returns the oldest (None until then: the worker hands nothing on), so frames leave in capture order.

    Why: the other way to give the generator a second core. One call on two intra-op threads makes the
    threads meet at every layer, and on a CPU shared with the other stages (or other work) each waits for the
    other's core; two calls side by side, one thread each, never wait for each other. The price is latency:
    a frame waits for the next one to arrive before it is handed on. Which wins here is measured by
    `python tools/bench.py --only live`.
    """

    def __init__(self, one: GenerateOne, depth: int) -> None:
        self.one, self.depth = one, depth
        self._pool = ThreadPoolExecutor(depth, thread_name_prefix="live-generate")
        self._flight: deque[Future[Generated]] = deque()

    def __call__(self, item: Conditioned) -> Generated | None:
        self._flight.append(self._pool.submit(self.one, item))
        return self._flight.popleft().result() if len(self._flight) >= self.depth else None

    def close(self) -> None:
        """Drop the frames still in flight and end the pool's threads."""
        self._pool.shutdown(wait=True, cancel_futures=True)


class CompositeLive:
    """Crop -> the output frame (the offline runner's `Composite`), with the conditioning overlay on request."""

    def __init__(self, composite: Composite, config: LiveConfig, controls: LiveControls) -> None:
        self.composite, self.controls, self.delay = composite, controls, _Delay(config, "composite")

    def __call__(self, item: Generated) -> Rendered:
        with item.meta.clock.time("composite"):
            frame = self.composite(item.background, item.conditioned, item.crop)
            if self.controls.overlay:
                frame = draw_overlay(frame, item.conditioned)
            self.delay()
        return Rendered(item.meta, frame)


def draw_overlay(frame: np.ndarray, conditioned: ConditionedFrame) -> np.ndarray:
    """A copy of `frame` with the generator's current inputs (correspondence, shading, eyes) in its top-left corner."""
    if not conditioned.valid:
        return frame
    side = max(32, frame.shape[0] // 5)
    strip = np.concatenate([cv2.resize(p, (side, side), interpolation=cv2.INTER_AREA)
                            for p in conditioning_panels(conditioned)], axis=1)
    h, w = min(side, frame.shape[0]), min(strip.shape[1], frame.shape[1])
    out = frame.copy()
    out[:h, :w] = strip[:h, :w]
    return out


# --- threads -----------------------------------------------------------------------------------

In = TypeVar("In")
Out = TypeVar("Out")


class _Failures:
    """Per-frame errors: each kind reported once (then every 100th), counted; a run of them is fatal."""

    def __init__(self, say: Say, limit: int, stop: threading.Event) -> None:
        self.say, self.limit, self.stop = say, limit, stop
        self.count = 0
        self.fatal: BaseException | None = None
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def frame_failed(self, stage: str, seq: int, error: Exception, in_a_row: int) -> None:
        key = f"{stage}: {type(error).__name__}: {error}"
        with self._lock:
            self.count += 1
            seen = self._seen[key] = self._seen.get(key, 0) + 1
        if seen == 1 or seen % 100 == 0:
            self.say(f"frame {seq} dropped, {key}" + (f" ({seen} times)" if seen > 1 else ""))
        if in_a_row >= self.limit:
            self.failed(ReenactError(f"live {stage} failed on {in_a_row} frames in a row; last error: {key}"))

    def failed(self, error: BaseException) -> None:
        """A fault the run cannot go on with: stop, and re-raise it from `run_live`."""
        with self._lock:
            self.fatal = self.fatal or error
        self.stop.set()


class Worker(threading.Thread, Generic[In, Out]):
    """Runs `steps` in order on the newest item of `inbox` and offers the result to `outbox`.

    Just in time (`pace`): a worker takes its next item only when the worker
    after it (`downstream`) will be free by the time this one is done, judged
    from both workers' smoothed times per item. Behind a slow stage the stages
    before it then work once per slow frame instead of once per camera frame,
    leaving the CPU to the slow stage, and what they hand it is as fresh as
    when they run flat out. The newest-wins slots still bound the latency when
    the estimates are off. Closes `outbox` when `inbox` is closed and drained,
    so the end of the camera flows down the pipeline.
    """

    SMOOTHING = 0.2
    """Weight of the latest item in the smoothed time per item."""

    def __init__(self, name: str, inbox: LatestSlot[In], outbox: LatestSlot[Out], steps: Sequence[Callable],
                 failures: _Failures, stop: threading.Event, pace: bool = True,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        """`clock`: seconds, monotonic (tests pass a fake one to check the pacing)."""
        super().__init__(name=f"live-{name}", daemon=True)
        self.stage, self.inbox, self.outbox, self.steps, self.failures = name, inbox, outbox, steps, failures
        self.stop, self.pace, self.clock = stop, pace, clock
        self.downstream: Worker | None = None
        """The worker taking from `outbox` (None: the sink, which is always ready)."""
        self.seconds_per_item = 0.0
        self._busy_until = 0.0

    def next_take(self, handed: bool = False) -> float:
        """When this worker will take a new item (on `clock`; in the past: it is waiting for one),
        if `handed`, after an item now being made upstream is handed to it first."""
        busy = bool(self._busy_until)
        free = self._busy_until or self.clock()
        if handed or self.inbox.pending:  # that item comes first (newest wins: one, however many come)
            free = self._start_after(free, busy) + self.seconds_per_item
            busy = True
        return self._start_after(free, busy)

    def _start_after(self, free: float, handing: bool) -> float:
        """When to start the next item, free at `free`: just in time for the downstream worker, which first
        gets the item this one is finishing (`handing`)."""
        if not self.pace or self.downstream is None:
            return free
        return max(free, self.downstream.next_take(handing) - self.seconds_per_item)

    def _learn(self, seconds: float) -> None:
        """Fold one item's time into the smoothed time per item."""
        previous = self.seconds_per_item
        self.seconds_per_item = seconds if not previous else previous + self.SMOOTHING * (seconds - previous)

    def run(self) -> None:
        in_a_row = 0
        try:
            while True:
                while (wait := self._start_after(self.clock(), False) - self.clock()) > 0 \
                        and not self.stop.is_set():
                    self.stop.wait(min(wait, 0.01))  # the estimate moves: look again soon
                if (item := self.inbox.get()) is None:
                    break
                start = self.clock()
                self._busy_until = start + self.seconds_per_item
                try:
                    for step in self.steps:
                        if (item := step(item)) is None:  # held back (`GenerateAhead`): nothing to hand on yet
                            break
                except Exception as e:  # noqa: BLE001 - one bad frame is reported and dropped, not fatal
                    in_a_row += 1
                    self.failures.frame_failed(self.stage, item.meta.seq, e, in_a_row)
                else:
                    in_a_row = 0
                    self._learn(self.clock() - start)
                    if item is not None:
                        self.outbox.put(item)
                self._busy_until = 0.0
        except BaseException as e:  # noqa: BLE001 - carried to the main thread, which re-raises it
            self.failures.failed(e)
        finally:
            self.outbox.close()


class CaptureThread(threading.Thread):
    """Reads the camera into a slot, stamping each frame, until the camera ends or the run stops."""

    def __init__(self, camera: Capture, outbox: LatestSlot[Captured], stop: threading.Event,
                 failures: _Failures) -> None:
        super().__init__(name="live-capture", daemon=True)
        self.camera, self.outbox, self.stop, self.failures = camera, outbox, stop, failures
        self.captured = 0

    def run(self) -> None:
        try:
            while not self.stop.is_set() and (got := self.camera.read()) is not None:
                rgb, captured = got
                self.outbox.put(Captured(FrameMeta(self.captured, captured), rgb))
                self.captured += 1
        except ReenactError as e:  # a camera failing mid-run ends the run, with its error
            self.failures.failed(e)
        except Exception as e:  # noqa: BLE001 - whatever a capture raises, it is the camera that failed
            self.failures.failed(InputError(f"the camera failed after {self.captured} frames ({type(e).__name__}: {e})"))
        except BaseException as e:  # noqa: BLE001 - carried to the main thread, which re-raises it
            self.failures.failed(e)
        finally:
            self.outbox.close()


# --- statistics ----------------------------------------------------------------------------------


def percentiles_ms(seconds: Sequence[float]) -> tuple[float, float, float]:
    """p50, p95 and p99 in milliseconds (NaN for no values)."""
    if not len(seconds):
        return (float("nan"),) * 3
    p50, p95, p99 = np.percentile(np.asarray(seconds) * 1e3, [50, 95, 99])
    return float(p50), float(p95), float(p99)


@dataclass
class LiveSummary:
    """What a live run did."""

    captured: int = 0
    """Frames the camera delivered."""
    rendered: int = 0
    """Frames that reached the sink."""
    generated: int = 0
    """Of those, frames the generator drew (the others had no face in the background and passed through)."""
    failed: int = 0
    """Frames a stage failed on (reported as they happened)."""
    seconds: float = 0.0
    """Length of the run, from the first frame shown."""
    fps: float = 0.0
    """Frames shown per second after the warm-up."""
    latency_ms: tuple[float, float, float] = (float("nan"),) * 3
    """Capture-to-sink latency p50, p95, p99 after the warm-up."""
    dropped_at: dict[str, int] = field(default_factory=dict)
    """Frames dropped waiting for each stage (newer ones replaced them)."""
    clock: StageClock = field(default_factory=StageClock)
    """Per-stage time of the frames shown."""
    output: str = ""
    """Where the frames went."""
    interrupted: bool = False
    """Stopped by Ctrl-C."""

    @property
    def dropped(self) -> int:
        """Captured frames never shown nor failed (replaced by newer ones, or in flight at the stop)."""
        return self.captured - self.rendered - self.failed

    def line(self) -> str:
        p50, p95, p99 = self.latency_ms
        where = ", ".join(f"{n} before {stage}" for stage, n in self.dropped_at.items() if n)
        return (f"{self.rendered} of {self.captured} frames shown ({self.generated} generated) in {self.seconds:.1f} s "
                f"({self.fps:.1f} fps), "
                f"{self.dropped} dropped" + (f" ({where})" if where else "")
                + (f", {self.failed} failed" if self.failed else "")
                + f"; latency p50 {p50:.0f} / p95 {p95:.0f} / p99 {p99:.0f} ms; {self.clock.summary()}")


class LiveStats:
    """Latency and rate of the frames shown: the running report every few seconds, and the summary."""

    def __init__(self, warmup: float) -> None:
        self.warmup = warmup
        self.start: float | None = None
        self.latencies: list[float] = []
        self.rendered = self.generated = 0
        self.clock = StageClock()
        self._window: list[float] = []
        self._window_clock = StageClock()
        self._window_start: float | None = None
        self._window_captured = 0
        self._window_rendered = 0
        self._counted_since: float | None = None
        self._last: float | None = None

    def add(self, meta: FrameMeta, shown: float) -> None:
        if self.start is None:
            self.start = self._window_start = shown
        self.rendered += 1
        self.generated += meta.generated
        self._last = shown
        latency = shown - meta.captured
        self._window.append(latency)
        for clock in (self.clock, self._window_clock):
            for stage, seconds in meta.clock.seconds.items():
                clock.seconds[stage] += seconds
                clock.calls[stage] += 1
        if shown - self.start >= self.warmup:
            self._counted_since = self._counted_since or shown
            self.latencies.append(latency)

    def report(self, now: float, captured: int) -> str:
        """One line about the frames since the last report; starts the next window."""
        span = max(now - (self._window_start or now), 1e-9)
        shown = self.rendered - self._window_rendered
        p50, p95, p99 = percentiles_ms(self._window)
        line = (f"live: {shown / span:.1f} fps, latency p50 {p50:.0f} / p95 {p95:.0f} / p99 {p99:.0f} ms, "
                f"{shown} shown of {captured - self._window_captured} captured; "
                f"{self._window_clock.summary()}")
        self._window, self._window_clock, self._window_start = [], StageClock(), now
        self._window_captured, self._window_rendered = captured, self.rendered
        return line

    def seconds(self) -> float:
        """From the first frame shown to the last."""
        return (self._last - self.start) if self.start is not None and self._last is not None else 0.0

    def fps(self) -> float:
        """Frames shown per second after the warm-up."""
        if self._counted_since is None or self._last is None or len(self.latencies) < 2:
            return 0.0
        return (len(self.latencies) - 1) / max(self._last - self._counted_since, 1e-9)


# --- the runner ----------------------------------------------------------------------------------


def run_live(folder: ModelFolder, config: LiveConfig, backend: Backend | Callable[[], Backend],
             say: Say = print) -> LiveSummary:
    """Run the live pipeline until the camera ends, q/Esc, `max_seconds` or Ctrl-C (see the module docstring).

    `backend`: an open backend, or a function opening one, called once the
    camera, background and sink have been checked (so their errors come before
    a long engine build); a backend opened here is closed here. Ctrl-C is a
    normal way to stop: the summary comes back with `interrupted` set and the
    file finished. A fatal fault in a stage is re-raised after everything is
    closed.

    Torch and BLAS get one thread each while it runs (restored after): the stages run in threads of their own, and those
    pools would fight them for the cores (numpy's BLAS threads made conditioning's small matrix products
    6 ms each beside the generator; with them left at two, the INT8 cpu model at 256 showed 26-29 fps with
    p95 96-112 ms, against 30 fps and 56-58 ms limited, in alternating runs: README, *Live at 256*).
    """
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a torch backend opened below sets its own
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            return _run_live(folder, config, backend, say)
    finally:
        torch.set_num_threads(threads)


def _run_live(folder: ModelFolder, config: LiveConfig, backend: Backend | Callable[[], Backend],
              say: Say) -> LiveSummary:
    """`run_live`'s body, under its thread limits."""
    controls = LiveControls(config.recombine.mode, config.overlay, say)
    camera = open_capture(config.camera, config.loop_camera, controls.stop)
    tracker = sink = opened = None
    try:
        track = folder.load_track()
        background = open_background(track, folder.info().data_hash, config.background, config.recombine.target_ref, say)
        metadata = synthetic_metadata(folder.model_hash(), folder.path.name, extra={
            "command": "live", **provenance("camera", config.camera),
            **provenance("background", config.background or Path(track.source)),
            "mode": controls.mode})
        sink = open_sink(config.sink, background.width, background.height, camera.fps, metadata, controls.press)
        if not isinstance(backend, Backend):
            backend = opened = backend()
        tracker = SourceTracker(track.model, config.tracking)
        if camera.is_still:  # a photo as the camera: its expression held, not calibrated away
            tracker.hold_still()
            config = dataclasses.replace(config, recombine=dataclasses.replace(config.recombine, relative=False))
            say(f"camera {config.camera} is a still image: its expression is held (fitted in the target's model)")
        stages = FrameStages.for_model(folder, backend, track.model, camera.fps, (background.width, background.height),
                                       config.edit, config.blend, config.watermark)
        steps = {
            "track": [TrackSource(tracker, config, say)],
            "render": [LiveRecombine(background, track.model, config, camera.fps, controls),
                       Condition(stages.condition, config)],
            "generate": [GenerateOne(stages.generate, config) if config.generate_depth == 1 else
                         GenerateAhead(GenerateOne(stages.generate, config), config.generate_depth)],
            "composite": [CompositeLive(stages.composite, config, controls)],
        }
        say(f"live: camera {config.camera} ({camera.width}x{camera.height} at {camera.fps:g} fps) -> "
            f"{sink.description} ({background.width}x{background.height}); mode {controls.mode}; "
            f"look at the camera with a neutral face for {config.tracking.calibration_seconds:g} s to calibrate"
            + (f"; keys: {LiveControls.KEYS}" if config.sink == "window" else ""))
        try:
            return _run(camera, sink, steps, config, controls, say)
        except ReenactError as e:
            recorded = getattr(sink, "frames_written", 0)
            if not recorded:
                raise
            raise type(e)(f"{e}; the run stopped, and the {recorded} frames recorded until then are in "
                          f"{sink.description} (playable, labelled)") from None
    finally:
        for resource in (sink, tracker, opened, camera):
            if resource is not None:
                resource.close()


def _run(camera: Capture, sink: Sink, steps: dict[str, list[Callable]], config: LiveConfig,
         controls: LiveControls, say: Say) -> LiveSummary:
    """Start the threads, serve the sink on this thread, stop and join, and sum up."""
    failures = _Failures(say, config.max_consecutive_errors, controls.stop)
    slots = [LatestSlot(name) for name in [*steps, "sink"]]  # each named after the stage that takes from it
    capture = CaptureThread(camera, slots[0], controls.stop, failures)
    stages = [Worker(name, slots[i], slots[i + 1], stage_steps, failures, controls.stop, config.just_in_time)
              for i, (name, stage_steps) in enumerate(steps.items())]
    for upstream, downstream in itertools.pairwise(stages):
        upstream.downstream = downstream
    workers: list[threading.Thread] = [capture, *stages]
    rendered = slots[-1]
    stats = LiveStats(config.warmup_seconds)
    summary = LiveSummary(output=sink.description)
    start = time.perf_counter()
    next_report = start + config.report_every
    for worker in workers:
        worker.start()
    try:
        while not controls.stop.is_set():
            now = time.perf_counter()
            if config.max_seconds is not None and now - start >= config.max_seconds:
                break
            if now >= next_report:
                say(stats.report(now, capture.captured))
                next_report = now + config.report_every
            item = rendered.get(timeout=0.02)
            if item is None:
                if rendered.closed:
                    break
                sink.poll()
                continue
            with item.meta.clock.time("sink"):
                sink.write(item.frame, item.meta.captured)
            stats.add(item.meta, time.perf_counter())
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        controls.stop.set()
        for worker in workers:
            worker.join(timeout=5.0)
        for step in itertools.chain(*steps.values()):
            getattr(step, "close", lambda: None)()  # a step holding threads of its own (`GenerateAhead`)
    if failures.fatal is not None:
        raise failures.fatal
    summary.captured, summary.rendered, summary.failed = capture.captured, stats.rendered, failures.count
    summary.generated = stats.generated
    summary.seconds = stats.seconds()
    summary.fps, summary.latency_ms, summary.clock = stats.fps(), percentiles_ms(stats.latencies), stats.clock
    summary.dropped_at = {slot.name: slot.dropped for slot in slots}
    return summary


def benchmark_live(folder: ModelFolder, camera_clip: Path, seconds: float = 10.0, backend: Backend | None = None,
                   stage_delay: dict[str, float] | None = None, just_in_time: bool = True) -> dict[str, object]:
    """End-to-end live figures: `camera_clip` as a file camera (looped, in real time) driving the model's
    training clip into a temporary MP4, for `seconds`.

    The backend defaults to the fastest here (`--backend auto`). Returns fps
    and capture-to-file latency percentiles after the warm-up, frame counts and
    per-stage milliseconds of the frames shown.
    """
    from reenact.runtime.selection import open_backend

    used: list[str] = []

    def opened() -> Backend:
        chosen = open_backend(folder).backend
        used.append(chosen.describe())
        return chosen

    with tempfile.TemporaryDirectory() as tmp:
        config = LiveConfig(camera=Path(camera_clip), sink=Path(tmp) / "live.mp4", loop_camera=True,
                            max_seconds=seconds, report_every=seconds + 1, stage_delay=stage_delay or {},
                            just_in_time=just_in_time)
        summary = run_live(folder, config, backend or opened, say=lambda line: None)
    p50, p95, p99 = summary.latency_ms
    clock = summary.clock
    return {
        "backend": backend.describe() if backend else used[0], "camera": str(camera_clip), "seconds": round(summary.seconds, 2),
        "fps": round(summary.fps, 2), "latency_p50_ms": round(p50, 1), "latency_p95_ms": round(p95, 1),
        "latency_p99_ms": round(p99, 1), "captured": summary.captured, "rendered": summary.rendered,
        "generated": summary.generated, "dropped": summary.dropped, "failed": summary.failed,
        "stage_ms": {stage: round(1e3 * clock.seconds[stage] / max(1, clock.calls[stage]), 2) for stage in clock.seconds},
    }
