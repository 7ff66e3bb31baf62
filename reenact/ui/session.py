"""The browser editor's state and callbacks, apart from any Gradio layout (so they are tested without a browser).

The page's edit controls (`Controls`) become the entries of an edits file
(`reenact.edits_file`), whose text the page shows and saves; a preview and a
render both start from that text, so what is seen is exactly what is saved.
One `EditorSession` keeps one `api.FramePreviewer` for the opened model and
clips, so a preview after the first costs one frame's conditioning and one
generator call.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from reenact import api, edits_file
from reenact.edits import AU_MODES, LookAt, SetActionUnit, SetEyeOpenness, Smile, Timing, TurnHead
from reenact.errors import ReenactError, SettingError

NO_EYE = "none"
"""The eye control's value when no eye edit is asked."""
AU_COLUMNS = ("AU", "intensity", "mode", "start", "full", "release")
EMOTION_COLUMNS = ("emotion", "amount", "mode", "start", "full", "release")
"""Columns of the page's action-unit and emotion tables: one row per edit, each on its own keyframes."""


def _frame(value: object, what: str) -> int | None:
    """A keyframe typed into the page: a whole number of frames, or blank (None)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SettingError(f"{what} must be a frame number, got {value!r}") from None
    if math.isnan(number):
        return None
    if number != int(number):
        raise SettingError(f"{what} must be a whole frame number, got {value!r}")
    return int(number)


def keyframes(start: object, full: object, release: object, what: str) -> Timing:
    """The Timing of an edit's three keyframes (blank start: 0; blank full: at start; blank release: never)."""
    first = _frame(start, f"{what}: start") or 0
    at_full = _frame(full, f"{what}: full")
    try:
        return Timing(start=first, end=first if at_full is None else at_full, release=_frame(release, f"{what}: release"))
    except SettingError as e:
        raise SettingError(f"{what}: {e}") from None


