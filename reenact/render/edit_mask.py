"""The edit mask: which pixels of the target's crop are re-rendered; every other pixel is context, kept.

A re-rendered film keeps its hair, clothes, hands and background: those pixels
are in the clip already, and a generator that has to invent them blurs them.
So the generator sees the target frame's own crop with the **edit mask**
blanked out (the context) beside the conditioning stack, and draws only what
is inside the mask (`reenact.nn.generator` composites it over the context).

The mask is the face pixels of the sub-regions an edit drives (all of them for
a full transfer; the mouth and jaw for dubbing; one eye for a wink), where the
target frame's own parameters put them and where the output's put them (a
mouth that opens wider than the target's reaches lower), grown by a margin
that takes in the hairline, the jaw line and the motion between the two.

Training draws masks the same way, at random (`random_edit_masks`), so one
model serves full, expression and regional edits. Sub-region maps come from
`reenact.render.conditioning` (`FrameImages.sub_regions`: 0 off the face,
1 + the index in `reenact.tracking.face_regions.SUB_REGIONS` on it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from reenact.edits import LookAt, SetActionUnit, SetEyeOpenness, Smile, TurnHead
from reenact.errors import SettingError
from reenact.facs.units import regions_moved, resolve
from reenact.recombine import Component, RecombineConfig
from reenact.tracking.face_regions import SUB_REGIONS

MASKED_VALUE = 0.0
"""Value of the context's RGB inside the mask (mid-grey in [-1, 1]: no colour to copy)."""
TRAIN_FULL_FACE = 0.5
"""Share of training masks that cover the whole face (the rest: random sets of sub-regions)."""
TRAIN_GROW = (0.02, 0.12)
"""Range of the training masks' margin, as a fraction of the crop size: from a tight regional edit to a
head turn, whose old and new head outlines both need re-rendering."""
POSE_GROW = 0.10
"""Margin when the head pose changes: the outline of the head moves, and the hair and ears around it with it."""
_EYES, _BROWS = ("right_eye", "left_eye"), ("right_brow", "left_brow")


@dataclass(frozen=True)
class EditMaskConfig:
    """Which face sub-regions an output re-renders, and how far around them."""

    regions: frozenset[str] = frozenset(SUB_REGIONS)
    """Sub-regions to re-render (names from `reenact.tracking.face_regions.SUB_REGIONS`); all of them by default."""
    grow: float = 0.05
    """Margin around the regions' pixels, as a fraction of the crop size (0.05: 13 px at 256): the
    hairline, the jaw line and the face's motion between target and output."""

    def __post_init__(self) -> None:
        unknown = set(self.regions) - set(SUB_REGIONS)
        if unknown or not self.regions:
            raise SettingError(f"edit regions must be a non-empty set of {', '.join(SUB_REGIONS)}; got {sorted(self.regions)}")
        if not 0 <= self.grow < 0.5:
            raise SettingError(f"grow must be in [0, 0.5) of the crop size, got {self.grow}")

    def mask(self, *sub_region_maps: Tensor) -> Tensor:
        """bool ... x S x S edit mask of one or more sub-region maps of the same crop (uint8 ... x S x S)."""
        union = torch.zeros_like(sub_region_maps[0], dtype=torch.bool)
        for regions in sub_region_maps:
            union |= select(regions, self.regions)
        return grow_mask(union, round(self.grow * union.shape[-1]))


def select(sub_regions: Tensor, names: Iterable[str]) -> Tensor:
    """bool: the pixels of the named sub-regions in a uint8 sub-region map."""
    wanted = torch.zeros(len(SUB_REGIONS) + 1, dtype=torch.bool, device=sub_regions.device)
    wanted[[1 + SUB_REGIONS.index(name) for name in names]] = True
    return wanted[sub_regions.long()]


