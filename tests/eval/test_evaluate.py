"""End to end: a model and its baselines evaluated on a short real clip, and every report file written."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from reenact.errors import SettingError
from reenact.eval.evaluate import (
    EvalConfig,
    EvalSequence,
    conditioned_span,
    evaluate,
    evaluate_cross,
    evaluate_self,
    training_frames,
)
from reenact.eval.report import METRICS_JSON, METRICS_PNG, REPORT_MD, VIDEO, write_report
from reenact.pipeline.stages import Generate
from reenact.render.conditioning import ConditioningConfig, condition_clip
from reenact.render.crop import CropConfig
from reenact.runtime.config import BackendConfig
from reenact.runtime.torch_backend import TorchBackend
from reenact.video_io import VideoReader


@pytest.fixture(scope="module")
def model(random_model):
    pytest.importorskip("mediapipe", reason="re-tracking needs MediaPipe")
    return random_model


def test_conditioned_span_is_the_clip_conditioning_of_those_frames(tracked) -> None:
    track = tracked("drive_d0.mp4")
    config = ConditioningConfig(crop=CropConfig(size=32), window=3)
    args = (track.params[:20], track.model, track.fps, (track.width, track.height), np.array([12]), config)
    whole = list(condition_clip(*args))
    span = list(conditioned_span(*args, (9, 16)))
    assert len(span) == 7
    for expected, got in zip(whole[9:16], span):
        np.testing.assert_array_equal(got.matrix, expected.matrix)
        assert torch.equal(got.stack, expected.stack)


def test_self_reenactment_writes_every_output(model, tmp_path) -> None:
    info = model.info()
    out = tmp_path / "report"
    result = evaluate_self(model, torch_stage(model), video=out / VIDEO)
    paths = write_report(result, out)
    for name in (METRICS_JSON, REPORT_MD, METRICS_PNG, VIDEO):
        assert (out / name).stat().st_size > 0, name
    assert sorted(paths) == sorted([METRICS_JSON, REPORT_MD, METRICS_PNG])

    start, end = info.validation
    assert result.frames.tolist() == list(range(start, end))
    assert list(result.methods) == ["model", "nearest", "warp", "real"]
    # The baselines take training frames only.
    assert (result.nearest >= 0).all() and (result.nearest < start).all()
    summary = result.summary()
    # The real frames are the floor: they re-track, and do not flicker against themselves.
    assert summary["real"]["face_found"] == 1.0 and summary["real"]["landmark_error"] < 6.0  # 64 px crops
    assert summary["real"]["flicker"] == 0.0
    assert summary["warp"]["face_found"] > 0.9 and summary["warp"]["psnr"] > 15
    assert summary["model"]["psnr"] < summary["warp"]["psnr"]  # an untrained generator loses

    metrics = json.loads((out / METRICS_JSON).read_text())
    assert metrics["mode"] == "self" and set(metrics["summary"]) == set(result.methods)
    assert len(metrics["per_frame"]["model"]["psnr"]) == end - start
    table = (out / REPORT_MD).read_text()
    for row in ("| model |", "| nearest neighbour |", "| warp |", "| real frames (floor) |"):
        assert row in table
    video = VideoReader(out / VIDEO)
    assert video.n_frames == end - start and video.width == 4 * 256  # real | model | nearest | warp


def test_cross_reenactment_scores_fidelity_and_flicker(model, tracked, data, tmp_path) -> None:
    whole = tracked("drive_d0.mp4")
    n = 24  # the driver's first second: enough to score, quick to re-track
    source = dataclasses.replace(whole, params=whole.params[:n], landmarks=whole.landmarks[:n],
                                 fit_error=whole.fit_error[:n], cuts=whole.cuts[whole.cuts < n])
    result = evaluate_cross(model, torch_stage(model), data / "drive_d0.mp4", source)
    assert result.mode == "cross" and list(result.methods) == ["model", "nearest", "warp"]
    assert len(result.frames) == source.n_frames
    assert all(not scores.images for scores in result.methods.values())
    summary = result.summary()
    assert summary["warp"]["face_found"] > 0.9 and np.isfinite(summary["warp"]["flicker"])
    write_report(result, tmp_path)
    assert "PSNR" not in (tmp_path / REPORT_MD).read_text()


def test_scored_at_another_size_the_crops_are_those_of_that_size(model) -> None:
    """--score-size: the references, masks and baselines are what an eval in crops of that size makes; the
    model still generates at its own size, its output resized."""
    info = model.info()
    training = training_frames(model)
    track = training.track
    start = info.validation[0]
    sequence = EvalSequence(track.params, track.cuts, track.fps, (track.width, track.height),
                            (start, start + 12), training.clip)
    own = info.conditioning()
    at_96 = dataclasses.replace(own, crop=dataclasses.replace(own.crop, size=96))
    quiet = EvalConfig(progress=False)
    direct = evaluate(sequence, training, at_96, None, quiet).summary()
    scaled = evaluate(sequence, training, own, None, EvalConfig(progress=False, score_size=96)).summary()
    assert direct["warp"] == scaled["warp"] and direct["nearest"] == scaled["nearest"]
    assert direct["warp"]["psnr"] != evaluate(sequence, training, own, None, quiet).summary()["warp"]["psnr"]

    result = evaluate(sequence, training, own, torch_stage(model), EvalConfig(progress=False, score_size=96))
    assert result.description["crop_size"] == 64 and result.description["score_size"] == 96
    assert 5 < result.summary()["model"]["psnr"] < result.summary()["warp"]["psnr"]  # untrained, but scored
    with pytest.raises(SettingError, match="--score-size 16"):
        evaluate(sequence, training, own, None, EvalConfig(progress=False, score_size=16))


def torch_stage(folder) -> Generate:
    """The pipeline's generate stage on the torch reference backend (what the other backends are checked against)."""
    return Generate(TorchBackend(folder, "cpu", BackendConfig()), folder.info().generator.context)
