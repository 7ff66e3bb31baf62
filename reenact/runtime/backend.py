"""The one inference interface every backend implements, and its typed configuration.

A backend is built from a model folder and turns a conditioning stack into images:

    infer(float32 B x (W*C) x S x S in [-1, 1]) -> float32 B x 3 x S x S in [-1, 1]

A numpy array in gives a numpy array out; a torch tensor in gives a tensor out, on the
input's device (so CUDA tensors stay on the GPU end to end). B is 1 for live use and
larger offline. The shapes are checked against the model's own description (model.json)
on every call: a mismatch means the renderer and the model disagree on the conditioning
layout, which no backend can fix.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal, Self, TypeVar

import numpy as np
import torch

from reenact.model_folder import ModelInfo

BackendName = Literal["auto", "torch", "onnxruntime", "tensorrt"]
DeviceName = Literal["auto", "cpu", "cuda"]
BACKENDS: tuple[str, ...] = ("auto", "torch", "onnxruntime", "tensorrt")
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
DEFAULT_ENGINES_DIR = Path("engines")
"""Where TensorRT engines are cached unless told otherwise (the repository's git-ignored engines/)."""

Stack = TypeVar("Stack", np.ndarray, torch.Tensor)


@dataclass(frozen=True)
class BackendConfig:
    """Which backend runs the generator, and how."""

    backend: BackendName = "auto"
    """torch, onnxruntime, tensorrt, or auto: the fastest present, in the order
    TensorRT > ONNX Runtime CUDA > torch CUDA > ONNX Runtime CPU > torch CPU."""
    device: DeviceName = "auto"
    """cpu, cuda, or auto (CUDA when the backend can use it here, else CPU)."""
    threads: int | None = None
    """CPU threads for one inference (torch and ONNX Runtime intra-op threads); None keeps the
    library's default (all cores). Torch's setting is process-wide."""
    fp16: bool = True
    """Half precision on CUDA (torch, the TensorRT engine, ONNX Runtime's TensorRT provider).
    CPU inference is FP32, or INT8 (see `int8`)."""
    cuda_graphs: bool = True
    """torch on CUDA: capture one CUDA graph per batch size and replay it (removes the per-layer
    launch overhead that dominates batch 1)."""
    max_batch: int = 8
    """Largest batch a TensorRT engine is built for; larger batches run in chunks of this size."""
    engines_dir: Path = field(default=DEFAULT_ENGINES_DIR)
    """Folder of cached TensorRT engines (keyed by GPU, TensorRT version and model hash)."""
    int8: bool | None = None
    """ONNX Runtime on the CPU: the model folder's INT8 generator (generator.int8.onnx). None (auto): it when
    present and within its held-out quality guard, else FP32 with a note; True: it or an error; False: FP32 only."""
    ort_tensorrt: bool = False
    """ONNX Runtime on CUDA: put the TensorRT execution provider first (needs an onnxruntime-gpu
    built with TensorRT); off by default, the native `tensorrt` backend is the TensorRT path."""

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown backend {self.backend!r}; valid: {', '.join(BACKENDS)}")
        if self.device not in DEVICES:
            raise ValueError(f"unknown device {self.device!r}; valid: {', '.join(DEVICES)}")
        if self.backend == "tensorrt" and self.device == "cpu":
            raise ValueError("the tensorrt backend runs on CUDA GPUs only: use --device cuda (or auto), or another backend")
        if self.int8 and (self.backend not in ("auto", "onnxruntime") or self.device not in ("auto", "cpu")):
            raise ValueError("the INT8 generator runs in ONNX Runtime on the CPU: use --backend onnxruntime (or auto) "
                             "and --device cpu (or auto)")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1 (or None for the default), got {self.threads}")
        if self.max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {self.max_batch}")


@dataclass(frozen=True)
class ModelSpec:
    """The tensor interface of one model: what `Backend.infer` accepts and returns."""

    size: int
    """S: input and output are S x S."""
    in_channels: int
    """W x C: channels of the conditioning stack."""
    out_channels: int = 3
    """Channels of the output image (RGB)."""

    @classmethod
    def from_info(cls, info: ModelInfo) -> ModelSpec:
        return cls(size=info.size, in_channels=info.generator.in_channels, out_channels=info.generator.out_channels)

    def input_shape(self, batch: int) -> tuple[int, int, int, int]:
        return (batch, self.in_channels, self.size, self.size)

    def output_shape(self, batch: int) -> tuple[int, int, int, int]:
        return (batch, self.out_channels, self.size, self.size)

    def check(self, stack: np.ndarray | torch.Tensor) -> None:
        """Raise ValueError unless `stack` is float32 B x in_channels x S x S with B >= 1."""
        if not isinstance(stack, (np.ndarray, torch.Tensor)):
            raise TypeError(f"generator input must be a numpy array or a torch tensor, got {type(stack).__name__}")
        expected = f"float32 B x {self.in_channels} x {self.size} x {self.size}"
        shape = tuple(stack.shape)
        if len(shape) != 4 or shape[1:] != self.input_shape(1)[1:] or shape[0] < 1:
            raise ValueError(f"generator input: expected {expected} (from model.json), got shape {shape}")
        if stack.dtype not in (np.float32, torch.float32):
            raise ValueError(f"generator input: expected {expected}, got dtype {stack.dtype}")


def threads_note(threads: int) -> str:
    return f"{threads} thread" + ("" if threads == 1 else "s")


class Backend(ABC):
    """A generator ready to run: `infer(stack) -> image` (see the module docstring for the contract)."""

    name: ClassVar[str]
    """Backend name as the CLI spells it (torch, onnxruntime, tensorrt)."""

    def __init__(self, spec: ModelSpec, device: Literal["cpu", "cuda"], fp16: bool = False) -> None:
        self.spec = spec
        """The model's tensor interface (from model.json)."""
        self.device = device
        """Where inference runs."""
        self.fp16 = fp16
        """True when inference runs in half precision (sets the tolerance it is checked with)."""

    def infer(self, stack: Stack) -> Stack:
        """float32 B x (W*C) x S x S in [-1, 1] -> float32 B x 3 x S x S in [-1, 1], same kind as the input."""
        self.spec.check(stack)
        if isinstance(stack, np.ndarray):
            return self._infer_array(stack)
        return self._infer_tensor(stack.detach())

    @abstractmethod
    def _infer_array(self, stack: np.ndarray) -> np.ndarray:
        """Run a checked numpy stack; return a new float32 NCHW numpy array."""

    @abstractmethod
    def _infer_tensor(self, stack: torch.Tensor) -> torch.Tensor:
        """Run a checked tensor stack; return a float32 NCHW tensor on the input's device."""

    def describe(self) -> str:
        """One line for people: backend, device, precision and settings."""
        return f"{self.name} on {self.device}"

    def close(self) -> None:
        """Release sessions and device memory (the backend is unusable afterwards)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
