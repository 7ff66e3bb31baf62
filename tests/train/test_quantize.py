"""The INT8 generator: export and load, the auto pick, and the held-out quality guard refusing a bad file.

The model folder is synthetic and fast: the tiny generator (weights perturbed so its outputs spread), a
synthetic track, and a dataset cache whose "real" crops are that generator's own FP32 output plus camera-like
noise, so FP32 scores a high held-out PSNR and any INT8 error shows in it, as it would on a trained model.
"""

from __future__ import annotations

import json
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch

from reenact.errors import BackendUnavailableError, FormatError
from reenact.geometry import rotation_from_euler
from reenact.model_folder import GENERATOR_INT8, GENERATOR_ONNX, ModelFolder, file_hash, load_generator
from reenact.nn.generator import build_generator
from reenact.nn.presets import get_preset
from reenact.params import FaceModel, FaceParams, Track
from reenact.render.conditioning import N_CHANNELS
from reenact.runtime.benchmark import write_generator_folder
from reenact.runtime.config import BackendConfig
from reenact.runtime.int8 import Int8Quality, Int8RefusedError, checked_int8
from reenact.runtime.onnxruntime_backend import OnnxRuntimeBackend
from reenact.runtime.selection import Candidate, open_backend
from reenact.tracking.canonical_face import canonical_face
from reenact.train.dataset import FACE_BIT, SUB_REGION_SHIFT, CacheKey, track_hash
from reenact.train.quantize import (
    QuantizeConfig,
    export_int8,
    held_out_quality,
    open_training_set,
    quantize_onnx,
    quantizer_available,
)
from tests.test_cli_track import assert_one_clear_line, run_cli

pytestmark = pytest.mark.skipif(not quantizer_available(), reason="onnxruntime.quantization is not installed")

N, HELD_OUT, S = 72, 60, 64
FAST = QuantizeConfig(calibration_frames=16, guard_frames=12)


def synthetic_track(n: int) -> Track:
    rng = np.random.default_rng(1)
    k = 3
    basis = np.linalg.qr(rng.normal(size=(468 * 3, k)))[0].T.reshape(k, 468, 3).astype(np.float32)
    model = FaceModel(canonical_face().vertices.copy(), basis, np.tile([-1.0, 1.0], (k, 1)).astype(np.float32))
    params = FaceParams(
        rotation=rotation_from_euler(rng.uniform(-10, 10, size=(n, 3))),
        translation=rng.uniform(100, 200, size=(n, 2)).astype(np.float32),
        scale=rng.uniform(5, 10, size=n).astype(np.float32), expression=rng.normal(size=(n, k)).astype(np.float32),
        gaze=rng.normal(size=(n, 2, 2)).astype(np.float32), openness=rng.uniform(0, 0.4, size=(n, 2)).astype(np.float32),
        valid=np.ones(n, dtype=bool),
    )
    return Track(params, model, rng.normal(size=(n, 478, 3)).astype(np.float32), rng.uniform(size=n).astype(np.float32),
                 np.zeros(0, dtype=np.int32), fps=25.0, width=320, height=240, source="synthetic")


def smooth(rng: np.random.Generator, n: int, channels: int) -> np.ndarray:
    """uint8 n x channels x S x S smooth random images (upsampled 8 x 8 noise): like rendered conditioning."""
    low = rng.uniform(0, 255, size=(n * channels, 8, 8)).astype(np.float32)
    return np.stack([cv2.resize(x, (S, S), interpolation=cv2.INTER_CUBIC) for x in low]).clip(0, 255).round() \
        .astype(np.uint8).reshape(n, channels, S, S)


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> ModelFolder:
    """A tiny model folder with track.npz and a dataset cache (see the module docstring); no INT8 file."""
    torch.manual_seed(0)
    generator = build_generator(get_preset("tiny").generator)
    with torch.no_grad():
        for p in generator.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    folder = write_generator_folder(tmp_path_factory.mktemp("models") / "synthetic", generator.eval(), "tiny", S)
    track = synthetic_track(N)
    track.save(folder.track_path)
    info = replace(folder.info(), frames=N, validation=(HELD_OUT, N), data_hash="synthetic", fps=25.0)
    cache = folder.path / "cache" / f"s{S}"
    cache.mkdir(parents=True)
    rng = np.random.default_rng(0)
    sub = np.zeros((N, S, S), dtype=np.uint8)
    sub[:, 16:48, 16:48] = rng.integers(1, 6, size=(N, 1, 1))
    np.save(cache / "images.npy", smooth(rng, N, N_CHANNELS))
    np.save(cache / "masks.npy", (((sub > 0) * FACE_BIT) + (sub.astype(np.int64) << SUB_REGION_SHIFT)).astype(np.uint8))
    np.save(cache / "valid.npy", np.ones(N, dtype=bool))
    np.save(cache / "crops.npy", smooth(rng, N, 3))
    key = CacheKey(data_hash="synthetic", track_hash=track_hash(track), size=S, margin=info.crop_margin)
    (cache / "meta.json").write_text(json.dumps(key.__dict__, sort_keys=True))
    folder.write_info(folder.record_files(info, ("generator.pt", GENERATOR_ONNX, "track.npz")))
    # The "real" crops: the FP32 generator's own output for each frame's input, plus noise (sigma 3 of 255).
    data = open_training_set(folder)
    with torch.no_grad():
        x = data.batch(np.arange(N), torch.device("cpu")).generator_input(True)
        out = ((generator(x).clamp(-1, 1) + 1) * 127.5).numpy()
    del data
    np.save(cache / "crops.npy", (out + rng.normal(0, 3, size=out.shape)).clip(0, 255).round().astype(np.uint8))
    return folder


