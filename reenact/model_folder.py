"""A trained target's model folder: the contract between `reenact train` and everything that renders.

    models/NAME/
      model.json       ModelInfo: preset, crop size, window W, data hash, metrics, versions
      generator.pt     EMA generator weights (a state dict, loaded with weights_only=True)
      generator.onnx   the same generator exported (opset 18, metadata embedded)
      generator.int8.onnx  optional: the same, INT8 for CPUs (`reenact.train.quantize`), with its held-out check
      track.npz        the target's track: its face model, expression basis and per-frame parameters
      checkpoint.pt    full training state, for --resume (not needed to render)
      previews/, log.csv, cache/   training outputs a person can look at, and the dataset cache

The renderers need only model.json, a generator file and track.npz: the
target's face model drives recombination and conditioning, and its clip is the
live background.

model.json records the sha256 of each model file, written with it; every file is
checked against it before it is loaded, so a damaged file is named with its fix
rather than failing deep inside a loader (or, for a file the chosen backend
does not read, not at all). Torch files are loaded with weights_only=True: one
that holds pickled code is refused, never run.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from reenact.errors import FormatError, InputError, OutputError
from reenact.nn.generator import GeneratorConfig
from reenact.params import Track
from reenact.render.conditioning import ConditioningConfig
from reenact.render.crop import CropConfig

FORMAT_VERSION = 1
"""Version of model.json's layout; readers refuse others."""
MODEL_JSON = "model.json"
GENERATOR_WEIGHTS = "generator.pt"
GENERATOR_ONNX = "generator.onnx"
GENERATOR_INT8 = "generator.int8.onnx"
"""The INT8 generator for CPUs, beside the FP32 file (optional; made by `reenact export --int8` or at training's end)."""
TRACK = "track.npz"
CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class ModelInfo:
    """What a model folder says about its model (model.json)."""

    preset: str
    """Network preset name (tiny, cpu, gpu)."""
    size: int
    """S: crop size the generator works at."""
    window: int
    """W: conditioning frames per generator input."""
    channels: int
    """C: conditioning channels per frame."""
    crop_margin: float
    """Crop side over the mean face's height (`CropConfig.margin`)."""
    generator: GeneratorConfig
    """The generator's full shape."""
    data_hash: str
    """sha256 of the target clip's bytes (which clip it was trained on)."""
    source: str
    """Path of the target clip when trained."""
    fps: float
    """The target clip's frame rate."""
    frames: int
    """Frames in the target clip."""
    validation: tuple[int, int]
    """[start, end) frames held out for validation (the clip's contiguous tail)."""
    steps: int = 0
    """Training steps done."""
    metrics: dict[str, float] = field(default_factory=dict)
    """Validation metrics of the exported (EMA) generator, e.g. psnr, ssim."""
    reenact_version: str = ""
    """reenact version that trained it."""
    training: dict[str, object] = field(default_factory=dict)
    """The resolved training settings (`TrainConfig.to_dict()`: preset, steps, batch, losses, phases, seeds...), so
    the folder says how it was made without its checkpoint. Empty in a model.json from before they were recorded."""
    mouth_opening: bool = False
    """Its conditioning draws the mouth opening in the openings channel (models trained before that read False)."""
    int8: dict[str, float] = field(default_factory=dict)
    """Held-out check of generator.int8.onnx against generator.onnx (`reenact.runtime.int8.Int8Quality`),
    measured when it was made so loading it need not rerun it; empty when there is none."""
    files: dict[str, str] = field(default_factory=dict)
    """sha256 of each model file by name (generator.pt, generator.onnx, track.npz), checked before loading.
    Empty in a model.json from before they were recorded: its files load unchecked."""
    format_version: int = FORMAT_VERSION
    """model.json layout version."""

    def conditioning(self) -> ConditioningConfig:
        """The conditioning layout the generator was trained on (renderers must use the same)."""
        return ConditioningConfig(crop=CropConfig(size=self.size, margin=self.crop_margin), window=self.window,
                                  mouth_opening=self.mouth_opening)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: str = MODEL_JSON) -> ModelInfo:
        """Parse model.json; FormatError when it is damaged or of another version."""
        try:
            values = json.loads(text)
        except json.JSONDecodeError as e:
            raise FormatError(f"{source} is not valid JSON ({e})") from None
        version = values.get("format_version") if isinstance(values, dict) else None
        if version != FORMAT_VERSION:
            raise FormatError(f"{source}: model format version {version}, this reenact reads {FORMAT_VERSION}; retrain")
        try:
            values["generator"] = GeneratorConfig(**values["generator"])
            values["validation"] = tuple(values["validation"])
            return cls(**values)
        except (KeyError, TypeError, ValueError) as e:
            raise FormatError(f"{source}: bad model description ({e})") from None


