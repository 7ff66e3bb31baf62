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
