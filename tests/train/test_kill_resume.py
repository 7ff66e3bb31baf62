"""Training killed hard (SIGKILL: no handler runs, no checkpoint is saved on the way out) at several moments,
one of them inside a checkpoint write, and then resumed with --resume until it completes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from reenact.model_folder import CHECKPOINT, open_model
from reenact.tracking.tracker import track_video
from reenact.train.checkpoint import load_checkpoint
from reenact.video_io import VideoReader, VideoWriter

REPO = Path(__file__).resolve().parents[2]
STEPS = 12
TRAIN = textwrap.dedent(f"""
    import os, signal, sys
    from pathlib import Path
    import torch
    from reenact.train.config import train_preset
    from reenact.train.run import train_target

    clip, out, track, die_in_write = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    if die_in_write:  # the Nth checkpoint write stops halfway: its first half on disk, then SIGKILL
        save, seen = torch.save, [0]

        def dying_save(obj, f, *args, **kwargs):
            if isinstance(obj, dict) and "sampler" in obj:
                seen[0] += 1
                if seen[0] == die_in_write:
                    import io
                    buffer = io.BytesIO()
                    save(obj, buffer)
                    f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
                    f.flush()
                    os.kill(os.getpid(), signal.SIGKILL)
            return save(obj, f, *args, **kwargs)

        torch.save = dying_save
    # L1 steps only, small batches, a checkpoint every 2 steps: kills land among many checkpoints, quickly.
    config = train_preset("tiny", steps={STEPS}, batch_size=4, adv_start=100, preview_every=100, checkpoint_every=2)
    train_target(clip, out, config, track_path=track, resume=(out / "checkpoint.pt").exists(), say=print)
    print("TRAINED")
""")


def train(clip: Path, out: Path, track: Path, die_in_write: int = 0) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", TRAIN, str(clip), str(out), str(track), str(die_in_write)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def checkpoint_step(out: Path) -> int:
    return int(load_checkpoint(out / CHECKPOINT, torch.device("cpu"))["trainer"]["step"])


def kill_after_next_checkpoint(process: subprocess.Popen, out: Path, rng: random.Random, timeout: float = 600) -> None:
    """SIGKILL `process` at a random moment shortly after its next checkpoint lands (mid-step, mid-write, ...)."""
    path = out / CHECKPOINT
    before = path.stat().st_mtime_ns if path.exists() else 0
    deadline = time.monotonic() + timeout
    while (not path.exists() or path.stat().st_mtime_ns == before) and process.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint came"
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, 0.3))
    process.send_signal(signal.SIGKILL)
    process.wait()


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory, data) -> tuple[Path, Path]:
    """The first 60 frames of target_wojtek and their track (training needs 50 at least)."""
    folder = tmp_path_factory.mktemp("short")
    clip = folder / "short.mp4"
    reader = VideoReader(data / "target_wojtek.mp4")
    with VideoWriter(clip, reader.rate, reader.width, reader.height) as writer:
        for _, frame in zip(range(60), reader):
            writer.write(frame)
    track = folder / "short.npz"
    track_video(clip).save(track)
    return clip, track


def test_sigkill_at_any_moment_then_resume_completes(short_clip, tmp_path):
    clip, track = short_clip
    out = tmp_path / "model"
    rng = random.Random(14)

    first = train(clip, out, track, die_in_write=3)  # dies inside its third checkpoint write
    output = first.communicate(timeout=900)[0]
    assert first.returncode == -signal.SIGKILL, output
    assert checkpoint_step(out) == 4  # the second checkpoint, whole: the half-written third never replaced it

    steps = [checkpoint_step(out)]
    for _ in range(2):  # killed at random moments of later runs, each resumed from what the last one left
        process = train(clip, out, track)
        kill_after_next_checkpoint(process, out, rng)
        assert process.returncode == -signal.SIGKILL
        steps.append(checkpoint_step(out))
    assert steps == sorted(steps) and steps[-1] > steps[0]  # every run resumed and went on

    last = train(clip, out, track)
    output = last.communicate(timeout=900)[0]
    assert last.returncode == 0 and "TRAINED" in output, output
    assert f"resuming at step {steps[-1]}" in output
    folder = open_model(out)  # every file present and matching the sha256 model.json recorded
    assert folder.info().steps == STEPS and checkpoint_step(out) == STEPS
