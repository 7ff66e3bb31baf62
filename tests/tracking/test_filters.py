"""The One Euro filter on synthetic signals: still signals smoothed hard, fast ones followed, restarts exact."""

from __future__ import annotations

import numpy as np

from reenact.tracking.filters import OneEuroConfig, OneEuroFilter, smooth_sequence

FPS = 30.0


def run(filt: OneEuroFilter, values: np.ndarray) -> np.ndarray:
    return np.array([filt(v, 1 / FPS) for v in values])


def test_the_first_sample_and_a_constant_pass_unchanged() -> None:
    filt = OneEuroFilter()
    assert filt(np.array([3.0, -1.0]), 1 / FPS).tolist() == [3.0, -1.0]
    out = run(filt, np.full((20, 2), [3.0, -1.0]))
    assert np.allclose(out, [3.0, -1.0])


def test_jitter_on_a_still_signal_is_smoothed() -> None:
    noise = np.random.default_rng(0).normal(0, 1.0, 300)
    out = run(OneEuroFilter(OneEuroConfig(min_cutoff=1.0, beta=0.0)), noise)
    assert out[30:].std() < 0.35 * noise.std()


def test_speed_raises_the_cutoff_so_a_fast_move_lags_less() -> None:
    ramp = np.arange(60) * 2.0  # 60 units per second
    lag = {beta: ramp[-1] - run(OneEuroFilter(OneEuroConfig(min_cutoff=1.0, beta=beta)), ramp)[-1]
           for beta in (0.0, 0.5)}
    assert lag[0.5] < 0.5 * lag[0.0] and lag[0.0] > 0


def test_reset_forgets_the_past() -> None:
    filt = OneEuroFilter()
    run(filt, np.zeros(10))
    filt.reset()
    assert filt(np.array(5.0), 1 / FPS) == 5.0


def test_smooth_sequence_restarts_at_cuts_and_after_gaps() -> None:
    values = np.concatenate([np.zeros(10), np.full(10, 8.0), np.full(10, 3.0)])[:, None]
    valid = np.ones(30, bool)
    valid[25] = False
    values[25] = np.nan
    out = smooth_sequence(values, valid, np.array([10]), FPS, OneEuroConfig())
    assert out[10, 0] == 8.0, "the cut's first frame is its raw value, not dragged from the shot before"
    assert np.isnan(out[25, 0]) and out[26, 0] == 3.0, "after a gap the next frame starts afresh"
    assert 3.0 < out[20, 0] < 8.0, "within a shot the filter smooths the step"
