"""Training checkpoints: the full state of a run, written atomically, loaded with weights_only=True.

A checkpoint holds the trainer (networks, EMA, optimisers, step), the batch
sampler's random state, and what the run was (its TrainConfig and the clip's
data hash), so `--resume` continues exactly and refuses a mismatched run.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from reenact.errors import FormatError, OutputError
from reenact.model_folder import FIXES, load_torch_file

CHECKPOINT_VERSION = 1


def save_checkpoint(path: Path, trainer_state: dict, sampler_state: torch.Tensor, run: dict) -> None:
    """Write the checkpoint to a temporary name beside `path`, flushed to disk, then rename it over the old one.

    A process killed at any moment (even mid-write) leaves the previous
    checkpoint whole; a failed write (disk full) removes its temporary file and
    raises OutputError, the previous checkpoint kept.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    state = {"version": CHECKPOINT_VERSION, "trainer": trainer_state, "sampler": sampler_state, "run": run}
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as e:  # torch's zip writer reports a full disk as RuntimeError
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write the checkpoint {path}: {getattr(e, 'strerror', None) or e}; the previous one is kept") from None


def load_checkpoint(path: Path, device: torch.device) -> dict:
    """The checkpoint's contents ("trainer", "sampler", "run"); FormatError when unreadable or of another version."""
    state = load_torch_file(path, device, FIXES["checkpoint.pt"])
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
        raise FormatError(f"{path}: checkpoint of another version; start over with --force")
    state["sampler"] = state["sampler"].cpu()
    return state
