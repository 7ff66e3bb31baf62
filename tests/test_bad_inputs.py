"""The matrix of bad inputs and faults: every command on every bad input that applies.

Every bad file is built here, in a temporary folder, from the sample clips.
A refusal must be exit status 2 with one line on stderr (no traceback), and
must leave every file it could touch as it was: inputs, the model folder, and
an output that existed before (hashed before and after). Inputs that are not
errors (grayscale, odd sizes, 4K, several faces, variable frame rate, a rotated
phone video, a still photo) are checked for doing the right thing instead.
The README's table of bad inputs points at the tests here.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import re
import resource
import shutil
import signal
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from reenact.cli import EXIT_USER_ERROR, main
from reenact.model_folder import GENERATOR_ONNX, GENERATOR_WEIGHTS, MODEL_JSON, TRACK, ModelFolder, file_hash
from reenact.pipeline.capture import FileCamera
from reenact.pipeline.label import METADATA_KEY, read_metadata
from reenact.pipeline.stages import Generate
from reenact.video_io import VideoReader, VideoWriter

av = pytest.importorskip("av", reason="building the bad videos needs PyAV")

CLIP = "drive_d0.mp4"
"""512x512, 25 fps, 78 frames, one face, no audio: the source of most bad videos."""
AUDIO_CLIP = "drive_d19.mp4"
"""480x480, 30 fps, with audio: the source of the variable-rate clip."""
FRAMES = 12


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(*roots: Path) -> dict[Path, str]:
    """Every file under `roots` (folders or files) with the sha256 of its bytes."""
    files = [p for root in roots for p in ([root] if root.is_file() else sorted(root.rglob("*"))) if p.is_file()]
    return {p: sha256(p) for p in files}


def cli(capsys, *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


PROGRESS = ("backend: ", "tracking the background")
"""Lines that report progress before the work (which backend, live's background tracking), not errors."""


def error_lines(err: str) -> list[str]:
    """stderr without progress: bars' redraws and the PROGRESS lines."""
    return [line for line in err.replace("\r", "\n").splitlines()
            if line.strip() and "%|" not in line and not line.startswith(PROGRESS)]


def assert_refused(capsys, argv: list, expected: str, *roots: Path) -> str:
    """Exit 2, one line on stderr containing `expected`, no traceback, no file under `roots` changed or added."""
    before = snapshot(*roots)
    code, _, err = cli(capsys, *argv)
    lines = error_lines(err)
    assert code == EXIT_USER_ERROR, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert expected in lines[0], lines[0]
    assert snapshot(*roots) == before, f"files changed by a refused {argv[0]}"
    return lines[0]


def frames_of(path: Path, n: int = FRAMES) -> list[np.ndarray]:
    return list(itertools.islice(VideoReader(path), n))


def write_clip(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    with VideoWriter(path, fps, frames[0].shape[1], frames[0].shape[0]) as writer:
        for frame in frames:
            writer.write(frame)
    return path


def _encode(container, stream, frames: list[np.ndarray], fps: int) -> None:
    """Encode RGB frames at one frame per 1/fps into `stream` of an open PyAV `container`, and flush it."""
    for i, frame in enumerate(frames):
        out = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        out.pts, out.time_base = i, Fraction(1, fps)
        for packet in stream.encode(out):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def write_odd_sized(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    """Frames of an odd width and height, as they are (4:4:4 H.264 takes any size; our writer's 4:2:0 does not)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv444p"
        _encode(container, stream, frames, fps)
    return path


def write_rotated(path: Path, upright: list[np.ndarray], fps: int = 25) -> Path:
    """A phone-style file: frames stored turned a quarter clockwise, with a display matrix that turns them back."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = upright[0].shape[1], upright[0].shape[0]
        stream.pix_fmt = "yuv420p"
        stream.set_display_rotation(90)  # counter-clockwise, as a player applies it
        _encode(container, stream, [np.rot90(frame, -1) for frame in upright], fps)
    return path


def write_vfr(path: Path, source: Path, n: int = 30) -> tuple[Path, list[int]]:
    """`n` frames of `source` at irregular times (a phone's variable rate), with its audio; returns the pts."""
    reader = VideoReader(source)
    gaps = np.random.default_rng(3).choice([1, 1, 2, 3], size=n)  # in frame periods: held frames, as phones do
    periods = np.concatenate([[0], np.cumsum(gaps[:-1])])
    per_frame = round(1 / (reader.rate * reader.time_base))
    pts = [int(p) * per_frame for p in periods]
    with VideoWriter(path, reader.rate, reader.width, reader.height, audio_from=source,
                     time_base=reader.time_base) as writer:
        for frame, t in zip(reader, pts):
            writer.write(frame, t)
    return path, pts


def frame_pts(path: Path) -> list[int]:
    with av.open(str(path)) as container:
        return sorted(frame.pts for frame in container.decode(container.streams.video[0]))


@pytest.fixture(scope="module")
def bad(tmp_path_factory, data) -> dict[str, Path]:
    """Every bad input, by name, built from the sample clips."""
    root = tmp_path_factory.mktemp("bad")
    clip = frames_of(data / CLIP)
    rng = np.random.default_rng(0)
    files = {"missing": root / "missing.mp4"}
    (files.setdefault("empty", root / "empty.mp4")).write_bytes(b"")
    (files.setdefault("text", root / "text.mp4")).write_text("this is not a video\n")
    whole = (data / CLIP).read_bytes()
    (files.setdefault("truncated", root / "truncated.mp4")).write_bytes(whole[: len(whole) // 2])
    files["no_face"] = write_clip(root / "no_face.mp4", [
        cv2.GaussianBlur(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8), (0, 0), 4) for _ in range(FRAMES)])
    files["tiny"] = write_clip(root / "tiny.mp4", [cv2.resize(f, (32, 32), interpolation=cv2.INTER_AREA) for f in clip])
    files["grayscale"] = write_clip(root / "grayscale.mp4",
                                    [np.repeat(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)[..., None], 3, 2) for f in clip])
    files["odd_size"] = write_odd_sized(root / "odd_size.mp4", [cv2.resize(f, (333, 251)) for f in clip])
    files["huge"] = write_clip(root / "huge.mp4", [cv2.resize(f, (3840, 2160)) for f in clip[:3]])
    column = np.zeros((512, 256, 3), np.uint8)
    two = []
    for a, b in zip(clip, frames_of(data / "drive_d3.mp4")):  # a big face on the left, a small one on the right
        column[128:384] = cv2.resize(b, (256, 256))
        two.append(np.concatenate([a, column], 1))
    files["two_faces"] = write_clip(root / "two_faces.mp4", two)
    files["rotated"] = write_rotated(root / "rotated.mp4", [cv2.resize(f, (320, 240)) for f in clip])
    files["vfr"], _ = write_vfr(root / "vfr.mp4", data / AUDIO_CLIP)
    files["still"] = data / "still_s1.jpg"
    return files


BROKEN_VIDEOS = {
    "missing": "not found",
    "empty": "empty file",
    "text": "not a readable video",
    "truncated": "not a readable video",
    "no_face": "face",
    "tiny": "face",
}
"""Videos no command can use, with what the one line says."""


@pytest.fixture()
def out(tmp_path) -> Path:
    """An output folder holding outputs of an earlier run, which a refused command must leave alone."""
    folder = tmp_path / "out"
    folder.mkdir()
    for name in ("result.mp4", "track.npz", "live.mp4"):
        (folder / name).write_bytes(os.urandom(1000))
    return folder


def commands(video: Path, model: Path, out: Path) -> dict[str, list]:
    """Every command line in which `video` is an input, by a name for the test id."""
    return {
        "track": ["track", video, "-o", out / "track.npz"],
        "train": ["train", video, "-o", out / "model", "--preset", "tiny"],
        "run --target": ["run", "--model", model, "--target", video, "--source", video.parent / "ok.mp4",
                         "-o", out / "result.mp4"],
        "run --source": ["run", "--model", model, "--target", video.parent / "ok.mp4", "--source", video,
                         "-o", out / "result.mp4"],
        "edit --target": ["edit", "--model", model, "--target", video, "--smile", "1", "-o", out / "result.mp4"],
        "eval --target": ["eval", "--model", model, "--target", video, "-o", out / "eval"],
        "eval --source": ["eval", "--model", model, "--source", video, "-o", out / "eval"],
        "live --background": ["live", "--model", model, "--camera", video.parent / "ok.mp4", "--background", video,
                              "--sink", out / "live.mp4", "--seconds", "2"],
    }


@pytest.mark.parametrize("command", list(commands(Path("v"), Path("m"), Path("o"))))
@pytest.mark.parametrize("kind", list(BROKEN_VIDEOS))
def test_broken_video_is_refused_by_every_command(capsys, bad, random_model, data, out, kind, command):
    video = bad[kind]
    ok = video.parent / "ok.mp4"
    if not ok.exists():
        write_clip(ok, frames_of(data / CLIP, 30))
    argv = commands(video, random_model.path, out)[command]
    line = assert_refused(capsys, argv, BROKEN_VIDEOS[kind], video.parent, random_model.path, out)
    assert video.name in line  # the line names the file at fault


@pytest.mark.parametrize("kind", ["missing", "empty", "text", "truncated"])
def test_broken_camera_is_refused_and_a_faceless_one_plays(capsys, bad, random_model, out, kind):
    assert_refused(capsys, ["live", "--model", random_model.path, "--camera", bad[kind], "--sink", out / "live.mp4"],
                   BROKEN_VIDEOS[kind], bad[kind].parent, random_model.path, out)


def test_faceless_camera_shows_the_target_and_labels_the_file(capsys, bad, random_model, tmp_path):
    code, stdout, err = cli(capsys, "live", "--model", random_model.path, "--camera", bad["no_face"],
                            "--sink", tmp_path / "live.mp4")
    assert code == 0, err
    assert "0 generated" not in stdout  # the background's own face is rendered while the camera shows none
    assert json.loads(read_metadata(tmp_path / "live.mp4")[METADATA_KEY])["synthetic"] is True


@pytest.mark.parametrize("kind", ["missing", "empty", "text", "truncated"])
def test_broken_track_file_is_refused_by_condition(capsys, tmp_path, out, random_model, kind):
    track = tmp_path / "bad.npz"
    if kind == "empty":
        track.write_bytes(b"")
    elif kind == "text":
        track.write_text("not a track")
    elif kind == "truncated":
        whole = random_model.track_path.read_bytes()
        track.write_bytes(whole[: len(whole) // 2])
    assert_refused(capsys, ["condition", "--target", track, "-o", out / "result.mp4"], track.name, tmp_path)


# --- inputs that are not errors --------------------------------------------------------------


def test_grayscale_odd_sized_and_4k_clips_are_tracked(capsys, bad, tmp_path):
    for kind, size in (("grayscale", (512, 512)), ("odd_size", (333, 251)), ("huge", (3840, 2160))):
        code, stdout, err = cli(capsys, "track", bad[kind], "-o", tmp_path / f"{kind}.npz")
        assert code == 0, err
        assert "face in 100.0%" in stdout, stdout
        assert (VideoReader(bad[kind]).width, VideoReader(bad[kind]).height) == size


def test_odd_sized_clip_is_edited_at_the_nearest_even_size(capsys, bad, random_model, tmp_path):
    result = tmp_path / "odd.mp4"
    code, _, err = cli(capsys, "edit", "--model", random_model.path, "--target", bad["odd_size"], "--smile", "1",
                       "-o", result)
    assert code == 0, err
    reader = VideoReader(result)
    assert (reader.width, reader.height) == (332, 250) and len(list(reader)) == FRAMES  # H.264 needs even sizes


def test_of_several_faces_the_largest_is_followed_and_face_picks_another(capsys, bad, tmp_path):
    from reenact.params import Track

    centres = []
    for face in ("0", "1"):
        code, _, err = cli(capsys, "track", bad["two_faces"], "-o", tmp_path / f"f{face}.npz", "--face", face)
        assert code == 0, err
        centres.append(float(np.nanmedian(Track.load(tmp_path / f"f{face}.npz").landmarks[:, :, 0])))
    assert centres[0] < 512 < centres[1]  # the big face on the left, then the smaller one on the right


def test_rotated_phone_video_is_read_upright(bad, data, capsys, random_model, tmp_path):
    reader = VideoReader(bad["rotated"])
    assert reader.rotation == 90 and (reader.width, reader.height) == (320, 240)  # stored 240 wide, 320 high
    for ours, original in zip(reader, frames_of(data / CLIP)):
        assert np.abs(ours.astype(int) - cv2.resize(original, (320, 240)).astype(int)).mean() < 4  # upright
    result = tmp_path / "rotated_edit.mp4"
    code, _, err = cli(capsys, "edit", "--model", random_model.path, "--target", bad["rotated"], "--smile", "1",
                       "-o", result)
    assert code == 0, err
    edited = VideoReader(result)
    assert edited.rotation == 0 and (edited.width, edited.height) == (320, 240) and len(list(edited)) == FRAMES


def test_variable_frame_rate_clip_keeps_every_frame_time_and_its_audio(bad, capsys, random_model, tmp_path):
    vfr = bad["vfr"]
    result = tmp_path / "vfr_edit.mp4"
    code, _, err = cli(capsys, "edit", "--model", random_model.path, "--target", vfr, "--smile", "1", "-o", result)
    assert code == 0, err
    before, after = frame_pts(vfr), frame_pts(result)
    assert len(set(np.diff(before))) > 1  # the input really is variable-rate
    assert after == before  # every frame where it was: in step with the copied audio
    assert VideoReader(result).has_audio and VideoReader(result).time_base == VideoReader(vfr).time_base


def test_still_photo_source_holds_its_expression_over_the_whole_clip(bad, capsys, random_model, data, tmp_path):
    target = write_clip(tmp_path / "target.mp4", frames_of(data / CLIP, 20))
    result = tmp_path / "still_run.mp4"
    code, _, err = cli(capsys, "run", "--model", random_model.path, "--target", target, "--source", bad["still"],
                       "--mode", "expression", "-o", result)
    assert code == 0, err
    assert "still image" in err
    assert len(list(VideoReader(result))) == 20  # not one frame: the photo drives every frame


def test_still_photo_as_camera_holds(bad, capsys, random_model, tmp_path):
    code, stdout, err = cli(capsys, "live", "--model", random_model.path, "--camera", bad["still"],
                            "--sink", tmp_path / "still_live.mp4", "--seconds", "2")
    assert code == 0, err
    assert "still image" in err
    captured = int(re.search(r"(\d+) of (\d+) frames shown", stdout).group(2))
    assert captured >= 10  # the photo is a camera that keeps showing it, not a one-frame clip that ends the run
    assert len(list(VideoReader(tmp_path / "still_live.mp4"))) >= 1


def test_still_photo_cannot_train(bad, capsys, tmp_path):
    assert_refused(capsys, ["train", bad["still"], "-o", tmp_path / "m", "--preset", "tiny"], "at least 50",
                   bad["still"])


# --- models ------------------------------------------------------------------------------------


@pytest.fixture()
def model_copy(random_model, tmp_path) -> ModelFolder:
    copy = tmp_path / "model"
    shutil.copytree(random_model.path, copy)
    return ModelFolder(copy)


def damage(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = os.urandom(64)
    path.write_bytes(bytes(data))


def model_commands(model: Path, clip: Path, out: Path) -> dict[str, list]:
    return {
        "run": ["run", "--model", model, "--target", clip, "--source", clip, "-o", out / "result.mp4"],
        "run --backend torch": ["run", "--model", model, "--target", clip, "--source", clip, "-o", out / "result.mp4",
                                "--backend", "torch"],
        "edit": ["edit", "--model", model, "--target", clip, "--smile", "1", "-o", out / "result.mp4"],
        "eval": ["eval", "--model", model, "-o", out / "eval"],
        "live": ["live", "--model", model, "--camera", clip, "--sink", out / "live.mp4"],
    }


@pytest.mark.parametrize("command", list(model_commands(Path("m"), Path("c"), Path("o"))))
@pytest.mark.parametrize(("kind", "expected"), [
    ("other version", "model format version 99"),
    ("damaged generator.onnx", "generator.onnx is damaged"),
    ("damaged generator.pt", "generator.pt is damaged"),
    ("damaged track.npz", "track.npz is damaged"),
])
def test_bad_model_is_refused_by_every_command(capsys, model_copy, bad, out, kind, expected, command):
    if kind == "other version":
        info = json.loads(model_copy.info_path.read_text())
        model_copy.info_path.write_text(json.dumps({**info, "format_version": 99}))
    else:
        damage(model_copy.path / kind.split()[1])
    argv = model_commands(model_copy.path, bad["grayscale"], out)[command]
    line = assert_refused(capsys, argv, expected, model_copy.path, out)
    if kind != "other version":
        assert "reenact export" in line or "retrain" in line  # the fix


def test_damaged_onnx_is_named_even_where_model_json_records_no_hashes(capsys, model_copy, bad, out):
    info = json.loads(model_copy.info_path.read_text())
    model_copy.info_path.write_text(json.dumps({**info, "files": {}}))  # a model.json from before the hashes
    model_copy.onnx_path.write_bytes(model_copy.onnx_path.read_bytes()[:5000])
    assert_refused(capsys, model_commands(model_copy.path, bad["grayscale"], out)["run"],
                   "is not a loadable ONNX model", model_copy.path, out)


def test_export_repairs_a_damaged_onnx_file(capsys, model_copy, bad, tmp_path):
    damage(model_copy.onnx_path)
    code, _, err = cli(capsys, "export", model_copy.path, "--format", "onnx")
    assert code == 0, err
    assert json.loads(model_copy.info_path.read_text())["files"][GENERATOR_ONNX] == file_hash(model_copy.onnx_path, 64)
    code, _, err = cli(capsys, "edit", "--model", model_copy.path, "--target", bad["grayscale"], "--smile", "1",
                       "-o", tmp_path / "repaired.mp4")
    assert code == 0, err


class _Payload:
    """Pickled, it runs a command when loaded without weights_only: what a poisoned generator.pt holds."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("file", [GENERATOR_WEIGHTS, "checkpoint.pt"])
def test_pickled_code_is_refused_and_never_run(capsys, model_copy, bad, out, tmp_path, file):
    import torch

    marker = tmp_path / "code_ran"
    torch.save({"weights": _Payload(marker)}, model_copy.path / file)
    if file == GENERATOR_WEIGHTS:
        info = json.loads(model_copy.info_path.read_text())  # as if model.json had been rewritten to match
        info["files"][GENERATOR_WEIGHTS] = file_hash(model_copy.weights_path, 64)
        model_copy.info_path.write_text(json.dumps(info))
        argv = model_commands(model_copy.path, bad["grayscale"], out)["run --backend torch"]
    else:  # a poisoned checkpoint, given to --resume
        argv = ["train", model_copy.info().source, "-o", model_copy.path, "--preset", "tiny", "--resume"]
    line = assert_refused(capsys, argv, "holds pickled code", model_copy.path, out)
    assert "was not loaded" in line and "weights_only=False" not in line
    assert not marker.exists()


def test_stale_engine_key_is_never_used(capsys, model_copy, bad, tmp_path):
    from reenact.runtime.engine_cache import EngineCache, EngineKey

    engines = tmp_path / "engines"
    cache = EngineCache(engines)
    stale = EngineKey(model_hash="0" * 16, gpu="Some GPU", tensorrt="10.0", fp16=True, size=64, in_channels=25,
                      max_batch=8)
    cache.fetch(model_copy.path.name, stale, lambda: b"an engine for another model")
    wanted = EngineKey(model_hash=model_copy.model_hash(), gpu="Some GPU", tensorrt="10.0", fp16=True, size=64,
                       in_channels=25, max_batch=8)
    assert "model_hash" in cache.stale_reason(model_copy.path.name, wanted)
    # Here (no TensorRT) the engine backend is unavailable: one line, and the cache is left as it was.
    assert_refused(capsys, ["export", model_copy.path, "--format", "tensorrt", "--engines", engines], "TensorRT",
                   engines, model_copy.path)
    before = snapshot(engines)
    code, _, err = cli(capsys, "edit", "--model", model_copy.path, "--target", bad["grayscale"], "--smile", "1",
                       "-o", tmp_path / "e.mp4", "--engines", engines)
    assert code == 0, err
    assert snapshot(engines) == before


# --- outputs never replace inputs, and failed writes keep what was there -----------------------


def test_an_output_that_is_an_input_is_refused_before_any_work(capsys, bad, random_model, data, tmp_path):
    target = write_clip(tmp_path / "clip.mp4", frames_of(data / CLIP, 20))
    link = tmp_path / "link.mp4"
    link.symlink_to(target)
    hard = tmp_path / "hard.mp4"
    os.link(target, hard)
    model = random_model.path
    cases = [
        (["run", "--model", model, "--target", target, "--source", target, "-o", target], "is the target"),
        (["run", "--model", model, "--target", target, "--source", bad["grayscale"], "-o", bad["grayscale"]],
         "is the source"),
        (["edit", "--model", model, "--target", target, "--smile", "1", "-o", link], "is the target"),
        (["edit", "--model", model, "--target", target, "--smile", "1", "-o", hard], "is the target"),
        (["edit", "--model", model, "--target", target, "--smile", "1", "-o", model / GENERATOR_ONNX],
         "model's generator.onnx"),
        (["edit", "--model", model, "--target", target, "--smile", "1", "-o", tmp_path / "o.mp4",
          "--review", tmp_path / "o.mp4"], "an output too"),
        (["track", target, "-o", target], "is the video"),
        (["track", target, "-o", tmp_path / "t.npz", "--preview", link], "is the video"),
        (["live", "--model", model, "--camera", target, "--sink", target], "is the camera"),
        (["live", "--model", model, "--camera", target, "--background", hard, "--sink", link], "is the camera"),
        (["live", "--model", model, "--camera", target, "--sink", model / TRACK], "model's track.npz"),
        (["live", "--model", model, "--camera", target, "--sink", data / "target_wojtek.mp4"], "training clip"),
        (["train", target, "-o", target], "is the target clip"),
        (["train", target, "-o", model / MODEL_JSON], "must be a folder"),
        (["eval", "--model", model, "--target", target, "-o", target], "is the target"),
        (["condition", "--target", model / TRACK, "--target-video", target, "-o", target], "is the target video"),
    ]
    for argv, expected in cases:
        assert_refused(capsys, argv, expected, tmp_path, model)


def test_an_unwritable_output_folder_is_refused_before_any_work(capsys, bad, random_model, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("a file where a folder should be")
    model, clip = random_model.path, bad["grayscale"]
    for argv in (
        ["track", clip, "-o", blocker / "t.npz"],
        ["edit", "--model", model, "--target", clip, "--smile", "1", "-o", blocker / "sub" / "o.mp4"],
        ["run", "--model", model, "--target", clip, "--source", clip, "-o", tmp_path / "o.mp4",
         "--review", blocker / "r.mp4"],
        ["live", "--model", model, "--camera", clip, "--sink", blocker / "live.mp4"],
        ["train", clip, "-o", blocker / "model", "--preset", "tiny"],
        ["eval", "--model", model, "-o", blocker / "eval"],
        ["condition", "--target", model / TRACK, "-o", blocker / "c.mp4"],
    ):
        assert_refused(capsys, argv, "cannot write", tmp_path, model)


@contextlib.contextmanager
def disk_full_after(size: int):
    """Writes beyond `size` bytes in any one file fail, as on a disk that fills up mid-run (EFBIG)."""
    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, old_limit[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)


def test_a_disk_filling_up_mid_write_keeps_the_existing_output(capsys, bad, random_model, out):
    before = snapshot(out)
    with disk_full_after(16_000):
        code, _, err = cli(capsys, "edit", "--model", random_model.path, "--target", bad["huge"], "--smile", "1",
                           "-o", out / "result.mp4")
        track_code, _, track_err = cli(capsys, "track", bad["grayscale"], "-o", out / "track.npz")
    for code, err in ((code, err), (track_code, track_err)):
        lines = error_lines(err)
        assert code == EXIT_USER_ERROR and len(lines) == 1 and "cannot write" in lines[0], err
    assert snapshot(out) == before  # the earlier outputs kept, no partial file left


# --- edits learn from the model, live faults -----------------------------------------------------


def test_eye_edit_of_a_shot_that_never_blinks(capsys, random_model, data, tmp_path):
    from reenact.edits import Editor, SetEyeOpenness
    from reenact.tracking.tracker import track_video

    model_track = random_model.load_track()
    openness = model_track.params.openness[:, 1]
    n = 30
    start = int(np.argmin([np.ptp(openness[i:i + n]) for i in range(len(openness) - n)]))
    shot = write_clip(tmp_path / "shot.mp4", list(itertools.islice(VideoReader(data / "target_wojtek.mp4"), start,
                                                                   start + n)))
    shot_track = track_video(shot, model=model_track.model)
    code, _, err = cli(capsys, "edit", "--model", random_model.path, "--target", shot, "--close-eye", "left",
                       "-o", tmp_path / "wink.mp4")
    assert code == 0, err
    edited = Editor(model_track).apply(shot_track.params, [SetEyeOpenness(0.0, eye="left")])
    assert np.allclose(edited.openness[:, 1], 0)


@pytest.fixture()
def sink_writes(monkeypatch) -> list[float]:
    """The capture time of every frame the live file sink is given (so a fault can wait for a recording)."""
    from reenact.pipeline.sinks import FileSink

    written: list[float] = []
    write = FileSink.write

    def counted(self, rgb, captured):
        written.append(captured)
        write(self, rgb, captured)

    monkeypatch.setattr(FileSink, "write", counted)
    return written


def test_camera_lost_mid_run_ends_with_one_line_and_a_labelled_recording(capsys, random_model, data, tmp_path,
                                                                          monkeypatch, sink_writes):
    read = FileCamera.read

    def failing(self):
        if len(sink_writes) >= 10:  # once something is recorded (however loaded the machine), the device goes
            raise OSError(5, "Input/output error")
        return read(self)

    monkeypatch.setattr(FileCamera, "read", failing)
    recording = tmp_path / "lost.mp4"
    code, _, err = cli(capsys, "live", "--model", random_model.path, "--camera", data / CLIP, "--loop",
                       "--sink", recording)
    lines = error_lines(err)
    assert code == EXIT_USER_ERROR and "Traceback" not in err
    assert [line for line in lines if "error" in line] == lines[-1:], err
    assert re.search(r"the camera failed after \d+ frames \(OSError: .*Input/output error\)", lines[-1]), lines[-1]
    assert "recorded until then are in" in lines[-1]
    assert len(list(VideoReader(recording))) >= 10
    assert json.loads(read_metadata(recording)[METADATA_KEY])["synthetic"] is True
    assert [p.name for p in tmp_path.iterdir()] == ["lost.mp4"]  # finished, no partial file


def test_unplugged_webcam_ends_the_run_with_one_line_and_a_labelled_recording(capsys, random_model, data, tmp_path,
                                                                            monkeypatch, sink_writes):
    frames = frames_of(data / CLIP, 40)

    class Unplugged:
        """A webcam at 25 fps that delivers nothing once 10 frames are recorded (as OpenCV reports an unplugged
        camera: every read fails)."""

        def __init__(self, index: int) -> None:
            self.reads = 0

        def isOpened(self) -> bool:
            return True

        def read(self):
            self.reads += 1
            if len(sink_writes) >= 10 and self.reads > 1:
                return False, None
            time.sleep(0.04)
            return True, cv2.cvtColor(frames[self.reads % len(frames)], cv2.COLOR_RGB2BGR)

        def set(self, *args) -> bool:
            return True

        def get(self, prop) -> float:
            return 25.0

        def release(self) -> None:
            pass

    monkeypatch.setattr(cv2, "VideoCapture", Unplugged)
    recording = tmp_path / "unplugged.mp4"
    code, _, err = cli(capsys, "live", "--model", random_model.path, "--camera", "0", "--sink", recording)
    lines = [line for line in error_lines(err) if "error" in line]
    assert code == EXIT_USER_ERROR and "Traceback" not in err and len(lines) == 1, err
    assert "camera 0 stopped delivering frames" in lines[0] and "recorded until then" in lines[0]
    assert len(list(VideoReader(recording))) >= 10
    assert json.loads(read_metadata(recording)[METADATA_KEY])["camera"] == "webcam 0"


def test_a_stage_failing_now_and_then_drops_those_frames_and_counts_them(capsys, random_model, data, tmp_path,
                                                                         monkeypatch):
    generate = Generate.__call__
    calls = [0]

    def flaky(self, frames, targets=None):
        calls[0] += 1
        if calls[0] % 2 == 1:  # every other frame (the first included: a loaded machine may generate few)
            raise RuntimeError("simulated hiccup")
        return generate(self, frames, targets)

    monkeypatch.setattr(Generate, "__call__", flaky)
    code, stdout, err = cli(capsys, "live", "--model", random_model.path, "--camera", data / CLIP,
                            "--sink", tmp_path / "flaky.mp4", "--seconds", "2")
    assert code == 0, err
    assert sum("simulated hiccup" in line for line in err.splitlines()) == 1
    failed = int(stdout.split(" failed")[0].rsplit(", ", 1)[1])
    assert failed == (calls[0] + 1) // 2 and failed > 0


def test_labels_record_input_names_and_hashes_not_local_paths(capsys, bad, random_model, tmp_path):
    result = tmp_path / "labelled.mp4"
    code, _, err = cli(capsys, "edit", "--model", random_model.path, "--target", bad["grayscale"], "--smile", "1",
                       "-o", result)
    assert code == 0, err
    text = json.dumps(read_metadata(result))
    record = json.loads(read_metadata(result)[METADATA_KEY])
    assert record["target"] == "grayscale.mp4" and record["target_sha256"] == sha256(bad["grayscale"])
    assert str(bad["grayscale"].parent) not in text and str(tmp_path) not in text
