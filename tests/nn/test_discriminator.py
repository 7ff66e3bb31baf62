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


def _blurred(images: torch.Tensor) -> torch.Tensor:
    """A 5x5 Gaussian blur (sigma 1.1, OpenCV's for that size) of B x 3 x S x S images."""
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])
    kernel = (k[:, None] * k[None] / 256).expand(3, 1, 5, 5)
    return torch.nn.functional.conv2d(torch.nn.functional.pad(images, (2,) * 4, mode="replicate"), kernel, groups=3)


def _train_alone(config: DiscriminatorConfig, real: torch.Tensor, steps: int) -> float:
    """Hinge loss after training a discriminator alone on real crops against blurred copies (mean of the last 5)."""
    from reenact.nn.losses import discriminator_hinge_loss

    torch.manual_seed(0)
    model = build_discriminator(config)
    optimiser = torch.optim.Adam(model.parameters(), 2e-4, (0.5, 0.999))
    fake = _blurred(real)
    cond = torch.zeros(len(real) * 2, config.cond_channels, *real.shape[2:])
    losses = []
    for _ in range(steps):
        out = model(cond, torch.cat([real, fake]))
        loss = discriminator_hinge_loss([x[: len(real)] for x in out.logits], [x[len(real):] for x in out.logits])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    return sum(losses[-5:]) / 5


def test_detail_band_lets_a_discriminator_tell_real_crops_from_blurred_ones(data) -> None:
    """Issue 12's probe, smaller: real 128 px crops of a clip against 5x5-blurred copies, 30 steps. Without the
    detail band the hinge loss stays near chance (2.0; measured 1.88); with it, it drops well below (0.80)."""
    import itertools

    import numpy as np

    from reenact.video_io import VideoReader

    frames = list(itertools.islice(VideoReader(data / "target_edtalk.mp4"), 0, 400, 50))
    real = torch.from_numpy(np.stack(frames)[:, 64:192, 64:192]).permute(0, 3, 1, 2).float() / 127.5 - 1
    config = DiscriminatorConfig(cond_channels=1, width=32, max_width=128, layers=3, scales=2)
    with_band = _train_alone(config, real, 30)
    without = _train_alone(replace(config, detail_gain=0.0), real, 30)
    print(f"hinge loss after 30 steps: {without:.3f} without the detail band, {with_band:.3f} with it")
    assert with_band < 1.5 and with_band < without - 0.5
