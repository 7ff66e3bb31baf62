"""The `reenact` command: parse, call the library, report. Heavy imports stay inside each command.

Library errors (`ReenactError`) become one line on stderr and exit status 2;
Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import time
from pathlib import Path

from reenact import __version__
from reenact.errors import InputError, OutputError, ReenactError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM})
"""OSError numbers of a write the machine refused (disk full, read-only, not permitted): one line, exit 2."""


def _progress_bar(total: int | None, desc: str):
    from tqdm import tqdm

    return tqdm(total=total or None, desc=desc, unit="frame", dynamic_ncols=True, leave=True)


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (through links, relative parts and hard links)."""
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def _check_outputs(outputs: dict[str, Path | None], inputs: dict[str, Path | None], folders: tuple[str, ...] = ()) -> None:
    """Refuse, before any work, an output that is one of the inputs (or another output), or that cannot be
    written: its folder is a file or not writable. `folders` names the outputs that are folders."""
    existing = [(role, path) for role, path in inputs.items() if path is not None and path.exists()]
    given = [(role, path) for role, path in outputs.items() if path is not None]
    for index, (role, path) in enumerate(given):
        for other, input_path in existing + given[:index]:
            if _same_file(path, input_path):
                kind = "an output too" if (other, input_path) in given else "an input"
                raise InputError(f"{role} {path} is the {other}, {kind}: writing it would destroy that; "
                                 "choose another output path")
        if role in folders and path.exists() and not path.is_dir():
            raise OutputError(f"{role} {path} is a file; it must be a folder (or a new name)")
        if role not in folders and path.is_dir():
            raise OutputError(f"{role} {path} is a folder; give a file name")
        parent = path if role in folders else path.parent
        parent = parent.absolute()
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir():
            raise OutputError(f"cannot write {role} {path}: {parent} is a file, not a folder")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise OutputError(f"cannot write {role} {path}: the folder {parent} is not writable")


def _model_files(folder) -> dict[str, Path]:
    """The files of a model folder, as inputs no output may overwrite."""
    from reenact.model_folder import CHECKPOINT, MODEL_JSON, RENDER_FILES

    return {f"model's {name}": folder.path / name for name in (MODEL_JSON, *RENDER_FILES, CHECKPOINT)}


def cmd_track(args: argparse.Namespace) -> int:
    import numpy as np

    from reenact.pipeline.video_io import VideoReader, VideoWriter
    from reenact.tracking.fitting import inter_ocular_distance
    from reenact.tracking.landmarks import LandmarkConfig
    from reenact.tracking.cut_list import parse_cuts
    from reenact.tracking.overlay import overlay_frames
    from reenact.tracking.tracker import TrackerConfig, track_video

    if args.face < 0:
        raise ReenactError(f"--face must be 0 or more (0 = the largest face), got {args.face}")
    config = TrackerConfig(
        landmarks=LandmarkConfig(face=args.face, max_faces=max(args.max_faces, args.face + 1)),
        cut_list=parse_cuts(args.cuts),
        smooth=not args.no_smooth,
    )
    _check_outputs({"-o": args.output, "--preview": args.preview}, {"video": args.video})
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
    for number, cut in enumerate(track.cuts.tolist(), start=2):
        print(f"shot {number} starts at {cut / track.fps:.2f} s (frame {cut})")
    if args.preview:
        with VideoWriter(args.preview, reader.fps, reader.width, reader.height) as writer, \
                _progress_bar(track.n_frames, "preview") as bar:
            for frame in overlay_frames(reader, track):
                writer.write(frame)
                bar.update(1)
        print(f"preview -> {args.preview}")
    return 0


def _load_track(path: Path, role: str):
    from reenact.params import Track

    track = Track.load(path)
    if not track.params.valid.any():
        raise ReenactError(f"the {role} track {path} has no frame with a face")
    return track


def _recombine_config(args: argparse.Namespace):
    from reenact.recombine import RecombineConfig, RegionWeights

    try:
        return RecombineConfig(
            mode=args.mode,
            weights=RegionWeights(mouth=args.mouth, eyes=args.eyes, brows=args.brows),
            intensity=args.intensity,
            relative=not args.absolute,
            source_ref=args.source_ref,
            target_ref=args.target_ref,
        )
    except ValueError as e:
        raise ReenactError(str(e)) from None


