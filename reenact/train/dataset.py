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
WINK_REACH = 0.3
"""How far apart (s) a run and the run that lends it an eye may be: close enough that the crop, which follows
the head, puts the lent eye where the run's own was, and far enough to reach across most of a blink."""
WINK_GAP = 0.1
"""Least difference (eye widths, mean over the run) between the lent eye's openness and the other eye's for a
composed run to count as a wink: a third of an open eye (about 0.3), well above the two eyes' usual mismatch."""

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
    wink: Wink | None = None
    """Frames that take one eye from another frame (`SequenceSampler` with winks); None: none do."""

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

    def with_lent_eyes(self, masks: torch.Tensor) -> Batch:
        """The batch with each winking frame's conditioning and real crop taken from its donor inside `masks`
        (bool B x 1 x S x S, the edit masks, which cover the lent eye): a frame of one eye shut and one open,
        drawn and conditioned alike. Frames without a donor are unchanged."""
        if self.wink is None:
            return self
        lent = masks & (self.wink.eye >= 0).view(-1, 1, 1, 1).to(masks.device)
        donor = self.wink.donor
        return dataclasses.replace(
            self, conditioning=torch.where(lent, donor.conditioning, self.conditioning),
            real=torch.where(lent, donor.real, self.real), wink=None,
        )


@dataclass
class Wink:
    """Per frame of a batch, the eye it takes from a donor frame of the same shot (`WinkRuns`)."""

    eye: torch.Tensor
    """int64 B: 0 the right eye, 1 the left, -1 none (the frame is itself)."""
    donor: Batch
    """The donor frames (a frame without a donor stands for itself)."""


@dataclass(frozen=True)
class WinkRuns:
    """Training runs that become winks with one eye lent by a nearby run of the same shot.

    A clip of a person blinking holds no wink: both eyes always shut together.
    A generator trained on it, and shown one eye's region to re-render while the
    other eye is context, learns to copy the visible eye's state, and draws a
    wink asked of it half open. Lending one eye from a run a blink away, its
    pixels and its conditioning alike, makes the wink examples the clip lacks.
    """

    ends: np.ndarray
    """int64 N: last frame of each run."""
    offsets: np.ndarray
    """int64 N: the donor run's last frame minus the run's."""
    eyes: np.ndarray
    """int64 N: the lent eye (0 right, 1 left)."""


@dataclass(frozen=True)
class Draw:
    """One step's runs: their frames and, per frame, the donor of a lent eye (`WinkRuns`)."""

    frames: np.ndarray
    """int64 B, run by run, oldest first."""
    donors: np.ndarray
    """int64 B: the frame lending an eye, -1 none."""
    eyes: np.ndarray
    """int64 B: the eye lent (0 right, 1 left), -1 none."""

    def part(self, parts: int, index: int) -> Draw:
        """The `index`-th of `parts` equal shares of the runs (one process's)."""
        def share(x: np.ndarray) -> np.ndarray:
            return x.reshape(parts, -1)[index]

        return Draw(share(self.frames), share(self.donors), share(self.eyes))


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
        self.openness = track.params.openness
        self.fps = track.fps

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

    def wink_runs(self, k: int) -> WinkRuns:
        """Every training run of K frames that an eye from a run at most WINK_REACH away, in the same shot,
        turns into a wink (WINK_GAP), each with the donor and eye that make the largest difference."""
        ends = self.sequence_ends(k)
        n = len(self.valid)
        is_end = np.zeros(n, dtype=bool)
        is_end[ends] = True
        shot = np.zeros(n, dtype=np.int64)
        shot[np.asarray(self.cuts, dtype=np.int64)] = 1
        shot = np.cumsum(shot)
        rows = ends[:, None] - np.arange(k - 1, -1, -1)[None, :]  # E x K frames of each run
        best_gap, best_offset = np.zeros((len(ends), 2)), np.zeros((len(ends), 2), dtype=np.int64)
        reach = max(1, round(WINK_REACH * self.fps))
        for offset in (d for d in range(-reach, reach + 1) if d):
            donor = np.clip(ends + offset, 0, n - 1)
            usable = (ends + offset >= 0) & (ends + offset < n) & is_end[donor] & (shot[donor] == shot[ends])
            donor_rows = np.clip(rows + offset, 0, n - 1)
            for eye in (0, 1):
                gap = np.abs(self.openness[donor_rows, eye] - self.openness[rows, 1 - eye]).mean(1)
                better = usable & (gap > best_gap[:, eye])
                best_gap[better, eye], best_offset[better, eye] = gap[better], offset
        run, eye = np.nonzero(best_gap >= WINK_GAP)
        return WinkRuns(ends[run], best_offset[run, eye], eye.astype(np.int64))

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

    def draw_batch(self, draw: Draw, device: torch.device) -> Batch:
        """The batch of a sampler's draw, with its donors' frames when some frames take an eye from another."""
        batch = self.batch(draw.frames, device)
        if (draw.eyes < 0).all():
            return batch
        donor = self.batch(np.where(draw.donors >= 0, draw.donors, draw.frames), device)
        return dataclasses.replace(batch, wink=Wink(torch.from_numpy(draw.eyes).to(device), donor))


class SequenceSampler:
    """Random runs of K consecutive training frames, from a torch.Generator whose state is checkpointed
    (so a resumed run draws exactly the batches an uninterrupted one would); with `winks`, each run is instead
    a wink (`WinkRuns`) with probability `wink_share`."""

    def __init__(
        self, ends: np.ndarray, k: int, seed: int, winks: WinkRuns | None = None, wink_share: float = 0.0
    ) -> None:
        if len(ends) == 0:
            raise InputError(f"no run of {k} consecutive training frames with a face; the clip is too short or broken")
        self.ends, self.k = ends, k
        self.winks = winks if winks is not None and len(winks.ends) and wink_share > 0 else None
        self.wink_share = wink_share
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, sequences: int) -> Draw:
        """`sequences` runs, each oldest first: `sequences * K` frames and their donors."""
        picks = torch.randint(len(self.ends), (sequences,), generator=self.generator).numpy()
        ends, donor_ends, eyes = self.ends[picks], np.full(sequences, -1), np.full(sequences, -1)
        if self.winks is not None:  # drawn only then, so a run without winks draws what it always drew
            wink = torch.rand(sequences, generator=self.generator).numpy() < self.wink_share
            chosen = torch.randint(len(self.winks.ends), (sequences,), generator=self.generator).numpy()
            ends = np.where(wink, self.winks.ends[chosen], ends)
            donor_ends = np.where(wink, ends + self.winks.offsets[chosen], -1)
            eyes = np.where(wink, self.winks.eyes[chosen], -1)
        back = np.arange(self.k - 1, -1, -1)[None, :]
        frames = (ends[:, None] - back).reshape(-1)
        donors = np.where(donor_ends[:, None] >= 0, donor_ends[:, None] - back, -1).reshape(-1)
        return Draw(frames, donors, np.repeat(eyes, self.k))
