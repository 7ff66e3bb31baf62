"""The GAN training step in explicit phases: discriminators, generator, EMA.

Per step, on B frames that are B/K runs of K consecutive frames (or, early in
a run with `patch_size`, one random window of them):

1. the generator renders the batch once; a context generator is given each
   real crop with a random edit mask blanked (one draw per run,
   `reenact.render.edit_mask.random_edit_masks`, seeded by the step so a
   resumed run draws the same masks) and returns it re-rendered inside the
   mask only, which is what the losses and discriminators then see; a run
   lent an eye by a nearby one (`reenact.train.dataset.WinkRuns`) is masked
   at that eye and composed from both, a wink the clip never shows;
2. discriminator phase (from `adv_start` on): the per-frame conditional
   PatchGAN judges (stack, real) and (stack, fake) and the temporal one the K-frame
   runs, real and fake, with the hinge loss;
3. generator phase: masked L1 (more weight on the face and on mouth and eyes)
   and the same on the detail bands of three octaves (`detail_l1`),
   plus, from `adv_start` on, the hinge generator loss and feature matching
   against the real features of phase 2 (one discriminator update old, which
   saves a third discriminator pass);
4. the EMA generator (the one exported) moves towards the trained one.

Runs of consecutive frames let one generator pass serve both discriminators.
On CUDA, and on CPUs with bfloat16 instructions (AVX512-BF16 or AMX), the
forward passes run under bfloat16 autocast (no loss scaling needed): on this
project's 2-core EPYC it halves an L1 step's time; the weights, the EMA and
the losses stay float32. CPUs without those instructions would only emulate
bfloat16, slower than float32, so they train in float32. Under torchrun the trained networks are wrapped in
DistributedDataParallel (NCCL on GPUs, gloo on CPU), which averages their
gradients over the processes, each of which trains on its share of the batch
with edit masks of its own; the generator phase calls the bare
discriminators, whose gradients are not wanted there.
"""

from __future__ import annotations

import contextlib
import copy

import torch
from torch import Tensor, nn

from reenact.nn.discriminator import build_discriminator, build_temporal_discriminator
from reenact.nn.generator import build_generator
from reenact.nn.losses import (
    detail_l1,
    discriminator_hinge_loss,
    feature_matching_loss,
    generator_hinge_loss,
    weighted_l1,
)
from reenact.nn.presets import NetworkPreset
from reenact.render.edit_mask import generator_input, random_edit_masks
from reenact.train.config import TrainConfig
from reenact.train.dataset import Batch


