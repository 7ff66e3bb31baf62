"""Direct edits on a real target track (target_wojtek)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from reenact.edits import (
    Editor,
    LookAt,
    SetEyeOpenness,
    Smile,
    Timing,
    TurnHead,
    apply_edits,
)
from reenact.geometry import euler_degrees
from reenact.params import FaceParams, Track
from reenact.recombine import widen_range
from reenact.tracking.face_regions import mouth_corners

slow = pytest.mark.slow
FIELDS = ("rotation", "translation", "scale", "expression", "gaze", "openness")


@pytest.fixture(scope="module")
def target(tracked) -> Track:
    return tracked("target_wojtek.mp4")


def _unchanged_except(edited: FaceParams, original: FaceParams, changed: tuple[str, ...]) -> None:
    np.testing.assert_array_equal(edited.valid, original.valid)
    for name in FIELDS:
        if name not in changed:
            np.testing.assert_array_equal(getattr(edited, name), getattr(original, name), err_msg=name)


# --- without tracks --------------------------------------------------------------------------


def test_timing_eases_in_holds_and_releases() -> None:
    frames = np.arange(50)
    w = Timing(start=10, end=20, release=30).weights(frames)
    np.testing.assert_array_equal(w[:11], 0.0)
    assert w[15] == pytest.approx(0.5)
    assert np.all(np.diff(w[10:21]) > 0)
    np.testing.assert_array_equal(w[20:31], 1.0)
    np.testing.assert_array_equal(w[40:], 0.0)
    np.testing.assert_array_equal(Timing(start=5, end=5).weights(frames), (frames >= 5).astype(np.float32))
    assert Timing(0, 10, easing="linear").weights(np.array([3]))[0] == pytest.approx(0.3)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Timing(start=10, end=5),
        lambda: Timing(start=-1, end=5),
        lambda: Timing(start=0, end=10, release=5),
        lambda: Timing(easing="bounce"),
        lambda: SetEyeOpenness(eye="middle"),
        lambda: SetEyeOpenness(openness=-0.1),
        lambda: LookAt(eye="third"),
    ],
)
def test_bad_edits_are_refused(make) -> None:
    with pytest.raises(ValueError):
        make()


# --- on a real track --------------------------------------------------------------------------


@slow
def test_gaze_edit_changes_only_gaze(target: Track) -> None:
    params = target.params
    out = apply_edits(target, [LookAt(x=0.3, y=-0.1, timing=Timing(start=5, end=15))])
    _unchanged_except(out, params, ("gaze",))
    np.testing.assert_array_equal(out.gaze[:6], params.gaze[:6])
    np.testing.assert_allclose(out.gaze[15:], np.broadcast_to([0.3, -0.1], out.gaze[15:].shape), atol=1e-6)


@slow
def test_head_turn_changes_yaw_by_its_angle(target: Track) -> None:
    params = target.params
    out = apply_edits(target, [TurnHead(yaw=20.0, timing=Timing(start=10, end=30))])
    _unchanged_except(out, params, ("rotation",))
    change = euler_degrees(out.rotation) - euler_degrees(params.rotation)
    np.testing.assert_array_equal(out.rotation[:11], params.rotation[:11])
    np.testing.assert_allclose(change[30:, 0], 20.0, atol=1e-2)
    np.testing.assert_allclose(change[:, 1:], 0.0, atol=1e-2)
    assert change[20, 0] == pytest.approx(10.0, abs=1e-2)  # smoothstep's midpoint
    assert np.all(np.diff(change[10:31, 0]) > 0)


@slow
def test_closing_an_eye_closes_that_eye_only(target: Track) -> None:
    params = target.params
    out = apply_edits(target, [SetEyeOpenness(openness=0.0, eye="right", timing=Timing(start=0, end=10))])
    # The expression too is left alone: the renderer puts the lids where the openness says (test_eyelids.py).
    _unchanged_except(out, params, ("openness",))
    np.testing.assert_allclose(out.openness[10:, 0], 0.0, atol=1e-6)
    assert np.all(out.openness[1:, 0] < params.openness[1:, 0])
    np.testing.assert_array_equal(out.openness[:, 1], params.openness[:, 1])


@slow
def test_smile_raises_the_mouth_corners_within_the_seen_range(target: Track) -> None:
    params = target.params
    corners = mouth_corners()
    out = apply_edits(target, [Smile(amount=1.0)])
    raise_cm = (target.model.shapes(out.expression) - target.model.shapes(params.expression))[:, corners, 1]
    assert np.median(raise_cm) > 0.05
    huge = apply_edits(target, [Smile(amount=10.0)])
    bounds = widen_range(target.model.coefficient_range, 0.05)
    assert np.all(huge.expression >= bounds[:, 0] - 1e-6) and np.all(huge.expression <= bounds[:, 1] + 1e-6)


@slow
def test_live_frames_match_the_whole_clip(target: Track) -> None:
    edits = [TurnHead(pitch=-8.0, timing=Timing(2, 12, release=20)), Smile(0.5, Timing(5, 15)), LookAt(0.2, 0.0)]
    editor = Editor(target)
    whole = editor.apply(target.params[:40], edits)
    frames = [editor.apply(target.params[t], edits, first_frame=t) for t in range(40)]
    for name in FIELDS:
        np.testing.assert_allclose(np.concatenate([getattr(f, name) for f in frames]), getattr(whole, name), atol=1e-5)


@slow
def test_invalid_frames_are_left_alone(target: Track) -> None:
    params = target.params.copy()
    params.valid[3:6] = False
    for name in FIELDS:
        getattr(params, name)[3:6] = np.nan
    out = Editor(target).apply(params, [TurnHead(yaw=10.0), Smile(1.0)])
    assert not out.valid[3:6].any()
    assert np.isnan(out.rotation[3:6]).all() and np.isnan(out.expression[3:6]).all()


@slow
def test_eye_edit_of_a_clip_that_never_blinks(target: Track) -> None:
    staring = target.params.copy()
    staring.openness[staring.valid] = 0.3
    editor = Editor(dataclasses.replace(target, params=staring))
    closed = editor.apply(staring, [SetEyeOpenness(0.0, eye="left")])
    np.testing.assert_array_equal(closed.openness[staring.valid, 1], 0.0)
    with pytest.raises(ValueError, match="not an edit"):
        editor.apply(staring, ["smile"])
