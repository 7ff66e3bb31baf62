"""Named network presets: the shapes of the generator and discriminators, nothing else.

`tiny` is for tests (trains in seconds on CPU at 64 px), `cpu` runs live on a
2-core CPU at 256 px through ONNX Runtime, `gpu` is for quality at 512 px.
Training-loop settings (learning rates, loss weights, steps) live with the
training code. The conditioning layout (W frames of C channels) is decided by
the renderer: `with_conditioning` resizes every network's inputs to match it,
and `NetworkPreset` refuses inconsistent combinations.

Generator cost at the default layout (W=5 x C=5 = 25 input channels), measured on this
project's 2-core CPU (AMD EPYC, AVX-512; shared, so these are typical, not best,
figures), batch 1, after warm-up, median of 30 runs (`python tools/bench.py --only backends`,
through `reenact.runtime`):

| preset | params | GFLOPs | ONNX Runtime, 2 threads | eager torch, 2 threads |
| --- | --- | --- | --- | --- |
| tiny | 0.16 M | 0.061 at 64 px | - | - |
| cpu | 7.8 M | 2.93 at 256 px | see `python tools/bench.py --only training` | - |
| gpu | 66 M | 111 at 256 px, 444 at 512 px | (GPU preset) | (GPU preset) |

The cpu preset starts with a stride-2 stem (no wide layer at full resolution)
and base width 16; the one narrow full-resolution layer takes the current
frame's conditioning, context and texture (not all W frames: the stem already
saw them), and GroupNorm stays (+7% time over none, for steadier GAN
training). At equal CPU time these two shape changes trained 1.4x the steps of
the width-24, whole-stack generator (5.48 GFLOPs) and scored better on the
held-out frames of two targets (README, Quality). Its cost grows with the input
channels at the stem, so re-measure with `python tools/bench.py --only backends`
after changing W or C.

Its discriminators start at width 32, not 64: an adversarial step then takes
~1.5 s instead of ~2.2 s on one core, so an hour trains ~8% more steps, and the
held-out scores of two targets came out level (README, Quality).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from reenact.errors import SettingError
from reenact.nn.discriminator import DiscriminatorConfig, TemporalDiscriminatorConfig
from reenact.nn.generator import CONTEXT_CHANNELS, GeneratorConfig, input_channels

DEFAULT_WINDOW = 5
"""W: conditioning frames per generator input (current and W-1 previous); mirrors the default of
`reenact.render.conditioning.ConditioningConfig.window`, which training passes to `with_conditioning`."""
DEFAULT_CHANNELS = 5
"""C: conditioning channels per frame (correspondence 3, shading 1, eye map 1); mirrors
`reenact.render.conditioning.N_CHANNELS` (kept apart so the networks need not import the renderer)."""


@dataclass(frozen=True)
class NetworkPreset:
    """Generator and discriminator shapes for one use, with the conditioning layout they assume."""

    name: str
    """Preset name (recorded in exported files and run folders)."""
    size: int
    """Crop size S the preset is meant for (networks accept any S divisible by their multiple)."""
    window: int
    """W: conditioning frames stacked into the generator's input."""
    channels: int
    """C: conditioning channels per frame."""
    generator: GeneratorConfig
    """Generator shape; in_channels must be window * channels."""
    discriminator: DiscriminatorConfig
    """Per-frame discriminator, conditioned on the same W x C stack as the generator."""
    temporal: TemporalDiscriminatorConfig
    """Temporal discriminator over K frames, each conditioned on its own C channels."""

    def __post_init__(self) -> None:
        stack = self.window * self.channels
        generator_in = input_channels(stack, self.generator.context)
        if self.generator.in_channels != generator_in or self.discriminator.cond_channels != stack:
            raise SettingError(
                f"preset {self.name!r}: generator in_channels ({self.generator.in_channels}) must be window x channels "
                f"(+ {CONTEXT_CHANNELS} with context) = {generator_in} and discriminator cond_channels "
                f"({self.discriminator.cond_channels}) window x channels = {stack}; "
                "build it with NetworkPreset.with_conditioning(window, channels)"
            )
        if self.temporal.per_frame.cond_channels != self.channels:
            raise SettingError(
                f"preset {self.name!r}: temporal discriminator per-frame cond_channels "
                f"({self.temporal.per_frame.cond_channels}) must equal channels ({self.channels}); "
                "build it with NetworkPreset.with_conditioning(window, channels)"
            )
        for what, multiple in (
            ("generator", self.generator.multiple),
            ("discriminator", self.discriminator.multiple),
            ("temporal discriminator", self.temporal.per_frame.multiple),
        ):
            if self.size % multiple:
                raise SettingError(
                    f"preset {self.name!r}: size {self.size} must divide by the {what}'s multiple {multiple}"
                )

    def with_conditioning(self, window: int, channels: int) -> NetworkPreset:
        """This preset with every network's inputs sized for W = `window` frames of C = `channels`."""
        if window < 1 or channels < 1:
            raise SettingError(f"window and channels must be >= 1, got {window}, {channels}")
        stack = window * channels
        return replace(
            self,
            window=window,
            channels=channels,
            generator=replace(self.generator, in_channels=input_channels(stack, self.generator.context),
                              head_skip_channels=channels if self.generator.head_skip_channels else 0),
            discriminator=replace(self.discriminator, cond_channels=stack),
            temporal=replace(self.temporal, per_frame=replace(self.temporal.per_frame, cond_channels=channels)),
        )


