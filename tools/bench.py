"""Benchmarks: print a table of per-stage timings on this machine and optionally save JSON.

    python tools/bench.py                       # every section
    python tools/bench.py --only tracking --json bench.json
    python tools/bench.py --only pipeline --model models/franck_cpu
    python tools/bench.py --only training       # cost of each ablation row of the README
    python tools/bench.py --only batch --model models/edtalk   # jobs per minute, 1 and 2 local workers
    python tools/bench.py --only live --model models/NAME   # FP32 vs INT8 at each live thread layout
    python tools/bench.py --only ui             # the browser editor's one-frame preview at 256 (or --model M)

Timings are medians over repeated runs after a warm-up, measured in one run of
this script so ratios between rows are comparable. Clips come from
$REENACT_DATA (default ../shared/data).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from reenact.runtime.timing import median_ms
from reenact.sample_data import data_dir

DATA = data_dir()

Row = dict[str, object]


def bench_tracking() -> list[Row]:
    """Landmark detection and fitting per frame, and `reenact track` end to end, at 640x480."""
    import cv2

    from reenact.tracking.cuts import CutDetector
    from reenact.tracking.filters import OneEuroFilter
    from reenact.tracking.fitting import fit_frames
    from reenact.tracking.landmarks import LandmarkDetector
    from reenact.tracking.tracker import TrackerConfig, track_video
    from reenact.video_io import VideoWriter, read_frames

    frames, fps = read_frames(DATA / "drive_d9.mp4")  # 512x480 talking head
    frames = [cv2.resize(f, (640, 480), interpolation=cv2.INTER_LINEAR) for f in frames[:300]]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip_640x480.mp4"
        with VideoWriter(clip, fps, 640, 480) as writer:
            for f in frames:
                writer.write(f)
        start = time.perf_counter()
        track = track_video(clip, TrackerConfig())
        elapsed = time.perf_counter() - start
    rows.append({"stage": "reenact track (decode+detect+fit, 640x480)", "ms_per_frame": 1000 * elapsed / len(frames),
                 "fps": len(frames) / elapsed})

    with LandmarkDetector() as detector:
        for f in frames[:10]:
            detector.detect(f)
        times = []
        for f in frames:
            start = time.perf_counter()
            detector.detect(f)
            times.append((time.perf_counter() - start) * 1000)
    rows.append({"stage": "landmarks (Face Mesh + irises, video mode, 640x480)", "ms_per_frame": statistics.median(times)})

    landmarks = track.landmarks[track.params.valid]
    one = landmarks[:1]
    rows.append({"stage": "fit one frame (pose, expression, gaze)",
                 "ms_per_frame": median_ms(lambda: fit_frames(one, track.model), runs=500)})
    batch_ms = median_ms(lambda: fit_frames(landmarks, track.model), runs=10)
    rows.append({"stage": f"fit a clip, batched ({len(landmarks)} frames)", "ms_per_frame": batch_ms / len(landmarks)})
    filt = OneEuroFilter(TrackerConfig().landmark_filter)
    rows.append({"stage": "One Euro filter of 478 landmarks",
                 "ms_per_frame": median_ms(lambda: filt(one[0], 1 / 30), runs=500)})

    def detect_cuts() -> None:  # every test of the cut detector over the clip, given its raw landmarks
        detector = CutDetector()
        for f, face in zip(frames, raw):
            detector.picture_cut(f)
            detector.add_face(face)
        detector.cuts()

    raw = [lm if ok else None for lm, ok in zip(track.landmarks, track.params.valid)]
    rows.append({"stage": "shot-cut detector (histogram, repeated frames, face appearance; 640x480)",
                 "ms_per_frame": median_ms(detect_cuts, runs=5, warmup=1) / len(frames)})
    return rows


def bench_conditioning() -> list[Row]:
    """Crop follow + rasterise + conditioning images + space-time stack, one frame, at 256 and 512; alone, with
    the edit mask a context model needs, and with live's mask over two faces."""
    import torch

    from reenact.render.conditioning import benchmark_conditioning
    from reenact.render.edit_mask import EditMaskConfig
    from reenact.tracking.tracker import track_video

    track = track_video(DATA / "drive_d0.mp4")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    variants = {"": {}, " + edit mask": {"edit": EditMaskConfig()},
                " + edit mask over another frame's face too (live)": {"edit": EditMaskConfig(), "other_target": True}}
    return [
        {"stage": f"conditioning stack (W=5) {size}x{size}{label}", "device": device,
         "ms_per_frame": benchmark_conditioning(size, device, track=track, **options)}
        for device in devices
        for size in (256, 512)
        for label, options in variants.items()
    ]


