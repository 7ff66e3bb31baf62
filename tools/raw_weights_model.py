"""A model folder from a training run's raw generator weights, to score them against the exported EMA.

    python tools/raw_weights_model.py runs/zp_franck runs/raw_franck
    reenact eval --fp32 --model runs/raw_franck -o runs/eval/raw_franck

`reenact train` exports the EMA of the generator's weights; its checkpoint.pt
also holds the weights the optimiser left at the last step. This writes those
into a new folder with the run's model.json settings and track (every file
hashed, as `reenact train` writes them), so `reenact eval` scores both on the
same frames (README, *The adversarial terms apart*).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from reenact.errors import InputError, ReenactError
from reenact.model_folder import CHECKPOINT, open_model, save_model
from reenact.nn.generator import build_generator
from reenact.params import Track
from reenact.train.checkpoint import load_checkpoint


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="a finished training run's folder (model.json and checkpoint.pt)")
    parser.add_argument("output", type=Path, help="the new model folder (must not exist)")
    args = parser.parse_args()
    if args.output.exists():
        print(f"error: {args.output} exists; give a new folder", file=sys.stderr)
        return 1
    checkpoint = args.run / CHECKPOINT
    try:
        folder = open_model(args.run)
        if not checkpoint.is_file():
            raise InputError(f"{checkpoint} not found: the run's raw weights are only in its checkpoint")
        state = load_checkpoint(checkpoint, torch.device("cpu"))
    except ReenactError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    info = folder.info()
    generator = build_generator(info.generator)
    generator.load_state_dict(state["trainer"]["generator"])
    save_model(args.output, generator.eval(), info, Track.load(folder.track_path))
    print(f"step {state['trainer']['step']}: raw generator weights -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
