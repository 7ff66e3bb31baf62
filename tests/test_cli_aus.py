"""`reenact aus`, and the action-unit options of the editing commands, from the command line."""

from __future__ import annotations

import numpy as np

from reenact.facs.units import LABELS
from tests.test_cli_track import assert_one_clear_line, run_cli


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
