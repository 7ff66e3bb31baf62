"""ONNX export: ONNX Runtime agrees with torch, the batch axis is dynamic, metadata reads back."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from reenact.errors import FormatError
from reenact.nn.export import (
    FORMAT_VERSION,
    INPUT_NAME,
    ONNX_ATOL,
    OUTPUT_NAME,
    ExportMetadata,
    export_generator,
    read_metadata,
)
from reenact.nn.generator import Generator, build_generator, random_input
from reenact.nn.presets import get_preset


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Generator, Path, ExportMetadata]:
    """The tiny generator, with weights perturbed away from their initial values, exported once."""
    torch.manual_seed(0)
    generator = build_generator(get_preset("tiny").generator)
    with torch.no_grad():
        for p in generator.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    metadata = export_generator(generator.train(), path, 64, "tiny")
    return generator, path, metadata


def onnx_difference(generator: Generator, path: Path, batch: int) -> float:
    """Max abs difference between ONNX Runtime (CPU) running `path` and `generator` in eval mode, on random input."""
    metadata = read_metadata(path)
    x = random_input(batch, metadata.in_channels, metadata.size, torch.Generator().manual_seed(batch))
    with torch.no_grad():
        expected = build_generator(generator.config).eval()
        expected.load_state_dict(generator.state_dict())
        want = expected(x).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})
    return float(np.abs(got - want).max())


@pytest.mark.parametrize("batch", [1, 3])
def test_onnx_runtime_matches_torch(exported: tuple[Generator, Path, ExportMetadata], batch: int) -> None:
    generator, path, _ = exported
    assert generator.training, "export must leave the generator's mode as it found it"
    assert onnx_difference(generator, path, batch) <= ONNX_ATOL


def test_shuffle_head_exports(tmp_path: Path) -> None:
    """head='shuffle' (a stride-2 convolution in, a pixel shuffle out) runs in ONNX Runtime as in torch."""
    torch.manual_seed(0)
    preset = get_preset("tiny")
    generator = build_generator(replace(preset.generator, head="shuffle"))
    with torch.no_grad():
        for p in generator.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    path = tmp_path / "shuffle.onnx"
    export_generator(generator, path, 64, "tiny")
    assert onnx_difference(generator, path, 2) <= ONNX_ATOL


def test_onnx_interface(exported: tuple[Generator, Path, ExportMetadata]) -> None:
    _, path, _ = exported
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, out.name) == (INPUT_NAME, OUTPUT_NAME)
    assert inp.shape[1:] == [29, 64, 64] and not isinstance(inp.shape[0], int)
    assert session.get_modelmeta().custom_metadata_map["reenact.preset"] == "tiny"
    assert onnx.load(str(path)).opset_import[0].version == 18
    (image,) = session.run(None, {INPUT_NAME: np.zeros((2, 29, 64, 64), np.float32)})
    assert image.shape == (2, 3, 64, 64) and image.dtype == np.float32


def test_metadata_reads_back(exported: tuple[Generator, Path, ExportMetadata]) -> None:
    generator, path, metadata = exported
    back = read_metadata(path)
    assert back == metadata
    assert (back.preset, back.size, back.in_channels, back.out_channels) == ("tiny", 64, 29, 3)
    assert back.value_range == (-1.0, 1.0) and back.format_version == FORMAT_VERSION
    assert back.generator == generator.config


def test_metadata_refuses_other_files(exported: tuple[Generator, Path, ExportMetadata]) -> None:
    _, _, metadata = exported
    props = metadata.to_props()
    with pytest.raises(FormatError, match="no reenact metadata"):
        ExportMetadata.from_props({})
    with pytest.raises(FormatError, match="re-export"):
        ExportMetadata.from_props({**props, "reenact.format_version": str(FORMAT_VERSION + 1)})
    with pytest.raises(FormatError, match="bad reenact metadata"):
        ExportMetadata.from_props({k: v for k, v in props.items() if k != "reenact.size"})


def test_export_rejects_sizes_the_generator_cannot_take(tmp_path: Path) -> None:
    generator = build_generator(get_preset("tiny").generator)
    with pytest.raises(ValueError, match="divide"):
        export_generator(generator, tmp_path / "g.onnx", 56, "tiny")
    assert not list(tmp_path.iterdir())
