"""Causal temporal smoothing of landmarks and pose (the One Euro filter).

The One Euro filter (Casiez et al., CHI 2012) is a low-pass filter whose cutoff
rises with speed: still faces are smoothed hard (no jitter), fast motion
(speech, blinks) follows with little lag. It looks at past frames only, so live
use stays causal. Callers reset it at shot cuts and after frames without a face.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroConfig:
    """One Euro filter settings (units of the filtered signal per second)."""

    min_cutoff: float = 1.0
    """Cutoff (Hz) when the signal is still: lower means smoother and laggier."""
    beta: float = 0.05
    """How fast the cutoff rises with speed: higher means less lag on fast motion."""
    d_cutoff: float = 1.0
    """Cutoff (Hz) of the speed estimate itself."""


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One Euro filter over an array of any shape, each element filtered independently."""

    def __init__(self, config: OneEuroConfig = OneEuroConfig()) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next value passes through unchanged."""
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    def __call__(self, x: np.ndarray, dt: float) -> np.ndarray:
        """Filter the next sample `x`, taken `dt` seconds after the previous one."""
        x = np.asarray(x, dtype=np.float64)
        if self._x is None:
            self._x, self._dx = x.copy(), np.zeros_like(x)
            return x.copy()
        c = self.config
        dx = (x - self._x) / dt
        self._dx = self._dx + _alpha(c.d_cutoff, dt) * (dx - self._dx)
        cutoff = c.min_cutoff + c.beta * np.abs(self._dx)
        self._x = self._x + _alpha(cutoff, dt) * (x - self._x)
        return self._x.copy()


def smooth_sequence(
    values: np.ndarray, valid: np.ndarray, restarts: np.ndarray, fps: float, config: OneEuroConfig
) -> np.ndarray:
    """Filter a sequence TxD... causally, restarting after invalid frames and at `restarts` (frame indices).

    Invalid frames are left as they are (NaN); the first frame of each run of
    valid frames and each restart frame passes through unfiltered.
    """
    out = values.copy()
    restart = np.zeros(len(values), dtype=bool)
    restart[restarts[restarts < len(values)]] = True
    filt = OneEuroFilter(config)
    dt = 1.0 / fps
    for i in range(len(values)):
        if not valid[i]:
            filt.reset()
            continue
        if restart[i]:
            filt.reset()
        out[i] = filt(values[i], dt)
    return out
