"""Generator to ONNX: export with embedded metadata, agreement check, speed measurement.

The exported file describes itself (metadata_props: format version, preset,
input size, channels, value range, tensor names), so a runtime can check a
model against its inputs without the training run's folder. Input
"conditioning" float32 B x C x S x S in [-1, 1], output "image" float32
B x 3 x S x S in [-1, 1]; the batch axis is dynamic, S is fixed at export.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import statistics
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import onnx
import torch

from reenact.errors import FormatError
from reenact.nn.generator import Generator, GeneratorConfig, build_generator, random_input
from reenact.nn.presets import get_preset
from reenact.runtime.timing import time_calls

FORMAT_VERSION = 1
"""Version of the exported file's interface (names, layout, metadata keys); runtimes refuse others."""
OPSET = 18
"""ONNX opset the exporter targets (what `torch.onnx.export(dynamo=True)` handles here)."""
INPUT_NAME = "conditioning"
OUTPUT_NAME = "image"
VALUE_RANGE = (-1.0, 1.0)
"""Value range of both the input stack and the output image."""
ONNX_ATOL = 1e-4
"""Max abs difference allowed between ONNX Runtime (CPU, FP32) and torch outputs. Measured on
perturbed random weights (outputs spread over [-1, 1]): 1.2e-6 tiny at 64 px, 3.9e-6 cpu at
256 px, 5.8e-6 gpu at 128 px; the bound leaves a 20x margin."""

_PREFIX = "reenact."


@dataclass(frozen=True)
class ExportMetadata:
    """What an exported generator says about itself (stored as ONNX metadata_props strings)."""

    preset: str
    """Name of the network preset it was built from."""
    size: int
    """S: the input and output are S x S."""
    in_channels: int
    """Channels of the conditioning stack (W frames x C channels)."""
    out_channels: int
    """Channels of the output image (3, RGB)."""
    generator: GeneratorConfig
    """The generator's full shape."""
    format_version: int = FORMAT_VERSION
    """Interface version (see FORMAT_VERSION)."""
    value_range: tuple[float, float] = VALUE_RANGE
    """Range of the input stack and of the output image."""
    input_name: str = INPUT_NAME
    """Name of the graph input (float32 B x in_channels x S x S)."""
    output_name: str = OUTPUT_NAME
    """Name of the graph output (float32 B x out_channels x S x S)."""
    layout: str = "NCHW float32, RGB output"
    """Tensor layout and colour order, for people reading the file's metadata."""

    def to_props(self) -> dict[str, str]:
        """String key/values for ONNX metadata_props (keys prefixed 'reenact.')."""
        props = {
            "format_version": str(self.format_version),
            "preset": self.preset,
            "size": str(self.size),
            "in_channels": str(self.in_channels),
            "out_channels": str(self.out_channels),
            "value_range": json.dumps(list(self.value_range)),
            "input_name": self.input_name,
            "output_name": self.output_name,
            "layout": self.layout,
            "generator": json.dumps(asdict(self.generator), sort_keys=True),
        }
        return {_PREFIX + k: v for k, v in props.items()}

    @classmethod
    def from_props(cls, props: dict[str, str], source: str = "ONNX file") -> ExportMetadata:
        """Parse metadata_props; FormatError when keys are missing or the version differs."""
        values = {k[len(_PREFIX) :]: v for k, v in props.items() if k.startswith(_PREFIX)}
        if "format_version" not in values:
            raise FormatError(f"{source}: no reenact metadata (is it a generator exported by reenact?)")
        if values["format_version"] != str(FORMAT_VERSION):
            raise FormatError(
                f"{source}: generator format version {values['format_version']}, this reenact reads {FORMAT_VERSION}; re-export it"
            )
        try:
            low, high = json.loads(values["value_range"])
            return cls(
                preset=values["preset"],
                size=int(values["size"]),
                in_channels=int(values["in_channels"]),
                out_channels=int(values["out_channels"]),
                generator=GeneratorConfig(**json.loads(values["generator"])),
                format_version=int(values["format_version"]),
                value_range=(float(low), float(high)),
                input_name=values["input_name"],
                output_name=values["output_name"],
                layout=values["layout"],
            )
        except (KeyError, ValueError, TypeError) as e:
            raise FormatError(f"{source}: bad reenact metadata ({e})") from e


