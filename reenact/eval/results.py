"""What an evaluation measured: per-method, per-frame scores and their summary.

A module of its own so that the report (`reenact.eval.report`) and the
evaluation (`reenact.eval.evaluate`) both build on it without importing each
other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reenact.eval.fidelity import ERRORS, Fidelity

REGIONS = ("edit", "eyes", "mouth")
"""Masks scored besides the crop and the face."""
IMAGE_METRICS = ("psnr", "psnr_face", "ssim", "ssim_face", "l1", "sharpness",
                 *(f"{metric}_{region}" for region in REGIONS for metric in ("psnr", "ssim")))
"""Per-frame image scores against the real crop (`reenact.eval.metrics.image_scores`)."""


@dataclass
class MethodScores:
    """Per-frame scores of one method over the T scored frames (NaN where not measured)."""

    images: dict[str, np.ndarray]
    """`IMAGE_METRICS` -> float64 T against the real crop; empty without ground truth, and for the real frames."""
    fidelity: Fidelity
    """Re-tracked against the conditioning parameters."""
    flicker: np.ndarray
    """float64 T: `pair_flicker` of the previous frame and this one against the reference's (NaN on a run's
    first frame)."""

    def summary(self) -> dict[str, float]:
        """Means over the frames where each score was measured, and the face-found rate."""
        out = {name: _mean(values) for name, values in self.images.items()}
        out |= {name: _mean(getattr(self.fidelity, name)) for name in ERRORS}
        out["flicker"] = _mean(self.flicker)
        out["face_found"] = self.fidelity.found_rate()
        return out


def _mean(values: np.ndarray) -> float:
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else float("nan")


@dataclass
class EvalResult:
    """Everything an evaluation measured, for `reenact.eval.report`."""

    mode: str
    """"self" (ground truth exists) or "cross"."""
    frames: np.ndarray
    """int64 T: the scored frames' numbers in the evaluated sequence."""
    methods: dict[str, MethodScores]
    """Per method, in report order: model (when a renderer was given), nearest, warp, real (self only)."""
    nearest: np.ndarray
    """int64 T: the training frame the baselines took (-1 where the conditioning had no face)."""
    nearest_distance: np.ndarray
    """float64 T: its RMS crop-point distance to the wanted face (px)."""
    description: dict[str, str | int | float]
    """What was evaluated (model, clips, frames, crop size), for the report's header."""

    def summary(self) -> dict[str, dict[str, float]]:
        return {name: scores.summary() for name, scores in self.methods.items()}
