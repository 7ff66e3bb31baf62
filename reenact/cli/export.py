"""`reenact export`: refresh a model's ONNX file, or build its TensorRT engine."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reenact.runtime.config import DEFAULT_ENGINES_DIR, EXPORT_FORMATS


def add_parser(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser(
        "export",
        help="export a trained generator to ONNX or a TensorRT engine",
        description=(
            "onnx: rewrite the model folder's generator.onnx from its weights (FP32, opset 18, dynamic batch, "
            "metadata embedded) and check it against torch. tensorrt: build an engine from the ONNX file "
            "(FP16 with --fp16) into the engines folder, keyed by GPU, TensorRT version and model hash; a stale "
            "or mismatched engine is rebuilt, never used. Needs an NVIDIA GPU and `pip install tensorrt`."
        ),
    )
    export.add_argument("model", type=Path, help="trained model folder")
    export.add_argument("--format", choices=EXPORT_FORMATS, help="what to export")
    export.add_argument("--int8", action="store_true",
                        help="also (or only) make generator.int8.onnx for CPUs: calibrated on the training frames, "
                             "kept only within 0.5 dB held-out PSNR of FP32")
    export.add_argument("--fp16", action="store_true",
                        help="half-precision TensorRT engine (what the renderers use on CUDA unless given --fp32)")
    export.add_argument("--engines", type=Path, default=DEFAULT_ENGINES_DIR,
                        help=f"folder of cached engines (default {DEFAULT_ENGINES_DIR}/)")
    export.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from reenact.errors import SettingError
    from reenact.runtime.export import export_model

    if args.format is None and not args.int8:
        raise SettingError("say what to export: --format onnx, --format tensorrt, or --int8")
    if args.format is not None:
        print(export_model(args.model, args.format, fp16=args.fp16, engines_dir=args.engines).summary)
    if args.int8:
        from reenact.train.quantize import export_int8

        print(export_int8(args.model, say=lambda line: print(line, file=sys.stderr)).summary)
    return 0
