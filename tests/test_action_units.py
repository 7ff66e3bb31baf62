"""Action units: their fields on the canonical face, reading them back, and reading real clips."""

from __future__ import annotations

import numpy as np
import pytest

from reenact.errors import SettingError
from reenact.facs.reading import AUReader, AUReading, read_track
from reenact.facs.units import ACTION_UNITS, CODES, EMOTIONS, LABELS, ONE_SIDED, fields, resolve
from reenact.params import FaceModel
from reenact.tracking.canonical_face import N_LANDMARKS, canonical_face
from reenact.tracking.face_regions import mouth_shape
from reenact.tracking.fitting import eye_state

slow = pytest.mark.slow

D10_BLINKS = (range(221, 227), range(332, 338))
"""drive_d10's two blinks (frames), found from the track's openness (under half its median on both eyes) and
checked by eye on the frames: lids shut at 224 and 334; at 22, 134 and 145, where the eyes narrow looking
down, and at 380, they are open."""
D0_SMILE = range(25, 65)
"""drive_d0's big smile (frames, 1.0-2.6 s), corners fully up; frames 0-12 are its neutral start."""


def _openness(shapes: np.ndarray) -> np.ndarray:
    """Openness Tx2 as the tracker measures it, from canonical shapes Tx468x3 (irises at the origin)."""
    points = np.concatenate([shapes, np.zeros((len(shapes), N_LANDMARKS - shapes.shape[1], 3), np.float32)], 1)
    return eye_state(points)[1]


def test_codes_and_sides():
    assert len(set(CODES)) == len(CODES)
    for unit in ONE_SIDED:
        assert {f"L{unit.number}", f"R{unit.number}"} <= set(CODES)
        assert len(resolve(str(unit.number))) == 2
    assert resolve("43") == resolve("45")
    assert all(code in CODES or len(resolve(code)) for preset in EMOTIONS.values() for code in preset)
    for bad in ("99", "abc", "L1", "12x", ""):
        with pytest.raises(SettingError):
            resolve(bad)


def test_fields_move_their_own_side_and_region():
    """A left AU moves the subject's left side only; symmetric AUs move both halves alike; brow AUs leave the
    mouth still and mouth AUs the brows."""
    v = canonical_face().vertices
    left, right = v[:, 0] > 0.3, v[:, 0] < -0.3
    face = canonical_face()
    brows = np.concatenate(face.brows)
    lips = face.lips
    for unit, field in zip(ACTION_UNITS, fields()):
        size = np.linalg.norm(field, axis=1)
        assert size.max() > 0.1, unit.code
        if unit.code.startswith("L"):
            assert size[right].max() < 0.05 * size.max(), unit.code
        elif unit.code.startswith("R"):
            assert size[left].max() < 0.05 * size.max(), unit.code
        else:
            np.testing.assert_allclose(size[left].sum(), size[right].sum(), rtol=0.02, err_msg=unit.code)
        if unit.number in (1, 2, 4):
            assert size[lips].max() < 0.01, unit.code
        if unit.number in (12, 14, 15, 20, 23, 24, 25, 26, 27):
            assert size[brows].max() < 0.01, unit.code


def _canonical_reader() -> tuple[AUReader, FaceModel, np.ndarray]:
    """A reader on the canonical identity whose basis spans every AU field."""
    face = canonical_face()
    au_fields = fields()
    basis = np.linalg.qr(au_fields.reshape(len(au_fields), -1).T)[0].T.reshape(-1, *face.vertices.shape)
    model = FaceModel(face.vertices.copy(), basis.astype(np.float32), np.zeros((len(basis), 2), np.float32))
    neutral = _openness(face.vertices[None])[0]
    return AUReader(model, np.zeros(model.n_components, np.float32), neutral), model, au_fields


