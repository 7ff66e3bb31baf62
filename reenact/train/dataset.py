"""The training set of one target clip: per-frame conditioning images and real crops, cached on disk.

Building the cache renders every frame once (the same `ConditioningStream` the
renderers use, so training and inference see the same crop and images) and
stores, memory-mapped, per frame:

    images.npy   uint8 T x C x S x S  conditioning images, [-1, 1] quantised to 0..255
    crops.npy    uint8 T x 3 x S x S  the real frame in the same crop (RGB)
    masks.npy    uint8 T x S x S      bit 0: rendered face, bit 1: mouth-and-eyes region,
                                      bits 2-4: the face sub-region map (`FrameImages.sub_regions`)
    valid.npy    bool T               a face was rendered

Only single frames are stored: a frame's W-frame stack is assembled at batch
time from `stack_indices`, so the cache is W times smaller than the stacks, and
a 10-minute 512 clip (15000 x 5 x 512^2 bytes = 20 GB of images) stays on disk,
paged in as batches need it. Quantising the images costs at most 1/255 of the
range (0.2% of the face's extent in the correspondence channels), far below
what the generator can resolve. meta.json, written last, says what the cache
was built from; a cache that does not match is rebuilt.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from reenact.errors import InputError
from reenact.params import Track
from reenact.render.conditioning import N_CHANNELS, ConditioningConfig, condition_clip, stack_indices
from reenact.render.crop import warp_to_crop
from reenact.render.edit_mask import EditMaskConfig, generator_input
from reenact.video_io import VideoReader

CACHE_VERSION = 3
FACE_BIT, REGION_BIT, SUB_REGION_SHIFT = 1, 2, 2
"""Bits of masks.npy: the face and mouth-and-eyes flags, and where the 3-bit sub-region map starts."""

Progress = Callable[[int], object]


@dataclass(frozen=True)
class CacheKey:
    """What a cache was built from; a cache is reused only when every field matches."""

    data_hash: str
    """sha256 prefix of the clip's bytes."""
    track_hash: str
    """`track_hash` of the track the images were rendered from (a new --track means new images)."""
    size: int
    """Crop size S."""
    margin: float
    """Crop margin (`CropConfig.margin`)."""
    version: int = CACHE_VERSION


def track_hash(track: Track) -> str:
    """sha256 prefix of what the conditioning images depend on: the per-frame parameters, the face model
    and the cuts (which restart the crop filter)."""
    digest = hashlib.sha256()
    for array in (*dataclasses.astuple(track.params), *dataclasses.astuple(track.model), track.cuts):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def quantise(images: torch.Tensor) -> np.ndarray:
    """float [-1, 1] -> uint8 0..255 (BACKGROUND -1 maps to 0 exactly)."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()


def dequantise(images: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 -> float32 [-1, 1] (on the tensor's device)."""
    return images.float() / 127.5 - 1


