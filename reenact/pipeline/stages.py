"""The per-frame stages after recombination, shared by the offline and live runners.

    output params -> condition (crop + conditioning stack) -> generate (backend) -> composite (blend, mark)

Each stage is a small object with one job and is timed (`StageClock`); the
offline runner calls them in order with batches for the generator, the live
runner puts them in threads. Frames without a face skip generate and pass
through composite untouched.
"""

from __future__ import annotations

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
from reenact.render.conditioning import ConditionedFrame, ConditioningStream
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
    """Output parameters -> crop and conditioning stack, in the layout the model was trained on."""

    def __init__(self, folder: ModelFolder, model: FaceModel, fps: float, frame_size: tuple[int, int]) -> None:
        """`model`: the target's face model (the folder's track's; callers have it loaded already)."""
        self.stream = ConditioningStream(model, fps, frame_size, folder.info().conditioning())

    def __call__(self, params: FaceParams, new_shot: bool = False) -> ConditionedFrame:
        return self.stream(params, new_shot)


class Generate:
    """Conditioning stacks -> generated uint8 S x S x 3 crops through an inference backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def __call__(self, frames: Sequence[ConditionedFrame]) -> list[np.ndarray]:
        if not frames:
            return []
        stacks = torch.stack([frame.stack for frame in frames]).numpy()
        images = self.backend.infer(stacks)
        crops = ((np.clip(images, -1, 1) + 1) * 127.5).round().astype(np.uint8)
        return list(crops.transpose(0, 2, 3, 1))


class Composite:
    """Generated crop -> the output frame: blended into the target frame, optionally watermarked."""

    def __init__(self, blend_config: BlendConfig | None = None, mark: bool = False) -> None:
        self.blend_config, self.mark = blend_config or BlendConfig(), mark

    def __call__(self, frame: np.ndarray, conditioned: ConditionedFrame, crop: np.ndarray | None) -> np.ndarray:
        """`crop` None (no face in this frame): the target frame unchanged (the mark still applies)."""
        out = frame
        if crop is not None:
            out = blend(frame, crop, conditioned.matrix, self.blend_config, face_mask=conditioned.face_mask.numpy())
        return watermark(out) if self.mark else out
