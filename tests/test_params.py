"""FaceParams / Track: the pose convention and the versioned .npz format."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.errors import FormatError, InputError
from reenact.geometry import euler_degrees, rotation_from_euler
from reenact.params import FORMAT_VERSION, FaceModel, FaceParams, Track, place, unplace
from reenact.tracking.canonical_face import canonical_face


def make_track(n: int = 5, k: int = 3) -> Track:
    rng = np.random.default_rng(1)
    basis = np.linalg.qr(rng.normal(size=(468 * 3, k)))[0].T.reshape(k, 468, 3).astype(np.float32)
    model = FaceModel(canonical_face().vertices.copy(), basis, np.tile([-1.0, 1.0], (k, 1)).astype(np.float32))
    params = FaceParams(
        rotation=rotation_from_euler(rng.uniform(-20, 20, size=(n, 3))),
        translation=rng.uniform(100, 200, size=(n, 2)).astype(np.float32),
        scale=rng.uniform(5, 10, size=n).astype(np.float32),
        expression=rng.normal(size=(n, k)).astype(np.float32),
        gaze=rng.normal(size=(n, 2, 2)).astype(np.float32),
        openness=rng.uniform(0, 0.4, size=(n, 2)).astype(np.float32),
        valid=np.array([True, True, False, True, True][:n]),
    )
    return Track(params, model, rng.normal(size=(n, 478, 3)).astype(np.float32), rng.uniform(size=n).astype(np.float32),
                 np.array([3], dtype=np.int32), fps=25.0, width=320, height=240, source="synthetic",
                 meta={"note": "test"})


def test_track_round_trip(tmp_path):
    track = make_track()
    track.save(tmp_path / "t.npz")
    back = Track.load(tmp_path / "t.npz")
    for name in ("rotation", "translation", "scale", "expression", "gaze", "openness", "valid"):
        np.testing.assert_array_equal(getattr(back.params, name), getattr(track.params, name))
    np.testing.assert_array_equal(back.model.basis, track.model.basis)
    np.testing.assert_array_equal(back.landmarks, track.landmarks)
    np.testing.assert_array_equal(back.cuts, [3])
    assert (back.fps, back.width, back.height, back.source, back.meta) == (25.0, 320, 240, "synthetic", {"note": "test"})
    assert not list(tmp_path.glob(".*tmp*")), "temporary file left behind"


def test_other_version_is_refused(tmp_path):
    path = tmp_path / "t.npz"
    make_track().save(path)
    with np.load(path) as d:
        data = dict(d)
    data["format_version"] = np.array(FORMAT_VERSION + 1)
    np.savez(path, **data)
    with pytest.raises(FormatError, match="version"):
        Track.load(path)


def test_corrupt_and_missing_files(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip at all")
    with pytest.raises(FormatError):
        Track.load(bad)
    with pytest.raises(InputError):
        Track.load(tmp_path / "absent.npz")


def test_place_unplace_round_trip_and_pose_convention():
    track = make_track()
    shapes = track.model.shapes(track.params.expression)
    p = track.params
    pts = place(shapes, p.rotation, p.translation, p.scale)
    np.testing.assert_allclose(unplace(pts, p.rotation, p.translation, p.scale), shapes, atol=1e-4)
    # Frontal face: canonical +y (forehead) is up in the image (smaller y), nose tip nearer (smaller z).
    frontal = place(canonical_face().vertices[None], np.eye(3, dtype=np.float32)[None],
                    np.zeros((1, 2), np.float32), np.ones(1, np.float32))[0]
    forehead, chin, nose = 10, 152, 4
    assert frontal[forehead, 1] < frontal[chin, 1]
    assert frontal[nose, 2] < frontal[forehead, 2]


def test_euler_round_trip():
    ypr = np.array([[10.0, -5.0, 30.0], [-40.0, 20.0, -10.0]])
    np.testing.assert_allclose(euler_degrees(rotation_from_euler(ypr)), ypr, atol=1e-4)


def test_one_frame_shapes_equal_the_batched_product():
    """One frame takes einsum, many take BLAS's matrix product: the two paths give the same shapes."""
    track = make_track(5)
    together = track.model.shapes(track.params.expression)
    one_by_one = np.concatenate([track.model.shapes(track.params.expression[t : t + 1]) for t in range(5)])
    assert one_by_one.dtype == together.dtype == np.float32
    np.testing.assert_allclose(one_by_one, together, atol=1e-5)
