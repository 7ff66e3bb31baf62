"""The per-frame stages after recombination, shared by the offline and live runners.

    output params -> condition (crop + conditioning stack) -> generate (backend) -> composite (blend, mark)

Each stage is a small object with one job, built for a model by
`FrameStages.for_model`; the runners time them (`StageClock`): the offline
runner and eval call them in order (the generator in batches offline), the
live runner puts them in threads. Frames without a face skip generate and pass
through composite untouched.

A model whose generator takes context (`GeneratorConfig.context`) gets the
target frame's own crop with the edit mask blanked beside the stack, returns
the crop re-rendered inside the mask only, and is pasted back inside that mask:
every pixel outside it stays the target frame's own.
"""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

from reenact.model_folder import ModelFolder
from reenact.params import FaceModel, FaceParams
from reenact.pipeline.label import watermark
from reenact.render.blend import BlendConfig, blend
from reenact.render.conditioning import ConditionedFrame, ConditioningConfig, ConditioningStream
from reenact.render.crop import FollowerCache, warp_to_crop
from reenact.render.edit_mask import EditMaskConfig, generator_input
from reenact.runtime.backend import Backend


@dataclass
class StageClock:
    """Seconds and calls per stage, for the end-of-run summary and live reports."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @contextmanager
    def time(self, stage: str, frames: int = 1) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - start
            self.calls[stage] += frames

    def summary(self) -> str:
        """e.g. "decode 1.2 ms, condition 3.1 ms, generate 21.0 ms ... per frame"."""
        parts = [f"{stage} {1e3 * self.seconds[stage] / max(1, self.calls[stage]):.1f} ms" for stage in self.seconds]
        return ", ".join(parts) + " per frame"


class Conditioner:
    """Output parameters -> crop and conditioning stack (and edit mask), in the layout a model was trained on."""

    def __init__(self, model: FaceModel, fps: float, frame_size: tuple[int, int], conditioning: ConditioningConfig,
                 edit: EditMaskConfig | None = None, device: str | torch.device = "cpu") -> None:
        """`model`: the target's face model. `edit`: also give each frame the edit mask of these regions (a model
        that takes context needs it; eval scores inside it). `device`: where the stacks are rendered and stay."""
        self.stream = ConditioningStream(model, fps, frame_size, conditioning, device, edit=edit)

    @classmethod
    def for_model(cls, folder: ModelFolder, model: FaceModel, fps: float, frame_size: tuple[int, int],
                  edit: EditMaskConfig | None = None, device: str | torch.device = "cpu") -> Conditioner:
        """The model folder's conditioning; `edit` (default: the whole face) only for a model that takes context."""
        info = folder.info()
        return cls(model, fps, frame_size, info.conditioning(), (edit or EditMaskConfig()) if info.generator.context
                   else None, device)

    def __call__(self, params: FaceParams, new_shot: bool = False, target: FaceParams | None = None,
                 edit_mask: bool = True) -> ConditionedFrame:
        """`target`: the target frame's own parameters (the edit mask covers its face and the output's);
        `edit_mask=False`: leave the mask out (a frame that only fills a later frame's stack)."""
        return self.stream(params, new_shot, target, edit_mask)

    def advance(self, params: FaceParams, new_shots: np.ndarray, cache: FollowerCache | None = None) -> None:
        """Follow frames (bool `new_shots` per frame) with the crop only, drawing nothing: the frames before a
        span that is rendered. `cache`: resume from the states it kept (only for a conditioner not yet fed)."""
        if cache is None:
            self.stream.follower.advance(params, new_shots)
        else:
            self.stream.follower = cache.follow(self.stream.follower, params, new_shots)