def cpu_has_native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX512-BF16 or AMX), where autocast pays."""
    cpu = torch.cpu
    return any(getattr(cpu, name, lambda: False)() for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"))


class Trainer:
    """Networks, optimisers and EMA of one run; `train_step` runs one step's phases."""

    def __init__(
        self, network: NetworkPreset, config: TrainConfig, device: torch.device, rank: int = 0, world_size: int = 1
    ) -> None:
        torch.manual_seed(config.seed)
        self.network, self.config, self.device = network, config, device
        self.rank, self.world_size = rank, world_size
        self.generator = build_generator(network.generator).to(device)
        self.discriminator = build_discriminator(network.discriminator).to(device)
        self.temporal = build_temporal_discriminator(network.temporal).to(device)
        self.ema = copy.deepcopy(self.generator).eval().requires_grad_(False)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), config.lr_generator, config.betas)
        self.opt_d = torch.optim.Adam(
            [*self.discriminator.parameters(), *self.temporal.parameters()], config.lr_discriminator, config.betas
        )
        self.step = 0
        self.mask_seed = config.seed
        """Seeds the edit masks with the step: part of the state, so a resumed run draws the masks it would have."""
        if world_size > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [device.index] if device.type == "cuda" else None
            self._g, self._d, self._t = (DDP(m, device_ids=ids) for m in (self.generator, self.discriminator, self.temporal))
        else:
            self._g, self._d, self._t = self.generator, self.discriminator, self.temporal

    def scale_generator_lr(self, scale: float) -> None:
        """Set the generator's learning rate to `scale` times the configured one (the decay's schedule)."""
        for group in self.opt_g.param_groups:
            group["lr"] = self.config.lr_generator * scale

    @property
    def frames_per_run(self) -> int:
        """K: consecutive frames per run (the temporal discriminator's window)."""
        return self.network.temporal.frames

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.config.amp and (self.device.type == "cuda" or cpu_has_native_bfloat16()):
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _runs(self, x: Tensor) -> Tensor:
        """B x ... -> B/K x K x ... (the batch is laid out run by run, oldest frame first)."""
        return x.view(-1, self.frames_per_run, *x.shape[1:])

    def train_step(self, batch: Batch, patch: int = 0) -> dict[str, float]:
        """One step on `batch`, or on one random `patch` x `patch` window of it; returns the phases' losses.

        A window is cut after the edit masks are drawn on the whole crops, so a
        mask's margin is what it would be at full size; the generator being
        fully convolutional, it then learns the same local mapping at a
        fraction of a full step's cost.
        """
        adversarial = self.step >= self.config.adv_start
        inputs = batch.conditioning
        # One stream per process: each draws for its own runs (one process alone: the seed it always had).
        draw = torch.Generator().manual_seed((self.mask_seed * 1_000_003 + self.step) * self.world_size + self.rank)
        if self.network.generator.context:
            wink = batch.wink
            masks = random_edit_masks(batch.sub_regions, self.frames_per_run, draw,
                                      None if wink is None else wink.eye, None if wink is None else wink.donor.sub_regions)
            batch = batch.with_lent_eyes(masks)
            inputs = generator_input(batch.conditioning, batch.real, masks)
        if patch:
            top, left = (int(torch.randint(size - patch + 1, (), generator=draw)) for size in batch.real.shape[-2:])
            inputs = inputs[..., top:top + patch, left:left + patch]
            batch = batch.window(top, left, patch)
        with self._autocast():
            fake = self._g(inputs)
        losses: dict[str, float] = {}
        real_features = self._discriminator_phase(batch, fake.detach(), losses) if adversarial else None
        self._generator_phase(batch, fake, real_features, losses)
        self._update_ema()
        self.step += 1
        return losses

    def _discriminator_phase(
        self, batch: Batch, fake: Tensor, losses: dict[str, float]
    ) -> tuple[list[list[Tensor]], list[list[Tensor]]]:
        """Hinge loss on real vs fake for both discriminators; returns the real features (detached)."""
        b, c = len(fake), self.network.channels
        self.opt_d.zero_grad(set_to_none=True)
        with self._autocast():
            frame_out = self._d(torch.cat([batch.conditioning] * 2), torch.cat([batch.real, fake]))
            own = self._runs(batch.conditioning[:, :c])
            time_out = self._t(torch.cat([own] * 2), torch.cat([self._runs(batch.real), self._runs(fake)]))
            runs = b // self.frames_per_run
            d_frame = discriminator_hinge_loss([x[:b] for x in frame_out.logits], [x[b:] for x in frame_out.logits])
            d_time = discriminator_hinge_loss([x[:runs] for x in time_out.logits], [x[runs:] for x in time_out.logits])
            loss = d_frame + self.config.temporal_weight * d_time
        loss.float().backward()
        self.opt_d.step()
        losses["d_frame"], losses["d_temporal"] = float(d_frame.detach()), float(d_time.detach())
        # How often the per-frame discriminator is right, over all patches and scales: 0.5 is chance.
        losses["d_real_acc"] = float(torch.cat([(x[:b] > 0).flatten() for x in frame_out.logits]).float().mean())
        losses["d_fake_acc"] = float(torch.cat([(x[b:] < 0).flatten() for x in frame_out.logits]).float().mean())
        real_frame = [[f[:b].detach() for f in scale] for scale in frame_out.features]
        real_time = [[f[:runs].detach() for f in scale] for scale in time_out.features]
        return real_frame, real_time

    def _generator_phase(
        self,
        batch: Batch,
        fake: Tensor,
        real_features: tuple[list[list[Tensor]], list[list[Tensor]]] | None,
        losses: dict[str, float],
    ) -> None:
        """Masked L1, plus hinge and feature matching once the discriminators are on."""
        config, c = self.config, self.network.channels
        self.opt_g.zero_grad(set_to_none=True)
        weight = 1 + config.face_weight * batch.face.float() + config.region_weight * batch.region.float()
        l1 = weighted_l1(fake.float(), batch.real, weight)
        loss = config.l1_weight * l1
        losses["l1"] = float(l1.detach())
        if config.detail_weight:
            detail = detail_l1(fake.float(), batch.real, weight)
            loss = loss + config.detail_weight * detail
            losses["detail_l1"] = float(detail.detach())
        if real_features is not None:
            for module in (self.discriminator, self.temporal):
                module.requires_grad_(False)
            with self._autocast():
                frame_out = self.discriminator(batch.conditioning, fake)
                time_out = self.temporal(self._runs(batch.conditioning[:, :c]), self._runs(fake))
                adversarial = generator_hinge_loss(frame_out.logits) + config.temporal_weight * generator_hinge_loss(
                    time_out.logits
                )
                matching = feature_matching_loss(frame_out.features, real_features[0]) + (
                    config.temporal_weight * feature_matching_loss(time_out.features, real_features[1])
                )
            for module in (self.discriminator, self.temporal):
                module.requires_grad_(True)
            loss = loss + config.adversarial_weight * adversarial.float()
            loss = loss + config.feature_matching_weight * matching.float()
            losses["g_adv"], losses["feature_matching"] = float(adversarial.detach()), float(matching.detach())
        loss.backward()
        self.opt_g.step()

    @torch.no_grad()
    def _update_ema(self) -> None:
        """EMA of the generator's weights, its decay ramped up from 0 (early weights are soon forgotten)."""
        beta = min(self.config.ema_decay, (1 + self.step) / (10 + self.step))
        for averaged, current in zip(self.ema.parameters(), self.generator.parameters()):
            averaged.lerp_(current, 1 - beta)
        for averaged, current in zip(self.ema.buffers(), self.generator.buffers()):
            averaged.copy_(current)

    def state_dict(self) -> dict:
        """Everything the networks and optimisers need to continue exactly."""
        modules: dict[str, nn.Module | torch.optim.Optimizer] = {
            "generator": self.generator, "discriminator": self.discriminator, "temporal": self.temporal,
            "ema": self.ema, "opt_g": self.opt_g, "opt_d": self.opt_d,
        }
        return {"step": self.step, "mask_seed": self.mask_seed} | {name: m.state_dict() for name, m in modules.items()}

    def load_state_dict(self, state: dict) -> None:
        for name in ("generator", "discriminator", "temporal", "ema", "opt_g", "opt_d"):
            getattr(self, name).load_state_dict(state[name])
        self.step = int(state["step"])
        self.mask_seed = int(state.get("mask_seed", self.mask_seed))
