"""The rendering-to-video generator: a U-Net over the space-time conditioning stack.

Deep Video Portraits' generator is an encoder-decoder with skip connections that
turns W frames of conditioning images (stacked along channels) into the current
frame's RGB crop. This one keeps that shape and is tuned for export and CPU
speed: stride-2 convolutions down, nearest upsampling plus a convolution up (no
transposed convolutions, so no checkerboard), optional depthwise-separable
convolutions, and GroupNorm or no norm at all (identical in training and
inference at any batch size; no BatchNorm running statistics).

Two options make it a re-renderer rather than a painter of whole crops:

- **context** (`GeneratorConfig.context`): the input's last four channels are
  the target frame's own crop with the edit mask blanked (RGB) and the mask
  (+1 inside, -1 outside; `reenact.render.edit_mask`). The output is the
  generated image inside the mask, mixed with the context over a ramp
  `context_feather` px wide just outside its edge, and the context beyond it: pixels that are not edited are
  copied, not redrawn, and every backend returns the finished crop.
- **a neural texture** (`texture_channels`, after Thies et al., *Deferred
  Neural Rendering*, 2019): a learned feature image in the canonical face's
  surface coordinates, sampled at every face pixel and given to the network
  beside its input, where the person's fine appearance (pores, stubble, the
  iris pattern) can be stored once instead of being re-derived from
  geometry. It is indexed by the current frame's correspondence x and y
  (input channels 0 and 1: the mean face's position, a frontal projection that
  MediaPipe's canonical UV layout matches up to an affine map to within 3% RMS
  of the texture's width), sampled with a 4-D `grid_sample` (exports to ONNX
  and TensorRT; no 5-D sampling).

Input: float32 B x in_channels x S x S in [-1, 1]; output: float32 B x 3 x S x S
in [-1, 1] (tanh). S must divide by `GeneratorConfig.multiple`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

CONTEXT_CHANNELS = 4
"""Input channels the context takes when `GeneratorConfig.context` is set: masked crop RGB and the mask (the
layout `reenact.render.edit_mask.generator_input` makes)."""


def input_channels(stack: int, context: bool) -> int:
    """A generator's in_channels for a conditioning stack of `stack` channels, with or without context."""
    return stack + CONTEXT_CHANNELS * context
FACE_PRESENT = -0.9
"""A correspondence value above this is a face pixel (the renderer's BACKGROUND is -1, its face values >= -0.8)."""


