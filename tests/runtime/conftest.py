"""Model folders for the backend tests: a tiny generator with spread-out outputs, made without the sample clips."""

from __future__ import annotations

import pytest
import torch

from reenact.model_folder import ModelFolder
from reenact.nn.generator import build_generator
from reenact.nn.presets import get_preset
from reenact.runtime.benchmark import write_generator_folder


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> ModelFolder:
    """model.json, generator.pt and generator.onnx of the tiny preset at 64 px, weights perturbed away from their
    initial values so the outputs spread over [-1, 1] (a near-constant output would hide disagreements)."""
    torch.manual_seed(0)
    generator = build_generator(get_preset("tiny").generator)
    with torch.no_grad():
        for p in generator.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return write_generator_folder(tmp_path_factory.mktemp("models") / "tiny", generator.eval(), "tiny", 64)
