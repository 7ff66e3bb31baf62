"""Shot-cut detection: where an edited clip jumps from one shot to the next.

Two kinds of cut, two tests:

- A **picture cut** joins two different clips: the whole picture changes at
  once, so consecutive frames' colour histograms (hue-saturation, on a small
  copy of the frame) jump apart. Decided as each frame arrives, so the
  landmark tracker can restart before it looks at the new shot.
- A **jump cut** removes a stretch of one take: same person, same background,
  the face jumps a little in place, size and expression, or hardly at all.
  The histogram barely moves. What gives it away is that everything changes
  at once: skin shading, hair, expression, the noise and compression pattern,
  not only the edges a moving face drags along. So the face region is
  measured per block as the change between consecutive frames that a local
  shift does not explain (the change minus its least-squares fit by the
  image gradient): a moving face's edges are taken out, a new shot's texture
  is left. It is judged not by a fixed size (talking heads move at very
  different speeds) but against the same block on the frames just before and
  just after: a cut is a one-frame change several times larger than on either
  side of it, over most of the face at once. Looking at both sides tells a cut
  from the start of a fast head turn (whose change goes on), the median over
  the face's blocks tells it from a blink or speech (a small part of the
  face), and a noise floor keeps a still face's flicker from counting. Jump
  cuts are found after the pass over the clip (`jump_cuts`); the landmark
  tracker follows a face through such a small jump without a restart.

  The raw landmarks' jump against the motion predicted from their neighbours
  was the other test here; it is not used, because on the sample clips it
  tells cuts from motion worse than appearance alone does, and adds nothing to
  it in any combination measured (README, *Shot cuts*): a real one-frame jerk
  of the head, a one-frame spike of the landmarks or a gesture scores as high
  as a cut, while the change such a jerk makes is explained by a shift.

**Repeated frames** (a clip converted to a higher frame rate, or a phone that
stalled) show no change from the frame before, and the frame after one may
carry two frames' worth of motion. Left in, they would make the motion around
a cut look jerky (so the cut looks small) and the frame after each repeat
look like a jump. They are found from the whole frame's change (on the
histogram's small copy; a repeat changes far less than the frames around it)
and the jump test skips them, as if the clip had been played without them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import cv2
import numpy as np

PATCH = 64
"""Side (px) of the grey face patch whose change between frames is measured."""
GRID = 8
"""The patch is measured in GRID x GRID blocks (of PATCH / GRID px each)."""
SHIFT_RIDGE = 0.1
"""Added to each block's gradient energy (grey levels² per px²) when fitting its shift: keeps the fit
stable in flat blocks, where a shift explains nothing."""
CHUNK = 1024
"""Frames judged at once by `appearance_jump` (bounds its memory on long clips)."""
SMALL_WIDTH = 64
"""Width (px) of the small copy of each frame that the histogram and the whole-frame change are measured on."""


@dataclass(frozen=True)
class CutConfig:
    """Thresholds of the cut detector."""

    threshold: float = 0.35
    """Histogram distance (Bhattacharyya, 0..1) above which consecutive frames are different shots."""
    jump_ratio: float = 3.0
    """A jump cut's face change (what a shift does not explain), as a multiple of the larger change of the
    frames on either side, over most of the face: on 13 963 frames of continuous takes (speech, blinks,
    smiles, head turns, repeated frames) it reached 2.47 at most."""
    window: int = 4
    """Frames on each side whose median change a jump is compared with (0.13-0.17 s: short enough for
    the motion to be steady, long enough that one odd frame, a blink, does not set it)."""
    min_side: int = 3
    """Frames of the same shot with a face needed on each side before a jump can be judged."""
    appearance_noise: float = 0.25
    """Grey-level change (0..255, RMS per block) that noise and compression give a still face."""
    face_margin: float = 1.2
    """The face region: the landmarks' bounding square, grown by this factor."""
    repeat_ratio: float = 0.25
    """A frame whose whole-frame change from the one before is under this fraction of the median change of
    the 4 frames around it repeats its predecessor (encoders keep a repeat within a few tenths of a grey
    level; natural motion does not stop dead for one frame and go on at full speed)."""


