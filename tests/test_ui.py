"""The browser editor (`reenact ui`): its page served on a loopback port and driven with `gradio_client` as a
browser drives it; and in a real browser (headless Chromium), where one is installed."""

from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from reenact import edits_file
from reenact.cli import main
from reenact.edits import SetActionUnit, Smile, Timing, TurnHead

ROOT = Path(__file__).parents[1]
CHROMIUM = Path("/usr/bin/chromium")
needs_gradio = pytest.mark.skipif(importlib.util.find_spec("gradio") is None,
                                  reason="the browser editor needs Gradio: pip install 'reenact[ui]'")
MIX = ("full", 1.0, 1.0, 1.0, 1.0)
"""The page's source controls at their defaults: mode, mouth, eyes, brows, intensity."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def page(tmp_path_factory, random_model, short_clip):
    """The editor's page on a free loopback port, with `random_model` and the short clip opened through it."""
    pytest.importorskip("mediapipe", reason="the clip is tracked with MediaPipe")
    from gradio_client import Client

    from reenact import api
    from reenact.ui.page import build_page, serve
    from reenact.ui.session import EditorSession

    session = EditorSession(tmp_path_factory.mktemp("ui"), api.BackendConfig(backend="onnxruntime", threads=1))
    blocks = build_page(session)
    url = serve(blocks, session, port=free_port(), block=False)
    client = Client(url, verbose=False)
    summary, *_ = client.predict(str(random_model.path), str(short_clip), "", api_name="/open")
    assert "40 frames" in summary, summary
    yield client, session
    blocks.close()
    session.close()


def controls(**values) -> list:
    """The page's edit controls as `/edits` takes them: defaults but for `values`."""
    from reenact.ui.session import AU_COLUMNS, EMOTION_COLUMNS, Controls

    listed = Controls(**values).values()
    listed[-2] = {"headers": list(AU_COLUMNS), "data": [list(row) for row in listed[-2]] or [["", None, "set", 0, 0,
                                                                                                None]]}
    listed[-1] = {"headers": list(EMOTION_COLUMNS), "data": [list(row) for row in listed[-1]] or [["", None, "set",
                                                                                                   0, 0, None]]}
    return listed


def image(path: str) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB")).astype(np.int16)


@needs_gradio
def test_a_preview_with_an_edit_differs_from_one_without(page) -> None:
    client, _ = page
    text, message = client.predict(*controls(yaw=20.0, smile=1.0, smile_start=10, smile_full=20,
                                             action_units=[["12", 0.8, "set", 0, 5, None]]), api_name="/edits")
    assert message == ""
    assert [type(entry) for entry in edits_file.loads(text)] == [TurnHead, Smile, SetActionUnit]
    empty, _ = client.predict(*controls(), api_name="/edits")
    original, overlay, edited, line = client.predict(30, text, *MIX, api_name="/preview")
    assert line.startswith("frame 30 "), line
    _, _, plain, _ = client.predict(30, empty, *MIX, api_name="/preview")
    edited, plain, original, overlay = (image(p) for p in (edited, plain, original, overlay))
    assert edited.shape == plain.shape == original.shape == (512, 512, 3)
    assert edited.std() > 10, "the preview is blank"
    assert np.abs(edited - plain).mean() > 1.0, "the edits did not change the preview"
    assert np.abs(overlay - original).mean() > 1.0, "the conditioning overlay shows nothing"


@needs_gradio
def test_render_writes_the_whole_clip_with_its_audio_labelled(page, short_clip) -> None:
    from reenact.pipeline.label import METADATA_KEY, read_metadata
    from reenact.video_io import VideoReader

    client, _ = page
    text = edits_file.dumps([Smile(0.8, timing=Timing(5, 10))])
    video, download, line = client.predict(text, *MIX, api_name="/render")
    result = Path(video["video"] if isinstance(video, dict) else video)
    frames = list(VideoReader(result))
    assert len(frames) == VideoReader(short_clip).n_frames == 40, line
    assert VideoReader(result).has_audio and VideoReader(short_clip).has_audio
    assert '"command": "ui"' in read_metadata(result)[METADATA_KEY]
    assert Path(download).read_bytes() == result.read_bytes()


