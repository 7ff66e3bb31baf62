"""Score the nearest-neighbour and warp baselines on a clip's held-out tail, without a trained model.

    python tools/eval_baselines.py ../shared/data/target_franck.mp4 --track out/franck.npz -o out/franck_baselines

Frames before the tail are the training frames the baselines draw from, as
`reenact train` holds out the clip's last frames. Prints the Markdown table;
with -o, also writes the report files (and the side-by-side video with --video).
Without --track the clip is tracked first (about 1 min for target_franck; `reenact track CLIP -o out/franck.npz`
makes a track to reuse).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from reenact.eval.evaluate import EvalConfig, EvalSequence, TrainingFrames, evaluate
from reenact.eval.report import VIDEO, markdown_table, write_report
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
    args = parser.parse_args()

    # The rasteriser's small kernels slow down many times over when two threads contend for a busy 2-core CPU.
    torch.set_num_threads(1)
    if args.track is not None:
        track = Track.load(args.track)
    else:
        from reenact.tracking.tracker import track_video

        track = track_video(args.clip)
    n = track.n_frames
    start = n - round(n * args.holdout)
    sequence = EvalSequence(track.params, track.cuts, track.fps, (track.width, track.height), (start, n), args.clip)
    training = TrainingFrames(args.clip, track, np.arange(start))
    conditioning = ConditioningConfig(crop=CropConfig(size=args.size))
    video = args.output / VIDEO if args.output is not None and args.video else None
    began = time.perf_counter()
    result = evaluate(sequence, training, conditioning, None, EvalConfig(), video,
                      {"clip": str(args.clip), "held out": f"last {args.holdout:.0%}"})
    seconds = time.perf_counter() - began
    print(markdown_table(result))
    print(f"\nframes {start}-{n - 1} of {n}, crop {args.size}, nearest-frame distance median "
          f"{np.nanmedian(result.nearest_distance):.2f} px, {seconds:.0f} s")
    if args.output is not None:
        write_report(result, args.output)
        print(f"report written to {args.output}")


if __name__ == "__main__":
    main()