def file_hash(path: str | os.PathLike, length: int = 16) -> str:
    """First `length` hex digits of the sha256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()[:length]


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to a temporary name beside `path`, then rename it into place; OutputError (the old file
    kept, no temporary left) when it cannot be written."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None


FIXES = {
    "generator.onnx": "re-export it with `reenact export {folder} --format onnx`",
    "generator.int8.onnx": "re-make it with `reenact export {folder} --int8`",
    "generator.pt": "retrain the model (reenact train ... -o {folder} --force), or restore the folder from a copy",
    "track.npz": "retrain the model (reenact train ... -o {folder} --force), or restore the folder from a copy",
    "checkpoint.pt": "start the run over with --force",
}
"""What to do about each model file that is damaged, by name."""


def load_torch_file(path: Path, device: str = "cpu", fix: str = "") -> object:
    """torch.load with weights_only=True, every failure one FormatError: a file holding pickled code is
    refused and not loaded (it never advises weights_only=False), a damaged one says so with `fix`."""
    import torch

    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols on stderr before refusing
            warnings.simplefilter("ignore")
            return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as e:
        if "Weights only load failed" in str(e):
            raise FormatError(f"{path} holds pickled code, not plain weights; it was not loaded. "
                              f"Use only files reenact wrote: {fix}") from None
        raise FormatError(f"{path} is damaged ({e}); {fix}") from None
    except (OSError, RuntimeError, EOFError, ValueError, KeyError, IndexError, TypeError) as e:
        raise FormatError(f"{path} is damaged or not a torch file ({type(e).__name__}: {e}); {fix}") from None


@dataclass(frozen=True)
class ModelFolder:
    """A model folder on disk (see the module docstring for its files)."""

    path: Path

    @property
    def info_path(self) -> Path:
        return self.path / MODEL_JSON

    @property
    def weights_path(self) -> Path:
        return self.path / GENERATOR_WEIGHTS

    @property
    def onnx_path(self) -> Path:
        return self.path / GENERATOR_ONNX

    @property
    def track_path(self) -> Path:
        return self.path / TRACK

    @property
    def checkpoint_path(self) -> Path:
        return self.path / CHECKPOINT

    def info(self) -> ModelInfo:
        return ModelInfo.from_json(self.info_path.read_text(), source=str(self.info_path))

    def write_info(self, info: ModelInfo) -> None:
        write_atomic(self.info_path, info.to_json().encode())

    def fix(self, name: str) -> str:
        """What to do when the model file `name` is missing or damaged."""
        return FIXES.get(name, "retrain the model").format(folder=self.path)

    def record_files(self, info: ModelInfo, names: tuple[str, ...]) -> ModelInfo:
        """`info` with the sha256 of the files `names` (re)recorded, as they are now on disk."""
        return replace(info, files={**info.files, **{name: file_hash(self.path / name, 64) for name in names}})

    def verified(self, name: str) -> Path:
        """The path of model file `name`, checked present and, where model.json records its sha256, intact."""
        path = self.path / name
        if not path.is_file():
            raise InputError(f"{self.path} has no {name}: {self.fix(name)} (the model is incomplete)")
        recorded = self.info().files.get(name)
        if recorded is not None and file_hash(path, 64) != recorded:
            raise FormatError(f"{path} is damaged (its sha256 differs from the one model.json recorded); "
                              f"{self.fix(name)}")
        return path

    def model_hash(self) -> str:
        """Identity of the exported generator (sha256 of generator.onnx): keys engine caches, labels outputs."""
        return file_hash(self.onnx_path)

    def load_track(self) -> Track:
        """The target's `Track` (face model and per-frame parameters), checked intact first."""
        return Track.load(self.verified(TRACK))

    def own_files(self) -> dict[str, Path]:
        """Every file of the folder by role ("model's generator.pt"), as inputs that no output may overwrite."""
        return {f"model's {name}": self.path / name for name in (MODEL_JSON, *RENDER_FILES, CHECKPOINT)}


