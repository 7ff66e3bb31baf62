"""The `reenact` command: one module per command, each parsing its options and calling `reenact.api`.

Library errors (`ReenactError`, `SettingError` among them) become one line on
stderr and exit status 2; Ctrl-C exits with 130. Heavy imports (torch,
MediaPipe) stay inside each command's `run`, so `reenact --help` starts at once.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys

from reenact import __version__
from reenact.cli import aus, batch, condition, demo, eval, export, live, render, track, train, ui
from reenact.errors import ReenactError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = live.EXIT_INTERRUPTED
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM})
"""OSError numbers of a write the machine refused (disk full, read-only, not permitted): one line, exit 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reenact",
        description=(
            "Neural video reenactment: the head pose, expression and gaze of a source actor "
            "drive a photo-real video of a target actor, rendered by a generator trained on "
            "a few minutes of the target's video."
        ),
        epilog=(
            "First look: reenact demo --target TARGET.mp4 --source DRIVER.mp4 -o out/demo (trains a quick model, "
            "re-renders, evaluates). Run `reenact COMMAND --help` for a command's options."
        ),
    )
    parser.add_argument("--version", action="version", version=f"reenact {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    track.add_parser(commands)
    aus.add_parser(commands)
    condition.add_parser(commands)
    train.add_parser(commands)
    render.add_parsers(commands)
    export.add_parser(commands)
    eval.add_parser(commands)
    live.add_parser(commands)
    batch.add_parser(commands)
    demo.add_parser(commands)
    ui.add_parser(commands)
    return parser


def _silence_native_stderr() -> None:
    """Send native libraries' stderr (MediaPipe/TFLite start-up logging) to /dev/null.

    Python's own `sys.stderr` (progress bars, error lines) is moved to a copy of
    the original stream first, so the user still sees everything reenact says.
    """
    sys.stderr.flush()
    sys.stderr = os.fdopen(os.dup(2), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if argv is None:  # a real command line, not a call from tests
        _silence_native_stderr()
    try:
        return args.run(args)
    except ReenactError as e:
        print(f"reenact {args.command}: error: {' '.join(str(e).split())}", file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as e:
        if e.errno not in WRITE_ERRNOS:
            raise
        # A write that failed where no writer of ours could say more (the folder checks ran before any work).
        print(f"reenact {args.command}: error: cannot write {e.filename or 'an output'}: {e.strerror}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"reenact {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