@dataclass(frozen=True)
class Controls:
    """The values of the page's edit controls, in the page's order (each edit with its start, full and release
    frames; an edit at its neutral value is left out)."""

    smile: float = 0.0
    """Smile amount; 0: no smile edit."""
    smile_start: object = 0
    smile_full: object = None
    smile_release: object = None
    eye: str = NO_EYE
    """Which eye to open or close (both, left, right), or NO_EYE."""
    openness: float = 0.0
    """The eye's openness to reach: 0 closed."""
    eye_start: object = 0
    eye_full: object = None
    eye_release: object = None
    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    """Head turn in degrees; all 0: no head edit."""
    head_start: object = 0
    head_full: object = None
    head_release: object = None
    look: bool = False
    """Set the gaze (0, 0 is a gaze too: straight ahead)."""
    look_x: float = 0.0
    look_y: float = 0.0
    look_start: object = 0
    look_full: object = None
    look_release: object = None
    action_units: Sequence[Sequence[object]] = ()
    """Rows of AU_COLUMNS; a row without an AU is ignored."""
    emotions: Sequence[Sequence[object]] = ()
    """Rows of EMOTION_COLUMNS; a row without an emotion is ignored."""

    def entries(self) -> list[edits_file.Entry]:
        """The edits these controls ask for, as edits-file entries (SettingError naming a bad control)."""
        chosen: list[edits_file.Entry] = []
        if self.yaw or self.pitch or self.roll:
            timing = keyframes(self.head_start, self.head_full, self.head_release, "head turn")
            chosen.append(TurnHead(float(self.yaw), float(self.pitch), float(self.roll), timing=timing))
        if self.smile:
            chosen.append(Smile(float(self.smile), timing=keyframes(self.smile_start, self.smile_full,
                                                                    self.smile_release, "smile")))
        if self.eye != NO_EYE:
            timing = keyframes(self.eye_start, self.eye_full, self.eye_release, "eye")
            chosen.append(SetEyeOpenness(float(self.openness), eye=self.eye, timing=timing))
        if self.look:
            timing = keyframes(self.look_start, self.look_full, self.look_release, "gaze")
            chosen.append(LookAt(float(self.look_x), float(self.look_y), timing=timing))
        for number, row in enumerate(_rows(self.action_units, len(AU_COLUMNS)), start=1):
            unit, intensity, mode, *times = row
            what = f"action unit row {number} (AU{unit})"
            timing = keyframes(*times, what)
            try:
                chosen.append(SetActionUnit(str(unit).strip().upper(), _value(intensity), _mode(mode), timing=timing))
            except SettingError as e:
                raise SettingError(f"{what}: {e}") from None
        for number, row in enumerate(_rows(self.emotions, len(EMOTION_COLUMNS)), start=1):
            name, amount, mode, *times = row
            what = f"emotion row {number} ({name})"
            timing = keyframes(*times, what)
            try:
                chosen.append(edits_file.Emotion(str(name).strip(), _value(amount), _mode(mode), timing=timing))
            except SettingError as e:
                raise SettingError(f"{what}: {e}") from None
        return chosen

    @classmethod
    def from_entries(cls, entries: Sequence[edits_file.Entry]) -> Controls:
        """The controls that show `entries` (one head turn, smile, eye and gaze edit at most: the page has one
        control of each; any number of action units and emotions)."""
        values: dict[str, object] = {}
        aus: list[list[object]] = []
        emotions: list[list[object]] = []
        singles = {TurnHead: "head", Smile: "smile", SetEyeOpenness: "eye", LookAt: "look"}
        for entry in entries:
            times = [entry.timing.start, entry.timing.end, entry.timing.release]
            if isinstance(entry, SetActionUnit):
                aus.append([entry.unit, entry.intensity, entry.mode, *times])
                continue
            if isinstance(entry, edits_file.Emotion):
                emotions.append([entry.emotion, entry.amount, entry.mode, *times])
                continue
            prefix = singles[type(entry)]
            if f"{prefix}_start" in values:
                raise SettingError(f"the page shows one {type(entry).__name__} edit and this file has more; render "
                                   "it with `reenact edit --edits FILE`")
            if entry.timing.easing != Timing.easing:
                raise SettingError(f"the page eases edits with {Timing.easing}; this file's {type(entry).__name__} "
                                   f"uses {entry.timing.easing}: render it with `reenact edit --edits FILE`")
            values.update(dict(zip((f"{prefix}_start", f"{prefix}_full", f"{prefix}_release"), times)))
            if isinstance(entry, TurnHead):
                values.update(yaw=entry.yaw, pitch=entry.pitch, roll=entry.roll)
            elif isinstance(entry, Smile):
                values.update(smile=entry.amount)
            elif isinstance(entry, SetEyeOpenness):
                values.update(eye=entry.eye, openness=entry.openness)
            else:
                if entry.eye != "both":
                    raise SettingError("the page sets the gaze of both eyes; this file's sets one: render it with "
                                       "`reenact edit --edits FILE`")
                values.update(look=True, look_x=entry.x, look_y=entry.y)
        return cls(**values, action_units=aus, emotions=emotions)

    def values(self) -> list[object]:
        """The controls' values in the page's order (what `Controls(*values)` takes back)."""
        return [getattr(self, f.name) for f in fields(self)]


def _rows(rows: Sequence[Sequence[object]] | None, width: int) -> list[list[object]]:
    """The table's filled rows (first cell not blank), padded to `width` cells."""
    filled = []
    for row in rows or ():
        cells = list(row)[:width] + [None] * (width - len(row))
        if cells[0] is not None and str(cells[0]).strip() and str(cells[0]).strip().lower() != "nan":
            filled.append(cells)
    return filled


def _value(value: object) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SettingError(f"the value must be a number, got {value!r}") from None


def _mode(mode: object) -> str:
    text = str(mode).strip() if mode is not None else ""
    return text if text else AU_MODES[0]


@dataclass(frozen=True)
class Mix:
    """How a source drives the target (`reenact run`'s --mode, --mouth, --eyes, --brows, --intensity)."""

    mode: str = "full"
    mouth: float = 1.0
    eyes: float = 1.0
    brows: float = 1.0
    intensity: float = 1.0

    def config(self) -> api.RecombineConfig:
        return api.RecombineConfig(mode=self.mode, weights=api.RegionWeights(self.mouth, self.eyes, self.brows),
                                   intensity=self.intensity)


