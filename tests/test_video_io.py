"""Video files: exact rate and time base kept, audio copied unchanged, atomic and interruptible writes."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import textwrap
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from reenact import video_io
from reenact.errors import InputError
from reenact.video_io import VideoReader, VideoWriter

av = pytest.importorskip("av", reason="writing video needs PyAV")


def audio_packets(path: Path) -> list[tuple[int, bytes]]:
    """(pts, payload) of every audio packet of the file's first audio stream."""
    with av.open(str(path)) as container:
        return [(p.pts, bytes(p)) for p in container.demux(container.streams.audio[0]) if p.size]


def noise(n: int, width: int = 64, height: int = 48) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8) for _ in range(n)]


def test_copies_audio_unchanged_and_keeps_rate_and_time_base(data, tmp_path):
    clip = data / "target_edtalk.mp4"
    reader = VideoReader(clip)
    assert reader.has_audio and reader.rate == 25 and reader.time_base == Fraction(1, 12800)
    out = tmp_path / "out.mp4"
    with VideoWriter(out, reader.rate, reader.width, reader.height, audio_from=clip,
                     time_base=reader.time_base) as writer:
        for frame in itertools.islice(reader, 50):
            writer.write(frame)
    assert writer.has_audio

    copy = VideoReader(out)
    assert copy.n_frames == 50 and len(list(copy)) == 50
    assert copy.rate == 25 and copy.time_base == Fraction(1, 12800) and copy.has_audio
    with av.open(str(out)) as container, av.open(str(clip)) as original:
        ours, theirs = container.streams.audio[0], original.streams.audio[0]
        assert (ours.codec_context.name, ours.sample_rate, ours.channels, ours.time_base) == (
            theirs.codec_context.name, theirs.sample_rate, theirs.channels, theirs.time_base)
    # Exactly the packets that start within the 2 s of video, byte for byte and at the same times.
    covered = [(pts, payload) for pts, payload in audio_packets(clip) if pts < 2 * 48000]
    assert audio_packets(out) == covered


def test_clip_without_audio_adds_no_audio_stream(data, tmp_path):
    clip = data / "target_wojtek.mp4"
    reader = VideoReader(clip)
    assert not reader.has_audio
    out = tmp_path / "out.mp4"
    with VideoWriter(out, reader.rate, reader.width, reader.height, audio_from=clip) as writer:
        for frame in itertools.islice(reader, 5):
            writer.write(frame)
    assert not writer.has_audio
    assert not VideoReader(out).has_audio and len(list(VideoReader(out))) == 5


@pytest.mark.parametrize("fps", [Fraction(30000, 1001), 29.97002997, 25.0])
def test_frame_rate_is_exact(tmp_path, fps):
    out = tmp_path / "out.mp4"
    with VideoWriter(out, fps, 64, 48) as writer:
        for frame in noise(6):
            writer.write(frame)
    reader = VideoReader(out)
    assert reader.rate == (fps if isinstance(fps, Fraction) else Fraction(fps).limit_denominator(1001))
    assert len(list(reader)) == 6


def test_failed_write_leaves_existing_file_untouched(tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"an earlier result")
    with pytest.raises(RuntimeError), VideoWriter(out, 25, 64, 48) as writer:
        for frame in noise(3):
            writer.write(frame)
        raise RuntimeError("the generator failed")
    assert out.read_bytes() == b"an earlier result"
    assert list(tmp_path.iterdir()) == [out]


def test_wrong_frame_size_is_refused(tmp_path):
    with pytest.raises(ValueError, match="48x64x3"), VideoWriter(tmp_path / "out.mp4", 25, 64, 48) as writer:
        writer.write(np.zeros((48, 63, 3), np.uint8))
    assert not list(tmp_path.iterdir())


CTRL_C_SCRIPT = textwrap.dedent("""
    import signal, sys, time
    from reenact.video_io import VideoReader, VideoWriter
    # A suite started in the background (`nohup pytest &`) passes SIGINT down ignored; Ctrl-C's handler is the point.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    clip, out = sys.argv[1:]
    reader = VideoReader(clip)
    with VideoWriter(out, reader.rate, reader.width, reader.height, audio_from=clip, keep_partial=True) as writer:
        try:
            for i, frame in enumerate(reader):
                writer.write(frame)
                if i == 29:
                    print("ready", flush=True)
                if i >= 29:
                    time.sleep(0.02)
        except KeyboardInterrupt:
            print(writer.frames_written, flush=True)
            raise
""")


def test_ctrl_c_leaves_a_playable_file_with_matching_audio(data, tmp_path):
    clip, out = data / "target_edtalk.mp4", tmp_path / "out.mp4"
    process = subprocess.Popen([sys.executable, "-c", CTRL_C_SCRIPT, str(clip), str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode != 0 and "KeyboardInterrupt" in stderr
    written = int(stdout.strip())
    assert 30 <= written < 1499

    frames = list(VideoReader(out))
    assert len(frames) == written
    starts = [pts / 48000 for pts, _ in audio_packets(out)]
    end = written / 25
    assert max(starts) < end and max(starts) >= end - 1024 / 48000  # sound up to the last frame, no further
    assert not (tmp_path / ".out.partial.mp4").exists()


def test_reading_without_pyav_and_writing_needs_it(data, tmp_path, monkeypatch):
    monkeypatch.setattr(video_io, "av", None)
    reader = VideoReader(data / "target_edtalk.mp4")
    assert reader.backend == "cv2" and reader.rate == 25 and reader.time_base is None and not reader.has_audio
    assert next(iter(reader)).shape == (256, 256, 3)
    with pytest.raises(InputError, match="PyAV"):
        VideoWriter(tmp_path / "out.mp4", 25, 64, 48)


def test_frame_seeker_gives_the_frames_the_reader_yields_in_any_order(data):
    from reenact.video_io import FrameSeeker

    frames = [frame for _, frame in zip(range(300), VideoReader(data / "target_wojtek.mp4"))]
    seeker = FrameSeeker(data / "target_wojtek.mp4", cache_bytes=8 * frames[0].nbytes)
    assert len(seeker) == VideoReader(data / "target_wojtek.mp4").n_frames
    for index in (0, 5, 6, 60, 299, 260, 3, 251, 249, 250):  # ahead, far ahead, back, across the keyframe at 250
        assert np.array_equal(seeker[index], frames[index]), f"frame {index}"
    seeker.close()