def _preset(
    name: str, size: int, generator: GeneratorConfig, discriminator: DiscriminatorConfig, frames: int
) -> NetworkPreset:
    """A preset at the default conditioning layout (the sub-configs' channel counts are set here)."""
    stack = DEFAULT_WINDOW * DEFAULT_CHANNELS
    return NetworkPreset(
        name=name,
        size=size,
        window=DEFAULT_WINDOW,
        channels=DEFAULT_CHANNELS,
        generator=replace(generator, in_channels=input_channels(stack, generator.context)),
        discriminator=replace(discriminator, cond_channels=stack),
        temporal=TemporalDiscriminatorConfig(frames, replace(discriminator, cond_channels=DEFAULT_CHANNELS)),
    )


PRESETS: dict[str, NetworkPreset] = {
    p.name: p
    for p in (
        # Tests: 0.14 M parameters; overfits 16 frames at 64 px in ~150 steps (seconds on CPU).
        _preset(
            "tiny",
            64,
            GeneratorConfig(
                base_width=12,
                max_width=48,
                levels=3,
                stem_stride=2,
                head_width=8,
                level_convs=0,
                bottleneck_blocks=1,
                norm_groups=4,
                context=True,
                context_feather=4,
                texture_channels=4,
                texture_size=64,
            ),
            DiscriminatorConfig(width=8, max_width=32, layers=2, scales=2),
            frames=2,
        ),
        # Live on a 2-core CPU at 256 px in ONNX Runtime (measurements in the module docstring).
        _preset(
            "cpu",
            256,
            GeneratorConfig(
                base_width=16,
                max_width=256,
                levels=5,
                stem_stride=2,
                head_width=16,
                head_skip_channels=DEFAULT_CHANNELS,
                level_convs=1,
                bottleneck_blocks=2,
                norm="group",
                context=True,
                texture_channels=8,
                texture_size=256,
            ),
            DiscriminatorConfig(width=32, max_width=256, layers=3, scales=2),
            frames=3,
        ),
        # Quality at 512 px on a GPU: full-resolution stem, wide levels, GroupNorm.
        _preset(
            "gpu",
            512,
            GeneratorConfig(base_width=64, max_width=512, levels=6, level_convs=1, bottleneck_blocks=4, norm="group",
                            context=True, context_feather=16, texture_channels=16, texture_size=512),
            DiscriminatorConfig(width=64, max_width=512, layers=3, scales=3),
            frames=3,
        ),
    )
}
"""The named presets, by name."""


def get_preset(name: str) -> NetworkPreset:
    """The preset called `name`; the error lists the valid names."""
    try:
        return PRESETS[name]
    except KeyError:
        raise SettingError(f"unknown network preset {name!r}; valid presets: {', '.join(PRESETS)}") from None
