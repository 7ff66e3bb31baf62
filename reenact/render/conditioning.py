"""The conditioning images the generator sees, and their causal space-time stack.

Per frame, in the aligned crop (`reenact.render.crop`), the output parameters'
mesh is rasterised once and gives three images (DVP's synthetic renderings):

- correspondence: each pixel coloured by where on the mean face it lies, the
  mean face's vertex positions normalised to [0, 1] per axis. This is DVP's
  choice and the same for every subject and expression, so the colours name
  face points; unlike the UVs (a near-frontal projection) its third channel,
  depth on the mean face, tells the nose's side from the cheek behind it.
- shading: Lambertian shading of the posed mesh under a fixed light (vertex
  normals, shaded per vertex and interpolated: on 898 triangles at 256^2
  per-pixel normals add nothing visible and cost two more channels), so the
  generator sees the 3D orientation of every surface patch.
- openings map: the eye openings (the mesh triangles inside each eyelid
  contour) with the iris drawn as a disc where the gaze puts it, clipped by
  the lids, and the mouth opening (inside the inner lip contour) with a value
  of its own, so that "inside the mouth" (teeth, tongue) is told apart from
  "outside the face" in one channel rather than read off a hole in the others.

The mouth opening (the triangles spanning the inner lip contour) is left out
of the correspondence and shading images: those pixels show the mouth's
inside, not face surface, and reading as a hole there tells the generator to
draw teeth and tongue. Value convention: a channel is BACKGROUND (-1) where its
content is absent; present content lies in [FACE_FLOOR, 1], so that even the
mean face's extreme points and an unlit patch never read as absent.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from reenact.errors import SettingError
from reenact.params import FaceModel, FaceParams, Track, place
from reenact.render.crop import CropConfig, CropFollower, apply_affine, crop_matrix
from reenact.render.edit_mask import EditMaskConfig
from reenact.render.eyelids import Eyelids
from reenact.render.rasterizer import interpolate, rasterize, take
from reenact.tracking.canonical_face import N_VERTICES, canonical_face
from reenact.tracking.face_regions import region_masks
from reenact.tracking.fitting import eye_axes

CHANNELS = ("correspondence_x", "correspondence_y", "correspondence_z", "shading", "openings")
"""The per-frame channel layout, C = 5: mean-face position (3), Lambertian shading (1), eye and mouth openings (1).
A stack of W frames holds W such blocks, the current frame's first."""
N_CHANNELS = len(CHANNELS)

BACKGROUND = -1.0
"""Value of every channel where its content is absent (outside the face; mouth opening; outside the eyes)."""
FACE_FLOOR = -0.8
"""Lowest value of present content in the correspondence and shading channels."""
EYE_VALUE, IRIS_VALUE, MOUTH_VALUE = 0.0, 1.0, -0.5
"""Openings-map values inside an eye opening, on the iris, and inside the mouth opening."""
IRIS_RADIUS = 0.4
"""Iris radius in half eye widths: the median of MediaPipe's iris landmarks on two clips (0.38 to 0.43)."""
LIGHT = (-0.35, -0.45, -0.82)
"""Direction towards the light in image axes (x right, y down, z away): from the upper left, in front."""
TARGET_MASK_COARSENESS = 2
"""The target frame's face, which only widens the edit mask, is rasterised at half the crop's size: a quarter of
the pixels, and a 2 px error at most at 256 under a margin of 13 px (`EditMaskConfig.grow`)."""

_SKIN, _RIGHT_EYE, _LEFT_EYE, _MOUTH = 0, 1, 2, 3
"""Triangle classes."""


@dataclass(frozen=True)
class ConditioningConfig:
    """How conditioning images are made and stacked."""

    crop: CropConfig = field(default_factory=CropConfig)
    """The aligned crop (its size S is the images' size)."""
    window: int = 5
    """W, frames in the space-time stack (current and W - 1 previous). DVP used 11 at 30 fps; 5 frames
    (0.2 s at 25 fps) still show the speed and acceleration of lips, lids and head, while the
    generator's first convolution, whose cost grows with the W * C input channels, stays cheap enough
    for the CPU preset, and a new shot is at full history sooner."""

    mouth_opening: bool = True
    """Draw the mouth opening in the openings channel (MOUTH_VALUE); False for models trained before it was."""

    def __post_init__(self) -> None:
        if self.window < 1:
            raise SettingError(f"window must be >= 1 frame, got {self.window}")


