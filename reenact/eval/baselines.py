"""What a generator must beat: the nearest training frame, and that frame warped onto the wanted face.

Both baselines work in the aligned crop the generator works in, so their
images compare like with like with the model's output:

- nearest neighbour: the training frame whose face, posed and mapped into its
  own crop, lies closest to the wanted face in the wanted crop. The distance is
  the RMS over the 468 mesh vertices and both iris centres of their crop
  positions (px): one number that weighs head rotation, expression, gaze and
  the crop's residual shift by how far they move what the image shows.
- warp: that frame's crop warped piecewise-affinely (per mesh triangle) so that
  its face lands on the wanted face; pixels outside the wanted mesh are the
  neighbour's own.

Positions come from the fitted parameters (the model's vertices placed by the
pose), on both sides: cross-reenactment has nothing else for the wanted frame.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

from reenact.errors import InputError
from reenact.nn.generator import context_weight
from reenact.params import FaceModel, FaceParams, place
from reenact.render.conditioning import iris_centres
from reenact.render.crop import apply_affine, warp_to_crop
from reenact.render.rasterizer import interpolate, rasterize
from reenact.tracking.canonical_face import N_VERTICES, canonical_face
from reenact.video_io import VideoReader

Progress = Callable[[int], object]
"""Called with the number of frames just processed."""


def crop_points(params: FaceParams, model: FaceModel, matrices: np.ndarray) -> np.ndarray:
    """float32 T x 470 x 3: the 468 mesh vertices, then the right and left iris centres, posed by `params`
    (T frames) and mapped into each frame's crop by its frame-to-crop affine (T x 2 x 3); z in crop px."""
    if len(params) != len(matrices):
        raise ValueError(f"need one crop affine per frame: {len(params)} frames, {len(matrices)} affines")
    shapes = model.shapes(params.expression)
    points = np.concatenate([shapes, iris_centres(shapes, params.gaze)], axis=1)
    return apply_affine(place(points, params.rotation, params.translation, params.scale), matrices)


class NearestFrames:
    """Training frames indexed by their faces' crop positions (`crop_points`), for nearest-frame look-ups."""

    def __init__(self, frames: np.ndarray, points: np.ndarray) -> None:
        """`frames`: int N training frame indices; `points`: float N x P x 3 their `crop_points` (all finite)."""
        if len(frames) == 0:
            raise InputError("no training frames with a face to take baselines from")
        if len(frames) != len(points) or not np.isfinite(points).all():
            raise ValueError(f"need finite points for each of the {len(frames)} frames, got shape {points.shape}")
        self.frames = np.asarray(frames, dtype=np.int64)
        self.points = np.asarray(points, dtype=np.float32)
        self._features = self.points[..., :2].reshape(len(frames), -1).astype(np.float64)
        self._norms = (self._features**2).sum(1)

    def query(self, points: np.ndarray, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """The nearest training frame (int64 T, a frame index) of each wanted face (T x P x 3 crop points),
        and its distance (float64 T: RMS over the P points, crop px)."""
        if points.shape[1:] != self.points.shape[1:]:
            raise ValueError(f"wanted points must be T x {self.points.shape[1]} x 3, got shape {points.shape}")
        wanted = points[..., :2].reshape(len(points), -1).astype(np.float64)
        best = np.empty(len(points), dtype=np.int64)
        squared = np.empty(len(points))
        for start in range(0, len(points), chunk):
            block = wanted[start : start + chunk]
            # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b, over every training frame at once.
            d2 = self._norms[None, :] + (block**2).sum(1)[:, None] - 2 * block @ self._features.T
            best[start : start + chunk] = np.argmin(d2, axis=1)
            squared[start : start + chunk] = d2[np.arange(len(block)), best[start : start + chunk]]
        rms = np.sqrt(np.maximum(squared, 0) / self.points.shape[1])
        return self.frames[best], rms

    def points_of(self, frame: int) -> np.ndarray:
        """The crop points (P x 3) of training frame `frame`."""
        row = np.searchsorted(self.frames, frame)
        if row >= len(self.frames) or self.frames[row] != frame:
            raise KeyError(f"frame {frame} is not a training frame of this index")
        return self.points[row]


def read_crops(
    video: str | Path, matrices: dict[int, np.ndarray], size: int, progress: Progress | None = None
) -> dict[int, np.ndarray]:
    """The uint8 S x S x 3 crops of the frames `matrices` names (frame index -> frame-to-crop affine 2 x 3),
    decoding the video once and stopping after the last one needed."""
    crops: dict[int, np.ndarray] = {}
    last = max(matrices, default=-1)
    for index, rgb in enumerate(VideoReader(video)):
        if index > last:
            break
        if index in matrices:
            crops[index] = warp_to_crop(rgb, matrices[index], size)
        if progress:
            progress(1)
    missing = sorted(set(matrices) - set(crops))
    if missing:
        raise InputError(f"{video} ended before frame {missing[0]}; is it the clip the track was made from?")
    return crops


def warp_face(image: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """`image` (uint8 S x S x 3) warped piecewise-affinely, triangle by mesh triangle, so that the face at
    `source` (468+ x 3 crop points) lands on `target`; pixels outside the target mesh keep `image`'s values.

    Each covered pixel of the target mesh (z-buffered, so the visible surface
    wins) takes its source position by barycentric interpolation in its
    triangle, which is exactly that triangle's affine map.
    """
    size = image.shape[0]
    if image.ndim != 3 or image.shape[1] != size or image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 S x S x 3 image, got {image.dtype} {image.shape}")
    triangles = torch.from_numpy(canonical_face().triangles).long()
    vertices = torch.from_numpy(np.ascontiguousarray(target[None, :N_VERTICES], dtype=np.float32))
    fragments = rasterize(vertices, triangles, (size, size))
    where = torch.from_numpy(np.ascontiguousarray(source[None, :N_VERTICES, :2], dtype=np.float32))
    # Source positions are continuous (pixel centres at +0.5); cv2.remap samples at integer centres.
    sampled = fragments.image(interpolate(fragments, triangles, where) - 0.5, float("nan"))[0].numpy()
    grid = np.mgrid[0:size, 0:size].astype(np.float32)
    covered = np.isfinite(sampled[0])
    map_x = np.where(covered, sampled[0], grid[1])
    map_y = np.where(covered, sampled[1], grid[0])
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def over_context(image: np.ndarray, context: np.ndarray, mask: torch.Tensor, feather: int) -> np.ndarray:
    """uint8 S x S x 3: `image` inside the bool edit `mask`, `context` outside, mixed over the ramp a context
    generator uses (`reenact.nn.generator.context_weight`): a baseline re-rendering only what the model does."""
    weight = context_weight(mask[None, None].cpu(), feather)[0, 0].numpy()[..., None]
    return (weight * image + (1 - weight) * context).round().astype(np.uint8)
