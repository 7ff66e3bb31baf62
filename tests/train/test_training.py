"""Training: the dataset cache, a real learning check, exact resume, interruption, export and clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from reenact.errors import InputError, SettingError
from reenact.model_folder import open_model
from reenact.render.conditioning import N_CHANNELS, ConditioningConfig
from reenact.render.crop import CropConfig
from reenact.runtime.config import BackendConfig
from reenact.runtime.onnxruntime_backend import OnnxRuntimeBackend
from reenact.runtime.parity import check_agreement, random_stack
from reenact.runtime.torch_backend import TorchBackend
from reenact.render.edit_mask import TRAIN_GROW, grow_mask, random_edit_masks, select
from reenact.train import dataset as dataset_module
from reenact.train import trainer as trainer_module
from reenact.train.checkpoint import load_checkpoint
from reenact.train.config import network_for, train_preset
from reenact.train.dataset import (
    CacheKey,
    Draw,
    SequenceSampler,
    TrainingSet,
    build_cache,
    cache_matches,
    dequantise,
    quantise,
    track_hash,
)
from reenact.train.monitor import validate
from reenact.train.run import train_target, validation_split
from reenact.train.trainer import Trainer
from reenact.video_io import VideoReader, VideoWriter
from tests.test_cli_track import assert_one_clear_line, run_cli

CLIP = "target_wojtek.mp4"


@pytest.fixture(scope="module")
def wojtek_cache(tmp_path_factory, tracked, data):
    """The wojtek clip cached at the tiny preset's 64 px."""
    track = tracked(CLIP)
    folder = tmp_path_factory.mktemp("cache") / "s64"
    key = CacheKey(data_hash="test", track_hash=track_hash(track), size=64, margin=1.8)
    build_cache(folder, track, data / CLIP, key, ConditioningConfig(crop=CropConfig(size=64)))
    return folder, track, key


def test_quantisation_round_trip():
    x = torch.linspace(-1, 1, 1001)
    assert dequantise(torch.from_numpy(quantise(x))).sub(x).abs().max() <= 1 / 255 + 1e-6
    assert quantise(torch.tensor([-1.0]))[0] == 0  # BACKGROUND maps to 0 exactly


def test_cache_holds_every_frame(wojtek_cache, data):
    folder, track, key = wojtek_cache
    assert cache_matches(folder, key) and not cache_matches(folder, replace(key, size=128))
    assert not cache_matches(folder, replace(key, track_hash="another track"))
    data_set = TrainingSet(folder, track, window=5, validation=validation_split(track.n_frames, 0.1))
    assert data_set.images.shape == (track.n_frames, N_CHANNELS, 64, 64)
    assert data_set.crops.shape == (track.n_frames, 3, 64, 64) and data_set.valid.all()
    # The stored crop is the frame's real pixels: its mean colour matches the first frame's centre region.
    first = next(iter(VideoReader(data / CLIP)))
    assert abs(data_set.crops[0].mean() - first[128:384, 128:384].mean()) < 25


def test_sequences_never_touch_the_held_out_tail(wojtek_cache):
    folder, track, _ = wojtek_cache
    validation = validation_split(track.n_frames, 0.1)
    data_set = TrainingSet(folder, track, window=5, validation=validation)
    ends = data_set.sequence_ends(3)
    assert ends.min() == 2 and ends.max() == validation[0] - 1
    sampler = SequenceSampler(ends, 3, seed=0)
    frames = sampler(50).frames.reshape(50, 3)
    assert (np.diff(frames, axis=1) == 1).all() and frames.max() < validation[0]


def _tiny_trainer(**overrides) -> Trainer:
    config = train_preset("tiny", **overrides)
    return Trainer(network_for(config, 5, N_CHANNELS), config, torch.device("cpu"))


@pytest.mark.parametrize("native, amp, autocast", [(True, True, True), (False, True, False), (True, False, False)])
def test_cpu_autocasts_to_bfloat16_only_where_the_cpu_computes_it(monkeypatch, native, amp, autocast):
    """Emulated bfloat16 is slower than float32, so a CPU without the instructions trains in float32."""
    monkeypatch.setattr(trainer_module, "cpu_has_native_bfloat16", lambda: native)
    trainer = _tiny_trainer(amp=amp)
    with trainer._autocast():
        dtype = (torch.ones(2, 2) @ torch.ones(2, 2)).dtype
    assert dtype == (torch.bfloat16 if autocast else torch.float32)


