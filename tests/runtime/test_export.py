"""`export_model` (what `reenact export` calls), the benchmark helpers, and the timing loop."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reenact.errors import BackendUnavailableError, InputError, ReenactError
from reenact.model_folder import ModelFolder
from reenact.nn.export import read_metadata
from reenact.runtime.benchmark import benchmark_backend
from reenact.runtime.config import BackendConfig
from reenact.runtime.export import export_model
from reenact.runtime.tensorrt_backend import import_tensorrt
from reenact.runtime.timing import time_calls
from reenact.runtime.torch_backend import TorchBackend


@pytest.fixture
def copy(tiny_folder: ModelFolder, tmp_path: Path) -> ModelFolder:
    folder = ModelFolder(tmp_path / "model")
    shutil.copytree(tiny_folder.path, folder.path)
    return folder


def test_onnx_export_recreates_a_missing_file_and_checks_it(copy: ModelFolder) -> None:
    copy.onnx_path.unlink()
    result = export_model(copy.path, "onnx")
    assert result.path == copy.onnx_path and copy.onnx_path.is_file()
    assert read_metadata(copy.onnx_path).size == 64
    assert "ONNX Runtime vs torch: max abs" in result.summary and copy.model_hash() in result.summary


def test_onnx_export_refuses_fp16(copy: ModelFolder) -> None:
    with pytest.raises(ReenactError, match="--fp16 applies to --format tensorrt"):
        export_model(copy, "onnx", fp16=True)


def test_export_refuses_unknown_formats_and_untrained_folders(copy: ModelFolder, tmp_path: Path) -> None:
    with pytest.raises(ReenactError, match="unknown export format 'openvino'; valid: onnx, tensorrt"):
        export_model(copy, "openvino")  # type: ignore[arg-type]
    with pytest.raises(ReenactError, match="--max-batch must be 1 or more, got 0"):
        export_model(copy, "tensorrt", max_batch=0)
    copy.weights_path.unlink()
    with pytest.raises(InputError, match="has no generator.pt"):
        export_model(copy, "onnx")
    with pytest.raises(InputError, match="not found"):
        export_model(tmp_path / "nowhere", "onnx")


def test_tensorrt_export_without_tensorrt_names_the_package(copy: ModelFolder, tmp_path: Path) -> None:
    try:
        import_tensorrt()
    except BackendUnavailableError:
        pass
    else:
        pytest.skip("TensorRT is installed here: the engine path is tested in test_parity")
    with pytest.raises(BackendUnavailableError, match="pip install tensorrt"):
        export_model(copy, "tensorrt", fp16=True, engines_dir=tmp_path / "engines")
    assert not (tmp_path / "engines").exists()


def test_benchmark_and_timing(tiny_folder: ModelFolder) -> None:
    backend = TorchBackend(tiny_folder, "cpu", BackendConfig())
    timing = benchmark_backend(backend, batch=2, runs=3, warmup=1)
    assert 0 < timing.best_ms_per_frame <= timing.ms_per_frame and timing.runs == 3
    assert timing.fps == pytest.approx(1e3 / timing.ms_per_frame)
    calls = []
    assert len(time_calls(lambda: calls.append(1), runs=4, warmup=2)) == 4 and len(calls) == 6
    with pytest.raises(ValueError, match="runs >= 1"):
        time_calls(lambda: None, runs=0, warmup=0)