def _edits(args: argparse.Namespace) -> list:
    from reenact.edits import LookAt, SetEyeOpenness, Smile, Timing, TurnHead

    try:
        timing = Timing(start=args.edit_start, end=max(args.edit_start, args.edit_end or args.edit_start),
                        release=args.edit_release)
        edits: list = []
        if args.turn_head:
            edits.append(TurnHead(*args.turn_head, timing=timing))
        if args.smile is not None:
            edits.append(Smile(args.smile, timing=timing))
        if args.close_eye:
            edits.append(SetEyeOpenness(0.0, eye=args.close_eye, timing=timing))
        if args.look:
            edits.append(LookAt(*args.look, timing=timing))
        return edits
    except ValueError as e:
        raise ReenactError(str(e)) from None


def _output_params(target, source, args: argparse.Namespace, motion=None):
    """Recombined (when a source is given) and edited parameters for the target's frames.

    `motion`: the track the edits learn the person's lid and smile motion from (a model's own training
    track: a short shot of the target may never blink); default the target's.
    """
    from reenact.edits import Editor
    from reenact.recombine import recombine

    params = recombine(source, target, _recombine_config(args), args.loop_source) if source else target.params
    edits = _edits(args)
    if edits:
        try:
            params = Editor(motion or target).apply(params, edits)
        except ValueError as e:
            raise ReenactError(str(e)) from None
    return params


def _video_for(track, override: Path | None, role: str) -> Path:
    path = override or (Path(track.source) if track.source else None)
    if path is None or not path.is_file():
        raise ReenactError(f"the {role} video {path} is not there; give it with --{role}-video")
    return path


def cmd_condition(args: argparse.Namespace) -> int:
    import contextlib
    import itertools

    import numpy as np

    from reenact.pipeline.video_io import VideoReader, VideoWriter
    from reenact.render.conditioning import ConditioningConfig, condition_clip
    from reenact.render.crop import CropConfig
    from reenact.render.preview import conditioning_panels, draw_window, side_by_side

    target = _load_track(args.target, "target")
    source = _load_track(args.source, "source") if args.source else None
    target_video = _video_for(target, args.target_video, "target")
    source_video = _video_for(source, args.source_video, "source") if source else None
    _check_outputs({"-o": args.output}, {"target track": args.target, "source track": args.source,
                                         "target video": target_video, "source video": source_video})
    params = _output_params(target, source, args)
    n = len(params) if args.frames is None else min(args.frames, len(params))
    try:
        config = ConditioningConfig(crop=CropConfig(size=args.size), window=args.window)
    except ValueError as e:
        raise ReenactError(str(e)) from None
    from reenact.recombine import output_cuts

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
    with contextlib.ExitStack() as cleanup, _progress_bar(n, "conditioning") as bar:
        for conditioned, target_rgb in zip(frames, target_frames):
            panels = [next(source_frames, blank)] if source_frames else []
            panels += [draw_window(target_rgb, conditioned.window), *conditioning_panels(conditioned)]
            tile = side_by_side(panels, args.size, labels)
            if writer is None:
                writer = cleanup.enter_context(VideoWriter(args.output, target.fps, tile.shape[1], tile.shape[0]))
            writer.write(tile)
            bar.update(1)
    print(f"{n} frames of conditioning ({config.window} frames x 5 channels at {args.size}x{args.size}) -> {args.output}")
    return 0


def _train_config(args: argparse.Namespace):
    from reenact.train.config import train_preset

    try:
        return train_preset(args.preset, steps=args.steps, batch_size=args.batch_size, size=args.size,
                            context=False if args.no_context else None, texture_channels=args.texture_channels,
                            detail_gain=args.detail_gain)
    except ValueError as e:
        raise ReenactError(str(e)) from None


