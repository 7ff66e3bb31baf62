"""The TensorRT backend: an engine built from generator.onnx (FP16 by default), cached, run on device memory.

The engine is built with the TensorRT Python API (ONNX parser, one optimisation profile
for batches 1..max_batch tuned for batch 1, the live case), serialised into the engine
cache (`engine_cache`), and rebuilt whenever the GPU, the TensorRT version, the model
hash or the build settings differ from the cached one's. Input and output live in torch
CUDA tensors whose device pointers are bound to the execution context, and the engine
runs on torch's current stream: CUDA tensors in give CUDA tensors out with no trip
through host memory, and ordering with surrounding torch work needs no extra sync.

Needs TensorRT >= 10 (`set_input_shape` / `set_tensor_address` / `execute_async_v3`,
explicit batch by default) and a CUDA build of torch. Importing this module needs
neither: `tensorrt` is imported when a backend or engine is built.
"""

from __future__ import annotations

import functools
import os
from typing import Literal

import numpy as np
import torch

from reenact.errors import BackendUnavailableError, FormatError, InputError
from reenact.model_folder import ModelFolder
from reenact.nn.export import read_metadata
from reenact.runtime.backend import Backend, ModelSpec
from reenact.runtime.config import BackendConfig
from reenact.runtime.engine_cache import EngineCache, EngineKey
from reenact.runtime.torch_backend import require_cuda

WORKSPACE_BYTES = 2 << 30
"""Scratch memory the builder may give a layer's tactics (2 GiB; the gpu preset at 512 needs ~1)."""
MIN_TENSORRT = 10


def import_tensorrt():
    """The tensorrt module with its engine builder, or BackendUnavailableError naming the package to install."""
    try:
        import tensorrt as trt
    except ImportError:
        raise BackendUnavailableError("TensorRT is not installed: pip install tensorrt (NVIDIA GPUs only)") from None
    if not hasattr(trt, "Builder"):
        raise BackendUnavailableError(
            "the installed tensorrt package has no engine builder (only the lean runtime or type stubs): "
            "pip install tensorrt"
        )
    major = int(str(trt.__version__).split(".")[0])
    if major < MIN_TENSORRT:
        raise BackendUnavailableError(
            f"TensorRT {trt.__version__} is too old (reenact needs >= {MIN_TENSORRT}): pip install -U tensorrt"
        )
    return trt


def engine_key(folder: ModelFolder, spec: ModelSpec, config: BackendConfig, gpu: str, tensorrt_version: str) -> EngineKey:
    """The cache key of `folder`'s engine on GPU `gpu` with TensorRT `tensorrt_version`."""
    return EngineKey(
        model_hash=folder.model_hash(),
        gpu=gpu,
        tensorrt=tensorrt_version,
        fp16=config.fp16,
        size=spec.size,
        in_channels=spec.in_channels,
        max_batch=config.max_batch,
    )


