"""Discriminators: a conditional multi-scale PatchGAN and a temporal one over K frames.

`MultiScaleDiscriminator` judges (conditioning stack, image) pairs, concatenated
along channels, with one PatchGAN per scale (full, 1/2, 1/4 ...): the coarse
scales see the whole face, the fine one texture. `TemporalDiscriminator` is the
same body over K consecutive frames stacked along channels (each frame's image
with its own conditioning), so a sequence that flickers is told apart from a
real one even when each frame alone looks right.

Both return per-scale patch logits and every hidden layer's features (for the
feature-matching loss).

Spectral norm (on by default) bounds each layer's Lipschitz constant: it keeps
the discriminator from running away from the generator without a gradient
penalty's extra backward pass, pairs with the hinge loss in `reenact.nn.losses`
(the SNGAN / SPADE recipe of multi-scale PatchGAN + spectral norm + hinge +
feature matching), and costs nothing at inference: discriminators are never
exported. No other normalisation, so batch size has no effect on a sample's logits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

from reenact.nn.generator import check_image_stack


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Shape of a `MultiScaleDiscriminator`."""

    cond_channels: int = 25
    """Channels of the conditioning it is given with the image (the generator's in_channels)."""
    image_channels: int = 3
    """Channels of the image judged (RGB)."""
    width: int = 64
    """Channels of the first layer; doubled at each stride-2 layer."""
    max_width: int = 512
    """Cap on the channels of the deeper layers."""
    layers: int = 3
    """Stride-2 layers per scale: the patch (receptive field) grows with it (3: 70x70 px, pix2pix)."""
    scales: int = 2
    """Image scales judged, each by its own PatchGAN (full, 1/2, 1/4 ... resolution)."""
    spectral_norm: bool = True
    """Spectral normalisation of every convolution (see the module docstring for why)."""

    def __post_init__(self) -> None:
        if min(self.cond_channels, self.image_channels, self.width, self.layers, self.scales) < 1:
            raise ValueError(f"discriminator channels, width, layers and scales must be >= 1, got {self}")
        if self.max_width < self.width:
            raise ValueError(f"max_width ({self.max_width}) must be >= width ({self.width})")

    @property
    def multiple(self) -> int:
        """Input sizes must divide by this (each scale and each stride-2 layer halves exactly)."""
        return 2 ** (self.scales - 1 + self.layers)


@dataclass(frozen=True)
class TemporalDiscriminatorConfig:
    """Shape of a `TemporalDiscriminator`: K frames, each judged with its own conditioning."""

    frames: int = 3
    """K: consecutive frames seen together."""
    per_frame: DiscriminatorConfig = DiscriminatorConfig(cond_channels=5)
    """Body shape, with cond_channels and image_channels counted per frame (C and 3)."""

    def __post_init__(self) -> None:
        if self.frames < 2:
            raise ValueError(f"a temporal discriminator needs frames >= 2, got {self.frames}")

    def stacked(self) -> DiscriminatorConfig:
        """The body's config once the K frames are stacked along channels."""
        return replace(
            self.per_frame,
            cond_channels=self.frames * self.per_frame.cond_channels,
            image_channels=self.frames * self.per_frame.image_channels,
        )


class DiscriminatorOutput(NamedTuple):
    """Per-scale results, finest scale first."""

    logits: list[Tensor]
    """One B x 1 x h x w patch-logit map per scale."""
    features: list[list[Tensor]]
    """Per scale, every hidden layer's activations (for feature matching)."""


class PatchDiscriminator(nn.Module):
    """One PatchGAN: stride-2 4x4 convolutions, then two 3x3 ones, the last to one logit per patch."""

    def __init__(self, in_channels: int, config: DiscriminatorConfig) -> None:
        super().__init__()
        sn = spectral_norm if config.spectral_norm else (lambda m: m)
        widths = [min(config.width * 2**i, config.max_width) for i in range(config.layers + 1)]
        layers: list[nn.Module] = []
        c_in = in_channels
        for c_out in widths[:-1]:
            layers.append(nn.Sequential(sn(nn.Conv2d(c_in, c_out, 4, 2, 1)), nn.LeakyReLU(0.2)))
            c_in = c_out
        layers.append(nn.Sequential(sn(nn.Conv2d(c_in, widths[-1], 3, 1, 1)), nn.LeakyReLU(0.2)))
        self.hidden = nn.ModuleList(layers)
        self.logit = sn(nn.Conv2d(widths[-1], 1, 3, 1, 1))

    def forward(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """B x in_channels x S x S -> (logits B x 1 x h x w, hidden features)."""
        features = []
        for layer in self.hidden:
            x = layer(x)
            features.append(x)
        return self.logit(x), features


class MultiScaleDiscriminator(nn.Module):
    """Conditional PatchGANs at several scales over (conditioning, image)."""

    def __init__(self, config: DiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        in_channels = config.cond_channels + config.image_channels
        self.scales = nn.ModuleList(PatchDiscriminator(in_channels, config) for _ in range(config.scales))

    def forward(self, conditioning: Tensor, image: Tensor) -> DiscriminatorOutput:
        """conditioning B x cond_channels x S x S and image B x image_channels x S x S, both in [-1, 1]."""
        multiple = self.config.multiple
        check_image_stack(conditioning, "conditioning", self.config.cond_channels, multiple)
        check_image_stack(image, "image", self.config.image_channels, multiple)
        if conditioning.shape[2:] != image.shape[2:]:
            raise ValueError(f"conditioning {tuple(conditioning.shape)} and image {tuple(image.shape)} differ in size")
        x = torch.cat([conditioning, image], dim=1)
        logits, features = [], []
        for i, scale in enumerate(self.scales):
            if i > 0:
                x = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
            scale_logits, scale_features = scale(x)
            logits.append(scale_logits)
            features.append(scale_features)
        return DiscriminatorOutput(logits, features)


class TemporalDiscriminator(nn.Module):
    """Multi-scale PatchGAN over K consecutive frames stacked along channels (penalises flicker)."""

    def __init__(self, config: TemporalDiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        self.body = MultiScaleDiscriminator(config.stacked())

    def forward(self, conditioning: Tensor, frames: Tensor) -> DiscriminatorOutput:
        """conditioning B x K x C x S x S (each frame's own C images, i.e. the first C channels
        of its W-frame stack) and frames B x K x 3 x S x S (oldest first), both in [-1, 1]."""
        k, per_frame = self.config.frames, self.config.per_frame
        for name, x, c in (
            ("conditioning", conditioning, per_frame.cond_channels),
            ("frames", frames, per_frame.image_channels),
        ):
            if x.dim() != 5 or x.shape[1] != k or x.shape[2] != c:
                raise ValueError(f"{name}: expected B x {k} x {c} x S x S, got shape {tuple(x.shape)}")
        return self.body(conditioning.flatten(1, 2), frames.flatten(1, 2))


def build_discriminator(config: DiscriminatorConfig) -> MultiScaleDiscriminator:
    """The per-frame conditional discriminator for `config` (freshly initialised)."""
    return MultiScaleDiscriminator(config)


def build_temporal_discriminator(config: TemporalDiscriminatorConfig) -> TemporalDiscriminator:
    """The temporal discriminator for `config` (freshly initialised)."""
    return TemporalDiscriminator(config)