@dataclass(frozen=True)
class Opened:
    """What the page shows once a model and clips are opened."""

    summary: str
    n_frames: int
    fps: float
    original_video: Path
    """A copy of the target clip the page may serve (beside the result)."""


class EditorSession:
    """The opened model and clips and what the page's callbacks do with them (one editor, one user: previews are
    drawn one at a time)."""

    def __init__(self, workdir: Path | None = None, backend: api.BackendConfig | None = None) -> None:
        """`workdir`: where renders, saved edits files and the clip the page plays go (default: a new temporary
        folder); `backend`: the generator's (default: auto). Sets torch to one thread: the conditioning's small
        ops ran 5x slower on two threads beside other work on a 2-core CPU (400 ms against 2 s a preview)."""
        import torch

        torch.set_num_threads(1)
        self.workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="reenact-ui-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.backend = backend or api.BackendConfig()
        self.previewer: api.FramePreviewer | None = None
        self.opened: Opened | None = None
        """What was opened last."""
        self._lock = threading.Lock()
        self._renders = 0

    def open(self, model: str | Path, target: str | Path, source: str | Path | None = None) -> Opened:
        """Load the model, track the target clip (and the source) and get ready to preview. ReenactError for a
        missing or damaged model, a clip that is not a video or shows no face."""
        if not str(model or "").strip():
            raise SettingError("choose a model folder (from `reenact train`)")
        if not str(target or "").strip():
            raise SettingError("choose a target clip of the model's person")
        source = Path(source) if source is not None and str(source).strip() else None
        with self._lock:
            previewer = api.FramePreviewer(Path(model), Path(target), source=source, backend=self.backend)
            if self.previewer is not None:
                self.previewer.close()
            self.previewer = previewer
        clip = self.workdir / f"original{Path(target).suffix or '.mp4'}"
        shutil.copyfile(target, clip)
        info = previewer.target.info
        summary = (f"{previewer.target.folder.path.name} ({info.preset}, {info.size} px, "
                   f"{previewer.backend.describe()}): {Path(target).name}, {previewer.n_frames} frames at "
                   f"{previewer.frames.reader.fps:g} fps" + (f", driven by {source.name}" if source else ""))
        self.opened = Opened(summary, previewer.n_frames, previewer.frames.reader.fps, clip)
        return self.opened

    def _opened(self) -> api.FramePreviewer:
        if self.previewer is None:
            raise SettingError("open a model and a target clip first")
        return self.previewer

    def preview(self, index: int, edits_text: str, mix: Mix = Mix()) -> api.FramePreview:
        """Frame `index` with the edits of `edits_text` (an edits file's text) and, with a source, `mix`."""
        edits = edits_file.expand(edits_file.loads(edits_text, "the edits"))
        with self._lock:
            previewer = self._opened()
            return previewer(int(index), edits, mix.config())

    def render(self, edits_text: str, mix: Mix = Mix(), bars: api.Bars = api.no_bars) -> tuple[Path, str]:
        """The whole clip re-rendered with these edits (audio kept, labelled synthetic) into the workdir, and the
        run's closing line."""
        edits = edits_file.expand(edits_file.loads(edits_text, "the edits"))
        previewer = self._opened()
        self._renders += 1
        output = self.workdir / f"{previewer.target_clip.stem}_edited_{self._renders}.mp4"
        summary = api.rerender(previewer.target, previewer.target_clip, output, source=previewer.source,
                               recombination=previewer.recombination(mix.config()), edits=edits,
                               loop_source=previewer.loop_source, backend=previewer.backend, command="ui",
                               bars=bars)
        return output, summary.line()

    def save_edits(self, edits_text: str) -> Path:
        """The edits written as a file to download (checked: a bad edit is refused here, not at render time)."""
        entries = edits_file.loads(edits_text, "the edits")
        path = self.workdir / "edits.json"
        edits_file.write(path, entries)
        return path

    def load_edits(self, path: str | Path) -> tuple[Controls, str]:
        """An edits file as the page's controls and its text."""
        entries = edits_file.read(path)
        return Controls.from_entries(entries), edits_file.dumps(entries)

    def close(self) -> None:
        with contextlib.suppress(ReenactError, OSError):
            if self.previewer is not None:
                self.previewer.close()
