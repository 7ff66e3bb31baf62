"""`reenact eval`: a model's quality against nearest-frame and warp baselines on the same frames."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reenact.cli.common import add_backend_options, add_mix_options, backend_config, progress_bar, recombine_config

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
            "landmarks. Writes metrics.json, report.md, metrics.png and a side-by-side video."
        ),
    )
    evaluate.add_argument("--model", type=Path, required=True, help="trained model folder")
    evaluate.add_argument("--target", type=Path, help="another clip of the target person to regenerate")
    evaluate.add_argument("--source", type=Path, help="a driver video (cross-reenactment; no ground truth)")
    evaluate.add_argument("--clip", type=Path, help="the training clip, if it moved since training")
    evaluate.add_argument("-o", "--output", type=Path, required=True, help="report folder")
    evaluate.add_argument("--verbose", action="store_true", help="print every summary metric as JSON")
    add_backend_options(evaluate)
    add_mix_options(evaluate)
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
    from reenact.eval.report import VIDEO

    result = api.evaluate(args.model, args.output, target_clip=args.target, source=args.source,
                          recombination=recombine_config(args), training_clip=args.clip, backend=backend_config(args),
                          bars=progress_bar, say=lambda line: print(line, file=sys.stderr))
    summary = result.summary()
    print(json.dumps(summary, indent=2, default=str) if args.verbose else summary_lines(summary))
    out = args.output
    print(f"report: {out / 'report.md'}, {out / 'metrics.json'}, {out / 'metrics.png'}, {out / VIDEO}")
    return 0
