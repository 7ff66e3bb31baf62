"""Live soak benchmark: N minutes of `reenact live` with a file camera and a slow stage, watching memory and latency.

Not a test (it runs for minutes). A live session runs for hours; what a short
run cannot show is memory that creeps up or latency that drifts as queues,
caches or the recording grow. This runs the real live pipeline (threads,
newest-wins slots, file sink) with a clip looped as the camera and one stage
slowed down (`--slow-stage`, `--delay`: frames must be dropped all along), and
prints per minute the process's resident memory and the capture-to-output
latency percentiles of that minute.

Targets: resident memory grows by less than 50 MB from the end of the first
minute (warm-up: backend sessions, first allocations) to the end, and the p95
latency of every minute stays within 20% of the minutes' median p95.

    python tools/live_soak.py --model models/franck_cpu --minutes 10
    python tools/live_soak.py --minutes 3      # an untrained tiny model of target_wojtek, built first

Memory is read from /proc/self/status (Linux).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPORT = re.compile(r"live: (?P<fps>[\d.]+) fps, latency p50 (?P<p50>\d+) / p95 (?P<p95>\d+) / p99 (?P<p99>\d+) ms, "
                    r"(?P<shown>\d+) shown of (?P<captured>\d+) captured")
RSS_GROWTH_MB = 50.0
P95_SPREAD = 0.20


def rss_mb() -> float:
    """Resident memory of this process now, in MB (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status: this benchmark reads memory the Linux way")


def untrained_model(folder: Path):
    """A renderable model folder of target_wojtek with an untrained tiny generator (the tests' random model)."""
    from reenact.model_folder import save_untrained_model
    from reenact.sample_data import data_dir
    from reenact.tracking.tracker import track_video

    clip = data_dir() / "target_wojtek.mp4"
    return save_untrained_model(folder, track_video(clip), clip)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="model folder (default: an untrained tiny model, built first)")
    parser.add_argument("--camera", type=Path, help="clip looped as the camera (default: drive_d3.mp4)")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the soak (default 10)")
    parser.add_argument("--slow-stage", default="generate", help="stage slowed down (default generate)")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds added to that stage per frame (default 0.05)")
    parser.add_argument("--minute", type=float, default=60.0, help="seconds per reported row (default 60)")
    args = parser.parse_args()

    import torch

    from reenact.model_folder import open_model
    from reenact.pipeline.live import LiveConfig, run_live
    from reenact.runtime.config import BackendConfig
    from reenact.runtime.selection import open_backend
    from reenact.sample_data import data_dir

    torch.set_num_threads(1)  # as `reenact live` runs: the stages have threads of their own
    with tempfile.TemporaryDirectory() as tmp:
        folder = open_model(args.model) if args.model else untrained_model(Path(tmp) / "model")
        camera = args.camera or data_dir() / "drive_d3.mp4"
        backend = open_backend(folder, BackendConfig(threads=1)).backend
        start_rss = rss_mb()
        print(f"soak: {args.minutes:g} min of live, camera {camera.name} looped, {args.slow_stage} slowed by "
              f"{1e3 * args.delay:.0f} ms, {backend.describe()}; RSS at start {start_rss:.1f} MB", flush=True)
        print(f"{'minute':>6} {'RSS MB':>8} {'fps':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'shown':>6} "
              f"{'captured':>8}", flush=True)
        rows: list[dict[str, float]] = []

        def say(line: str) -> None:
            match = REPORT.match(line)
            if match:
                row = {name: float(value) for name, value in match.groupdict().items()} | {"rss": rss_mb()}
                rows.append(row)
                print(f"{len(rows):>6} {row['rss']:>8.1f} {row['fps']:>6.1f} {row['p50']:>7.0f} {row['p95']:>7.0f} "
                      f"{row['p99']:>7.0f} {row['shown']:>6.0f} {row['captured']:>8.0f}", flush=True)

        config = LiveConfig(camera=camera, sink=Path(tmp) / "soak.mp4", loop_camera=True,
                            # half a period more, so the last period's row comes however late the loop runs
                            max_seconds=60 * args.minutes + args.minute / 2, report_every=args.minute,
                            stage_delay={args.slow_stage: args.delay})
        began = time.perf_counter()
        summary = run_live(folder, config, backend, say=say)
        end_rss = rss_mb()
        backend.close()
    print(f"RSS at end {end_rss:.1f} MB; {summary.line()} ({time.perf_counter() - began:.0f} s)")
    if len(rows) < 2:
        print("too short for the targets (needs two reported minutes or more)")
        return 1
    growth = end_rss - rows[0]["rss"]
    p95 = [row["p95"] for row in rows]
    median = statistics.median(p95)
    spread = max(abs(value - median) for value in p95) / median
    ok_rss, ok_p95 = growth < RSS_GROWTH_MB, spread <= P95_SPREAD
    print(f"RSS growth after minute 1: {growth:+.1f} MB (target < {RSS_GROWTH_MB:.0f}): {'ok' if ok_rss else 'FAIL'}")
    print(f"p95 per minute {min(p95):.0f}-{max(p95):.0f} ms, median {median:.0f}, largest departure {spread:.0%} "
          f"(target <= {P95_SPREAD:.0%}): {'ok' if ok_p95 else 'FAIL'}")
    return 0 if ok_rss and ok_p95 else 1


if __name__ == "__main__":
    sys.exit(main())
