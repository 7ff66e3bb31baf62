"""The library API: the README's example runs, and `rerender` and `evaluate` generate the same crops for a frame."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from reenact import api
from reenact.runtime.backend import Backend
from reenact.video_io import VideoReader

README = Path(__file__).parents[1] / "README.md"


def readme_example() -> str:
    """The Python block of the README's "Library API" section."""
    section = README.read_text().split("## Library API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_rerenders_a_clip(tmp_path, random_model, data, capsys) -> None:
    pytest.importorskip("mediapipe", reason="the source is tracked with MediaPipe")
    code = readme_example()
    places = {"models/edtalk": random_model.path, "clip.mp4": data / "target_wojtek.mp4",
              "driver.mp4": data / "drive_d0.mp4", "out/dubbed.mp4": tmp_path / "dubbed.mp4"}
    for placeholder, path in places.items():
        assert f'"{placeholder}"' in code, f"the README example no longer names {placeholder}"
        code = code.replace(f'"{placeholder}"', repr(str(path)))
    exec(compile(code, str(README), "exec"), {})
    frames = list(VideoReader(tmp_path / "dubbed.mp4"))
    assert len(frames) == VideoReader(data / "drive_d0.mp4").n_frames  # the shorter clip sets the length
    assert "generated" in capsys.readouterr().out


class RecordingBackend(Backend):
    """Another backend, recording what it generated for each input stack (by the stack's bytes)."""

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner.spec, inner.device, inner.fp16)
        self.inner, self.name = inner, inner.name
        self.outputs: dict[str, np.ndarray] = {}

    def _record(self, stacks: np.ndarray, images: np.ndarray) -> None:
        for stack, image in zip(stacks, images):
            self.outputs[hashlib.sha256(stack.tobytes()).hexdigest()] = image

    def _infer_array(self, stack: np.ndarray) -> np.ndarray:
        images = self.inner.infer(stack)
        self._record(stack, images)
        return images

    def _infer_tensor(self, stack: torch.Tensor) -> torch.Tensor:
        images = self.inner.infer(stack)
        self._record(stack.cpu().numpy(), images.cpu().numpy())
        return images


def test_rerender_and_evaluate_generate_the_same_crops(tmp_path, random_model) -> None:
    """The held-out frames eval scores are conditioned and generated exactly as `rerender` does them."""
    pytest.importorskip("mediapipe", reason="eval re-tracks the generated frames with MediaPipe")
    target = api.Target.load(random_model.path)
    clip = Path(target.info.source)
    run = RecordingBackend(target.open_backend(api.BackendConfig(backend="onnxruntime", threads=1)))
    api.rerender(target, clip, tmp_path / "all.mp4", backend=run, batch=1)
    scored = RecordingBackend(target.open_backend(api.BackendConfig(backend="onnxruntime", threads=1)))
    api.evaluate(target, tmp_path / "eval", backend=scored)

    start, end = target.info.validation
    assert len(scored.outputs) == int(target.track.params.valid[start:end].sum()) > 0
    missing = [key for key in scored.outputs if key not in run.outputs]
    assert not missing, f"{len(missing)} of eval's {len(scored.outputs)} generator inputs never occur in the run"
    assert all(np.array_equal(image, run.outputs[key]) for key, image in scored.outputs.items())
