"""`reenact export`: refresh a model folder's ONNX file from its weights, or build its TensorRT engine.

Each export is checked before it is reported done: the ONNX file against torch on the CPU
(FP32 tolerance), the engine against torch FP32 (FP16 or CUDA FP32 tolerance). An engine
that disagrees is removed from the cache rather than left for the next run to pick up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from reenact.errors import ReenactError, SettingError
from reenact.model_folder import GENERATOR_ONNX, GENERATOR_WEIGHTS, ModelFolder, load_generator, open_model
from reenact.nn.export import export_generator
from reenact.runtime.config import DEFAULT_ENGINES_DIR, EXPORT_FORMATS, BackendConfig
from reenact.runtime.parity import DisagreementError, check_agreement, random_stack

ExportFormat = Literal["onnx", "tensorrt"]


@dataclass(frozen=True)
class ExportResult:
    """What `export_model` wrote."""

    path: Path
    """The ONNX file or the engine file."""
    summary: str
    """One line for people: what was done and how well it agrees with torch."""


def export_onnx(folder: ModelFolder) -> ExportResult:
    """Write generator.onnx from generator.pt (opset 18, dynamic batch, metadata) and check it against torch."""
    from reenact.runtime.onnxruntime_backend import OnnxRuntimeBackend
    from reenact.runtime.torch_backend import TorchBackend

    info = folder.info()
    export_generator(load_generator(folder), folder.onnx_path, info.size, info.preset)
    folder.write_info(folder.record_files(info, (GENERATOR_ONNX,)))
    config = BackendConfig()
    exported = OnnxRuntimeBackend(folder, "cpu", config)
    agreement = check_agreement(exported, TorchBackend(folder, "cpu", config), random_stack(exported, 2))
    return ExportResult(
        folder.onnx_path, f"exported {folder.onnx_path} (hash {folder.model_hash()}); ONNX Runtime vs torch: {agreement}"
    )


def export_tensorrt(folder: ModelFolder, fp16: bool, engines_dir: Path, max_batch: int) -> ExportResult:
    """Build (or find up to date) the folder's TensorRT engine, check it against torch FP32; remove it if it disagrees."""
    from reenact.runtime.tensorrt_backend import TensorRTBackend
    from reenact.runtime.torch_backend import TorchBackend

    notes = []
    if not folder.onnx_path.is_file():
        notes.append(export_onnx(folder).summary)
    config = BackendConfig(backend="tensorrt", device="cuda", fp16=fp16, max_batch=max_batch, engines_dir=engines_dir)
    engine = TensorRTBackend(folder, "cuda", config)
    try:
        agreement = check_agreement(engine, TorchBackend(folder, "cpu", config), random_stack(engine, 1))
    except DisagreementError:
        engine.discard_engine()
        raise
    notes.append(f"{engine.describe()}; vs torch FP32: {agreement}")
    return ExportResult(engine.engine_path, "; ".join(notes))


def export_model(
    model: str | os.PathLike | ModelFolder,
    format: ExportFormat,
    fp16: bool = False,
    engines_dir: str | os.PathLike = DEFAULT_ENGINES_DIR,
    max_batch: int = 8,
) -> ExportResult:
    """Export a trained model folder's generator as `format` (see the module docstring).

    onnx rewrites the folder's generator.onnx (FP32: the file every backend is checked against);
    tensorrt builds an engine from it into `engines_dir` (FP16 with `fp16`), or reports the cached
    one up to date. A stale or mismatched engine is rebuilt, never used.
    """
    if format not in EXPORT_FORMATS:
        raise SettingError(f"unknown export format {format!r}; valid: {', '.join(EXPORT_FORMATS)}")
    if max_batch < 1:
        raise SettingError(f"--max-batch must be 1 or more, got {max_batch}")
    folder = open_model(model, needs=(GENERATOR_WEIGHTS,))
    if format == "onnx":
        if fp16:
            raise ReenactError(
                "--fp16 applies to --format tensorrt: the ONNX file stays FP32, the reference every backend is checked against"
            )
        return export_onnx(folder)
    return export_tensorrt(folder, fp16, Path(engines_dir), max_batch)
