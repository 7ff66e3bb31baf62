"""`reenact aus`: a performance in FACS terms, the action units' intensities over time (a plot and a CSV)."""

from __future__ import annotations

import argparse
from pathlib import Path

from reenact.cli.common import add_cuts_option, progress_bar

GROUPS: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("brows", (1, 2, 4)),
    ("eyes", (5, 6, 7, 45)),
    ("nose, upper lip", (9, 10)),
    ("lip corners", (12, 14, 15, 20)),
    ("lips", (16, 17, 23, 24)),
    ("mouth opening", (25, 26, 27)),
)
"""The plot's panels: AU numbers drawn together."""


def add_parser(commands: argparse._SubParsersAction) -> None:
    aus = commands.add_parser(
        "aus",
        help="read a clip's facial action units (FACS) over time: a plot and a CSV",
        description=(
            "Estimate the intensity of each FACS action unit (AU1 inner brow raiser ... AU45 blink; "
            "12, 14 and 45 per side) in every frame of a clip or a track: each frame's expression change from "
            "the clip's most neutral frame, fitted as a bounded non-negative mix of the AUs' movements on the "
            "face, with the eyes' measured openness for the lids. Writes a plot of the curves and, beside it "
            "with the same name, a CSV (one row per frame). Intensity 1 is the pronounced movement the AU's "
            "definition describes (see docs/aus.png)."
        ),
    )
    aus.add_argument("clip", type=Path, nargs="?", metavar="CLIP_OR_TRACK",
                     help="a video, or a track (.npz from `reenact track`)")
    aus.add_argument("-o", "--output", type=Path, help="the plot (.png); the CSV goes beside it")
    aus.add_argument("--model", type=Path,
                     help="a trained model: list, per AU, the share of its movement the target's expression basis "
                          "reproduces (what --au edits can reach); with a clip, track it in the model's face model")
    aus.add_argument("--reference", type=int, help="the neutral frame (default: found automatically)")
    add_cuts_option(aus, "--cuts", "the video (when tracking one)")
    aus.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from reenact import api
    from reenact.errors import InputError, SettingError
    from reenact.facs.reading import read_track
    from reenact.facs.units import LABELS
    from reenact.output_paths import check_outputs
    from reenact.params import Track
    from reenact.tracking.cut_list import parse_cuts

    if args.model is None and args.clip is None:
        raise SettingError("give a clip or track to read, or --model to list what its target can reach")
    if args.clip is not None and args.output is None:
        raise SettingError("-o is needed to write the plot and the CSV of the clip's action units")
    target = api.Target.load(args.model) if args.model is not None else None
    if target is not None:
        print_reach(target.track)
        if args.clip is None:
            return 0
    csv = args.output.with_suffix(".csv")
    check_outputs({"-o": args.output, "CSV": csv}, {"input": args.clip})
    if args.clip.suffix == ".npz":
        track = Track.load(args.clip)
    elif target is not None:
        track = target.clip_track(args.clip, parse_cuts(args.cuts), bars=progress_bar)
    else:
        track = api.track(args.clip, parse_cuts(args.cuts), bars=progress_bar)
    if not track.params.valid.any():
        raise InputError(f"no frame of {args.clip} shows a face; there are no action units to read")
    if args.reference is not None and not (0 <= args.reference < track.n_frames and track.params.valid[args.reference]):
        raise SettingError(f"--reference {args.reference} is not a frame with a face (the clip has {track.n_frames})")
    reading = read_track(track, args.reference)
    reading.write_csv(csv)
    plot(reading, args.output, title=args.clip.name)
    peaks = np.nanmax(reading.intensities, axis=0)
    strongest = ", ".join(f"{LABELS[i]} {peaks[i]:.2f}" for i in np.argsort(-peaks)[:5])
    print(f"{track.n_frames} frames, neutral frame {reading.reference}; strongest peaks: {strongest} "
          f"-> {args.output}, {csv}")
    return 0


def print_reach(track) -> None:
    """Per AU, the share of its movement the track's expression basis reproduces, and whether edits warn."""
    from reenact.edits import MIN_REACH, Editor
    from reenact.facs.units import ACTION_UNITS

    editor = Editor(track)
    print(f"AU reach of the target's {track.model.n_components}-component expression basis "
          f"(under {MIN_REACH:.0%}: out of reach, --au warns):")
    for index, unit in enumerate(ACTION_UNITS):
        reach = editor.reach(index)
        print(f"  {unit.label:<7} {unit.name:<22} {reach:4.0%}" + ("  out of reach" if reach < MIN_REACH else ""))


def plot(reading, path: Path, title: str) -> None:
    """The AU curves over time, one panel per face part (`GROUPS`), written to `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from reenact.facs.reading import MAX_INTENSITY
    from reenact.facs.units import ACTION_UNITS

    time = np.arange(len(reading.intensities)) / reading.fps
    figure, axes = plt.subplots(len(GROUPS), 1, figsize=(11, 1.7 * len(GROUPS)), sharex=True)
    for ax, (name, numbers) in zip(axes, GROUPS):
        for i, unit in enumerate(ACTION_UNITS):
            if unit.number in numbers:
                ax.plot(time, reading.intensities[:, i], linewidth=1, label=unit.label)
        ax.set_ylim(0, MAX_INTENSITY)
        ax.set_ylabel(name, fontsize=8)
        ax.legend(loc="upper right", fontsize=7, ncol=4, frameon=False)
        ax.grid(alpha=0.3)
    axes[0].set_title(f"{title}: action unit intensities (relative to frame {reading.reference})", fontsize=9)
    axes[-1].set_xlabel("time (s)")
    figure.tight_layout()
    try:
        figure.savefig(path, dpi=90)
    finally:
        plt.close(figure)
