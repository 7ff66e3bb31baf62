"""The INT8 generator's check at load: present, intact, made from this FP32 file, and within the quality guard.

Making the file (calibration on the target's training frames, the held-out
scores) is a training job: `reenact.train.quantize`. Loading only reads what it
recorded in model.json (`ModelInfo.int8`), so it reruns nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from reenact.errors import BackendUnavailableError, FormatError
from reenact.model_folder import GENERATOR_INT8, GENERATOR_ONNX, ModelFolder, file_hash

QUALITY_LIMIT_DB = 0.5
"""An INT8 generator may score at most this far below FP32 (held-out PSNR over the crop)."""


PRECISION_KEY = "reenact.precision"
"""Metadata key the INT8 file carries ("int8"), beside the FP32 file's own metadata."""


class Int8RefusedError(BackendUnavailableError):
    """The INT8 generator is absent, unchecked, stale, or below the quality guard: use FP32."""


@dataclass(frozen=True)
class Int8Quality:
    """Held-out scores of the FP32 and INT8 generators on the same frames (model.json's `int8`)."""

    psnr_fp32: float
    """Mean PSNR (dB) of FP32 crops against the real ones."""
    psnr_int8: float
    """Mean PSNR (dB) of INT8 crops against the real ones."""
    psnr_face_fp32: float
    """Mean PSNR (dB) over the rendered face, FP32."""
    psnr_face_int8: float
    """Mean PSNR (dB) over the rendered face, INT8."""
    sharpness_fp32: float
    """Mean Laplacian-variance ratio generated / real over the face, FP32 (1: as sharp as the real frame)."""
    sharpness_int8: float
    """The same, INT8."""
    frames: int
    """Held-out frames scored."""
    fp32_sha256: str
    """sha256 of the generator.onnx it was quantized from: a record of another FP32 file is stale."""
    seconds: float = 0.0
    """Time calibration, quantization and scoring took."""

    @property
    def loss_db(self) -> float:
        """How far INT8's held-out PSNR is below FP32's (negative: above)."""
        return self.psnr_fp32 - self.psnr_int8

    def passes(self, limit_db: float = QUALITY_LIMIT_DB) -> bool:
        return bool(self.loss_db <= limit_db)

    def line(self) -> str:
        """One line for people: both PSNRs and sharpnesses, and the loss."""
        return (f"held-out PSNR INT8 {self.psnr_int8:.2f} dB vs FP32 {self.psnr_fp32:.2f} dB "
                f"({self.loss_db:+.2f} dB lost; face {self.psnr_face_int8:.2f} vs {self.psnr_face_fp32:.2f} dB), "
                f"sharpness {self.sharpness_int8:.3f} vs {self.sharpness_fp32:.3f}, over {self.frames} frames")

    def to_dict(self) -> dict[str, float | str]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict, source: str) -> Int8Quality:
        try:
            return cls(**values)
        except TypeError as e:
            raise FormatError(f"{source}: bad int8 record ({e}); re-make it with `reenact export --int8`") from None


def checked_int8(folder: ModelFolder, limit_db: float = QUALITY_LIMIT_DB) -> Path:
    """The folder's generator.int8.onnx, present, intact and within the guard by its model.json record;
    Int8RefusedError (why, and the fix) when it is absent, unchecked, stale or below the guard, FormatError
    when it is damaged."""
    path = folder.path / GENERATOR_INT8
    remake = f"re-make it with `reenact export {folder.path} --int8`"
    if not path.is_file():
        raise Int8RefusedError(f"{folder.path} has no {GENERATOR_INT8} (`reenact export {folder.path} --int8` makes "
                               "one, faster on CPUs)")
    info = folder.info()
    if GENERATOR_INT8 not in info.files or not info.int8:
        raise Int8RefusedError(f"model.json records no hash or held-out check of {path}; {remake}")
    folder.verified(GENERATOR_INT8)
    quality = Int8Quality.from_dict(info.int8, str(folder.info_path))
    fp32 = info.files.get(GENERATOR_ONNX) or file_hash(folder.verified(GENERATOR_ONNX), 64)
    if quality.fp32_sha256 != fp32:
        raise Int8RefusedError(f"{path} was quantized from another {GENERATOR_ONNX} (re-exported or retrained "
                               f"since); {remake}")
    if not quality.passes(limit_db):
        raise Int8RefusedError(f"{path} is below the quality guard: {quality.line()}, more than {limit_db:g} dB "
                               f"below FP32; {remake} (or keep FP32)")
    return path