BACKEND_PRESETS = ("cpu", "gpu")
BACKEND_SIZES = (256, 512)
BACKEND_BATCHES = (1, 8)
CELL_BUDGET_S = 6.0
"""Wall time each backends cell aims at: runs = budget / one call, at least 1 and at most 30."""
LONGEST_CALL_S = 15.0
"""A cell whose single call is expected to take longer is skipped (the gpu preset on a CPU)."""


def _backend_variants(candidate) -> list[tuple[str, object]]:
    """(label, BackendConfig) pairs to time for one candidate: on CUDA, torch's options side by side."""
    from reenact.runtime.config import BackendConfig

    threads = os.cpu_count() or 1
    base = BackendConfig(backend=candidate.backend, device=candidate.device, threads=threads)
    if candidate.device == "cpu":
        return [(f"{candidate.backend} cpu FP32, {threads} threads", base)]
    if candidate.backend == "torch":
        return [
            ("torch cuda FP16 channels-last CUDA graphs", base),
            ("torch cuda FP16 channels-last eager", replace(base, cuda_graphs=False)),
            ("torch cuda FP32 eager", replace(base, fp16=False, cuda_graphs=False)),
        ]
    return [(f"{candidate.backend} cuda {'FP16' if candidate.backend == 'tensorrt' else 'FP32'}", base)]


def bench_backends() -> list[Row]:
    """Generator ms per frame and fps: every backend present x preset (cpu, gpu) x size (256, 512) x batch (1, 8).

    Random weights (speed does not depend on them). CPU backends get numpy stacks, CUDA backends
    CUDA tensors (synchronised per call). Cells too slow for this machine are listed as skipped.
    """
    from reenact.errors import BackendUnavailableError
    from reenact.nn.generator import generator_gflops
    from reenact.nn.presets import get_preset
    from reenact.runtime.benchmark import benchmark_backend, random_model_folder
    from reenact.runtime.selection import AUTO_ORDER, open_backend

    rows: list[Row] = []
    absent: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for preset in BACKEND_PRESETS:
            for size in BACKEND_SIZES:
                folder = random_model_folder(Path(tmp) / f"{preset}_{size}", preset, size)
                gflops = generator_gflops(get_preset(preset).generator, size)
                for candidate in AUTO_ORDER:
                    for label, config in _backend_variants(candidate):
                        config = replace(config, engines_dir=Path(tmp) / "engines")
                        try:
                            backend = open_backend(folder, config).backend
                        except BackendUnavailableError as e:
                            absent[str(candidate)] = str(e)
                            break
                        rows += _time_cells(backend, label, preset, size, gflops, benchmark_backend)
                        backend.close()
                shutil.rmtree(folder.path)
    for candidate, reason in absent.items():
        rows.append({"backend": candidate, "note": f"absent: {reason}"})
    return rows


