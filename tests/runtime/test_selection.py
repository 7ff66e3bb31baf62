"""`--backend auto` and named backends: the order, the fallbacks, and what the selection reports.

Availability is injected: stand-in factories raise BackendUnavailableError for the candidates
a test declares absent, so the order is checked for machines this one is not.
"""

from __future__ import annotations

from typing import Literal

import pytest
import torch

from reenact.errors import BackendUnavailableError, FormatError
from reenact.model_folder import ModelFolder
from reenact.runtime.backend import Backend, ModelSpec
from reenact.runtime.config import BackendConfig
from reenact.runtime.selection import AUTO_ORDER, Candidate, candidates, open_backend


class FakeBackend(Backend):
    """Records which candidate was built; never runs."""

    def __init__(self, name: str, device: Literal["cpu", "cuda"]) -> None:
        super().__init__(ModelSpec(64, 25), device)
        self.name = name  # type: ignore[misc]

    def _infer_array(self, stack):
        raise NotImplementedError

    def _infer_tensor(self, stack):
        raise NotImplementedError


def key(candidate: Candidate) -> tuple[str, str]:
    """(backend, device) of a candidate, the backend named "onnxruntime int8" for the INT8 variant."""
    return (candidate.backend + (" int8" if candidate.int8 else ""), candidate.device)


def factories(present: set[tuple[str, str]], tried: list[Candidate] | None = None):
    """Factories for the three backends; (backend, device) pairs (`key`) not in `present` are unavailable."""

    def make(name: str):
        def factory(folder: ModelFolder, device: Literal["cpu", "cuda"], config: BackendConfig) -> Backend:
            candidate = Candidate(name, device, int8=bool(config.int8))  # type: ignore[arg-type]
            if tried is not None:
                tried.append(candidate)
            if key(candidate) not in present:
                raise BackendUnavailableError(f"{key(candidate)[0]} on {device} is absent (pip install {name})")
            return FakeBackend(name, device)

        return factory

    return {name: make(name) for name in ("torch", "onnxruntime", "tensorrt")}


ALL = {key(c) for c in AUTO_ORDER}
INT8 = ("onnxruntime int8", "cpu")


def test_auto_order_is_the_issues() -> None:
    assert [str(c) for c in AUTO_ORDER] == [
        "tensorrt (cuda)", "onnxruntime (cuda)", "torch (cuda)", "onnxruntime int8 (cpu)", "onnxruntime (cpu)",
        "torch (cpu)"
    ]


@pytest.mark.parametrize(
    ("absent", "picked"),
    [
        (set(), ("tensorrt", "cuda")),
        ({("tensorrt", "cuda")}, ("onnxruntime", "cuda")),
        ({("tensorrt", "cuda"), ("onnxruntime", "cuda")}, ("torch", "cuda")),  # the GPU machine here
        ({("tensorrt", "cuda"), ("onnxruntime", "cuda"), ("torch", "cuda")}, INT8),  # this CPU, INT8 file made
        ({("tensorrt", "cuda"), ("onnxruntime", "cuda"), ("torch", "cuda"), INT8}, ("onnxruntime", "cpu")),  # none
        (ALL - {("torch", "cpu")}, ("torch", "cpu")),
    ],
)
def test_auto_picks_the_fastest_present(tiny_folder: ModelFolder, absent: set, picked: tuple[str, str]) -> None:
    selection = open_backend(tiny_folder, BackendConfig(), factories(ALL - absent))
    assert (selection.backend.name, selection.backend.device) == (picked[0].split()[0], picked[1])
    assert selection.auto and key(selection.candidate) == picked
    assert [key(c) for c, _ in selection.skipped] == [
        key(c) for c in AUTO_ORDER[: [key(c) for c in AUTO_ORDER].index(picked)]
    ]
    summary = selection.summary()
    assert summary.startswith(f"backend auto: {picked[0].split()[0]} on {picked[1]}")
    for c, reason in selection.skipped:
        assert f"skipped {c}: {reason}" in summary and "pip install" in reason


