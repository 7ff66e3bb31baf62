"""Generator shapes, range, input checks, batch independence, presets, and that it learns."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from reenact.nn.generator import (
    CONTEXT_CHANNELS,
    GeneratorConfig,
    NeuralTexture,
    build_generator,
    context_weight,
    generator_gflops,
    random_input,
)
from reenact.nn.presets import PRESETS, get_preset


def _stack(batch: int, channels: int, size: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, channels, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("size", [64, 128])
@pytest.mark.parametrize("name", list(PRESETS))
def test_preset_generator_shape_and_range(name: str, size: int) -> None:
    config = get_preset(name).generator
    model = build_generator(config).eval()
    with torch.no_grad():
        out = model(_stack(1, config.in_channels, size))
    assert out.shape == (1, 3, size, size)
    assert out.dtype == torch.float32
    assert out.abs().max() <= 1.0


def test_output_saturates_inside_range() -> None:
    config = get_preset("tiny").generator
    model = build_generator(replace(config, context=False, in_channels=config.in_channels - CONTEXT_CHANNELS)).eval()
    with torch.no_grad():
        model.head.bias.fill_(50.0)
        out = model(_stack(2, model.config.in_channels, 64))
    assert out.min() >= -1.0 and out.max() <= 1.0
    assert out.min() > 0.99


def test_context_generator_copies_the_context_outside_the_edit_mask() -> None:
    model = build_generator(get_preset("tiny").generator).eval()
    x = random_input(2, model.config.in_channels, 64, torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.head.bias.fill_(50.0)  # the generated image is ~1 everywhere
        out = model(x)
    context, inside = x[:, -4:-1], x[:, -1:] > 0
    weight = context_weight(inside, model.config.context_feather)
    beyond = (weight == 0).expand_as(out)
    assert beyond.any() and torch.equal(out[beyond], context[beyond])  # not edited: copied exactly
    edited = inside.expand_as(out)
    assert out[edited].min() > 0.99  # the whole mask is the generator's own (no blanked grey mixed in)
    ramp = ((weight > 0) & (weight < 1)).expand_as(out)
    expected = (weight * 1.0 + (1 - weight) * context).expand_as(out)
    assert ramp.any() and torch.allclose(out[ramp], expected[ramp], atol=0.02)  # the ramp mixes the two


def test_context_weight_is_one_on_the_mask_and_falls_to_zero_outside() -> None:
    mask = torch.zeros(1, 1, 48, 48, dtype=torch.bool)
    mask[..., 16:32, 16:32] = True
    weight = context_weight(mask, 8)[0, 0]
    assert (weight[mask[0, 0]] == 1).all()
    row = weight[24, 4:17]  # from 12 px outside the mask to its edge
    assert bool((row[1:] >= row[:-1]).all()) and row[0] == 0 and 0 < row[8] < 1


def test_neural_texture_is_read_on_the_face_only() -> None:
    texture = NeuralTexture(channels=2, size=8)
    with torch.no_grad():
        texture.texture.copy_(torch.arange(2 * 8 * 8, dtype=torch.float32).view(1, 2, 8, 8))
    coords = torch.full((1, 2, 4, 4), -1.0)  # BACKGROUND: no face
    coords[..., :2, :2] = 0.5
    out = texture(coords)
    assert out.shape == (1, 2, 4, 4)
    assert (out[..., 2:, :] == 0).all() and (out[..., :2, :2] > 0).all()
    assert len(list(texture.parameters())) == 1 and texture.texture.requires_grad


@pytest.mark.parametrize(
    "shape, message",
    [
        ((1, 5, 64, 64), "29 channels"),
        ((1, 29, 56, 56), "divisible by 16"),
        ((1, 29, 64, 32), "square"),
        ((29, 64, 64), "4-D"),
    ],
)
def test_rejects_bad_input(shape: tuple[int, ...], message: str) -> None:
    model = build_generator(get_preset("tiny").generator)
    with pytest.raises(ValueError, match=message):
        model(torch.zeros(shape))


def test_input_check_runs_under_export() -> None:
    model = build_generator(get_preset("tiny").generator).eval()
    with pytest.raises(ValueError, match="channels"):
        torch.export.export(model, (torch.zeros(2, 5, 64, 64),))


def test_same_in_train_and_eval_and_independent_of_batch() -> None:
    """No BatchNorm surprises: a sample's output depends on neither the mode nor its batch mates."""
    model = build_generator(get_preset("tiny").generator)
    x = _stack(4, model.config.in_channels, 64)
    with torch.no_grad():
        train_batch = model.train()(x)
        train_single = model(x[:1])
        eval_single = model.eval()(x[:1])
    torch.testing.assert_close(train_single, train_batch[:1], atol=1e-5, rtol=0)
    torch.testing.assert_close(eval_single, train_single, atol=1e-6, rtol=0)


