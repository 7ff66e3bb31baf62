"""Recall and precision of the shot-cut detector on synthetic jump cuts, and false cuts on untouched clips.

    python tools/eval_cuts.py                 # every clip in $REENACT_DATA (3-4 min on 2 shared cores)
    python tools/eval_cuts.py --keep out/cuts # also keep the built clips and the per-clip results
    python tools/eval_cuts.py --cache out/cuts_cache  # record the raw landmarks once, then replay (about 1 min)

A jump cut is what an editor leaves when a stretch of one continuous take is
removed: same person, same background, the face jumps a little in place, size
and expression. Each source clip below has `CUTS[name]` stretches of 0.3 to
3 s removed at seeded random places (shots of at least `MIN_SHOT` s between
them), re-encoded to H.264 in a temporary folder, and tracked like any clip.
A detection counts when it is the first frame of the new shot, or one frame
off. The untouched clips (continuous takes with speech, blinks, a big
expression change and fast head turns) must yield no cut at all, apart from
the jump cuts the footage itself already holds (`KNOWN_CUTS`, checked by eye).

With `--cache`, the built clips and each clip's raw landmarks are kept there
(keyed by the clip file's SHA-1); a later run decodes the frames again and
feeds the detector exactly what `detect_clip` would, with the recorded
landmarks in place of MediaPipe's, so a change to the decision rule is
measured in a minute instead of a quarter of an hour.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reenact.sample_data import data_dir
from reenact.tracking.cuts import CutConfig
from reenact.video_io import VideoWriter, read_frames

CUTS = {"target_franck.mp4": 16, "target_edtalk.mp4": 10, "drive_d3.mp4": 4, "drive_d9.mp4": 6,
        "drive_d10.mp4": 5, "drive_d12.mp4": 2}
"""Jump cuts made in each source clip."""
UNTOUCHED = ["target_franck.mp4", "target_edtalk.mp4", "drive_d0.mp4", "drive_d3.mp4", "drive_d9.mp4",
             "drive_d10.mp4", "drive_d12.mp4", "drive_d19.mp4"]
"""Clips run as they are."""
KNOWN_CUTS: dict[str, list[int]] = {}
"""Jump cuts already in the footage (first frame of each new shot), which the detector should find."""
GAP_SECONDS = (0.3, 3.0)
"""Length of each removed stretch."""
MIN_SHOT = 1.0
"""Shortest shot (s) left between two cuts."""
TOLERANCE = 1
"""A detection within this many frames of a true cut counts as finding it."""
SEED = 13


@dataclass
class JumpCutClip:
    """A clip with stretches removed: which source frames were kept, and where the new shots start."""

    kept: np.ndarray
    """int source frame index of every output frame."""
    cuts: np.ndarray
    """int output frames that start a new shot."""


def plan_jump_cuts(n_frames: int, fps: float, n_cuts: int, rng: np.random.Generator) -> JumpCutClip:
    """Remove `n_cuts` stretches of GAP_SECONDS from a clip of `n_frames`, with shots of at least MIN_SHOT."""
    min_shot = round(MIN_SHOT * fps)
    lo, hi = (round(s * fps) for s in GAP_SECONDS)
    for _ in range(1000):
        gaps = rng.integers(lo, hi + 1, n_cuts)
        spare = n_frames - gaps.sum() - (n_cuts + 1) * min_shot
        if spare >= 0:
            break
    else:
        raise ValueError(f"{n_frames} frames cannot hold {n_cuts} jump cuts")
    extra = np.diff(np.concatenate([[0], np.sort(rng.integers(0, spare + 1, n_cuts + 1))]))
    shots = min_shot + extra
    kept, cuts, start = [], [], 0
    for i, shot in enumerate(shots):
        if i:
            cuts.append(len(kept))
        kept.extend(range(start, start + shot))
        start += shot + (gaps[i] if i < n_cuts else 0)
    return JumpCutClip(np.array(kept), np.array(cuts))


def build_clip(frames: np.ndarray, fps: float, plan: JumpCutClip, path: Path) -> None:
    """Write the planned frames as an H.264 clip."""
    h, w = frames.shape[1:3]
    with VideoWriter(path, fps, w, h) as writer:
        for i in plan.kept:
            writer.write(frames[i])


def score(found: np.ndarray, truth: np.ndarray) -> tuple[int, int]:
    """(true cuts found, detections that match no true cut), matching each within TOLERANCE frames."""
    unmatched = list(found.tolist())
    hits = 0
    for cut in truth.tolist():
        near = [f for f in unmatched if abs(f - cut) <= TOLERANCE]
        if near:
            hits += 1
            unmatched.remove(min(near, key=lambda f: abs(f - cut)))
    return hits, len(unmatched)


def jump_size(landmarks: np.ndarray, cut: int) -> float:
    """How far the face moved across a cut: median landmark displacement, % of the inter-ocular distance."""
    from reenact.tracking.fitting import inter_ocular_distance

    before, after = landmarks[cut - 1], landmarks[cut]
    iod = float(inter_ocular_distance(before[None])[0])
    return 100 * float(np.median(np.linalg.norm(after[:, :2] - before[:, :2], axis=-1))) / iod


@dataclass
class ClipResult:
    name: str
    frames: int
    fps: float
    truth: list[int]
    found: list[int]
    hits: int
    false: int
    jumps: list[float]
    """jump_size of each true cut (NaN where a side has no face)."""
    detector_cpu_s: float | None
    """CPU time the cut detector's calls took over the clip, when replayed from the cache (else None)."""


