"""`reenact live`: puppeteer the target from a webcam (or a video played in real time)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reenact.cli.common import add_mix_options, add_render_options, backend_config, blend_config, recombine_config

EXIT_INTERRUPTED = 130


def add_parser(commands: argparse._SubParsersAction) -> None:
    live = commands.add_parser(
        "live",
        help="puppeteer the target live from a webcam (or a video played in real time)",
        description=(
            "A camera drives the target in real time: capture, tracking, recombination, conditioning, the "
            "generator and blending run in threads joined by one-frame queues where the newest frame wins, so "
            "a slow stage lowers the frame rate but not the latency. The background is the model's training "
            "clip, looped (or --background). Look at the camera with a neutral face for the first second: that "
            "calibrates the source. Prints fps and latency percentiles (capture to output) every few seconds."
        ),
        epilog="Window keys: c recalibrate the neutral face, o toggle the conditioning overlay, m switch mode "
               "(full, expression, pose, gaze), q or Esc quit.",
    )
    live.add_argument("--model", type=Path, required=True, help="trained model folder")
    live.add_argument("--camera", default="0", help="webcam index (default 0) or a video file played in real time")
    live.add_argument("--sink", default="window",
                      help="window (default), virtualcam (pip install 'reenact[virtualcam]'), or an .mp4 path")
    live.add_argument("--background", type=Path, help="clip or image to render into (default: the training clip)")
    live.add_argument("--loop", action="store_true", help="loop a file camera instead of stopping at its end")
    live.add_argument("--seconds", type=float, help="stop after this many seconds")
    live.add_argument("--overlay", action="store_true", help="start with the conditioning overlay shown")
    live.add_argument("--report-every", type=float, default=5.0, help="seconds between fps/latency lines (default 5)")
    layout = live.add_argument_group("thread layout (tools/bench.py --only live measures them)")
    layout.add_argument("--generate-depth", type=int, default=1,
                        help="frames the generator works on at once, each on a thread of its own (default 1; 2 keeps "
                             "both cores of a 2-core CPU generating, at a frame's extra latency)")
    layout.add_argument("--detect-width", type=int,
                        help="track the camera's face on the frame scaled to this width in px (default: full frame)")
    add_render_options(live)
    add_mix_options(live, source_clip=False)
    live.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from reenact import api
    from reenact.tracking.live import LiveTrackingConfig

    camera = int(args.camera) if args.camera.isdigit() else Path(args.camera)
    sink = args.sink if args.sink in ("window", "virtualcam") else Path(args.sink)
    config = api.LiveConfig(
        camera=camera, sink=sink, background=args.background, recombine=recombine_config(args),
        blend=blend_config(args), watermark=args.watermark, overlay=args.overlay, loop_camera=args.loop,
        max_seconds=args.seconds, report_every=args.report_every, generate_depth=args.generate_depth,
        tracking=LiveTrackingConfig(detect_width=args.detect_width),
    )
    if args.threads is None:
        args.threads = 1  # measured faster with 1 generator thread beside the other stages
    session = api.LiveSession(args.model, config, backend_config(args), say=lambda line: print(line, file=sys.stderr))
    summary = session.run()
    print(f"{summary.line()} -> {summary.output}")
    return EXIT_INTERRUPTED if summary.interrupted else 0
