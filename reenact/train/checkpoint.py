"""Training checkpoints: the full state of a run, written atomically, loaded with weights_only=True.

A checkpoint holds the trainer (networks, EMA, optimisers, step), the batch
sampler's random state, and what the run was (its TrainConfig and the clip's
data hash), so `--resume` continues exactly and refuses a mismatched run.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from reenact.errors import FormatError

CHECKPOINT_VERSION = 1


def save_checkpoint(path: Path, trainer_state: dict, sampler_state: torch.Tensor, run: dict) -> None:
    """Write the checkpoint to a temporary name beside `path`, then rename it (a crash never leaves half a file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(
        {"version": CHECKPOINT_VERSION, "trainer": trainer_state, "sampler": sampler_state, "run": run}, tmp
    )
    os.replace(tmp, path)


def load_checkpoint(path: Path, device: torch.device) -> dict:
    """The checkpoint's contents ("trainer", "sampler", "run"); FormatError when unreadable or of another version."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError) as e:
        raise FormatError(f"{path} is not a readable checkpoint ({e}); start over with --force") from None
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
        raise FormatError(f"{path}: checkpoint of another version; start over with --force")
    state["sampler"] = state["sampler"].cpu()
    return state