def copy_model(source: ModelFolder, path, names=("model.json", "generator.pt", GENERATOR_ONNX, "track.npz"),
               cache: bool = True) -> ModelFolder:
    """A copy of `source`'s files `names`, sharing its dataset cache (linked) unless `cache` is False."""
    folder = ModelFolder(path)
    folder.path.mkdir()
    for name in names:
        (folder.path / name).write_bytes((source.path / name).read_bytes())
    if cache:
        (folder.path / "cache").symlink_to(source.path / "cache")
    return folder


@pytest.fixture
def model(base, tmp_path) -> ModelFolder:
    return copy_model(base, tmp_path / "model")


@pytest.fixture(scope="module")
def exported(base, tmp_path_factory):
    """A copy of the model with its INT8 file made by `export_int8` (good calibration)."""
    folder = copy_model(base, tmp_path_factory.mktemp("exported") / "model")
    return folder, export_int8(folder, config=FAST)


def test_export_writes_a_checked_int8_file_with_its_hash(exported) -> None:
    folder, result = exported
    info = folder.info()
    assert result.path == folder.path / GENERATOR_INT8 and result.path.is_file()
    assert info.files[GENERATOR_INT8] == file_hash(result.path, 64)  # stored like the other model files
    quality = Int8Quality.from_dict(info.int8, "model.json")
    assert quality == result.quality and quality.passes() and quality.frames == N - HELD_OUT
    assert quality.fp32_sha256 == info.files[GENERATOR_ONNX]
    assert 25 < quality.psnr_fp32 < 60 and abs(quality.loss_db) < 0.5
    assert "INT8" in result.summary or "held-out PSNR INT8" in result.summary
    assert not list(folder.path.glob(".*.tmp"))


def test_int8_loads_and_agrees_with_fp32(exported) -> None:
    folder, _ = exported
    int8 = OnnxRuntimeBackend(folder, "cpu", BackendConfig(int8=True, threads=2))
    fp32 = OnnxRuntimeBackend(folder, "cpu", BackendConfig(threads=2))
    assert int8.int8 and not fp32.int8 and "INT8" in int8.describe() and "INT8" not in fp32.describe()
    data = open_training_set(folder)
    stack = data.batch(data.validation_frames(4), torch.device("cpu")).generator_input(True).numpy()
    a, b = int8.infer(stack), fp32.infer(stack)
    assert a.shape == b.shape == (4, 3, S, S)
    assert 0 < np.abs(a - b).mean() < 0.03  # quantized (not the FP32 file), and close to it
    # The file really is quantized: QLinear/QDQ nodes, and FP32's metadata plus its precision.
    import onnx

    graph = onnx.load(str(folder.path / GENERATOR_INT8))
    assert any(n.op_type == "QuantizeLinear" for n in graph.graph.node)
    props = {p.key: p.value for p in graph.metadata_props}
    assert props["reenact.precision"] == "int8" and props["reenact.size"] == str(S)


def test_auto_picks_int8_on_the_cpu(exported) -> None:
    folder, _ = exported
    selection = open_backend(folder, BackendConfig(device="cpu"))
    assert selection.candidate == Candidate("onnxruntime", "cpu", int8=True) and selection.backend.int8
    assert selection.notes() == []
    named = open_backend(folder, BackendConfig(backend="onnxruntime", device="cpu", int8=False))
    assert not named.backend.int8
    torch_only = open_backend(folder, BackendConfig(backend="torch"))
    assert torch_only.backend.name == "torch"