def iris_centres(shapes: np.ndarray, gaze: np.ndarray) -> np.ndarray:
    """Canonical iris centres float32 T x 2 x 3 (right, left eye) of shapes T x 468 x 3 under gaze T x 2 x 2.

    The exact inverse of `reenact.tracking.fitting.eye_state`: gaze x is the
    offset from the corners' midpoint along the corner-to-corner axis, gaze y
    from the lids' midpoint along the perpendicular (up), both in half eye
    widths. z is the eye points' mean depth.
    """
    face = canonical_face()
    points = shapes[:, face.eye_points]  # T x 2 eyes x 4 (corner, corner, upper, lower) x 3
    p = points[..., :2]
    left, right, upper, lower = (p[:, :, k] for k in range(4))
    x_dir, y_dir, width = eye_axes(left, right)
    half = width[..., None] / 2
    corners_mid, lids_mid = (left + right) / 2, (upper + lower) / 2
    along = gaze[..., :1] * half
    across = gaze[..., 1:] * half + ((lids_mid - corners_mid) * y_dir).sum(-1, keepdims=True)
    xy = corners_mid + along * x_dir + across * y_dir
    return np.concatenate([xy, points[..., 2].mean(-1, keepdims=True)], axis=-1).astype(np.float32)


def triangle_sub_regions() -> np.ndarray:
    """int64 per triangle: the `reenact.tracking.face_regions.SUB_REGIONS` index it belongs to most (mouth and jaw, eyes,
    brows), by its corners' mean soft membership; every face pixel falls in one, which is what edit masks
    select by."""
    return region_masks()[:, canonical_face().triangles].mean(-1).argmax(0)


def _triangle_classes() -> tuple[np.ndarray, np.ndarray]:
    """Per triangle: its class (skin, right eye, left eye, mouth opening) and whether the loss's
    mouth-and-eyes region holds it (the openings and every triangle touching a lid or lip contour)."""
    face = canonical_face()
    tri = face.triangles
    classes = np.full(len(tri), _SKIN, dtype=np.int64)
    for cls, contour in ((_RIGHT_EYE, face.eyes[0]), (_LEFT_EYE, face.eyes[1]), (_MOUTH, face.lips)):
        # A triangle with all three corners on a (nearly convex) contour spans its opening.
        classes[np.isin(tri, contour).all(1)] = cls
    contours = np.concatenate([*face.eyes, face.lips])
    region = np.isin(tri, contours).any(1)
    return classes, region


@dataclass
class FrameImages:
    """One frame's conditioning images and masks in the crop."""

    images: torch.Tensor
    """float32 C x S x S in [-1, 1], channels as `CHANNELS`."""
    face_mask: torch.Tensor
    """bool S x S: the rendered face (mesh, eyes and mouth opening) covers the pixel."""
    region_mask: torch.Tensor
    """bool S x S: mouth and eyes (lips, lids, the openings): the pixels the loss weights more."""
    sub_regions: torch.Tensor
    """uint8 S x S: 0 outside the face, else 1 + the pixel's `SUB_REGIONS` index (for edit masks)."""


