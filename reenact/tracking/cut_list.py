"""Which frames start a new shot, as the user says: detect them, none, or a list of times or frames.

The detector can miss a cut or find one a clip does not have; the user can
then name the cuts. The syntax (`--cuts` of `track`, `run` and `edit`):

    auto               detect them (the default)
    none               the whole clip is one shot
    12.5s,30s          cuts at these times (seconds, suffix s)
    300,750            cuts at these frames (0-based: the first frame of each new shot)

Times and frames may be mixed in one list; each names the first frame of a new
shot, so a time is rounded to the nearest frame at the clip's frame rate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reenact.errors import SettingError

SYNTAX = "auto, none, or a comma-separated list of times (12.5s) or frames (300)"


@dataclass(frozen=True)
class CutList:
    """The user's word on a clip's shot cuts."""

    detect: bool = True
    """Find the cuts with the detector (`auto`); False uses `frames` and `seconds` only."""
    frames: tuple[int, ...] = ()
    """Cuts given as frame indices (each > 0)."""
    seconds: tuple[float, ...] = ()
    """Cuts given as times (each > 0 s)."""

    def resolve(self, fps: float, n_frames: int | None = None) -> np.ndarray:
        """int32 sorted frames that start a new shot (empty for auto: the detector decides).

        A cut at or beyond the clip's `n_frames` (when known) is an error, not silently dropped.
        """
        frames = set(self.frames) | {round(s * fps) for s in self.seconds}
        frames.discard(0)  # a time that rounds to frame 0 names the first shot's start
        cuts = np.array(sorted(frames), dtype=np.int32)
        if n_frames is not None and len(cuts) and cuts[-1] >= n_frames:
            raise SettingError(
                f"--cuts names frame {cuts[-1]} ({cuts[-1] / fps:.2f} s), but the clip has {n_frames} frames "
                f"({n_frames / fps:.2f} s at {fps:g} fps)"
            )
        return cuts


AUTO = CutList()
NONE = CutList(detect=False)


def parse_cuts(text: str) -> CutList:
    """A `CutList` from the `--cuts` syntax (see the module docstring); malformed text raises SettingError."""
    value = text.strip().lower()
    if value == "auto":
        return AUTO
    if value == "none":
        return NONE
    frames: list[int] = []
    seconds: list[float] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            raise SettingError(f"--cuts {text!r} has an empty item; expected {SYNTAX}")
        try:
            if item.endswith("s"):
                seconds.append(float(item[:-1]))
                bad = not seconds[-1] > 0 or not np.isfinite(seconds[-1])
            else:
                frames.append(int(item))
                bad = frames[-1] <= 0
        except ValueError:
            hint = " (write times with an s, e.g. 12.5s)" if _is_number(item) else ""
            raise SettingError(f"--cuts {text!r}: {item!r} is not a time or a frame{hint}; expected {SYNTAX}") from None
        if bad:
            raise SettingError(
                f"--cuts {text!r}: {item!r} must be after the start (frame 0 always starts the first shot); "
                f"expected {SYNTAX}"
            )
    return CutList(detect=False, frames=tuple(frames), seconds=tuple(seconds))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
