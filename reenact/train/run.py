"""`reenact train`: from a target clip to a renderable model folder.

track (cached in the folder) -> dataset cache -> training loop with previews,
validation log and checkpoints -> EMA generator exported (weights, ONNX) with
model.json. Every stage shows progress; Ctrl-C saves a checkpoint first.

Under torchrun (`reenact.train.distributed`) every process trains on its
share of each batch; rank 0 alone tracks, caches, logs and writes, and at each
checkpoint all processes check that they still hold the same state.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from reenact import __version__
from reenact.errors import InputError
from reenact.model_folder import (
    CHECKPOINT,
    GENERATOR_INT8,
    GENERATOR_ONNX,
    GENERATOR_WEIGHTS,
    MODEL_JSON,
    TRACK,
    ModelFolder,
    ModelInfo,
    file_hash,
    save_model,
)
from reenact.params import Track
from reenact.render.conditioning import N_CHANNELS, ConditioningConfig
from reenact.render.crop import CropConfig
from reenact.train.checkpoint import load_checkpoint, save_checkpoint
from reenact.train.config import TrainConfig, network_for
from reenact.train.dataset import CacheKey, SequenceSampler, TrainingSet, build_cache, cache_matches, track_hash
from reenact.train.distributed import Processes, start_processes
from reenact.train.monitor import TrainingLog, preview_grid, validate, write_png
from reenact.train.quantize import int8_after_training
from reenact.train.trainer import Trainer
from reenact.video_io import VideoReader

MIN_FRAMES = 50
"""Shortest clip accepted (2 s at 25 fps); a few minutes is what gives a good model."""
MIN_FACE_FRAMES = 40
"""Fewest training frames with a face."""
LOG_EVERY = 10
"""Steps between loss rows in the log (averaged over those steps)."""
FINAL_VALIDATION_FRAMES = 200
"""Held-out frames scored for model.json at the end."""


@dataclass
class TrainResult:
    """What a finished run produced."""

    folder: ModelFolder
    steps: int
    seconds: float
    metrics: dict[str, float]
    main: bool = True
    """This is the main process (rank 0) of the run: the one that reports it (one training process of several
    returns a result too)."""


def _bar(total: int | None, desc: str, unit: str = "frame", initial: int = 0, show: bool = True) -> tqdm:
    return tqdm(total=total, desc=desc, unit=unit, initial=initial, dynamic_ncols=True, disable=not show)


def check_output_folder(folder: Path, data_hash: str, resume: bool, force: bool, clear: bool = True) -> bool:
    """Refuse to overwrite a trained or training model unless asked; with --force, clear its run outputs
    (when `clear`: only one of several training processes does).

    True when the run continues from the folder's checkpoint. `--resume` in a folder whose run was stopped
    (or killed) before its first checkpoint, recognised by the track it cached, starts from step 0.
    """
    model_json, checkpoint = folder / MODEL_JSON, folder / CHECKPOINT
    if force and not clear:
        return False
    if force:
        for name in (MODEL_JSON, CHECKPOINT, GENERATOR_WEIGHTS, GENERATOR_ONNX, GENERATOR_INT8, "log.csv"):
            (folder / name).unlink(missing_ok=True)
        shutil.rmtree(folder / "previews", ignore_errors=True)
        shutil.rmtree(folder / "tensorboard", ignore_errors=True)
        return False
    if resume:
        if checkpoint.is_file():
            return True
        if (folder / TRACK).is_file() and not model_json.is_file():
            return False
        raise InputError(f"--resume: {folder} holds no {CHECKPOINT} to resume from")
    if model_json.is_file() or checkpoint.is_file():
        what = "a trained model" if model_json.is_file() else "a training run"
        raise InputError(
            f"{folder} already holds {what}; --resume continues it, --force starts over (data hash here {data_hash})"
        )
    return False


def obtain_track(folder: Path, clip: Path, data_hash: str, track_path: Path | None, is_main: bool) -> Track:
    """The clip's track: given (--track), reused from the folder when made from the same bytes, or made now
    (and cached in the folder, by the main process only)."""
    cached = folder / TRACK
    if track_path is not None:
        track = Track.load(track_path)
    elif cached.is_file() and Track.load(cached).meta.get("data_hash") == data_hash:
        return Track.load(cached)
    else:
        from reenact.tracking.tracker import track_video  # needs MediaPipe: only imported when tracking

        reader = VideoReader(clip)
        with _bar(reader.n_frames or None, "tracking") as bar:
            track = track_video(clip, progress=bar.update)
    track.meta["data_hash"] = data_hash
    track.source = str(clip.resolve())
    if is_main:
        track.save(cached)
    return track


def check_track(track: Track, clip: Path, validation_start: int) -> None:
    """Clear errors for clips that cannot train a model."""
    reader = VideoReader(clip)
    if (reader.width, reader.height) != (track.width, track.height):
        raise InputError(
            f"the track is of {track.width}x{track.height} video but {clip} is {reader.width}x{reader.height}"
        )
    if track.n_frames < MIN_FRAMES:
        raise InputError(
            f"{clip} has {track.n_frames} frames; training needs at least {MIN_FRAMES} "
            "(a few minutes of video gives a good model)"
        )
    faces = int(track.params.valid[:validation_start].sum())
    if faces < MIN_FACE_FRAMES or faces < 0.5 * validation_start:
        raise InputError(
            f"{clip}: only {faces} of its {validation_start} training frames show a face; "
            f"need at least {MIN_FACE_FRAMES} and half of them"
        )


def train_target(
    clip: Path,
    output: Path,
    config: TrainConfig,
    *,
    track_path: Path | None = None,
    resume: bool = False,
    force: bool = False,
    device: str = "auto",
    time_limit: float | None = None,
    interrupt_at: int | None = None,
    say: Callable[[str], object] = print,
) -> TrainResult:
    """Train a target model from `clip` into the folder `output` (see the module docstring).

    `time_limit`: seconds of training after which the run stops early and
    exports what it has. `interrupt_at`: raise KeyboardInterrupt after that
    step, as Ctrl-C would (for tests of the interruption path).
    """
    processes = start_processes(device)
    try:
        return _train(clip, output, config, processes, track_path, resume, force, time_limit, interrupt_at, say)
    finally:
        processes.close()


def _train(
    clip: Path,
    output: Path,
    config: TrainConfig,
    processes: Processes,
    track_path: Path | None,
    resume: bool,
    force: bool,
    time_limit: float | None,
    interrupt_at: int | None,
    say: Callable[[str], object],
) -> TrainResult:
    if not clip.is_file():
        raise InputError(f"target clip not found: {clip}")
    conditioning = ConditioningConfig(crop=CropConfig(size=config.size))
    network = network_for(config, conditioning.window, N_CHANNELS)
    config.check(network, processes.world_size)
    main, device = processes.is_main, processes.device
    if not main:
        say = _quiet
    data_hash = file_hash(clip)
    output.mkdir(parents=True, exist_ok=True)
    continues = check_output_folder(output, data_hash, resume, force, clear=main)
    processes.barrier()  # every process has seen the folder as it was before rank 0 writes to it
    if resume and not continues:
        say(f"--resume: {output} holds no checkpoint yet (its run stopped before the first); starting from step 0")
    resume = continues
    checkpoint_path = output / CHECKPOINT
    if resume:  # read (and refused, if it must be) before any tracking or caching
        state = load_checkpoint(checkpoint_path, device)
        if state["run"]["data_hash"] != data_hash or state["run"]["config"]["preset"] != config.preset \
                or state["run"]["config"]["size"] != config.size:
            raise InputError(f"--resume: {checkpoint_path} is a run on other data or another preset/size; use --force")

    if main:  # the others then take the track it cached (tracking once, not once per process)
        track = obtain_track(output, clip, data_hash, track_path, main)
    processes.barrier()
    if not main:
        track = obtain_track(output, clip, data_hash, track_path, main)
    n = track.n_frames
    validation = validation_split(n, config.validation_fraction)
    check_track(track, clip, validation[0])

    cache = output / "cache" / f"s{config.size}"
    key = CacheKey(data_hash=data_hash, track_hash=track_hash(track), size=config.size, margin=conditioning.crop.margin)
    if main and not cache_matches(cache, key):
        with _bar(n, f"caching {config.size}px crops") as bar:
            build_cache(cache, track, clip, key, conditioning, progress=bar.update)
    processes.barrier()
    data = TrainingSet(cache, track, conditioning.window, validation)

    trainer = Trainer(network, config, device, rank=processes.rank, world_size=processes.world_size)
    k = trainer.frames_per_run
    # Every process draws the same whole batch and trains on its own share of the runs, so the sampler's
    # state is one for all (rank 0's checkpoint holds it) and a run resumes on any number of processes.
    winks = data.wink_runs(k) if config.wink_share else None
    if winks is not None:
        say(f"synthetic winks: {len(winks.ends)} training runs can be lent an eye"
            + ("" if len(winks.ends) else " (no blink in the clip); training without them"))
    sampler = SequenceSampler(data.sequence_ends(k), k, seed=config.seed, winks=winks, wink_share=config.wink_share)
    run = {"config": config.to_dict(), "data_hash": data_hash}
    if resume:
        try:
            trainer.load_state_dict(state["trainer"])
        except (RuntimeError, ValueError):  # torch's refusal of weights (or optimiser groups) of another shape
            raise InputError(f"--resume: {checkpoint_path} holds networks of another shape (other --base-width, "
                             "--disc-width, --head-skip, --texture-channels or --no-context, or an older "
                             "preset's); resume with the flags it was started with, or use --force") from None
        sampler.generator.set_state(state["sampler"])
        say(f"resuming at step {trainer.step} of {config.steps}")

    def checkpoint(check: bool = True) -> None:
        """Rank 0 saves; first every process checks it holds what rank 0 saves (not after Ctrl-C, which
        stops the processes wherever each happens to be)."""
        state = trainer.state_dict()
        if check:
            processes.check_replicas(state)
        if main:
            save_checkpoint(checkpoint_path, state, sampler.generator.get_state(), run)

    previews = output / "previews"
    if main:
        previews.mkdir(exist_ok=True)
    log = TrainingLog(output / "log.csv", output / "tensorboard") if main else None
    preview_frames = data.validation_frames(4)
    check_frames = data.validation_frames(config.validation_frames)
    runs_per_step = config.batch_size // k
    start = time.perf_counter()
    totals: dict[str, float] = {}  # each loss summed over the steps since the last row, and how many there were
    counts: dict[str, int] = {}
    try:
        with _bar(config.steps, "training", unit="step", initial=trainer.step, show=main) as bar:
            while trainer.step < config.steps:
                if time_limit is not None and processes.on_any_rank(time.perf_counter() - start > time_limit):
                    say(f"time limit reached at step {trainer.step}")
                    break
                share = sampler(runs_per_step).part(processes.world_size, processes.rank)
                used = max(trainer.step / config.steps, 0 if time_limit is None else (time.perf_counter() - start) / time_limit)
                patch = config.patch_size if used < config.patch_share else 0
                trainer.scale_generator_lr(config.generator_lr_scale(used))
                losses = trainer.train_step(data.draw_batch(share, device), patch)
                for name, value in losses.items():
                    totals[name] = totals.get(name, 0.0) + value
                    counts[name] = counts.get(name, 0) + 1
                bar.update(1)
                step = trainer.step
                if main and (step % LOG_EVERY == 0 or step % config.preview_every == 0):
                    row = {name: total / counts[name] for name, total in totals.items()}
                    totals.clear()
                    counts.clear()
                    row["seconds"] = time.perf_counter() - start
                    row["lr_g"] = trainer.opt_g.param_groups[0]["lr"]
                    if step % config.preview_every == 0:
                        row |= validate(trainer.ema, data, check_frames, device)
                        write_png(previews / f"step_{step:06d}.png", preview_grid(trainer.ema, data, preview_frames, device))
                        bar.set_postfix(l1=f"{losses['l1']:.3f}", val_psnr=f"{row['psnr']:.1f}dB")
                    log.write(step, row)
                if step % config.checkpoint_every == 0:
                    checkpoint()
                if interrupt_at is not None and step >= interrupt_at:
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        checkpoint(check=False)
        say(f"interrupted at step {trainer.step}: checkpoint saved in {checkpoint_path}; continue with --resume")
        raise
    finally:
        if log is not None:
            log.close()
    seconds = time.perf_counter() - start
    checkpoint()
    if processes.distributed:
        say(f"{processes.world_size} processes: every one ended with rank 0's networks, EMA and optimiser state")
    if not main:  # rank 0's scores, once it has exported the model
        return TrainResult(ModelFolder(output), trainer.step, seconds, processes.from_main(None), main=False)

    metrics = validate(trainer.ema, data, data.validation_frames(FINAL_VALIDATION_FRAMES), device)
    write_png(previews / "final.png", preview_grid(trainer.ema, data, preview_frames, device))
    info = ModelInfo(
        preset=config.preset, size=config.size, window=conditioning.window, channels=N_CHANNELS,
        crop_margin=conditioning.crop.margin, generator=network.generator, data_hash=data_hash, source=str(clip.resolve()),
        fps=track.fps, frames=n, validation=validation, steps=trainer.step,
        metrics={name: round(value, 4) for name, value in metrics.items()}, reenact_version=__version__,
        mouth_opening=conditioning.mouth_opening, training=config.to_dict(),
    )
    generator = trainer.ema.to("cpu").float()
    folder = save_model(output, generator, info, track)
    processes.from_main(metrics)
    int8_after_training(folder, data, say)
    return TrainResult(folder, trainer.step, seconds, metrics)


def _quiet(_: str) -> None:
    """What the processes other than rank 0 say: nothing (rank 0 speaks for the run)."""


def validation_split(frames: int, fraction: float) -> tuple[int, int]:
    """[start, end) of the held-out tail: the last `fraction` of the clip, rounded up."""
    return frames - math.ceil(fraction * frames), frames

