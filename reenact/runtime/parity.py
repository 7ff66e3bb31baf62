"""Do two backends compute the same generator? Tolerances per precision, and the check itself.

The reference is torch FP32 on CPU (the training code's own forward pass). Outputs are in
[-1, 1] (tanh), so absolute tolerances read directly as a fraction of half the range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from reenact.errors import ReenactError
from reenact.nn.export import ONNX_ATOL
from reenact.nn.generator import random_input
from reenact.runtime.backend import Backend


@dataclass(frozen=True)
class Tolerance:
    """Largest differences from the torch FP32 reference allowed for one kind of backend."""

    max_abs: float
    """Bound on the largest absolute difference over all output values."""
    mean_abs: float
    """Bound on the mean absolute difference (catches a broad bias a max bound lets through)."""


FP32 = Tolerance(max_abs=ONNX_ATOL, mean_abs=1e-5)
"""FP32 on CPU: the same arithmetic up to summation order. Measured: ONNX Runtime CPU differs from
torch by ~1e-6 max abs (tiny, cpu and gpu presets; `reenact.nn.export.ONNX_ATOL`'s note)."""
CUDA_FP32 = Tolerance(max_abs=1e-2, mean_abs=1e-3)
"""FP32 on CUDA: cuDNN and TensorRT may run convolutions in TF32 (10-bit mantissa). Not measured
here (no GPU on the machines this was written on): a bound from TF32's precision, to be tightened
by the GPU parity tests' printed differences."""
FP16 = Tolerance(max_abs=5e-2, mean_abs=5e-3)
"""FP16 on CUDA (torch half, TensorRT FP16 engine): half precision's 2^-11 relative step through
the network's ~20 layers. Not measured here, as for CUDA_FP32."""


def tolerance_for(backend: Backend) -> Tolerance:
    """The tolerance `backend` is held to against the torch FP32 reference."""
    if backend.fp16:
        return FP16
    return CUDA_FP32 if backend.device == "cuda" else FP32


@dataclass(frozen=True)
class Agreement:
    """How far one backend's output was from the reference's on the same input."""

    max_abs: float
    """Largest absolute difference."""
    mean_abs: float
    """Mean absolute difference."""
    tolerance: Tolerance
    """The bounds it was checked against."""

    def __str__(self) -> str:
        return (
            f"max abs {self.max_abs:.3g} (tolerance {self.tolerance.max_abs:.3g}), "
            f"mean abs {self.mean_abs:.3g} (tolerance {self.tolerance.mean_abs:.3g})"
        )


class DisagreementError(ReenactError):
    """A backend's output differs from the torch reference by more than its tolerance."""


def random_stack(backend: Backend, batch: int = 2, seed: int = 0) -> np.ndarray:
    """A float32 stack of the backend's input shape, uniform in [-1, 1] (harsher than real conditioning) but
    for an edit-mask channel (`reenact.nn.generator.random_input`)."""
    spec = backend.spec
    return random_input(batch, spec.in_channels, spec.size, torch.Generator().manual_seed(seed)).numpy()


def check_agreement(
    backend: Backend, reference: Backend, stack: np.ndarray, tolerance: Tolerance | None = None
) -> Agreement:
    """Run both on `stack`; DisagreementError when `backend` is outside `tolerance` (default: `tolerance_for`)."""
    tolerance = tolerance or tolerance_for(backend)
    diff = np.abs(backend.infer(stack) - reference.infer(stack))
    agreement = Agreement(float(diff.max()), float(diff.mean()), tolerance)
    if not (agreement.max_abs <= tolerance.max_abs and agreement.mean_abs <= tolerance.mean_abs):
        raise DisagreementError(f"{backend.describe()} disagrees with {reference.describe()}: {agreement}")
    return agreement
