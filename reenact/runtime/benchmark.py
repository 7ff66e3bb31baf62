"""Backend speed: a model folder with random weights for any preset and size, and ms per frame of a backend.

Speed does not depend on the weights, so every backend can be timed for every preset
and size without training. The folder holds what the backends read (model.json,
generator.pt, generator.onnx) and no track: it renders nothing.
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass
from pathlib import Path

import torch

from reenact import __version__
from reenact.model_folder import ModelFolder, ModelInfo
from reenact.nn.export import export_generator
from reenact.nn.generator import CONTEXT_CHANNELS, Generator, build_generator, input_channels
from reenact.nn.presets import get_preset
from reenact.render.crop import CropConfig
from reenact.runtime.backend import Backend
from reenact.runtime.parity import random_stack
from reenact.runtime.timing import time_calls


def write_generator_folder(path: str | os.PathLike, generator: Generator, preset: str, size: int) -> ModelFolder:
    """A backend-ready model folder (no track) for `generator` at S = `size`."""
    folder = ModelFolder(Path(path))
    folder.path.mkdir(parents=True, exist_ok=True)
    network = get_preset(preset)
    stack = network.window * network.channels
    if generator.config.in_channels != input_channels(stack, generator.config.context):
        raise ValueError(
            f"generator takes {generator.config.in_channels} channels, preset {preset!r} stacks "
            f"{network.window} x {network.channels}" + (f" (+ {CONTEXT_CHANNELS} of context)" if generator.config.context else "")
        )
    torch.save(generator.state_dict(), folder.weights_path)
    export_generator(generator, folder.onnx_path, size, preset)
    folder.write_info(
        ModelInfo(
            preset=preset, size=size, window=network.window, channels=network.channels,
            crop_margin=CropConfig().margin, generator=generator.config, data_hash="none (random weights)",
            source="", fps=25.0, frames=0, validation=(0, 0), reenact_version=__version__, mouth_opening=True,
        )
    )
    return folder


def random_model_folder(path: str | os.PathLike, preset: str, size: int, seed: int = 0) -> ModelFolder:
    """A backend-ready model folder holding the `preset` generator with random weights at S = `size`."""
    torch.manual_seed(seed)
    return write_generator_folder(path, build_generator(get_preset(preset).generator), preset, size)


@dataclass(frozen=True)
class Timing:
    """Speed of one backend at one batch size."""

    ms_per_frame: float
    """Median wall time of one `infer` call divided by the batch."""
    best_ms_per_frame: float
    """Fastest call divided by the batch: the least-disturbed run on a machine shared with other work."""
    runs: int
    """Timed calls the median is over."""

    @property
    def fps(self) -> float:
        return 1e3 / self.ms_per_frame


def benchmark_backend(backend: Backend, batch: int, runs: int = 30, warmup: int = 5) -> Timing:
    """ms per frame of `backend.infer` on a random stack of `batch` frames, as the pipeline passes it.

    CPU backends get a numpy array; CUDA backends a CUDA tensor (the renderer's output there), and
    each call waits for the GPU, so the time is the GPU's, without host transfers.
    """
    stack = random_stack(backend, batch)
    if backend.device == "cuda":
        on_device = torch.from_numpy(stack).cuda()

        def call() -> None:
            backend.infer(on_device)
            torch.cuda.synchronize()

    else:

        def call() -> None:
            backend.infer(stack)

    times = time_calls(call, runs, warmup)
    return Timing(statistics.median(times) * 1e3 / batch, min(times) * 1e3 / batch, runs)
