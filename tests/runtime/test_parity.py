"""Every backend present computes what torch FP32 on CPU computes, within its stated tolerance.

Tolerances (reenact.runtime.parity): FP32 on CPU max abs 1e-4 / mean abs 1e-5; FP32 on CUDA
(TF32 convolutions allowed) 1e-2 / 1e-3; FP16 on CUDA 5e-2 / 5e-3. Backends absent here skip
with the reason their constructor gives.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from reenact.errors import BackendUnavailableError
from reenact.model_folder import ModelFolder, load_generator
from reenact.runtime.backend import Backend
from reenact.runtime.config import BackendConfig
from reenact.runtime.onnxruntime_backend import OnnxRuntimeBackend
from reenact.runtime.parity import FP16, FP32, check_agreement, random_stack, tolerance_for
from reenact.runtime.selection import open_backend
from reenact.runtime.tensorrt_backend import TensorRTBackend
from reenact.runtime.torch_backend import TorchBackend


@pytest.fixture(scope="module")
def reference(tiny_folder: ModelFolder) -> Backend:
    return TorchBackend(tiny_folder, "cpu", BackendConfig())


def _open_or_skip(factory, folder: ModelFolder, config: BackendConfig) -> Backend:
    try:
        return factory(folder, "cuda", config)
    except BackendUnavailableError as e:
        pytest.skip(f"not available here: {e}")


def test_outputs_spread_over_the_range(reference: Backend) -> None:
    image = reference.infer(random_stack(reference, 2))
    assert image.min() < -0.5 and image.max() > 0.5, "a near-constant output would make the parity tests vacuous"


def test_torch_backend_is_the_training_forward_pass(tiny_folder: ModelFolder, reference: Backend) -> None:
    """The reference runs channels-last for speed; it must still be the plain model's arithmetic."""
    stack = random_stack(reference, 2)
    with torch.no_grad():
        plain = load_generator(tiny_folder)(torch.from_numpy(stack)).numpy()
    assert np.abs(reference.infer(stack) - plain).max() <= FP32.max_abs


@pytest.mark.parametrize("batch", [1, 3])
def test_onnxruntime_cpu_matches_torch(tiny_folder: ModelFolder, reference: Backend, batch: int) -> None:
    backend = OnnxRuntimeBackend(tiny_folder, "cpu", BackendConfig(threads=1))
    assert tolerance_for(backend) == FP32
    agreement = check_agreement(backend, reference, random_stack(backend, batch, seed=batch))
    assert agreement.max_abs <= FP32.max_abs


def test_trained_model_folder_on_auto_matches_torch(random_model: ModelFolder) -> None:
    """The model folder `reenact train` writes (with its real track), through --backend auto."""
    selection = open_backend(random_model)
    reference = TorchBackend(random_model, "cpu", BackendConfig())
    check_agreement(selection.backend, reference, random_stack(reference, 2))


def test_output_kind_follows_input_kind(tiny_folder: ModelFolder, reference: Backend) -> None:
    backend = OnnxRuntimeBackend(tiny_folder, "cpu", BackendConfig())
    stack = random_stack(backend, 2)
    for b in (backend, reference):
        array = b.infer(stack)
        tensor = b.infer(torch.from_numpy(stack))
        assert isinstance(array, np.ndarray) and array.dtype == np.float32 and array.shape == (2, 3, 64, 64)
        assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float32 and tensor.device.type == "cpu"
        np.testing.assert_array_equal(array, tensor.numpy())


def test_non_contiguous_input(tiny_folder: ModelFolder, reference: Backend) -> None:
    backend = OnnxRuntimeBackend(tiny_folder, "cpu", BackendConfig())
    stack = random_stack(backend, 4)[::2]  # a strided view
    assert not stack.flags.c_contiguous
    check_agreement(backend, reference, stack)


@pytest.mark.gpu
@pytest.mark.parametrize("cuda_graphs", [True, False])
@pytest.mark.parametrize("fp16", [True, False])
def test_torch_cuda_matches_torch_cpu(tiny_folder: ModelFolder, reference: Backend, fp16: bool, cuda_graphs: bool) -> None:
    backend = _open_or_skip(TorchBackend, tiny_folder, BackendConfig(fp16=fp16, cuda_graphs=cuda_graphs))
    assert backend.fp16 == fp16 and (tolerance_for(backend) == FP16) == fp16
    for batch in (1, 3, 1):  # the second batch-1 call replays the first one's graph
        stack = random_stack(backend, batch, seed=batch)
        print(check_agreement(backend, reference, stack))
    # CUDA in, CUDA out; and a later call must not overwrite an earlier output (the graph's static buffer).
    first = backend.infer(torch.from_numpy(random_stack(backend, 1, seed=1)).cuda())
    kept = first.clone()
    backend.infer(torch.from_numpy(random_stack(backend, 1, seed=2)).cuda())
    assert first.device.type == "cuda" and torch.equal(first, kept)


@pytest.mark.gpu
def test_onnxruntime_cuda_matches_torch(tiny_folder: ModelFolder, reference: Backend) -> None:
    backend = _open_or_skip(OnnxRuntimeBackend, tiny_folder, BackendConfig())
    for batch in (1, 3):
        print(check_agreement(backend, reference, random_stack(backend, batch, seed=batch)))
    on_device = backend.infer(torch.from_numpy(random_stack(backend, 2)).cuda())  # I/O binding path
    assert on_device.device.type == "cuda"
    np.testing.assert_allclose(on_device.cpu().numpy(), backend.infer(random_stack(backend, 2)), atol=1e-6)


@pytest.mark.gpu
@pytest.mark.parametrize("fp16", [True, False])
def test_tensorrt_matches_torch(tiny_folder: ModelFolder, reference: Backend, tmp_path, fp16: bool) -> None:
    config = BackendConfig(fp16=fp16, max_batch=2, engines_dir=tmp_path)
    backend = _open_or_skip(TensorRTBackend, tiny_folder, config)
    for batch in (1, 2, 5):  # 5 runs in chunks of max_batch
        print(check_agreement(backend, reference, random_stack(backend, batch, seed=batch)))
    assert "built" in backend.describe()
    again = TensorRTBackend(tiny_folder, "cuda", config)
    assert "cached engine" in again.describe()