def cmd_train(args: argparse.Namespace) -> int:
    import json

    config = _train_config(args)
    if args.dry_run:
        from reenact.render.conditioning import N_CHANNELS, ConditioningConfig
        from reenact.train.config import network_for

        network = network_for(config, ConditioningConfig().window, N_CHANNELS)
        try:
            config.check(network)
        except ValueError as e:
            raise ReenactError(str(e)) from None
        print(json.dumps({"train": config.to_dict(), "network": network.name}, indent=2, default=str))
        return 0
    from reenact.model_folder import CHECKPOINT, GENERATOR_ONNX, GENERATOR_WEIGHTS, MODEL_JSON, TRACK
    from reenact.train.run import train_target

    written = {f"-o {args.output}'s {name}": args.output / name
               for name in (MODEL_JSON, GENERATOR_WEIGHTS, GENERATOR_ONNX, TRACK, CHECKPOINT, "log.csv")}
    _check_outputs({"-o": args.output, **written}, {"target clip": args.target, "--track": args.track},
                   folders=("-o",))
    result = train_target(
        args.target, args.output, config, track_path=args.track, resume=args.resume, force=args.force,
        device=args.device, time_limit=None if args.minutes is None else 60 * args.minutes,
    )
    metrics = result.metrics
    print(
        f"{result.steps} steps in {result.seconds / 60:.1f} min; held-out tail: PSNR {metrics.get('psnr', float('nan')):.2f} dB, "
        f"SSIM {metrics.get('ssim', float('nan')):.3f} (face: {metrics.get('psnr_face', float('nan')):.2f} dB) -> {result.folder.path}"
    )
    print(f"previews in {result.folder.path / 'previews'}, log in {result.folder.path / 'log.csv'}")
    return 0


def _open_backend(args: argparse.Namespace, folder):
    """The inference backend the options ask for; says which one `auto` picked."""
    from reenact.runtime.backend import BackendConfig
    from reenact.runtime.selection import open_backend

    try:
        config = BackendConfig(backend=args.backend, device=args.device, threads=args.threads, fp16=not args.fp32,
                               engines_dir=args.engines, int8=False if args.fp32 else None)
    except ValueError as e:
        raise ReenactError(str(e)) from None
    selection = open_backend(folder, config)
    skipped = ", ".join(str(candidate) for candidate, _ in selection.skipped)
    print(f"backend: {selection.backend.describe()}" + (f" (not available here: {skipped})" if skipped else ""),
          file=sys.stderr)
    for note in selection.notes():  # e.g. why the INT8 generator was not used
        print(f"backend: {note}", file=sys.stderr)
    return selection.backend


def _target_track(folder, clip: Path, cuts=None):
    """The target clip's track in the model's face model: the model's own track for its training clip
    (unless `cuts`, a `CutList` other than auto, asks for other cuts: its filters must restart there),
    else the clip tracked now and fitted against the model (its identity is what the generator knows)."""
    from reenact.model_folder import file_hash

    if (cuts is None or cuts.detect) and file_hash(clip) == folder.info().data_hash:
        return folder.load_track()
    return _track_clip(clip, "tracking target", model=folder.load_track().model, cuts=cuts)


def _track_clip(clip: Path, desc: str = "tracking source", model=None, cuts=None):
    """Track a clip with a progress bar (fitted against `model` when given; shot cuts as `cuts`, a
    `CutList`, says: detected when None)."""
    from reenact.pipeline.video_io import VideoReader
    from reenact.tracking.cut_list import AUTO
    from reenact.tracking.tracker import TrackerConfig, track_video

    with _progress_bar(VideoReader(clip).n_frames, desc) as bar:
        return track_video(clip, TrackerConfig(cut_list=cuts or AUTO), progress=bar.update, model=model)


