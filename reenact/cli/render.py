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


def add_split_options(parser: argparse.ArgumentParser) -> None:
    """Rendering a long clip's shots in parallel."""
    split = parser.add_argument_group("shots in parallel")
    split.add_argument("--split-shots", action="store_true",
                       help="split the target clip at its shot cuts, render the shots in parallel and join them back "
                            "(frame-exact, with the audio)")
    split.add_argument("--workers", type=int, default=2, help="local processes for --split-shots (default 2)")
    split.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                       help="with --split-shots, render each shot as a Ray task (local Ray, or the cluster at ADDRESS)")


def add_params_out_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params-out", type=Path, metavar="P.npz",
                        help="also save the output parameters that were rendered (FaceParams .npz), to check or "
                             "reuse the edits")


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
    _add_clip_options(run_parser, "clip of the target person to re-render",
                      "also write a review video: source | target | result")
    run_parser.add_argument("--source", type=Path, required=True,
                            help="video (or still image) of the source actor who drives")
    add_cuts_option(run_parser, "--source-cuts", "the source video")
    add_mix_options(run_parser)

    edit = commands.add_parser(
        "edit",
        help="edit a clip of the target directly: smile, close an eye, turn the head, look elsewhere",
        description=(
            "Re-render a clip of the target with direct edits of its own tracked parameters (no source "
            "actor): --smile, --close-eye, --turn-head, --look, FACS action units (--au, --emotion), each eased "
            "in and out over keyframes. "
            "Audio and background are kept; the output is labelled as synthetic."
        ),
    )
    _add_clip_options(edit, "clip of the target person to edit", "also write target | result")


def _add_clip_options(parser: argparse.ArgumentParser, target_help: str, review_help: str) -> None:
    """What `run` and `edit` share: the model, the clip, the outputs, rendering, direct edits, shots in parallel."""
    parser.add_argument("--model", type=Path, required=True, help="trained model folder (from `reenact train`)")
    parser.add_argument("--target", type=Path, required=True, help=target_help)
    parser.add_argument("-o", "--output", type=Path, required=True, help="output video (.mp4)")
    parser.add_argument("--review", "--side-by-side", dest="review", type=Path, help=review_help)
    parser.add_argument("--batch", type=int, default=8, help="frames per generator call (default 8)")
    add_params_out_option(parser)
    add_cuts_option(parser, "--cuts", "the target clip")
    add_render_options(parser)
    add_edit_options(parser)
    add_split_options(parser)
    parser.set_defaults(run=run)


def rerender_options(args: argparse.Namespace) -> dict:
    """`api.rerender`'s keyword arguments from `run`'s or `edit`'s options (also what a batch job's row holds)."""
    from reenact import api
    from reenact.tracking.cut_list import parse_cuts
    from reenact.video_io import VideoReader

    source = getattr(args, "source", None)
    return dict(
        source=source, recombination=recombine_config(args) if source else None,
        edits=edits(args, lambda: VideoReader(args.target).fps),
        loop_source=getattr(args, "loop_source", False), cuts=parse_cuts(args.cuts),
        source_cuts=parse_cuts(args.source_cuts) if source else api.AUTO, backend=backend_config(args),
        blend=blend_config(args), watermark=args.watermark, batch=args.batch, review=args.review,
    )


def run(args: argparse.Namespace) -> int:
    from reenact import api

    say = lambda line: print(line, file=sys.stderr)  # noqa: E731 - one-line sink for notes
    options = rerender_options(args)
    if getattr(args, "split_shots", False):
        return _run_shots(args, options, say)
    summary = api.rerender(args.model, args.target, args.output, **options, command=args.command,
                           params_out=args.params_out, bars=progress_bar, say=say)
    print(f"{summary.line()} -> {args.output}" + (f" (review: {args.review})" if args.review else ""))
    return 0


def _run_shots(args: argparse.Namespace, options: dict, say) -> int:
    from tqdm import tqdm

    from reenact.batch import rerender_shots
    from reenact.errors import SettingError

    if options.pop("review") is not None:
        raise SettingError("--review is not written with --split-shots; render the review without it")
    if args.params_out is not None:
        raise SettingError("--params-out is not written with --split-shots; save the parameters without it")
    if args.workers < 1:
        raise SettingError(f"--workers must be 1 or more, got {args.workers}")
    backend, batch = options.pop("backend"), options.pop("batch")
    with tqdm(desc="shots", unit="shot", dynamic_ncols=True) as bar:
        report = rerender_shots(args.model, args.target, args.output, workers=args.workers,
                                ray_address=None if args.ray in (None, "local") else args.ray,
                                use_ray=args.ray is not None, backend=backend, batch=batch, command=args.command,
                                progress=lambda result: bar.update(1), say=say, **options)
    print(f"{report.count('done')} shots in {report.seconds:.1f} s, joined -> {args.output}")
    return 0
