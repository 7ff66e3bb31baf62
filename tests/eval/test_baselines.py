"""Nearest-neighbour and warp baselines: exact answers on exact inputs."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.errors import InputError
from reenact.eval.baselines import NearestFrames, crop_points, read_crops, warp_face
from reenact.render.crop import CropConfig, crop_matrix, face_windows
from reenact.tracking.canonical_face import N_VERTICES


@pytest.fixture(scope="module")
def wojtek(tracked):
    pytest.importorskip("mediapipe", reason="tracking a real clip needs MediaPipe")
    return tracked("target_wojtek.mp4")


def _points(track, frames: np.ndarray, size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    matrices = crop_matrix(face_windows(track.params[frames], CropConfig(size=size)), size)
    return crop_points(track.params[frames], track.model, matrices), matrices


def test_crop_points_are_the_posed_vertices_in_the_crop(wojtek) -> None:
    frames = np.arange(5)
    points, matrices = _points(wojtek, frames)
    assert points.shape == (5, N_VERTICES + 2, 3)
    vertices = wojtek.params[frames].vertices(wojtek.model)
    expected = vertices[..., :2] @ np.swapaxes(matrices[:, :, :2], 1, 2) + matrices[:, None, :, 2]
    np.testing.assert_allclose(points[:, :N_VERTICES, :2], expected, atol=1e-3)


def test_nearest_frame_of_a_training_frame_is_itself(wojtek) -> None:
    frames = np.arange(0, 300, 3)
    points, _ = _points(wojtek, frames)
    index = NearestFrames(frames, points)
    wanted = [7, 42, 99]
    found, distance = index.query(points[wanted])
    assert found.tolist() == frames[wanted].tolist()
    np.testing.assert_allclose(distance, 0.0, atol=1e-2)
    # A frame between two training frames finds a neighbour a few frames away, a short distance off.
    between, _ = _points(wojtek, np.array([31]))
    found, distance = index.query(between)
    assert abs(int(found[0]) - 31) <= 3 and 0 < distance[0] < 5


def test_nearest_frames_is_vectorised_over_many_training_frames() -> None:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(5000, 470, 3)).astype(np.float32)
    index = NearestFrames(np.arange(5000) * 2, points)
    found, _ = index.query(points[[4999, 0, 1234]] + 0.01)
    assert found.tolist() == [9998, 0, 2468]


def _texture(size: int = 128) -> np.ndarray:
    """A smooth texture: bilinear sampling of it is nearly exact."""
    y, x = np.mgrid[0:size, 0:size] / size
    channels = [np.sin(6 * x + 2 * y), np.cos(5 * y - 3 * x), np.sin(4 * (x + y))]
    return ((np.stack(channels, -1) + 1) * 127.5).round().astype(np.uint8)


def test_warp_onto_its_own_points_is_the_image(wojtek) -> None:
    points, _ = _points(wojtek, np.array([10]))
    image = _texture()
    np.testing.assert_array_equal(warp_face(image, points[0], points[0]), image)


def test_warp_moves_the_face_by_the_points_shift(wojtek) -> None:
    points, _ = _points(wojtek, np.array([10]))
    image = np.random.default_rng(1).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    shifted = points[0].copy()
    shifted[:, 0] += 3  # the face 3 px to the right
    out = warp_face(image, points[0], shifted)
    xs, ys = shifted[:N_VERTICES, 0], shifted[:N_VERTICES, 1]
    inside = (slice(int(ys.min()) + 20, int(ys.max()) - 20), slice(int(xs.min()) + 20, int(xs.max()) - 20))
    np.testing.assert_array_equal(out[inside], np.roll(image, 3, axis=1)[inside])
    # Outside the face mesh the image is kept.
    np.testing.assert_array_equal(out[:3, :3], image[:3, :3])


def test_read_crops_refuses_frames_past_the_end(data) -> None:
    matrix = crop_matrix(np.array([256.0, 256.0, 300.0]), 32)
    crops = read_crops(data / "drive_d0.mp4", {0: matrix, 5: matrix}, 32)
    assert sorted(crops) == [0, 5] and crops[5].shape == (32, 32, 3)
    with pytest.raises(InputError, match="ended before frame 10000"):
        read_crops(data / "drive_d0.mp4", {10000: matrix}, 32)