def test_without_an_int8_file_auto_runs_fp32_and_says_how_to_make_one(model) -> None:
    bare = model
    selection = open_backend(bare, BackendConfig(device="cpu"))
    assert selection.candidate == Candidate("onnxruntime", "cpu") and not selection.backend.int8
    (note,) = selection.notes()
    assert "--int8" in note
    with pytest.raises(BackendUnavailableError, match="has no generator.int8.onnx"):
        open_backend(bare, BackendConfig(int8=True))


def broken_calibration(folder: ModelFolder):
    """Calibration inputs that are a flat -1: every activation range collapses, so real inputs saturate."""
    info = folder.info()
    return [np.full((4, info.generator.in_channels, S, S), -1.0, dtype=np.float32)]


def test_guard_refuses_an_int8_file_from_broken_calibration(model) -> None:
    before = model.info_path.read_bytes()
    with pytest.raises(Int8RefusedError, match=r"INT8 generator refused: .* dB below FP32") as refused:
        export_int8(model, config=FAST, calibration=broken_calibration(model))
    assert "dB lost" in str(refused.value)
    # Nothing is kept: no INT8 file, no temporary, model.json untouched.
    assert model.info_path.read_bytes() == before
    assert not list(model.path.glob("*int8*")) and not list(model.path.glob(".*.tmp"))


def test_a_bad_int8_file_in_the_folder_is_refused_at_load(model) -> None:
    """A broken INT8 file with its real (failing) record, as an older reenact or a copied folder may hold:
    auto falls back to FP32 with the reason; asking for INT8 is one clear error."""
    folder = model
    data = open_training_set(folder)
    path = folder.path / GENERATOR_INT8
    quantize_onnx(folder.onnx_path, path, broken_calibration(folder))
    quality = held_out_quality(folder.onnx_path, path, data, True, FAST)
    assert quality.loss_db > 0.5  # a real failure, measured
    folder.write_info(folder.record_files(replace(folder.info(), int8=quality.to_dict()), (GENERATOR_INT8,)))

    selection = open_backend(folder, BackendConfig(device="cpu"))
    assert selection.candidate == Candidate("onnxruntime", "cpu") and not selection.backend.int8
    (note,) = selection.notes()
    assert "below the quality guard" in note and f"{quality.psnr_int8:.2f} dB" in note
    with pytest.raises(BackendUnavailableError, match="below the quality guard"):
        open_backend(folder, BackendConfig(backend="onnxruntime", device="cpu", int8=True))


def test_int8_file_is_verified_and_tied_to_its_fp32_file(exported, tmp_path) -> None:
    source, _ = exported
    folder = copy_model(source, tmp_path / "copy", ("model.json", "generator.pt", GENERATOR_ONNX, GENERATOR_INT8,
                                                    "track.npz"), cache=False)
    assert checked_int8(folder) == folder.path / GENERATOR_INT8
    # A stale record: the FP32 file it came from was replaced since.
    info = folder.info()
    folder.write_info(replace(info, files={**info.files, GENERATOR_ONNX: "0" * 64}))
    with pytest.raises(Int8RefusedError, match="quantized from another generator.onnx"):
        checked_int8(folder)
    folder.write_info(info)
    # A damaged INT8 file is named with its fix, like any model file.
    data = bytearray((folder.path / GENERATOR_INT8).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder.path / GENERATOR_INT8).write_bytes(bytes(data))
    with pytest.raises(FormatError, match=r"damaged .*reenact export .* --int8"):
        open_backend(folder, BackendConfig(device="cpu"))


def test_int8_needs_onnxruntime_on_the_cpu() -> None:
    with pytest.raises(ValueError, match="ONNX Runtime on the CPU"):
        BackendConfig(backend="torch", int8=True)
    with pytest.raises(ValueError, match="ONNX Runtime on the CPU"):
        BackendConfig(device="cuda", int8=True)


def test_export_command(capsys, base, tmp_path) -> None:
    source = base
    folder = copy_model(source, tmp_path / "cli", cache=False)
    # No dataset cache and no training clip: one clear line.
    code, _, err = run_cli(capsys, "export", str(folder.path), "--int8")
    assert_one_clear_line(code, err, "training clip")
    (folder.path / "cache").symlink_to(source.path / "cache")
    code, out, _ = run_cli(capsys, "export", str(folder.path), "--int8")
    assert code == 0 and "held-out PSNR INT8" in out and (folder.path / GENERATOR_INT8).is_file()
    assert checked_int8(folder)
    code, _, err = run_cli(capsys, "export", str(folder.path))
    assert_one_clear_line(code, err, "--int8")


def test_fp32_generator_unchanged_by_int8_export(exported) -> None:
    folder, _ = exported
    assert file_hash(folder.onnx_path, 64) == folder.info().files[GENERATOR_ONNX]
    assert load_generator(folder) is not None
