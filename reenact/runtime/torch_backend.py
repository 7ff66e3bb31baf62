"""The torch backend: the generator as trained, eager FP32 on CPU; FP16 and CUDA graphs on CUDA; channels-last on both.

It is the reference the other backends are checked against (on CPU it runs the training
code's forward pass in FP32; tests/runtime checks it against the plain model) and the
fallback that needs nothing beyond torch. Channels-last is a memory layout only: on this
2-core CPU it made the cpu preset's eager pass 1.7x faster at 256 px (oneDNN's NHWC kernels).

On CUDA, batch 1 of a small U-Net is bound by kernel launches, not arithmetic: a CUDA
graph per batch size replays the whole forward pass as one launch. Half precision and
channels-last let cuDNN pick tensor-core kernels. `torch.compile` is not used: it needs
a compiler toolchain (Triton) and minutes of warm-up, and CUDA graphs remove the same
overhead for a network of fixed shape.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from reenact.errors import BackendUnavailableError
from reenact.model_folder import GENERATOR_WEIGHTS, ModelFolder, load_generator
from reenact.nn.generator import Generator
from reenact.runtime.backend import Backend, ModelSpec, threads_note
from reenact.runtime.config import BackendConfig


def require_cuda(what: str) -> None:
    """Raise BackendUnavailableError unless torch sees a CUDA GPU."""
    if not torch.cuda.is_available():
        built = "this torch is a CPU-only build" if torch.version.cuda is None else "torch sees no CUDA device"
        raise BackendUnavailableError(
            f"{what} needs an NVIDIA GPU with CUDA, and {built} (install a CUDA build of torch on a GPU machine, "
            "or use --device cpu)"
        )


class _CudaGraphs:
    """The generator captured as one CUDA graph per batch size, with static input and output buffers."""

    def __init__(self, model: Generator, spec: ModelSpec, dtype: torch.dtype, device: torch.device) -> None:
        self.model = model
        self.spec = spec
        self.dtype = dtype
        self.device = device
        self.graphs: dict[int, tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]] = {}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Copy `x` into the batch's static input, replay, return the static output (overwritten by the next call)."""
        batch = x.shape[0]
        if batch not in self.graphs:
            self.graphs[batch] = self._capture(batch)
        graph, static_in, static_out = self.graphs[batch]
        static_in.copy_(x)  # casts to the graph's dtype and layout on the GPU
        graph.replay()
        return static_out

    def _capture(self, batch: int) -> tuple[torch.cuda.CUDAGraph, torch.Tensor, torch.Tensor]:
        static_in = torch.zeros(self.spec.input_shape(batch), device=self.device, dtype=self.dtype).contiguous(
            memory_format=torch.channels_last
        )
        # Warm up on a side stream (cuDNN picks its algorithms here), as torch.cuda.graph requires.
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side), torch.inference_mode():
            for _ in range(3):
                self.model(static_in)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph), torch.inference_mode():
            static_out = self.model(static_in)
        return graph, static_in, static_out


class TorchBackend(Backend):
    """The generator in torch, channels-last: eager FP32 on CPU; on CUDA FP16 and CUDA graphs (each optional)."""

    name = "torch"

    def __init__(self, folder: ModelFolder, device: Literal["cpu", "cuda"], config: BackendConfig) -> None:
        if device == "cuda":
            require_cuda("the torch backend on CUDA")
        folder.verified(GENERATOR_WEIGHTS)
        super().__init__(ModelSpec.from_info(folder.info()), device, fp16=device == "cuda" and config.fp16)
        if device == "cpu" and config.threads is not None:
            torch.set_num_threads(config.threads)  # process-wide: torch has no per-model setting
        self._device = torch.device(device)
        self._dtype = torch.float16 if self.fp16 else torch.float32
        self.model = load_generator(folder, device).to(dtype=self._dtype, memory_format=torch.channels_last)
        self._graphs: _CudaGraphs | None = None
        if device == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN time its algorithms once
            if config.cuda_graphs:
                self._graphs = _CudaGraphs(self.model, self.spec, self._dtype, self._device)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """x on this backend's device (float32) -> float32 NCHW (contiguous) on the same device."""
        if self._graphs is not None:
            out = self._graphs(x)
        else:
            with torch.inference_mode():
                out = self.model(x.to(dtype=self._dtype, memory_format=torch.channels_last))
        # A new float32 contiguous tensor: never hand out the graph's static buffer.
        return out.to(dtype=torch.float32, memory_format=torch.contiguous_format, copy=self._graphs is not None)

    def _infer_array(self, stack: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(stack)).to(self._device)
        return self._forward(x).cpu().numpy()

    def _infer_tensor(self, stack: torch.Tensor) -> torch.Tensor:
        return self._forward(stack.to(self._device)).to(stack.device)

    def describe(self) -> str:
        if self.device == "cpu":
            return f"torch on cpu (eager FP32, channels-last, {threads_note(torch.get_num_threads())})"
        precision = "FP16" if self.fp16 else "FP32"
        graphs = "CUDA graphs" if self._graphs is not None else "eager"
        return f"torch on cuda ({torch.cuda.get_device_name(self._device)}, {precision}, channels-last, {graphs})"

    def close(self) -> None:
        self._graphs = None