def _time_cells(backend, label: str, preset: str, size: int, gflops: float, benchmark) -> list[Row]:
    """One row per batch size, with the number of runs fitted to CELL_BUDGET_S (slow cells skipped)."""
    rows: list[Row] = []
    ms_at_batch_1 = None
    for batch in BACKEND_BATCHES:
        row: Row = {"backend": label, "preset": preset, "size": size, "GFLOPs": gflops, "batch": batch}
        if ms_at_batch_1 is not None and ms_at_batch_1 * batch / 1e3 > LONGEST_CALL_S:
            row["note"] = f"skipped: one call would take ~{ms_at_batch_1 * batch / 1e3:.0f} s here"
            rows.append(row)
            continue
        first = benchmark(backend, batch, runs=1, warmup=1)  # the warm-up call is not timed
        call_s = first.ms_per_frame * batch / 1e3
        runs = max(1, min(30, int(CELL_BUDGET_S / max(call_s, 1e-3))))
        timing = first if runs == 1 else benchmark(backend, batch, runs=runs, warmup=0)
        if batch == 1:
            ms_at_batch_1 = timing.ms_per_frame
        rows.append(row | {"ms_per_frame": timing.ms_per_frame, "fps": timing.fps,
                           "best_ms_per_frame": timing.best_ms_per_frame, "runs": timing.runs})
    return rows


def bench_pipeline(model: Path | None) -> list[Row]:
    """Blending, and with --model: `reenact run`'s offline fps and `reenact live`'s fps and latency.

    Offline: the model's own training clip (first 200 frames) re-rendered from its own parameters.
    Live: drive_d3.mp4 as a real-time file camera (30 fps, looped) for 20 s, the generator on one
    thread as `reenact live` runs it, into a file.
    """
    import numpy as np

    from reenact.pipeline.label import watermark
    from reenact.render.blend import benchmark_ms

    frame = np.full((480, 640, 3), 128, np.uint8)
    rows: list[Row] = [{"stage": "blend a 256 crop into 640x480 (feather + colour match)", "ms_per_frame": benchmark_ms()},
                       {"stage": "watermark a 640x480 frame", "ms_per_frame": median_ms(lambda: watermark(frame))}]
    if model is None:
        rows.append({"stage": "offline run / live", "note": "skipped: give --model models/NAME"})
        return rows
    import torch

    from reenact.model_folder import open_model
    from reenact.pipeline.live import benchmark_live
    from reenact.pipeline.offline import rerender_clip
    from reenact.pipeline.stages import FrameStages
    from reenact.runtime.config import BackendConfig
    from reenact.runtime.selection import open_backend

    folder = open_model(model)
    info, track = folder.info(), folder.load_track()
    frames = min(200, track.n_frames)
    backend = open_backend(folder).backend
    stages = FrameStages.for_model(folder, backend, track.model, track.fps, (track.width, track.height))
    with tempfile.TemporaryDirectory() as tmp:
        summary = rerender_clip(Path(info.source), track.params[:frames], track.cuts, Path(tmp) / "run.mp4", stages,
                                target_params=track.params)
    rows.append({"stage": f"offline run, {info.preset} preset at {info.size} ({backend.describe()})",
                 "fps": summary.frames / summary.seconds, "note": summary.clock.summary()})
    torch.set_num_threads(1)
    live = benchmark_live(folder, DATA / "drive_d3.mp4", seconds=20,
                          backend=open_backend(folder, BackendConfig(threads=1)).backend)
    rows.append({"stage": f"live, {info.preset} preset at {info.size} ({live['backend']})", "fps": live["fps"],
                 "latency_p50_ms": live["latency_p50_ms"], "latency_p95_ms": live["latency_p95_ms"],
                 "latency_p99_ms": live["latency_p99_ms"],
                 "note": f"{live['rendered']} shown of {live['captured']} captured; stage ms {live['stage_ms']}"})
    return rows