def file_hash(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def replay_cuts(
    path: Path, landmarks: np.ndarray, valid: np.ndarray, config: CutConfig
) -> tuple[np.ndarray, float, float]:
    """The cuts `detect_clip` finds in `path`, given the raw landmarks MediaPipe gave there (the same calls
    to the detector, in the same order), the clip's fps, and the CPU seconds the detector's calls took."""
    from reenact.tracking.cuts import CutDetector
    from reenact.video_io import VideoReader

    reader = VideoReader(path)
    detector = CutDetector(config)
    cpu = 0.0
    for rgb, face, ok in zip(reader, landmarks, valid, strict=True):
        start = time.thread_time()
        detector.picture_cut(rgb)
        detector.add_face(face if ok else None)
        cpu += time.thread_time() - start
    start = time.thread_time()
    cuts = detector.cuts()
    return cuts, reader.fps, cpu + time.thread_time() - start


def detect_cached(
    path: Path, cache: Path | None, config: CutConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float | None]:
    """Raw landmarks, valid, cuts and fps of a clip, and the detector's CPU seconds: tracked by
    `detect_clip` (CPU not told apart from MediaPipe's: None), or replayed from `cache`."""
    from reenact.tracking.tracker import TrackerConfig, detect_clip

    record = cache / f"{path.stem}.npz" if cache else None
    if record is not None and record.exists():
        stored = np.load(record)
        if str(stored["sha1"]) == file_hash(path):
            cuts, fps, cpu = replay_cuts(path, stored["landmarks"], stored["valid"], config)
            return stored["landmarks"], stored["valid"], cuts, fps, cpu
    clip = detect_clip(path, TrackerConfig(cuts=config))
    if record is not None:
        np.savez_compressed(record, sha1=file_hash(path), landmarks=clip.landmarks, valid=clip.valid)
    return clip.landmarks, clip.valid, clip.cuts, clip.fps, None


def run_clip(name: str, path: Path, truth: np.ndarray, cache: Path | None, config: CutConfig) -> ClipResult:
    landmarks, valid, cuts, fps, cpu = detect_cached(path, cache, config)
    hits, false = score(cuts, truth)
    jumps = [jump_size(landmarks, c) if valid[c - 1] and valid[c] else float("nan") for c in truth]
    return ClipResult(name, len(valid), fps, truth.tolist(), cuts.tolist(), hits, false, jumps, cpu)


def _same_plan(path: Path, plan: JumpCutClip) -> bool:
    """Whether the clip at `path` was built from `plan` (a cached clip is reused only then)."""
    kept = path.with_suffix(".kept.npy")
    return kept.exists() and np.array_equal(np.load(kept), plan.kept)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--keep", type=Path, help="folder to keep the built clips and results.json in")
    parser.add_argument("--only", nargs="*", help="clip names to run (default: all)")
    parser.add_argument("--cache", type=Path, help="folder to record raw landmarks in and replay them from")
    parser.add_argument("--jump-ratio", type=float, default=CutConfig.jump_ratio,
                        help=f"the detector's jump_ratio (default {CutConfig.jump_ratio})")
    args = parser.parse_args()
    config = CutConfig(jump_ratio=args.jump_ratio)
    data = data_dir()
    rng = np.random.default_rng(SEED)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or args.cache or Path(tmp)
        for made in (folder, args.cache):  # --keep and --cache may name two folders
            if made is not None:
                made.mkdir(parents=True, exist_ok=True)
        synthetic, untouched = [], []
        for name, n_cuts in CUTS.items():
            frames, fps = read_frames(data / name)
            plan = plan_jump_cuts(len(frames), fps, n_cuts, rng)  # drawn for every clip, so --only keeps the plans
            if args.only and name not in args.only:
                continue
            path = folder / f"jumpcuts_{Path(name).stem}.mp4"
            if not (args.cache and path.exists() and _same_plan(path, plan)):
                build_clip(frames, fps, plan, path)
                np.save(path.with_suffix(".kept.npy"), plan.kept)
            del frames
            synthetic.append(run_clip(name, path, plan.cuts, args.cache, config))
        for name in UNTOUCHED:
            if args.only and name not in args.only:
                continue
            untouched.append(run_clip(name, data / name, np.array(KNOWN_CUTS.get(name, []), dtype=np.int64),
                                      args.cache, config))
    seconds = time.perf_counter() - started

    print("Synthetic jump cuts (0.3-3 s removed; a hit is the new shot's first frame, +-1):")
    print("| clip | frames | cuts | found | missed (frame: jump % IOD) | false |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in synthetic:
        missed = [f"{c}: {j:.1f}" for c, j in zip(r.truth, r.jumps)
                  if not any(abs(f - c) <= TOLERANCE for f in r.found)]
        print(f"| {r.name} | {r.frames} | {len(r.truth)} | {r.hits} | {', '.join(missed) or '-'} | {r.false} |")
    cuts = sum(len(r.truth) for r in synthetic)
    hits = sum(r.hits for r in synthetic)
    detections = sum(len(r.found) for r in synthetic)
    if cuts:
        print(f"recall {hits}/{cuts} = {hits / cuts:.1%}, precision {hits}/{detections} = "
              f"{hits / max(1, detections):.1%}")
    all_jumps = np.array([j for r in synthetic for j in r.jumps])
    found_jumps = np.array([j for r in synthetic for c, j in zip(r.truth, r.jumps)
                            if any(abs(f - c) <= TOLERANCE for f in r.found)])
    if len(all_jumps):
        print(f"jump across a cut, % IOD: all cuts median {np.nanmedian(all_jumps):.1f}, "
              f"found median {np.nanmedian(found_jumps) if len(found_jumps) else float('nan'):.1f}")
    print("\nUntouched clips (continuous takes): every cut found there is listed")
    print("| clip | frames | cuts found (frame @ time) |")
    print("| --- | --- | --- |")
    for r in untouched:
        listed = ", ".join(f"{f} @ {f / r.fps:.2f} s" + (" (known)" if f in r.truth else "") for f in r.found)
        print(f"| {r.name} | {r.frames} | {listed or 'none'} |")
    false = sum(r.false for r in untouched)
    print(f"false cuts on untouched clips: {false} in {sum(r.frames for r in untouched)} frames; {seconds:.0f} s")
    replayed = [r for r in synthetic + untouched if r.detector_cpu_s is not None]
    if replayed:
        frames = sum(r.frames for r in replayed)
        print(f"cut detector: {1000 * sum(r.detector_cpu_s for r in replayed) / frames:.2f} ms of CPU per frame "
              f"over the {frames} replayed frames (256x256 to 512x512; load average {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} cores)")
    if args.keep:
        (args.keep / "results.json").write_text(json.dumps(
            {"synthetic": [r.__dict__ for r in synthetic], "untouched": [r.__dict__ for r in untouched]}, indent=1))


if __name__ == "__main__":
    main()