def _fit_sixteen_frames(cache, patch: int = 0) -> tuple[float, float]:
    """Validation PSNR on frames 100-115 of the cache before and after 400 L1 steps of `tiny` on them alone
    (on random `patch`-px windows when given)."""
    folder, track, _ = cache
    data_set = TrainingSet(folder, track, window=5, validation=validation_split(track.n_frames, 0.1))
    frames = np.arange(100, 116)
    trainer = _tiny_trainer(adv_start=10_000)
    k = trainer.frames_per_run
    sampler = SequenceSampler(data_set.sequence_ends(k, frames), k, seed=0)
    before = validate(trainer.ema, data_set, frames, torch.device("cpu"))["psnr"]
    for _ in range(400):
        trainer.train_step(data_set.draw_batch(sampler(trainer.config.batch_size // k), torch.device("cpu")), patch)
    return before, validate(trainer.ema, data_set, frames, torch.device("cpu"))["psnr"]


def test_tiny_preset_overfits_sixteen_frames(wojtek_cache):
    """A real learning check: 16 training frames are reproduced at >= 28 dB after a few hundred steps."""
    before, after = _fit_sixteen_frames(wojtek_cache)
    print(f"tiny preset on 16 frames: PSNR {before:.1f} -> {after:.1f} dB")
    assert after >= 28 > before


def test_patch_steps_learn_the_whole_frame(wojtek_cache):
    """Trained on random 32-px windows only, the fully convolutional generator reproduces whole 64-px frames."""
    before, after = _fit_sixteen_frames(wojtek_cache, patch=32)
    print(f"tiny preset on 32-px windows of 16 frames, scored on whole frames: PSNR {before:.1f} -> {after:.1f} dB")
    assert after >= 26 > before


def test_a_window_cuts_every_image_of_the_batch_alike(wojtek_cache):
    folder, track, _ = wojtek_cache
    data_set = TrainingSet(folder, track, window=5, validation=validation_split(track.n_frames, 0.1))
    batch = data_set.batch(np.array([100, 101]), torch.device("cpu"))
    cut = batch.window(8, 16, 32)
    for name in ("conditioning", "real", "face", "region", "sub_regions"):
        whole, part = getattr(batch, name), getattr(cut, name)
        assert part.shape[-2:] == (32, 32) and torch.equal(part, whole[..., 8:40, 16:48]), name
    assert torch.equal(cut.frames, batch.frames)


@pytest.mark.parametrize("patch", [40, 64, 96])
def test_a_patch_must_be_smaller_than_the_crop_and_fit_the_networks(patch):
    config = train_preset("tiny", patch_size=patch)
    with pytest.raises(SettingError, match="--patch-size"):
        config.check(network_for(config, 5, N_CHANNELS))


def test_generator_shape_ablations_reach_the_network():
    """--base-width 24 --head-skip stack rebuilds the cpu generator as it was before the shape ablation."""
    default = network_for(train_preset("cpu"), 5, N_CHANNELS).generator
    assert (default.base_width, default.head_skip_channels) == (16, N_CHANNELS)
    before = network_for(train_preset("cpu", base_width=24, head_skip="stack"), 5, N_CHANNELS).generator
    assert (before.base_width, before.head_skip_channels) == (24, 0)
    with pytest.raises(SettingError, match="--base-width 12"):  # 12, 24, 48 ... do not divide into 8 groups
        network_for(train_preset("cpu", base_width=12), 5, N_CHANNELS)


def test_discriminator_width_reaches_both_discriminators():
    """--disc-width sets the first layer of the per-frame and the temporal discriminator; a width above their
    channel cap is one SettingError naming the flag."""
    default = network_for(train_preset("cpu"), 5, N_CHANNELS)
    assert (default.discriminator.width, default.temporal.per_frame.width) == (32, 32)
    wide = network_for(train_preset("cpu", disc_width=64), 5, N_CHANNELS)  # the cpu preset's before the ablation
    assert (wide.discriminator.width, wide.temporal.per_frame.width) == (64, 64)
    assert wide.generator == default.generator
    with pytest.raises(SettingError, match="--disc-width 512"):  # above the cpu preset's max_width 256
        network_for(train_preset("cpu", disc_width=512), 5, N_CHANNELS)


def _run_steps(trainer: Trainer, data_set: TrainingSet, sampler: SequenceSampler, steps: int) -> None:
    k = trainer.frames_per_run
    for _ in range(steps):
        trainer.train_step(data_set.draw_batch(sampler(trainer.config.batch_size // k), torch.device("cpu")))


def test_resume_gives_the_weights_of_an_uninterrupted_run(wojtek_cache):
    folder, track, _ = wojtek_cache
    data_set = TrainingSet(folder, track, window=5, validation=validation_split(track.n_frames, 0.1))
    ends = data_set.sequence_ends(2)
    # adv_start 2: the steps on both sides of the break run both phases.
    straight, sampler = _tiny_trainer(adv_start=2), SequenceSampler(ends, 2, seed=0)
    _run_steps(straight, data_set, sampler, 6)

    first, sampler = _tiny_trainer(adv_start=2), SequenceSampler(ends, 2, seed=0)
    _run_steps(first, data_set, sampler, 3)
    state, rng = first.state_dict(), sampler.generator.get_state()
    resumed, sampler = _tiny_trainer(adv_start=2, seed=123), SequenceSampler(ends, 2, seed=123)
    resumed.load_state_dict(state)
    sampler.generator.set_state(rng)
    _run_steps(resumed, data_set, sampler, 3)

    assert resumed.step == straight.step == 6
    for name in ("generator", "discriminator", "temporal", "ema"):
        a, b = getattr(straight, name).state_dict(), getattr(resumed, name).state_dict()
        assert all(torch.equal(a[key], b[key]) for key in a), name


@pytest.fixture(scope="module")
def wojtek_track_file(tmp_path_factory, tracked):
    path = tmp_path_factory.mktemp("track") / "wojtek.npz"
    tracked(CLIP).save(path)
    return path


def test_interrupted_run_leaves_a_checkpoint_and_resumes_to_a_model(tmp_path, data, wojtek_track_file):
    out = tmp_path / "model"
    config = train_preset("tiny", steps=12, adv_start=4, preview_every=6, checkpoint_every=100)
    with pytest.raises(KeyboardInterrupt):
        train_target(data / CLIP, out, config, track_path=wojtek_track_file, interrupt_at=5, say=lambda _: None)
    state = load_checkpoint(out / "checkpoint.pt", torch.device("cpu"))
    assert state["trainer"]["step"] == 5 and not (out / "model.json").exists()

    # Resuming with networks of another shape is one clear refusal, the checkpoint kept.
    with pytest.raises(InputError, match="another shape"):
        train_target(data / CLIP, out, replace(config, disc_width=16), resume=True, say=lambda _: None)
    result = train_target(data / CLIP, out, config, resume=True, say=lambda _: None)
    assert result.steps == 12
    folder = open_model(out)
    info = folder.info()
    assert info.steps == 12 and info.size == 64 and info.preset == "tiny" and info.window == 5
    assert info.validation == (360, 400) and set(info.metrics) >= {"psnr", "ssim"}
    assert (out / "previews" / "step_000006.png").is_file() and (out / "previews" / "final.png").is_file()
    rows = (out / "log.csv").read_text().splitlines()
    assert rows[0].startswith("step,") and rows[-1].split(",")[0] == "12"
    # The exported ONNX file computes what the EMA generator computes.
    exported = OnnxRuntimeBackend(folder, "cpu", BackendConfig())
    assert check_agreement(exported, TorchBackend(folder, "cpu", BackendConfig()), random_stack(exported)).max_abs < 1e-4

    # tools/raw_weights_model.py: the checkpoint's raw (non-EMA) generator as a model folder of its own.
    raw = tmp_path / "raw"
    tool = Path(__file__).resolve().parents[2] / "tools" / "raw_weights_model.py"
    subprocess.run([sys.executable, str(tool), str(out), str(raw)], check=True)
    weights = torch.load(open_model(raw).weights_path, weights_only=True)
    trained = load_checkpoint(out / "checkpoint.pt", torch.device("cpu"))["trainer"]
    assert all(torch.equal(weights[key], trained["generator"][key]) for key in weights)
    assert not all(torch.equal(weights[key], trained["ema"][key]) for key in weights)


def test_generator_lr_decays_linearly_over_the_last_share_of_the_budget():
    constant = train_preset("cpu")
    assert [constant.generator_lr_scale(used) for used in (0, 0.9, 1)] == [1, 1, 1]
    decayed = train_preset("cpu", lr_decay_share=0.4)
    assert [decayed.generator_lr_scale(used) for used in (0, 0.6, 0.8, 1, 1.2)] == pytest.approx([1, 1, 0.5, 0, 0])
    with pytest.raises(SettingError, match="--lr-decay"):
        train_preset("cpu", lr_decay_share=1.5).check(network_for(decayed, 5, N_CHANNELS))


def test_the_adversarial_weight_scales_the_generators_hinge_terms_only(wojtek_cache):
    """--adversarial-weight 0 (with feature matching off too) leaves an adversarial-phase generator step exactly an
    L1 step, while weight 1 moves it elsewhere; a negative weight is refused."""
    folder, track, _ = wojtek_cache
    data_set = TrainingSet(folder, track, window=5, validation=validation_split(track.n_frames, 0.1))
    generators = {}
    for name, overrides in {"l1 only": {"adv_start": 10_000},
                            "weight 0": {"adv_start": 0, "adversarial_weight": 0.0, "feature_matching_weight": 0.0},
                            "weight 1": {"adv_start": 0, "adversarial_weight": 1.0, "feature_matching_weight": 0.0}
                            }.items():
        trainer = _tiny_trainer(**overrides)
        k = trainer.frames_per_run
        sampler = SequenceSampler(data_set.sequence_ends(k), k, seed=0)
        trainer.train_step(data_set.draw_batch(sampler(trainer.config.batch_size // k), torch.device("cpu")))
        generators[name] = torch.cat([p.detach().flatten() for p in trainer.generator.parameters()])
    assert torch.equal(generators["weight 0"], generators["l1 only"])
    assert not torch.allclose(generators["weight 1"], generators["l1 only"])
    config = train_preset("cpu", adversarial_weight=-1.0)
    with pytest.raises(SettingError, match="--adversarial-weight"):
        config.check(network_for(config, 5, N_CHANNELS))


def test_a_run_with_lr_decay_logs_the_falling_rate(tmp_path, data, wojtek_track_file):
    """--lr-decay 0.5 over 20 steps: the generator's rate (lr_g in log.csv) is the preset's for the first 10
    steps, then falls to a tenth of it by step 19; the discriminators' stays."""
    config = train_preset("tiny", steps=20, adv_start=5, preview_every=100, checkpoint_every=100,
                          validation_frames=4, lr_decay_share=0.5)
    result = train_target(data / CLIP, tmp_path / "model", config, track_path=wojtek_track_file, say=lambda _: None)
    rows = [line.split(",") for line in (tmp_path / "model" / "log.csv").read_text().splitlines()]
    column = rows[0].index("lr_g")
    logged = {int(row[0]): float(row[column]) for row in rows[1:]}
    assert logged[10] == pytest.approx(config.lr_generator)  # the rate step 10 (the 10th) trained with
    assert logged[20] == pytest.approx(config.lr_generator * 0.1)  # the 20th step's: 19 of 20 steps used
    assert result.steps == 20
    state = load_checkpoint(tmp_path / "model" / "checkpoint.pt", torch.device("cpu"))["trainer"]
    assert state["opt_d"]["param_groups"][0]["lr"] == config.lr_discriminator


def test_train_command(capsys, tmp_path, data, wojtek_track_file):
    out = tmp_path / "wojtek"
    argv = ["train", str(data / CLIP), "-o", str(out), "--preset", "tiny", "--steps", "4", "--track", str(wojtek_track_file)]
    code, stdout, _ = run_cli(capsys, *argv)
    assert code == 0 and "4 steps" in stdout
    assert json.loads((out / "model.json").read_text())["steps"] == 4
    # A folder holding a model is not overwritten without --force.
    before = (out / "generator.pt").read_bytes()
    code, _, err = run_cli(capsys, *argv)
    assert_one_clear_line(code, err, "--force")
    assert (out / "generator.pt").read_bytes() == before
    code, _, _ = run_cli(capsys, *argv, "--force")
    assert code == 0


def test_train_bad_inputs(capsys, tmp_path, data):
    code, _, err = run_cli(capsys, "train", str(tmp_path / "absent.mp4"), "-o", str(tmp_path / "m"))
    assert_one_clear_line(code, err, "not found")
    code, _, err = run_cli(capsys, "train", str(data / CLIP), "-o", str(tmp_path / "m"), "--batch-size", "5")
    assert_one_clear_line(code, err, "--batch-size 5")
    code, _, err = run_cli(capsys, "train", str(data / CLIP), "-o", str(tmp_path / "m2"), "--resume")
    assert_one_clear_line(code, err, "no checkpoint.pt")


def test_too_short_a_clip_is_refused(capsys, tmp_path, data):
    short = tmp_path / "short.mp4"
    reader = VideoReader(data / CLIP)
    with VideoWriter(short, reader.fps, reader.width, reader.height) as writer:
        for _, frame in zip(range(30), reader):
            writer.write(frame)
    code, _, err = run_cli(capsys, "train", str(short), "-o", str(tmp_path / "m"), "--preset", "tiny")
    assert_one_clear_line(code, err, "at least 50")


def test_preset_names_are_the_presets() -> None:
    from reenact.nn.preset_names import PRESET_NAMES
    from reenact.nn.presets import PRESETS
    from reenact.train.config import TRAIN_PRESETS

    assert PRESET_NAMES == tuple(PRESETS) == tuple(TRAIN_PRESETS)


def test_every_preset_trains_two_steps_into_a_model(tmp_path, data, wojtek_track_file):
    """Each preset's networks, at a small crop, through both phases and the export: a folder that renders and
    says how it was trained. One folder, trained over (--force), so the dataset cache is built once."""
    from reenact.nn.preset_names import PRESET_NAMES

    for preset in PRESET_NAMES:
        config = train_preset(preset, steps=2, size=64, adv_start=1, preview_every=2, checkpoint_every=2,
                              validation_frames=4)
        frames = network_for(config, ConditioningConfig().window, N_CHANNELS).temporal.frames
        config = replace(config, batch_size=frames)
        result = train_target(data / CLIP, tmp_path / "model", config, track_path=wojtek_track_file, force=True,
                              say=lambda _: None)
        info = open_model(result.folder.path).info()
        assert result.steps == 2 and info.preset == preset and info.size == 64
        assert info.training == json.loads(json.dumps(config.to_dict()))
        exported = OnnxRuntimeBackend(result.folder, "cpu", BackendConfig())
        assert exported.infer(random_stack(exported, 1)).shape == (1, 3, 64, 64)


def _blinking(data_set: TrainingSet, closed: slice) -> TrainingSet:
    """The data set with its eyes open (0.3) everywhere but both shut (0.0) over `closed`: a two-eyed blink."""
    openness = np.full((len(data_set.valid), 2), 0.3, dtype=np.float32)
    openness[closed] = 0.0
    data_set.openness = openness
    return data_set


def test_wink_runs_lend_an_eye_across_a_blink_only(wojtek_cache):
    folder, track, _ = wojtek_cache
    data_set = _blinking(TrainingSet(folder, track, window=5, validation=validation_split(track.n_frames, 0.1)),
                         slice(100, 106))
    k, reach = 2, round(dataset_module.WINK_REACH * track.fps)
    winks = data_set.wink_runs(k)
    ends = set(data_set.sequence_ends(k).tolist())
    assert len(winks.ends) and set(winks.eyes.tolist()) == {0, 1}
    assert all(end in ends and end + offset in ends for end, offset in zip(winks.ends, winks.offsets))
    assert (np.abs(winks.offsets) <= reach).all() and (winks.offsets != 0).all()
    # Every wink run or its donor touches the blink; runs far from it have no donor that makes a wink.
    for end, offset in zip(winks.ends, winks.offsets):
        touched = [t for t in (end, end - 1, end + offset, end + offset - 1) if 100 <= t < 106]
        assert touched, (end, offset)
    assert winks.ends.min() >= 100 - reach and winks.ends.max() <= 106 + reach
    # Composed, the lent eye and the other eye differ by a shut eye's worth.
    rows = winks.ends[:, None] - np.arange(k)[None, :]
    lent = data_set.openness[rows + winks.offsets[:, None], winks.eyes[:, None]]
    other = data_set.openness[rows, 1 - winks.eyes[:, None]]
    assert (np.abs(lent - other).mean(1) >= dataset_module.WINK_GAP).all()


def test_the_sampler_draws_winks_at_their_share_and_nothing_else_without_them(wojtek_cache):
    folder, track, _ = wojtek_cache
    data_set = _blinking(TrainingSet(folder, track, window=5, validation=validation_split(track.n_frames, 0.1)),
                         slice(100, 106))
    ends, winks = data_set.sequence_ends(2), data_set.wink_runs(2)
    plain, without = SequenceSampler(ends, 2, seed=0), SequenceSampler(ends, 2, seed=0, winks=winks, wink_share=0.0)
    assert all(np.array_equal(plain(4).frames, without(4).frames) for _ in range(5))
    draw = SequenceSampler(ends, 2, seed=0, winks=winks, wink_share=0.25)(4000)
    lent = draw.eyes >= 0
    assert 0.22 < lent.mean() < 0.28 and np.array_equal(lent, draw.donors >= 0)
    assert set(zip(draw.frames[lent][1::2], draw.donors[lent][1::2])) <= set(zip(winks.ends, winks.ends + winks.offsets))
    assert (draw.eyes.reshape(-1, 2)[:, 0] == draw.eyes.reshape(-1, 2)[:, 1]).all()  # one eye per run


def test_a_lent_eye_is_composed_inside_its_edit_mask_only(wojtek_cache):
    folder, track, _ = wojtek_cache
    data_set = _blinking(TrainingSet(folder, track, window=5, validation=validation_split(track.n_frames, 0.1)),
                         slice(100, 106))
    winks = data_set.wink_runs(2)
    run = int(np.flatnonzero(winks.eyes == 1)[0])  # a run lent the left eye
    end, donor_end = int(winks.ends[run]), int(winks.ends[run] + winks.offsets[run])
    draw = Draw(np.array([end - 1, end, 40, 41]), np.array([donor_end - 1, donor_end, -1, -1]), np.array([1, 1, -1, -1]))
    batch = data_set.draw_batch(draw, torch.device("cpu"))
    masks = random_edit_masks(batch.sub_regions, 2, torch.Generator().manual_seed(0), batch.wink.eye,
                              batch.wink.donor.sub_regions)
    left = select(batch.sub_regions[:2], ["left_eye"]) | select(batch.wink.donor.sub_regions[:2], ["left_eye"])
    right = select(batch.sub_regions[:2], ["right_eye"])
    widest = grow_mask(left, round(TRAIN_GROW[1] * left.shape[-1]))
    assert masks[:2][left].all() and not masks[:2][~widest].any()  # the lent eye, grown by a training margin
    assert not masks[:2][right].all()  # the other eye stays context
    composed = batch.with_lent_eyes(masks)
    inside = masks[:2].expand(-1, 3, -1, -1)
    assert torch.equal(composed.real[:2][inside], batch.wink.donor.real[:2][inside])
    assert torch.equal(composed.real[:2][~inside], batch.real[:2][~inside])
    stack = masks[:2].expand_as(batch.conditioning[:2])
    assert torch.equal(composed.conditioning[:2][stack], batch.wink.donor.conditioning[:2][stack])
    assert torch.equal(composed.real[2:], batch.real[2:]) and composed.wink is None  # no donor: unchanged


def test_synthetic_winks_train_and_refuse_a_share_out_of_range(wojtek_cache):
    folder, track, _ = wojtek_cache
    data_set = _blinking(TrainingSet(folder, track, window=5, validation=validation_split(track.n_frames, 0.1)),
                         slice(100, 106))
    trainer = _tiny_trainer(adv_start=1, wink_share=0.5)
    k = trainer.frames_per_run
    sampler = SequenceSampler(data_set.sequence_ends(k), k, seed=0, winks=data_set.wink_runs(k), wink_share=0.5)
    _run_steps(trainer, data_set, sampler, 3)
    assert trainer.step == 3
    for share, message in ((1.0, "--synthetic-winks must be in"), (-0.1, "--synthetic-winks must be in")):
        with pytest.raises(SettingError, match=message):
            train_preset("tiny", wink_share=share).check(network_for(train_preset("tiny"), 5, N_CHANNELS))
    with pytest.raises(SettingError, match="needs the context generator"):
        config = train_preset("tiny", wink_share=0.1, context=False)
        config.check(network_for(config, 5, N_CHANNELS))
