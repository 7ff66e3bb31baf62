"""`reenact condition`: the side-by-side review video, and clear errors."""

from __future__ import annotations

from reenact.video_io import VideoReader
from tests.test_cli_track import assert_one_clear_line, run_cli


def test_condition_writes_side_by_side_review(capsys, tmp_path, data, tracked):
    target, source = tmp_path / "target.npz", tmp_path / "source.npz"
    tracked("target_wojtek.mp4").save(target)
    tracked("drive_d0.mp4").save(source)
    out = tmp_path / "review.mp4"
    code, stdout, _ = run_cli(
        capsys, "condition", "--target", str(target), "--source", str(source), "-o", str(out),
        "--target-video", str(data / "target_wojtek.mp4"), "--source-video", str(data / "drive_d0.mp4"),
        "--mouth", "0.5", "--frames", "20", "--size", "128",
    )
    assert code == 0, stdout
    reader = VideoReader(out)
    assert (reader.width, reader.height) == (5 * 128, 128)  # source, target, three conditioning panels
    assert len(list(reader)) == 20


def test_condition_edits_without_source(capsys, tmp_path, data, tracked):
    target = tmp_path / "target.npz"
    tracked("target_wojtek.mp4").save(target)
    out = tmp_path / "edit.mp4"
    code, _, _ = run_cli(capsys, "condition", "--target", str(target), "-o", str(out), "--frames", "10",
                         "--target-video", str(data / "target_wojtek.mp4"), "--turn-head", "20", "--edit-end", "5")
    assert code == 0
    assert VideoReader(out).width == 4 * 256


def test_condition_bad_inputs(capsys, tmp_path):
    code, _, err = run_cli(capsys, "condition", "--target", str(tmp_path / "absent.npz"), "-o", str(tmp_path / "o.mp4"))
    assert_one_clear_line(code, err, "not found")
    bad = tmp_path / "bad.npz"
    bad.write_text("garbage")
    code, _, err = run_cli(capsys, "condition", "--target", str(bad), "-o", str(tmp_path / "o.mp4"))
    assert_one_clear_line(code, err, "not a readable reenact track")
