"""Do edits show in the picture? Re-track the rendered result and compare what changed with what was asked.

An edit asks for a change of something a tracker can read back: an eye's
openness, the lip corners' height, the head's yaw, pitch or roll, the gaze, an
action unit's intensity. For each edit and each such measure:

- asked: the change from the target frames' own parameters to the rendered
  (edited) parameters;
- shown: the change from the re-tracked render *without* the edit to the
  re-tracked render *with* it, both fitted in the target's face model.

Taking "shown" between two renders, not between the render and the real
frames, cancels what the generator and the tracker get wrong on both (a
generator that draws every eye a little less open, the fit's own bias), so
the ratio shown / asked is the share of the edit that reached the picture.
Both are averaged over the frames where the edit acts fully (its timing's
weight is 1) and a face was found in both renders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reenact.edits import EYES, Edit, Editor, LookAt, SetActionUnit, SetEyeOpenness, Smile, TurnHead
from reenact.facs.units import resolve
from reenact.geometry import euler_degrees
from reenact.params import FaceModel, FaceParams
from reenact.tracking.face_regions import mouth_corners

MIN_REACHED = 0.7
"""Share of an asked change the picture must show for an edit within the target's reach (issue 16's bar)."""
ANGLES = ("yaw", "pitch", "roll")


@dataclass(frozen=True)
class EditCheck:
    """One measure of one edit: what was asked and what the re-tracked picture shows."""

    edit: str
    """The edit, as a short text (`describe`)."""
    measure: str
    """What is measured, with its unit."""
    asked: float
    shown: float
    frames: int
    """Frames averaged over (full-strength, a face found in both renders)."""
    in_reach: bool
    """Whether the target can show it: False for an action unit its expression basis reproduces poorly."""

    @property
    def reached(self) -> float:
        """shown / asked (NaN when nothing was asked or no frame was compared)."""
        return self.shown / self.asked if self.asked and self.frames else float("nan")

    @property
    def passed(self) -> bool | None:
        """Whether the picture shows at least MIN_REACHED of the asked change; None outside the target's reach."""
        return bool(self.reached >= MIN_REACHED) if self.in_reach and self.frames else None


def describe(edit: Edit) -> str:
    """A short text for an edit, as the command line would say it."""
    if isinstance(edit, TurnHead):
        return f"turn head {edit.yaw:g} {edit.pitch:g} {edit.roll:g} deg"
    if isinstance(edit, Smile):
        return f"smile {edit.amount:g}"
    if isinstance(edit, SetEyeOpenness):
        return f"{edit.eye} eye{'s' if edit.eye == 'both' else ''} openness {edit.openness:g}"
    if isinstance(edit, LookAt):
        return f"look {edit.x:g} {edit.y:g} ({edit.eye})"
    return f"AU{edit.unit}={edit.intensity:g} ({edit.mode})"


def lip_corner_height(model: FaceModel, expression: np.ndarray) -> np.ndarray:
    """float64 T mean height (mm, canonical space, up) of the two mouth corners for coefficients TxK."""
    return 10.0 * model.shapes(expression)[:, mouth_corners(), 1].mean(axis=1).astype(np.float64)


def measures(edit: Edit, params: FaceParams, editor: Editor) -> dict[str, np.ndarray]:
    """The measures `edit` is meant to move, each float64 T over the frames of `params`."""
    if isinstance(edit, TurnHead):
        angles = euler_degrees(params.rotation).astype(np.float64)
        return {f"{name} (deg)": angles[:, i] for i, (name, amount) in
                enumerate(zip(ANGLES, (edit.yaw, edit.pitch, edit.roll))) if amount}
    if isinstance(edit, Smile):
        return {"lip corner height (mm)": lip_corner_height(editor.model, params.expression)}
    if isinstance(edit, SetEyeOpenness):
        return {f"{edit.eye} openness (eye widths)": params.openness[:, EYES[edit.eye]].mean(axis=1).astype(np.float64)}
    if isinstance(edit, LookAt):
        gaze = params.gaze[:, EYES[edit.eye]].mean(axis=1).astype(np.float64)
        return {"gaze x (half eye widths)": gaze[:, 0], "gaze y (half eye widths)": gaze[:, 1]}
    columns = list(resolve(edit.unit))
    return {f"AU{edit.unit} intensity": editor.read_aus(params)[:, columns].mean(axis=1).astype(np.float64)}


def in_reach(edit: Edit, editor: Editor, min_reach: float) -> bool:
    """Whether the target can show `edit`: an action unit its basis reproduces to at least `min_reach`."""
    if not isinstance(edit, SetActionUnit):
        return True
    return all(editor.reach(column) >= min_reach for column in resolve(edit.unit))


def check_edits(
    edits: Sequence[Edit],
    frames: np.ndarray,
    own: FaceParams,
    wanted: FaceParams,
    plain: FaceParams,
    edited: FaceParams,
    editor: Editor,
    min_reach: float,
) -> list[EditCheck]:
    """Asked against shown, per edit and measure, over the clip frames `frames` (int T, the frame numbers the
    edits' timings count in). `own`: the target frames' own parameters; `wanted`: the edited ones rendered;
    `plain` and `edited`: the re-tracked renders without and with the edits (invalid where no face was found);
    all T frames. `editor`: the target's (it reads action units and their reach)."""
    if not len(own) == len(wanted) == len(plain) == len(edited) == len(frames):
        raise ValueError("check_edits needs the same frames in every set of parameters")
    found = np.asarray(own.valid & plain.valid & edited.valid, dtype=bool)
    checks = []
    for edit in edits:
        full = found & (edit.timing.weights(np.asarray(frames)) >= 1.0)
        reach = in_reach(edit, editor, min_reach)
        asked = _change(edit, editor, own, wanted, full)
        shown = _change(edit, editor, plain, edited, full)
        for name in asked:
            checks.append(EditCheck(describe(edit), name, asked[name], shown[name], int(full.sum()), reach))
    return checks


def _change(edit: Edit, editor: Editor, before: FaceParams, after: FaceParams, rows: np.ndarray) -> dict[str, float]:
    """Mean change of each of the edit's measures from `before` to `after` over the frames `rows` (bool T)."""
    if not rows.any():
        return {name: float("nan") for name in measures(edit, before[:1], editor)}
    index = np.flatnonzero(rows)
    start, end = measures(edit, before[index], editor), measures(edit, after[index], editor)
    return {name: float(np.mean(end[name] - start[name])) for name in start}


def checks_table(checks: Sequence[EditCheck]) -> str:
    """The checks as a Markdown table: edit, measure, asked, shown, reached, verdict."""
    lines = ["| edit | measure | asked | shown | reached | frames | verdict |",
             "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
    for c in checks:
        verdict = {True: "pass", False: f"below {MIN_REACHED:.0%}", None: "outside the target's reach"}[c.passed]
        if not c.frames:
            verdict = "no frame compared"
        lines.append(f"| {c.edit} | {c.measure} | {c.asked:+.3g} | {c.shown:+.3g} | {c.reached:.0%} | {c.frames} "
                     f"| {verdict} |")
    return "\n".join(lines)