@dataclass(frozen=True)
class GeneratorConfig:
    """Shape of a `Generator`; presets in `reenact.nn.presets` are instances of it."""

    in_channels: int = 25
    """Channels of the conditioning stack: W frames times C conditioning channels each."""
    out_channels: int = 3
    """Channels of the predicted image (RGB)."""
    base_width: int = 32
    """Feature channels at the first (highest-resolution) level; doubled at each level down."""
    max_width: int = 256
    """Cap on feature channels at the deep levels, where widths would otherwise keep doubling."""
    levels: int = 4
    """Stride-2 downsamplings after the stem; the bottleneck sits at S / (stem_stride * 2**levels)."""
    stem_stride: Literal[1, 2] = 1
    """2 makes the first convolution halve the resolution, so no wide layer runs at full
    resolution (about 4x cheaper on CPU); the input is then concatenated again before the
    output head to keep fine detail."""
    level_convs: int = 1
    """Extra 3x3 convolutions per level in the encoder and in the decoder (capacity)."""
    bottleneck_blocks: int = 2
    """Residual blocks at the bottleneck (more receptive field at little cost: low resolution)."""
    separable: bool = False
    """Depthwise-separable extra convolutions (depthwise 3x3 then pointwise 1x1): about
    8x fewer FLOPs each, for CPU presets."""
    norm: Literal["group", "none"] = "group"
    """GroupNorm after each hidden convolution, or none (fastest to run; fine for small nets)."""
    norm_groups: int = 8
    """Groups of GroupNorm (capped by the channel count)."""
    head_width: int = 16
    """Channels of the one full-resolution layer when stem_stride is 2 (it sees the upsampled
    features and the raw conditioning); full resolution is where narrow layers cost most. With
    head="shuffle" that layer runs at half resolution with twice these channels (each of its pixels
    draws four)."""
    head: Literal["upsample", "shuffle"] = "upsample"
    """How a stem_stride-2 generator gets back to full resolution. "upsample": nearest x2, then the
    full-resolution layer and the output convolution run on S x S pixels (narrow 3x3 layers on 65 536
    pixels: more than half of the INT8 generator's time at 256). "shuffle": both run at S/2, the raw input
    read by a stride-2 convolution and the output's channels unstacked into 2x2 blocks (pixel shuffle,
    as ESPCN): every full-resolution pixel is still seen and drawn on its own, by wider, cheaper layers.
    Measured on the cpu preset (README, *A half-resolution output head*): 0.73x the INT8 time, but
    0.4 dB less face PSNR in the same training time, so the presets keep "upsample"."""
    head_skip_channels: int = 0
    """What that layer sees of the raw input beside the features: 0, all of it (W frames, context,
    texture); N, only the first N conditioning channels (the current frame's C, set by
    `NetworkPreset.with_conditioning`), with the context and texture. The older frames' fine detail is not
    needed there, and the layer's input copies and convolution are a third of a cpu training step."""
    context: bool = False
    """The input ends with the masked target crop (3) and the edit mask (1), and the output is composited
    over that crop outside the mask (see the module docstring)."""
    context_feather: int = 8
    """Width in pixels of the ramp just outside the edit mask where generated and context pixels mix."""
    texture_channels: int = 0
    """Feature channels of the neural texture (0: none)."""
    texture_size: int = 256
    """Side of the neural texture in texels."""

    def __post_init__(self) -> None:
        if self.in_channels < 1 or self.out_channels < 1:
            raise ValueError(f"in_channels and out_channels must be >= 1, got {self.in_channels}, {self.out_channels}")
        if self.base_width < 1 or self.max_width < self.base_width:
            raise ValueError(f"need 1 <= base_width <= max_width, got {self.base_width}, {self.max_width}")
        if self.levels < 1:
            raise ValueError(f"levels must be >= 1, got {self.levels}")
        if self.stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be 1 or 2, got {self.stem_stride}")
        if self.level_convs < 0 or self.bottleneck_blocks < 0:
            raise ValueError("level_convs and bottleneck_blocks must be >= 0")
        if self.head_width < 1:
            raise ValueError(f"head_width must be >= 1, got {self.head_width}")
        if self.head not in ("upsample", "shuffle"):
            raise ValueError(f"head must be 'upsample' or 'shuffle', got {self.head!r}")
        if self.head == "shuffle" and self.stem_stride != 2:
            raise ValueError("head='shuffle' needs stem_stride 2 (it replaces the full-resolution layer of that stem)")
        stack = self.in_channels - CONTEXT_CHANNELS * self.context
        if not 0 <= self.head_skip_channels <= stack:
            raise ValueError(f"head_skip_channels must be in [0, {stack}] (the conditioning stack), "
                             f"got {self.head_skip_channels}")
        if self.context and (self.in_channels < CONTEXT_CHANNELS + 2 or self.context_feather < 2):
            raise ValueError(f"context needs in_channels >= {CONTEXT_CHANNELS + 2} and context_feather >= 2, got "
                             f"{self.in_channels} and {self.context_feather}")
        if self.texture_channels < 0 or (self.texture_channels and self.texture_size < 2):
            raise ValueError(f"need texture_channels >= 0 and texture_size >= 2, got {self.texture_channels}, "
                             f"{self.texture_size}")
        if self.norm not in ("group", "none"):
            raise ValueError(f"norm must be 'group' or 'none', got {self.norm!r}")
        if self.norm == "group":
            widths = [self.width(i) for i in range(self.levels + 1)] + (
                [self.head_width] if self.stem_stride == 2 else []
            )
            uneven = [c for c in widths if self.norm_groups < 1 or c % min(self.norm_groups, c)]
            if uneven:
                raise ValueError(
                    f"norm='group' needs every width to divide by norm_groups ({self.norm_groups}); "
                    f"widths {widths}, {uneven} do not: change base_width/max_width/head_width or norm_groups"
                )

    @property
    def network_channels(self) -> int:
        """Channels the convolutions take: the input and the sampled neural texture."""
        return self.in_channels + self.texture_channels

    @property
    def head_skip_width(self) -> int:
        """Channels of the raw input the full-resolution layer sees (see `head_skip_channels`)."""
        if not self.head_skip_channels:
            return self.network_channels
        return self.head_skip_channels + CONTEXT_CHANNELS * self.context + self.texture_channels

    @property
    def multiple(self) -> int:
        """The input size S must divide by this (every downsampling halves it exactly)."""
        return self.stem_stride * 2**self.levels

    def width(self, level: int) -> int:
        """Feature channels at `level` (0 = stem output)."""
        return min(self.base_width * 2**level, self.max_width)


def check_image_stack(x: Tensor, name: str, channels: int, multiple: int = 1) -> None:
    """Raise ValueError unless `x` is B x channels x S x S with S divisible by `multiple`.

    Plain Python checks on the static dimensions only (never the batch), so they
    run unchanged in eager mode and while `torch.export` / ONNX export traces.
    """
    if x.dim() != 4:
        raise ValueError(f"{name}: expected a 4-D tensor B x {channels} x S x S, got shape {tuple(x.shape)}")
    _, c, h, w = x.shape
    if c != channels:
        raise ValueError(f"{name}: expected {channels} channels (B x {channels} x S x S), got shape {tuple(x.shape)}")
    if h != w or h % multiple != 0:
        raise ValueError(f"{name}: expected square S x S with S divisible by {multiple}, got {h} x {w}")


