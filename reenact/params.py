"""The contract every stage speaks: per-frame face parameters and the clip-level track.

`FaceModel` is a subject's face (neutral identity shape plus an expression
basis), `FaceParams` the per-frame pose, expression and gaze over T frames, and
`Track` a tracked clip: both, with the clip's fps, resolution, landmarks, shot
cuts and validity. Tracks are saved as versioned `.npz` files.
"""

from __future__ import annotations

import dataclasses
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reenact.errors import FormatError, InputError, OutputError
from reenact.geometry import FLIP

FORMAT_VERSION = 1
"""Version of the `.npz` track format; files of another version are refused."""


@dataclass
class FaceModel:
    """A subject's face in canonical space: neutral shape plus a linear expression basis.

    Expression coefficients of zero give the identity shape exactly (the basis is
    fitted without centring), so scaling coefficients towards zero dials an
    expression down towards neutral.
    """

    identity: np.ndarray
    """float32 468x3 neutral shape (robust median of the pose-normalised shapes)."""
    basis: np.ndarray
    """float32 Kx468x3 orthonormal expression basis (rows orthonormal when flattened)."""
    coefficient_range: np.ndarray
    """float32 Kx2 min and max coefficient seen on the clip the basis was fitted on."""

    @property
    def n_components(self) -> int:
        return int(self.basis.shape[0])

    def shapes(self, expression: np.ndarray) -> np.ndarray:
        """Canonical shapes float32 Tx468x3 for coefficients TxK.

        One frame (what conditioning asks for, frame by frame) goes through einsum: for a single row NumPy calls
        OpenBLAS's threaded matrix-vector product, which took 1-4 ms for this 1 x K by K x 1404 product beside
        other work on a 2-core CPU, against 0.01 ms in einsum; many frames go through BLAS's matrix product.
        """
        basis = self.basis.reshape(self.n_components, -1)
        offsets = np.einsum("tk,kn->tn", expression, basis) if len(expression) == 1 else expression @ basis
        return self.identity + offsets.reshape(len(expression), *self.identity.shape)

    def project(self, offsets: np.ndarray) -> np.ndarray:
        """Coefficients TxK of canonical offsets Tx468x3 from the identity."""
        flat = offsets.reshape(len(offsets), -1)
        return (flat @ self.basis.reshape(self.n_components, -1).T).astype(np.float32)


@dataclass
class FaceParams:
    """Per-frame face parameters over T frames (see `reenact.geometry` for the pose convention)."""

    rotation: np.ndarray
    """float32 Tx3x3 head rotation (identity = frontal)."""
    translation: np.ndarray
    """float32 Tx2 image position (px) of the canonical origin."""
    scale: np.ndarray
    """float32 T pixels per canonical unit (cm)."""
    expression: np.ndarray
    """float32 TxK coefficients in the subject's `FaceModel` basis."""
    gaze: np.ndarray
    """float32 Tx2x2 per eye (right, left): iris centre offset from the eye's centre,
    (x towards the head's left side, i.e. image right when frontal; y up), in half eye widths,
    measured in canonical (pose-free) space."""
    openness: np.ndarray
    """float32 Tx2 per eye (right, left): lid gap over eye width, ~0 closed, ~0.3 wide open."""
    valid: np.ndarray
    """bool T: a face was found and fitted; other frames' values are meaningless, never zeros passed off as data."""

    def __len__(self) -> int:
        return int(self.valid.shape[0])

    def __getitem__(self, index: slice | np.ndarray | int) -> FaceParams:
        """Frames `index` (a slice, index array or int) as a new FaceParams."""
        if isinstance(index, (int, np.integer)):
            index = slice(int(index), int(index) + 1)
        return FaceParams(**{f.name: getattr(self, f.name)[index] for f in dataclasses.fields(self)})

    def copy(self) -> FaceParams:
        return FaceParams(**{f.name: getattr(self, f.name).copy() for f in dataclasses.fields(self)})

    def vertices(self, model: FaceModel) -> np.ndarray:
        """Image-space mesh vertices float32 Tx468x3: x, y in px; z in px, smaller is nearer."""
        return place(model.shapes(self.expression), self.rotation, self.translation, self.scale)

    def save(self, path: str | Path) -> None:
        """Write the parameters alone as a versioned `.npz` (what `reenact edit --params-out` saves)."""
        arrays = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        _write_npz(Path(path), {"format_version": np.array(FORMAT_VERSION), **arrays})

    @classmethod
    def load(cls, path: str | Path) -> FaceParams:
        """Read parameters written by `save`."""
        data = _read_npz(Path(path), "face parameters")
        try:
            return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls)})
        except KeyError as e:
            raise FormatError(f"{path} lacks the field {e.args[0]!r}; it is not a reenact parameters file") from None


