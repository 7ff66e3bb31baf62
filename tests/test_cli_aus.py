"""`reenact aus`, and the action-unit options of the editing commands, from the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reenact.facs.units import LABELS
from tests.conftest import untrained_model
from tests.test_cli_track import assert_one_clear_line, run_cli

slow = pytest.mark.slow


def test_aus_writes_plot_and_csv(capsys, tmp_path, tracked):
    track_path = tmp_path / "d0.npz"
    tracked("drive_d0.mp4").save(track_path)
    out = tmp_path / "d0_aus.png"
    code, stdout, _ = run_cli(capsys, "aus", str(track_path), "-o", str(out))
    assert code == 0, stdout
    assert out.stat().st_size > 10_000
    rows = (tmp_path / "d0_aus.csv").read_text().splitlines()
    assert rows[0].split(",") == ["frame", "time_s", *LABELS]
    table = np.array([[float(x) for x in row.split(",")] for row in rows[1:]])
    assert table.shape == (78, 2 + len(LABELS))
    smile = table[:, 2 + LABELS.index("AU12_L")]
    assert smile[25:65].mean() > 0.8 > smile[:12].max()
    assert "78 frames" in stdout and "strongest peaks" in stdout


def test_aus_bad_inputs(capsys, tmp_path):
    code, _, err = run_cli(capsys, "aus", str(tmp_path / "missing.npz"), "-o", str(tmp_path / "a.png"))
    assert_one_clear_line(code, err, "track file not found")


@pytest.fixture(scope="module")
def edtalk_model(tmp_path_factory, tracked, data: Path) -> tuple[Path, Path]:
    """A model folder for target_edtalk with an untrained `tiny` generator (its 25-component basis reaches AU12;
    target_wojtek's 8 components cannot raise the corners without the brows), and a 2 s clip of it."""
    from reenact.video_io import VideoReader, VideoWriter

    clip = data / "target_edtalk.mp4"
    folder = tmp_path_factory.mktemp("models")
    model = untrained_model(folder / "edtalk_random", tracked("target_edtalk.mp4"), clip)
    reader = VideoReader(clip)
    short = folder / "edtalk_2s.mp4"
    with VideoWriter(short, reader.fps, reader.width, reader.height) as writer:
        for _, frame in zip(range(50), reader):
            writer.write(frame)
    return model.path, short


@slow
def test_edit_au12_moves_the_lip_corners_in_the_saved_params(capsys, tmp_path, edtalk_model):
    from reenact import api
    from reenact.params import FaceParams
    from reenact.tracking.canonical_face import canonical_face
    from reenact.tracking.face_regions import mouth_corners

    model, clip = edtalk_model
    params_out = tmp_path / "p.npz"
    code, _, err = run_cli(capsys, "edit", "--model", str(model), "--target", str(clip), "-o",
                                str(tmp_path / "smile.mp4"), "--au", "12=1", "--params-out", str(params_out))
    assert code == 0, err
    target = api.Target.load(model)
    edited = FaceParams.load(params_out)
    original = target.clip_track(clip).params
    assert len(edited) == len(original) == 50
    shapes = target.track.model.shapes
    moved = shapes(edited.expression) - shapes(original.expression)
    right, left = mouth_corners()
    corner_moves = moved[:, [right, left]].mean(0)
    brows = np.linalg.norm(moved[:, np.concatenate(canonical_face().brows)], axis=2).mean()
    corners = np.linalg.norm(corner_moves, axis=1).mean()
    print(f"\nedit --au 12=1 on edtalk: right corner {np.round(corner_moves[0], 3)}, left corner "
          f"{np.round(corner_moves[1], 3)} cm; brows {brows:.4f} cm ({brows / corners:.1%} of the corners')")
    assert corner_moves[0, 0] < 0 < corner_moves[1, 0]  # outwards on both sides (+x is the subject's left)
    assert (corner_moves[:, 1] > 0).all()  # up
    assert brows < 0.1 * corners
    np.testing.assert_array_equal(edited.rotation, original.rotation)


@pytest.mark.parametrize(("flag", "value", "expected"), [
    ("--au", "99=1", "unknown action unit '99'"),
    ("--au", "12=abc", "is not a number"),
    ("--au", "12", "expected KEY=VALUE"),
    ("--au", "12=1@3", "give two or three times"),
    ("--au", "12=1@3-2", "timing needs 0 <= start <= end"),
    ("--au", "12=9", "intensity must be within"),
    ("--emotion", "glee=0.5", "unknown emotion 'glee'"),
])
def test_bad_au_values_are_one_line(capsys, tmp_path, data, flag, value, expected):
    code, _, err = run_cli(capsys, "edit", "--model", str(tmp_path / "no_model"), "--target",
                           str(data / "drive_d0.mp4"), "-o", str(tmp_path / "o.mp4"), flag, value)
    assert_one_clear_line(code, err, expected)


def test_au_times_map_onto_the_edit_timing():
    from reenact.cli.common import parse_keyed_value
    from reenact.edits import Timing

    default = Timing(start=5, end=9)
    assert parse_keyed_value("--au", "12=0.8@2.0-3.5", lambda: 25.0, default) == ("12", 0.8, Timing(50, 88))
    assert parse_keyed_value("--au", "L45=1@4.1-4.3-4.3", lambda: 30.0, default) == ("L45", 1.0, Timing(123, 129, 129))
    assert parse_keyed_value("--emotion", "happy=0.6", lambda: 1 / 0, default) == ("happy", 0.6, default)


def test_params_out_round_trips(tmp_path, tracked):
    from reenact.params import FaceParams

    params = tracked("drive_d0.mp4").params
    params.save(tmp_path / "p.npz")
    loaded = FaceParams.load(tmp_path / "p.npz")
    for name in ("rotation", "expression", "openness", "valid"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(params, name))


def test_aus_lists_a_models_reach(capsys, random_model):
    code, stdout, _ = run_cli(capsys, "aus", "--model", str(random_model.path))
    assert code == 0
    lines = stdout.splitlines()
    assert "8-component expression basis" in lines[0]
    assert len(lines) == 1 + len(LABELS)
    assert any(line.split()[0] == "AU12_L" and line.endswith("out of reach") for line in lines)
    code, _, err = run_cli(capsys, "aus")
    assert_one_clear_line(code, err, "give a clip or track")
