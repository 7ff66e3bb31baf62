"""`reenact batch`: jobs on local processes and on a local Ray; failures reported, finished jobs skipped on a rerun."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from reenact.cli import main
from reenact.eval.metrics import psnr
from reenact.pipeline.label import METADATA_KEY, read_metadata
from reenact.video_io import VideoReader, VideoWriter

FRAMES = 12


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory, data) -> Path:
    """The first frames of the model's target clip, as a clip of its own (tracked by each job)."""
    path = tmp_path_factory.mktemp("clips") / "wojtek_short.mp4"
    reader = VideoReader(data / "target_wojtek.mp4")
    with VideoWriter(path, reader.fps, reader.width, reader.height) as writer:
        for index, frame in enumerate(reader):
            if index == FRAMES:
                break
            writer.write(frame)
    return path


def write_jobs(folder: Path, model: Path, clip: Path) -> Path:
    """Four jobs: three edits of the short clip, and one whose target is missing."""
    rows = [
        {"model": str(model), "target": clip.name, "source": "", "output": "out/smile.mp4", "options": "--smile 0.6"},
        {"model": str(model), "target": clip.name, "source": "", "output": "out/eyes.mp4", "options": "--close-eye left"},
        {"model": str(model), "target": "missing.mp4", "source": "", "output": "out/bad.mp4", "options": ""},
        {"model": str(model), "target": clip.name, "source": "", "output": "out/turn.mp4",
         "options": "--turn-head 10 --watermark"},
    ]
    (folder / clip.name).write_bytes(clip.read_bytes())
    path = folder / "jobs.csv"
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def run_batch(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["batch", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def check_first_run(code: int, out: str, folder: Path) -> None:
    assert code == 1, out
    assert "3 done, 1 failed, 0 skipped" in out
    assert "missing.mp4" in out  # the failure's one-line reason names the missing clip
    for name in ("smile", "eyes", "turn"):
        output = folder / "out" / f"{name}.mp4"
        assert len(list(VideoReader(output))) == FRAMES
        assert json.loads(read_metadata(output)[METADATA_KEY])["command"] == "batch"
    assert not (folder / "out" / "bad.mp4").exists()


def test_local_workers_run_the_jobs_and_a_rerun_skips_the_finished(tmp_path, capsys, random_model, short_clip):
    pytest.importorskip("mediapipe", reason="each job tracks its clip")
    jobs = write_jobs(tmp_path, random_model.path, short_clip)
    code, out, _ = run_batch(capsys, jobs, "--workers", "2")
    check_first_run(code, out, tmp_path)
    stamp = (tmp_path / "out" / "smile.mp4").stat().st_mtime_ns
    code, out, _ = run_batch(capsys, jobs, "--workers", "2")
    assert code == 1 and "0 done, 1 failed, 3 skipped" in out
    assert (tmp_path / "out" / "smile.mp4").stat().st_mtime_ns == stamp


def test_changed_options_are_rendered_again(tmp_path, capsys, random_model, short_clip):
    pytest.importorskip("mediapipe", reason="each job tracks its clip")
    jobs = write_jobs(tmp_path, random_model.path, short_clip)
    run_batch(capsys, jobs)
    jobs.write_text(jobs.read_text().replace("--smile 0.6", "--smile 0.9"))
    code, out, _ = run_batch(capsys, jobs)
    assert "1 done, 1 failed, 2 skipped" in out


def test_ray_runs_the_jobs_and_a_rerun_skips_the_finished(tmp_path, capsys, random_model, short_clip):
    pytest.importorskip("ray", reason="Ray is the cluster extra: pip install 'reenact[cluster]'")
    pytest.importorskip("mediapipe", reason="each job tracks its clip")
    jobs = write_jobs(tmp_path, random_model.path, short_clip)
    code, out, _ = run_batch(capsys, jobs, "--ray")
    check_first_run(code, out, tmp_path)
    code, out, _ = run_batch(capsys, jobs, "--ray")
    assert code == 1 and "0 done, 1 failed, 3 skipped" in out


def test_bad_jobs_files_are_one_error_line(tmp_path, capsys, random_model):
    cases = {
        "missing.csv": None,
        "empty.csv": "model,target,source,output,options\n",
        "columns.csv": "model,target,output,colour\nm,t,o,red\n",
        "nooutput.csv": "model,target,source,output,options\nm,t,,,\n",
        "broken.json": "{not json",
        "twice.csv": f"model,target,source,output,options\n{random_model.path},t.mp4,,o.mp4,\n{random_model.path},"
                     "u.mp4,,o.mp4,\n",
    }
    for name, text in cases.items():
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        code, out, err = run_batch(capsys, path)
        assert code == 2 and err.count("\n") == 1 and "error:" in err, (name, err)


@pytest.fixture(scope="module")
def joined_clip(tmp_path_factory, data) -> Path:
    """Two sample clips joined (a picture cut at frame 20), 30 fps, with the first one's audio."""
    path = tmp_path_factory.mktemp("clips") / "joined.mp4"
    first, second = VideoReader(data / "drive_d3.mp4"), VideoReader(data / "drive_d10.mp4")
    with VideoWriter(path, first.rate, first.width, first.height, audio_from=data / "drive_d3.mp4",
                     time_base=first.time_base) as writer:
        for reader in (first, second):
            for _, frame in zip(range(20), reader):
                writer.write(frame)
    return path


def test_split_shots_equals_a_plain_run(tmp_path, capsys, random_model, joined_clip):
    pytest.importorskip("mediapipe", reason="the clip is tracked")
    plain, split = tmp_path / "plain.mp4", tmp_path / "split.mp4"
    common = ["edit", "--model", str(random_model.path), "--target", str(joined_clip), "--smile", "0.5"]
    assert main([*common, "-o", str(plain)]) == 0
    assert main([*common, "-o", str(split), "--split-shots", "--workers", "2"]) == 0
    out = capsys.readouterr().out
    assert "2 shots" in out
    a, b = VideoReader(plain), VideoReader(split)
    assert (b.rate, b.width, b.height, b.has_audio) == (a.rate, a.width, a.height, True)
    frames_a, frames_b = list(a), list(b)
    assert len(frames_b) == len(frames_a) == 40
    worst = min(psnr(x, y) for x, y in zip(frames_a, frames_b))
    assert worst > 35, f"the split run differs from the plain one by more than encoding: {worst:.1f} dB"
    assert json.loads(read_metadata(split)[METADATA_KEY])["command"] == "edit"
