"""How the generator is run: which backend, on which device, with what settings; the choices the CLI offers.

Free of torch and of every backend's package, so that the CLI can list the
choices (`reenact --help`) without importing them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from reenact.errors import SettingError

BackendName = Literal["auto", "torch", "onnxruntime", "tensorrt"]
DeviceName = Literal["auto", "cpu", "cuda"]
BACKENDS: tuple[str, ...] = ("auto", "torch", "onnxruntime", "tensorrt")
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")
DEFAULT_ENGINES_DIR = Path("engines")
"""Where TensorRT engines are cached unless told otherwise (the repository's git-ignored engines/)."""



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
            raise SettingError(f"unknown backend {self.backend!r}; valid: {', '.join(BACKENDS)}")
        if self.device not in DEVICES:
            raise SettingError(f"unknown device {self.device!r}; valid: {', '.join(DEVICES)}")
        if self.backend == "tensorrt" and self.device == "cpu":
            raise SettingError("the tensorrt backend runs on CUDA GPUs only: use --device cuda (or auto), or another backend")
        if self.int8 and (self.backend not in ("auto", "onnxruntime") or self.device not in ("auto", "cpu")):
            raise SettingError("the INT8 generator runs in ONNX Runtime on the CPU: use --backend onnxruntime (or "
                               "auto) and --device cpu (or auto)")
        if self.threads is not None and self.threads < 1:
            raise SettingError(f"threads must be >= 1 (or None for the default), got {self.threads}")
        if self.max_batch < 1:
            raise SettingError(f"max_batch must be >= 1, got {self.max_batch}")


EXPORT_FORMATS: tuple[str, ...] = ("onnx", "tensorrt")
"""What `reenact export` writes: the model folder's ONNX file, or a cached TensorRT engine."""