RENDER_FILES = (GENERATOR_WEIGHTS, GENERATOR_ONNX, TRACK)
"""What rendering needs besides model.json."""


def open_model(path: str | os.PathLike | ModelFolder, needs: tuple[str, ...] = RENDER_FILES) -> ModelFolder:
    """The model folder at `path`, its model.json parsed and the files `needs` names present (by default what
    rendering needs); InputError/FormatError say what is wrong."""
    folder = path if isinstance(path, ModelFolder) else ModelFolder(Path(path))
    if not folder.path.is_dir():
        raise InputError(f"model folder not found: {folder.path} (train one with `reenact train CLIP -o {folder.path}`)")
    if not folder.info_path.is_file():
        raise InputError(f"{folder.path} is not a trained reenact model (no {MODEL_JSON}); train it with `reenact train`")
    folder.info()  # parse now: a damaged or old model.json fails here with its reason
    for needed in needs:
        folder.verified(needed)
    return folder


def save_model(path: str | os.PathLike, generator, info: ModelInfo, track) -> ModelFolder:
    """Write a renderable model folder: generator weights and ONNX export, the target's track, model.json last.

    model.json is written last, with the sha256 of each file, so a folder
    interrupted while saving is never taken for a complete model by `open_model`.
    """
    import torch

    from reenact.nn.export import export_generator

    folder = ModelFolder(Path(path))
    folder.path.mkdir(parents=True, exist_ok=True)
    tmp = folder.weights_path.with_name(f".{GENERATOR_WEIGHTS}.tmp")
    torch.save(generator.state_dict(), tmp)
    os.replace(tmp, folder.weights_path)
    export_generator(generator, folder.onnx_path, info.size, info.preset)
    track.save(folder.track_path)
    folder.write_info(folder.record_files(info, RENDER_FILES))
    return folder


def save_untrained_model(path: str | os.PathLike, track: Track, clip: Path, preset: str = "tiny") -> ModelFolder:
    """A renderable model folder of the person in `clip` (tracked as `track`, whose source it becomes) with an
    untrained generator of `preset`, seeded: for tests of the plumbing and for speed benchmarks, which need no
    training (it costs what a trained generator of the preset costs to run)."""
    import torch

    from reenact import __version__
    from reenact.nn.generator import build_generator
    from reenact.nn.presets import get_preset

    torch.manual_seed(0)
    config = get_preset(preset)
    track.source = str(clip)
    n = track.n_frames
    info = ModelInfo(preset=config.name, size=config.size, window=config.window, channels=config.channels,
                     crop_margin=1.8, generator=config.generator, data_hash=file_hash(clip), source=str(clip),
                     fps=track.fps, frames=n, validation=(n - n // 10, n), reenact_version=__version__)
    return save_model(path, build_generator(config.generator), info, track)


def load_generator(folder: ModelFolder, device: str = "cpu"):
    """The folder's generator in torch, in eval mode on `device` (weights loaded with weights_only=True)."""
    from reenact.nn.generator import build_generator

    info = folder.info()
    generator = build_generator(info.generator)
    state = load_torch_file(folder.verified(GENERATOR_WEIGHTS), device, folder.fix(GENERATOR_WEIGHTS))
    try:
        generator.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, AttributeError) as e:
        raise FormatError(f"{folder.weights_path}: not the weights model.json describes ({e}); "
                          f"{folder.fix(GENERATOR_WEIGHTS)}") from None
    return generator.to(device).eval()
