"""`reenact track` from the command line: outputs, and one clear line for each kind of bad input."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.cli import EXIT_USER_ERROR, main
from reenact.params import Track
from reenact.video_io import VideoReader, VideoWriter


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_clear_line(code: int, err: str, expected: str) -> None:
    """Exit status 2 and exactly one error line on stderr (besides progress-bar redraws), no traceback."""
    lines = [line for line in err.replace("\r", "\n").splitlines() if line.strip() and "%|" not in line]
    assert code == EXIT_USER_ERROR
    assert len(lines) == 1 and "Traceback" not in err, err
    assert expected in lines[0], lines[0]


def test_track_writes_track_and_preview(capsys, tmp_path, data):
    out, preview = tmp_path / "d0.npz", tmp_path / "d0_overlay.mp4"
    code, stdout, _ = run_cli(capsys, "track", str(data / "drive_d0.mp4"), "-o", str(out), "--preview", str(preview))
    assert code == 0
    track = Track.load(out)
    assert track.n_frames == 78 and track.params.valid.all()
    reader = VideoReader(preview)
    assert (reader.width, reader.height) == (512, 512)
    frames = list(reader)
    assert len(frames) == 78
    # The overlay really draws: preview frames differ from the source frames where the face is.
    original = next(iter(VideoReader(data / "drive_d0.mp4")))
    assert np.abs(frames[0].astype(int) - original.astype(int)).mean() > 2
    assert "78 frames" in stdout


def test_missing_file(capsys, tmp_path):
    code, _, err = run_cli(capsys, "track", str(tmp_path / "absent.mp4"), "-o", str(tmp_path / "t.npz"))
    assert_one_clear_line(code, err, "not found")


def test_not_a_video(capsys, tmp_path):
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("this is not a video\n")
    code, _, err = run_cli(capsys, "track", str(bogus), "-o", str(tmp_path / "t.npz"))
    assert_one_clear_line(code, err, "not a readable video")


def test_empty_file(capsys, tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.touch()
    code, _, err = run_cli(capsys, "track", str(empty), "-o", str(tmp_path / "t.npz"))
    assert_one_clear_line(code, err, "empty")


def test_media_file_without_video(capsys, tmp_path):
    import av

    path = tmp_path / "sound_only.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        for i in range(5):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    code, _, err = run_cli(capsys, "track", str(path), "-o", str(tmp_path / "t.npz"))
    assert_one_clear_line(code, err, "no video stream")


def test_video_with_no_face_keeps_existing_output(capsys, tmp_path):
    path = tmp_path / "noise.mp4"
    rng = np.random.default_rng(0)
    with VideoWriter(path, 25, 128, 96) as writer:
        for _ in range(10):
            writer.write(rng.integers(0, 255, size=(96, 128, 3), dtype=np.uint8))
    existing = tmp_path / "t.npz"
    existing.write_bytes(b"an earlier result")
    code, _, err = run_cli(capsys, "track", str(path), "-o", str(existing))
    assert_one_clear_line(code, err, "no face")
    assert existing.read_bytes() == b"an earlier result"


@pytest.mark.parametrize("argv", [["--help"], ["track", "--help"]])
def test_help_explains(capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert "track" in capsys.readouterr().out
