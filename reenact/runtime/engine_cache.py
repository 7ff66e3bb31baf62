"""The TensorRT engine cache: one engine per model and precision, reused only while it still fits.

A serialised TensorRT engine is tied to the GPU it was built on, the TensorRT version
that built it and the exact ONNX file it came from; using one that does not match either
fails to load or, worse, runs a different model. Building one takes minutes, so it is
cached:

    engines/NAME.fp16.engine   the serialised engine
    engines/NAME.fp16.json     its key (GPU, TensorRT version, model hash, precision,
                               shapes) and the sha256 of the engine bytes

The key file is written last, so an interrupted build leaves no usable-looking entry. An
entry is used only when its key equals the wanted key and its bytes still hash to what
was recorded; otherwise it is rebuilt, and the reason is reported. This module knows
nothing of TensorRT (the builder is a function passed in), so all of it is tested on CPU.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from reenact.model_folder import write_atomic

CACHE_VERSION = 1
"""Layout version of the key files; entries of another version are rebuilt."""


@dataclass(frozen=True)
class EngineKey:
    """Everything an engine depends on: an engine built for a different key must not be used."""

    model_hash: str
    """`ModelFolder.model_hash()`: sha256 prefix of the generator.onnx the engine was built from."""
    gpu: str
    """GPU name (`torch.cuda.get_device_name`): engines hold kernels tuned for one GPU."""
    tensorrt: str
    """TensorRT version that built the engine (engines do not load across versions)."""
    fp16: bool
    """Built with FP16 kernels allowed."""
    size: int
    """S of the input and output."""
    in_channels: int
    """Channels of the conditioning stack."""
    max_batch: int
    """Largest batch of the engine's optimisation profile."""
    cache_version: int = CACHE_VERSION
    """Layout version of the key file."""

    def differences(self, cached: EngineKey) -> list[str]:
        """What changed from `cached` to this key, e.g. ["model_hash 'ab12' -> 'cd34'"]."""
        return [
            f"{f.name} {getattr(cached, f.name)!r} -> {getattr(self, f.name)!r}"
            for f in fields(self)
            if getattr(cached, f.name) != getattr(self, f.name)
        ]


@dataclass(frozen=True)
class CachedEngine:
    """A usable engine from the cache."""

    path: Path
    """The engine file."""
    data: bytes
    """The serialised engine."""
    built: bool
    """True when it was (re)built by this call, False when it came from the cache."""
    reason: str
    """Why it was built ("no cached engine", "model_hash 'ab' -> 'cd'", ...), or "cached"."""


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class EngineCache:
    """Engines under `root`, one slot per model name and precision (see the module docstring)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def paths(self, name: str, fp16: bool) -> tuple[Path, Path]:
        """(engine file, key file) of the slot for model `name` at the given precision."""
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "model"
        stem = f"{safe}.{'fp16' if fp16 else 'fp32'}"
        return self.root / f"{stem}.engine", self.root / f"{stem}.json"

    def stale_reason(self, name: str, key: EngineKey) -> str | None:
        """None when the slot holds a sound engine built for `key`; otherwise why it cannot be used."""
        data, reason = self._load(name, key)
        return None if data is not None else reason

    def fetch(
        self, name: str, key: EngineKey, build: Callable[[], bytes], force_reason: str | None = None
    ) -> CachedEngine:
        """The engine for `key`: from the slot when it is sound, else `build()`, stored, and returned.

        `force_reason` rebuilds even a sound-looking entry (e.g. TensorRT refused to load it) and says why.
        """
        engine_path, key_path = self.paths(name, key.fp16)
        if force_reason is None:
            data, reason = self._load(name, key)
            if data is not None:
                return CachedEngine(engine_path, data, built=False, reason=reason)
        else:
            reason = force_reason
        data = build()
        self.root.mkdir(parents=True, exist_ok=True)
        key_path.unlink(missing_ok=True)  # no key file while the engine is replaced: never a mismatched pair
        write_atomic(engine_path, data)
        record = {"key": asdict(key), "sha256": _digest(data), "bytes": len(data)}
        write_atomic(key_path, json.dumps(record, indent=2, sort_keys=True).encode())
        return CachedEngine(engine_path, data, built=True, reason=reason)

    def remove(self, name: str, fp16: bool) -> None:
        """Delete the slot's engine and key file (e.g. an engine that failed its agreement check)."""
        for path in reversed(self.paths(name, fp16)):  # key file first: never a key without its engine
            path.unlink(missing_ok=True)

    def _load(self, name: str, key: EngineKey) -> tuple[bytes | None, str]:
        """(engine bytes, "cached") when the slot is sound for `key`, else (None, why not)."""
        engine_path, key_path = self.paths(name, key.fp16)
        if not engine_path.is_file():
            return None, "no cached engine"
        try:
            record = json.loads(key_path.read_text())
            cached = EngineKey(**record["key"])
            recorded_digest = record["sha256"]
        except FileNotFoundError:
            return None, "the cached engine has no key file (interrupted build?)"
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            return None, f"the cached engine's key file is unreadable ({e})"
        changed = key.differences(cached)
        if changed:
            return None, "built for another setup: " + ", ".join(changed)
        data = engine_path.read_bytes()
        if _digest(data) != recorded_digest:
            return None, "the cached engine file is damaged (its checksum differs from when it was built)"
        return data, "cached"
