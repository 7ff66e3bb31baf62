"""The aligned square crop the generator works in, following the head smoothly.

Per frame, a window (centre x, centre y, side; frame pixels) is placed on the
head from its pose alone: centred on the head's middle (a point inside the
head, so the window does not swing when the head turns in place) and sized in
proportion to the face's scale (not to its projected extent, so turning or
opening the mouth does not zoom). The window is then One Euro filtered over
time, causally, and the filter restarts at shot cuts and after frames without
a face. A window maps to the crop of S x S pixels by a 2x3 affine (a scale and
a shift: the crop stays upright), kept so that a generated crop can be pasted
back exactly.

Coordinates are continuous, pixel (row i, column j) centred at (j + 0.5,
i + 0.5) in frames and crops alike, as in the rasteriser and the landmarks.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field

import cv2
import numpy as np

from reenact.params import FaceParams, place
from reenact.tracking.canonical_face import canonical_face
from reenact.tracking.filters import OneEuroConfig, OneEuroFilter


@dataclass(frozen=True)
class CropConfig:
    """Where the crop sits on the head, its size and how smoothly it follows."""

    size: int = 256
    """Side S of the square crop in pixels (256 for CPU presets, 512 for quality)."""
    margin: float = 1.8
    """Crop side over the mean face's height (brow line to chin): room for hair, neck and background."""
    follow: OneEuroConfig = field(default_factory=lambda: OneEuroConfig(min_cutoff=0.2, beta=0.004))
    """One Euro settings for the window (px): a low still cutoff removes jitter, the speed term catches
    real head moves."""


def head_anchor() -> np.ndarray:
    """float32 3: the canonical point the crop centres on, at the face's mid-height on the head's axis.

    The canonical origin lies inside the head, behind the face; taking its x and
    z keeps the point still when the head turns in place.
    """
    vertices = canonical_face().vertices
    mid_height = (vertices[:, 1].min() + vertices[:, 1].max()) / 2
    return np.array([0.0, mid_height, 0.0], dtype=np.float32)


def face_windows(params: FaceParams, config: CropConfig = CropConfig()) -> np.ndarray:
    """Unsmoothed windows float64 T x 3 (centre x, centre y, side; px) from the pose; NaN on invalid frames."""
    vertices = canonical_face().vertices
    height = float(vertices[:, 1].max() - vertices[:, 1].min())
    anchor = np.broadcast_to(head_anchor(), (len(params), 1, 3))
    centre = place(anchor, params.rotation, params.translation, params.scale)[:, 0, :2]
    windows = np.concatenate([centre, (config.margin * height * params.scale)[:, None]], axis=1).astype(np.float64)
    windows[~params.valid] = np.nan
    return windows


class CropFollower:
    """Feed one frame's parameters at a time; get its smoothed crop window (causal: live use cannot look ahead).

    On frames without a face the last window is held (before the first face: a
    centred square of the frame's shorter side) and the filter restarts, as it
    does at a new shot.
    """

    def __init__(self, fps: float, frame_size: tuple[int, int], config: CropConfig = CropConfig()) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        width, height = frame_size
        self.config = config
        self.dt = 1.0 / fps
        self._filter = OneEuroFilter(config.follow)
        self._last = np.array([width / 2, height / 2, min(width, height)], dtype=np.float64)

    def __call__(self, params: FaceParams, new_shot: bool = False) -> np.ndarray:
        """Window float64 3 (centre x, centre y, side; px) for one frame (`params` of length 1)."""
        if len(params) != 1:
            raise ValueError(f"CropFollower takes one frame's parameters at a time, got {len(params)} frames")
        return self._follow(face_windows(params, self.config)[0], new_shot)

    def advance(self, params: FaceParams, new_shots: np.ndarray) -> None:
        """Follow a span of frames (bool `new_shots` per frame) as frame-by-frame calls would, the windows placed
        in one call: the frames before a preview are many, and placing is most of a frame's cost."""
        for window, new_shot in zip(face_windows(params, self.config), new_shots):
            self._follow(window, bool(new_shot))

    def _follow(self, window: np.ndarray, new_shot: bool) -> np.ndarray:
        """The smoothed window after the raw `window` (NaN: no face)."""
        valid = not np.isnan(window[0])
        if new_shot or not valid:
            self._filter.reset()
        if valid:
            self._last = self._filter(window, self.dt)
        return self._last.copy()


class FollowerCache:
    """A `CropFollower`'s state along spans of one clip, kept every `every` frames under a digest of the raw
    windows and cuts before it: the browser editor's previews follow the same shot again and again, and a span
    that begins as an earlier one did (the same frames, the same edits up to there) resumes from the last state
    they share instead of from the shot's first frame."""

    def __init__(self, every: int = 64, states: int = 1024) -> None:
        self.every, self.states = every, states
        self._kept: dict[bytes, CropFollower] = {}

    def follow(self, fresh: CropFollower, params: FaceParams, new_shots: np.ndarray) -> CropFollower:
        """A follower where `fresh` (not yet fed) would be after following `params` (bool `new_shots` per
        frame); `fresh` itself is left as it is."""
        windows = face_windows(params, fresh.config)
        digest, marks = hashlib.sha1(), []
        for end in range(self.every, len(windows) + 1, self.every):
            digest.update(windows[end - self.every:end].tobytes())
            digest.update(np.asarray(new_shots[end - self.every:end], dtype=bool).tobytes())
            marks.append((end, digest.digest()))
        start, follower = 0, fresh
        for end, key in reversed(marks):
            if key in self._kept:
                start, follower = end, self._kept[key]
                break
        follower = copy.deepcopy(follower)
        for end, key in marks:
            if end > start:
                for i in range(start, end):
                    follower._follow(windows[i], bool(new_shots[i]))
                start = end
                self._keep(key, follower)
        for i in range(start, len(windows)):
            follower._follow(windows[i], bool(new_shots[i]))
        return follower

    def _keep(self, key: bytes, follower: CropFollower) -> None:
        self._kept[key] = copy.deepcopy(follower)
        while len(self._kept) > self.states:
            del self._kept[next(iter(self._kept))]


