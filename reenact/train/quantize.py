"""The INT8 generator for CPUs: ONNX Runtime static quantization (QDQ), calibrated on the target's own frames,
kept only when it scores within `QUALITY_LIMIT_DB` of FP32 on the held-out tail.

    generator.onnx --calibrate on training frames--> generator.int8.onnx --score on the held-out tail--> model.json

Static, not dynamic: dynamic quantization measures each activation's range on
every call (a reduction over every feature map, per frame), which on these
convolutions costs what INT8 saves. Static quantization fixes the ranges once,
from calibration inputs; those are the target's own training frames from the
dataset cache the trainer built (`reenact.train.dataset`), the very inputs the
generator sees live, so no range is fitted to data it never gets. QDQ format:
ONNX Runtime fuses each QuantizeLinear/DequantizeLinear pair around a
convolution into one QLinearConv (VNNI int8 dot products on this CPU) and
leaves the rest of the graph (GroupNorm, the neural texture's sampling) FP32.

The guard scores both files as training validation does (`reenact.train.monitor`):
the clip's held-out tail, each generated crop against the real one (PSNR over
the crop and the face, Laplacian sharpness over the face). An INT8 file more
than `QUALITY_LIMIT_DB` below FP32 is refused: `reenact export --int8` fails
with the numbers and keeps nothing; a file refused at load (its record fails, or
was made from another FP32 file) is skipped by `--backend auto`, which runs
FP32 and says why. The scores are stored in model.json (`ModelInfo.int8`) with
the sha256 of the FP32 file it came from, and the INT8 file's own sha256 in
`files`, so loading checks numbers and hashes and reruns nothing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from reenact.errors import InputError, ReenactError
from reenact.model_folder import GENERATOR_INT8, GENERATOR_ONNX, TRACK, ModelFolder, file_hash, open_model
from reenact.runtime.int8 import PRECISION_KEY, QUALITY_LIMIT_DB, Int8Quality, Int8RefusedError
from reenact.train.dataset import TrainingSet

Say = Callable[[str], object]


class QuantizeError(ReenactError):
    """ONNX Runtime's quantizer could not quantize the generator."""


@dataclass(frozen=True)
class QuantizeConfig:
    """How the INT8 generator is made and checked."""

    calibration_frames: int = 64
    """Training frames (evenly spread, before the held-out tail) the activation ranges are measured on."""
    guard_frames: int = 200
    """Held-out frames both generators are scored on (evenly spread over the tail; as many as training's
    final validation)."""
    limit_db: float = QUALITY_LIMIT_DB
    """Refuse an INT8 file whose held-out PSNR is more than this below FP32's."""
    method: Literal["minmax", "percentile", "entropy"] = "minmax"
    """How the activation ranges are taken from the calibration frames."""
    per_channel: bool = True
    """One scale per output channel of each convolution's weights (the usual way to keep small channels exact)."""
    op_types: tuple[str, ...] = ("Conv",)
    """Operators quantized; the others stay FP32 between DequantizeLinear/QuantizeLinear pairs."""
    batch: int = 8
    """Frames per calibration and scoring call."""
    threads: int | None = None
    """ONNX Runtime threads while calibrating and scoring (None: all cores)."""

    def __post_init__(self) -> None:
        if self.calibration_frames < 1 or self.guard_frames < 1 or self.batch < 1:
            raise ValueError("calibration_frames, guard_frames and batch must be >= 1, got "
                             f"{self.calibration_frames}, {self.guard_frames}, {self.batch}")
        if self.limit_db < 0:
            raise ValueError(f"limit_db must be >= 0, got {self.limit_db}")
        if self.method not in ("minmax", "percentile", "entropy"):
            raise ValueError(f"method must be minmax, percentile or entropy, got {self.method!r}")


@dataclass(frozen=True)
class Int8Result:
    """What `export_int8` made."""

    path: Path
    quality: Int8Quality
    summary: str


def quantizer_available() -> bool:
    """Whether ONNX Runtime's quantization tools import here (they need onnx beside onnxruntime)."""
    try:
        import onnxruntime.quantization  # noqa: F401
    except ImportError:
        return False
    return True


# --- the target's frames -------------------------------------------------------------------------


