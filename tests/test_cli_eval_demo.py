"""`reenact eval` and `reenact demo` from the command line: every output file, and clear errors."""

from __future__ import annotations

import json

from tests.test_cli_track import assert_one_clear_line, run_cli


def test_eval_writes_every_report_file(capsys, tmp_path, random_model):
    out = tmp_path / "report"
    code, stdout, _ = run_cli(capsys, "eval", "--model", str(random_model.path), "-o", str(out))
    assert code == 0, stdout
    for name in ("metrics.json", "report.md", "metrics.png", "comparison.mp4"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"model", "nearest", "warp"} <= set(metrics["summary"])
    assert "| model |" in (out / "report.md").read_text()


def test_eval_errors(capsys, tmp_path, random_model, data):
    code, _, err = run_cli(capsys, "eval", "--model", str(tmp_path / "absent"), "-o", str(tmp_path / "r"))
    assert_one_clear_line(code, err, "not found")
    code, _, err = run_cli(capsys, "eval", "--model", str(random_model.path), "-o", str(tmp_path / "r"),
                           "--target", str(data / "drive_d0.mp4"), "--source", str(data / "drive_d0.mp4"))
    assert_one_clear_line(code, err, "not both")


def test_eval_edits_renders_retracks_and_reports(capsys, tmp_path, random_model, data):
    """The plumbing of `eval` with edits: both renders, their re-tracking and the table (an untrained model
    shows no edit, so the numbers are not judged here: tests/eval/test_edit_fidelity.py checks them)."""
    out = tmp_path / "edits"
    code, stdout, _ = run_cli(capsys, "eval", "--model", str(random_model.path), "-o", str(out), "--smile", "1",
                              "--turn-head", "8", "--edit-start", "10", "--max-frames", "24")
    assert code == 0, stdout
    assert "| smile 1 | lip corner height (mm) |" in stdout and "| turn head 8 0 0 deg | yaw (deg) |" in stdout
    assert "measures within the target's reach" in stdout
    for name in ("edits.md", "edits.json", "plain.mp4", "edited.mp4", "edited_review.mp4"):
        assert (out / name).stat().st_size > 0, name
    record = json.loads((out / "edits.json").read_text())
    assert [r["measure"] for r in record] == ["yaw (deg)", "lip corner height (mm)"]  # in the order of the options
    assert all(r["frames"] <= 24 for r in record)
    code, _, err = run_cli(capsys, "eval", "--model", str(random_model.path), "-o", str(tmp_path / "x"),
                           "--smile", "1", "--source", str(data / "drive_d0.mp4"))
    assert_one_clear_line(code, err, "not --source")


def test_demo_runs_the_whole_job(capsys, tmp_path, data):
    out = tmp_path / "demo"
    argv = ["demo", "--target", str(data / "target_wojtek.mp4"), "--source", str(data / "drive_d0.mp4"),
            "-o", str(out), "--steps", "3"]
    code, stdout, _ = run_cli(capsys, *argv)
    assert code == 0, stdout
    for name in ("result.mp4", "side_by_side.mp4", "eval/report.md", "eval/metrics.json", "model/model.json"):
        assert (out / name).is_file(), name
    code, stdout, _ = run_cli(capsys, *argv)  # a rerun reuses the model
    assert code == 0 and "reusing the model" in stdout