def export_generator(generator: Generator, path: str | os.PathLike, size: int, preset: str) -> ExportMetadata:
    """Write `generator` as an ONNX file (opset 18, dynamic batch) at `path`, atomically."""
    config = generator.config
    if size % config.multiple:
        raise ValueError(f"size {size} must divide by the generator's multiple {config.multiple}")
    metadata = ExportMetadata(
        preset=preset, size=size, in_channels=config.in_channels, out_channels=config.out_channels, generator=config
    )
    was_training = generator.training
    generator.eval()
    try:
        with _quiet_exporter():
            program = _export_program(generator, config.in_channels, size)
    finally:
        generator.train(was_training)
    program.model.metadata_props.update(metadata.to_props())
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    program.save(tmp, external_data=False)
    os.replace(tmp, path)
    return metadata


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Keep the exporter's chatter (warnings that torchvision is absent, deprecations) off the user's terminal."""
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        exporter_log.setLevel(level)


def _export_program(generator: Generator, in_channels: int, size: int) -> torch.onnx.ONNXProgram:
    """torch.onnx's dynamo export of the generator with a dynamic batch axis."""
    # Batch 2 as the example: torch.export specialises an example dimension of 1.
    example = torch.zeros(2, in_channels, size, size)
    return torch.onnx.export(
        generator,
        (example,),
        dynamo=True,
        opset_version=OPSET,
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_shapes={"conditioning": {0: torch.export.Dim("batch", min=1, max=1024)}},
        verbose=False,
    )


def read_metadata(path: str | os.PathLike) -> ExportMetadata:
    """The metadata embedded in an exported generator."""
    model = onnx.load(str(path), load_external_data=False)
    return ExportMetadata.from_props({p.key: p.value for p in model.metadata_props}, source=str(path))


def check_onnx(
    generator: Generator, path: str | os.PathLike, batch: int = 2, atol: float = ONNX_ATOL, seed: int = 0
) -> float:
    """Max abs difference between ONNX Runtime (CPU) and torch on random inputs; raises over `atol`."""
    metadata = read_metadata(path)
    g = torch.Generator().manual_seed(seed)
    x = random_input(batch, metadata.in_channels, metadata.size, g)
    was_training = generator.training
    generator.eval()
    try:
        with torch.no_grad():
            expected = generator(x).numpy()
    finally:
        generator.train(was_training)
    from reenact.runtime.onnxruntime_backend import cpu_session  # runtime builds on this module

    (got,) = cpu_session(path, threads=2).run([metadata.output_name], {metadata.input_name: x.numpy()})
    diff = float(np.abs(got - expected).max())
    if not diff <= atol:
        raise AssertionError(f"ONNX Runtime and torch differ by {diff:.3g} (max abs), tolerance {atol:.3g}")
    return diff


def benchmark_generator(
    preset: str,
    size: int,
    backend: Literal["torch", "onnxruntime"],
    batch: int = 1,
    threads: int = 2,
    runs: int = 30,
    warmup: int = 5,
) -> float:
    """Median ms per frame of the `preset` generator (random weights) at S = `size` on CPU.

    Speed does not depend on the weights, so no trained model is needed. For
    "onnxruntime" the generator is first exported to a temporary file (not timed).
    `threads` 2 matches the live target. For every backend, preset, size and batch at once, see
    `python tools/bench.py --only backends` (reenact.runtime.benchmark).
    """
    from reenact.runtime.onnxruntime_backend import cpu_session  # runtime builds on this module

    if backend not in ("torch", "onnxruntime"):
        raise ValueError(f"unknown backend {backend!r}; valid: torch, onnxruntime")
    config = get_preset(preset).generator
    model = build_generator(config).eval()
    x = random_input(batch, config.in_channels, size)
    if backend == "torch":
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            with torch.inference_mode():
                times = time_calls(lambda: model(x), runs, warmup)
        finally:
            torch.set_num_threads(previous)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "generator.onnx"
            export_generator(model, path, size, preset)
            session = cpu_session(path, threads)
        feed = {INPUT_NAME: x.numpy()}
        times = time_calls(lambda: session.run(None, feed), runs, warmup)
    return statistics.median(times) * 1e3 / batch

