"""The library API: the README's example runs, and `rerender`, `evaluate` and live generate the same crops for a frame."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from reenact import api
from reenact.runtime.backend import Backend
from reenact.video_io import VideoReader, VideoWriter

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


def test_live_and_rerender_generate_the_same_crop_for_a_still(tmp_path, random_model, data) -> None:
    """Live over a still background, the camera showing no face (so the background's own face is drawn), with
    the offline edit mask: every live generator input is the one an offline render of the still gives."""
    pytest.importorskip("mediapipe", reason="the still is fitted with MediaPipe")
    import cv2

    from reenact.render.edit_mask import edit_regions
    from reenact.video_io import VideoWriter

    target = api.Target.load(random_model.path)
    still = data / "still_s1.jpg"
    camera = tmp_path / "no_face.mp4"
    rng = np.random.default_rng(0)
    with VideoWriter(camera, 30, 160, 120) as writer:
        for _ in range(30):
            writer.write(cv2.GaussianBlur(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8), (0, 0), 8))
    offline = RecordingBackend(target.open_backend(api.BackendConfig(backend="onnxruntime", threads=1)))
    api.rerender(target, still, tmp_path / "still.mp4", backend=offline)
    live = RecordingBackend(target.open_backend(api.BackendConfig(backend="onnxruntime", threads=1)))
    config = api.LiveConfig(camera=camera, sink=tmp_path / "live.mp4", background=still, edit=edit_regions(),
                            report_every=60)
    summary = api.LiveSession(target, config, backend=live, say=lambda line: None).run()

    assert summary.generated > 0 and len(offline.outputs) == 1
    assert set(live.outputs) == set(offline.outputs), "live fed the generator other inputs than the offline render"
    (key,) = offline.outputs
    assert np.array_equal(live.outputs[key], offline.outputs[key])


def test_a_previewed_frame_is_the_frame_a_whole_render_draws(tmp_path, random_model, short_clip) -> None:
    """`FramePreviewer` draws frame N as `render` does in a run over the whole clip (crop filter from the shot's
    start, the stack's earlier frames), to within the lossless piece's chroma subsampling."""
    pytest.importorskip("mediapipe", reason="the clip is tracked with MediaPipe")
    target = api.Target.load(random_model.path)
    backend = target.open_backend(api.BackendConfig(backend="onnxruntime", threads=1))
    edits = [api.TurnHead(10.0, timing=api.Timing(5, 20)), api.Smile(0.8, timing=api.Timing(0, 10, 25))]
    plan = api.plan_rerender(target, short_clip, edits=edits)
    api.render(plan, tmp_path / "whole.mp4", backend=backend, piece=True, target=target)
    drawn = list(VideoReader(tmp_path / "whole.mp4"))
    previewer = api.FramePreviewer(target, short_clip, backend=backend)
    frames = (30, 12, 2)
    previews = {index: previewer(index, edits).rendered for index in frames}
    unedited = {index: previewer(index).rendered for index in frames}
    previewer.close()
    with VideoWriter(tmp_path / "previews.mp4", 25, *drawn[0].shape[1::-1], crf=0) as writer:
        for index in frames:  # through the same lossless encoding (4:2:0) as the render's piece
            writer.write(previews[index])
            writer.write(unedited[index])
    decoded = list(VideoReader(tmp_path / "previews.mp4"))
    for k, index in enumerate(frames):
        error = np.abs(decoded[2 * k].astype(np.int16) - drawn[index]).mean()
        moved = np.abs(decoded[2 * k + 1].astype(np.int16) - drawn[index]).mean()
        assert error < 0.2 and moved > 1.0, f"frame {index}: {error:.2f} from the render's (unedited: {moved:.2f})"