class ConditioningRenderer:
    """Renders one frame's conditioning images from its parameters and crop affine (stateless per frame)."""

    def __init__(self, model: FaceModel, size: int, device: str | torch.device = "cpu", mouth_opening: bool = True) -> None:
        face = canonical_face()
        self.model = model
        self.mouth_value = MOUTH_VALUE if mouth_opening else BACKGROUND
        self.size = size
        self.device = torch.device(device)
        self.triangles = torch.from_numpy(face.triangles).long().to(self.device)
        mean = face.vertices
        position = (mean - mean.min(0)) / (mean.max(0) - mean.min(0))
        self.colours = torch.from_numpy(FACE_FLOOR + (1 - FACE_FLOOR) * position).float().to(self.device)
        classes, region = _triangle_classes()
        self.classes = torch.from_numpy(classes).to(self.device)
        # Vertex normals come from the surface only: the mouth opening's stretched triangles would tilt the lips'.
        self.surface = torch.from_numpy(face.triangles[classes != _MOUTH]).long().to(self.device)
        self.region = torch.from_numpy(region).to(self.device)
        self.sub_region = torch.from_numpy(1 + triangle_sub_regions()).to(torch.uint8).to(self.device)
        light = torch.tensor(LIGHT)
        self.light = (light / light.norm()).to(self.device)
        self.eyelids = Eyelids()

    def render(self, params: FaceParams, matrix: np.ndarray) -> FrameImages:
        """Images of one valid frame (`params` of length 1) in the crop given by the frame-to-crop `matrix`."""
        if len(params) != 1 or not params.valid[0]:
            raise ValueError("render takes one valid frame's parameters (len(params) == 1 and params.valid[0])")
        if matrix.shape != (2, 3):
            raise ValueError(f"matrix must be a 2 x 3 frame-to-crop affine, got shape {matrix.shape}")
        shapes = self.model.shapes(params.expression)
        irises = iris_centres(shapes, params.gaze)  # the lids' own mesh places the eyeball; moving a lid leaves it
        shapes = self.eyelids.place(shapes, params.openness)
        points = np.concatenate([shapes, irises], axis=1)
        posed = apply_affine(place(points, params.rotation, params.translation, params.scale)[0], matrix)
        vertices = torch.from_numpy(posed[None, :N_VERTICES]).to(self.device)

        corners = take(vertices[0], self.surface.view(-1)).view(-1, 3, 3)
        normals = torch.linalg.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])  # area-weighted
        vertex_normals = torch.zeros_like(vertices[0])
        vertex_normals.index_add_(0, self.surface.view(-1), normals.repeat_interleave(3, 0))
        lambert = torch.nn.functional.normalize(vertex_normals, dim=1).mv(self.light).clamp(min=0)
        shading = FACE_FLOOR + (1 - FACE_FLOOR) * lambert
        # The eye channel's slot is interpolated too (zeros) and then overwritten: cheaper than concatenating.
        attributes = torch.cat([self.colours, shading[:, None], torch.zeros_like(shading)[:, None]], 1)[None]

        fragments = rasterize(vertices, self.triangles, (self.size, self.size))
        values = interpolate(fragments, self.triangles, attributes)
        classes = take(self.classes, fragments.triangle)
        values[:4].masked_fill_(classes == _MOUTH, BACKGROUND)
        px_per_unit = params.scale[0] * matrix[0, 0]
        self._draw_eyes(values[4], fragments.pixel, classes, posed[N_VERTICES:], shapes[0], px_per_unit)
        images = fragments.image(values, BACKGROUND)[0]
        region = fragments.image(take(self.region, fragments.triangle)[None], False)[0, 0]
        sub_regions = fragments.image(take(self.sub_region, fragments.triangle)[None], 0)[0, 0]
        return FrameImages(images, fragments.mask[0], region, sub_regions)

    def sub_regions(self, params: FaceParams, matrix: np.ndarray, coarse: int = 1) -> torch.Tensor:
        """uint8 S x S sub-region map alone (see `FrameImages.sub_regions`): where another set of parameters,
        e.g. the target frame's own, puts each face region in the same crop. `coarse`: rasterise at S / coarse
        and repeat each pixel (the rasteriser's cost goes with the pixels; an edit mask grown by a margin of
        many pixels hides the coarser edge)."""
        if self.size % coarse:
            raise ValueError(f"coarse ({coarse}) must divide the crop size ({self.size})")
        shapes = self.eyelids.place(self.model.shapes(params.expression), params.openness)
        posed = apply_affine(place(shapes, params.rotation, params.translation, params.scale)[0], matrix / coarse)
        side = self.size // coarse
        fragments = rasterize(torch.from_numpy(posed[None]).to(self.device), self.triangles, (side, side))
        regions = fragments.image(take(self.sub_region, fragments.triangle)[None], 0)[0, 0]
        return regions.repeat_interleave(coarse, 0).repeat_interleave(coarse, 1) if coarse > 1 else regions

    def _draw_eyes(
        self,
        out: torch.Tensor,
        pixel: torch.Tensor,
        classes: torch.Tensor,
        irises: np.ndarray,
        shape: np.ndarray,
        px_per_unit: float,
    ) -> None:
        """Write the eye map at the covered pixels into `out` (P): BACKGROUND, EYE_VALUE in an eye opening,
        IRIS_VALUE on its iris (a disc of IRIS_RADIUS half eye widths, clipped by the lids)."""
        eye_points = canonical_face().eye_points
        widths = np.linalg.norm(shape[eye_points[:, 1], :2] - shape[eye_points[:, 0], :2], axis=-1)
        # Per eye (right, left; class - 1): iris centre (x, y) in the crop and squared radius in pixels.
        table = np.concatenate([irises[:, :2], (IRIS_RADIUS * widths / 2 * px_per_unit)[:, None] ** 2], 1)
        eye = torch.nonzero((classes == _RIGHT_EYE) | (classes == _LEFT_EYE)).squeeze(1)
        iris = take(torch.from_numpy(table.astype(np.float32)).to(self.device), take(classes, eye) - _RIGHT_EYE)
        position = take(pixel, eye).float()
        row = torch.floor(position / self.size)
        distance2 = (position - row * self.size + 0.5 - iris[:, 0]) ** 2 + (row + 0.5 - iris[:, 1]) ** 2
        out.copy_(torch.where(classes == _MOUTH, self.mouth_value, BACKGROUND))
        out.index_copy_(0, eye, torch.where(distance2 <= iris[:, 2], IRIS_VALUE, EYE_VALUE))


