"""Training settings and the named training presets (tiny, cpu, gpu).

A training preset pairs a network preset (`reenact.nn.presets`) with loop
settings. The CLI overrides fields one by one (`--steps`, `--batch-size`,
`--size`) and `TrainConfig.check` holds every cross-field rule in one place.

Loss weights follow pix2pixHD / DVP practice: L1 dominates (it alone gives
PSNR), the hinge adversarial and feature-matching terms add the high
frequencies L1 blurs away. The adversarial phase starts after `adv_start`
steps: a generator that already reconstructs coarsely gives the discriminator
something meaningful to judge, and the L1-only steps cost a third as much.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Literal

from reenact.errors import SettingError
from reenact.nn.generator import input_channels
from reenact.nn.presets import NetworkPreset, get_preset


@dataclass(frozen=True)
class TrainConfig:
    """One training run's settings."""

    preset: str
    """Network preset name (tiny, cpu, gpu)."""
    size: int
    """Crop size S trained at (the preset's by default)."""
    steps: int
    """Optimisation steps in total (a resumed run continues up to this)."""
    batch_size: int
    """Frames per step: batch_size / K runs of K consecutive frames (K: the temporal discriminator's frames)."""
    lr_generator: float = 2e-4
    """Adam learning rate of the generator."""
    lr_discriminator: float = 2e-4
    """Adam learning rate of both discriminators."""
    betas: tuple[float, float] = (0.5, 0.999)
    """Adam betas (pix2pix's: a short first-moment memory suits the moving GAN objective)."""
    l1_weight: float = 20.0
    """Weight of the masked L1 reconstruction loss."""
    detail_weight: float = 0.0
    """Weight of the L1 between detail bands (`reenact.nn.losses.detail_l1`); 0: none."""
    region_weight: float = 4.0
    """Extra L1 weight on the mouth-and-eyes region (1 + this there)."""
    face_weight: float = 1.0
    """Extra L1 weight on the rendered face (1 + this there)."""
    adversarial_weight: float = 1.0
    """Weight of the generator's hinge losses (per-frame, and temporal times `temporal_weight`); feature matching
    has its own weight, so 0 leaves the discriminators as a paired feature loss only."""
    temporal_weight: float = 0.5
    """Weight of the temporal discriminator's terms, relative to the per-frame ones."""
    feature_matching_weight: float = 2.0
    """Weight of the discriminator feature-matching loss."""
    adv_start: int = 0
    """Step at which the discriminators and adversarial losses start (L1 only before)."""
    patch_size: int = 0
    """Train on random P x P windows of the crops (one window per step) for the first `patch_share` of the
    budget, then on whole crops; 0: whole crops throughout (`Trainer.train_step`)."""
    patch_share: float = 0.5
    """Share of the budget (steps, or --minutes when that ends the run first) trained on patches."""
    lr_decay_share: float = 0.0
    """Share of the budget (steps, or --minutes when that ends the run first), at its end, over which the
    generator's learning rate falls linearly to zero (pix2pix's schedule; `generator_lr_scale`); 0: constant.
    The discriminators keep theirs: they must keep judging the generator to the last step. On --resume, --minutes
    count from the resume and steps from step 0, so `--resume --steps N --lr-decay S` decays from step (1 - S) N
    (how the README's ablation continued a control's checkpoint). Measured on the cpu
    preset (README, *A falling learning rate*): level with the constant rate, so the presets keep 0."""
    ema_decay: float = 0.999
    """EMA decay of the exported generator's weights (ramped up from 0 over the first steps)."""
    wink_share: float = 0.0
    """Share of the training runs made into winks: one eye lent by a run a blink away
    (`reenact.train.dataset.WinkRuns`; context generators only); 0: none."""
    seed: int = 0
    """Seed of weight initialisation and batch sampling."""
    validation_fraction: float = 0.1
    """Fraction of the clip held out at its end for validation."""
    validation_frames: int = 48
    """Held-out frames scored at each validation (evenly spread over the tail)."""
    preview_every: int = 250
    """Steps between preview grids and validation scores."""
    checkpoint_every: int = 500
    """Steps between checkpoints (one is also written at the end and on Ctrl-C)."""
    amp: bool = True
    """bfloat16 autocast on CUDA and on CPUs with bfloat16 instructions (`Trainer._autocast`)."""
    context: bool = True
    """The generator sees the target crop outside a random edit mask and re-renders only inside it
    (`reenact.render.edit_mask`); False trains a generator that paints the whole crop (for ablations)."""
    texture_channels: int | None = None
    """Neural texture channels (None: the network preset's; 0: none)."""
    detail_gain: float | None = None
    """Gain of the discriminators' detail band (None: the network preset's; 0: none)."""
    base_width: int | None = None
    """Generator channels at its first level, doubled at each level down (None: the network preset's)."""
    head_skip: Literal["stack", "frame"] | None = None
    """What the generator's full-resolution layer sees of its input: the whole conditioning stack, or the
    current frame's channels only (`GeneratorConfig.head_skip_channels`; None: the network preset's)."""
    head: Literal["upsample", "shuffle"] | None = None
    """How the generator gets back to full resolution (`GeneratorConfig.head`; None: the network preset's)."""
    disc_width: int | None = None
    """First-layer channels of both discriminators (None: the network preset's): their cost per adversarial
    step falls about with its square."""

    def check(self, network: NetworkPreset, world_size: int = 1) -> None:
        """Every cross-field rule, each with what to do; ValueError on the first broken one."""
        k = network.temporal.frames
        multiple = max(network.generator.multiple, network.discriminator.multiple, network.temporal.per_frame.multiple)
        if self.size % multiple:
            raise SettingError(f"--size {self.size} must divide by {multiple} for the {self.preset} networks")
        if self.steps < 1:
            raise SettingError(f"--steps must be >= 1, got {self.steps}")
        if self.batch_size < k or self.batch_size % (k * world_size):
            raise SettingError(
                f"--batch-size {self.batch_size} must be a multiple of {k * world_size} (runs of K={k} consecutive "
                f"frames for the temporal discriminator" + (f", times {world_size} processes)" if world_size > 1 else ")")
            )
        if not 0 < self.validation_fraction < 0.5:
            raise SettingError(f"validation_fraction must be in (0, 0.5), got {self.validation_fraction}")
        if self.patch_size and (self.patch_size % multiple or not 0 < self.patch_size < self.size):
            raise SettingError(
                f"--patch-size {self.patch_size} must be below --size {self.size} and divide by {multiple}"
            )
        if not 0 <= self.patch_share <= 1:
            raise SettingError(f"--patch-share must be in [0, 1], got {self.patch_share}")
        if not 0 <= self.lr_decay_share <= 1:
            raise SettingError(f"--lr-decay must be in [0, 1], got {self.lr_decay_share}")
        if not 0 <= self.wink_share < 1:
            raise SettingError(f"--synthetic-winks must be in [0, 1), got {self.wink_share}")
        if self.wink_share and not self.context:
            raise SettingError("--synthetic-winks needs the context generator (drop --no-context)")
        if self.adversarial_weight < 0:
            raise SettingError(f"--adversarial-weight must be >= 0, got {self.adversarial_weight}")
        if self.preview_every < 1 or self.checkpoint_every < 1:
            raise SettingError("preview_every and checkpoint_every must be >= 1")

    def to_dict(self) -> dict:
        return asdict(self)

    def generator_lr_scale(self, used: float) -> float:
        """The generator's learning rate, as a factor of `lr_generator`, once `used` (0..1) of the budget is
        spent: 1 until the last `lr_decay_share` of it, then falling linearly to 0 at its end."""
        if self.lr_decay_share == 0:
            return 1.0
        return min(1.0, max(0.0, (1.0 - used) / self.lr_decay_share))