def cmd_run(args: argparse.Namespace) -> int:
    """`run` (a source drives the target clip) and `edit` (direct edits of the target clip)."""
    import itertools

    from reenact.model_folder import open_model
    from reenact.pipeline.label import provenance, synthetic_metadata
    from reenact.pipeline.offline import OfflineConfig, rerender_clip
    from reenact.pipeline.stages import Composite, Conditioner, Generate
    from reenact.pipeline.video_io import VideoReader
    from reenact.recombine import output_cuts
    from reenact.render.blend import BlendConfig
    from reenact.render.edit_mask import edit_regions
    from reenact.tracking.cut_list import parse_cuts

    source_path = getattr(args, "source", None)
    target_cuts = parse_cuts(args.cuts)
    source_cuts = parse_cuts(args.source_cuts) if source_path else None
    folder = open_model(args.model)
    _check_outputs({"-o": args.output, "--review": args.review},
                   {"target": args.target, "source": source_path, **_model_files(folder)})
    readers = {clip: VideoReader(clip) for clip in (args.target, source_path) if clip is not None}  # checked up front
    still = source_path is not None and readers[source_path].is_still
    if still:  # one photo: its expression, fitted in the target's face model, held over the whole clip
        args.loop_source, args.absolute = True, True
        print(f"{source_path.name} is a still image: its expression and head pose are held over the whole clip",
              file=sys.stderr)
    model_track = folder.load_track()
    target = _target_track(folder, args.target, target_cuts)
    source = (_track_clip(source_path, "tracking source photo", model=target.model) if still else
              _track_clip(source_path, cuts=source_cuts) if source_path else None)
    params = _output_params(target, source, args, motion=model_track)
    # Cuts of either clip restart the crop follower and the conditioning stack.
    cuts = output_cuts(source, target, args.loop_source) if source else target.cuts
    if not params.valid.any():
        raise ReenactError(f"no frame of {args.target} shows a face; nothing to re-render")
    backend = _open_backend(args, folder)
    reader = readers[args.target]
    metadata = synthetic_metadata(folder.model_hash(), folder.path.name, extra={
        "command": args.command, **provenance("target", args.target), **provenance("source", source_path)})
    source_frames = None
    if source_path and args.review:
        source_frames = itertools.cycle(VideoReader(source_path)) if args.loop_source else iter(VideoReader(source_path))
    try:
        blend_config = BlendConfig(mask=args.mask, method=args.blend)
    except ValueError as e:
        raise ReenactError(str(e)) from None
    config = OfflineConfig(batch=args.batch, review=args.review, metadata=metadata)
    total = min(len(params), reader.n_frames) if reader.n_frames else len(params)
    with _progress_bar(total, "rendering") as bar:
        edit = edit_regions(_recombine_config(args) if source else None, _edits(args))
        conditioner = Conditioner(folder, target.model, reader.fps, (reader.width, reader.height), edit)
        summary = rerender_clip(
            args.target, params, cuts, args.output, conditioner, Generate(backend, conditioner.context),
            Composite(blend_config, mark=args.watermark, context=conditioner.context), config, source_frames, bar.update,
            target_params=target.params,
        )
    print(f"{summary.line()} -> {args.output}" + (f" (review: {args.review})" if args.review else ""))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from reenact.runtime.export import export_model

    if args.format is None and not args.int8:
        raise ReenactError("say what to export: --format onnx, --format tensorrt, or --int8")
    if args.format is not None:
        print(export_model(args.model, args.format, fp16=args.fp16, engines_dir=args.engines).summary)
    if args.int8:
        from reenact.runtime.quantize import export_int8

        print(export_int8(args.model, say=lambda line: print(line, file=sys.stderr)).summary)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import json

    import torch

    from reenact.eval.evaluate import evaluate_cross, evaluate_self
    from reenact.eval.report import VIDEO, write_report
    from reenact.model_folder import open_model
    from reenact.pipeline.stages import Generate
    from reenact.pipeline.video_io import VideoReader

    folder = open_model(args.model)
    reports = {f"-o {args.output}'s {name}": args.output / name
               for name in ("metrics.json", "report.md", "metrics.png", VIDEO)}
    _check_outputs({"-o": args.output, **reports}, {"target": args.target, "source": args.source,
                                                    "training clip": args.clip, **_model_files(folder)},
                   folders=("-o",))
    for clip in (args.target, args.source, args.clip):
        if clip is not None:
            VideoReader(clip)  # check every input before the long work starts
    if args.target and args.source:
        raise ReenactError("give --target (self-reenactment of another clip) or --source (cross-reenactment), not both")
    generate = Generate(_open_backend(args, folder), folder.info().generator.context)
    if generate.backend.name != "torch":
        torch.set_num_threads(1)  # only the rasteriser uses torch then; one thread is fastest for its small ops

    def render(frame, target):
        return generate([frame], [target])[0]

    args.output.mkdir(parents=True, exist_ok=True)
    video = args.output / VIDEO
    if args.source:
        result = evaluate_cross(folder, render, args.source, _track_clip(args.source), _recombine_config(args),
                                training_clip=args.clip, video=video)
    else:
        target = (args.target, _target_track(folder, args.target)) if args.target else None
        result = evaluate_self(folder, render, target, training_clip=args.clip, video=video)
    write_report(result, args.output)
    summary = result.summary()
    print(json.dumps(summary, indent=2, default=str) if args.verbose else _eval_line(summary))
    print(f"report: {args.output / 'report.md'}, {args.output / 'metrics.json'}, {args.output / 'metrics.png'}, {video}")
    return 0


