"""The edits file: a clip's direct edits saved as a small versioned JSON, to render again the same way.

The browser editor saves and loads it; `reenact edit --edits FILE` (and `run`, `condition`) renders it.

    {"format": "reenact-edits", "version": 1, "edits": [
      {"kind": "smile", "amount": 0.8, "start": 50, "full": 75, "release": 120},
      {"kind": "emotion", "emotion": "surprised", "amount": 0.6, "mode": "set", "start": 0, "full": 10}
    ]}

Each entry names its `kind` (KINDS), its values (the fields of the library's edit of that kind, e.g.
`reenact.edits.Smile`) and its timing in frames of the target clip: eased in from `start` to `full`, eased
out from `release` over as many frames (null or absent: held to the end), with an `easing` (default
smoothstep). Absent values take the library's defaults; an unknown key is refused (a typo would otherwise
be an edit silently left out). Entries act in the order listed.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reenact.edits import (
    AU_MODES,
    Edit,
    LookAt,
    SetActionUnit,
    SetEyeOpenness,
    Smile,
    Timing,
    TurnHead,
    emotion_edits,
)
from reenact.errors import FormatError, InputError, SettingError

FORMAT = "reenact-edits"
VERSION = 1
"""The format version this reenact writes and reads."""


@dataclass(frozen=True)
class Emotion:
    """An EMFACS expression kept as one entry (what the editor shows as one control), rendered as its action
    units, each set (or added) to `amount` (`reenact.edits.emotion_edits`)."""

    emotion: str = "happy"
    """A name in `reenact.facs.units.EMOTIONS`."""
    amount: float = 1.0
    mode: str = "set"
    """A name in `reenact.edits.AU_MODES`."""
    timing: Timing = field(default_factory=Timing)

    def __post_init__(self) -> None:
        if self.mode not in AU_MODES:
            raise SettingError(f"unknown AU mode {self.mode!r}; expected one of {', '.join(AU_MODES)}")
        self.edits()  # an unknown emotion or an out-of-range amount is refused now

    def edits(self) -> list[SetActionUnit]:
        return [dataclasses.replace(edit, mode=self.mode) for edit in emotion_edits(self.emotion, self.amount,
                                                                                     self.timing)]


Entry = Edit | Emotion
"""One entry of an edits file."""

KINDS: dict[str, type] = {
    "turn_head": TurnHead,
    "smile": Smile,
    "eye_openness": SetEyeOpenness,
    "look": LookAt,
    "action_unit": SetActionUnit,
    "emotion": Emotion,
}
"""Each entry's `kind` and the edit it is."""
TEXT_VALUES = frozenset({"eye", "unit", "mode", "emotion"})
"""Values that are names; every other value is a number."""
TIMING_KEYS = ("start", "full", "release", "easing")


def expand(entries: Sequence[Entry]) -> list[Edit]:
    """The library edits to render, in order (an emotion becomes its action units)."""
    return [edit for entry in entries for edit in (entry.edits() if isinstance(entry, Emotion) else [entry])]


def _kind_of(entry: Entry) -> str:
    for kind, cls in KINDS.items():
        if type(entry) is cls:
            return kind
    raise SettingError(f"not an edit: {entry!r}; expected one of {', '.join(cls.__name__ for cls in KINDS.values())}")


def _values(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.name != "timing"]


def to_record(entry: Entry) -> dict[str, object]:
    """One entry as the JSON object the file holds."""
    timing = entry.timing
    return {"kind": _kind_of(entry), **{name: getattr(entry, name) for name in _values(type(entry))},
            "start": timing.start, "full": timing.end, "release": timing.release, "easing": timing.easing}


def dumps(entries: Sequence[Entry]) -> str:
    """The edits file's text for `entries`."""
    record = {"format": FORMAT, "version": VERSION, "edits": [to_record(entry) for entry in entries]}
    return json.dumps(record, indent=2) + "\n"


def write(path: str | os.PathLike, entries: Sequence[Entry]) -> None:
    """Save `entries` to `path` (written under a temporary name and renamed: an earlier file survives a failure)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(dumps(entries))
    os.replace(tmp, path)


def _number(where: str, key: str, value: object, whole: bool = False) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float) or (whole and not isinstance(value, int)):
        raise SettingError(f"{where}: {key} must be {'a whole number of frames' if whole else 'a number'}, "
                           f"got {json.dumps(value)}")
    return value


def from_record(record: object, where: str = "edit") -> Entry:
    """One JSON object of the file as its entry; SettingError naming `where` and the key at fault."""
    if not isinstance(record, dict):
        raise SettingError(f"{where}: expected an object with a kind, got {json.dumps(record)}")
    kind = record.get("kind")
    if kind not in KINDS:
        raise SettingError(f"{where}: unknown kind {json.dumps(kind)}; expected one of {', '.join(KINDS)}")
    cls = KINDS[kind]
    names = _values(cls)
    unknown = sorted(set(record) - {"kind", *names, *TIMING_KEYS})
    if unknown:
        raise SettingError(f"{where} ({kind}): unknown key {unknown[0]!r}; a {kind} takes "
                           f"{', '.join([*names, *TIMING_KEYS])}")
    values: dict[str, object] = {}
    for name in names:
        if name not in record:
            continue
        value = record[name]
        if name == "unit" and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # "unit": 12 means AU12
        if name in TEXT_VALUES and not isinstance(value, str):
            raise SettingError(f"{where} ({kind}): {name} must be a name, got {json.dumps(value)}")
        values[name] = value if name in TEXT_VALUES else float(_number(f"{where} ({kind})", name, value))
    start = int(_number(f"{where} ({kind})", "start", record.get("start", 0), whole=True))
    full = int(_number(f"{where} ({kind})", "full", record.get("full", start), whole=True))
    release = record.get("release")
    if release is not None:
        release = int(_number(f"{where} ({kind})", "release", release, whole=True))
    easing = record.get("easing", Timing.easing)
    if not isinstance(easing, str):
        raise SettingError(f"{where} ({kind}): easing must be a name, got {json.dumps(easing)}")
    try:
        return cls(**values, timing=Timing(start=start, end=full, release=release, easing=easing))
    except SettingError as e:
        raise SettingError(f"{where} ({kind}): {e}") from None


def loads(text: str, name: str = "the edits file") -> list[Entry]:
    """The entries of an edits file's text; FormatError for text that is not one, SettingError for a bad entry."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as e:
        raise FormatError(f"{name} is not JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise FormatError(f"{name} is not a reenact edits file (expected an object with \"format\": \"{FORMAT}\")")
    version = record.get("version")
    if version != VERSION:
        raise FormatError(f"{name} is edits format version {json.dumps(version)}, this reenact reads {VERSION}")
    edits = record.get("edits")
    if not isinstance(edits, list):
        raise FormatError(f"{name} has no list of \"edits\"")
    return [from_record(entry, f"{name}, edit {i + 1}") for i, entry in enumerate(edits)]


def read(path: str | os.PathLike) -> list[Entry]:
    """The entries of the edits file at `path` (InputError if it is missing or unreadable)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"edits file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read the edits file {path}: {e}") from None
    return loads(text, str(path))
