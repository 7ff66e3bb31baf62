"""Multi-scale and temporal discriminators: logits per scale, features, conditioning, errors."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from reenact.nn.discriminator import (
    DiscriminatorConfig,
    TemporalDiscriminatorConfig,
    build_discriminator,
    build_temporal_discriminator,
)
from reenact.nn.presets import PRESETS, get_preset


def _rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("size", [64, 128])
@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_discriminator_scales_and_features(name: str, size: int) -> None:
    config = get_preset(name).discriminator
    model = build_discriminator(config)
    with torch.no_grad():
        out = model(_rand(2, config.cond_channels, size, size), _rand(2, 3, size, size, seed=1))
    assert len(out.logits) == len(out.features) == config.scales
    for scale, (logits, features) in enumerate(zip(out.logits, out.features)):
        patches = size // 2 ** (scale + config.layers)
        assert logits.shape == (2, 1, patches, patches)
        assert len(features) == config.layers + 1
        assert all(f.shape[0] == 2 for f in features)


@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_temporal_discriminator(name: str) -> None:
    config = get_preset(name).temporal
    k, c = config.frames, config.per_frame.cond_channels
    model = build_temporal_discriminator(config)
    with torch.no_grad():
        out = model(_rand(2, k, c, 64, 64), _rand(2, k, 3, 64, 64, seed=1))
    assert len(out.logits) == len(out.features) == config.per_frame.scales
    assert out.logits[0].shape == (2, 1, 64 // 2**config.per_frame.layers, 64 // 2**config.per_frame.layers)


def test_temporal_discriminator_sees_frame_order() -> None:
    """Swapping two frames changes the verdict: it judges the sequence, not a bag of frames."""
    config = get_preset("tiny").temporal
    model = build_temporal_discriminator(config)
    cond = _rand(1, config.frames, config.per_frame.cond_channels, 32, 32)
    frames = _rand(1, config.frames, 3, 32, 32, seed=1)
    with torch.no_grad():
        a = model(cond, frames).logits[0]
        b = model(cond, frames.flip(1)).logits[0]
    assert not torch.allclose(a, b)


def test_discriminator_is_conditional_and_trains_the_generator() -> None:
    config = get_preset("tiny").discriminator
    model = build_discriminator(config)
    cond = _rand(1, config.cond_channels, 32, 32)
    image = _rand(1, 3, 32, 32, seed=1).requires_grad_()
    logits = model(cond, image).logits
    with torch.no_grad():
        other = model(_rand(1, config.cond_channels, 32, 32, seed=2), image).logits
    assert not torch.allclose(logits[0], other[0])
    sum(l.mean() for l in logits).backward()
    assert image.grad is not None and image.grad.abs().sum() > 0


@pytest.mark.parametrize("enabled", [True, False])
def test_spectral_norm_switch(enabled: bool) -> None:
    config = replace(get_preset("tiny").discriminator, spectral_norm=enabled)
    convs = [m for m in build_discriminator(config).modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(hasattr(m, "parametrizations") == enabled for m in convs)


def test_rejects_bad_inputs() -> None:
    model = build_discriminator(get_preset("tiny").discriminator)
    c = model.config.cond_channels
    with pytest.raises(ValueError, match="channels"):
        model(torch.zeros(1, c + 1, 32, 32), torch.zeros(1, 3, 32, 32))
    with pytest.raises(ValueError, match="differ in size"):
        model(torch.zeros(1, c, 32, 32), torch.zeros(1, 3, 64, 64))
    temporal = build_temporal_discriminator(get_preset("tiny").temporal)
    k = temporal.config.frames
    with pytest.raises(ValueError, match=f"B x {k} x"):
        temporal(torch.zeros(1, k + 1, 5, 32, 32), torch.zeros(1, k + 1, 3, 32, 32))


def test_configs_reject_bad_fields() -> None:
    with pytest.raises(ValueError, match="max_width"):
        DiscriminatorConfig(width=64, max_width=32)
    with pytest.raises(ValueError, match="frames >= 2"):
        TemporalDiscriminatorConfig(frames=1)