TRAIN_PRESETS: dict[str, TrainConfig] = {
    # Tests and smoke runs: 64 px, a minute on CPU.
    "tiny": TrainConfig(
        preset="tiny", size=64, steps=300, batch_size=8, lr_generator=1e-3, lr_discriminator=5e-4,
        adv_start=150, preview_every=100, checkpoint_every=100, validation_frames=16,
    ),
    # The live-on-CPU model: trained here in tens of minutes to hours; on a GPU, in minutes. The adversarial phase
    # starts at step 2000: in an hour on one core (README, Quality) its ~1000 steps, each ~2.5 L1 steps' time,
    # took face sharpness from 0.45-0.52 (L1 alone) to 0.92-0.99, at ~1 dB of PSNR.
    "cpu": TrainConfig(
        preset="cpu", size=256, steps=6000, batch_size=6, lr_generator=5e-4, lr_discriminator=2e-4,
        detail_weight=20.0, adv_start=2000, preview_every=250, checkpoint_every=250,
    ),
    # Quality on a GPU at 512 px.
    "gpu": TrainConfig(preset="gpu", size=512, steps=60000, batch_size=12, adv_start=5000, preview_every=1000,
                       checkpoint_every=2000),
}
"""Training presets by name; each names the network preset of the same name."""


def train_preset(name: str, **overrides) -> TrainConfig:
    """The training preset `name` with fields replaced by `overrides` (those that are not None)."""
    if name not in TRAIN_PRESETS:
        raise SettingError(f"unknown preset {name!r}; valid presets: {', '.join(TRAIN_PRESETS)}")
    return replace(TRAIN_PRESETS[name], **{k: v for k, v in overrides.items() if v is not None})


def network_for(config: TrainConfig, window: int, channels: int) -> NetworkPreset:
    """The network preset of `config` with its overrides, sized for the conditioning layout (W frames of C channels)."""
    preset = get_preset(config.preset)
    stack = preset.window * preset.channels
    generator = replace(preset.generator, context=config.context, in_channels=input_channels(stack, config.context))
    if config.texture_channels is not None:
        generator = replace(generator, texture_channels=config.texture_channels)
    if config.base_width is not None:
        try:
            generator = replace(generator, base_width=config.base_width)
        except ValueError as error:
            raise SettingError(f"--base-width {config.base_width}: {error}") from None
    if config.head_skip is not None:
        generator = replace(generator, head_skip_channels=preset.channels if config.head_skip == "frame" else 0)
    if config.head is not None:
        try:
            generator = replace(generator, head=config.head)
        except ValueError as error:
            raise SettingError(f"--head {config.head}: {error}") from None
    discriminator, temporal = preset.discriminator, preset.temporal
    for flag, field, value in (("--detail-gain", "detail_gain", config.detail_gain),
                               ("--disc-width", "width", config.disc_width)):
        if value is not None:
            try:
                discriminator = replace(discriminator, **{field: value})
                temporal = replace(temporal, per_frame=replace(temporal.per_frame, **{field: value}))
            except ValueError as error:
                raise SettingError(f"{flag} {value}: {error}") from None
    preset = replace(preset, generator=generator, discriminator=discriminator, temporal=temporal, size=config.size)
    return preset.with_conditioning(window, channels)
