"""The One Euro filter on synthetic signals: still signals smoothed hard, fast ones followed, restarts exact;
the zero-phase form without lag."""

from __future__ import annotations

import numpy as np

from reenact.tracking.filters import (
    SPEED_CUTOFF_HZ,
    OneEuroConfig,
    OneEuroFilter,
    smooth_sequence,
    smooth_sequence_zero_phase,
)

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


def test_a_quick_speed_estimate_lets_a_blink_through_causally() -> None:
    # A blink as live tracking sees it: the lid gap of an eye 30 px wide (9 px open) closes and opens within 150 ms.
    blink = 30 * np.array([0.3] * 10 + [0.2, 0.05, 0.0, 0.05, 0.2] + [0.3] * 15)
    filtered = {hz: run(OneEuroFilter(OneEuroConfig(min_cutoff=1.5, beta=0.1, d_cutoff=hz)), blink)
                for hz in (1.0, SPEED_CUTOFF_HZ)}
    print({hz: (round(float(f.min()), 2), int(f.argmin())) for hz, f in filtered.items()})
    quick, slow = filtered[SPEED_CUTOFF_HZ], filtered[1.0]
    assert quick.argmin() == blink.argmin() == slow.argmin() - 1, "at 1 Hz the lid closes a frame late"
    assert quick.min() < 0.7 * slow.min(), "and less far"
    assert quick[15] > slow[15] + 1.5, "and opens again late"


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


def test_zero_phase_follows_a_moving_signal_without_lag() -> None:
    t = np.arange(90) / FPS
    wave = np.cos(2 * np.pi * 1.0 * t)[:, None]  # 1 Hz, peaks at frames 30 and 60
    valid = np.ones(90, bool)
    config = OneEuroConfig(min_cutoff=1.0, beta=0.0)  # cutoff at the wave's frequency: the causal pass lags it
    causal = smooth_sequence(wave, valid, np.zeros(0, int), FPS, config)
    zero = smooth_sequence_zero_phase(wave, valid, np.zeros(0, int), FPS, config)
    peak = {name: 15 + int(np.argmax(out[15:45, 0])) for name, out in (("causal", causal), ("zero", zero))}
    print(f"the 1 Hz wave's peak at frame 30 comes out at frame {peak['causal']} causal, {peak['zero']} zero-phase")
    assert peak["zero"] == 30 and peak["causal"] > 32


def test_zero_phase_smooths_jitter_and_keeps_runs_apart() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([np.zeros(40), np.full(40, 8.0)])[:, None] + rng.normal(0, 1.0, (80, 1))
    valid = np.ones(80, bool)
    config = OneEuroConfig(min_cutoff=1.0, beta=0.0)
    out = smooth_sequence_zero_phase(values, valid, np.array([40]), FPS, config)
    assert out[5:35].std() < 0.35 * values[5:35].std()
    assert out[40, 0] == values[40, 0] and out[39, 0] == values[39, 0], "each run's ends are their raw values"
    # Changing one run leaves the other as it was: nothing is smoothed across the restart.
    changed = values.copy()
    changed[:40] += 100.0
    again = smooth_sequence_zero_phase(changed, valid, np.array([40]), FPS, config)
    np.testing.assert_array_equal(again[40:], out[40:])
    # Gaps restart both passes too, and a one-frame run is its raw value.
    gappy = values.copy()
    gappy[[10, 12]] = np.nan
    valid[[10, 12]] = False
    out = smooth_sequence_zero_phase(gappy, valid, np.zeros(0, int), FPS, config)
    assert np.isnan(out[[10, 12], 0]).all() and out[11, 0] == gappy[11, 0]