def build_cache(
    folder: Path,
    track: Track,
    video: Path,
    key: CacheKey,
    conditioning: ConditioningConfig,
    progress: Progress | None = None,
) -> None:
    """Render and crop every frame of `video` into `folder` (replaced if present); meta.json last."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    n, s = track.n_frames, conditioning.crop.size
    reader = VideoReader(video)
    if (reader.width, reader.height) != (track.width, track.height):
        raise InputError(
            f"the track is for {track.width}x{track.height} frames but {video} is {reader.width}x{reader.height}; "
            "is it the same clip?"
        )
    arrays = {
        name: np.lib.format.open_memmap(folder / f"{name}.npy", mode="w+", dtype=dtype, shape=shape)
        for name, dtype, shape in (
            ("images", np.uint8, (n, N_CHANNELS, s, s)),
            ("crops", np.uint8, (n, 3, s, s)),
            ("masks", np.uint8, (n, s, s)),
            ("valid", np.bool_, (n,)),
        )
    }
    frames = condition_clip(
        track.params, track.model, track.fps, (track.width, track.height), track.cuts, conditioning
    )
    count = 0
    for t, (conditioned, rgb) in enumerate(zip(frames, reader)):
        arrays["images"][t] = quantise(conditioned.images)
        arrays["crops"][t] = warp_to_crop(rgb, conditioned.matrix, s).transpose(2, 0, 1)
        masks = conditioned.face_mask.numpy() * FACE_BIT + conditioned.region_mask.numpy() * REGION_BIT
        masks = masks + (conditioned.sub_regions.numpy().astype(np.int64) << SUB_REGION_SHIFT)
        arrays["masks"][t] = masks.astype(np.uint8)
        arrays["valid"][t] = conditioned.valid
        count += 1
        if progress:
            progress(1)
    if count != n:
        raise InputError(f"{video} decoded to {count} frames but its track has {n}; re-track the clip")
    for array in arrays.values():
        array.flush()
    del arrays
    tmp = folder / ".meta.json.tmp"
    tmp.write_text(json.dumps(key.__dict__, sort_keys=True))
    os.replace(tmp, folder / "meta.json")


def cache_matches(folder: Path, key: CacheKey) -> bool:
    """Whether `folder` holds a complete cache built from `key`."""
    try:
        return json.loads((folder / "meta.json").read_text()) == key.__dict__
    except (OSError, json.JSONDecodeError):
        return False


@dataclass
class Batch:
    """One training batch: `sequences` runs of K consecutive frames, oldest first within each run."""

    conditioning: torch.Tensor
    """float32 B x (W*C) x S x S in [-1, 1], B = sequences * K."""
    real: torch.Tensor
    """float32 B x 3 x S x S in [-1, 1]."""
    face: torch.Tensor
    """bool B x 1 x S x S rendered face."""
    region: torch.Tensor
    """bool B x 1 x S x S mouth-and-eyes region."""
    sub_regions: torch.Tensor
    """uint8 B x 1 x S x S face sub-region map (edit masks select by it)."""
    frames: torch.Tensor
    """int64 B frame indices."""

    def window(self, top: int, left: int, size: int) -> Batch:
        """The same frames cut to the size x size window at (top, left) (patch training)."""
        def cut(x: torch.Tensor) -> torch.Tensor:
            return x[..., top:top + size, left:left + size]

        return Batch(cut(self.conditioning), cut(self.real), cut(self.face), cut(self.region), cut(self.sub_regions),
                     self.frames)

    def generator_input(self, context: bool, mask: EditMaskConfig = EditMaskConfig()) -> torch.Tensor:
        """What the generator is given at inference: the conditioning stack and, for a context generator, the
        real crop outside the edit mask of `mask` (by default the whole face) with that mask."""
        if not context:
            return self.conditioning
        return generator_input(self.conditioning, self.real, mask.mask(self.sub_regions))


class TrainingSet:
    """The cached clip, split into training frames and the held-out tail, with random batch sampling."""

    def __init__(self, folder: Path, track: Track, window: int, validation: tuple[int, int]) -> None:
        self.images, self.crops, self.masks, self.valid = (
            np.load(folder / f"{name}.npy", mmap_mode="r") for name in ("images", "crops", "masks", "valid")
        )
        self.window = window
        self.stacks = stack_indices(self.valid, track.cuts, window)
        self.validation = validation
        self.cuts = track.cuts

    def sequence_ends(self, k: int, frames: np.ndarray | None = None) -> np.ndarray:
        """Frames t such that t-k+1 .. t are valid, in one shot, and all training frames (before the tail);
        with `frames`, only those frames count as training frames."""
        n = len(self.valid)
        usable = self.valid.copy()
        usable[self.validation[0] :] = False
        if frames is not None:
            chosen = np.zeros(n, dtype=bool)
            chosen[frames] = True
            usable &= chosen
        new_shot = np.zeros(n, dtype=bool)
        new_shot[np.asarray(self.cuts, dtype=np.int64)] = True
        ends = []
        for t in range(k - 1, n):
            span = slice(t - k + 1, t + 1)
            if usable[span].all() and not new_shot[t - k + 2 : t + 1].any():
                ends.append(t)
        return np.asarray(ends, dtype=np.int64)

    def validation_frames(self, limit: int) -> np.ndarray:
        """Up to `limit` valid held-out frames, evenly spread over the tail."""
        start, end = self.validation
        frames = np.arange(start, end)[self.valid[start:end]]
        if len(frames) > limit:
            frames = frames[np.linspace(0, len(frames) - 1, limit).round().astype(np.int64)]
        return frames

    def batch(self, frames: np.ndarray, device: torch.device) -> Batch:
        """The batch of the given frames (their stacks, crops and masks), converted on `device`."""
        frames = np.asarray(frames, dtype=np.int64)
        stacks = np.stack([self.images[self.stacks[t]] for t in frames])  # B x W x C x S x S
        b, w, c, s, _ = stacks.shape
        images = torch.from_numpy(stacks).to(device).view(b, w * c, s, s)
        crops = torch.from_numpy(np.stack([self.crops[t] for t in frames])).to(device)
        masks = torch.from_numpy(np.stack([self.masks[t] for t in frames])).to(device)[:, None]
        return Batch(
            conditioning=dequantise(images),
            real=dequantise(crops),
            face=(masks & FACE_BIT) > 0,
            region=(masks & REGION_BIT) > 0,
            sub_regions=masks >> SUB_REGION_SHIFT,
            frames=torch.from_numpy(frames),
        )


class SequenceSampler:
    """Random runs of K consecutive training frames, from a torch.Generator whose state is checkpointed
    (so a resumed run draws exactly the batches an uninterrupted one would)."""

    def __init__(self, ends: np.ndarray, k: int, seed: int) -> None:
        if len(ends) == 0:
            raise InputError(f"no run of {k} consecutive training frames with a face; the clip is too short or broken")
        self.ends, self.k = ends, k
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, sequences: int) -> np.ndarray:
        """Frame indices of `sequences` runs, each oldest first: `sequences * K` frames."""
        picks = torch.randint(len(self.ends), (sequences,), generator=self.generator).numpy()
        ends = self.ends[picks]
        return (ends[:, None] - np.arange(self.k - 1, -1, -1)[None, :]).reshape(-1)