def _eval_line(summary: dict[str, dict[str, float]]) -> str:
    """One line per method: PSNR/SSIM where there is ground truth, landmark error and flicker always."""
    lines = []
    for method, scores in summary.items():
        keys = ("psnr", "ssim", "psnr_face", "psnr_edit", "psnr_eyes", "psnr_mouth", "sharpness", "landmark_error",
                "pose_error", "flicker")
        parts = [f"{key} {scores[key]:.3g}" for key in keys if scores.get(key) is not None]
        lines.append(f"{method}: " + ", ".join(parts))
    return "\n".join(lines)


def cmd_live(args: argparse.Namespace) -> int:
    import torch

    from reenact.model_folder import open_model
    from reenact.pipeline.live import LiveConfig, run_live
    from reenact.render.blend import BlendConfig

    folder = open_model(args.model)
    camera = int(args.camera) if args.camera.isdigit() else Path(args.camera)
    sink = args.sink if args.sink in ("window", "virtualcam") else Path(args.sink)
    if isinstance(sink, Path):
        training_clip = Path(folder.info().source) if folder.info().source else None
        _check_outputs({"--sink": sink}, {"camera": camera if isinstance(camera, Path) else None,
                                          "background": args.background, "training clip": training_clip,
                                          **_model_files(folder)})
    try:
        config = LiveConfig(
            camera=camera, sink=sink, background=args.background, recombine=_recombine_config(args),
            blend=BlendConfig(mask=args.mask, method=args.blend), watermark=args.watermark, overlay=args.overlay,
            loop_camera=args.loop, max_seconds=args.seconds, report_every=args.report_every,
        )
    except ValueError as e:
        raise ReenactError(str(e)) from None
    torch.set_num_threads(1)  # the stages run in threads of their own; torch's pool would fight them for cores
    if args.threads is None:
        args.threads = 1  # likewise the generator's: measured faster with 1 thread beside the other stages
    summary = run_live(folder, config, lambda: _open_backend(args, folder), say=lambda line: print(line, file=sys.stderr))
    print(f"{summary.line()} -> {summary.output}")
    return EXIT_INTERRUPTED if summary.interrupted else 0


DEMO_PRESET = "tiny"
DEMO_SIZE = 128
"""The demo trains the tiny networks at 128 px: a recognisable face within minutes on a 2-core CPU."""


def cmd_demo(args: argparse.Namespace) -> int:
    """Track, train, re-render and evaluate, each step the same code path as its own command."""
    from reenact.model_folder import MODEL_JSON, file_hash
    from reenact.pipeline.video_io import VideoReader
    from reenact.train.config import train_preset
    from reenact.train.run import train_target

    out: Path = args.output
    _check_outputs({"-o": out, f"-o {out}'s result.mp4": out / "result.mp4",
                    f"-o {out}'s side_by_side.mp4": out / "side_by_side.mp4"},
                   {"target": args.target, "source": args.source}, folders=("-o",))
    for clip in (args.target, args.source):
        VideoReader(clip)
    model = out / "model"
    info_path = model / MODEL_JSON
    reuse = info_path.is_file() and not args.retrain
    if reuse:
        from reenact.model_folder import open_model

        reuse = open_model(model).info().data_hash == file_hash(args.target)
    start = time.perf_counter()
    if reuse:
        print(f"[1/3] reusing the model trained on this clip in {model} (--retrain to train again)")
    else:
        print(f"[1/3] training a quick model ({DEMO_PRESET} networks at {DEMO_SIZE} px, at most "
              f"{args.minutes:g} min) -> {model}")
        config = train_preset(DEMO_PRESET, size=DEMO_SIZE, steps=args.steps, preview_every=500, checkpoint_every=500)
        result = train_target(args.target, model, config, force=True, time_limit=60 * args.minutes)
        print(f"      {result.steps} steps; held-out PSNR {result.metrics.get('psnr', float('nan')):.2f} dB")
    parser = build_parser()
    result_video, review = out / "result.mp4", out / "side_by_side.mp4"
    print(f"[2/3] re-rendering {args.target.name} driven by {args.source.name} -> {result_video}")
    cmd_run(parser.parse_args(["run", "--model", str(model), "--target", str(args.target), "--source",
                               str(args.source), "-o", str(result_video), "--review", str(review)]))
    report = out / "eval"
    print(f"[3/3] evaluating the model against baselines on its held-out frames -> {report}")
    cmd_eval(parser.parse_args(["eval", "--model", str(model), "-o", str(report)]))
    print(f"demo done in {(time.perf_counter() - start) / 60:.1f} min: {result_video}, {review}, "
          f"{report / 'report.md'}, training previews in {model / 'previews'}")
    return 0


