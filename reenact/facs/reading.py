"""Reading AU intensities from face parameters: a bounded least-squares fit of each frame's expression change.

A frame's expression offset is its canonical shape (the subject's `FaceModel`
at the frame's coefficients) less the shape of the clip's neutral frame; the
fit explains it as a bounded non-negative mix of the AU fields carried onto
the subject's face (`units.subject_fields`). The
mesh alone under-reports blinks (a basis fitted on a clip with few blinks
barely closes the lids), so each eye's measured openness change adds one
equation, the lid gap that the AUs' fields would open or close; a small ridge
keeps opposite AUs from both reading high.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reenact.errors import OutputError
from reenact.facs.units import CODES, LABELS, openness_effects, subject_fields
from reenact.params import FaceModel, FaceParams, Track
from reenact.tracking.face_regions import neutral_frame

MAX_INTENSITY = 1.5
"""Upper bound of a read intensity (1 is the pronounced movement the AU's field describes)."""
OPENNESS_WEIGHT = 30.0
"""Weight of an eye's openness equation against the mesh's (cm): an openness error of 0.01 (lid gap over
eye width) costs as much as a 0.3 cm error at one vertex, so the measured lid gap outweighs a basis whose
lids follow the gaze (on drive_d10, 10 left AU45 at 0.35 on frames looking down, 30 at 0.30)."""
STRONG = 0.3
"""An AU at or above this intensity is named on a frame (the overlay's strongest AUs): the known-answer
cross-talk stays under 0.1, and speech alone moves the small lip AUs to about 0.2-0.3."""
RIDGE = 0.02
"""Cost (cm^2) of each AU's squared intensity. Opposite AUs (AU5 raising the lid that AU45 lowers) could
otherwise both read high where their effects cancel; it shrinks a lone AU by under 10% (the smallest field,
AU23's, has a squared norm of about 0.3 cm^2)."""


@dataclass(frozen=True)
class AUReading:
    """AU intensities over a clip's frames."""

    intensities: np.ndarray
    """float32 TxN, columns `codes`, in [0, MAX_INTENSITY]; NaN on invalid frames."""
    codes: tuple[str, ...]
    fps: float
    reference: int
    """The neutral frame intensities are relative to."""

    def column(self, code: str) -> np.ndarray:
        return self.intensities[:, self.codes.index(code)]

    def strongest(self, frame: int, count: int = 3, floor: float = STRONG) -> str:
        """The frame's `count` strongest AUs at or above `floor`, strongest first: "AU12_L 0.82, AU6 0.41"
        ("" when none is, or the frame has no face)."""
        row = self.intensities[frame]
        order = [k for k in np.argsort(-np.nan_to_num(row, nan=-1.0)) if row[k] >= floor][:count]
        return ", ".join(f"{LABELS[CODES.index(self.codes[k])]} {row[k]:.2f}" for k in order)

    def write_csv(self, path: str | os.PathLike) -> None:
        """One row per frame: frame, time (s), then each AU's intensity (empty on frames without a face)."""
        path = Path(path)
        lines = [",".join(("frame", "time_s", *(LABELS[CODES.index(code)] for code in self.codes)))]
        for frame, row in enumerate(self.intensities):
            values = ("" if np.isnan(x) else f"{x:.3f}" for x in row)
            lines.append(",".join((str(frame), f"{frame / self.fps:.3f}", *values)))
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            tmp.write_text("\n".join(lines) + "\n")
            os.replace(tmp, path)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise OutputError(f"cannot write {path}: {e.strerror or e}") from None


class AUReader:
    """Fits AU intensities to a subject's frames, relative to one neutral frame."""

    def __init__(self, model: FaceModel, reference_expression: np.ndarray, reference_openness: np.ndarray) -> None:
        """`reference_expression` K and `reference_openness` 2: the neutral frame's coefficients and openness."""
        self.model = model
        self.reference_shape = model.shapes(reference_expression[None])[0]
        self.reference_openness = reference_openness.astype(np.float64)
        au_fields = subject_fields(model).astype(np.float64)
        design = np.concatenate([au_fields.reshape(len(au_fields), -1),
                                 OPENNESS_WEIGHT * openness_effects(au_fields, model.identity).astype(np.float64),
                                 np.sqrt(RIDGE) * np.eye(len(au_fields))], axis=1).T
        # The fit's design is fixed: solve it on its R factor, an NxN problem per frame instead of (3*468+2)xN.
        self._q, self._r = np.linalg.qr(design)

    def __call__(self, expression: np.ndarray, openness: np.ndarray) -> np.ndarray:
        """float32 TxN intensities for coefficients TxK and openness Tx2."""
        from scipy.optimize import lsq_linear

        offsets = self.model.shapes(expression) - self.reference_shape
        targets = np.concatenate([offsets.reshape(len(offsets), -1),
                                  OPENNESS_WEIGHT * (openness - self.reference_openness),
                                  np.zeros((len(offsets), self._r.shape[1]))], axis=1)
        reduced = targets @ self._q
        out = np.empty((len(expression), self._r.shape[1]), dtype=np.float32)
        for t, b in enumerate(reduced):
            out[t] = lsq_linear(self._r, b, bounds=(0.0, MAX_INTENSITY), method="bvls").x
        return out


def read_params(model: FaceModel, params: FaceParams, fps: float, reference: int | None = None) -> AUReading:
    """AU intensities of every frame of `params`, relative to `reference` (default: the most neutral frame,
    `face_regions.neutral_frame`)."""
    reference = neutral_frame(model, params) if reference is None else reference
    reader = AUReader(model, params.expression[reference], params.openness[reference])
    intensities = np.full((len(params), len(CODES)), np.nan, dtype=np.float32)
    valid = np.flatnonzero(params.valid)
    intensities[valid] = reader(params.expression[valid], params.openness[valid])
    return AUReading(intensities, CODES, fps, reference)


def read_track(track: Track, reference: int | None = None) -> AUReading:
    """AU intensities of a tracked clip (see `read_params`)."""
    return read_params(track.model, track.params, track.fps, reference)