LIVE_CAMERA = "drive_d3.mp4"
"""The live rows' file camera: 512x512 at 30 fps, looped, played in real time."""
LIVE_SECONDS = 10.0
LIVE_REPEATS = 3
"""Each live cell runs LIVE_REPEATS times for LIVE_SECONDS, the cells taken in turn (round-robin), and reports
the median of its runs: on a shared machine, load that comes and goes then falls on every cell alike."""
LIVE_LAYOUTS: dict[str, dict[str, int | None]] = {
    "generator 1 thread (reenact live's default)": {"threads": 1, "depth": 1, "detect_width": None},
    "generator 2 threads": {"threads": 2, "depth": 1, "detect_width": None},
    "depth 2 (two 1-thread generator calls at once)": {"threads": 1, "depth": 2, "detect_width": None},
    "tracking on a 256 px frame": {"threads": 1, "depth": 1, "detect_width": 256},
    "depth 2 + tracking on a 256 px frame": {"threads": 1, "depth": 2, "detect_width": 256},
}
"""The thread layouts of issue 19 (`BackendConfig.threads`, `LiveConfig.generate_depth`,
`LiveTrackingConfig.detect_width`). MediaPipe's video mode already skips full face detection while the
face is tracked, so that alternative has no row of its own."""


def _live_row(folder, backend, layout: dict[str, int | None], seconds: float) -> Row:
    """One live run: `LIVE_CAMERA` driving the model into a temporary MP4, latency from capture to written."""
    from reenact.pipeline.live import LiveConfig, run_live
    from reenact.tracking.live import LiveTrackingConfig

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        config = LiveConfig(camera=DATA / LIVE_CAMERA, sink=Path(tmp) / "live.mp4", loop_camera=True,
                            max_seconds=seconds, report_every=seconds + 1, generate_depth=int(layout["depth"]),
                            tracking=LiveTrackingConfig(detect_width=layout["detect_width"]))
        summary = run_live(folder, config, backend, say=lambda line: None)
    p50, p95, p99 = summary.latency_ms
    clock = summary.clock
    stage_ms = {stage: round(1e3 * clock.seconds[stage] / max(1, clock.calls[stage]), 1) for stage in clock.seconds}
    return {"fps": summary.fps, "p50_ms": p50, "p95_ms": p95, "p99_ms": p99,
            "shown": f"{summary.rendered}/{summary.captured}", "generate_ms": stage_ms.get("generate"),
            "track_ms": stage_ms.get("track"), "load_1min": load, "note": f"stage ms {stage_ms}"}


def _interleaved_ms(backends: dict[str, object], runs: int) -> dict[str, float]:
    """Median ms per batch-1 call of each backend, their calls alternated so that load from other work on a
    shared machine falls on all of them alike (the ratios hold even when the absolute figures do not)."""
    from reenact.runtime.parity import random_stack

    stack = random_stack(next(iter(backends.values())), 1)
    times: dict[str, list[float]] = {name: [] for name in backends}
    for backend in backends.values():
        for _ in range(3):
            backend.infer(stack)
    for _ in range(runs):
        for name, backend in backends.items():
            start = time.perf_counter()
            backend.infer(stack)
            times[name].append(time.perf_counter() - start)
    return {name: 1e3 * statistics.median(values) for name, values in times.items()}


