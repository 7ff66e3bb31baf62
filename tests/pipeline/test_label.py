"""Synthetic-video labels: metadata that survives a real MP4, and a small visible mark."""

from __future__ import annotations

import json

import numpy as np
import pytest

from reenact import __version__
from reenact.errors import InputError
from reenact.pipeline.label import METADATA_KEY, read_metadata, synthetic_metadata, watermark

pytest.importorskip("av", reason="writing video needs PyAV")


def test_metadata_round_trips_through_an_mp4(tmp_path):
    from reenact.video_io import VideoWriter

    metadata = synthetic_metadata("ab12" * 16, "edtalk_cpu", {"source": tmp_path / "d3.mp4", "mode": "full"})
    path = tmp_path / "out.mp4"
    with VideoWriter(path, 25, 64, 48, metadata=metadata) as writer:
        for _ in range(3):
            writer.write(np.zeros((48, 64, 3), np.uint8))

    found = read_metadata(path)
    assert {key: found[key] for key in metadata} == metadata
    assert "synthetic" in found["comment"].lower() and "edtalk_cpu" in found["comment"]
    record = json.loads(found[METADATA_KEY])
    assert record["synthetic"] is True and record["version"] == __version__
    assert record["model_hash"] == "ab12" * 16 and record["mode"] == "full" and record["source"].endswith("d3.mp4")


def test_extra_cannot_hide_the_label():
    record = json.loads(synthetic_metadata("0" * 64, "m", {"synthetic": False})[METADATA_KEY])
    assert record["synthetic"] is True


def test_read_metadata_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_metadata(tmp_path / "missing.mp4")
    (tmp_path / "text.mp4").write_text("not a video")
    with pytest.raises(InputError, match="not a readable video"):
        read_metadata(tmp_path / "text.mp4")


@pytest.mark.parametrize("size", [(128, 128), (480, 640), (1080, 1920)])
def test_watermark_marks_only_a_small_corner(size):
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, size=(*size, 3), dtype=np.uint8)
    before = frame.copy()
    marked = watermark(frame)
    assert np.array_equal(frame, before)  # the input is left alone
    assert marked.shape == frame.shape and marked.dtype == np.uint8

    rows, cols = np.nonzero((marked != frame).any(axis=2))
    height, width = size
    assert rows.min() > height * 0.85 and rows.max() == height - 1 and cols.max() == width - 1  # bottom right
    assert len(rows) < (0.1 if height < 256 else 0.02) * height * width
    # Semi-transparent: the marked corner still shows the picture underneath.
    corner = (slice(rows.min(), None), slice(cols.min(), None))
    correlation = np.corrcoef(marked[corner].ravel().astype(float), frame[corner].ravel().astype(float))[0, 1]
    assert correlation > 0.2


def test_watermark_text_is_legible():
    frame = np.full((480, 640, 3), 128, np.uint8)
    marked = watermark(frame)
    corner = marked[440:, 400:].astype(int)
    assert corner.max() - corner.min() > 80  # bright letters on a dark box (its cost: tools/bench.py --only pipeline)


def test_watermark_rejects_bad_frames():
    with pytest.raises(ValueError, match="uint8"):
        watermark(np.zeros((48, 64, 3), np.float32))