def _norm(channels: int, config: GeneratorConfig) -> nn.Module:
    """GroupNorm (per sample: the same in training and inference at any batch size) or nothing."""
    if config.norm == "none":
        return nn.Identity()
    return nn.GroupNorm(min(config.norm_groups, channels), channels)


class ConvNormAct(nn.Sequential):
    """3x3 convolution (plain or depthwise-separable), norm, LeakyReLU(0.2)."""

    def __init__(
        self, c_in: int, c_out: int, config: GeneratorConfig, stride: int = 1, separable: bool = False
    ) -> None:
        bias = config.norm == "none"
        if separable:
            conv: list[nn.Module] = [
                nn.Conv2d(c_in, c_in, 3, stride, 1, groups=c_in, bias=False),
                nn.Conv2d(c_in, c_out, 1, bias=bias),
            ]
        else:
            conv = [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=bias)]
        super().__init__(*conv, _norm(c_out, config), nn.LeakyReLU(0.2, inplace=True))


class ResidualBlock(nn.Module):
    """Two convolutions with an identity shortcut (bottleneck capacity that trains easily)."""

    def __init__(self, channels: int, config: GeneratorConfig) -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvNormAct(channels, channels, config, separable=config.separable),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=config.norm == "none"),
            _norm(channels, config),
        )

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x + self.body(x), 0.2)


def _level_convs(channels: int, config: GeneratorConfig) -> nn.Sequential:
    """The `level_convs` extra same-width convolutions of one level (empty when 0)."""
    return nn.Sequential(
        *(ConvNormAct(channels, channels, config, separable=config.separable) for _ in range(config.level_convs))
    )


class UpLevel(nn.Module):
    """Nearest x2 upsampling, concatenation with the skip, convolution (no checkerboard)."""

    def __init__(self, c_in: int, c_skip: int, c_out: int, config: GeneratorConfig, refine: bool = True) -> None:
        super().__init__()
        self.fuse = ConvNormAct(c_in + c_skip, c_out, config)
        self.refine = _level_convs(c_out, config) if refine else nn.Identity()

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return self.refine(self.fuse(torch.cat([x, skip], dim=1)))


class ShuffleHead(nn.Module):
    """Full-resolution output from half-resolution features (`GeneratorConfig.head`): the raw input enters
    through a 4x4 stride-2 convolution (each half-resolution pixel sees its 2x2 block and a pixel around it),
    added to a 3x3 convolution of the features; the output convolution's channels are then shuffled back
    into 2x2 blocks. A stride-2 convolution, not a pixel unshuffle: ONNX Runtime runs the unshuffle's 6-D
    transpose slower than the convolution it saves."""

    def __init__(self, c_in: int, c_skip: int, config: GeneratorConfig) -> None:
        super().__init__()
        width = 2 * config.head_width
        self.features = nn.Conv2d(c_in, width, 3, 1, 1, bias=config.norm == "none")
        self.skip = nn.Conv2d(c_skip, width, 4, 2, 1, bias=False)
        self.act = nn.Sequential(_norm(width, config), nn.LeakyReLU(0.2, inplace=True))
        self.out = nn.Conv2d(width, 4 * config.out_channels, 3, 1, 1)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        """B x c_in x S/2 x S/2 features and B x c_skip x S x S raw input -> B x out_channels x S x S (pre-tanh)."""
        x = self.act(self.features(x) + self.skip(skip))
        return F.pixel_shuffle(self.out(x), 2)


