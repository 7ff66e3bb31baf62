"""What the commands share: progress bars, the option groups, and turning options into library configs.

Only torch-free modules are imported here (the option choices come from the
library's own constants), so that `reenact --help` starts at once.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from reenact.facs.units import EMOTIONS
from reenact.recombine import MODES, RecombineConfig, RegionWeights
from reenact.render.blend import BLEND_MASKS, BLEND_METHODS, BlendConfig
from reenact.runtime.config import BACKENDS, DEFAULT_ENGINES_DIR, DEVICES, BackendConfig

if TYPE_CHECKING:
    from reenact.edits import Timing


@contextlib.contextmanager
def progress_bar(description: str, total: int | None) -> Iterator:
    """A tqdm bar over frames, as `reenact.api.Bars` wants it: the context yields its update function."""
    from tqdm import tqdm

    with tqdm(total=total or None, desc=description, unit="frame", dynamic_ncols=True, leave=True) as bar:
        yield bar.update


def add_cuts_option(parser: argparse.ArgumentParser, flag: str, clip: str) -> None:
    """Where the shots of a clip start (parsed by the command, so a bad value is one error line)."""
    parser.add_argument(
        flag, default="auto", metavar="CUTS",
        help=f"shot cuts of {clip}, where every temporal filter restarts: auto (detect them, the default), "
             "none (one shot), or a comma-separated list of the first frames of new shots, as times in "
             "seconds with an s (12.5s,30s) or frame numbers from 0 (300,750)",
    )


def add_backend_options(parser: argparse.ArgumentParser) -> None:
    """Which inference backend runs the generator."""
    infer = parser.add_argument_group("inference")
    infer.add_argument("--backend", default="auto", choices=BACKENDS,
                       help="generator backend; auto takes the fastest present (TensorRT > ONNX Runtime CUDA > "
                            "torch CUDA > ONNX Runtime CPU > torch CPU) and says which")
    infer.add_argument("--device", default="auto", choices=DEVICES, help="where the generator runs")
    infer.add_argument("--threads", type=int,
                       help="CPU threads for the generator (default: all cores; live: 1, beside its other stages)")
    infer.add_argument("--fp32", action="store_true",
                       help="full precision (default: FP16 on CUDA, and on CPUs the INT8 generator when the model has "
                            "one)")
    infer.add_argument("--engines", type=Path, default=DEFAULT_ENGINES_DIR,
                       help=f"folder of cached TensorRT engines (default {DEFAULT_ENGINES_DIR}/)")


def add_render_options(parser: argparse.ArgumentParser) -> None:
    """Inference and output options of the commands that render video."""
    add_backend_options(parser)
    out = parser.add_argument_group("output")
    out.add_argument("--blend", default="feather", choices=BLEND_METHODS,
                     help="paste-back: feathered edge with colour matching at the seam (default), or Poisson")
    out.add_argument("--mask", default="crop", choices=BLEND_MASKS,
                     help="what is pasted back: the whole generated crop (default) or only the face and its surround")
    out.add_argument("--watermark", action="store_true", help="add a small visible 'synthetic' mark")


def add_mix_options(parser: argparse.ArgumentParser, source_clip: bool = True) -> None:
    """How a source drives the target (`source_clip`: the options that need a whole source clip)."""
    mix = parser.add_argument_group("recombination (with --source)")
    mix.add_argument("--mode", default="full", choices=list(MODES),
                     help="what the source drives: full (pose, expression, gaze), expression (keeps the target's "
                          "head pose), pose, or gaze (default full)")
    mix.add_argument("--mouth", type=float, default=1.0, help="how much the mouth and jaw follow the source, 0..1")
    mix.add_argument("--eyes", type=float, default=1.0, help="how much eyes, lids and gaze follow the source, 0..1")
    mix.add_argument("--brows", type=float, default=1.0, help="how much the brows follow the source, 0..1")
    mix.add_argument("--intensity", type=float, default=1.0,
                     help="scale of the source's expression change: 0 neutral, 1 as driven, >1 exaggerated")
    mix.add_argument("--absolute", action="store_true",
                     help="transfer absolute pose/expression instead of changes from each side's neutral frame")
    mix.add_argument("--target-ref", type=int,
                     help="the target's neutral reference frame (default: found automatically)")
    parser.set_defaults(source_ref=None, loop_source=False)
    if source_clip:
        mix.add_argument("--source-ref", type=int,
                         help="the source's neutral reference frame (default: found automatically)")
        mix.add_argument("--loop-source", action="store_true",
                         help="loop a shorter source over the whole target (default: stop at the shorter clip)")


def add_edit_options(parser: argparse.ArgumentParser) -> None:
    """Direct edits of the output parameters, keyframed."""
    edit = parser.add_argument_group("direct edits (with or without a source)")
    edit.add_argument("--edits", type=Path, metavar="EDITS.json",
                      help="edits saved by the browser editor (`reenact ui`) or written by hand (the README's "
                           "edits-file format, timings in frames); the flags below add to them")
    edit.add_argument("--turn-head", type=float, nargs="+", metavar="DEG",
                      help="turn the head by YAW [PITCH [ROLL]] degrees")
    edit.add_argument("--smile", type=float, help="smile amount (1 = the target's biggest smile; negative frowns)")
    edit.add_argument("--close-eye", choices=["both", "left", "right"], help="close an eye (the subject's left/right)")
    edit.add_argument("--look", type=float, nargs=2, metavar=("X", "Y"),
                      help="set the gaze, in half eye widths (x to the subject's left, y up)")
    edit.add_argument("--au", action="append", default=[], metavar="AU=VALUE[@START-FULL[-RELEASE]]",
                      help="set a FACS action unit's intensity (0..1.5; 1 = the pronounced movement of its "
                           "definition, docs/aus.png): 12=0.8, L45=1@4.1-4.3-4.3 (a left blink); 12, 14 and 45 "
                           "take L/R for one side (43 is 45); times in seconds: eased in from START to FULL, "
                           "eased out from RELEASE over as long (default: the --edit-* frames); repeatable")
    edit.add_argument("--emotion", action="append", default=[], metavar="NAME=AMOUNT[@START-FULL[-RELEASE]]",
                      help=f"an EMFACS expression, its action units all set to AMOUNT: {', '.join(EMOTIONS)}")
    edit.add_argument("--au-mode", default="set", choices=["set", "add"],
                      help="--au/--emotion move each frame's own intensity to the value (set, default) or add it")
    edit.add_argument("--edit-start", type=int, default=0, help="frame where the edits start to act (default 0)")
    edit.add_argument("--edit-end", type=int, help="frame where they act fully (eased in between; default: at once)")
    edit.add_argument("--edit-release", type=int, help="frame where they start to ease back out (default: never)")


def recombine_config(args: argparse.Namespace) -> RecombineConfig:
    return RecombineConfig(
        mode=args.mode,
        weights=RegionWeights(mouth=args.mouth, eyes=args.eyes, brows=args.brows),
        intensity=args.intensity,
        relative=not args.absolute,
        source_ref=args.source_ref,
        target_ref=args.target_ref,
    )


def edits(args: argparse.Namespace, fps: Callable[[], float]) -> list:
    """The direct edits the options ask for: an --edits file's first, then the flags': --au and --emotion on
    their own times (seconds, at the target clip's frame rate, `fps()`, asked only then) where they give them,
    the others on one keyframed timing."""
    from reenact import edits_file
    from reenact.edits import LookAt, SetActionUnit, SetEyeOpenness, Smile, Timing, TurnHead, emotion_edits

    timing = Timing(start=args.edit_start, end=max(args.edit_start, args.edit_end or args.edit_start),
                    release=args.edit_release)
    chosen: list = edits_file.expand(edits_file.read(args.edits)) if args.edits is not None else []
    if args.turn_head:
        chosen.append(TurnHead(*args.turn_head, timing=timing))
    if args.smile is not None:
        chosen.append(Smile(args.smile, timing=timing))
    if args.close_eye:
        chosen.append(SetEyeOpenness(0.0, eye=args.close_eye, timing=timing))
    if args.look:
        chosen.append(LookAt(*args.look, timing=timing))
    for spec in args.au:
        code, value, au_timing = parse_keyed_value("--au", spec, fps, timing)
        chosen.append(SetActionUnit(code, value, mode=args.au_mode, timing=au_timing))
    for spec in args.emotion:
        name, value, au_timing = parse_keyed_value("--emotion", spec, fps, timing)
        chosen += [dataclasses.replace(edit, mode=args.au_mode) for edit in emotion_edits(name, value, au_timing)]
    return chosen


def parse_keyed_value(flag: str, spec: str, fps: Callable[[], float], default: Timing) -> tuple[str, float, Timing]:
    """KEY=VALUE[@START-FULL[-RELEASE]] (times in seconds) into the key, the value and its timing in frames."""
    from reenact.edits import Timing
    from reenact.errors import SettingError

    form = f"{flag} {spec!r}: expected KEY=VALUE[@START-FULL[-RELEASE]], times in seconds"
    key, equals, rest = spec.partition("=")
    value_text, at, times_text = rest.partition("@")
    if not equals or not key.strip():
        raise SettingError(form)
    try:
        value = float(value_text)
        times = [float(t) for t in times_text.split("-")] if at else []
    except ValueError:
        raise SettingError(f"{form}; {value_text if not at else rest!r} is not a number") from None
    if at and not 2 <= len(times) <= 3:
        raise SettingError(f"{form}; give two or three times")
    if not at:
        return key.strip(), value, default
    rate = fps()
    start, full, *release = (round(t * rate) for t in times)
    return key.strip(), value, Timing(start=start, end=full, release=release[0] if release else None)


def backend_config(args: argparse.Namespace) -> BackendConfig:
    return BackendConfig(backend=args.backend, device=args.device, threads=args.threads, fp16=not args.fp32,
                         engines_dir=args.engines, int8=False if args.fp32 else None)


def blend_config(args: argparse.Namespace) -> BlendConfig:
    return BlendConfig(mask=args.mask, method=args.blend)
