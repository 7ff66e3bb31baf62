"""Edit fidelity: asked against shown, on a real target track, with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.edits import Editor, SetActionUnit, SetEyeOpenness, Smile, Timing, TurnHead
from reenact.eval.edit_fidelity import MIN_REACHED, check_edits, checks_table, describe
from reenact.params import FaceParams, Track

EDITS = [Smile(1.0, timing=Timing(20, 30, 50)), SetEyeOpenness(0.0, "left", timing=Timing(10, 10)),
         TurnHead(10.0, 0.0, -5.0, timing=Timing(0, 0)), SetActionUnit("26", 0.8, timing=Timing(62, 70))]
"""Each measure is a sum over the edits acting on a frame (a jaw drop lowers the lip corners too), so the smile
and the jaw drop act on frames of their own."""


@pytest.fixture(scope="module")
def target(tracked) -> Track:
    return tracked("target_wojtek.mp4")


def _between(before: FaceParams, after: FaceParams, share: float) -> FaceParams:
    """Parameters `share` of the way from `before` to `after` (rotations through their Euler angles)."""
    from reenact.geometry import euler_degrees, rotation_from_euler

    out = before.copy()
    for name in ("expression", "gaze", "openness"):
        getattr(out, name)[:] = getattr(before, name) + share * (getattr(after, name) - getattr(before, name))
    angles = euler_degrees(before.rotation) + share * (euler_degrees(after.rotation) - euler_degrees(before.rotation))
    out.rotation[:] = rotation_from_euler(angles)
    return out


@pytest.mark.parametrize("share", [1.0, 0.5, 0.0])
def test_a_picture_showing_a_share_of_each_edit_reads_as_that_share(target, share):
    frames = np.arange(80)
    own = target.params[frames]
    editor = Editor(target)
    wanted = editor.apply(own, EDITS)
    checks = check_edits(EDITS, frames, own, wanted, own, _between(own, wanted, share), editor, 0.5)
    print("\n" + checks_table(checks))
    measured = {c.measure for c in checks}
    assert {"lip corner height (mm)", "left openness (eye widths)", "yaw (deg)", "roll (deg)",
            "AU26 intensity"} == measured  # pitch was not asked
    full = {describe(edit): int((edit.timing.weights(frames) >= 1)[own.valid].sum()) for edit in EDITS}
    assert next(c for c in checks if c.edit == "smile 1").asked > 0.5  # mm up
    for c in checks:
        assert abs(c.asked) > 0.01, c
        assert c.frames == full[c.edit] > 0
        # The AU reading is a bounded fit of the whole face, so it is only roughly linear in the share.
        assert c.reached == pytest.approx(share, abs=0.15 if c.measure.startswith("AU") else 0.02), c
        assert c.passed is (share >= MIN_REACHED if c.in_reach else None)


def test_only_frames_where_an_edit_acts_fully_count(target):
    frames = np.arange(100, 160)
    edit = Smile(1.0, timing=Timing(110, 120, 130))  # full from 120 to 130
    own = target.params[frames]
    editor = Editor(target)
    wanted = editor.apply(own, [edit], first_frame=100)
    [check] = check_edits([edit], frames, own, wanted, own, wanted, editor, 0.5)
    assert check.frames == 11
    lost = wanted.copy()
    lost.valid[frames >= 125] = False  # no face found on those frames
    [check] = check_edits([edit], frames, own, wanted, own, lost, editor, 0.5)
    assert check.frames == 5 and check.reached == pytest.approx(1.0)