def bench_live(model: Path | None) -> list[Row]:
    """Issue 19's evidence, in one run on this machine: generator ms/frame FP32 vs INT8 (ONNX Runtime at 256),
    their held-out PSNR and sharpness, and `reenact live` (fps, capture-to-sink p50/p95/p99) for FP32 and INT8
    at each of `LIVE_LAYOUTS`, `LIVE_CAMERA` as the camera (see `LIVE_REPEATS`)."""
    if model is None:
        return [{"layout": "live", "note": "skipped: give --model models/NAME (a cpu-preset model)"}]
    import torch

    from reenact.errors import BackendUnavailableError
    from reenact.model_folder import GENERATOR_INT8, open_model
    from reenact.runtime.config import BackendConfig
    from reenact.runtime.int8 import checked_int8
    from reenact.runtime.selection import open_backend
    from reenact.train.quantize import held_out_quality, open_training_set

    folder = open_model(model)
    info = folder.info()
    precisions = {"FP32": False}
    rows: list[Row] = []
    try:
        checked_int8(folder)
        precisions["INT8"] = True
    except BackendUnavailableError as e:
        rows.append({"layout": "INT8", "note": f"no INT8 rows: {e}"})
    torch.set_num_threads(1)  # as `reenact live` runs
    for threads in (1, 2):
        backends = {name: open_backend(folder, BackendConfig(backend="onnxruntime", device="cpu", threads=threads,
                                                             int8=int8)).backend for name, int8 in precisions.items()}
        load = os.getloadavg()[0]
        for name, ms in _interleaved_ms(backends, runs=40).items():
            rows.append({"layout": f"generator alone, {threads} thread{'s' * (threads > 1)}", "precision": name,
                         "generate_ms": ms, "fps": 1e3 / ms, "load_1min": load,
                         "note": f"{info.preset} preset at {info.size}, batch 1, median of 40, calls interleaved"})
        for backend in backends.values():
            backend.close()
    if "INT8" in precisions:
        quality = held_out_quality(folder.onnx_path, folder.path / GENERATOR_INT8, open_training_set(folder),
                                   info.generator.context)
        for name, psnr, face, sharp in (("FP32", quality.psnr_fp32, quality.psnr_face_fp32, quality.sharpness_fp32),
                                        ("INT8", quality.psnr_int8, quality.psnr_face_int8, quality.sharpness_int8)):
            rows.append({"layout": f"held-out tail ({quality.frames} frames)", "precision": name, "psnr_db": psnr,
                         "psnr_face_db": face, "sharpness": sharp})
    cells = [(label, layout, name, int8) for label, layout in LIVE_LAYOUTS.items() for name, int8 in precisions.items()]
    runs: dict[tuple[str, str], list[Row]] = {(label, name): [] for label, _, name, _ in cells}
    for _ in range(LIVE_REPEATS):
        for label, layout, name, int8 in cells:
            backend = open_backend(folder, BackendConfig(backend="onnxruntime", device="cpu",
                                                         threads=layout["threads"], int8=int8)).backend
            runs[(label, name)].append(_live_row(folder, backend, layout, LIVE_SECONDS))
            backend.close()
    for (label, name), repeats in runs.items():
        row: Row = {"layout": label, "precision": name}
        for key in ("fps", "p50_ms", "p95_ms", "p99_ms", "generate_ms", "track_ms", "load_1min"):
            row[key] = statistics.median(float(r[key]) for r in repeats if r[key] is not None)
        row["shown"] = ", ".join(str(r["shown"]) for r in repeats)
        row["note"] = f"median of {len(repeats)} runs of {LIVE_SECONDS:g} s; last run's {repeats[-1]['note']}"
        rows.append(row)
    return rows


BEFORE_DISC: dict[str, object] = {"disc_width": 64}
"""The cpu preset's discriminators before width 32."""
BEFORE_SHAPE: dict[str, object] = {"base_width": 24, "head_skip": "stack", **BEFORE_DISC}
"""The cpu preset's generator before base width 16 and the current-frame head skip."""
BEFORE_BF16: dict[str, object] = {"amp": False, "detail_weight": 0.0, **BEFORE_SHAPE}
"""The cpu preset's training before bfloat16 autocast on CPU and the detail-band L1."""
ABLATIONS: dict[str, dict[str, object]] = {
    "main before issue 12 (no context, no texture, no detail band)": {"context": False, "texture_channels": 0,
                                                                       "detail_gain": 0.0, **BEFORE_BF16},
    "+ detail band": {"context": False, "texture_channels": 0, **BEFORE_BF16},
    "+ context": {"texture_channels": 0, **BEFORE_BF16},
    "+ neural texture": BEFORE_BF16,
    "+ bfloat16 autocast": {"detail_weight": 0.0, **BEFORE_SHAPE},
    "+ detail-band L1": BEFORE_SHAPE,
    "a step on 128 px windows (--patch-size 128)": {"patch_size": 128, **BEFORE_SHAPE},
    "+ generator base width 16 (--base-width 16)": {"head_skip": "stack", **BEFORE_DISC},
    "+ current-frame head skip": BEFORE_DISC,
    "+ discriminators at width 32 (the cpu preset now)": {},
    "a half-resolution output head (--head shuffle)": {"head": "shuffle"},
}
"""The README's ablation rows, as `train_preset` overrides of the cpu preset."""


