"""The edits file: every kind round-trips, emotions expand to their action units, bad files are one clear error."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reenact import edits_file
from reenact.edits import LookAt, SetActionUnit, SetEyeOpenness, Smile, Timing, TurnHead, emotion_edits
from reenact.errors import FormatError, InputError, SettingError

EVERY_KIND = [
    TurnHead(12.0, -3.0, 1.5, timing=Timing(10, 20, 40)),
    Smile(0.8, timing=Timing(5, 5)),
    SetEyeOpenness(0.0, eye="left", timing=Timing(0, 3, 6, easing="linear")),
    LookAt(0.3, -0.2, timing=Timing(1, 2)),
    SetActionUnit("L12", 0.7, mode="add"),
    edits_file.Emotion("surprised", 0.6, timing=Timing(30, 40, 50)),
]


def test_every_kind_round_trips_through_the_file(tmp_path) -> None:
    path = tmp_path / "edits.json"
    edits_file.write(path, EVERY_KIND)
    assert edits_file.read(path) == EVERY_KIND
    record = json.loads(path.read_text())
    assert (record["format"], record["version"]) == ("reenact-edits", 1)
    assert record["edits"][0] == {"kind": "turn_head", "yaw": 12.0, "pitch": -3.0, "roll": 1.5, "start": 10,
                                  "full": 20, "release": 40, "easing": "smoothstep"}


def test_an_emotion_renders_as_its_action_units_in_its_mode() -> None:
    emotion = edits_file.Emotion("happy", 0.5, mode="add", timing=Timing(3, 4))
    expected = [SetActionUnit(e.unit, 0.5, mode="add", timing=Timing(3, 4)) for e in emotion_edits("happy", 0.5)]
    assert edits_file.expand([Smile(1.0), emotion]) == [Smile(1.0), *expected]


def test_absent_values_take_the_defaults_and_a_unit_may_be_a_number() -> None:
    text = json.dumps({"format": "reenact-edits", "version": 1,
                       "edits": [{"kind": "smile"}, {"kind": "action_unit", "unit": 12, "intensity": 1}]})
    assert edits_file.loads(text) == [Smile(), SetActionUnit("12", 1.0)]


@pytest.mark.parametrize(("text", "error", "words"), [
    ("{not json", FormatError, "is not JSON"),
    ('{"edits": []}', FormatError, "is not a reenact edits file"),
    ('{"format": "reenact-edits", "version": 7, "edits": []}', FormatError, "version 7, this reenact reads 1"),
    ('{"format": "reenact-edits", "version": 1}', FormatError, 'no list of "edits"'),
    ('{"format": "reenact-edits", "version": 1, "edits": [{"kind": "wink"}]}', SettingError, 'unknown kind "wink"'),
    ('{"format": "reenact-edits", "version": 1, "edits": [{"kind": "smile", "amout": 1}]}', SettingError,
     "edit 1 (smile): unknown key 'amout'"),
    ('{"format": "reenact-edits", "version": 1, "edits": [{"kind": "smile", "amount": "big"}]}', SettingError,
     "amount must be a number"),
    ('{"format": "reenact-edits", "version": 1, "edits": [{"kind": "smile", "start": 2.5}]}', SettingError,
     "start must be a whole number of frames"),
    (('{"format": "reenact-edits", "version": 1, "edits": [{"kind": "smile"}, {"kind": "smile", "start": 9, '
     '"full": 3}]}'), SettingError, "edit 2 (smile): timing needs 0 <= start <= end"),
    ('{"format": "reenact-edits", "version": 1, "edits": [{"kind": "emotion", "emotion": "glee"}]}', SettingError,
     "unknown emotion 'glee'"),
    ('{"format": "reenact-edits", "version": 1, "edits": [{"kind": "look", "eye": 2}]}', SettingError,
     "eye must be a name"),
])
def test_a_bad_file_is_one_error_naming_the_entry(text: str, error: type, words: str) -> None:
    with pytest.raises(error, match=None) as raised:
        edits_file.loads(text, "e.json")
    assert words in str(raised.value) and "\n" not in str(raised.value)


def test_a_missing_file_is_an_input_error(tmp_path) -> None:
    with pytest.raises(InputError, match="edits file not found"):
        edits_file.read(tmp_path / "nope.json")


def test_edit_renders_an_edits_file_as_the_same_flags_do(tmp_path, random_model, short_clip) -> None:
    """`reenact edit --edits FILE` and the equivalent flags render the same parameters (--params-out)."""
    pytest.importorskip("mediapipe", reason="the short clip is tracked with MediaPipe")
    from reenact.cli import main
    from reenact.params import FaceParams

    fps = 25  # the short clip's rate: --au takes seconds, the file frames
    file = tmp_path / "edits.json"
    edits_file.write(file, [TurnHead(8.0, timing=Timing(5, 15, 25)), Smile(0.7, timing=Timing(5, 15, 25)),
                            SetActionUnit("45", 1.0, mode="set", timing=Timing(round(0.4 * fps), round(0.6 * fps)))])
    common = ["edit", "--model", str(random_model.path), "--target", str(short_clip), "--backend", "onnxruntime"]
    assert main([*common, "--edits", str(file), "-o", str(tmp_path / "a.mp4"), "--params-out",
                 str(tmp_path / "a.npz")]) == 0
    assert main([*common, "--turn-head", "8", "--smile", "0.7", "--edit-start", "5", "--edit-end", "15",
                 "--edit-release", "25", "--au", "45=1@0.4-0.6", "-o", str(tmp_path / "b.mp4"), "--params-out",
                 str(tmp_path / "b.npz")]) == 0
    edits_file.write(tmp_path / "none.json", [])
    assert main([*common, "--edits", str(tmp_path / "none.json"), "-o", str(tmp_path / "c.mp4"), "--params-out",
                 str(tmp_path / "c.npz")]) == 0
    a, b, plain = (FaceParams.load(tmp_path / f"{name}.npz") for name in "abc")
    for name in ("rotation", "expression", "gaze", "openness", "valid"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name
    assert np.array_equal(a.expression[:5], plain.expression[:5]), "nothing acts before the edits start"
    assert not np.allclose(a.rotation[20], plain.rotation[20]), "the file's head turn was not rendered"
