"""Fixtures of the render tests: a short real clip's track (drive_d0.mp4, 78 frames)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def d0_track(tracked):
    """`Track` of drive_d0.mp4, tracked once per session (needs MediaPipe and the real clips)."""
    pytest.importorskip("mediapipe", reason="tracking a real clip needs MediaPipe")
    return tracked("drive_d0.mp4")
