"""Benchmarks: print a table of per-stage timings on this machine and optionally save JSON.

    python tools/bench.py                       # every section
    python tools/bench.py --only tracking --json bench.json

Timings are medians over repeated runs after a warm-up, measured in one run of
this script so ratios between rows are comparable. Clips come from
$REENACT_DATA (default ../shared/data).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from reenact.sample_data import data_dir

DATA = data_dir()

Row = dict[str, object]


def median_ms(fn: Callable[[], object], repeats: int = 50, warmup: int = 5) -> float:
    """Median wall time of `fn` in milliseconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def bench_tracking() -> list[Row]:
    """Landmark detection and fitting per frame, and `reenact track` end to end, at 640x480."""
    import cv2

    from reenact.pipeline.video_io import VideoWriter, read_frames
    from reenact.tracking.filters import OneEuroFilter
    from reenact.tracking.fitting import fit_frames
    from reenact.tracking.landmarks import LandmarkDetector
    from reenact.tracking.tracker import TrackerConfig, track_video

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
                 "ms_per_frame": median_ms(lambda: fit_frames(one, track.model), repeats=500)})
    batch_ms = median_ms(lambda: fit_frames(landmarks, track.model), repeats=10)
    rows.append({"stage": f"fit a clip, batched ({len(landmarks)} frames)", "ms_per_frame": batch_ms / len(landmarks)})
    filt = OneEuroFilter(TrackerConfig().landmark_filter)
    rows.append({"stage": "One Euro filter of 478 landmarks",
                 "ms_per_frame": median_ms(lambda: filt(one[0], 1 / 30), repeats=500)})
    return rows


def bench_conditioning() -> list[Row]:
    """Crop follow + rasterise + conditioning images + space-time stack, one frame, at 256 and 512."""
    import torch

    from reenact.render.conditioning import benchmark_conditioning
    from reenact.tracking.tracker import track_video

    track = track_video(DATA / "drive_d0.mp4")
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    return [
        {"stage": f"conditioning stack (W=5) {size}x{size}", "device": device,
         "ms_per_frame": benchmark_conditioning(size, device, track=track)}
        for device in devices
        for size in (256, 512)
    ]


def bench_generator() -> list[Row]:
    """Generator forward pass per frame (random weights; speed does not depend on them), 256x256, batch 1 and 8."""
    from reenact.nn.export import benchmark_generator
    from reenact.nn.generator import generator_gflops
    from reenact.nn.presets import get_preset

    rows: list[Row] = []
    for preset in ("cpu",):
        gflops = generator_gflops(get_preset(preset).generator, 256)
        for backend in ("onnxruntime", "torch"):
            for batch in (1, 8):
                rows.append({"stage": f"generator `{preset}` 256x256 ({gflops:.1f} GFLOPs)", "backend": backend,
                             "batch": batch, "ms_per_frame": benchmark_generator(preset, 256, backend, batch=batch)})
    return rows


SECTIONS: dict[str, Callable[[], list[Row]]] = {
    "tracking": bench_tracking,
    "conditioning": bench_conditioning,
    "generator": bench_generator,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help=f"comma-separated sections: {', '.join(SECTIONS)}")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
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
    }
    for name in names:
        rows = SECTIONS[name]()
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