@dataclass
class ConditionedFrame:
    """What the generator needs for one frame, and how to put its output back."""

    stack: torch.Tensor
    """float32 (W * C) x S x S in [-1, 1]: W frames' images, the current frame's first, then older ones."""
    window: np.ndarray
    """float64 3 crop window (centre x, centre y, side) in frame pixels."""
    matrix: np.ndarray
    """float64 2 x 3 frame-to-crop affine (`reenact.render.crop`)."""
    face_mask: torch.Tensor
    """bool S x S rendered face (all False when there is no face)."""
    region_mask: torch.Tensor
    """bool S x S mouth and eyes region."""
    sub_regions: torch.Tensor
    """uint8 S x S: 0 outside the face, else 1 + the `SUB_REGIONS` index (`FrameImages.sub_regions`)."""
    valid: bool
    """A face was rendered; if not, the stack is BACKGROUND and the frame should pass through unchanged."""
    edit_mask: torch.Tensor | None = None
    """bool S x S pixels to re-render (`reenact.render.edit_mask`), when the stream was given an edit mask config."""

    @property
    def images(self) -> torch.Tensor:
        """float32 C x S x S: the current frame's images."""
        return self.stack[:N_CHANNELS]


class ConditioningStream:
    """Feed one frame's output parameters at a time; get its crop and space-time stack (what live use needs).

    Causal: a frame's stack holds it and the W - 1 frames before it. At a new
    shot, and after frames without a face, the history starts afresh: until W
    frames of the new run have been seen, the run's first frame is repeated in
    the older slots, so no stack mixes two shots.
    """

    def __init__(
        self,
        model: FaceModel,
        fps: float,
        frame_size: tuple[int, int],
        config: ConditioningConfig = ConditioningConfig(),
        device: str | torch.device = "cpu",
        edit: EditMaskConfig | None = None,
    ) -> None:
        """`edit`: also give each frame the edit mask of these regions (for generators that take context)."""
        self.config = config
        self.renderer = ConditioningRenderer(model, config.crop.size, device, config.mouth_opening)
        self.follower = CropFollower(fps, frame_size, config.crop)
        self.edit = edit
        self._history: deque[torch.Tensor] = deque(maxlen=config.window - 1)

    def __call__(self, params: FaceParams, new_shot: bool = False, target: FaceParams | None = None,
                 edit_mask: bool = True) -> ConditionedFrame:
        """The next frame (`params` of length 1; `new_shot` at a cut). `target`: the parameters of the target frame
        being re-rendered, when they differ from `params`; the edit mask then covers where both put the face.
        `edit_mask=False`: no edit mask even with an `edit` config (a frame drawn only for later frames' stacks)."""
        window = self.follower(params, new_shot)
        matrix = crop_matrix(window, self.config.crop.size)
        if new_shot or not params.valid[0]:
            self._history.clear()
        size, device = self.config.crop.size, self.renderer.device
        if not params.valid[0]:
            stack = torch.full((self.config.window * N_CHANNELS, size, size), BACKGROUND, device=device)
            nothing = torch.zeros(size, size, dtype=torch.bool, device=device)
            no_regions = torch.zeros(size, size, dtype=torch.uint8, device=device)
            return ConditionedFrame(stack, window, matrix, nothing, nothing, no_regions, valid=False)
        frame = self.renderer.render(params, matrix)
        older = list(self._history)
        older += [older[-1] if older else frame.images] * (self.config.window - 1 - len(older))
        stack = torch.cat([frame.images, *older]) if older else frame.images
        self._history.appendleft(frame.images)
        mask = None
        if self.edit is not None and edit_mask:
            maps = [frame.sub_regions]
            if target is not None and target.valid[0] and not _same_face(target, params):
                maps.append(self.renderer.sub_regions(target, matrix, TARGET_MASK_COARSENESS))
            mask = self.edit.mask(*maps)
        return ConditionedFrame(stack, window, matrix, frame.face_mask, frame.region_mask, frame.sub_regions,
                                valid=True, edit_mask=mask)