@pytest.mark.parametrize("stem_stride, separable, norm", [(1, True, "none"), (2, False, "group"), (2, True, "none")])
def test_config_variants_run(stem_stride: int, separable: bool, norm: str) -> None:
    config = GeneratorConfig(
        in_channels=6, base_width=8, max_width=16, levels=2, stem_stride=stem_stride, separable=separable, norm=norm
    )
    out = build_generator(config)(_stack(2, 6, 32))
    assert out.shape == (2, 3, 32, 32)
    out.mean().backward()


def test_shuffle_head_draws_each_full_resolution_pixel_and_copies_the_context() -> None:
    """head='shuffle': the last layers run at half resolution, yet the four pixels of each 2x2 block are drawn
    apart (not one value upsampled), a full-resolution input pixel reaches the output, and a context
    generator still copies the context outside the edit mask."""
    config = replace(get_preset("tiny").generator, head="shuffle")
    model = build_generator(config).eval()
    assert model.head is None and model.head_up is None
    x = random_input(2, config.in_channels, 64, torch.Generator().manual_seed(0))
    x.requires_grad_(True)
    out = model(x)
    inside = (x[:, -1:] > 0).expand_as(out)
    assert (out[:, :, 0::2, 0::2] - out[:, :, 1::2, 1::2])[inside[:, :, 0::2, 0::2]].abs().max() > 1e-3
    out[0, :, 33, 33].sum().backward()
    assert x.grad[0, 0, 33, 33].abs() > 0  # the current frame's correspondence x at that very pixel
    with torch.no_grad():
        model.head_shuffle.out.bias.fill_(50.0)
        saturated = model(x.detach())
    weight = context_weight(x[:, -1:] > 0, config.context_feather)
    beyond = (weight == 0).expand_as(saturated)
    assert torch.equal(saturated[beyond], x.detach()[:, -4:-1][beyond])
    assert saturated[inside].min() > 0.99


@pytest.mark.parametrize("skip", [0, 5])
def test_head_skip_takes_the_current_frame_context_and_texture(skip: int) -> None:
    """head_skip_channels N: the full-resolution layer's raw input is the stack's first N channels (the current
    frame), the context and the sampled texture; 0: the whole network input."""
    config = replace(get_preset("tiny").with_conditioning(window=2, channels=5).generator, head_skip_channels=skip)
    model = build_generator(config).eval()
    x = _stack(2, config.in_channels, 64)
    seen: list[torch.Tensor] = []
    model.head_up.register_forward_hook(lambda _module, args, _out: seen.append(args[1]))
    with torch.no_grad():
        model(x)
        texture = model.texture(x[:, :2])
    expected = (
        torch.cat([x, texture], 1) if not skip else torch.cat([x[:, :skip], x[:, -CONTEXT_CHANNELS:], texture], 1)
    )
    assert config.head_skip_width == expected.shape[1]
    torch.testing.assert_close(seen[0], expected)


def test_with_conditioning_keeps_a_frame_head_skip_on_the_current_frame() -> None:
    preset = get_preset("tiny")
    frame = replace(preset, generator=replace(preset.generator, head_skip_channels=preset.channels))
    assert frame.with_conditioning(window=3, channels=4).generator.head_skip_channels == 4
    assert preset.with_conditioning(window=3, channels=4).generator.head_skip_channels == 0
    with pytest.raises(ValueError, match="head_skip_channels"):
        replace(preset.generator, head_skip_channels=preset.generator.in_channels)


@pytest.mark.parametrize(
    "field, value",
    [
        ("in_channels", 0),
        ("max_width", 4),
        ("levels", 0),
        ("stem_stride", 3),
        ("norm", "batch"),
        ("head_width", 0),
        ("norm_groups", 3),
        ("head", "bilinear"),
    ],
)
def test_config_rejects_bad_fields(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field.split("_")[0]):
        replace(GeneratorConfig(base_width=8), **{field: value})


def test_shuffle_head_needs_a_stride_2_stem() -> None:
    with pytest.raises(ValueError, match="stem_stride 2"):
        GeneratorConfig(base_width=8, head="shuffle")


def test_cpu_preset_fits_real_time_budget() -> None:
    """The cpu preset's cost at 256 px stays at the 2.93 GFLOPs its ms per frame were measured at
    (`python tools/bench.py --only training`): a wider preset must be re-measured, not slip in."""
    assert generator_gflops(get_preset("cpu").generator, 256) < 3.0


def test_presets_by_name() -> None:
    assert get_preset("cpu").name == "cpu"
    with pytest.raises(ValueError, match="tiny, cpu, gpu"):
        get_preset("huge")


def test_preset_conditioning_layout_is_kept_consistent() -> None:
    preset = get_preset("tiny").with_conditioning(window=2, channels=5)
    assert preset.generator.in_channels == 10 + CONTEXT_CHANNELS  # the stack, then the context and its mask
    assert preset.discriminator.cond_channels == 10
    assert preset.temporal.per_frame.cond_channels == 5
    with pytest.raises(ValueError, match="with_conditioning"):
        replace(preset, window=3)
    with pytest.raises(ValueError, match="multiple"):
        replace(preset, size=60)
