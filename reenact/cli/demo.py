"""`reenact demo`: the whole job in one command, for a first look: train, re-render, evaluate."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from reenact.cli.common import progress_bar
from reenact.cli.eval import summary_lines

DEMO_PRESET = "tiny"
DEMO_SIZE = 128
"""The demo trains the tiny networks at 128 px: a recognisable face within minutes on a 2-core CPU."""


def add_parser(commands: argparse._SubParsersAction) -> None:
    demo = commands.add_parser(
        "demo",
        help="the whole job in one command: train on a target clip, re-render it driven by a source, evaluate",
        description=(
            "For a first look: train a quick model of the target (tiny networks at 128 px, a few minutes on a "
            "CPU; reused on a rerun), re-render the target clip driven by the source (result.mp4, with the "
            "target's audio), write a side-by-side review (side_by_side.mp4) and the evaluation report "
            "(eval/report.md, metrics.json, metrics.png) into the output folder."
        ),
    )
    demo.add_argument("--target", type=Path, required=True, help="video of the target person (a minute or more)")
    demo.add_argument("--source", type=Path, required=True, help="video of the source actor who drives")
    demo.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    demo.add_argument("--minutes", type=float, default=4.0, help="training time limit in minutes (default 4)")
    demo.add_argument("--steps", type=int, default=3000, help="training steps at most (default 3000)")
    demo.add_argument("--retrain", action="store_true",
                      help="train again even if the folder holds a model of this clip")
    demo.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Track, train, re-render and evaluate, each step the library call its own command makes."""
    from reenact import api
    from reenact.model_folder import MODEL_JSON, file_hash, open_model
    from reenact.output_paths import check_outputs
    from reenact.train.config import train_preset
    from reenact.video_io import VideoReader

    out: Path = args.output
    result_video, review, report = out / "result.mp4", out / "side_by_side.mp4", out / "eval"
    check_outputs({"-o": out, f"-o {out}'s result.mp4": result_video, f"-o {out}'s side_by_side.mp4": review},
                  {"target": args.target, "source": args.source}, folders=("-o",))
    for clip in (args.target, args.source):
        VideoReader(clip)
    model = out / "model"
    reuse = (model / MODEL_JSON).is_file() and not args.retrain
    reuse = reuse and open_model(model).info().data_hash == file_hash(args.target)
    start = time.perf_counter()
    if reuse:
        print(f"[1/3] reusing the model trained on this clip in {model} (--retrain to train again)")
    else:
        print(f"[1/3] training a quick model ({DEMO_PRESET} networks at {DEMO_SIZE} px, at most "
              f"{args.minutes:g} min) -> {model}")
        config = train_preset(DEMO_PRESET, size=DEMO_SIZE, steps=args.steps, preview_every=500, checkpoint_every=500)
        trained = api.train(args.target, model, config, force=True, minutes=args.minutes)
        print(f"      {trained.steps} steps; held-out PSNR {trained.metrics.get('psnr', float('nan')):.2f} dB")
    target = api.Target.load(model)
    say = lambda line: print(line, file=sys.stderr)  # noqa: E731 - one-line sink for notes
    print(f"[2/3] re-rendering {args.target.name} driven by {args.source.name} -> {result_video}")
    summary = api.rerender(target, args.target, result_video, source=args.source, review=review, command="demo",
                           bars=progress_bar, say=say)
    print(f"{summary.line()} -> {result_video} (review: {review})")
    print(f"[3/3] evaluating the model against baselines on its held-out frames -> {report}")
    print(summary_lines(api.evaluate(target, report, bars=progress_bar, say=say).summary()))
    print(f"demo done in {(time.perf_counter() - start) / 60:.1f} min: {result_video}, {review}, "
          f"{report / 'report.md'}, training previews in {model / 'previews'}")
    return 0
