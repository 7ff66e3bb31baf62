"""Recombination on real tracks: drive_d0 (source) driving target_wojtek (target)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from reenact.geometry import euler_degrees
from reenact.params import FaceParams, Track
from reenact.recombine import (
    Component,
    RecombineConfig,
    Recombiner,
    RegionWeights,
    output_cuts,
    recombine,
    retarget_scale,
    vertex_weights,
    widen_range,
)
from reenact.tracking.face_regions import SUB_REGIONS, _sub_region_cores, neutral_frame, region_masks

slow = pytest.mark.slow
FIELDS = ("rotation", "translation", "scale", "expression", "gaze", "openness")


@pytest.fixture(scope="module")
def source(tracked) -> Track:
    return tracked("drive_d0.mp4")


@pytest.fixture(scope="module")
def target(tracked) -> Track:
    return tracked("target_wojtek.mp4")


def _assert_params_close(a: FaceParams, b: FaceParams, atol: float = 1e-4) -> None:
    np.testing.assert_array_equal(a.valid, b.valid)
    for name in FIELDS:
        np.testing.assert_allclose(getattr(a, name)[a.valid], getattr(b, name)[b.valid], atol=atol, err_msg=name)


def _with_invalid(params: FaceParams, frames: slice) -> FaceParams:
    out = params.copy()
    out.valid[frames] = False
    for name in FIELDS:
        getattr(out, name)[frames] = np.nan
    return out


def _core(region: str) -> np.ndarray:
    cores = _sub_region_cores()
    return np.concatenate([cores[i] for i, name in enumerate(SUB_REGIONS) if region in name])


# --- without tracks --------------------------------------------------------------------------


def test_region_masks_are_a_smooth_partition_of_unity() -> None:
    masks = region_masks()
    assert masks.shape == (len(SUB_REGIONS), 468)
    np.testing.assert_allclose(masks.sum(0), 1.0, atol=1e-5)
    assert masks.min() >= -1e-6
    for row, ids in enumerate(_sub_region_cores()):
        np.testing.assert_allclose(masks[row, ids], 1.0)
    weights = vertex_weights(RegionWeights(mouth=0.0))
    np.testing.assert_array_equal(weights[_core("mouth")], 0.0)
    np.testing.assert_allclose(weights[_core("eye")], 1.0)
    assert 0.0 < weights.min(initial=1.0, where=weights > 0) < 1.0  # soft falloff between regions


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "bogus"},
        {"mode": frozenset()},
        {"intensity": -1.0},
        {"clamp_margin": -0.1},
        {"ease_seconds": -1.0},
    ],
)
def test_config_rejects_bad_values(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        RecombineConfig(**kwargs)


def test_region_weights_reject_out_of_range() -> None:
    with pytest.raises(ValueError, match="mouth"):
        RegionWeights(mouth=1.5)


# --- on real tracks --------------------------------------------------------------------------


@slow
@pytest.mark.parametrize("relative", [True, False])
def test_recombining_a_track_with_itself_returns_it(target: Track, relative: bool) -> None:
    out = recombine(target, target, RecombineConfig(relative=relative, clamp=True))
    _assert_params_close(out, target.params)


@slow
def test_retargeting_a_face_onto_itself_is_the_identity(target: Track) -> None:
    np.testing.assert_allclose(retarget_scale(target.model, target.model), 1.0, atol=1e-6)


@slow
def test_reference_frame_drives_the_target_reference(source: Track, target: Track) -> None:
    s_ref, t_ref = neutral_frame(source.model, source.params), neutral_frame(target.model, target.params)
    out = recombine(source, target, RecombineConfig(target_ref=t_ref))
    frame = out[s_ref]
    for name in FIELDS:
        np.testing.assert_allclose(getattr(frame, name), getattr(target.params, name)[t_ref : t_ref + 1], atol=1e-4, err_msg=name)


@slow
def test_recalibration_moves_the_source_reference(source: Track, target: Track) -> None:
    recombiner = Recombiner.from_tracks(source, target)
    recombiner.set_source_reference(source.params[30])
    out = recombiner(source.params[30], target.params[30])
    t_ref = neutral_frame(target.model, target.params)
    np.testing.assert_allclose(out.expression, target.params.expression[t_ref : t_ref + 1], atol=1e-4)
    np.testing.assert_allclose(out.rotation, target.params.rotation[t_ref : t_ref + 1], atol=1e-5)
    with pytest.raises(ValueError, match="one valid frame"):
        recombiner.set_source_reference(source.params[0:2])


@slow
def test_region_weight_zero_keeps_that_region(source: Track, target: Track) -> None:
    driven = recombine(source, target, RecombineConfig(mode="expression"))
    held = recombine(source, target, RecombineConfig(mode="expression", weights=RegionWeights(mouth=0.0, eyes=0.0)))
    n = len(held)
    own = target.model.shapes(target.params.expression[:n])
    mouth = _core("mouth")

    def moved(out: FaceParams) -> float:
        return float(np.linalg.norm(target.model.shapes(out.expression)[:, mouth] - own[:, mouth], axis=-1).mean())

    # The target's PCA basis is global, so a held region moves a little with the driven ones.
    assert moved(held) < 0.3 * moved(driven)
    # Gaze and openness follow the eyes weight exactly.
    np.testing.assert_array_equal(held.gaze, target.params.gaze[:n])
    np.testing.assert_array_equal(held.openness, target.params.openness[:n])
    assert np.abs(driven.openness - target.params.openness[:n]).max() > 0.01


@slow
def test_intensity_zero_gives_the_target_reference_expression(source: Track, target: Track) -> None:
    t_ref = neutral_frame(target.model, target.params)
    out = recombine(source, target, RecombineConfig(mode="expression", intensity=0.0))
    np.testing.assert_allclose(out.expression, np.broadcast_to(target.params.expression[t_ref], out.expression.shape), atol=1e-4)
    np.testing.assert_allclose(out.openness, np.broadcast_to(target.params.openness[t_ref], out.openness.shape), atol=1e-6)
    np.testing.assert_array_equal(out.rotation, target.params.rotation[: len(out)])


@slow
def test_intensity_scales_the_expression_change(source: Track, target: Track) -> None:
    t_ref = neutral_frame(target.model, target.params)
    change = {
        k: recombine(source, target, RecombineConfig(intensity=k, clamp=False)).expression - target.params.expression[t_ref]
        for k in (0.5, 1.0)
    }
    np.testing.assert_allclose(change[0.5], 0.5 * change[1.0], atol=1e-4)


@slow
def test_clamping_keeps_coefficients_in_the_seen_range(source: Track, target: Track) -> None:
    config = RecombineConfig(intensity=3.0)
    bounds = widen_range(target.model.coefficient_range, config.clamp_margin)
    out = recombine(source, target, config)
    assert np.all(out.expression >= bounds[:, 0] - 1e-6) and np.all(out.expression <= bounds[:, 1] + 1e-6)
    free = recombine(source, target, dataclasses.replace(config, clamp=False))
    assert np.any((free.expression < bounds[:, 0]) | (free.expression > bounds[:, 1]))


@slow
def test_modes_transfer_only_their_components(source: Track, target: Track) -> None:
    n = min(source.n_frames, target.n_frames)
    own = target.params[:n]
    full = recombine(source, target, RecombineConfig(mode="full"))
    by_mode = {mode: recombine(source, target, RecombineConfig(mode=mode)) for mode in ("pose", "gaze", "expression")}
    by_mode["custom"] = recombine(source, target, RecombineConfig(mode=frozenset({Component.EXPRESSION})))
    kept = {
        "pose": ("expression", "gaze", "openness"),
        "gaze": ("rotation", "translation", "scale", "expression", "openness"),
        "expression": ("rotation", "translation", "scale"),
        "custom": ("rotation", "translation", "scale", "gaze"),
    }
    for mode, out in by_mode.items():
        for name in FIELDS:
            if name in kept[mode]:
                np.testing.assert_array_equal(getattr(out, name), getattr(own, name), err_msg=f"{mode}: {name}")
            else:
                np.testing.assert_allclose(getattr(out, name), getattr(full, name), atol=1e-5, err_msg=f"{mode}: {name}")
    yaw_change = euler_degrees(full.rotation)[:, 0] - euler_degrees(own.rotation)[:, 0]
    assert np.abs(yaw_change).max() > 1.0


@slow
def test_streaming_matches_the_whole_clip(source: Track, target: Track) -> None:
    lost = _with_invalid(source.params, slice(40, 50))
    whole = Recombiner.from_tracks(source, target)(lost, target.params[: source.n_frames])
    live = Recombiner.from_tracks(source, target)
    frames = [live(lost[t], target.params[t]) for t in range(source.n_frames)]
    for name in FIELDS:
        np.testing.assert_allclose(np.concatenate([getattr(f, name) for f in frames]), getattr(whole, name), atol=1e-6)


@slow
def test_invalid_target_frames_give_invalid_output(source: Track, target: Track) -> None:
    broken = dataclasses.replace(target, params=_with_invalid(target.params, slice(5, 10)))
    out = recombine(source, broken)
    assert not out.valid[5:10].any() and out.valid[:5].all() and out.valid[10:].all()
    assert np.isnan(out.expression[5:10]).all()


@slow
def test_lost_source_is_held_then_eased_back_to_the_target(source: Track, target: Track) -> None:
    broken = dataclasses.replace(source, params=_with_invalid(source.params, slice(20, 60)))
    # presence steps by 0.1 per frame; both runs measured from the same source reference
    config = RecombineConfig(ease_seconds=10 / target.fps, source_ref=neutral_frame(broken.model, broken.params))
    out = recombine(broken, target, config)
    driven = recombine(source, target, config).translation
    own = target.params.translation[: len(out)]
    ramp = np.arange(1, 11) / 10
    eased = ramp * ramp * (3 - 2 * ramp)
    # Lost at 20: the last valid source frame (19) is held while the output eases to the target's own.
    held = own[20:30] + (1 - eased)[:, None] * (driven[19] - own[20:30])
    np.testing.assert_allclose(out.translation[20:30], held, atol=1e-3)
    for name in FIELDS:
        np.testing.assert_allclose(getattr(out, name)[29:60], getattr(target.params, name)[29:60], atol=1e-5, err_msg=name)
    # Back at 60: eased in again.
    np.testing.assert_allclose(out.translation[60:70], own[60:70] + eased[:, None] * (driven[60:70] - own[60:70]), atol=1e-3)
    assert out.valid.all()


@slow
def test_a_cut_ends_the_easing_at_once(source: Track, target: Track) -> None:
    broken = dataclasses.replace(source, params=_with_invalid(source.params, slice(20, 40)))
    config = RecombineConfig(ease_seconds=10 / target.fps, source_ref=neutral_frame(broken.model, broken.params))
    cut_target = dataclasses.replace(target, cuts=np.array([25], dtype=np.int32))
    out = recombine(broken, cut_target, config)
    driven = recombine(source, target, config)
    own = target.params[: len(out)]
    # Before the cut: held and easing out. From the target's cut on: its own frame at once, no held face.
    assert np.abs(out.translation[24] - own.translation[24]).max() > 1e-3
    for name in FIELDS:
        np.testing.assert_allclose(getattr(out, name)[25:40], getattr(own, name)[25:40], atol=1e-5, err_msg=name)
    # A source cut where its face is back: the source drives from that frame, without easing in.
    cut_source = dataclasses.replace(broken, cuts=np.array([40], dtype=np.int32))
    back = recombine(cut_source, target, config)
    np.testing.assert_allclose(back.translation[40:45], driven.translation[40:45], atol=1e-3)
    eased = recombine(broken, target, config)
    assert np.abs(eased.translation[40] - driven.translation[40]).max() > 1e-3


def _timeline(n: int, cuts: list[int]) -> Track:
    """A track of n frames with these cuts and nothing else (what `output_cuts` reads)."""
    params = FaceParams(rotation=np.zeros((n, 3, 3)), translation=np.zeros((n, 2)), scale=np.ones(n),
                        expression=np.zeros((n, 1)), gaze=np.zeros((n, 2, 2)), openness=np.zeros((n, 2)),
                        valid=np.ones(n, dtype=bool))
    return Track(params=params, model=None, landmarks=np.zeros((n, 1, 3)), fit_error=np.zeros(n),
                 cuts=np.array(cuts, dtype=np.int32), fps=25.0, width=1, height=1)


def test_output_cuts_map_both_clips_and_the_source_loop() -> None:
    source, target = _timeline(10, [4]), _timeline(25, [7, 22])
    assert output_cuts(source, target).tolist() == [4, 7]
    # Looping, the source restarts at 10 and 20 and its cut comes again at 14 and 24.
    assert output_cuts(source, target, loop_source=True).tolist() == [4, 7, 10, 14, 20, 22, 24]


@slow
def test_length_is_the_shorter_clip_unless_the_source_loops(source: Track, target: Track) -> None:
    assert len(recombine(source, target)) == source.n_frames
    looped = recombine(source, target, loop_source=True)
    assert len(looped) == target.n_frames
    # In full mode the output depends on the source frame only, so the loop repeats it.
    _assert_params_close(looped[source.n_frames : 2 * source.n_frames], looped[: source.n_frames], atol=1e-5)


@slow
def test_bad_references_and_blocks_are_refused(source: Track, target: Track) -> None:
    with pytest.raises(ValueError, match="outside"):
        Recombiner.from_tracks(source, target, RecombineConfig(source_ref=source.n_frames))
    broken = dataclasses.replace(target, params=_with_invalid(target.params, slice(0, 3)))
    with pytest.raises(ValueError, match="holds no face"):
        Recombiner.from_tracks(source, broken, RecombineConfig(target_ref=1))
    recombiner = Recombiner.from_tracks(source, target)
    with pytest.raises(ValueError, match="equal lengths"):
        recombiner(source.params[:3], target.params[:4])
    with pytest.raises(ValueError, match="coefficients"):
        recombiner(target.params[:3], target.params[:3])