def bench_training() -> list[Row]:
    """ms per training step (L1-only and adversarial phases) and generator ms per frame (ONNX Runtime, batch 1)
    of each ablation row, cpu preset at 256, batch 6, random data: what each change costs per CPU-minute."""
    import torch

    from reenact.render.conditioning import N_CHANNELS, ConditioningConfig
    from reenact.runtime.benchmark import benchmark_backend, write_generator_folder
    from reenact.runtime.config import BackendConfig
    from reenact.runtime.selection import open_backend
    from reenact.train.config import network_for, train_preset
    from reenact.train.dataset import Batch
    from reenact.train.trainer import Trainer

    rows: list[Row] = []
    g = torch.Generator().manual_seed(0)
    b, s = 6, 256
    sub = torch.zeros(b, 1, s, s, dtype=torch.uint8)
    sub[..., 64:192, 64:192] = torch.randint(1, 6, (b, 1, 128, 128), generator=g, dtype=torch.uint8)
    batch = Batch(torch.rand(b, 25, s, s, generator=g) * 2 - 1, torch.rand(b, 3, s, s, generator=g) * 2 - 1,
                  sub > 0, sub > 2, sub, torch.arange(b))
    with tempfile.TemporaryDirectory() as tmp:
        for label, overrides in ABLATIONS.items():
            config = train_preset("cpu", adv_start=3, **overrides)
            trainer = Trainer(network_for(config, ConditioningConfig().window, N_CHANNELS), config, torch.device("cpu"))
            times = []
            for _ in range(6):
                start = time.perf_counter()
                trainer.train_step(batch, config.patch_size)
                times.append(time.perf_counter() - start)
            folder = write_generator_folder(Path(tmp) / str(len(rows)), trainer.ema, "cpu", s)
            backend = open_backend(folder, BackendConfig(backend="onnxruntime", threads=2)).backend
            rows.append({"change": label, "L1 step ms": 1e3 * min(times[1:3]), "adversarial step ms": 1e3 * min(times[4:]),
                         "generator ms (ORT, 2 threads)": benchmark_backend(backend, 1, runs=20).ms_per_frame})
            backend.close()
    return rows


def bench_batch(model: Path | None) -> list[Row]:
    """Jobs per minute of `reenact batch` with 1 and 2 local workers on the same 4 jobs (edits of the first 2 s
    of the model's training clip, each tracked and rendered), run one after the other in this one run."""
    if model is None:
        raise SystemExit("bench: --only batch needs --model (a trained model folder whose training clip is on disk)")
    from reenact.batch import Job, run_local
    from reenact.edits import Smile
    from reenact.model_folder import open_model
    from reenact.video_io import VideoReader, VideoWriter

    folder = open_model(model)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        reader = VideoReader(folder.info().source)
        with VideoWriter(clip, reader.rate, reader.width, reader.height) as writer:
            for _, frame in zip(range(round(2 * reader.fps)), reader):
                writer.write(frame)
        for workers in (1, 2):
            jobs = [Job(f"smile {k}", folder.path, clip, Path(tmp) / f"w{workers}_{k}.mp4",
                        {"edits": [Smile(0.2 * (k + 1))]}) for k in range(4)]
            report = run_local(jobs, workers)
            rows.append({"workers": workers, "jobs": len(jobs), "done": report.count("done"),
                         "seconds": report.seconds, "jobs per minute": 60 * report.count("done") / report.seconds})
    return rows


UI_PREVIEWS = 15
"""Previews timed after the first in the ui section, at frames spread over the clip."""


