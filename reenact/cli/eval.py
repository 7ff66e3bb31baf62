"""`reenact eval`: a model's quality against nearest-frame and warp baselines on the same frames."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reenact.cli.common import (
    add_backend_options,
    add_edit_options,
    add_mix_options,
    backend_config,
    edits,
    progress_bar,
    recombine_config,
)

SUMMARY_KEYS = ("psnr", "ssim", "psnr_face", "psnr_edit", "psnr_eyes", "psnr_mouth", "sharpness", "landmark_error",
                "pose_error", "flicker")
"""The scores of the one-line-per-method summary (the rest are in metrics.json, or printed with --verbose)."""


def add_parser(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser(
        "eval",
        help="measure a model's quality against nearest-frame and warp baselines on the same frames",
        description=(
            "Self-reenactment (default): regenerate the held-out tail of the training clip (or every frame of "
            "--target, another clip of the same person) from its own tracked parameters and compare with the "
            "real frames: PSNR/SSIM/L1 over the crop, the face, the edit mask, the eyes and the mouth, sharpness, "
            "landmark/expression/gaze/pose fidelity of the re-tracked result, and flicker. Cross-reenactment "
            "(--source): fidelity to the recombined parameters and flicker. The same frames are scored for two "
            "baselines: the nearest training frame, and that frame warped piecewise-affinely onto the wanted "
            "landmarks. Writes metrics.json, report.md, metrics.png and a side-by-side video. "
            "With direct edits (--smile, --close-eye, --turn-head, --look, --au, --emotion): edit fidelity "
            "instead: the edits rendered on the clip, the result re-tracked, and per edit what was asked and "
            "what the picture shows (edits.md, edits.json, the renders)."
        ),
    )
    evaluate.add_argument("--model", type=Path, required=True, help="trained model folder")
    evaluate.add_argument("--target", type=Path, help="another clip of the target person to regenerate")
    evaluate.add_argument("--source", type=Path, help="a driver video (cross-reenactment; no ground truth)")
    evaluate.add_argument("--clip", type=Path, help="the training clip, if it moved since training")
    evaluate.add_argument("-o", "--output", type=Path, required=True, help="report folder")
    evaluate.add_argument("--verbose", action="store_true", help="print every summary metric as JSON")
    evaluate.add_argument("--score-size", type=int, metavar="PX",
                          help="score in crops of this size, not the model's: a model trained at --size 192 scored "
                               "at 256 is compared with a 256 model on the same pixels (its output resized as "
                               "paste-back resizes it)")
    evaluate.add_argument("--max-frames", type=int, default=300,
                          help="with edits: render at most this many frames from the first edit's start (default 300)")
    add_backend_options(evaluate)
    add_mix_options(evaluate)
    add_edit_options(evaluate)
    evaluate.set_defaults(run=run)


def summary_lines(summary: dict[str, dict[str, float]]) -> str:
    """One line per method: PSNR/SSIM where there is ground truth, landmark error and flicker always."""
    lines = []
    for method, scores in summary.items():
        parts = [f"{key} {scores[key]:.3g}" for key in SUMMARY_KEYS if scores.get(key) is not None]
        lines.append(f"{method}: " + ", ".join(parts))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import json

    from reenact import api
    from reenact.errors import SettingError
    from reenact.eval.report import VIDEO
    from reenact.video_io import VideoReader

    say = lambda line: print(line, file=sys.stderr)
    asked = edits(args, lambda: VideoReader(args.target or api.Target.load(args.model).info.source).fps)
    if asked:
        if args.score_size:
            raise SettingError("--score-size scores the held-out frames; edits are checked by re-tracking, at the "
                               "model's size: leave one of them out")
        return _run_edits(args, asked, say)
    result = api.evaluate(args.model, args.output, target_clip=args.target, source=args.source,
                          recombination=recombine_config(args), training_clip=args.clip, score_size=args.score_size,
                          backend=backend_config(args),
                          bars=progress_bar, say=say)
    summary = result.summary()
    print(json.dumps(summary, indent=2, default=str) if args.verbose else summary_lines(summary))
    out = args.output
    print(f"report: {out / 'report.md'}, {out / 'metrics.json'}, {out / 'metrics.png'}, {out / VIDEO}")
    return 0


def _run_edits(args: argparse.Namespace, asked: list, say) -> int:
    """Edit fidelity: render the edits, re-track, print asked against shown and how many reach the bar."""
    from reenact import api
    from reenact.errors import SettingError
    from reenact.eval.edit_fidelity import MIN_REACHED, checks_table

    if args.source:
        raise SettingError("edits are checked on a clip of the target itself: give --target or nothing, "
                           "not --source")
    checks = api.evaluate_edits(args.model, asked, args.output, target_clip=args.target, max_frames=args.max_frames,
                                backend=backend_config(args), bars=progress_bar, say=say)
    print(checks_table(checks))
    judged = [c for c in checks if c.passed is not None]
    print(f"{sum(c.passed for c in judged)} of {len(judged)} measures within the target's reach show at least "
          f"{MIN_REACHED:.0%} of what was asked")
    print(f"report: {args.output / 'edits.md'}, {args.output / 'edits.json'}, {args.output / 'edited_review.mp4'}")
    return 0
