"""`reenact live` from the command line: a file camera into a file sink, and clear errors."""

from __future__ import annotations

import json

from reenact.pipeline.label import read_metadata
from reenact.video_io import VideoReader
from tests.test_cli_track import assert_one_clear_line, run_cli


def test_live_file_camera_to_file(capsys, tmp_path, random_model, data):
    out = tmp_path / "live.mp4"
    code, stdout, err = run_cli(capsys, "live", "--model", str(random_model.path), "--camera",
                                str(data / "drive_d0.mp4"), "--sink", str(out), "--seconds", "2", "--watermark")
    assert code == 0, err
    assert "fps" in stdout and "latency p50" in stdout
    assert len(list(VideoReader(out))) > 10
    assert json.loads(read_metadata(out)["reenact"])["synthetic"] is True


def test_live_errors(capsys, tmp_path, random_model, data):
    code, _, err = run_cli(capsys, "live", "--model", str(random_model.path), "--camera", str(tmp_path / "absent.mp4"),
                           "--sink", str(tmp_path / "o.mp4"))
    assert_one_clear_line(code, err, "not found")
    code, _, err = run_cli(capsys, "live", "--model", str(random_model.path), "--camera", str(data / "drive_d0.mp4"),
                           "--sink", str(tmp_path / "o.mp4"), "--seconds", "-1")
    assert_one_clear_line(code, err, "max_seconds must be positive")
    for flag, value, message in (("--generate-depth", "0", "generate_depth must be >= 1"),
                                 ("--detect-width", "10", "detect_width must be >= 64")):
        code, _, err = run_cli(capsys, "live", "--model", str(random_model.path), "--camera",
                               str(data / "drive_d0.mp4"), "--sink", str(tmp_path / "o.mp4"), flag, value)
        assert_one_clear_line(code, err, message)


def test_live_with_two_generator_calls_and_a_smaller_tracking_frame(capsys, tmp_path, random_model, data):
    out = tmp_path / "live.mp4"
    code, stdout, err = run_cli(capsys, "live", "--model", str(random_model.path), "--camera",
                                str(data / "drive_d0.mp4"), "--sink", str(out), "--seconds", "2",
                                "--generate-depth", "2", "--detect-width", "256")
    assert code == 0, err
    assert "generated" in stdout and len(list(VideoReader(out))) > 10