def open_training_set(folder: ModelFolder, say: Say = lambda line: None) -> TrainingSet:
    """The model's `TrainingSet` from its dataset cache, rebuilt from the training clip when missing or stale
    (InputError when the clip is gone or has other bytes)."""
    from reenact.train.dataset import CacheKey, build_cache, cache_matches, track_hash
    from reenact.video_io import VideoReader

    info = folder.info()
    track = folder.load_track()
    cache = folder.path / "cache" / f"s{info.size}"
    key = CacheKey(data_hash=info.data_hash, track_hash=track_hash(track), size=info.size, margin=info.crop_margin)
    if not cache_matches(cache, key):
        clip = Path(info.source) if info.source else None
        if clip is None or not clip.is_file():
            raise InputError(f"the INT8 generator is calibrated on the model's training frames: {cache} is missing "
                             f"or stale and the training clip {clip} is gone; put the clip back at that path")
        if file_hash(clip) != info.data_hash:
            raise InputError(f"{clip} is not the clip {folder.path} was trained on (its bytes differ); "
                             "put the training clip back at that path")
        say(f"rebuilding the dataset cache {cache} from {clip} ({VideoReader(clip).n_frames} frames)")
        build_cache(cache, track, clip, key, info.conditioning())
    return TrainingSet(cache, track, info.window, tuple(info.validation))


def training_frames(data: TrainingSet, count: int) -> np.ndarray:
    """Up to `count` valid frames before the held-out tail, evenly spread (what calibration sees)."""
    start = data.validation[0]
    frames = np.flatnonzero(np.asarray(data.valid[:start]))
    if len(frames) > count:
        frames = frames[np.linspace(0, len(frames) - 1, count).round().astype(np.int64)]
    return frames


def generator_inputs(data: TrainingSet, frames: np.ndarray, context: bool, batch: int) -> Iterator[np.ndarray]:
    """float32 B x in_channels x S x S generator inputs of `frames`, as inference builds them (the whole face
    re-rendered for a context model), in batches of up to `batch`."""
    import torch

    for start in range(0, len(frames), batch):
        chunk = data.batch(frames[start:start + batch], torch.device("cpu"))
        yield np.ascontiguousarray(chunk.generator_input(context).numpy())


# --- quantizing and scoring ------------------------------------------------------------------------


def quantize_onnx(fp32: Path, out: Path, calibration: Iterable[np.ndarray], config: QuantizeConfig = QuantizeConfig()) -> None:
    """Write the static INT8 (QDQ, U8 activations, S8 weights) quantization of the FP32 file `fp32` to `out`,
    with activation ranges from the `calibration` inputs (float32 B x C x S x S) and `fp32`'s metadata."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from reenact.nn.export import INPUT_NAME

    class Reader(CalibrationDataReader):
        """Feeds the calibration inputs to ONNX Runtime's range collector, one batch per call."""

        def __init__(self) -> None:
            self.batches = iter(calibration)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.batches, None)
            return None if batch is None else {INPUT_NAME: batch}

    methods = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
               "entropy": CalibrationMethod.Entropy}
    with tempfile.TemporaryDirectory() as tmp, _quiet_quantizer():
        prepared = Path(tmp) / "prepared.onnx"
        try:
            # Shapes inferred and the graph folded first, as ONNX Runtime advises before static quantization.
            quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
            quantize_static(
                str(prepared), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=config.per_channel,
                activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                op_types_to_quantize=list(config.op_types), calibrate_method=methods[config.method],
            )
        except (ValueError, RuntimeError, KeyError, onnx.checker.ValidationError) as e:
            out.unlink(missing_ok=True)
            raise QuantizeError(f"ONNX Runtime could not quantize {fp32} ({type(e).__name__}: {e})") from None
    source = onnx.load(str(fp32), load_external_data=False)
    model = onnx.load(str(out))
    del model.metadata_props[:]
    for prop in source.metadata_props:
        model.metadata_props.add(key=prop.key, value=prop.value)
    model.metadata_props.add(key=PRECISION_KEY, value="int8")
    onnx.save(model, str(out))


@contextlib.contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """Keep the quantizer's chatter off the user's terminal: it logs a warning on the root logger for every
    1-D weight (GroupNorm's scales) it declines to quantize per channel, which is expected here."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _scores(session, data: TrainingSet, frames: np.ndarray, context: bool, batch: int) -> dict[str, list[float]]:
    """Per-frame PSNR (crop, face) and sharpness of a session's crops of `frames` against the real crops."""
    from reenact.eval.metrics import image_scores
    from reenact.nn.export import INPUT_NAME, OUTPUT_NAME
    from reenact.train.dataset import FACE_BIT

    scores: dict[str, list[float]] = {"psnr": [], "psnr_face": [], "sharpness": []}
    done = 0
    for stack in generator_inputs(data, frames, context, batch):
        (images,) = session.run([OUTPUT_NAME], {INPUT_NAME: stack})
        crops = ((np.clip(images, -1, 1) + 1) * 127.5).round().astype(np.uint8).transpose(0, 2, 3, 1)
        for crop, frame in zip(crops, frames[done:done + len(crops)]):
            real = np.ascontiguousarray(data.crops[frame].transpose(1, 2, 0))
            frame_scores = image_scores(crop, real, (data.masks[frame] & FACE_BIT) > 0)
            for name, values in scores.items():
                values.append(frame_scores[name])
        done += len(crops)
    return scores


