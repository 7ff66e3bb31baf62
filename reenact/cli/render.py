"""`reenact run` (a source actor drives a clip of the target) and `reenact edit` (direct edits of it)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reenact.cli.common import (
    add_cuts_option,
    add_edit_options,
    add_mix_options,
    add_render_options,
    backend_config,
    blend_config,
    edits,
    progress_bar,
    recombine_config,
)


def add_parsers(commands: argparse._SubParsersAction) -> None:
    run_parser = commands.add_parser(
        "run",
        help="re-render a clip of the target driven by a source video (audio and background kept)",
        description=(
            "A source actor drives the target: the target clip's frames are the background, the source's head "
            "pose, expression and gaze (relative to each one's neutral frame) are transferred, and the trained "
            "generator renders the target's face, blended back into every frame. Every frame is kept at the "
            "clip's frame rate, its audio is copied unchanged, frames without a face pass through untouched. "
            "The output is labelled as synthetic in its metadata."
        ),
    )
    run_parser.add_argument("--model", type=Path, required=True, help="trained model folder (from `reenact train`)")
    run_parser.add_argument("--target", type=Path, required=True, help="clip of the target person to re-render")
    run_parser.add_argument("--source", type=Path, required=True,
                            help="video (or still image) of the source actor who drives")
    run_parser.add_argument("-o", "--output", type=Path, required=True, help="output video (.mp4)")
    run_parser.add_argument("--review", "--side-by-side", dest="review", type=Path,
                            help="also write a review video: source | target | result")
    run_parser.add_argument("--batch", type=int, default=8, help="frames per generator call (default 8)")
    add_cuts_option(run_parser, "--cuts", "the target clip")
    add_cuts_option(run_parser, "--source-cuts", "the source video")
    add_render_options(run_parser)
    add_mix_options(run_parser)
    add_edit_options(run_parser)
    run_parser.set_defaults(run=run)

    edit = commands.add_parser(
        "edit",
        help="edit a clip of the target directly: smile, close an eye, turn the head, look elsewhere",
        description=(
            "Re-render a clip of the target with direct edits of its own tracked parameters (no source "
            "actor): --smile, --close-eye, --turn-head, --look, each eased in and out over keyframes. "
            "Audio and background are kept; the output is labelled as synthetic."
        ),
    )
    edit.add_argument("--model", type=Path, required=True, help="trained model folder (from `reenact train`)")
    edit.add_argument("--target", type=Path, required=True, help="clip of the target person to edit")
    edit.add_argument("-o", "--output", type=Path, required=True, help="output video (.mp4)")
    edit.add_argument("--review", "--side-by-side", dest="review", type=Path, help="also write target | result")
    edit.add_argument("--batch", type=int, default=8, help="frames per generator call (default 8)")
    add_cuts_option(edit, "--cuts", "the target clip")
    add_render_options(edit)
    add_edit_options(edit)
    edit.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from reenact import api
    from reenact.tracking.cut_list import parse_cuts

    source = getattr(args, "source", None)
    summary = api.rerender(
        args.model, args.target, args.output, source=source,
        recombination=recombine_config(args) if source else None, edits=edits(args),
        loop_source=getattr(args, "loop_source", False),
        cuts=parse_cuts(args.cuts), source_cuts=parse_cuts(args.source_cuts) if source else api.AUTO,
        backend=backend_config(args), blend=blend_config(args), watermark=args.watermark, batch=args.batch,
        review=args.review, command=args.command, bars=progress_bar, say=lambda line: print(line, file=sys.stderr),
    )
    print(f"{summary.line()} -> {args.output}" + (f" (review: {args.review})" if args.review else ""))
    return 0