def follow_clip(
    params: FaceParams, fps: float, frame_size: tuple[int, int], cuts: np.ndarray, config: CropConfig = CropConfig()
) -> np.ndarray:
    """Smoothed windows float64 T x 3 of a whole clip (the `CropFollower` run over it; `cuts` start new shots)."""
    follower = CropFollower(fps, frame_size, config)
    new_shot = np.zeros(len(params), dtype=bool)
    new_shot[np.asarray(cuts, dtype=np.int64)] = True
    return np.stack([follower(params[i], bool(new_shot[i])) for i in range(len(params))])


def crop_matrix(window: np.ndarray, size: int) -> np.ndarray:
    """Affine float64 ... x 2 x 3 from frame to crop coordinates for windows ... x 3 (centre x, centre y, side)."""
    window = np.asarray(window, dtype=np.float64)
    if window.shape[-1] != 3:
        raise ValueError(f"windows must be ... x 3 (centre x, centre y, side), got shape {window.shape}")
    scale = size / window[..., 2]
    matrix = np.zeros((*window.shape[:-1], 2, 3))
    matrix[..., 0, 0] = matrix[..., 1, 1] = scale
    matrix[..., :, 2] = size / 2 - scale[..., None] * window[..., :2]
    return matrix


def invert_affine(matrix: np.ndarray) -> np.ndarray:
    """Inverse float64 ... x 2 x 3 of affines ... x 2 x 3 (crop to frame for a frame-to-crop matrix)."""
    linear = np.linalg.inv(matrix[..., :2])
    return np.concatenate([linear, -linear @ matrix[..., 2:]], axis=-1)


def apply_affine(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Points ... x N x 2 or x 3 through the affine ... x 2 x 3; a z column is scaled with x and y (depth in px)."""
    points = np.asarray(points)
    if points.shape[-1] not in (2, 3) or matrix.shape[-2:] != (2, 3):
        raise ValueError(f"need points ... x N x 2|3 and a ... x 2 x 3 affine, got {points.shape} and {matrix.shape}")
    out = points.astype(np.float64).copy()
    out[..., :2] = points[..., :2] @ np.swapaxes(matrix[..., :2], -1, -2) + matrix[..., None, :, 2]
    if points.shape[-1] == 3:
        out[..., 2] *= np.sqrt(np.abs(np.linalg.det(matrix[..., :2])))[..., None]
    return out.astype(points.dtype)


def _opencv(matrix: np.ndarray) -> np.ndarray:
    """The affine in OpenCV's convention (pixel centres at integers) for one in ours (centres at +0.5)."""
    out = np.array(matrix, dtype=np.float64)
    out[:, 2] += out[:, :2].sum(1) * 0.5 - 0.5
    return out


def _shrink(frame: np.ndarray, matrix: np.ndarray, size: int, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """The part of the frame a crop needs, box-filtered down about `factor` times, and the affine from it."""
    height, width = frame.shape[:2]
    (left, top), (right, bottom) = apply_affine(np.array([[0.0, 0.0], [size, size]]), invert_affine(matrix))
    x0 = int(np.clip(np.floor(left) - factor, 0, width - 1))
    y0 = int(np.clip(np.floor(top) - factor, 0, height - 1))
    x1 = int(np.clip(np.ceil(right) + factor, x0 + 1, width))
    y1 = int(np.clip(np.ceil(bottom) + factor, y0 + 1, height))
    small_w, small_h = max(1, round((x1 - x0) / factor)), max(1, round((y1 - y0) / factor))
    small = cv2.resize(frame[y0:y1, x0:x1], (small_w, small_h), interpolation=cv2.INTER_AREA)
    # A small-image point p maps to the frame point (x0, y0) + stretch * p.
    stretch = np.diag([(x1 - x0) / small_w, (y1 - y0) / small_h])
    return small, np.concatenate([matrix[:, :2] @ stretch, matrix[:, :2] @ [[x0], [y0]] + matrix[:, 2:]], axis=1)


def warp_to_crop(frame: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The S x S crop of a frame (H x W x C or H x W, any dtype cv2 takes) under a frame-to-crop affine.

    Outside the frame the edge pixels are repeated. Where the crop shrinks the
    frame by 2x or more, the needed region is first box-filtered down by an
    integer factor, so the crop does not alias.
    """
    if frame.ndim not in (2, 3) or matrix.shape != (2, 3):
        raise ValueError(f"need an H x W (x C) frame and a 2 x 3 affine, got {frame.shape} and {matrix.shape}")
    matrix = np.asarray(matrix, dtype=np.float64)
    factor = int(1.0 / np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    if factor >= 2:
        frame, matrix = _shrink(frame, matrix, size, factor)
    return cv2.warpAffine(
        frame, _opencv(matrix), (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def warp_from_crop(crop: np.ndarray, matrix: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """A crop (S x S x C or S x S) laid back onto a frame of (width, height) under the frame-to-crop affine.

    Frame pixels outside the crop are 0; blend with the crop's footprint (warp a
    mask of ones the same way) to paste it into the original frame.
    """
    if crop.ndim not in (2, 3) or matrix.shape != (2, 3):
        raise ValueError(f"need an S x S (x C) crop and a 2 x 3 affine, got {crop.shape} and {matrix.shape}")
    return cv2.warpAffine(
        crop, _opencv(matrix), tuple(frame_size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT, borderValue=0,
    )