def small_copy(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB copy of a frame SMALL_WIDTH px wide (area-averaged, so noise averages out)."""
    h, w = rgb.shape[:2]
    size = (SMALL_WIDTH, max(1, round(SMALL_WIDTH * h / w)))
    return cv2.resize(_thinned(rgb, w // (2 * SMALL_WIDTH)), size, interpolation=cv2.INTER_AREA)


def frame_histogram(small: np.ndarray) -> np.ndarray:
    """Normalised 16x16 hue-saturation histogram of a frame's `small_copy`."""
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], None, [16, 16], [0, 180, 0, 256])
    return cv2.normalize(hist, None, alpha=1.0, norm_type=cv2.NORM_L1)


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya distance of two histograms from `frame_histogram`: 0 same, 1 disjoint."""
    return float(cv2.compareHist(a, b, cv2.HISTCMP_BHATTACHARYYA))


def frame_change(previous: np.ndarray, current: np.ndarray) -> float:
    """Mean absolute grey-level change (0..255) between two uint8 grey images of one size."""
    return cv2.norm(previous, current, cv2.NORM_L1) / previous.size


def repeated_frames(change: np.ndarray, ratio: float) -> np.ndarray:
    """bool T: frames that repeat their predecessor. change: float T whole-frame change from the frame
    before (`frame_change`; NaN for the first frame and after picture cuts)."""
    n = len(change)
    padded = np.concatenate([np.full(2, np.nan), change, np.full(2, np.nan)])
    around = np.stack([padded[2 + o : 2 + o + n] for o in (-2, -1, 1, 2)])
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # no neighbour measured: not a repeat
        return change < ratio * np.nanmedian(around, axis=0)


def face_box(landmarks: np.ndarray, frame_size: tuple[int, int], margin: float) -> tuple[int, int, int, int] | None:
    """x0, y0, x1, y1 (px, clipped to the frame) of the square around 478x3 landmarks grown by `margin`;
    None when less than a few pixels of it lie in the frame."""
    xy = landmarks[:, :2]
    lo, hi = xy.min(0), xy.max(0)
    centre = (lo + hi) / 2
    half = margin * float((hi - lo).max()) / 2
    w, h = frame_size
    x0, y0 = max(0, round(centre[0] - half)), max(0, round(centre[1] - half))
    x1, y1 = min(w, round(centre[0] + half)), min(h, round(centre[1] + half))
    return (x0, y0, x1, y1) if x1 - x0 >= GRID and y1 - y0 >= GRID else None


def face_patch(rgb: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """float32 PATCH x PATCH grey copy of the region `box` (x0, y0, x1, y1 px) of a uint8 RGB frame."""
    x0, y0, x1, y1 = box
    region = rgb[y0:y1, x0:x1]
    if min(x1 - x0, y1 - y0) > 2 * PATCH:  # a cheap first shrink, to exactly twice the patch
        region = cv2.resize(region, (2 * PATCH, 2 * PATCH), interpolation=cv2.INTER_NEAREST)
    grey = cv2.cvtColor(region, cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, (PATCH, PATCH), interpolation=cv2.INTER_AREA).astype(np.float32)


def appearance_change(previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """float32 GRID*GRID: per block of two `face_patch`es of the same region, the RMS grey-level change
    that a shift of the block does not explain.

    Per block, the change d = current - previous is fitted by least squares as -(gx vx + gy vy), the
    gradient of the pair's mean image times a shift (one Lucas-Kanade step); what is left is the change
    that is not edges moving.
    """
    mean, d = (previous + current) / 2, current - previous
    gx = cv2.Sobel(mean, cv2.CV_32F, 1, 0, ksize=3, scale=1 / 8)
    gy = cv2.Sobel(mean, cv2.CV_32F, 0, 1, ksize=3, scale=1 / 8)
    xx, xy, yy, xd, yd, dd = (cv2.resize(v, (GRID, GRID), interpolation=cv2.INTER_AREA)
                              for v in (gx * gx, gx * gy, gy * gy, gx * d, gy * d, d * d))
    xx, yy = xx + SHIFT_RIDGE, yy + SHIFT_RIDGE
    explained = (yy * xd * xd - 2 * xy * xd * yd + xx * yd * yd) / (xx * yy - xy * xy)
    return np.sqrt(np.maximum(dd - explained, 0)).reshape(-1)


def _thinned(rgb: np.ndarray, step: int) -> np.ndarray:
    """About every `step`-th pixel each way: a cheap first shrink (OpenCV's nearest-pixel resize, several
    times faster than copying a strided view) before an area-averaging resize to a size still at least
    half the thinned one's, so the measurement stays an average of many pixels."""
    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (w // step, h // step), interpolation=cv2.INTER_NEAREST) if step > 1 else rgb


class CutDetector:
    """Feed frames in order: `picture_cut` answers at once, `add_face` collects what `cuts` needs.

    Per frame: `picture_cut(rgb)` before the landmarks are detected (so the
    tracker can restart), then `add_face(landmarks)` (they place the face
    region). After the last frame, `cuts()` gives every frame that starts a
    new shot.
    """

    def __init__(self, config: CutConfig = CutConfig()) -> None:
        self.config = config
        self._grey: np.ndarray | None = None
        self._histogram: np.ndarray | None = None
        self._previous: np.ndarray | None = None
        self._frame: np.ndarray | None = None
        self._previous_face: np.ndarray | None = None
        self._picture_cuts: list[int] = []
        self._changes: list[np.ndarray] = []
        self._frame_changes: list[float] = []

    def picture_cut(self, rgb: np.ndarray) -> bool:
        """Whether `rgb` starts a new shot by the histogram test (the first frame never does)."""
        small = small_copy(rgb)
        histogram = frame_histogram(small)
        cut = self._histogram is not None and histogram_distance(self._histogram, histogram) > self.config.threshold
        grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        self._frame_changes.append(np.nan if self._grey is None or cut else frame_change(self._grey, grey))
        self._grey, self._histogram = grey, histogram
        self._previous, self._frame = self._frame, rgb
        if cut:
            self._picture_cuts.append(len(self._changes))
            self._previous_face = None
        return cut

    def add_face(self, landmarks: np.ndarray | None) -> None:
        """The last frame's landmarks (478x3 px, or None): records how its face region changed since the
        frame before."""
        change = np.full(GRID * GRID, np.nan, dtype=np.float32)
        if landmarks is not None and self._previous_face is not None and self._previous is not None:
            h, w = self._frame.shape[:2]
            box = face_box(self._previous_face, (w, h), self.config.face_margin)
            if box is not None:
                change = appearance_change(face_patch(self._previous, box), face_patch(self._frame, box))
        self._changes.append(change)
        self._previous_face = landmarks

    def cuts(self) -> np.ndarray:
        """int32 sorted frames that start a new shot: picture cuts and jump cuts (`jump_cuts`)."""
        picture = np.array(self._picture_cuts, dtype=np.int64)
        appearance = np.stack(self._changes) if self._changes else np.zeros((0, GRID * GRID), np.float32)
        repeats = repeated_frames(np.array(self._frame_changes), self.config.repeat_ratio)
        jumps = jump_cuts(appearance, picture, repeats, self.config)
        return np.union1d(picture, jumps).astype(np.int32)


def jump_cuts(
    appearance: np.ndarray, picture_cuts: np.ndarray, repeats: np.ndarray, config: CutConfig = CutConfig()
) -> np.ndarray:
    """int64 frames where a jump cut starts a new shot (see the module docstring).

    appearance: float32 Tx(GRID*GRID) per-block change of the face region from the frame before
    (`appearance_change`, NaN where not measured: no face); picture_cuts: frames already known to start
    shots; repeats: bool T frames that repeat their predecessor (`repeated_frames`), left out.
    """
    n = len(appearance)
    if n < 2 * config.min_side + 2:
        return np.zeros(0, dtype=np.int64)
    shot = np.zeros(n, dtype=np.int64)
    shot[picture_cuts[picture_cuts < n]] = 1
    shot = np.cumsum(shot)
    # A repeat shows its predecessor again: without it, the next frame's change from the frame before is
    # the change from the last new picture.
    kept = np.flatnonzero(~repeats)
    score = np.zeros(n)
    score[kept] = np.nan_to_num(appearance_jump(appearance[kept], shot[kept], config))
    found = []
    for t in np.flatnonzero(score > config.jump_ratio):
        nearby = score[max(0, t - 2) : t + 3]  # one cut per jump: the strongest frame of it
        if score[t] == nearby.max():
            found.append(int(t))
    return np.array(found, dtype=np.int64)


def appearance_jump(appearance: np.ndarray, shot: np.ndarray, config: CutConfig) -> np.ndarray:
    """float T: per frame t, the median over the face's blocks of appearance[t] / (max(median before,
    median after) + noise), each block against itself: "before" is frames t-window .. t-1, "after"
    t+1 .. t+window, each only within t's shot and needing `min_side` measured frames. NaN where not
    judged.

    appearance: TxN per-frame, per-block change (NaN: not measured).
    """
    n, window = len(appearance), config.window
    padded = np.full((n + 2 * window, appearance.shape[1]), np.nan, dtype=np.float32)
    padded[window : window + n] = appearance
    shots = np.full(n + 2 * window, -1)
    shots[window : window + n] = shot
    sides = (range(-window, 0), range(1, window + 1))
    ratio = np.full(n, np.nan)
    for start in range(0, n, CHUNK):  # bounded memory on long clips
        t = np.arange(start, min(n, start + CHUNK))
        levels, enough = [], np.ones(len(t), dtype=bool)
        for side in sides:
            rows = np.stack([padded[window + t + o] for o in side])  # window x frames x N
            rows[np.stack([shots[window + t + o] != shot[t] for o in side])] = np.nan
            count = np.isfinite(rows).sum(0)  # frames are measured or not as a whole
            enough &= count.max(1) >= config.min_side
            levels.append(_median_of_finite(rows, count))
        with np.errstate(invalid="ignore"):
            level = np.fmax(levels[0], levels[1]) + config.appearance_noise
            chunk = np.median(padded[window + t] / level, axis=1)
        ratio[t] = np.where(enough, chunk, np.nan)
    return ratio


def _median_of_finite(rows: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Median over axis 0 of the finite entries (NaN where none): np.nanmedian, many times faster on
    short windows (NaNs sort last, so the median is read at the finite entries' middle)."""
    ordered = np.sort(rows, axis=0)
    last = len(rows) - 1

    def at(index: np.ndarray) -> np.ndarray:
        return np.take_along_axis(ordered, np.clip(index, 0, last)[None], axis=0)[0]

    with np.errstate(invalid="ignore"):
        return np.where(count > 0, (at((count - 1) // 2) + at(count // 2)) / 2, np.nan)