class NeuralTexture(nn.Module):
    """A learned F x T x T feature image, sampled at per-pixel coordinates in [-1, 1] (4-D grid_sample)."""

    def __init__(self, channels: int, size: int) -> None:
        super().__init__()
        self.texture = nn.Parameter(torch.zeros(1, channels, size, size))

    def forward(self, coordinates: Tensor) -> Tensor:
        """B x 2 x S x S (x, y; the correspondence channels) -> B x F x S x S, zero off the face."""
        grid = coordinates.permute(0, 2, 3, 1)
        texture = self.texture.expand(coordinates.shape[0], -1, -1, -1)
        features = F.grid_sample(texture, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        return features * (coordinates[:, :1] > FACE_PRESENT).to(features.dtype)


def context_weight(mask: Tensor, width: int) -> Tensor:
    """float B x 1 x S x S: how much of the generated image a context generator's output takes. 1 on the bool
    edit mask, falling linearly to 0 over about `width` px outside it, where the context is the real frame
    (grow by half the width, then a box blur of the same half-width; max and average pooling export anywhere).
    Outside the mask, not inside it: inside, the context is blanked, and a ramp there would mix in its grey."""
    r = width // 2
    grown = F.max_pool2d(mask.to(torch.float32), 2 * r + 1, 1, r)
    return F.avg_pool2d(grown, 2 * r + 1, 1, r, count_include_pad=False)


class Generator(nn.Module):
    """U-Net generator: conditioning stack B x in_channels x S x S -> image B x 3 x S x S in [-1, 1]."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        c = config.width
        self.texture = NeuralTexture(config.texture_channels, config.texture_size) if config.texture_channels else None
        self.stem = nn.Sequential(
            ConvNormAct(config.network_channels, c(0), config, stride=config.stem_stride), _level_convs(c(0), config)
        )
        self.down = nn.ModuleList(
            nn.Sequential(ConvNormAct(c(i - 1), c(i), config, stride=2), _level_convs(c(i), config))
            for i in range(1, config.levels + 1)
        )
        self.bottleneck = nn.Sequential(
            *(ResidualBlock(c(config.levels), config) for _ in range(config.bottleneck_blocks))
        )
        self.up = nn.ModuleList(UpLevel(c(i + 1), c(i), c(i), config) for i in reversed(range(config.levels)))
        # Back to full resolution (stem_stride 2), with the raw conditioning as the full-resolution skip.
        self.head_up: UpLevel | None = None
        self.head_shuffle: ShuffleHead | None = None
        self.head: nn.Conv2d | None = None
        if config.head == "shuffle":
            self.head_shuffle = ShuffleHead(c(0), config.head_skip_width, config)
        elif config.stem_stride == 2:
            self.head_up = UpLevel(c(0), config.head_skip_width, config.head_width, config, refine=False)
            self.head = nn.Conv2d(config.head_width, config.out_channels, 3, 1, 1)
        else:
            self.head = nn.Conv2d(c(0), config.out_channels, 3, 1, 1)

    def forward(self, conditioning: Tensor) -> Tensor:
        """float32 B x in_channels x S x S in [-1, 1] -> float32 B x out_channels x S x S in [-1, 1]."""
        check_image_stack(conditioning, "conditioning", self.config.in_channels, self.config.multiple)
        inputs = conditioning
        texture = self.texture(conditioning[:, :2]) if self.texture is not None else None
        if texture is not None:
            inputs = torch.cat([conditioning, texture], dim=1)
        x = self.stem(inputs)
        skips = [x]
        for down in self.down:
            x = down(x)
            skips.append(x)
        x = self.bottleneck(skips.pop())
        for up in self.up:
            x = up(x, skips.pop())
        if self.head_shuffle is not None:
            image = torch.tanh(self.head_shuffle(x, self._head_skip(conditioning, inputs, texture)))
        else:
            if self.head_up is not None:
                x = self.head_up(x, self._head_skip(conditioning, inputs, texture))
            image = torch.tanh(self.head(x))
        if not self.config.context:
            return image
        context, mask = conditioning[:, -CONTEXT_CHANNELS:-1], conditioning[:, -1:] > 0
        weight = context_weight(mask, self.config.context_feather)
        return weight * image + (1 - weight) * context

    def _head_skip(self, conditioning: Tensor, inputs: Tensor, texture: Tensor | None) -> Tensor:
        """The raw input the full-resolution layer sees: all of it, or the current frame's channels with the
        context and the texture (`GeneratorConfig.head_skip_channels`)."""
        n = self.config.head_skip_channels
        if not n:
            return inputs
        parts = [conditioning[:, :n]]
        if self.config.context:
            parts.append(conditioning[:, -CONTEXT_CHANNELS:])
        if texture is not None:
            parts.append(texture)
        return torch.cat(parts, dim=1)


def random_input(batch: int, channels: int, size: int, generator: torch.Generator | None = None) -> Tensor:
    """float32 B x channels x S x S test input: uniform in [-1, 1], except that the last channel is +1 over the
    central half of the image and -1 around it. A context generator reads that channel as its edit mask: a
    uniform one would be eroded to nothing by its feather and leave only copied context to compare."""
    x = torch.rand(batch, channels, size, size, generator=generator) * 2 - 1
    x[:, -1] = -1.0
    x[:, -1, size // 4 : size - size // 4, size // 4 : size - size // 4] = 1.0
    return x


def build_generator(config: GeneratorConfig) -> Generator:
    """The generator for `config` (freshly initialised)."""
    return Generator(config)


def generator_gflops(config: GeneratorConfig, size: int) -> float:
    """GFLOPs (multiply and add counted apart) of one B=1 forward pass at S = `size`."""
    with torch.device("meta"):  # shapes only: counts without computing
        model = build_generator(config).eval()
        x = torch.zeros(1, config.in_channels, size, size)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(x)
    return counter.get_total_flops() / 1e9
