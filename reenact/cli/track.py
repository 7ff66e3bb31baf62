"""`reenact track`: a video into per-frame face parameters, with an overlay to check the fit by eye."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from reenact.cli.common import add_cuts_option, progress_bar


def add_parser(commands: argparse._SubParsersAction) -> None:
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
    track.add_argument("--preview", type=Path,
                       help="also write an overlay video (mesh, head axes, gaze) to check the fit by eye")
    track.add_argument("--face", type=int, default=0,
                       help="which face to follow when several are in view: 0 the largest at the start (default), "
                            "1 the next, ...")
    track.add_argument("--max-faces", type=int, default=2,
                       help="faces to look for per frame (default 2; more is slower)")
    track.add_argument("--no-smooth", action="store_true", help="turn off temporal filtering of landmarks and pose")
    track.add_argument("--aus", action="store_true",
                       help="with --preview, also write each frame's strongest action units (FACS) on it")
    add_cuts_option(track, "--cuts", "the video")
    track.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from reenact import api
    from reenact.output_paths import check_outputs
    from reenact.tracking.cut_list import parse_cuts
    from reenact.tracking.fitting import inter_ocular_distance
    from reenact.tracking.overlay import overlay_frames
    from reenact.video_io import VideoReader, VideoWriter

    cuts = parse_cuts(args.cuts)
    check_outputs({"-o": args.output, "--preview": args.preview}, {"video": args.video})
    reader = VideoReader(args.video)
    start = time.perf_counter()
    track = api.track(args.video, cuts, face=args.face, max_faces=args.max_faces, smooth=not args.no_smooth,
                      bars=progress_bar)
    elapsed = time.perf_counter() - start
    track.save(args.output)

    iod = float(np.nanmedian(inter_ocular_distance(track.landmarks)))
    error = float(np.nanmedian(track.fit_error))
    print(
        f"{track.n_frames} frames in {elapsed:.1f} s ({track.n_frames / elapsed:.0f} fps): "
        f"face in {track.params.valid.mean():.1%}, {len(track.cuts)} shot cut(s), "
        f"{track.model.n_components} expression components, "
        f"median fit error {error:.2f} px ({100 * error / iod:.1f}% of inter-ocular distance) -> {args.output}"
    )
    for number, cut in enumerate(track.cuts.tolist(), start=2):
        print(f"shot {number} starts at {cut / track.fps:.2f} s (frame {cut})")
    if args.preview:
        notes = None
        if args.aus:
            from reenact.facs.reading import read_track

            reading = read_track(track)
            notes = [reading.strongest(frame) for frame in range(track.n_frames)]
        with VideoWriter(args.preview, reader.fps, reader.width, reader.height) as writer, \
                progress_bar("preview", track.n_frames) as update:
            for frame in overlay_frames(reader, track, notes):
                writer.write(frame)
                update(1)
        print(f"preview -> {args.preview}")
    return 0
