"""The training log: a resumed run's rows stay under their own headings."""

from __future__ import annotations

import csv

from reenact.train.monitor import TrainingLog


def test_a_log_with_other_columns_is_rewritten_before_a_resumed_run_appends(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("step,seconds,l1,g_adv,psnr\n250,100.5,0.04,0.45,31.2\n")  # an older version's columns
    log = TrainingLog(path)
    log.write(260, {"seconds": 104.0, "l1": 0.039, "detail_l1": 0.011})
    log.close()
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == TrainingLog.COLUMNS
    assert (rows[0]["step"], rows[0]["l1"], rows[0]["g_adv"], rows[0]["psnr"], rows[0]["detail_l1"]) == (
        "250", "0.04", "0.45", "31.2", "")
    assert (rows[1]["step"], rows[1]["l1"], rows[1]["detail_l1"], rows[1]["g_adv"]) == ("260", "0.039", "0.011", "")


def test_a_log_with_todays_columns_is_appended_to_as_it_is(tmp_path):
    path = tmp_path / "log.csv"
    TrainingLog(path).write(10, {"l1": 0.5})
    before = path.read_text()
    TrainingLog(path).write(20, {"l1": 0.4})
    assert path.read_text().startswith(before) and path.read_text().count("\n") == 3
