"""Opening a backend for a model folder: the one named, or with `--backend auto` the fastest that works here.

Candidates are tried in speed order (TensorRT > ONNX Runtime CUDA > torch CUDA > ONNX
Runtime CPU INT8 > ONNX Runtime CPU > torch CPU), narrowed by the configured backend and device. Each backend
checks its own package, provider and GPU when it is built and raises
BackendUnavailableError with the fix; selection records that reason and tries the next
candidate, so the result says both what was picked and why the faster ones were not.
A named backend on a named device gets no fallback (its error is the answer), except
from its INT8 variant to FP32, which `Selection.notes` tells.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

from reenact.errors import BackendUnavailableError
from reenact.model_folder import ModelFolder, open_model
from reenact.runtime.backend import Backend
from reenact.runtime.config import BackendConfig


@dataclass(frozen=True)
class Candidate:
    """One backend on one device."""

    backend: Literal["torch", "onnxruntime", "tensorrt"]
    """Backend name."""
    device: Literal["cpu", "cuda"]
    """Device it runs on."""
    int8: bool = False
    """The model folder's INT8 generator (ONNX Runtime on the CPU only; see `reenact.train.quantize`)."""

    def __str__(self) -> str:
        return f"{self.backend}{' int8' if self.int8 else ''} ({self.device})"


AUTO_ORDER: tuple[Candidate, ...] = (
    Candidate("tensorrt", "cuda"),
    Candidate("onnxruntime", "cuda"),
    Candidate("torch", "cuda"),
    Candidate("onnxruntime", "cpu", int8=True),
    Candidate("onnxruntime", "cpu"),
    Candidate("torch", "cpu"),
)
"""Fastest first (per frame, at the presets' sizes)."""

BackendFactory = Callable[[ModelFolder, Literal["cpu", "cuda"], BackendConfig], Backend]


def _factories() -> dict[str, BackendFactory]:
    from reenact.runtime.onnxruntime_backend import OnnxRuntimeBackend
    from reenact.runtime.tensorrt_backend import TensorRTBackend
    from reenact.runtime.torch_backend import TorchBackend

    return {"torch": TorchBackend, "onnxruntime": OnnxRuntimeBackend, "tensorrt": TensorRTBackend}


@dataclass(frozen=True)
class Selection:
    """The backend opened, and why the candidates before it were not."""

    backend: Backend
    """The opened backend."""
    candidate: Candidate
    """Which candidate it is."""
    skipped: tuple[tuple[Candidate, str], ...]
    """Faster candidates that could not be used here, each with the reason."""
    auto: bool
    """True when chosen by `--backend auto`."""

    def notes(self) -> list[str]:
        """Why a faster variant of the picked backend was not used (an INT8 file absent or refused): worth telling
        even though a backend was found."""
        return [f"{c} not used: {reason}" for c, reason in self.skipped
                if (c.backend, c.device) == (self.candidate.backend, self.candidate.device)]

    def summary(self) -> str:
        """One line: e.g. "backend auto: onnxruntime on cpu (...); skipped tensorrt (cuda): TensorRT is not installed ..."."""
        head = f"backend {'auto' if self.auto else self.candidate.backend}: {self.backend.describe()}"
        return "; ".join([head] + [f"skipped {c}: {reason}" for c, reason in self.skipped])


def candidates(config: BackendConfig) -> list[Candidate]:
    """The candidates `config` allows, fastest first (`config.int8`: True only the INT8 one, False none)."""
    return [
        c
        for c in AUTO_ORDER
        if config.backend in ("auto", c.backend) and config.device in ("auto", c.device)
        and (config.int8 is None or config.int8 == c.int8)
    ]


def open_backend(
    model: str | os.PathLike | ModelFolder,
    config: BackendConfig | None = None,
    factories: Mapping[str, BackendFactory] | None = None,
) -> Selection:
    """Open the model folder's generator on the backend `config` asks for (default: auto, the fastest that works here).

    `factories` maps backend names to constructors (the real ones by default; tests inject stand-ins
    to check the order). Raises BackendUnavailableError, naming the fix, when no candidate works.
    """
    folder = open_model(model, needs=())  # each backend checks the file it runs
    config = BackendConfig() if config is None else config
    factories = _factories() if factories is None else factories
    skipped: list[tuple[Candidate, str]] = []
    for candidate in candidates(config):
        try:
            backend = factories[candidate.backend](folder, candidate.device, replace(config, int8=candidate.int8))
        except BackendUnavailableError as e:
            skipped.append((candidate, str(e)))
            continue
        return Selection(backend, candidate, tuple(skipped), auto=config.backend == "auto")
    if len(skipped) == 1:
        raise BackendUnavailableError(skipped[0][1])
    reasons = "; ".join(f"{c}: {reason}" for c, reason in skipped)
    raise BackendUnavailableError(f"no inference backend works here ({reasons})")
