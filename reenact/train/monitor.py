"""What a training run shows a person: validation scores, preview grids and the log.

Validation renders held-out frames (the clip's tail, never trained on) with the
EMA generator, the one that is exported, and scores them with the same
metrics as `reenact eval` (`reenact.eval.metrics`), over the whole crop and
over the rendered face.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import cv2
import numpy as np
import torch

from reenact.eval.metrics import image_scores
from reenact.nn.generator import Generator
from reenact.render.preview import side_by_side, to_uint8
from reenact.train.dataset import TrainingSet

VALIDATION_METRICS = ("psnr", "ssim", "psnr_face", "ssim_face")
"""What validation scores (the log's and model.json's metrics)."""


@torch.no_grad()
def render_frames(
    generator: Generator, data: TrainingSet, frames: np.ndarray, device: torch.device, batch: int = 8
) -> list[np.ndarray]:
    """The generator's uint8 S x S x 3 crops of `frames`."""
    out = []
    for start in range(0, len(frames), batch):
        chunk = data.batch(frames[start : start + batch], device)
        out += [to_uint8(image) for image in generator(chunk.generator_input(generator.config.context))]
    return out


def real_crop(data: TrainingSet, frame: int) -> np.ndarray:
    """The real uint8 S x S x 3 crop of a frame."""
    return np.ascontiguousarray(data.crops[frame].transpose(1, 2, 0))


def validate(generator: Generator, data: TrainingSet, frames: np.ndarray, device: torch.device) -> dict[str, float]:
    """Mean PSNR and SSIM over the crop and over the rendered face, on `frames` (face scores over the frames
    that have one)."""
    scores: dict[str, list[float]] = {name: [] for name in VALIDATION_METRICS}
    for frame, fake in zip(frames, render_frames(generator, data, frames, device)):
        frame_scores = image_scores(fake, real_crop(data, int(frame)), (data.masks[frame] & 1) > 0)
        for name, values in scores.items():
            if not np.isnan(frame_scores[name]):
                values.append(frame_scores[name])
    return {name: float(np.mean(values)) for name, values in scores.items() if values}


def preview_grid(generator: Generator, data: TrainingSet, frames: np.ndarray, device: torch.device) -> np.ndarray:
    """One row per frame: conditioning (correspondence) | generated | real; uint8 RGB."""
    rows = []
    fakes = render_frames(generator, data, frames, device)
    size = data.crops.shape[-1]
    height = max(size, 128)
    for frame, fake in zip(frames, fakes):
        correspondence = to_uint8(torch.from_numpy(data.images[frame][:3].astype(np.float32) / 127.5 - 1))
        rows.append(side_by_side([correspondence, fake, real_crop(data, int(frame))], height,
                                 [f"frame {frame}", "generated", "real"]))
    return np.concatenate(rows, axis=0)


def write_png(path: Path, rgb: np.ndarray) -> None:
    """Write an RGB image as PNG, atomically."""
    tmp = path.with_name(f".{path.stem}.tmp.png")
    if not cv2.imwrite(str(tmp), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
    os.replace(tmp, path)


class TrainingLog:
    """One CSV row per logged step (and TensorBoard scalars when tensorboard is installed).

    A resumed run appends to the same file; one written by a version with other columns is first rewritten
    with today's, each old value under its own name (a column it lacked stays empty), so no value lands under
    another's heading.
    """

    COLUMNS = ("step", "seconds", "lr_g", "l1", "detail_l1", "g_adv", "feature_matching", "d_frame", "d_temporal",
               "d_real_acc", "d_fake_acc", "psnr", "ssim", "psnr_face", "ssim_face")

    def __init__(self, path: Path, tensorboard_dir: Path | None = None) -> None:
        self.path = path
        if not path.exists():
            with open(path, "w", newline="") as f:
                csv.writer(f).writerow(self.COLUMNS)
        else:
            self._match_columns()
        self._board = None
        if tensorboard_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is an optional extra
                pass
            else:
                self._board = SummaryWriter(str(tensorboard_dir))

    def _match_columns(self) -> None:
        with open(self.path, newline="") as f:
            reader = csv.DictReader(f)
            if tuple(reader.fieldnames or ()) == self.COLUMNS:
                return
            rows = list(reader)
        partial = self.path.with_name(self.path.name + ".partial")
        with open(partial, "w", newline="") as f:
            writer = csv.DictWriter(f, self.COLUMNS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        os.replace(partial, self.path)

    def write(self, step: int, values: dict[str, float]) -> None:
        with open(self.path, "a", newline="") as f:
            csv.writer(f).writerow([step] + [_cell(values.get(c)) for c in self.COLUMNS[1:]])
        if self._board is not None:
            for name, value in values.items():
                self._board.add_scalar(name, value, step)

    def close(self) -> None:
        if self._board is not None:
            self._board.close()


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"
