"""The `reenact` command: parse, call the library, report. Heavy imports stay inside each command.

Library errors (`ReenactError`) become one line on stderr and exit status 2;
Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from reenact import __version__
from reenact.errors import ReenactError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


def _progress_bar(total: int | None, desc: str):
    from tqdm import tqdm

    return tqdm(total=total or None, desc=desc, unit="frame", dynamic_ncols=True, leave=True)


def cmd_track(args: argparse.Namespace) -> int:
    import numpy as np

    from reenact.pipeline.video_io import VideoReader, VideoWriter
    from reenact.tracking.fitting import inter_ocular_distance
    from reenact.tracking.landmarks import LandmarkConfig
    from reenact.tracking.overlay import overlay_frames
    from reenact.tracking.tracker import TrackerConfig, track_video

    if args.face < 0:
        raise ReenactError(f"--face must be 0 or more (0 = the largest face), got {args.face}")
    config = TrackerConfig(
        landmarks=LandmarkConfig(face=args.face, max_faces=max(args.max_faces, args.face + 1)),
        smooth=not args.no_smooth,
    )
    reader = VideoReader(args.video)
    start = time.perf_counter()
    with _progress_bar(reader.n_frames, "tracking") as bar:
        track = track_video(args.video, config, progress=bar.update)
    elapsed = time.perf_counter() - start
    track.save(args.output)

    valid = track.params.valid
    iod = float(np.nanmedian(inter_ocular_distance(track.landmarks)))
    error = float(np.nanmedian(track.fit_error))
    print(
        f"{track.n_frames} frames in {elapsed:.1f} s ({track.n_frames / elapsed:.0f} fps): "
        f"face in {valid.mean():.1%}, {len(track.cuts)} shot cut(s), "
        f"{track.model.n_components} expression components, "
        f"median fit error {error:.2f} px ({100 * error / iod:.1f}% of inter-ocular distance) -> {args.output}"
    )
    if args.preview:
        with VideoWriter(args.preview, reader.fps, reader.width, reader.height) as writer, \
                _progress_bar(track.n_frames, "preview") as bar:
            for frame in overlay_frames(reader, track):
                writer.write(frame)
                bar.update(1)
        print(f"preview -> {args.preview}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reenact",
        description=(
            "Neural video reenactment: the head pose, expression and gaze of a source actor "
            "drive a photo-real video of a target actor, rendered by a generator trained on "
            "a few minutes of the target's video."
        ),
        epilog="Run `reenact COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"reenact {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    track = commands.add_parser(
        "track",
        help="track a video into per-frame 3D face parameters (.npz)",
        description=(
            "Track a face through a video with MediaPipe Face Mesh (478 landmarks with irises), "
            "fit head pose, the subject's neutral shape and expression basis, gaze and eye "
            "openness per frame, detect shot cuts, and save the track as .npz."
        ),
    )
    track.add_argument("video", type=Path, help="input video file")
    track.add_argument("-o", "--output", type=Path, required=True, help="output track (.npz)")
    track.add_argument("--preview", type=Path, help="also write an overlay video (mesh, head axes, gaze) to check the fit by eye")
    track.add_argument("--face", type=int, default=0, help="which face to follow when several are in view: 0 the largest at the start (default), 1 the next, ...")
    track.add_argument("--max-faces", type=int, default=2, help="faces to look for per frame (default 2; more is slower)")
    track.add_argument("--no-smooth", action="store_true", help="turn off temporal filtering of landmarks and pose")
    track.set_defaults(run=cmd_track)
    return parser


def _silence_native_stderr() -> None:
    """Send native libraries' stderr (MediaPipe/TFLite start-up logging) to /dev/null.

    Python's own `sys.stderr` (progress bars, error lines) is moved to a copy of
    the original stream first, so the user still sees everything reenact says.
    """
    sys.stderr.flush()
    sys.stderr = os.fdopen(os.dup(2), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if argv is None:  # a real command line, not a call from tests
        _silence_native_stderr()
    try:
        return args.run(args)
    except ReenactError as e:
        print(f"reenact {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"reenact {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
