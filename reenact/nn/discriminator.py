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

Each scale also sees the image's **detail band** (the image minus its 3x3
binomial blur) multiplied by `detail_gain`. Texture is what an L1-trained
generator lacks, but in raw pixels it is tiny: on the sample clips the detail
band's standard deviation is 0.023 against the image's 0.37 (in [-1, 1]), so a
discriminator needs first-layer weights some 16 times larger to weigh it as it
weighs the coarse image, and Adam, whose steps are about the learning rate
whatever the gradient, takes thousands of steps to get there. Trained alone on
real crops against 5x5-blurred copies (cpu preset, lr 2e-4, batch 6, 40
steps), its hinge loss went from 2.00 to 1.96 without the band and to 1.36 with
it at gain 8 (`tests/nn/test_discriminator.py` keeps a smaller version of this).
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
    detail_gain: float = 16.0
    """Gain of the detail band given beside the image at each scale (0: no band). 16 brings the band's
    spread on real video (std 0.023) up to the image's (0.37); see the module docstring."""

    def __post_init__(self) -> None:
        if min(self.cond_channels, self.image_channels, self.width, self.layers, self.scales) < 1:
            raise ValueError(f"discriminator channels, width, layers and scales must be >= 1, got {self}")
        if self.max_width < self.width:
            raise ValueError(f"max_width ({self.max_width}) must be >= width ({self.width})")
        if self.detail_gain < 0:
            raise ValueError(f"detail_gain must be >= 0, got {self.detail_gain}")

    @property
    def input_channels(self) -> int:
        """Channels each PatchGAN takes: conditioning, image and (with a gain) the image's detail band."""
        return self.cond_channels + self.image_channels * (2 if self.detail_gain else 1)

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
        self.scales = nn.ModuleList(PatchDiscriminator(config.input_channels, config) for _ in range(config.scales))

    def forward(self, conditioning: Tensor, image: Tensor) -> DiscriminatorOutput:
        """conditioning B x cond_channels x S x S and image B x image_channels x S x S, both in [-1, 1]."""
        multiple = self.config.multiple
        check_image_stack(conditioning, "conditioning", self.config.cond_channels, multiple)
        check_image_stack(image, "image", self.config.image_channels, multiple)
        if conditioning.shape[2:] != image.shape[2:]:
            raise ValueError(f"conditioning {tuple(conditioning.shape)} and image {tuple(image.shape)} differ in size")
        logits, features = [], []
        for i, scale in enumerate(self.scales):
            if i > 0:
                conditioning, image = (F.avg_pool2d(x, 3, 2, 1, count_include_pad=False) for x in (conditioning, image))
            parts = [conditioning, image]
            if self.config.detail_gain:
                parts.append(self.config.detail_gain * detail_band(image))
            scale_logits, scale_features = scale(torch.cat(parts, dim=1))
            logits.append(scale_logits)
            features.append(scale_features)
        return DiscriminatorOutput(logits, features)


def detail_band(image: Tensor) -> Tensor:
    """The image minus its 3x3 binomial blur (edges replicated), per channel: its finest texture."""
    k = torch.tensor([1.0, 2.0, 1.0], dtype=image.dtype, device=image.device)
    kernel = (k[:, None] * k[None] / 16).expand(image.shape[1], 1, 3, 3)
    return image - F.conv2d(F.pad(image, (1, 1, 1, 1), mode="replicate"), kernel, groups=image.shape[1])


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