def held_out_quality(fp32: Path, int8: Path, data: TrainingSet, context: bool, config: QuantizeConfig = QuantizeConfig()) -> Int8Quality:
    """Both generators scored on the same held-out frames (`data.validation_frames`) against the real crops."""
    from reenact.runtime.onnxruntime_backend import cpu_session

    frames = data.validation_frames(config.guard_frames)
    if len(frames) == 0:
        raise InputError("the held-out tail has no frame with a face: the INT8 generator cannot be checked")
    fp32_scores = _scores(cpu_session(fp32, config.threads), data, frames, context, config.batch)
    int8_scores = _scores(cpu_session(int8, config.threads), data, frames, context, config.batch)

    def mean(values: list[float]) -> float:
        finite = [v for v in values if np.isfinite(v)]
        return float(np.mean(finite)) if finite else float("nan")

    return Int8Quality(
        psnr_fp32=mean(fp32_scores["psnr"]), psnr_int8=mean(int8_scores["psnr"]),
        psnr_face_fp32=mean(fp32_scores["psnr_face"]), psnr_face_int8=mean(int8_scores["psnr_face"]),
        sharpness_fp32=mean(fp32_scores["sharpness"]), sharpness_int8=mean(int8_scores["sharpness"]),
        frames=len(frames), fp32_sha256=file_hash(fp32, 64),
    )


# --- the model folder's INT8 file ------------------------------------------------------------------


def export_int8(
    model: str | os.PathLike | ModelFolder,
    data: TrainingSet | None = None,
    config: QuantizeConfig = QuantizeConfig(),
    calibration: Iterable[np.ndarray] | None = None,
    say: Say = lambda line: None,
) -> Int8Result:
    """Make the folder's generator.int8.onnx from its generator.onnx (see the module docstring).

    `data`: the model's `TrainingSet` (default: from its dataset cache). `calibration`: the inputs the ranges
    are measured on (default: `config.calibration_frames` training frames). A file below the guard is not
    kept: Int8RefusedError, with the scores; the folder is then as it was.
    """
    if not quantizer_available():
        raise QuantizeError("INT8 export needs ONNX Runtime's quantization tools: pip install onnxruntime onnx")
    folder = open_model(model, needs=(GENERATOR_ONNX, TRACK))
    info = folder.info()
    start = time.perf_counter()
    data = open_training_set(folder, say) if data is None else data
    context = info.generator.context
    if calibration is None:
        frames = training_frames(data, config.calibration_frames)
        if len(frames) == 0:
            raise InputError("no training frame with a face to calibrate the INT8 generator on")
        calibration = generator_inputs(data, frames, context, config.batch)
    path = folder.path / GENERATOR_INT8
    tmp = path.with_name(f".{GENERATOR_INT8}.tmp")
    try:
        quantize_onnx(folder.onnx_path, tmp, calibration, config)
        measured = held_out_quality(folder.onnx_path, tmp, data, context, config)
        quality = Int8Quality.from_dict(replace(measured, seconds=time.perf_counter() - start).to_dict(), "")
        if not quality.passes(config.limit_db):
            raise Int8RefusedError(
                f"INT8 generator refused: {quality.line()}; more than {config.limit_db:g} dB below FP32, so it was "
                f"not saved and {GENERATOR_ONNX} stays the generator used"
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    folder.write_info(folder.record_files(replace(info, int8=quality.to_dict()), (GENERATOR_INT8,)))
    return Int8Result(path, quality, f"exported {path} in {quality.seconds:.0f} s; {quality.line()}")


def int8_after_training(folder: ModelFolder, data: TrainingSet, say: Say) -> Int8Quality | None:
    """`reenact train`'s last step: the INT8 generator, when ONNX Runtime's quantizer is here. A refusal or a
    quantizer failure is reported, not raised: the trained model is complete without it."""
    if not quantizer_available():
        say("no INT8 generator: ONNX Runtime's quantization tools are not installed (pip install onnxruntime onnx)")
        return None
    try:
        result = export_int8(folder, data, say=say)
    except (Int8RefusedError, QuantizeError) as e:
        say(f"no INT8 generator: {e}")
        return None
    say(f"INT8 generator for CPUs: {result.summary}")
    return result.quality
