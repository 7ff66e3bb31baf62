"""Score the nearest-neighbour and warp baselines on a clip's held-out tail, without a trained model.

    python tools/eval_baselines.py ../shared/data/target_franck.mp4 --track out/franck.npz -o out/franck_baselines
    python tools/eval_baselines.py ../shared/data/target_franck.mp4 --sweep-smoothing

`--sweep-smoothing` tracks the clip once and scores the warp baseline on tracks
smoothed each way (causal with a slow and with a quick speed estimate,
zero-phase with each, none): the warp is drawn where the track puts the face, so its
scores tell how well each track lines up with the frames.

Frames before the tail are the training frames the baselines draw from, as
`reenact train` holds out the clip's last frames. Prints the Markdown table;
with -o, also writes the report files (and the side-by-side video with --video).
Without --track the clip is tracked first (about 1 min for target_franck; `reenact track CLIP -o out/franck.npz`
makes a track to reuse).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import torch

from reenact.eval.evaluate import EvalConfig, EvalSequence, TrainingFrames, evaluate
from reenact.eval.results import EvalResult
from reenact.eval.report import COLUMNS, VIDEO, markdown_table, write_report
from reenact.params import Track
from reenact.render.conditioning import ConditioningConfig
from reenact.render.crop import CropConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("--track", type=Path, help="the clip's track (.npz); tracked now when left out")
    parser.add_argument("--holdout", type=float, default=0.1, help="fraction of the clip held out at its end")
    parser.add_argument("--size", type=int, default=256, help="crop size S")
    parser.add_argument("-o", "--output", type=Path, help="report folder")
    parser.add_argument("--video", action="store_true", help="also write the side-by-side video (needs -o)")
    parser.add_argument("--sweep-smoothing", action="store_true",
                        help="score the warp baseline on the clip tracked with each temporal smoothing")
    args = parser.parse_args()

    # The rasteriser's small kernels slow down many times over when two threads contend for a busy 2-core CPU.
    torch.set_num_threads(1)
    if args.sweep_smoothing:
        sweep_smoothing(args.clip, args.holdout, args.size)
        return
    if args.track is not None:
        track = Track.load(args.track)
    else:
        from reenact.tracking.tracker import track_video

        track = track_video(args.clip)
    video = args.output / VIDEO if args.output is not None and args.video else None
    began = time.perf_counter()
    result = score_baselines(args.clip, track, args.holdout, args.size, video)
    seconds = time.perf_counter() - began
    print(markdown_table(result))
    n = track.n_frames
    print(f"\nframes {int(result.frames[0])}-{n - 1} of {n}, crop {args.size}, nearest-frame distance median "
          f"{np.nanmedian(result.nearest_distance):.2f} px, {seconds:.0f} s")
    if args.output is not None:
        write_report(result, args.output)
        print(f"report written to {args.output}")


def score_baselines(clip: Path, track: Track, holdout: float, size: int, video: Path | None = None) -> EvalResult:
    """Both baselines on the clip's held-out tail, drawn from the frames before it."""
    n = track.n_frames
    start = n - round(n * holdout)
    sequence = EvalSequence(track.params, track.cuts, track.fps, (track.width, track.height), (start, n), clip)
    training = TrainingFrames(clip, track, np.arange(start))
    conditioning = ConditioningConfig(crop=CropConfig(size=size))
    return evaluate(sequence, training, conditioning, None, EvalConfig(), video,
                    {"clip": str(clip), "held out": f"last {holdout:.0%}"})


def sweep_smoothing(clip: Path, holdout: float, size: int) -> None:
    """Print the warp baseline's scores on the clip tracked with each temporal smoothing (detected once)."""
    from reenact.tracking.tracker import TrackerConfig, detect_clip, fit_track

    default = TrackerConfig()
    slow_speed = {"landmark_filter": dataclasses.replace(default.landmark_filter, d_cutoff=1.0),
                  "pose_filter": dataclasses.replace(default.pose_filter, d_cutoff=1.0)}
    variants = {
        "causal, speed estimate at 1 Hz (the tracker before zero-phase)":
            dataclasses.replace(default, zero_phase=False, **slow_speed),
        "causal, speed estimate at 5 Hz (live tracking now)": dataclasses.replace(default, zero_phase=False),
        "zero-phase, speed estimate at 1 Hz": dataclasses.replace(default, **slow_speed),
        "zero-phase, speed estimate at 5 Hz (the tracker now)": default,
        "none (--no-smooth)": dataclasses.replace(default, smooth=False),
    }
    detections = detect_clip(clip)
    shown = ("psnr_face", "psnr_edit", "psnr_eyes", "psnr_mouth", "landmark_error", "flicker")
    columns = [(key, header, fmt) for key, header, fmt, _ in COLUMNS if key in shown]
    print("| smoothing (warp baseline) | " + " | ".join(header for _, header, _ in columns) + " |")
    print("| --- |" + " ---: |" * len(columns))
    for name, config in variants.items():
        track = fit_track(detections, config, source=str(clip))
        warp = score_baselines(clip, track, holdout, size).summary()["warp"]
        print(f"| {name} | " + " | ".join(fmt.format(warp[key]) for key, _, fmt in columns) + " |", flush=True)


if __name__ == "__main__":
    main()