def test_named_backend_falls_back_only_across_devices(tiny_folder: ModelFolder) -> None:
    tried: list[Candidate] = []
    selection = open_backend(tiny_folder, BackendConfig(backend="torch"), factories({("torch", "cpu")}, tried))
    assert tried == [Candidate("torch", "cuda"), Candidate("torch", "cpu")]
    assert selection.summary().startswith("backend torch: torch on cpu; skipped torch (cuda)")


def test_named_backend_and_device_gets_its_own_error(tiny_folder: ModelFolder) -> None:
    with pytest.raises(BackendUnavailableError, match=r"^tensorrt on cuda is absent \(pip install tensorrt\)$"):
        open_backend(tiny_folder, BackendConfig(backend="tensorrt"), factories({("torch", "cpu")}))


def test_nothing_available_lists_every_reason(tiny_folder: ModelFolder) -> None:
    with pytest.raises(BackendUnavailableError, match="no inference backend works here") as e:
        open_backend(tiny_folder, BackendConfig(device="cpu"), factories(set()))
    assert "onnxruntime (cpu): onnxruntime on cpu is absent" in str(e.value)
    assert "onnxruntime int8 (cpu): onnxruntime int8 on cpu is absent" in str(e.value)
    assert "torch (cpu): torch on cpu is absent" in str(e.value)


def test_other_errors_are_not_taken_for_absence(tiny_folder: ModelFolder) -> None:
    """A damaged model is the user's to fix, not a reason to try a slower backend."""

    def broken(folder, device, config):
        raise FormatError("generator.onnx is damaged")

    with pytest.raises(FormatError, match="damaged"):
        open_backend(tiny_folder, BackendConfig(), {**factories(ALL), "tensorrt": broken})


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (BackendConfig(), list(AUTO_ORDER)),
        (BackendConfig(device="cpu"), [Candidate("onnxruntime", "cpu", int8=True), Candidate("onnxruntime", "cpu"),
                                       Candidate("torch", "cpu")]),
        (BackendConfig(device="cpu", int8=False), [Candidate("onnxruntime", "cpu"), Candidate("torch", "cpu")]),
        (BackendConfig(int8=True), [Candidate("onnxruntime", "cpu", int8=True)]),
        (BackendConfig(device="cuda"), list(AUTO_ORDER[:3])),
        (BackendConfig(backend="onnxruntime"), [Candidate("onnxruntime", "cuda"), Candidate("onnxruntime", "cpu", int8=True),
                                                Candidate("onnxruntime", "cpu")]),
        (BackendConfig(backend="tensorrt"), [Candidate("tensorrt", "cuda")]),
        (BackendConfig(backend="torch", device="cpu"), [Candidate("torch", "cpu")]),
    ],
)
def test_candidates_follow_the_config(config: BackendConfig, expected: list[Candidate]) -> None:
    assert candidates(config) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"backend": "tensorrt", "device": "cpu"}, "CUDA GPUs only"),
        ({"backend": "openvino"}, "unknown backend 'openvino'; valid: auto, torch, onnxruntime, tensorrt"),
        ({"device": "mps"}, "unknown device"),
        ({"threads": 0}, "threads must be >= 1"),
        ({"max_batch": 0}, "max_batch must be >= 1"),
        ({"backend": "torch", "int8": True}, "INT8 generator runs in ONNX Runtime on the CPU"),
    ],
)
def test_config_refuses_bad_combinations(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BackendConfig(**kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks what auto picks on a machine without CUDA")
def test_auto_on_this_cpu_machine_picks_onnxruntime(tiny_folder: ModelFolder) -> None:
    selection = open_backend(tiny_folder, BackendConfig(threads=1))
    assert selection.candidate == Candidate("onnxruntime", "cpu")  # the folder has no INT8 file
    assert selection.notes() and "--int8" in selection.notes()[0]
    assert "skipped tensorrt (cuda): " in selection.summary() and "pip install tensorrt" in selection.summary()
    assert selection.backend.describe() == "onnxruntime on cpu (CPUExecutionProvider, 1 thread)"