def _same_face(a: FaceParams, b: FaceParams) -> bool:
    """Whether two frames' parameters place the same mesh (then its sub-regions need not be rasterised twice)."""
    return all(np.array_equal(getattr(a, name), getattr(b, name))
               for name in ("rotation", "translation", "scale", "expression"))


def condition_clip(
    params: FaceParams,
    model: FaceModel,
    fps: float,
    frame_size: tuple[int, int],
    cuts: np.ndarray,
    config: ConditioningConfig = ConditioningConfig(),
    device: str | torch.device = "cpu",
) -> Iterator[ConditionedFrame]:
    """Every frame of a clip through a `ConditioningStream`, in order (frames `cuts` start new shots).

    A generator: a clip's stacks do not fit in memory (W * C * S^2 floats each);
    keep what is needed of each (e.g. `frame.images` for a training cache).
    """
    stream = ConditioningStream(model, fps, frame_size, config, device)
    new_shot = np.zeros(len(params), dtype=bool)
    new_shot[np.asarray(cuts, dtype=np.int64)] = True
    for i in range(len(params)):
        yield stream(params[i], bool(new_shot[i]))


def stack_indices(valid: np.ndarray, cuts: np.ndarray, window: int) -> np.ndarray:
    """int64 T x W: the frames whose images make each frame's stack, current first (as `ConditioningStream`).

    For random access to cached per-frame images in training: the stack of
    frame t is images[indices[t]] laid along channels. Frames before the start
    of t's run (a shot cut or a frame without a face) are replaced by the run's
    first frame; a frame without a face lists itself.
    """
    valid = np.asarray(valid, dtype=bool)
    starts = ~valid | np.r_[True, ~valid[:-1]]
    starts[np.asarray(cuts, dtype=np.int64)] = True
    run_start = np.maximum.accumulate(np.where(starts, np.arange(len(valid)), 0))
    indices = np.arange(len(valid))[:, None] - np.arange(window)[None, :]
    return np.maximum(indices, run_start[:, None]).astype(np.int64)


def benchmark_conditioning(
    size: int, device: str, track: Track | str | Path | None = None, frames: int = 50,
    edit: EditMaskConfig | None = None, other_target: bool = False,
) -> float:
    """Median milliseconds per frame of `ConditioningStream` (crop, render, stack) on a real track.

    `track`: a Track or a saved track file; by default drive_d0.mp4 from
    `reenact.sample_data.data_dir()` is tracked (needs MediaPipe). `edit`: also draw each frame's edit mask (what
    a model that takes context needs), over the frame's own face, or with `other_target` over another frame's
    too (as live re-renders a background clip driven by the camera). Runs 10 warm-up frames, then `frames` timed
    ones (the clip loops); threads are the caller's choice.
    """
    if track is None:
        from reenact.sample_data import data_dir
        from reenact.tracking.tracker import track_video

        track = track_video(data_dir() / "drive_d0.mp4")
    elif not isinstance(track, Track):
        track = Track.load(track)
    config = ConditioningConfig(crop=CropConfig(size=size))
    stream = ConditioningStream(track.model, track.fps, (track.width, track.height), config, device, edit=edit)
    order = np.flatnonzero(track.params.valid)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else lambda: None
    times = []
    for k in range(10 + frames):
        params = track.params[int(order[k % len(order)])]
        target = track.params[int(order[(k + len(order) // 2) % len(order)])] if other_target else None
        start = time.perf_counter()
        stream(params, target=target)
        sync()
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times[10:]))
