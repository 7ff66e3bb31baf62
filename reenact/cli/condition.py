"""`reenact condition`: review what the generator will be asked, as a side-by-side video."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reenact.cli.common import add_edit_options, add_mix_options, edits, progress_bar, recombine_config
from reenact.errors import ReenactError


def add_parser(commands: argparse._SubParsersAction) -> None:
    condition = commands.add_parser(
        "condition",
        help="preview what the generator will be asked: source | target | conditioning images",
        description=(
            "Recombine a source track with a target track (or apply direct edits to the target alone), "
            "render the conditioning images in the target's head-following crop, and write a "
            "side-by-side review video: source frame, target frame with the crop window, "
            "correspondence, shading and eye-map images."
        ),
    )
    condition.add_argument("--target", type=Path, required=True, help="target track (.npz from `reenact track`)")
    condition.add_argument("--source", type=Path, help="source track that drives the target (omit for edits only)")
    condition.add_argument("-o", "--output", type=Path, required=True, help="output review video (.mp4)")
    condition.add_argument("--target-video", type=Path, help="target video (default: the one the track was made from)")
    condition.add_argument("--source-video", type=Path, help="source video (default: the one the track was made from)")
    condition.add_argument("--size", type=int, default=256, help="crop size in pixels (default 256; 512 supported)")
    condition.add_argument("--window", type=int, default=5, help="frames in the space-time stack (default 5)")
    condition.add_argument("--frames", type=int, help="only the first N frames")
    add_mix_options(condition)
    add_edit_options(condition)
    condition.set_defaults(run=run)


def _load_track(path: Path, role: str):
    from reenact.params import Track

    track = Track.load(path)
    if not track.params.valid.any():
        raise ReenactError(f"the {role} track {path} has no frame with a face")
    return track


def _video_for(track, override: Path | None, role: str) -> Path:
    path = override or (Path(track.source) if track.source else None)
    if path is None or not path.is_file():
        raise ReenactError(f"the {role} video {path} is not there; give it with --{role}-video")
    return path


def run(args: argparse.Namespace) -> int:
    import contextlib
    import itertools

    import numpy as np

    from reenact import api
    from reenact.output_paths import check_outputs
    from reenact.recombine import output_cuts
    from reenact.render.conditioning import ConditioningConfig, condition_clip
    from reenact.render.crop import CropConfig
    from reenact.render.preview import conditioning_panels, draw_window, side_by_side
    from reenact.video_io import VideoReader, VideoWriter

    target = _load_track(args.target, "target")
    source = _load_track(args.source, "source") if args.source else None
    target_video = _video_for(target, args.target_video, "target")
    source_video = _video_for(source, args.source_video, "source") if source else None
    check_outputs({"-o": args.output}, {"target track": args.target, "source track": args.source,
                                        "target video": target_video, "source video": source_video})
    say = lambda line: print(line, file=sys.stderr)  # noqa: E731 - one-line sink for notes
    params = api.output_params(target, source, recombine_config(args), edits(args, lambda: target.fps),
                               args.loop_source, say=say)
    n = len(params) if args.frames is None else min(args.frames, len(params))
    config = ConditioningConfig(crop=CropConfig(size=args.size), window=args.window)
    cuts = output_cuts(source, target, args.loop_source) if source else target.cuts
    frames = condition_clip(params[:n], target.model, target.fps, (target.width, target.height), cuts[cuts < n], config)
    target_frames = iter(VideoReader(target_video))
    source_frames = (itertools.cycle(VideoReader(source_video)) if source and args.loop_source else
                     iter(VideoReader(source_video)) if source else None)
    labels = (["source"] if source else []) + ["target + crop", "correspondence", "shading", "eyes"]
    blank = np.zeros((args.size, args.size, 3), np.uint8)
    writer = None
    # The writer opens on the first tile (its size is known then); the ExitStack closes it, or drops
    # the partial file if anything fails, so an earlier output is never damaged.
    with contextlib.ExitStack() as cleanup, progress_bar("conditioning", n) as update:
        for conditioned, target_rgb in zip(frames, target_frames):
            panels = [next(source_frames, blank)] if source_frames else []
            panels += [draw_window(target_rgb, conditioned.window), *conditioning_panels(conditioned)]
            tile = side_by_side(panels, args.size, labels)
            if writer is None:
                writer = cleanup.enter_context(VideoWriter(args.output, target.fps, tile.shape[1], tile.shape[0]))
            writer.write(tile)
            update(1)
    print(f"{n} frames of conditioning ({config.window} frames x 5 channels at {args.size}x{args.size}) "
          f"-> {args.output}")
    return 0
