"""Shot cuts: the jump-cut test on made-up motion, on real clips, the filters' restart, and `--cuts`."""

from __future__ import annotations

import dataclasses
import itertools

import cv2
import numpy as np
import pytest

from reenact.cli import main
from reenact.errors import SettingError
from reenact.tracking.cut_list import AUTO, NONE, CutList, parse_cuts
from reenact.tracking.cuts import GRID, appearance_change, face_patch, jump_cuts, repeated_frames
from reenact.tracking.fitting import fit_frames
from reenact.tracking.tracker import TrackerConfig, detect_clip, fit_track
from reenact.video_io import VideoReader, VideoWriter

# --- the face measurement and the jump test on made-up data (no video) -----------------------------


def texture(rng: np.random.Generator, size: int = 256) -> np.ndarray:
    """float32 size x size grey texture (mean 128, contrast 30 grey levels) with features about 8 px
    across, like skin and hair."""
    blurred = cv2.GaussianBlur(rng.normal(0, 1, (size, size)).astype(np.float32), (0, 0), 8)
    return 128 + 30 * blurred / blurred.std()


def as_frame(grey: np.ndarray) -> np.ndarray:
    return np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def test_appearance_change_leaves_out_what_a_shift_explains():
    rng = np.random.default_rng(4)
    face = texture(rng)
    before = as_frame(face)
    moved = as_frame(np.roll(face, 3, axis=1))  # the face moved 3 px
    other = as_frame(0.85 * face + 0.15 * texture(rng))  # the same face, in another shot: 15% other texture
    patches = [face_patch(f, (0, 0, 256, 256)) for f in (before, moved, other)]
    plain = [np.abs(f - patches[0]).mean() for f in patches[1:]]
    assert plain[0] > plain[1]  # the move changes the pixels more than the new shot does ...
    shift, cut = (np.median(appearance_change(patches[0], f)) for f in patches[1:])
    assert shift < 0.3 * cut  # ... but is explained by a shift, and the new shot is not


def quiet_appearance(n: int, rng: np.random.Generator) -> np.ndarray:
    return (1.0 + rng.random((n, GRID * GRID))).astype(np.float32)


def find(appearance: np.ndarray, repeats: np.ndarray | None = None) -> list[int]:
    repeats = np.zeros(len(appearance), dtype=bool) if repeats is None else repeats
    return jump_cuts(appearance, np.zeros(0, dtype=np.int64), repeats).tolist()


def test_a_change_of_the_whole_face_is_a_cut():
    appearance = quiet_appearance(60, np.random.default_rng(0))
    appearance[30] *= 5
    assert find(appearance) == [30]


def test_fast_steady_motion_and_its_start_are_not_cuts():
    appearance = quiet_appearance(60, np.random.default_rng(1))
    appearance[30:] *= 6  # a head turn from frame 30 changes the face as much as a cut, but goes on
    assert find(appearance) == []


def test_a_blink_changes_too_little_of_the_face_to_be_a_cut():
    appearance = quiet_appearance(60, np.random.default_rng(2))
    appearance[30:33, :12] *= 20  # the eye blocks change a lot for three frames, the rest of the face not
    assert find(appearance) == []


def test_repeated_frames_are_found_from_the_whole_frame_change():
    change = np.tile([2.0, 2.5, 0.1], 10)  # every third frame repeats the one before
    change[0] = np.nan
    np.testing.assert_array_equal(np.flatnonzero(repeated_frames(change, 0.25)), np.arange(2, 30, 3))
    assert not repeated_frames(np.full(30, 0.3), 0.25).any()  # a still clip's frames are not repeats


def test_a_cut_just_after_a_repeated_frame_is_found():
    appearance = quiet_appearance(60, np.random.default_rng(3))
    repeats = np.arange(60) % 3 == 2
    appearance[repeats] = 0.05  # a repeat does not change
    appearance[30] *= 5  # 29 repeats 28, and 30 starts a new shot
    assert find(appearance, repeats) == [30]
    appearance[30] /= 5
    assert find(appearance, repeats) == []


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
                                  "drive_d9.mp4", "drive_d10.mp4", "drive_d12.mp4"])
def test_continuous_clip_has_no_cut(detected, name):
    # speech throughout; d0: a big smile; d9: head turns; d10: eyes shut and opened again; d10 and d12 repeat
    # frames (taken as motion, the repeats' stops and starts would make cuts of d10 and d12)
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
    # Without the cut the filters blend the two shots' faces on the frames next to it. (Less than a causal filter
    # did, >5 px: the zero-phase pass's speed estimate sees the jump at once and opens the cutoff.)
    clip.cuts = np.zeros(0, dtype=np.int32)
    dragged = fit_track(clip, model=track.model)
    blend = np.abs(dragged.params.translation[cut - 2 : cut + 3] - track.params.translation[cut - 2 : cut + 3]).max()
    print(f"without the cut, the translation next to it moves by up to {blend:.2f} px")
    assert blend > 1.0


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
