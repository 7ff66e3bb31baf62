"""Bad inputs, incomplete model folders and missing packages give one clear error that names the fix."""

from __future__ import annotations

import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from reenact.errors import BackendUnavailableError, FormatError, InputError, ReenactError
from reenact.model_folder import ModelFolder
from reenact.runtime.config import BackendConfig
from reenact.runtime.onnxruntime_backend import OnnxRuntimeBackend
from reenact.runtime.selection import open_backend
from reenact.runtime.tensorrt_backend import import_tensorrt
from reenact.runtime.torch_backend import TorchBackend


@pytest.fixture(scope="module")
def backends(tiny_folder: ModelFolder):
    return [OnnxRuntimeBackend(tiny_folder, "cpu", BackendConfig()), TorchBackend(tiny_folder, "cpu", BackendConfig())]


@pytest.mark.parametrize(
    ("stack", "message"),
    [
        (np.zeros((1, 24, 64, 64), np.float32), r"expected float32 B x 29 x 64 x 64 \(from model.json\), got shape \(1, 24, 64, 64\)"),
        (np.zeros((1, 29, 128, 128), np.float32), r"got shape \(1, 29, 128, 128\)"),
        (np.zeros((29, 64, 64), np.float32), r"got shape \(29, 64, 64\)"),
        (np.zeros((0, 29, 64, 64), np.float32), r"got shape \(0, 29, 64, 64\)"),
        (np.zeros((1, 29, 64, 64), np.float64), "got dtype float64"),
        (torch.zeros(1, 29, 64, 64, dtype=torch.float16), "got dtype torch.float16"),
    ],
)
def test_wrong_stacks_are_refused_by_every_backend(backends, stack, message: str) -> None:
    for backend in backends:
        with pytest.raises(ValueError, match=message):
            backend.infer(stack)


def test_non_arrays_are_refused(backends) -> None:
    with pytest.raises(TypeError, match="numpy array or a torch tensor, got list"):
        backends[0].infer([[0.0]])


def _copy(folder: ModelFolder, tmp_path: Path, without: str | None = None) -> ModelFolder:
    copy = ModelFolder(tmp_path / "copy")
    shutil.copytree(folder.path, copy.path)
    if without:
        (copy.path / without).unlink()
    return copy


def test_missing_or_empty_model_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="model folder not found"):
        open_backend(tmp_path / "nowhere")
    with pytest.raises(InputError, match="not a trained reenact model"):
        open_backend(tmp_path)


def test_damaged_model_json(tiny_folder: ModelFolder, tmp_path: Path) -> None:
    copy = _copy(tiny_folder, tmp_path)
    copy.info_path.write_text("{")
    with pytest.raises(FormatError, match="not valid JSON"):
        open_backend(copy)


def test_missing_onnx_file_names_the_export_command(tiny_folder: ModelFolder, tmp_path: Path) -> None:
    copy = _copy(tiny_folder, tmp_path, without="generator.onnx")
    with pytest.raises(InputError, match=r"no generator.onnx: re-export it with `reenact export .* --format onnx`"):
        open_backend(copy, BackendConfig(backend="onnxruntime", device="cpu"))


def test_missing_weights(tiny_folder: ModelFolder, tmp_path: Path) -> None:
    copy = _copy(tiny_folder, tmp_path, without="generator.pt")
    with pytest.raises(InputError, match="no generator.pt"):
        open_backend(copy, BackendConfig(backend="torch", device="cpu"))


def test_onnx_file_of_another_size_than_model_json(tiny_folder: ModelFolder, tmp_path: Path) -> None:
    copy = _copy(tiny_folder, tmp_path)
    copy.info_path.write_text(copy.info_path.read_text().replace('"size": 64', '"size": 128'))
    with pytest.raises(FormatError, match=r"exported for .*size=64.*model.json describes .*size=128.*re-export"):
        OnnxRuntimeBackend(copy, "cpu", BackendConfig())


def test_missing_tensorrt_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import fails, whether or not TensorRT is installed
    with pytest.raises(BackendUnavailableError, match=r"^TensorRT is not installed: pip install tensorrt"):
        import_tensorrt()


def test_tensorrt_without_its_builder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", types.SimpleNamespace(__version__="10.9.0"))
    with pytest.raises(BackendUnavailableError, match="no engine builder.*pip install tensorrt"):
        import_tensorrt()


def test_tensorrt_too_old(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", types.SimpleNamespace(__version__="8.6.1", Builder=object))
    with pytest.raises(BackendUnavailableError, match=r"TensorRT 8.6.1 is too old .*pip install -U tensorrt"):
        import_tensorrt()


def test_onnxruntime_without_cuda_names_onnxruntime_gpu(tiny_folder: ModelFolder, monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(BackendUnavailableError, match="no CUDA execution provider.*pip install onnxruntime-gpu"):
        OnnxRuntimeBackend(tiny_folder, "cuda", BackendConfig())


def test_onnxruntime_tensorrt_provider_missing(tiny_folder: ModelFolder, monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    with pytest.raises(BackendUnavailableError, match="no TensorRT execution provider"):
        OnnxRuntimeBackend(tiny_folder, "cuda", BackendConfig(ort_tensorrt=True))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_backends_say_why_they_cannot_run(tiny_folder: ModelFolder) -> None:
    with pytest.raises(BackendUnavailableError, match="needs an NVIDIA GPU with CUDA.*--device cpu"):
        TorchBackend(tiny_folder, "cuda", BackendConfig())


def test_unavailable_is_a_reenact_error() -> None:
    """The CLI prints ReenactErrors as one line and exits 2; a missing backend is one."""
    assert issubclass(BackendUnavailableError, ReenactError)
