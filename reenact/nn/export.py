"""Generator to ONNX: export with embedded metadata.

The checks of an exported file against torch and its timing are runtime jobs
(`reenact.runtime.parity`, `reenact.runtime.benchmark`): this module sits below the runtime.

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
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import onnx
import torch

from reenact.errors import FormatError
from reenact.nn.generator import Generator, GeneratorConfig

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
