"""`reenact run` / `reenact edit`: every frame kept at the clip's rate with its audio, faceless frames passed
through, the synthetic label, Ctrl-C leaving a playable file, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from reenact.eval.metrics import psnr
from reenact.model_folder import open_model
from reenact.pipeline.label import read_metadata
from reenact.pipeline.offline import OfflineConfig, rerender_clip
from reenact.pipeline.stages import Composite, Conditioner, FrameStages, Generate
from reenact.runtime.selection import open_backend
from reenact.tracking.tracker import track_video
from reenact.video_io import VideoReader, VideoWriter
from tests.test_cli_track import assert_one_clear_line, run_cli

NOISE_FRAMES = 4


@pytest.fixture(scope="module")
def clip_with_gap(tmp_path_factory, data) -> Path:
    """drive_d19 (30 fps, with audio): 4 frames of smooth noise (no face), then 26 of the clip; its audio copied."""
    path = tmp_path_factory.mktemp("clips") / "gap.mp4"
    reader = VideoReader(data / "drive_d19.mp4")
    rng = np.random.default_rng(0)
    with VideoWriter(path, reader.rate, reader.width, reader.height, audio_from=data / "drive_d19.mp4",
                     time_base=reader.time_base) as writer:
        for index, frame in zip(range(NOISE_FRAMES + 26), reader):
            noise = cv2.GaussianBlur(rng.integers(0, 256, frame.shape, dtype=np.uint8), (0, 0), 8)
            writer.write(noise if index < NOISE_FRAMES else frame)
    return path


def test_edit_keeps_frames_rate_audio_and_passes_faceless_frames_through(capsys, tmp_path, random_model, clip_with_gap):
    out, review = tmp_path / "edit.mp4", tmp_path / "review.mp4"
    code, stdout, _ = run_cli(capsys, "edit", "--model", str(random_model.path), "--target", str(clip_with_gap),
                              "--smile", "1", "-o", str(out), "--review", str(review), "--batch", "4")
    assert code == 0, stdout
    assert f"{NOISE_FRAMES} passed through" in stdout
    original, result = VideoReader(clip_with_gap), VideoReader(out)
    assert result.rate == original.rate and result.has_audio and (result.width, result.height) == (480, 480)
    before, after = list(original), list(result)
    assert len(after) == len(before) == NOISE_FRAMES + 26
    for index, (a, b) in enumerate(zip(before, after)):
        if index < NOISE_FRAMES:
            assert psnr(b, a) > 30  # untouched: only the encoder's loss
        else:
            assert psnr(b, a) < 30  # the (untrained) generator's face was pasted in
    assert len(list(VideoReader(review))) == len(before)
    label = json.loads(read_metadata(out)["reenact"])
    assert label["synthetic"] is True and label["model_hash"] == random_model.model_hash()


def test_run_stops_at_the_shorter_clip_or_loops_the_source(capsys, tmp_path, random_model, clip_with_gap, data):
    source = data / "drive_d0.mp4"  # 78 frames: longer than the 30-frame target
    out = tmp_path / "run.mp4"
    code, stdout, _ = run_cli(capsys, "run", "--model", str(random_model.path), "--target", str(clip_with_gap),
                              "--source", str(source), "--mode", "expression", "-o", str(out), "--watermark")
    assert code == 0, stdout
    assert len(list(VideoReader(out))) == NOISE_FRAMES + 26


def test_interrupted_render_leaves_a_playable_file(tmp_path, random_model, clip_with_gap):
    folder = open_model(random_model.path)
    track = track_video(clip_with_gap, model=folder.load_track().model)
    reader = VideoReader(clip_with_gap)
    backend = open_backend(folder).backend

    class InterruptedGenerate(Generate):
        calls = 0

        def __call__(self, frames, targets=None):
            InterruptedGenerate.calls += 1
            if InterruptedGenerate.calls == 3:
                raise KeyboardInterrupt
            return super().__call__(frames, targets)

    out = tmp_path / "partial.mp4"
    stages = FrameStages.for_model(folder, backend, track.model, reader.fps, (reader.width, reader.height))
    stages.generate = InterruptedGenerate(backend, stages.generate.context)
    with pytest.raises(KeyboardInterrupt):
        rerender_clip(clip_with_gap, track.params, track.cuts, out, stages, OfflineConfig(batch=4))
    frames = list(VideoReader(out))
    assert len(frames) == 8 and frames[0].shape == (480, 480, 3)  # two batches were written before the stop


def test_composite_leaves_pixels_outside_the_crop_bit_identical(random_model, data):
    folder = open_model(random_model.path)
    track = folder.load_track()
    frame = next(iter(VideoReader(data / "target_wojtek.mp4")))
    conditioned = Conditioner.for_model(folder, track.model, track.fps, (track.width, track.height))(track.params[0])
    crop = np.full((64, 64, 3), 200, np.uint8)
    out = Composite()(frame, conditioned, crop)
    x, y, side = conditioned.window
    outside = np.ones(frame.shape[:2], bool)
    outside[max(0, int(y - side / 2) - 2): int(y + side / 2) + 3, max(0, int(x - side / 2) - 2): int(x + side / 2) + 3] = False
    assert np.array_equal(out[outside], frame[outside]) and not np.array_equal(out, frame)
    assert Composite()(frame, conditioned, None) is frame


def test_run_bad_inputs(capsys, tmp_path, random_model, data):
    code, _, err = run_cli(capsys, "edit", "--model", str(tmp_path / "nope"), "--target", str(data / "drive_d0.mp4"),
                           "-o", str(tmp_path / "o.mp4"))
    assert_one_clear_line(code, err, "model folder not found")
    noise = tmp_path / "noise.mp4"
    with VideoWriter(noise, 25, 128, 128) as writer:
        for _ in range(10):
            writer.write(np.random.default_rng(1).integers(0, 256, (128, 128, 3), dtype=np.uint8))
    code, _, err = run_cli(capsys, "edit", "--model", str(random_model.path), "--target", str(noise),
                           "-o", str(tmp_path / "o.mp4"))
    assert_one_clear_line(code, err, "face")
    code, _, err = run_cli(capsys, "run", "--model", str(random_model.path), "--target", str(noise),
                           "--source", str(tmp_path / "absent.mp4"), "-o", str(tmp_path / "o.mp4"))
    assert_one_clear_line(code, err, "not found")
    assert not (tmp_path / "o.mp4").exists()
