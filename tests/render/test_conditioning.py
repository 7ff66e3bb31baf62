"""Conditioning images of a real clip: coverage, value ranges, the eye map, and the causal stack."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from reenact.geometry import rotation_from_euler
from reenact.params import FaceModel, FaceParams, unplace
from reenact.render.conditioning import (
    BACKGROUND,
    CHANNELS,
    N_CHANNELS,
    ConditioningConfig,
    ConditioningRenderer,
    ConditioningStream,
    condition_clip,
    iris_centres,
    stack_indices,
)
from reenact.render.crop import CropConfig, apply_affine, crop_matrix, face_windows
from reenact.render.edit_mask import EditMaskConfig
from reenact.tracking.canonical_face import canonical_face
from reenact.tracking.fitting import eye_state

SIZE = 128


def concatenate(*parts: FaceParams) -> FaceParams:
    return FaceParams(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in vars(parts[0])})


def config(window: int = 3) -> ConditioningConfig:
    return ConditioningConfig(crop=CropConfig(size=SIZE), window=window)


def test_correspondence_covers_the_tracked_face(d0_track):
    track = d0_track
    size = (track.width, track.height)
    frames = list(condition_clip(track.params, track.model, track.fps, size, track.cuts, config()))
    for t in (0, 25, 50, 77):
        frame = frames[t]
        assert frame.valid
        assert frame.stack.dtype == torch.float32 and frame.stack.shape == (3 * N_CHANNELS, SIZE, SIZE)
        assert frame.stack.min() >= -1 and frame.stack.max() <= 1
        drawn = (frame.images[:3] > BACKGROUND).any(0).numpy()
        landmarks = apply_affine(track.landmarks[t, :468, :2], frame.matrix)
        hull = np.zeros((SIZE, SIZE), np.uint8)
        outline = cv2.convexHull(landmarks.astype(np.float32))[:, 0]
        cv2.fillConvexPoly(hull, np.round(outline * 16).astype(np.int32), 1, shift=4)  # 4 fractional bits
        iou = (drawn & (hull > 0)).sum() / (drawn | (hull > 0)).sum()
        assert iou >= 0.9, f"frame {t}: IoU {iou:.3f}"
        # Masks: the face mask holds the drawn surface; the mouth-and-eyes region lies inside it.
        face, region = frame.face_mask.numpy(), frame.region_mask.numpy()
        assert (face >= drawn).all() and (face >= region).all() and 0.02 < region.sum() / face.sum() < 0.3
        # Outside the face every channel is the background value.
        assert (frame.images[:, ~frame.face_mask] == BACKGROUND).all()


def test_gaze_moves_only_the_eye_map(d0_track):
    params = d0_track.params[40]
    renderer = ConditioningRenderer(d0_track.model, SIZE)
    matrix = crop_matrix(face_windows(params)[0], SIZE)
    looked = params.copy()
    looked.gaze = looked.gaze + np.array([0.35, 0.1], dtype=np.float32)
    before, after = renderer.render(params, matrix), renderer.render(looked, matrix)
    eyes = CHANNELS.index("openings")
    assert torch.equal(before.images[:eyes], after.images[:eyes])
    assert torch.equal(before.face_mask, after.face_mask) and torch.equal(before.region_mask, after.region_mask)
    assert not torch.equal(before.images[eyes], after.images[eyes])
    # The iris moved towards image right (gaze x is towards the head's left side, image right when frontal).
    columns = torch.arange(SIZE, dtype=torch.float32)
    iris_x = lambda images: columns[torch.nonzero(images[eyes] == 1)[:, 1]].mean()  # noqa: E731
    assert iris_x(after.images) > iris_x(before.images) + 0.5


def test_iris_centres_invert_eye_state(d0_track):
    track = d0_track
    params = track.params[:10]
    canonical = unplace(track.landmarks[:10], params.rotation, params.translation, params.scale)
    gaze, _ = eye_state(canonical)
    irises = iris_centres(canonical[:, :468], gaze)
    np.testing.assert_allclose(irises[..., :2], canonical[:, canonical_face().iris_centres, :2], atol=1e-4)


def test_stack_never_mixes_shots(d0_track):
    track = d0_track
    params = concatenate(track.params[:12], track.params[50:62])
    params.valid[5] = False  # a gap also starts afresh
    cuts = np.array([12])
    frames = list(condition_clip(params, track.model, track.fps, (track.width, track.height), cuts, config(window=4)))
    indices = stack_indices(params.valid, cuts, 4)
    runs = np.array([0] * 5 + [1] + [2] * 6 + [3] * 12)  # frames 0-4, the gap, 6-11, 12-23
    assert frames[5].valid is False and (frames[5].stack == BACKGROUND).all() and not frames[5].face_mask.any()
    for t, frame in enumerate(frames):
        assert frame.stack.shape == (4 * N_CHANNELS, SIZE, SIZE)
        assert (runs[indices[t]] == runs[t]).all() and indices[t, 0] == t
        if frame.valid:
            blocks = frame.stack.view(4, N_CHANNELS, SIZE, SIZE)
            for k in range(4):
                assert torch.equal(blocks[k], frames[indices[t, k]].images), (t, k)
    np.testing.assert_array_equal(indices[13], [13, 12, 12, 12])  # a new shot repeats its first frame
    np.testing.assert_array_equal(indices[20], [20, 19, 18, 17])


def test_stream_checks_its_input(d0_track):
    stream = ConditioningStream(d0_track.model, d0_track.fps, (d0_track.width, d0_track.height), config())
    with pytest.raises(ValueError, match="one frame"):
        stream(d0_track.params[:2])
    with pytest.raises(ValueError, match="window"):
        ConditioningConfig(window=0)
    with pytest.raises(ValueError, match="2 x 3"):
        stream.renderer.render(d0_track.params[0], np.eye(3))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_and_cuda_render_alike():
    # The mean face, turned, so that the nose hides part of a cheek: no tracking (or MediaPipe) needed.
    face = canonical_face()
    model = FaceModel(face.vertices, np.zeros((1, 468, 3), np.float32), np.zeros((1, 2), np.float32))
    params = FaceParams(
        rotation=rotation_from_euler(np.array([[40.0, -10.0, 5.0]])),
        translation=np.array([[320.0, 240.0]], np.float32),
        scale=np.array([15.0], np.float32),
        expression=np.zeros((1, 1), np.float32),
        gaze=np.array([[[0.3, 0.1], [0.3, 0.1]]], np.float32),
        openness=np.full((1, 2), 0.3, np.float32),
        valid=np.array([True]),
    )
    matrix = crop_matrix(face_windows(params)[0], 256)
    on_cpu = ConditioningRenderer(model, 256, "cpu").render(params, matrix)
    on_gpu = ConditioningRenderer(model, 256, "cuda").render(params, matrix)
    np.testing.assert_allclose(on_cpu.images.numpy(), on_gpu.images.cpu().numpy(), atol=1e-4)
    assert torch.equal(on_cpu.face_mask, on_gpu.face_mask.cpu())
    assert torch.equal(on_cpu.region_mask, on_gpu.region_mask.cpu())


def test_coarse_sub_regions_differ_only_along_region_edges(d0_track):
    """The target's face for the edit mask is rasterised at half size: the map moves by at most 2 px."""
    track = d0_track
    renderer = ConditioningRenderer(track.model, SIZE)
    windows = face_windows(track.params, CropConfig(size=SIZE))
    for t in (0, 40, 77):
        matrix = crop_matrix(windows[t:t + 1], SIZE)[0]
        fine, coarse = renderer.sub_regions(track.params[t], matrix), renderer.sub_regions(track.params[t], matrix, 2)
        assert coarse.shape == fine.shape and coarse.dtype == fine.dtype
        differ = (fine != coarse).numpy().astype(np.uint8)
        assert 0 < differ.mean() < 0.05
        # Every differing pixel lies within 2 px of an edge of the fine map.
        edges = cv2.morphologyEx(fine.numpy(), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
        near_edges = cv2.dilate(edges.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        assert near_edges[differ > 0].all(), f"frame {t}"
    with pytest.raises(ValueError, match="divide"):
        renderer.sub_regions(track.params[0], matrix, 3)


def test_a_frame_drawn_without_its_edit_mask_has_the_same_stack(d0_track):
    """What the preview asks of the frames that only fill the shown frame's stack."""
    size = (d0_track.width, d0_track.height)
    streams = [ConditioningStream(d0_track.model, d0_track.fps, size, config(), edit=EditMaskConfig()) for _ in "ab"]
    for t in range(4):
        with_mask, without = streams[0](d0_track.params[t]), streams[1](d0_track.params[t], edit_mask=t == 3)
        assert torch.equal(with_mask.stack, without.stack) and with_mask.edit_mask is not None
        assert (without.edit_mask is None) == (t < 3)
    assert torch.equal(with_mask.edit_mask, without.edit_mask)