def grow_mask(mask: Tensor, pixels: int) -> Tensor:
    """bool mask (... x S x S) grown by `pixels` in every direction: a square max filter. On the CPU, OpenCV's
    dilation (a separable running max: 0.2 ms at 256 px with a 27 px window, against 14 ms for torch's
    max_pool2d, measured one after the other in one run); elsewhere a column then a row max_pool2d (the same
    result; a 2-D window of side 2 * pixels + 1 costs that side times more)."""
    if pixels <= 0:
        return mask
    shape = mask.shape
    side = 2 * pixels + 1
    if mask.device.type == "cpu":
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (side, side))
        planes = mask.reshape(-1, *shape[-2:]).numpy().astype(np.uint8)
        grown = np.stack([cv2.dilate(plane, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
                          for plane in planes])
        return torch.from_numpy(grown > 0).reshape(shape)
    flat = mask.reshape(-1, 1, *shape[-2:]).float()
    flat = F.max_pool2d(flat, (side, 1), 1, (pixels, 0))
    return (F.max_pool2d(flat, (1, side), 1, (0, pixels)) > 0).reshape(shape)


def generator_input(stack: Tensor, crop: Tensor, mask: Tensor) -> Tensor:
    """float32 B x (W*C + 4) x S x S: the conditioning stack, the crop with the mask blanked, the mask (+1 inside,
    -1 outside). stack B x (W*C) x S x S and crop B x 3 x S x S in [-1, 1]; mask bool B x 1 x S x S or B x S x S."""
    if mask.dim() == 3:
        mask = mask[:, None]
    context = torch.where(mask, torch.full_like(crop, MASKED_VALUE), crop)
    return torch.cat([stack, context, mask.to(crop.dtype) * 2 - 1], dim=1)


def random_edit_masks(
    sub_regions: Tensor, frames_per_run: int, generator: torch.Generator,
    lent_eyes: Tensor | None = None, donor_sub_regions: Tensor | None = None,
) -> Tensor:
    """bool B x 1 x S x S training masks for uint8 B x 1 x S x S sub-region maps laid out in runs of K frames.

    Each run gets one draw, shared by its K frames (an edit covers a stretch of
    frames): the whole face with probability TRAIN_FULL_FACE, else a random
    non-empty set of sub-regions, each grown by a margin drawn from TRAIN_GROW.
    A run lent an eye (`lent_eyes`, int64 B: 0 right, 1 left, -1 none; the
    donors' maps in `donor_sub_regions`) gets that eye only, where either map
    puts it: a wink's edit mask, the other eye left as context.
    """
    b, size = sub_regions.shape[0], sub_regions.shape[-1]
    k = frames_per_run
    masks = []
    for index, run in enumerate(sub_regions.view(b // k, k, *sub_regions.shape[1:])):
        eye = -1 if lent_eyes is None else int(lent_eyes[index * k])
        if eye >= 0:
            names = [_EYES[eye]]
        elif torch.rand((), generator=generator) < TRAIN_FULL_FACE:
            names = list(SUB_REGIONS)
        else:
            picks = torch.rand(len(SUB_REGIONS), generator=generator) < 0.5
            if not picks.any():
                picks[torch.randint(len(SUB_REGIONS), (), generator=generator)] = True
            names = [name for name, pick in zip(SUB_REGIONS, picks) if pick]
        low, high = TRAIN_GROW
        grow = low + (high - low) * float(torch.rand((), generator=generator))
        chosen = select(run, names)
        if eye >= 0 and donor_sub_regions is not None:
            chosen |= select(donor_sub_regions[index * k : (index + 1) * k], names)
        masks.append(grow_mask(chosen, round(grow * size)))
    return torch.cat(masks)


def edit_regions(recombination: RecombineConfig | None = None, edits: Iterable[object] = ()) -> EditMaskConfig:
    """The edit mask a re-render needs: the sub-regions that a source (`recombination`) and direct `edits`
    (`reenact.edits`) can move, and a wider margin when the head pose changes. Nothing asked: the whole face."""
    regions: set[str] = set()
    pose = False
    if recombination is not None:
        components = recombination.components
        pose = Component.POSE in components
        weights = recombination.weights
        driven = {("mouth",): weights.mouth, _EYES: weights.eyes, _BROWS: weights.brows}
        if Component.EXPRESSION in components:
            regions.update(name for names, weight in driven.items() if weight > 0 for name in names)
        if Component.GAZE in components and weights.eyes > 0:
            regions.update(_EYES)
    for edit in edits:
        if isinstance(edit, TurnHead):
            pose = True
        elif isinstance(edit, Smile):
            regions.add("mouth")
        elif isinstance(edit, SetEyeOpenness | LookAt):
            regions |= set(_EYES) if edit.eye == "both" else {f"{edit.eye}_eye"}
        elif isinstance(edit, SetActionUnit):
            regions.update(*(regions_moved(index) for index in resolve(edit.unit)))
    if pose or not regions:
        return EditMaskConfig(grow=POSE_GROW if pose else EditMaskConfig.grow)
    return EditMaskConfig(frozenset(regions))