@pytest.mark.parametrize("intensity", [0.5, 1.0])
def test_known_answers(intensity):
    """Each AU applied to the canonical identity reads back as that AU at that intensity (within 10%), every
    other AU under 0.1 (openness measured on the deformed shape as the tracker does)."""
    reader, model, au_fields = _canonical_reader()
    shapes = model.identity + intensity * au_fields
    expression = model.project(shapes - model.identity)
    read = reader(expression, _openness(shapes))
    np.set_printoptions(linewidth=200, precision=2, suppress=True)
    print(f"\ncross-talk at intensity {intensity} (rows applied, columns read):")
    print("      " + " ".join(f"{c:>4}" for c in CODES))
    for code, row in zip(CODES, read):
        print(f"{code:>5} " + " ".join(f"{x:4.2f}" for x in row))
    np.testing.assert_allclose(np.diag(read), intensity, rtol=0.1)
    assert (read - np.diag(np.diag(read))).max() < 0.1


def test_mixture_reads_back():
    """A happy face (AU6 + both AU12) with a left wink reads as those AUs."""
    reader, model, au_fields = _canonical_reader()
    mix = {"6": 0.6, "L12": 0.8, "R12": 0.8, "L45": 1.0}
    shapes = model.identity + sum(value * au_fields[CODES.index(code)] for code, value in mix.items())
    read = reader(model.project(shapes[None] - model.identity), _openness(shapes[None]))[0]
    for code, value in mix.items():
        assert abs(read[CODES.index(code)] - value) < 0.1 * value, code
    others = [i for i, code in enumerate(CODES) if code not in mix]
    assert read[others].max() < 0.1


@slow
def test_au45_peaks_at_blinks(tracked):
    reading = read_track(tracked("drive_d10.mp4"))
    closure = (reading.column("L45") + reading.column("R45")) / 2
    blinks = np.concatenate([list(r) for r in D10_BLINKS])
    near = np.zeros(len(closure), bool)
    for r in D10_BLINKS:
        near[r.start - 3 : r.stop + 3] = True
    peaks = [closure[list(r)].max() for r in D10_BLINKS]
    print(f"\ndrive_d10 AU45: blink peaks {np.round(peaks, 2)}, elsewhere at most {closure[~near].max():.2f}")
    assert min(peaks) > 0.5
    assert closure[~near].max() < 0.6 * min(peaks)
    assert np.argmax(closure) in blinks


@slow
def test_au12_rises_in_the_big_smile(tracked):
    reading = read_track(tracked("drive_d0.mp4"))
    smile = (reading.column("L12") + reading.column("R12")) / 2
    print(f"\ndrive_d0 AU12: start {smile[:12].mean():.2f}, smile {smile[list(D0_SMILE)].mean():.2f}")
    assert smile[:12].max() < 0.1
    assert smile[list(D0_SMILE)].min() > 0.8


@slow
def test_au26_follows_the_mouth_opening(tracked):
    track = tracked("target_edtalk.mp4")
    reading = read_track(track)
    gap, _ = mouth_shape(track.model, track.params.expression)
    valid = track.params.valid
    correlation = np.corrcoef(reading.column("26")[valid], gap[valid])[0, 1]
    print(f"\ntarget_edtalk: AU26 vs inner-lip gap r = {correlation:.2f}")
    assert correlation > 0.75


def test_emotions_and_edit_regions():
    from reenact.edits import SetActionUnit, Timing, emotion_edits
    from reenact.render.edit_mask import edit_regions

    happy = emotion_edits("happy", 0.6, Timing(10, 20))
    assert [(e.unit, e.intensity, e.timing.start) for e in happy] == [("6", 0.6, 10), ("12", 0.6, 10)]
    with pytest.raises(SettingError, match="unknown emotion"):
        emotion_edits("glee", 1.0)
    assert edit_regions(edits=[SetActionUnit("12")]).regions == frozenset({"mouth"})
    assert edit_regions(edits=[SetActionUnit("L45")]).regions == frozenset({"left_eye"})
    assert {"right_brow", "left_brow"} <= edit_regions(edits=[SetActionUnit("1")]).regions
    with pytest.raises(SettingError, match="intensity must be within"):
        SetActionUnit("12", -0.5)
    with pytest.raises(SettingError, match="unknown AU mode"):
        SetActionUnit("12", mode="double")


