"""`reenact export`: refresh a model's ONNX file, or build its TensorRT engine."""

from __future__ import annotations

import argparse
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
    export.add_argument("--format", required=True, choices=EXPORT_FORMATS, help="what to export")
    export.add_argument("--fp16", action="store_true",
                        help="half-precision TensorRT engine (what the renderers use on CUDA unless given --fp32)")
    export.add_argument("--engines", type=Path, default=DEFAULT_ENGINES_DIR,
                        help=f"folder of cached engines (default {DEFAULT_ENGINES_DIR}/)")
    export.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from reenact.runtime.export import export_model

    print(export_model(args.model, args.format, fp16=args.fp16, engines_dir=args.engines).summary)
    return 0
