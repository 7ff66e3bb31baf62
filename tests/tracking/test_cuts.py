"""Shot cuts: the jump-cut test on made-up motion, on real clips, the filters' restart, and `--cuts`."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from reenact.cli import main
from reenact.errors import SettingError
from reenact.pipeline.video_io import VideoReader, VideoWriter
from reenact.tracking.cut_list import AUTO, NONE, CutList, parse_cuts
from reenact.tracking.cuts import GRID, jump_cuts, repeated_frames
from reenact.tracking.fitting import fit_frames
from reenact.tracking.tracker import TrackerConfig, detect_clip, fit_track

# --- the jump test on made-up motion (no video) ---------------------------------------------------


def moving_face(n: int, speed: float, rng: np.random.Generator) -> np.ndarray:
    """Tx478x3 landmarks of a face 100 px between the eyes gliding right at `speed` px/frame, with
    0.1 px jitter: a stand-in for raw detections."""
    from reenact.tracking.canonical_face import canonical_face

    face = canonical_face()
    base = face.vertices[:, :2] * np.array([1.0, -1.0])
    eye = face.eye_points
    iod = np.linalg.norm((base[eye[0, 0]] + base[eye[0, 1]]) / 2 - (base[eye[1, 0]] + base[eye[1, 1]]) / 2)
    base = base * (100 / iod) + 300
    points = np.concatenate([base, base[:10]])  # the 10 iris points: any position will do here
    track = points[None] + np.arange(n)[:, None, None] * np.array([speed, 0.0])
    track = track + rng.normal(0, 0.1, track.shape)
    return np.concatenate([track, np.zeros((n, len(points), 1))], axis=2).astype(np.float32)


def quiet_appearance(n: int, rng: np.random.Generator) -> np.ndarray:
    return (1.0 + rng.random((n, GRID * GRID))).astype(np.float32)


def find(landmarks: np.ndarray, appearance: np.ndarray, repeats: np.ndarray | None = None) -> list[int]:
    valid = np.ones(len(landmarks), dtype=bool)
    repeats = np.zeros(len(landmarks), dtype=bool) if repeats is None else repeats
    return jump_cuts(landmarks, valid, appearance, np.zeros(0, dtype=np.int64), repeats).tolist()


def with_repeats(landmarks: np.ndarray, appearance: np.ndarray, every: int) -> tuple[np.ndarray, ...]:
    """The clip converted to a higher frame rate by showing every `every`-th frame twice: landmarks and
    appearance change as the detector measures them (a repeat does not change), and the repeats."""
    shown = np.repeat(np.arange(len(landmarks)), np.where(np.arange(len(landmarks)) % every == every - 1, 2, 1))
    repeats = np.r_[False, shown[1:] == shown[:-1]]
    return landmarks[shown], np.where(repeats[:, None], 0.05, appearance[shown]), repeats


def test_a_jump_of_face_and_appearance_is_a_cut():
    rng = np.random.default_rng(0)
    landmarks, appearance = moving_face(60, 0.5, rng), quiet_appearance(60, rng)
    landmarks[30:, :, 0] += 8  # the face jumps 8% of its inter-ocular distance at frame 30
    appearance[30] *= 8
    assert find(landmarks, appearance) == [30]


def test_fast_steady_motion_and_its_start_are_not_cuts():
    rng = np.random.default_rng(1)
    still = moving_face(30, 0.0, rng)
    fast = moving_face(30, 6.0, rng) + (still[-1] - moving_face(1, 0.0, rng)[0])  # a head turn starting at 30
    appearance = quiet_appearance(60, rng)
    appearance[30:] *= 6  # the turn changes the face region as much as a cut would, but from frame to frame
    assert find(np.concatenate([still, fast]), appearance) == []


def test_a_blink_moves_too_little_of_the_face_to_be_a_cut():
    from reenact.tracking.canonical_face import canonical_face

    rng = np.random.default_rng(2)
    landmarks, appearance = moving_face(60, 0.3, rng), quiet_appearance(60, rng)
    lids = np.concatenate(canonical_face().eyes)
    landmarks[30:32, lids, 1] += 6  # lids shut for two frames
    appearance[30:33, :12] *= 20  # the eye blocks change a lot, the rest of the face not
    assert find(landmarks, appearance) == []


def test_repeated_frames_are_found_from_the_whole_frame_change():
    change = np.tile([2.0, 2.5, 0.1], 10)  # every third frame repeats the one before
    change[0] = np.nan
    np.testing.assert_array_equal(np.flatnonzero(repeated_frames(change, 0.25)), np.arange(2, 30, 3))
    assert not repeated_frames(np.full(30, 0.3), 0.25).any()  # a still clip's frames are not repeats


def test_repeated_frames_neither_hide_a_cut_nor_make_one():
    rng = np.random.default_rng(3)
    landmarks, appearance, repeats = with_repeats(moving_face(45, 3.0, rng), quiet_appearance(45, rng), 2)
    assert repeats[29] and find(landmarks, appearance, repeats) == []
    landmarks[30:, :, 0] += 6  # a jump cut at 30, the frame after a repeat: 6% of the inter-ocular distance
    appearance[30] *= 5
    assert find(landmarks, appearance, repeats) == [30]
    # Taken as motion, the repeats' stops and starts make the face's own motion as jerky as the cut.
    assert find(landmarks, appearance) == []


# --- real clips -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jump_cut_clip(tmp_path_factory, data):
    """drive_d3 with 1.5 s cut out after its first 2 s: a jump cut at frame 60, 4 s of video."""
    reader = VideoReader(data / "drive_d3.mp4")
    frames = list(itertools.islice(reader, 165))
    path = tmp_path_factory.mktemp("cuts") / "d3_jump.mp4"
    with VideoWriter(path, reader.fps, reader.width, reader.height) as writer:
        for i in np.r_[0:60, 105:165]:
            writer.write(frames[i])
    return path


@pytest.fixture(scope="module")
def jump_cut_detected(jump_cut_clip):
    return detect_clip(jump_cut_clip)


def test_jump_cut_in_a_real_clip_is_found(jump_cut_detected):
    assert jump_cut_detected.cuts.tolist() == [60]


@pytest.mark.parametrize("name", ["target_franck.mp4", "target_edtalk.mp4", "target_wojtek.mp4", "drive_d0.mp4",
                                  "drive_d9.mp4", "drive_d10.mp4"])
def test_continuous_clip_has_no_cut(detected, name):
    # speech throughout; d0: a big smile; d9: head turns; d10: eyes shut and opened again
    assert detected(name).cuts.tolist() == [], name


def test_filters_restart_at_a_cut(jump_cut_detected):
    clip = dataclasses.replace(jump_cut_detected)
    track = fit_track(clip)
    cut = 60
    # The landmark filter passes the new shot's first frame through, and its pose is that frame's raw fit.
    np.testing.assert_array_equal(track.landmarks[cut], clip.landmarks[cut])
    raw = fit_frames(track.landmarks[cut : cut + 1], track.model)
    np.testing.assert_allclose(track.params.translation[cut], raw.translation[0], atol=1e-3)
    np.testing.assert_allclose(track.params.scale[cut], raw.scale[0], rtol=1e-5)
    np.testing.assert_allclose(track.params.rotation[cut], raw.rotation[0], atol=1e-5)
    # Without the cut the filters drag the old shot's face into the new one.
    clip.cuts = np.zeros(0, dtype=np.int32)
    dragged = fit_track(clip, model=track.model)
    assert np.abs(dragged.params.translation[cut] - raw.translation[0]).max() > 5


def test_user_cuts_replace_detection(jump_cut_clip):
    given = detect_clip(jump_cut_clip, TrackerConfig(cut_list=parse_cuts("1s,90")))  # d3 runs at 30 fps
    assert given.cuts.tolist() == [30, 90]  # the jump at 60 is not theirs, so not a cut


# --- --cuts ---------------------------------------------------------------------------------------


def test_cuts_syntax():
    assert parse_cuts("auto") == AUTO and parse_cuts(" None ") == NONE
    cuts = parse_cuts("12.5s, 300,30s")
    assert cuts == CutList(detect=False, frames=(300,), seconds=(12.5, 30.0))
    np.testing.assert_array_equal(cuts.resolve(25.0), [300, 312, 750])
    np.testing.assert_array_equal(parse_cuts("0.01s,4").resolve(25.0), [4])  # a time in frame 0 names the start


@pytest.mark.parametrize("text, message", [
    ("12.5", "write times with an s"), ("abc", "not a time or a frame"), ("300,,750", "empty item"),
    ("0", "frame 0 always starts"), ("-2s", "frame 0 always starts"), ("", "empty item"),
])
def test_bad_cuts_are_refused(text, message):
    with pytest.raises(SettingError, match=message):
        parse_cuts(text)


def test_cut_beyond_the_clip_is_refused():
    with pytest.raises(SettingError, match="has 100 frames"):
        parse_cuts("5s").resolve(25.0, 100)


@pytest.mark.parametrize("argv", [
    ["track", "absent.mp4", "-o", "t.npz", "--cuts", "12,5x"],
    ["run", "--model", "m", "--target", "t.mp4", "--source", "s.mp4", "-o", "o.mp4", "--source-cuts", "1.5"],
    ["edit", "--model", "m", "--target", "t.mp4", "-o", "o.mp4", "--smile", "0.5", "--cuts", "0"],
])
def test_bad_cuts_give_one_error_line(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "--" in lines[0] and "cuts" in lines[0], err


def test_track_prints_each_cut_and_the_preview_marks_it(capsys, tmp_path, jump_cut_clip):
    preview = tmp_path / "preview.mp4"
    assert main(["track", str(jump_cut_clip), "-o", str(tmp_path / "t.npz"), "--preview", str(preview)]) == 0
    assert "shot 2 starts at 2.00 s (frame 60)" in capsys.readouterr().out
    drawn, plain = list(VideoReader(preview))[58:62], list(VideoReader(jump_cut_clip))[58:62]
    border = [np.abs(d[:4].astype(int) - p[:4]).mean() for d, p in zip(drawn, plain)]  # the top edge
    assert border[2] > 40 and max(border[:2] + border[3:]) < 10, border