def model_input(conditioned: ConditionedFrame, frame: np.ndarray | None, context: bool) -> torch.Tensor:
    """float32 in_channels x S x S for one frame, on the stack's device: the stack, and for a `context` model the
    target `frame`'s crop (uint8 H x W x 3 RGB, cropped by the conditioning's affine) outside the edit mask, and
    the mask."""
    if not context:
        return conditioned.stack
    if frame is None or conditioned.edit_mask is None:
        raise ValueError("this model re-renders inside an edit mask: it needs the target frame and the mask")
    size, device = conditioned.stack.shape[-1], conditioned.stack.device
    crop = torch.from_numpy(warp_to_crop(frame, conditioned.matrix, size)).to(device).permute(2, 0, 1).float()
    return generator_input(conditioned.stack[None], crop[None] / 127.5 - 1, conditioned.edit_mask[None, None])[0]


class Generate:
    """Conditioning stacks (and target frames, for context) -> generated uint8 S x S x 3 crops through a backend.

    On a CPU backend the batch goes to it as numpy. On CUDA the stacks (rendered on the GPU by a `Conditioner`
    on that device) go to it as tensors and stay there through the generator and the conversion to uint8; only
    the finished crops come back to the host, for compositing into the frame.
    """

    def __init__(self, backend: Backend, context: bool = False) -> None:
        """`context`: the model re-renders inside edit masks (`GeneratorConfig.context` of its model.json)."""
        self.backend, self.context = backend, context

    def __call__(self, frames: Sequence[ConditionedFrame],
                 targets: Sequence[np.ndarray | None] | None = None) -> list[np.ndarray]:
        """`targets`: each frame's target frame (uint8 H x W x 3), needed by a model that takes context."""
        if not frames:
            return []
        targets = targets if targets is not None else [None] * len(frames)
        stacks = torch.stack([model_input(frame, target, self.context) for frame, target in zip(frames, targets)])
        if self.backend.device == "cpu":
            images = torch.from_numpy(self.backend.infer(stacks.cpu().numpy()))
        else:
            images = self.backend.infer(stacks.to(self.backend.device))
        crops = ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
        return list(crops.cpu().numpy())


CONTEXT_PASTE = BlendConfig(mask="face", grow=24.0, feather=4.0, match_color=False)
"""Paste-back of a context model's crop: its edit mask grown by 24 px, past the generator's own ramp outside
the mask (`GeneratorConfig.context_feather`, at most 16 px), with a 4 px feather; beyond the ramp the crop holds
the frame's own pixels, resampled, and no colour correction is needed (the crop's context is the frame itself)."""


class Composite:
    """Generated crop -> the output frame: blended into the target frame, optionally watermarked."""

    def __init__(self, blend_config: BlendConfig | None = None, mark: bool = False, context: bool = False) -> None:
        """`context`: the crop comes from a context model, and is pasted inside its edit mask only."""
        self.blend_config, self.mark, self.context = blend_config or BlendConfig(), mark, context

    def __call__(self, frame: np.ndarray, conditioned: ConditionedFrame, crop: np.ndarray | None) -> np.ndarray:
        """`crop` None (no face in this frame): the target frame unchanged (the mark still applies)."""
        out = frame
        if crop is not None and self.context:
            config = dataclasses.replace(CONTEXT_PASTE, method=self.blend_config.method)
            out = blend(frame, crop, conditioned.matrix, config, face_mask=conditioned.edit_mask.cpu().numpy())
        elif crop is not None:
            out = blend(frame, crop, conditioned.matrix, self.blend_config, face_mask=conditioned.face_mask.cpu().numpy())
        return watermark(out) if self.mark else out


@dataclass
class FrameStages:
    """The three per-frame stages of one model, built together so they agree on its layout (context or not)."""

    condition: Conditioner
    generate: Generate
    composite: Composite

    @classmethod
    def for_model(cls, folder: ModelFolder, backend: Backend, model: FaceModel, fps: float,
                  frame_size: tuple[int, int], edit: EditMaskConfig | None = None,
                  blend_config: BlendConfig | None = None, mark: bool = False) -> FrameStages:
        """The stages for `folder`'s model on `backend`, rendering frames of `frame_size` at `fps` (see `Conditioner`
        for `model` and `edit`); the conditioning renders on the backend's device."""
        context = folder.info().generator.context
        return cls(Conditioner.for_model(folder, model, fps, frame_size, edit, backend.device), Generate(backend, context),
                   Composite(blend_config, mark=mark, context=context))
