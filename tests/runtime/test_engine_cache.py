"""The TensorRT engine cache, isolated from TensorRT: the builder is a function that returns bytes.

What is tested is the cache's logic (when an engine is reused, when it is rebuilt and why);
TensorRT itself is not imported here.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from reenact.model_folder import ModelFolder
from reenact.nn.export import export_generator
from reenact.nn.generator import build_generator
from reenact.runtime.backend import ModelSpec
from reenact.runtime.config import BackendConfig
from reenact.runtime.engine_cache import EngineCache, EngineKey
from reenact.runtime.tensorrt_backend import engine_key

KEY = EngineKey(
    model_hash="0123456789abcdef", gpu="NVIDIA H100 80GB HBM3", tensorrt="10.9.0.34", fp16=True,
    size=256, in_channels=25, max_batch=8,
)


class Builder:
    """Stands in for TensorRT's build: returns distinct bytes per call and counts the calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> bytes:
        self.calls += 1
        return f"engine #{self.calls}".encode() * 100


@pytest.fixture
def cache(tmp_path: Path) -> EngineCache:
    return EngineCache(tmp_path / "engines")


def test_builds_once_then_reuses(cache: EngineCache) -> None:
    build = Builder()
    first = cache.fetch("wojtek", KEY, build)
    assert first.built and first.reason == "no cached engine" and build.calls == 1
    assert first.path.is_file() and first.path.read_bytes() == first.data
    second = cache.fetch("wojtek", KEY, build)
    assert not second.built and second.reason == "cached" and second.data == first.data and build.calls == 1
    assert cache.stale_reason("wojtek", KEY) is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model_hash", "fedcba9876543210"),
        ("gpu", "NVIDIA GeForce RTX 4090"),
        ("tensorrt", "10.13.0.35"),
        ("size", 512),
        ("max_batch", 16),
    ],
)
def test_a_changed_key_rebuilds_and_says_what_changed(cache: EngineCache, field: str, value: object) -> None:
    build = Builder()
    old = cache.fetch("wojtek", KEY, build)
    new_key = replace(KEY, **{field: value})
    assert field in (cache.stale_reason("wojtek", new_key) or "")
    new = cache.fetch("wojtek", new_key, build)
    assert new.built and build.calls == 2 and new.data != old.data
    assert f"{field} {getattr(KEY, field)!r} -> {value!r}" in new.reason
    assert cache.fetch("wojtek", new_key, build).reason == "cached"
    assert cache.stale_reason("wojtek", KEY) is not None, "the old key must not match the rebuilt engine"


def test_fp16_and_fp32_engines_keep_separate_slots(cache: EngineCache) -> None:
    build = Builder()
    cache.fetch("wojtek", KEY, build)
    cache.fetch("wojtek", replace(KEY, fp16=False), build)
    assert build.calls == 2
    assert not cache.fetch("wojtek", KEY, build).built and not cache.fetch("wojtek", replace(KEY, fp16=False), build).built


def test_a_damaged_engine_is_rebuilt(cache: EngineCache) -> None:
    build = Builder()
    entry = cache.fetch("wojtek", KEY, build)
    data = bytearray(entry.path.read_bytes())
    data[10] ^= 0xFF
    entry.path.write_bytes(bytes(data))
    again = cache.fetch("wojtek", KEY, build)
    assert again.built and "damaged" in again.reason and build.calls == 2
    entry.path.write_bytes(entry.path.read_bytes()[:50])  # truncated
    assert "damaged" in cache.fetch("wojtek", KEY, build).reason


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda key_path: key_path.unlink(), "no key file"),
        (lambda key_path: key_path.write_text("{not json"), "unreadable"),
        (lambda key_path: key_path.write_text(json.dumps({"key": {"gpu": "x"}, "sha256": "0"})), "unreadable"),
    ],
)
def test_a_missing_or_damaged_key_file_rebuilds(cache: EngineCache, damage, reason: str) -> None:
    build = Builder()
    cache.fetch("wojtek", KEY, build)
    damage(cache.paths("wojtek", KEY.fp16)[1])
    again = cache.fetch("wojtek", KEY, build)
    assert again.built and reason in again.reason


def test_a_failed_build_leaves_no_usable_entry(cache: EngineCache) -> None:
    build = Builder()
    cache.fetch("wojtek", KEY, build)
    new_key = replace(KEY, model_hash="ffff")

    def failing() -> bytes:
        raise RuntimeError("builder crashed")

    with pytest.raises(RuntimeError, match="crashed"):
        cache.fetch("wojtek", new_key, failing)
    assert cache.stale_reason("wojtek", new_key) is not None
    assert cache.fetch("wojtek", new_key, build).built


def test_forced_rebuild_and_remove(cache: EngineCache) -> None:
    build = Builder()
    cache.fetch("wojtek", KEY, build)
    forced = cache.fetch("wojtek", KEY, build, force_reason="TensorRT could not load the cached engine")
    assert forced.built and forced.reason == "TensorRT could not load the cached engine" and build.calls == 2
    cache.remove("wojtek", KEY.fp16)
    assert not any(p.exists() for p in cache.paths("wojtek", KEY.fp16))
    assert cache.stale_reason("wojtek", KEY) == "no cached engine"


def test_slot_names_are_safe_file_names(cache: EngineCache) -> None:
    engine, key = cache.paths("my model/../x", fp16=False)
    assert engine.parent == cache.root and key.parent == cache.root
    assert engine.name == "my_model_.._x.fp32.engine" and key.name == "my_model_.._x.fp32.json"


def test_the_model_hash_comes_from_the_onnx_file(tiny_folder: ModelFolder, tmp_path: Path, cache: EngineCache) -> None:
    """Re-exporting a model with other weights changes its key, so its cached engine is rebuilt."""
    folder = ModelFolder(tmp_path / "model")
    folder.path.mkdir()
    for name in ("model.json", "generator.onnx"):
        (folder.path / name).write_bytes((tiny_folder.path / name).read_bytes())
    spec = ModelSpec.from_info(folder.info())
    config = BackendConfig(fp16=True)
    before = engine_key(folder, spec, config, gpu="GPU", tensorrt_version="10.9")
    assert before.model_hash == tiny_folder.model_hash() and (before.size, before.in_channels) == (64, 29)
    build = Builder()
    cache.fetch("model", before, build)

    torch.manual_seed(1)
    export_generator(build_generator(folder.info().generator), folder.onnx_path, 64, "tiny")
    after = engine_key(folder, spec, config, gpu="GPU", tensorrt_version="10.9")
    assert after.model_hash != before.model_hash
    rebuilt = cache.fetch("model", after, build)
    assert rebuilt.built and "model_hash" in rebuilt.reason and build.calls == 2
