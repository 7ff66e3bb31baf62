"""Face Mesh landmarks (478 points with irises) from MediaPipe, following one face.

MediaPipe runs in video mode (it tracks the face region from frame to frame and
re-detects only when it loses it), with refined iris landmarks. When several
faces are in view, the one chosen on the first frame (the largest by default,
or the N-th largest) is followed: each later frame takes the face nearest to
where the followed face was.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reenact.errors import InputError


@dataclass(frozen=True)
class LandmarkConfig:
    """Face Mesh settings."""

    face: int = 0
    """Which face to follow, by size at the start: 0 the largest, 1 the next, ..."""
    max_faces: int = 2
    """Faces MediaPipe looks for per frame (at least face + 1); more costs time on every frame."""
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5


class LandmarkDetector:
    """Feed RGB frames in order; get the followed face's 478x3 landmarks in px, or None."""

    def __init__(self, config: LandmarkConfig = LandmarkConfig()) -> None:
        try:
            from mediapipe.python.solutions import face_mesh
        except ImportError:
            raise InputError("tracking needs MediaPipe: pip install mediapipe==0.10.21") from None
        self.config = config
        self._face_mesh_module = face_mesh
        self._mesh = None
        self._followed: np.ndarray | None = None
        self.restart()

    def restart(self) -> None:
        """Start afresh (at a shot cut): new MediaPipe graph, face chosen again by size."""
        self.close()
        self._mesh = self._face_mesh_module.FaceMesh(
            static_image_mode=False,
            max_num_faces=max(self.config.max_faces, self.config.face + 1),
            refine_landmarks=True,
            min_detection_confidence=self.config.min_detection_confidence,
            min_tracking_confidence=self.config.min_tracking_confidence,
        )
        self._followed = None

    def detect(self, rgb: np.ndarray) -> np.ndarray | None:
        """Landmarks float32 478x3 (x, y in px; z in px, smaller nearer) of the followed face, or None."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected uint8 HxWx3 RGB, got {rgb.dtype} {rgb.shape}")
        h, w = rgb.shape[:2]
        result = self._mesh.process(rgb)
        if not result.multi_face_landmarks:
            return None
        faces = [
            np.array([(p.x * w, p.y * h, p.z * w) for p in face.landmark], dtype=np.float32)
            for face in result.multi_face_landmarks
        ]
        chosen = self._choose(faces)
        if chosen is not None:
            self._followed = chosen
        return chosen

    def _choose(self, faces: list[np.ndarray]) -> np.ndarray | None:
        if self._followed is None:
            if len(faces) <= self.config.face:
                return None
            sizes = [np.ptp(f[:, 0]) * np.ptp(f[:, 1]) for f in faces]
            return faces[int(np.argsort(sizes)[::-1][self.config.face])]
        centre = self._followed[:, :2].mean(0)
        distances = [np.linalg.norm(f[:, :2].mean(0) - centre) for f in faces]
        return faces[int(np.argmin(distances))]

    def close(self) -> None:
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None

    def __enter__(self) -> LandmarkDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