def bench_ui(model: Path | None) -> list[Row]:
    """The browser editor's one-frame preview (`api.FramePreviewer`, what `reenact ui` draws on every change):
    the first (after loading), then the median of UI_PREVIEWS more at frames spread over the clip, with a smile
    and a head turn set. With --model that model on its training clip; without, an untrained `cpu`-preset
    generator (256 px) of the first 100 frames of target_wojtek (tracked here, with MediaPipe)."""
    import torch

    from reenact import api
    from reenact.model_folder import save_untrained_model
    from reenact.video_io import VideoReader, VideoWriter

    edits = [api.Smile(0.8, timing=api.Timing(0, 10)), api.TurnHead(10.0, timing=api.Timing(0, 10))]
    with tempfile.TemporaryDirectory() as tmp:
        if model is None:
            clip = Path(tmp) / "wojtek_100.mp4"
            reader = VideoReader(DATA / "target_wojtek.mp4")
            with VideoWriter(clip, reader.rate, reader.width, reader.height) as writer:
                for _, frame in zip(range(100), reader):
                    writer.write(frame)
            model = save_untrained_model(Path(tmp) / "cpu_untrained", api.track(clip), clip, "cpu").path
        target = api.Target.load(model)
        clip = Path(target.info.source)
        torch.set_num_threads(1)  # as `reenact ui` runs it (`EditorSession`)
        start = time.perf_counter()
        previewer = api.FramePreviewer(target, clip)
        loaded = time.perf_counter() - start
        n = previewer.n_frames
        first = previewer(n // 2, edits).seconds
        later = [previewer((n // 2 + k * n // (UI_PREVIEWS + 1)) % n, edits).seconds for k in range(1, UI_PREVIEWS + 1)]
        same = [previewer(n // 2, [api.Smile(0.1 * k)]).seconds for k in range(1, 6)]
        label = f"{target.info.preset} preset at {target.info.size} ({previewer.backend.describe()})"
        previewer.close()
    torch.set_num_threads(os.cpu_count() or 1)
    return [
        {"stage": f"open the clip ({n} frames): model, track, backend", "ms": 1e3 * loaded},
        {"stage": f"first preview, {label}", "ms": 1e3 * first},
        {"stage": f"later previews, other frames (median of {UI_PREVIEWS})", "ms": 1e3 * statistics.median(later)},
        {"stage": "later previews, the same frame as the edit changes (median of 5)", "ms": 1e3 * statistics.median(same)},
        {"stage": "load average (1 min) at the end", "note": f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"},
    ]


SECTIONS: dict[str, Callable[..., list[Row]]] = {
    "tracking": bench_tracking,
    "conditioning": bench_conditioning,
    "backends": bench_backends,
    "pipeline": bench_pipeline,
    "training": bench_training,
    "batch": bench_batch,
    "live": bench_live,
    "ui": bench_ui,
}
NEEDS_MODEL = {"pipeline", "batch", "live", "ui"}
"""Sections that take --model."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help=f"comma-separated sections: {', '.join(SECTIONS)}")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument("--model", type=Path, help="a trained model folder, for the pipeline section's run and live rows")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(SECTIONS)
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        print(f"bench: unknown section(s) {unknown}; choose from {list(SECTIONS)}", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    results: dict[str, object] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores",
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average_at_start": os.getloadavg(),  # other work on a shared machine slows every row
    }
    print(", ".join(f"{k}: {v}" for k, v in results.items()))
    for name in names:
        rows = SECTIONS[name](args.model) if name in NEEDS_MODEL else SECTIONS[name]()
        results[name] = rows
        print(f"\n## {name}\n")
        keys = list(dict.fromkeys(k for row in rows for k in row))
        print("| " + " | ".join(keys) + " |")
        print("|" + "---|" * len(keys))
        for row in rows:
            cells = [f"{row[k]:.2f}" if isinstance(row.get(k), float) else str(row.get(k, "")) for k in keys]
            print("| " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