def _add_cuts_option(parser: argparse.ArgumentParser, flag: str, clip: str) -> None:
    """Where the shots of a clip start (parsed by the command, so a bad value is one error line)."""
    parser.add_argument(
        flag, default="auto", metavar="CUTS",
        help=f"shot cuts of {clip}, where every temporal filter restarts: auto (detect them, the default), "
             "none (one shot), or a comma-separated list of the first frames of new shots, as times in "
             "seconds with an s (12.5s,30s) or frame numbers from 0 (300,750)",
    )


def _add_render_options(parser: argparse.ArgumentParser) -> None:
    """Inference and output options of the commands that render video."""
    _add_backend_options(parser)
    out = parser.add_argument_group("output")
    out.add_argument("--blend", default="feather", choices=["feather", "poisson"],
                     help="paste-back: feathered edge with colour matching at the seam (default), or Poisson")
    out.add_argument("--mask", default="crop", choices=["crop", "face"],
                     help="what is pasted back: the whole generated crop (default) or only the face and its surround")
    out.add_argument("--watermark", action="store_true", help="add a small visible 'synthetic' mark")


def _add_backend_options(parser: argparse.ArgumentParser) -> None:
    """Which inference backend runs the generator."""
    infer = parser.add_argument_group("inference")
    infer.add_argument("--backend", default="auto", choices=["auto", "torch", "onnxruntime", "tensorrt"],
                       help="generator backend; auto takes the fastest present (TensorRT > ONNX Runtime CUDA > "
                            "torch CUDA > ONNX Runtime CPU > torch CPU) and says which")
    infer.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="where the generator runs")
    infer.add_argument("--threads", type=int, help="CPU threads for the generator (default: all cores; live: 1, beside its other stages)")
    infer.add_argument("--fp32", action="store_true", help="full precision (default: FP16 on CUDA, and on CPUs the INT8 generator when the model has one)")
    infer.add_argument("--engines", type=Path, default=Path("engines"), help="folder of cached TensorRT engines (default engines/)")


