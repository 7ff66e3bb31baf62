"""Training on several processes, without GPUs: torchrun on CPU joins them with gloo.

Two processes train the `tiny` preset through both phases; at every checkpoint they compare their whole state
(networks, EMA, optimisers) and stop if it differs, so the run saying it ended alike is the check that both
ranks hold identical weights. Rank 0's checkpoint then resumes on one process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from reenact.model_folder import CHECKPOINT, open_model
from reenact.train.checkpoint import load_checkpoint
from reenact.train.config import train_preset
from reenact.train.distributed import Processes, ReplicasDiverged
from reenact.train.run import train_target

REPO = Path(__file__).resolve().parents[2]
CLIP = "target_wojtek.mp4"
STEPS = 160
"""The tiny preset's discriminators start at step 150: the last ten steps run the adversarial phase too."""
ALIKE = "2 processes: every one ended with rank 0's networks, EMA and optimiser state"


@pytest.fixture(scope="module")
def wojtek_track_file(tmp_path_factory, tracked) -> Path:
    path = tmp_path_factory.mktemp("track") / "wojtek.npz"
    tracked(CLIP).save(path)
    return path


def test_two_processes_on_cpu_train_alike_and_resume_on_one(tmp_path, data, wojtek_track_file):
    out = tmp_path / "model"
    # torchrun --standalone --nproc-per-node 2 -m reenact.cli train ..., on 127.0.0.1 with a free port.
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "-m", "reenact.cli", "train", str(data / CLIP), "-o", str(out), "--preset", "tiny",
               "--steps", str(STEPS), "--batch-size", "4", "--track", str(wojtek_track_file), "--device", "cpu"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=600)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert ALIKE in output
    ends = [line for line in output.splitlines() if f"{STEPS} steps in" in line]
    assert len(ends) == 1 and "nan" not in ends[0]  # the main process reports the exported model's scores, once
    state = load_checkpoint(out / CHECKPOINT, torch.device("cpu"))
    assert state["trainer"]["step"] == STEPS
    last = (out / "log.csv").read_text().splitlines()[-1].split(",")
    assert last[0] == str(STEPS) and last[5] != ""  # d_frame: the discriminators trained under DDP too
    assert open_model(out).info().steps == STEPS

    said: list[str] = []
    config = train_preset("tiny", steps=STEPS + 4, batch_size=4)
    result = train_target(data / CLIP, out, config, resume=True, device="cpu", say=said.append)
    assert f"resuming at step {STEPS} of {STEPS + 4}" in said and not any(ALIKE in line for line in said)
    assert result.steps == STEPS + 4 and open_model(out).info().steps == STEPS + 4


def _collectives(rank: int, store: str) -> None:
    """One of two gloo processes: the Processes helpers, then the same state with one weight of rank 1's moved."""
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    processes = Processes(rank=rank, world_size=2)
    try:
        assert processes.on_any_rank(rank == 1) and not processes.on_any_rank(False)
        assert processes.from_main(f"rank {rank}") == "rank 0"
        weights = torch.arange(6.0)
        processes.check_replicas({"step": 3, "generator": {"w": weights, "b": torch.zeros(2)}})
        weights[5] += 1e-6 * rank
        with pytest.raises(ReplicasDiverged, match=r"rank 1 differs from rank 0 in 1 of 3 entries \(generator\.w\)"):
            processes.check_replicas({"step": 3, "generator": {"w": weights, "b": torch.zeros(2)}})
    finally:
        processes.close()


def test_replicas_compared_exactly_on_every_rank(tmp_path):
    """Identical states pass; one weight off by a millionth on rank 1 stops every rank (each asserts it),
    naming the entry."""
    mp.spawn(_collectives, args=(str(tmp_path / "store"),), nprocs=2)