@needs_gradio
def test_edits_saved_from_the_page_load_back_the_same(page) -> None:
    from gradio_client import handle_file

    client, _ = page
    asked = controls(yaw=-6.0, pitch=2.0, head_start=3, head_full=9, head_release=30, eye="left", openness=0.05,
                     look=True, look_x=0.4, look_y=-0.1, look_start=2, action_units=[["L12", 0.6, "add", 1, 4, 8]],
                     emotions=[["sad", 0.5, "set", 0, 10, None]])
    text, message = client.predict(*asked, api_name="/edits")
    assert message == "", message
    saved, message = client.predict(text, api_name="/save_edits")
    assert message == "" and edits_file.read(saved) == edits_file.loads(text)
    *loaded, loaded_text, message = client.predict(handle_file(saved), api_name="/load_edits")
    assert loaded_text == text and message.startswith("loaded")
    again, _ = client.predict(*loaded, api_name="/edits")
    assert edits_file.loads(again) == edits_file.loads(text)


@needs_gradio
def test_bad_inputs_are_one_message_on_the_page(page, tmp_path, random_model, short_clip) -> None:
    import cv2
    from gradio_client import handle_file

    from reenact.video_io import VideoWriter

    client, _ = page
    no_face = tmp_path / "no_face.mp4"
    rng = np.random.default_rng(0)
    with VideoWriter(no_face, 25, 160, 120) as writer:
        for _ in range(10):
            writer.write(cv2.GaussianBlur(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8), (0, 0), 8))
    damaged = tmp_path / "damaged"
    shutil.copytree(random_model.path, damaged)
    with open(damaged / "generator.onnx", "r+b") as f:
        f.seek(100)
        f.write(b"\0" * 64)
    bad_file = tmp_path / "bad.json"
    bad_file.write_text('{"format": "reenact-edits", "version": 1, "edits": [{"kind": "smile", "amout": 1}]}')
    expected = {
        (str(tmp_path / "missing"), str(short_clip)): "not found",
        (str(damaged), str(short_clip)): "is damaged",
        (str(random_model.path), str(no_face)): "no face",
    }
    for (model, clip), words in expected.items():
        message, *_ = client.predict(model, clip, "", api_name="/open")
        assert message.startswith("error: ") and words in message and "\n" not in message, message
    *_, message = client.predict(handle_file(bad_file), api_name="/load_edits")
    assert message.startswith("error: ") and "unknown key 'amout'" in message, message
    _, message = client.predict(*controls(action_units=[["99", 1.0, "set", 0, 0, None]]), api_name="/edits")
    assert message.startswith("error: ") and "action unit row 1" in message, message
    *_, message = client.predict(3, "{not json", *MIX, api_name="/preview")
    assert message.startswith("error: ") and "is not JSON" in message, message
    *_, line = client.predict(3, edits_file.dumps([]), *MIX, api_name="/preview")
    assert line.startswith("frame 3 "), "a refused input replaced the opened clip"


def test_without_gradio_the_command_says_how_to_install_it(monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio raises ImportError
    assert main(["ui"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [("reenact ui: error: the browser editor needs Gradio, which is not installed: "
                   "pip install 'reenact[ui]'")]


def test_help_imports_neither_torch_nor_gradio() -> None:
    code = ("import sys\nfrom reenact.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted({'torch', 'gradio'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


@needs_gradio
@pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"{CHROMIUM} not found (apt-get install chromium)")
def test_the_page_in_headless_chromium_shows_a_preview(tmp_path, random_model, short_clip) -> None:
    pytest.importorskip("playwright", reason="tools/ui_screenshot.py drives Chromium with Playwright (pip install "
                                             "playwright; no browser download: it uses /usr/bin/chromium)")
    shot = tmp_path / "ui.png"
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "ui_screenshot.py"), "--model", str(random_model.path),
                           "--target", str(short_clip), "--frame", "12", "-o", str(shot)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "a picture" in done.stdout and shot.stat().st_size > 10_000
