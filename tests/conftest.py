"""Shared fixtures: where the real face clips are, and clips tracked once per test session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reenact.sample_data import data_dir


@pytest.fixture(scope="session")
def data() -> Path:
    path = data_dir()
    if not (path / "target_wojtek.mp4").is_file():
        pytest.skip(f"real face clips not found in {path} (set REENACT_DATA)")
    return path


@pytest.fixture(scope="session")
def detected(data: Path):
    """Raw detections (`ClipLandmarks`) of a clip by name, computed once per session."""
    from reenact.tracking.tracker import detect_clip

    cache: dict[str, object] = {}

    def get(name: str):
        if name not in cache:
            cache[name] = detect_clip(data / name)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def tracked(detected):
    """`Track` of a clip by name (default tracker settings), computed once per session."""
    from reenact.tracking.tracker import fit_track

    cache: dict[str, object] = {}

    def get(name: str):
        if name not in cache:
            cache[name] = fit_track(detected(name), source=name)
        return cache[name]

    return get


@pytest.fixture(autouse=True)
def _seed() -> None:
    np.random.seed(0)


def untrained_model(folder: Path, track, clip: Path):
    """A renderable model folder for the target of `track` (of `clip`) with an untrained `tiny` generator
    (64 px): for tests of the plumbing (backends, pipeline, eval outputs) that do not judge image quality."""
    from reenact.model_folder import save_untrained_model

    return save_untrained_model(folder, track, clip)


@pytest.fixture(scope="session")
def random_model(tmp_path_factory, tracked, data: Path):
    """`untrained_model` of target_wojtek."""
    return untrained_model(tmp_path_factory.mktemp("models") / "wojtek_random", tracked("target_wojtek.mp4"),
                           data / "target_wojtek.mp4")


@pytest.fixture(scope="session")
def short_clip(tmp_path_factory, data: Path) -> Path:
    """The first 40 frames (1.6 s) of target_wojtek with target_edtalk's sound: a short clip of the
    `random_model` person that has audio."""
    from reenact.video_io import VideoReader, VideoWriter

    path = tmp_path_factory.mktemp("clips") / "wojtek_short.mp4"
    reader = VideoReader(data / "target_wojtek.mp4")
    with VideoWriter(path, reader.rate, reader.width, reader.height, audio_from=data / "target_edtalk.mp4") as writer:
        for _, frame in zip(range(40), reader):
            writer.write(frame)
    return path