def place(shapes: np.ndarray, rotation: np.ndarray, translation: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Canonical points TxNx3 into the image by each frame's similarity (float32 TxNx3)."""
    world = shapes @ (FLIP @ rotation).transpose(0, 2, 1) * scale[:, None, None]
    world[..., :2] += translation[:, None, :]
    return world.astype(np.float32)


def unplace(points: np.ndarray, rotation: np.ndarray, translation: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Inverse of `place`: image points TxNx3 back into canonical space (pose-normalised)."""
    centred = points.astype(np.float32).copy()
    centred[..., :2] -= translation[:, None, :]
    centred /= scale[:, None, None]
    return (centred @ (FLIP @ rotation)).astype(np.float32)


@dataclass
class Track:
    """A tracked clip: the subject's face model, per-frame parameters and what they were fitted to."""

    params: FaceParams
    model: FaceModel
    landmarks: np.ndarray
    """float32 Tx478x3 Face Mesh landmarks in px (z in px, smaller nearer), after temporal filtering
    when `filtered`; NaN on invalid frames."""
    fit_error: np.ndarray
    """float32 T median distance (px) between the fitted model's vertices and the landmarks,
    the track's per-frame confidence (NaN on invalid frames)."""
    cuts: np.ndarray
    """int32 frame indices where a new shot starts (frame 0 is implied and not listed)."""
    fps: float
    width: int
    height: int
    filtered: bool = True
    source: str = ""
    """The video the track was made from (informational)."""
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def n_frames(self) -> int:
        return len(self.params)

    def shot_starts(self) -> np.ndarray:
        """Start frame of every shot, 0 included."""
        return np.concatenate([[0], self.cuts]).astype(np.int64)

    def save(self, path: str | Path) -> None:
        """Write the track as a versioned `.npz` (to a temporary name, then renamed into place)."""
        path = Path(path)
        arrays = {f"params.{f.name}": getattr(self.params, f.name) for f in dataclasses.fields(self.params)}
        arrays |= {f"model.{f.name}": getattr(self.model, f.name) for f in dataclasses.fields(self.model)}
        arrays |= {
            "format_version": np.array(FORMAT_VERSION),
            "landmarks": self.landmarks,
            "fit_error": self.fit_error,
            "cuts": self.cuts.astype(np.int32),
            "fps": np.array(self.fps, dtype=np.float64),
            "size": np.array([self.width, self.height], dtype=np.int32),
            "filtered": np.array(self.filtered),
            "source": np.array(self.source),
            "meta_keys": np.array(list(self.meta.keys()), dtype=str),
            "meta_values": np.array(list(self.meta.values()), dtype=str),
        }
        _write_npz(path, arrays)

    @classmethod
    def load(cls, path: str | Path) -> Track:
        """Read a track written by `save`; a missing, corrupt or other-version file raises a clear error."""
        path = Path(path)
        data = _read_npz(path, "track")
        try:
            params = FaceParams(**{f.name: data[f"params.{f.name}"] for f in dataclasses.fields(FaceParams)})
            model = FaceModel(**{f.name: data[f"model.{f.name}"] for f in dataclasses.fields(FaceModel)})
            width, height = (int(v) for v in data["size"])
            return cls(
                params=params,
                model=model,
                landmarks=data["landmarks"],
                fit_error=data["fit_error"],
                cuts=data["cuts"].astype(np.int32),
                fps=float(data["fps"]),
                width=width,
                height=height,
                filtered=bool(data["filtered"]),
                source=str(data["source"]),
                meta=dict(zip(data["meta_keys"].tolist(), data["meta_values"].tolist())),
            )
        except KeyError as e:
            raise FormatError(f"{path} lacks the field {e.args[0]!r}; it is not a complete reenact track") from None


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write arrays as a compressed `.npz`, to a temporary name and then renamed into place."""
    tmp = path.with_name(f".{path.name}.tmp.npz")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(tmp, **arrays)
        os.replace(tmp, path)
    except OSError as e:  # a full disk or a folder that cannot be written: no partial file, the old one kept
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None


def _read_npz(path: Path, what: str) -> dict[str, np.ndarray]:
    """The arrays of a versioned `.npz` of ours; a missing, corrupt or other-version file raises a clear error."""
    if not path.is_file():
        raise InputError(f"{what} file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as d:
            data = {k: d[k] for k in d.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise FormatError(f"{path} is not a readable reenact {what} file (.npz): {e}") from None
    version = int(data["format_version"]) if "format_version" in data else None
    if version != FORMAT_VERSION:
        raise FormatError(
            f"{path} is a {what} file of format version {version}, this reenact reads version {FORMAT_VERSION}; "
            "re-run `reenact track` on the video"
        )
    return data
