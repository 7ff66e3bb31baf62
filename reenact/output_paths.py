"""Outputs that must not destroy inputs: the checks every command and API call runs before any work.

Every writer in the package writes under a temporary name and renames at the
end, so a failed run leaves an earlier output as it was; these checks refuse,
up front, what no rename can save: an output that is one of the inputs, and
an output whose folder cannot be written.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from reenact.errors import InputError, OutputError


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (through links, relative parts and hard links)."""
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def check_outputs(outputs: Mapping[str, Path | None], inputs: Mapping[str, Path | None],
                  folders: Iterable[str] = ()) -> None:
    """Refuse an output that is one of the inputs (or another output), or that cannot be written: its folder is
    a file or not writable. Keys are the roles as the user named them ("-o", "target"); `folders` names the
    outputs that are folders."""
    folders = set(folders)
    existing = [(role, Path(path)) for role, path in inputs.items() if path is not None and Path(path).exists()]
    given = [(role, Path(path)) for role, path in outputs.items() if path is not None]
    for index, (role, path) in enumerate(given):
        for other, input_path in existing + given[:index]:
            if same_file(path, input_path):
                kind = "an output too" if (other, input_path) in given else "an input"
                raise InputError(f"{role} {path} is the {other}, {kind}: writing it would destroy that; "
                                 "choose another output path")
        if role in folders and path.exists() and not path.is_dir():
            raise OutputError(f"{role} {path} is a file; it must be a folder (or a new name)")
        if role not in folders and path.is_dir():
            raise OutputError(f"{role} {path} is a folder; give a file name")
        parent = (path if role in folders else path.parent).absolute()
        while not parent.exists():
            parent = parent.parent
        if not parent.is_dir():
            raise OutputError(f"cannot write {role} {path}: {parent} is a file, not a folder")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise OutputError(f"cannot write {role} {path}: the folder {parent} is not writable")
