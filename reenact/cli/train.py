"""`reenact train`: fit a target's generator on a few minutes of its video."""

from __future__ import annotations

import argparse
from pathlib import Path

from reenact.nn.preset_names import PRESET_NAMES


def add_parser(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train",
        help="train a target's generator on a few minutes of its video",
        description=(
            "Fit a target: track the clip (cached in the model folder), cache its conditioning images and "
            "real crops on disk, and train the person-specific generator adversarially, holding out the "
            "clip's last 10% for validation. Writes preview grids (conditioning | generated | real), a CSV log "
            "of losses and validation PSNR/SSIM, atomic checkpoints (Ctrl-C saves one; --resume continues "
            "exactly), and at the end the EMA generator (generator.pt, generator.onnx) with model.json, which "
            "records the resolved training settings."
        ),
        epilog="Presets: tiny (tests, 64 px, a minute on CPU), cpu (live on a 2-core CPU at 256 px), "
               "gpu (quality at 512 px on a GPU). Several GPUs: torchrun --nproc-per-node N -m reenact.cli train ...",
    )
    train.add_argument("target", type=Path, help="the target's video (a few minutes of one person talking)")
    train.add_argument("-o", "--output", type=Path, required=True, help="model folder to write, e.g. models/NAME")
    train.add_argument("--preset", default="cpu", choices=PRESET_NAMES,
                       help="network and training preset (default cpu)")
    train.add_argument("--steps", type=int, help="training steps (default: the preset's)")
    train.add_argument("--batch-size", type=int,
                       help="frames per step, a multiple of the temporal window K (default: the preset's)")
    train.add_argument("--size", type=int,
                       help="crop size in pixels (default: the preset's: 64, 256 or 512; 192 with the cpu preset "
                            "trades detail for a faster live generator)")
    train.add_argument("--minutes", type=float, help="stop training after this many minutes and export what there is")
    train.add_argument("--track", type=Path,
                       help="start from this track (.npz) instead of tracking the clip (no MediaPipe needed)")
    train.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N (default auto)")
    train.add_argument("--resume", action="store_true",
                       help="continue the run in the output folder from its checkpoint")
    train.add_argument("--force", action="store_true", help="start over in an output folder that holds another run")
    train.add_argument("--dry-run", action="store_true", help="print the resolved settings and exit")
    ablation = train.add_argument_group("ablations (the README's table; defaults are the preset's)")
    ablation.add_argument("--no-context", action="store_true",
                          help="the generator paints the whole crop instead of re-rendering only the edit mask")
    ablation.add_argument("--texture-channels", type=int, help="neural texture channels (0: none)")
    ablation.add_argument("--base-width", type=int,
                          help="generator channels at its first level, doubled per level down (cpu preset: 16)")
    ablation.add_argument("--head-skip", choices=("stack", "frame"),
                          help="what the full-resolution layer sees of the input: the whole conditioning stack "
                               "or the current frame's channels only (cheaper; default: the preset's)")
    ablation.add_argument("--head", choices=("upsample", "shuffle"),
                          help="how the generator gets back to full resolution: upsample, then its last two "
                               "layers at full resolution, or shuffle: both at half resolution, the output "
                               "unstacked into 2x2 pixel blocks (cheaper; default: the preset's)")
    ablation.add_argument("--detail-gain", type=float, help="gain of the discriminators' detail band (0: none)")
    ablation.add_argument("--disc-width", type=int,
                          help="first-layer channels of both discriminators (cpu preset: 32); an adversarial "
                               "step's discriminator cost falls about with its square")
    ablation.add_argument("--detail-weight", type=float,
                          help="weight of the L1 on three octaves of detail bands (0: none)")
    ablation.add_argument("--adv-start", type=int, help="step at which the adversarial phase starts")
    ablation.add_argument("--adversarial-weight", type=float,
                          help="weight of the generator's hinge terms (0: the discriminators still train, and "
                               "their feature matching stays on; default 1)")
    ablation.add_argument("--patch-size", type=int,
                          help="train on random windows of this many pixels first (0: whole crops throughout)")
    ablation.add_argument("--patch-share", type=float,
                          help="share of the steps (or of --minutes) trained on windows (default 0.5)")
    ablation.add_argument("--lr-decay", type=float, metavar="SHARE",
                          help="the last SHARE of the steps (or of --minutes) lowers the generator's learning "
                               "rate linearly to zero, as pix2pix does (default 0: constant)")
    ablation.add_argument("--synthetic-winks", type=float, metavar="SHARE",
                          help="make SHARE of the training runs winks: one eye lent by a run a blink away, so a "
                               "clip of two-eyed blinks still teaches one eye shut "
                               "(default 0: none; README, *Synthetic winks*)")
    ablation.add_argument("--float32", action="store_true",
                          help="no bfloat16 autocast, even on a GPU or a CPU with bfloat16 instructions")
    train.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json

    from reenact import api
    from reenact.train.config import train_preset

    config = train_preset(args.preset, steps=args.steps, batch_size=args.batch_size, size=args.size,
                          context=False if args.no_context else None, texture_channels=args.texture_channels,
                          detail_gain=args.detail_gain, detail_weight=args.detail_weight, adv_start=args.adv_start,
                          adversarial_weight=args.adversarial_weight, amp=False if args.float32 else None,
                          patch_size=args.patch_size,
                          patch_share=args.patch_share, base_width=args.base_width, head_skip=args.head_skip,
                          head=args.head, disc_width=args.disc_width,
                          lr_decay_share=args.lr_decay, wink_share=args.synthetic_winks)
    if args.dry_run:
        from reenact.render.conditioning import N_CHANNELS, ConditioningConfig
        from reenact.train.config import network_for

        network = network_for(config, ConditioningConfig().window, N_CHANNELS)
        config.check(network)
        print(json.dumps({"train": config.to_dict(), "network": network.name}, indent=2, default=str))
        return 0
    result = api.train(args.target, args.output, config, track_file=args.track, resume=args.resume,
                       force=args.force, device=args.device, minutes=args.minutes)
    if not result.main:
        return 0  # the main process reports the run
    metrics = result.metrics
    nan = float("nan")
    print(
        f"{result.steps} steps in {result.seconds / 60:.1f} min; "
        f"held-out tail: PSNR {metrics.get('psnr', nan):.2f} dB, "
        f"SSIM {metrics.get('ssim', nan):.3f} (face: {metrics.get('psnr_face', nan):.2f} dB) -> {result.folder.path}"
    )
    print(f"previews in {result.folder.path / 'previews'}, log in {result.folder.path / 'log.csv'}")
    return 0