def build_engine(trt, onnx_path: str | os.PathLike, key: EngineKey, input_name: str) -> bytes:
    """Serialised TensorRT engine for the ONNX generator at `onnx_path`, built as `key` says (takes minutes)."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BackendUnavailableError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    if key.fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    one = (1, key.in_channels, key.size, key.size)
    most = (key.max_batch, key.in_channels, key.size, key.size)
    profile = builder.create_optimization_profile()
    profile.set_shape(input_name, one, one, most)  # min, opt, max: tuned for live batch 1
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BackendUnavailableError(f"TensorRT could not build an engine from {onnx_path} (see its log above)")
    return bytes(serialized)


class TensorRTBackend(Backend):
    """A cached TensorRT engine of generator.onnx, with I/O bound to CUDA memory."""

    name = "tensorrt"

    def __init__(self, folder: ModelFolder, device: Literal["cpu", "cuda"], config: BackendConfig) -> None:
        if device != "cuda":
            raise BackendUnavailableError("the tensorrt backend runs on CUDA GPUs only: use --device cuda or another backend")
        trt = import_tensorrt()
        require_cuda("the tensorrt backend")
        if not folder.onnx_path.is_file():
            raise InputError(
                f"model {folder.path} has no {folder.onnx_path.name}: re-export it with `reenact export {folder.path} --format onnx`"
            )
        super().__init__(ModelSpec.from_info(folder.info()), device, fp16=config.fp16)
        metadata = read_metadata(folder.onnx_path)
        exported = ModelSpec(metadata.size, metadata.in_channels, metadata.out_channels)
        if exported != self.spec:
            raise FormatError(
                f"{folder.onnx_path} was exported for {exported}, but model.json describes {self.spec}: "
                f"re-export it with `reenact export {folder.path} --format onnx`"
            )
        self.input_name, self.output_name = metadata.input_name, metadata.output_name
        self.max_batch = config.max_batch
        self._device = torch.device("cuda", torch.cuda.current_device())
        self.gpu = torch.cuda.get_device_name(self._device)
        key = engine_key(folder, self.spec, config, self.gpu, str(trt.__version__))
        cache = self._cache = EngineCache(config.engines_dir)
        build = functools.partial(build_engine, trt, folder.onnx_path, key, self.input_name)
        name = self._cache_name = folder.path.resolve().name
        cached = cache.fetch(name, key, build)
        self._logger = trt.Logger(trt.Logger.WARNING)  # kept: the runtime and engine log through it
        self._runtime = trt.Runtime(self._logger)
        engine = self._runtime.deserialize_cuda_engine(cached.data)
        if engine is None and not cached.built:
            cached = cache.fetch(name, key, build, force_reason="TensorRT could not load the cached engine")
            engine = self._runtime.deserialize_cuda_engine(cached.data)
        if engine is None:
            raise BackendUnavailableError(f"TensorRT could not load the engine it just built ({cached.path})")
        self.engine_path = cached.path
        self.engine_note = "built: " + cached.reason if cached.built else "cached engine"
        names = {engine.get_tensor_name(i) for i in range(engine.num_io_tensors)}
        if names != {self.input_name, self.output_name}:
            raise FormatError(f"{cached.path}: engine tensors {sorted(names)}, expected {self.input_name}, {self.output_name}")
        self._engine = engine
        self._context = engine.create_execution_context()

    def _run(self, stack: torch.Tensor) -> torch.Tensor:
        """float32 contiguous CUDA stack -> new float32 CUDA image, in chunks of at most max_batch."""
        images = [self._run_chunk(chunk) for chunk in stack.split(self.max_batch)]
        return images[0] if len(images) == 1 else torch.cat(images)

    def _run_chunk(self, stack: torch.Tensor) -> torch.Tensor:
        image = torch.empty(self.spec.output_shape(stack.shape[0]), dtype=torch.float32, device=self._device)
        if not self._context.set_input_shape(self.input_name, tuple(stack.shape)):
            raise RuntimeError(f"TensorRT refused input shape {tuple(stack.shape)} (engine profile: batch 1..{self.max_batch})")
        self._context.set_tensor_address(self.input_name, stack.data_ptr())
        self._context.set_tensor_address(self.output_name, image.data_ptr())
        if not self._context.execute_async_v3(torch.cuda.current_stream(self._device).cuda_stream):
            raise RuntimeError("TensorRT failed to enqueue the generator (see its log above)")
        return image

    def _infer_array(self, stack: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(stack)).to(self._device)
        return self._run(x).cpu().numpy()

    def _infer_tensor(self, stack: torch.Tensor) -> torch.Tensor:
        return self._run(stack.to(self._device).contiguous()).to(stack.device)

    def describe(self) -> str:
        precision = "FP16" if self.fp16 else "FP32"
        return f"tensorrt on cuda ({self.gpu}, {precision}, max batch {self.max_batch}, {self.engine_note}: {self.engine_path})"

    def close(self) -> None:
        self._context = None
        self._engine = None

    def discard_engine(self) -> None:
        """Close, and remove this backend's engine from the cache (the next open rebuilds it)."""
        self.close()
        self._cache.remove(self._cache_name, self.fp16)
