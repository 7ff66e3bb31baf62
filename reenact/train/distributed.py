"""One process, or one of several under torchrun: which device this process trains on and whether it writes.

torchrun sets WORLD_SIZE, RANK and LOCAL_RANK. With more than one process, on
CUDA each takes the GPU of its local rank and NCCL joins them; on CPU (no CUDA,
or --device cpu) gloo does, so a several-process run can be checked on any
machine. Only rank 0 writes files (cache, previews, log, checkpoints, the
exported model); the others wait for it at barriers.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import torch

from reenact.errors import ReenactError


class ReplicasDiverged(RuntimeError):
    """The training processes no longer hold the same networks: a bug, not something the user can fix."""


@dataclass(frozen=True)
class Processes:
    """This process's place among the training processes."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.distributed:
            torch.distributed.barrier()

    def on_any_rank(self, flag: bool) -> bool:
        """Whether `flag` is true on any rank: decisions taken from a clock (a time limit) must be taken by all
        ranks at the same step, or the others wait forever in the next gradient all-reduce."""
        if not self.distributed:
            return flag
        value = torch.tensor([int(flag)], device=self.device)
        torch.distributed.all_reduce(value, torch.distributed.ReduceOp.MAX)
        return bool(value.item())

    def from_main(self, value: object) -> object:
        """Rank 0's `value` (any picklable object), on every rank."""
        if not self.distributed:
            return value
        box = [value]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]

    def check_replicas(self, state: dict) -> None:
        """Raise ReplicasDiverged unless every rank holds exactly rank 0's `state` (a trainer's state dict).

        DDP keeps the replicas equal only while every rank starts from the same weights and applies the same
        averaged gradients; a rank that skipped a step or updated a network outside DDP drifts silently, and
        rank 0's checkpoint and export then stand for one replica among several. Each rank hashes the bytes
        of every entry and the hashes are compared on all ranks, so all of them fail together, naming what
        differs.
        """
        if not self.distributed:
            return
        digests = state_digests(state)
        gathered: list[dict[str, str] | None] = [None] * self.world_size
        torch.distributed.all_gather_object(gathered, digests)
        main = gathered[0]
        problems = []
        for rank, other in enumerate(gathered[1:], start=1):
            differ = sorted(name for name in main.keys() | other.keys() if main.get(name) != other.get(name))
            if differ:
                problems.append(f"rank {rank} differs from rank 0 in {len(differ)} of {len(main)} entries "
                                f"({', '.join(differ[:3])}{', ...' if len(differ) > 3 else ''})")
        if problems:
            raise ReplicasDiverged("training processes diverged: " + "; ".join(problems))

    def close(self) -> None:
        if self.distributed:
            torch.distributed.destroy_process_group()


def state_digests(state: object, prefix: str = "") -> dict[str, str]:
    """sha256 of every tensor's bytes (and repr of every other leaf) in a nested dict/list, by dotted path."""
    if isinstance(state, dict):
        return {k: v for key, value in state.items() for k, v in state_digests(value, f"{prefix}{key}.").items()}
    if isinstance(state, (list, tuple)):
        return {k: v for i, value in enumerate(state) for k, v in state_digests(value, f"{prefix}{i}.").items()}
    name = prefix.rstrip(".")
    if isinstance(state, torch.Tensor):
        data = state.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy()
        return {name: f"{state.dtype}{tuple(state.shape)}:{hashlib.sha256(data).hexdigest()}"}
    return {name: repr(state)}


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU; a CUDA request without CUDA is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ReenactError(f"--device {name}: this torch has no CUDA device (torch {torch.__version__}); use --device cpu")
    return device


def start_processes(device: str) -> Processes:
    """This process's `Processes`: from torchrun's environment when WORLD_SIZE > 1, else a single process.

    Under torchrun a CUDA device means the GPU of this process's local rank (NCCL); a CPU one, gloo.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    chosen = resolve_device(device)
    if world_size == 1:
        return Processes(device=chosen)
    if chosen.type == "cpu":
        torch.distributed.init_process_group("gloo")
        return Processes(rank=torch.distributed.get_rank(), world_size=world_size, device=chosen)
    local = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
    if torch.cuda.device_count() < local:
        raise ReenactError(f"torchrun started {local} processes on this machine but it has "
                           f"{torch.cuda.device_count()} CUDA devices; use --nproc-per-node "
                           f"{torch.cuda.device_count()}, or --device cpu")
    local_rank = int(os.environ["LOCAL_RANK"])
    torch.cuda.set_device(local_rank)
    torch.distributed.init_process_group("nccl")
    return Processes(rank=torch.distributed.get_rank(), world_size=world_size, device=torch.device("cuda", local_rank))