def _add_recombine_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by commands that combine a source with a target and apply edits."""
    _add_mix_options(parser)
    _add_edit_options(parser)


def _add_mix_options(parser: argparse.ArgumentParser, source_clip: bool = True) -> None:
    """How a source drives the target (`source_clip`: the options that need a whole source clip)."""
    mix = parser.add_argument_group("recombination (with --source)")
    mix.add_argument("--mode", default="full", choices=["full", "expression", "pose", "gaze"],
                     help="what the source drives: full (pose, expression, gaze), expression (keeps the target's "
                          "head pose), pose, or gaze (default full)")
    mix.add_argument("--mouth", type=float, default=1.0, help="how much the mouth and jaw follow the source, 0..1")
    mix.add_argument("--eyes", type=float, default=1.0, help="how much eyes, lids and gaze follow the source, 0..1")
    mix.add_argument("--brows", type=float, default=1.0, help="how much the brows follow the source, 0..1")
    mix.add_argument("--intensity", type=float, default=1.0,
                     help="scale of the source's expression change: 0 neutral, 1 as driven, >1 exaggerated")
    mix.add_argument("--absolute", action="store_true",
                     help="transfer absolute pose/expression instead of changes from each side's neutral frame")
    mix.add_argument("--target-ref", type=int, help="the target's neutral reference frame (default: found automatically)")
    parser.set_defaults(source_ref=None, loop_source=False)
    if source_clip:
        mix.add_argument("--source-ref", type=int,
                         help="the source's neutral reference frame (default: found automatically)")
        mix.add_argument("--loop-source", action="store_true",
                         help="loop a shorter source over the whole target (default: stop at the shorter clip)")


def _add_edit_options(parser: argparse.ArgumentParser) -> None:
    """Direct edits of the output parameters, keyframed."""
    edit = parser.add_argument_group("direct edits (with or without a source)")
    edit.add_argument("--turn-head", type=float, nargs="+", metavar="DEG",
                      help="turn the head by YAW [PITCH [ROLL]] degrees")
    edit.add_argument("--smile", type=float, help="smile amount (1 = the target's biggest smile; negative frowns)")
    edit.add_argument("--close-eye", choices=["both", "left", "right"], help="close an eye (the subject's left/right)")
    edit.add_argument("--look", type=float, nargs=2, metavar=("X", "Y"),
                      help="set the gaze, in half eye widths (x to the subject's left, y up)")
    edit.add_argument("--edit-start", type=int, default=0, help="frame where the edits start to act (default 0)")
    edit.add_argument("--edit-end", type=int, help="frame where they act fully (eased in between; default: at once)")
    edit.add_argument("--edit-release", type=int, help="frame where they start to ease back out (default: never)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reenact",
        description=(
            "Neural video reenactment: the head pose, expression and gaze of a source actor "
            "drive a photo-real video of a target actor, rendered by a generator trained on "
            "a few minutes of the target's video."
        ),
        epilog=(
            "First look: reenact demo --target TARGET.mp4 --source DRIVER.mp4 -o out/demo (trains a quick model, "
            "re-renders, evaluates). Run `reenact COMMAND --help` for a command's options."
        ),
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
    _add_cuts_option(track, "--cuts", "the video")
    track.set_defaults(run=cmd_track)

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
    _add_recombine_options(condition)
    condition.set_defaults(run=cmd_condition)

    train = commands.add_parser(
        "train",
        help="train a target's generator on a few minutes of its video",
        description=(
            "Fit a target: track the clip (cached in the model folder), cache its conditioning images and "
            "real crops on disk, and train the person-specific generator adversarially, holding out the "
            "clip's last 10% for validation. Writes preview grids (conditioning | generated | real), a CSV log "
            "of losses and validation PSNR/SSIM, atomic checkpoints (Ctrl-C saves one; --resume continues "
            "exactly), and at the end the EMA generator (generator.pt, generator.onnx) with model.json."
        ),
        epilog="Presets: tiny (tests, 64 px, a minute on CPU), cpu (live on a 2-core CPU at 256 px), "
               "gpu (quality at 512 px on a GPU). Several GPUs: torchrun --nproc-per-node N -m reenact.cli train ...",
    )
    train.add_argument("target", type=Path, help="the target's video (a few minutes of one person talking)")
    train.add_argument("-o", "--output", type=Path, required=True, help="model folder to write, e.g. models/NAME")
    train.add_argument("--preset", default="cpu", choices=["tiny", "cpu", "gpu"], help="network and training preset (default cpu)")
    train.add_argument("--steps", type=int, help="training steps (default: the preset's)")
    train.add_argument("--batch-size", type=int, help="frames per step, a multiple of the temporal window K (default: the preset's)")
    train.add_argument("--size", type=int, help="crop size in pixels (default: the preset's: 64, 256 or 512)")
    train.add_argument("--minutes", type=float, help="stop training after this many minutes and export what there is")
    train.add_argument("--track", type=Path, help="start from this track (.npz) instead of tracking the clip (no MediaPipe needed)")
    train.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N (default auto)")
    train.add_argument("--resume", action="store_true", help="continue the run in the output folder from its checkpoint")
    train.add_argument("--force", action="store_true", help="start over in an output folder that holds another run")
    train.add_argument("--dry-run", action="store_true", help="print the resolved settings and exit")
    ablation = train.add_argument_group("ablations (the README's table; defaults are the preset's)")
    ablation.add_argument("--no-context", action="store_true",
                          help="the generator paints the whole crop instead of re-rendering only the edit mask")
    ablation.add_argument("--texture-channels", type=int, help="neural texture channels (0: none)")
    ablation.add_argument("--detail-gain", type=float, help="gain of the discriminators' detail band (0: none)")
    train.set_defaults(run=cmd_train)

    run = commands.add_parser(
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
    run.add_argument("--model", type=Path, required=True, help="trained model folder (from `reenact train`)")
    run.add_argument("--target", type=Path, required=True, help="clip of the target person to re-render")
    run.add_argument("--source", type=Path, required=True, help="video of the source actor who drives")
    run.add_argument("-o", "--output", type=Path, required=True, help="output video (.mp4)")
    run.add_argument("--review", "--side-by-side", dest="review", type=Path,
                     help="also write a review video: source | target | result")
    run.add_argument("--batch", type=int, default=8, help="frames per generator call (default 8)")
    _add_cuts_option(run, "--cuts", "the target clip")
    _add_cuts_option(run, "--source-cuts", "the source video")
    _add_render_options(run)
    _add_mix_options(run)
    _add_edit_options(run)
    run.set_defaults(run=cmd_run)

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
    _add_cuts_option(edit, "--cuts", "the target clip")
    _add_render_options(edit)
    _add_edit_options(edit)
    edit.set_defaults(run=cmd_run)

    export = commands.add_parser(
        "export",
        help="export a trained generator to ONNX or a TensorRT engine",
        description=(
            "onnx: rewrite the model folder's generator.onnx from its weights (FP32, opset 18, dynamic batch, "
            "metadata embedded) and check it against torch. tensorrt: build an engine from the ONNX file "
            "(FP16 with --fp16) into the engines folder, keyed by GPU, TensorRT version and model hash; a stale "
            "or mismatched engine is rebuilt, never used. Needs an NVIDIA GPU and `pip install tensorrt`."
        ),
    )
    export.add_argument("model", type=Path, help="trained model folder")
    export.add_argument("--format", choices=["onnx", "tensorrt"], help="what to export")
    export.add_argument("--int8", action="store_true",
                        help="also (or only) make generator.int8.onnx for CPUs: calibrated on the training frames, "
                             "kept only within 0.5 dB held-out PSNR of FP32")
    export.add_argument("--fp16", action="store_true",
                        help="half-precision TensorRT engine (what the renderers use on CUDA unless given --fp32)")
    export.add_argument("--engines", type=Path, default=Path("engines"), help="folder of cached engines (default engines/)")
    export.set_defaults(run=cmd_export)

    evaluate = commands.add_parser(
        "eval",
        help="measure a model's quality against nearest-frame and warp baselines on the same frames",
        description=(
            "Self-reenactment (default): regenerate the held-out tail of the training clip (or every frame of "
            "--target, another clip of the same person) from its own tracked parameters and compare with the "
            "real frames: PSNR/SSIM/L1 over the crop and the face, landmark/expression/gaze/pose fidelity of the "
            "re-tracked result, and flicker. Cross-reenactment (--source): fidelity to the recombined parameters "
            "and flicker. The same frames are scored for two baselines: the nearest training frame, and that "
            "frame warped piecewise-affinely onto the wanted landmarks. Writes metrics.json, report.md, "
            "metrics.png and a side-by-side video."
        ),
    )
    evaluate.add_argument("--model", type=Path, required=True, help="trained model folder")
    evaluate.add_argument("--target", type=Path, help="another clip of the target person to regenerate")
    evaluate.add_argument("--source", type=Path, help="a driver video (cross-reenactment; no ground truth)")
    evaluate.add_argument("--clip", type=Path, help="the training clip, if it moved since training")
    evaluate.add_argument("-o", "--output", type=Path, required=True, help="report folder")
    evaluate.add_argument("--verbose", action="store_true", help="print every summary metric as JSON")
    _add_backend_options(evaluate)
    _add_mix_options(evaluate)
    evaluate.set_defaults(run=cmd_eval)

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
    _add_render_options(live)
    _add_mix_options(live, source_clip=False)
    live.set_defaults(run=cmd_live)

    demo = commands.add_parser(
        "demo",
        help="the whole job in one command: train on a target clip, re-render it driven by a source, evaluate",
        description=(
            "For a first look: train a quick model of the target (tiny networks at 128 px, a few minutes on a "
            "CPU; reused on a rerun), re-render the target clip driven by the source (result.mp4, with the "
            "target's audio), write a side-by-side review (side_by_side.mp4) and the evaluation report "
            "(eval/report.md, metrics.json, metrics.png) into the output folder."
        ),
    )
    demo.add_argument("--target", type=Path, required=True, help="video of the target person (a minute or more)")
    demo.add_argument("--source", type=Path, required=True, help="video of the source actor who drives")
    demo.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    demo.add_argument("--minutes", type=float, default=4.0, help="training time limit in minutes (default 4)")
    demo.add_argument("--steps", type=int, default=3000, help="training steps at most (default 3000)")
    demo.add_argument("--retrain", action="store_true", help="train again even if the folder holds a model of this clip")
    demo.set_defaults(run=cmd_demo)
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
        print(f"reenact {args.command}: error: {' '.join(str(e).split())}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as e:
        if e.errno not in WRITE_ERRNOS:
            raise
        # A write that failed where no writer of ours could say more (the folder checks ran before any work).
        print(f"reenact {args.command}: error: cannot write {e.filename or 'an output'}: {e.strerror}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"reenact {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