def test_au_outside_the_targets_reach_warns_by_name(tracked):
    """target_wojtek's 8-component basis cannot pull a lip corner without moving the brows: the edit says so."""
    from reenact.edits import Editor, SetActionUnit

    track = tracked("target_wojtek.mp4")
    lines: list[str] = []
    Editor(track, say=lines.append).apply(track.params[:20], [SetActionUnit("L12", 1.0)])
    assert len(lines) == 1 and lines[0].startswith("AU12_L (lip corner puller) is outside the target's reach"), lines


@slow
@pytest.mark.parametrize("code", ["1", "L12", "26"])
def test_set_au_reads_back(tracked, code):
    """On target_edtalk (25 components), setting an AU to 0.8 reads back near 0.8 (eased in by its timing);
    kept within the coefficient range of the clip, it gets to 70% of that or of the clip's own peak of the AU,
    whichever is less (edtalk barely raises its brows: its AU1 peaks at 0.34). The range is a box per basis
    coefficient, narrower than the AU's own direction allows: L12 stops at 0.58 though the clip's peak is 1.01
    (0.65 on the basis and range of the causally smoothed track)."""
    from reenact.edits import Editor, SetActionUnit, Timing

    track = tracked("target_edtalk.mp4")
    params = track.params[:200]
    column = CODES.index(code)
    read = {}
    for clamp in (False, True):
        editor = Editor(track, clamp=clamp, say=lambda line: None)
        out = editor.apply(params, [SetActionUnit(code, 0.8, timing=Timing(start=50, end=60))])
        np.testing.assert_array_equal(out.expression[:50], params.expression[:50])
        before = editor.read_aus(params)[60:, column].mean()
        read[clamp] = editor.read_aus(out)[60:, column].mean()
    peak = float(np.nanmax(editor.read_aus(track.params)[:, column]))
    print(f"\nAU{code} set to 0.8 on edtalk: before {before:.2f}, after {read[False]:.2f} "
          f"({read[True]:.2f} within the clip's range; the clip's peak {peak:.2f})")
    assert abs(read[False] - 0.8) < 0.2
    assert read[True] > 0.7 * min(0.8, peak)


def test_strongest_names_the_aus_above_the_floor_strongest_first():
    row = np.zeros(len(CODES), np.float32)
    row[CODES.index("L12")], row[CODES.index("6")], row[CODES.index("26")] = 0.9, 0.5, 0.1
    reading = AUReading(np.stack([row, np.full(len(CODES), np.nan, np.float32)]), CODES, 25.0, 0)
    label = LABELS[CODES.index("L12")]
    assert reading.strongest(0) == f"{label} 0.90, {LABELS[CODES.index('6')]} 0.50"
    assert reading.strongest(0, count=1) == f"{label} 0.90"
    assert reading.strongest(1) == ""  # no face


def test_track_preview_writes_the_strongest_aus(capsys, tmp_path, data):
    """`reenact track --preview --aus`: the note line is drawn where d0 smiles, and nothing where no AU is strong."""
    pytest.importorskip("mediapipe")
    from reenact.params import Track
    from reenact.tracking.overlay import draw_frame
    from reenact.video_io import VideoReader
    from tests.test_cli_track import run_cli

    out, preview = tmp_path / "d0.npz", tmp_path / "d0.mp4"
    code, _, _ = run_cli(capsys, "track", str(data / "drive_d0.mp4"), "-o", str(out), "--preview", str(preview),
                         "--aus")
    assert code == 0
    track = Track.load(out)
    reading = read_track(track)
    notes = [reading.strongest(k) for k in range(track.n_frames)]
    smiling, plain = notes.index(next(n for n in notes if "12" in n)), notes.index("")
    originals, drawn = list(VideoReader(data / "drive_d0.mp4")), list(VideoReader(preview))
    band = slice(28, 48)  # the note's line, under the pose line (512 px frames: font 0.4 * 30 px a line)

    def band_change(k: int) -> float:
        without_note = draw_frame(originals[k], track, k).astype(float)
        return float(np.abs(drawn[k].astype(float) - without_note)[band].mean())

    assert band_change(smiling) > 3 * band_change(plain) + 1
