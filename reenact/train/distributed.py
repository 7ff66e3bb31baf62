"""One process, or one of several under torchrun: which device this process trains on and whether it writes.

torchrun sets WORLD_SIZE, RANK and LOCAL_RANK; with more than one process each
takes the GPU of its local rank and NCCL joins them. Only rank 0 writes files
(cache, previews, log, checkpoints, the exported model).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch

from reenact.errors import ReenactError


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

    def close(self) -> None:
        if self.distributed:
            torch.distributed.destroy_process_group()


def resolve_device(name: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU; a CUDA request without CUDA is a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ReenactError(f"--device {name}: this torch has no CUDA device (torch {torch.__version__}); use --device cpu")
    return device


def start_processes(device: str) -> Processes:
    """This process's `Processes`: from torchrun's environment when WORLD_SIZE > 1, else a single process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Processes(device=resolve_device(device))
    if not torch.cuda.is_available() or torch.cuda.device_count() < int(os.environ.get("LOCAL_WORLD_SIZE", world_size)):
        raise ReenactError(f"torchrun started {world_size} processes but there are not enough CUDA devices")
    local_rank = int(os.environ["LOCAL_RANK"])
    torch.cuda.set_device(local_rank)
    torch.distributed.init_process_group("nccl")
    return Processes(rank=torch.distributed.get_rank(), world_size=world_size, device=torch.device("cuda", local_rank))
