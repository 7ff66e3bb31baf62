"""The ONNX Runtime backend: generator.onnx on the CPU execution provider, or on CUDA (and TensorRT) with onnxruntime-gpu.

On the CPU it can run the folder's INT8 generator instead (`BackendConfig.int8`), checked
first against the held-out quality guard of `reenact.train.quantize`.

The CPU provider is the live path on a CPU-only machine (faster than eager torch: fused
convolutions, no Python per layer). The thread count is settable because the live
pipeline shares the cores with tracking and rendering. On the CPU, plain `run` is used:
binding a preallocated output saved nothing measurable at 256 px (51.0 vs 52.4 ms). On CUDA, torch tensors already on
the GPU are bound to the session by pointer (I/O binding), so frames never travel
through host memory.

The requested provider is checked when the session is built: ONNX Runtime quietly falls
back to the CPU when a GPU provider fails to load, and a silent fallback is the one
failure a speed-critical runtime must not have.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from reenact.errors import BackendUnavailableError, FormatError
from reenact.model_folder import GENERATOR_INT8, GENERATOR_ONNX, ModelFolder
from reenact.nn.export import ExportMetadata
from reenact.runtime.backend import Backend, ModelSpec, threads_note
from reenact.runtime.config import BackendConfig

_INSTALL_GPU = "pip uninstall -y onnxruntime && pip install onnxruntime-gpu (the two packages cannot live side by side)"


def import_onnxruntime():
    """The onnxruntime module, or BackendUnavailableError naming the package to install."""
    try:
        import onnxruntime
    except ImportError:
        raise BackendUnavailableError("ONNX Runtime is not installed: pip install onnxruntime") from None
    return onnxruntime


def session_options(threads: int | None):
    """Session options for one generator: `threads` intra-op threads (None: ONNX Runtime's default), quiet logs."""
    ort = import_onnxruntime()
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1  # one chain of convolutions: nothing to run side by side
    options.log_severity_level = 3
    return options


def cpu_session(path: str | os.PathLike, threads: int | None):
    """An ONNX Runtime session on the CPU execution provider."""
    ort = import_onnxruntime()
    return ort.InferenceSession(str(path), session_options(threads), providers=["CPUExecutionProvider"])


def cuda_providers(config: BackendConfig, engine_cache: Path) -> list[tuple[str, dict[str, str]]]:
    """The provider list for CUDA: TensorRT first when asked for, then CUDA; checked against what is installed."""
    available = import_onnxruntime().get_available_providers()
    if "CUDAExecutionProvider" not in available:
        raise BackendUnavailableError(
            f"this ONNX Runtime has no CUDA execution provider (it has {', '.join(available)}): {_INSTALL_GPU}"
        )
    providers: list[tuple[str, dict[str, str]]] = []
    if config.ort_tensorrt:
        if "TensorrtExecutionProvider" not in available:
            raise BackendUnavailableError(
                "this ONNX Runtime has no TensorRT execution provider: install an onnxruntime-gpu built with TensorRT "
                "and TensorRT itself (pip install tensorrt), or leave ort_tensorrt off"
            )
        providers.append(
            (
                "TensorrtExecutionProvider",
                {
                    "trt_fp16_enable": str(config.fp16),
                    "trt_engine_cache_enable": "True",
                    "trt_engine_cache_path": str(engine_cache),
                },
            )
        )
    providers.append(("CUDAExecutionProvider", {}))
    return providers


class OnnxRuntimeBackend(Backend):
    """generator.onnx in ONNX Runtime, on the CPU provider or on CUDA (optionally TensorRT first)."""

    name = "onnxruntime"

    def __init__(self, folder: ModelFolder, device: Literal["cpu", "cuda"], config: BackendConfig) -> None:
        ort = import_onnxruntime()
        self.int8 = bool(config.int8) and device == "cpu"
        """Runs generator.int8.onnx (passed its quality guard) rather than the FP32 file."""
        if self.int8:
            from reenact.runtime.int8 import checked_int8

            name, onnx_path = GENERATOR_INT8, checked_int8(folder)
        else:
            name, onnx_path = GENERATOR_ONNX, folder.verified(GENERATOR_ONNX)
        fp16 = device == "cuda" and config.ort_tensorrt and config.fp16  # only TensorRT's provider runs FP16
        super().__init__(ModelSpec.from_info(folder.info()), device, fp16=fp16)
        self.threads = config.threads
        if device == "cpu":
            providers = [("CPUExecutionProvider", {})]
        else:
            providers = cuda_providers(config, config.engines_dir / "onnxruntime-tensorrt" / folder.path.name)
        try:
            self.session = ort.InferenceSession(str(onnx_path), session_options(config.threads), providers=providers)
        except (ort.capi.onnxruntime_pybind11_state.InvalidProtobuf, ort.capi.onnxruntime_pybind11_state.Fail,
                ort.capi.onnxruntime_pybind11_state.InvalidGraph) as e:
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise FormatError(f"{onnx_path} is not a loadable ONNX model ({reason}); {folder.fix(name)}") from None
        wanted = providers[0][0]
        active = self.session.get_providers()
        if active[0] != wanted:
            raise BackendUnavailableError(
                f"ONNX Runtime could not start {wanted} (it runs on {', '.join(active)}); check the CUDA, cuDNN "
                f"and TensorRT libraries onnxruntime-gpu {ort.__version__} needs"
            )
        self.provider = wanted
        metadata = ExportMetadata.from_props(
            self.session.get_modelmeta().custom_metadata_map, source=str(onnx_path)
        )
        exported = ModelSpec(metadata.size, metadata.in_channels, metadata.out_channels)
        if exported != self.spec:
            raise FormatError(
                f"{onnx_path} was exported for {exported}, but model.json describes {self.spec}: {folder.fix(name)}"
            )
        self.input_name = metadata.input_name
        self.output_name = metadata.output_name

    def _infer_array(self, stack: np.ndarray) -> np.ndarray:
        (image,) = self.session.run([self.output_name], {self.input_name: np.ascontiguousarray(stack)})
        return image

    def _infer_tensor(self, stack: torch.Tensor) -> torch.Tensor:
        if stack.device.type == "cuda" and self.device == "cuda":
            return self._infer_bound(stack.contiguous())
        # CPU tensors share memory with the numpy arrays ONNX Runtime reads and writes.
        return torch.from_numpy(self._infer_array(stack.cpu().numpy())).to(stack.device)

    def _infer_bound(self, stack: torch.Tensor) -> torch.Tensor:
        """CUDA in, CUDA out: input and output bound to the session by device pointer, no host copies."""
        index = stack.device.index or 0
        image = torch.empty(self.spec.output_shape(stack.shape[0]), dtype=torch.float32, device=stack.device)
        binding = self.session.io_binding()
        binding.bind_input(self.input_name, "cuda", index, np.float32, tuple(stack.shape), stack.data_ptr())
        binding.bind_output(self.output_name, "cuda", index, np.float32, tuple(image.shape), image.data_ptr())
        # ONNX Runtime runs on its own stream: let torch's pending work on `stack` finish first.
        torch.cuda.current_stream(stack.device).synchronize()
        self.session.run_with_iobinding(binding)
        return image

    def describe(self) -> str:
        threads = f", {threads_note(self.threads)}" if self.threads and self.device == "cpu" else ""
        precision = ", INT8" if self.int8 else ""
        return f"onnxruntime on {self.device} ({self.provider}{threads}{precision})"
