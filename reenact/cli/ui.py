"""`reenact ui`: the browser editor, a local web page (Gradio) to edit a clip of the target frame by frame."""

from __future__ import annotations

import argparse
from pathlib import Path

from reenact.cli.common import add_backend_options, backend_config
from reenact.errors import ReenactError

INSTALL = "pip install 'reenact[ui]'"


def add_parser(commands: argparse._SubParsersAction) -> None:
    ui = commands.add_parser(
        "ui",
        help="a browser editor: scrub a clip, set edits on keyframes, preview frames, render (Gradio)",
        description=(
            "Serve a local web page to edit a clip of the target: choose a model and a clip (and optionally a "
            "source that drives it), scrub its frames with the original, the conditioning and the re-rendered "
            "frame side by side, set every edit `reenact edit` has on its own keyframes, save and load the edits "
            "as a file (`reenact edit --edits FILE` renders it), and render the whole clip (audio kept, labelled "
            f"synthetic). Needs Gradio: {INSTALL}."
        ),
    )
    ui.add_argument("--model", type=Path, help="trained model folder to open at start")
    ui.add_argument("--target", type=Path, help="clip of the target person to open at start")
    ui.add_argument("--source", type=Path, help="clip of a source actor who drives the target (optional)")
    ui.add_argument("--host", default="127.0.0.1",
                    help="address to serve on (default 127.0.0.1: this machine only; the page renders and writes "
                         "files for whoever reaches it)")
    ui.add_argument("--port", type=int, default=7860, help="port to serve on (default 7860)")
    ui.add_argument("--workdir", type=Path,
                    help="folder for renders and saved edits files (default: a new temporary folder)")
    add_backend_options(ui)
    ui.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        import gradio  # noqa: F401 - only to tell the user how to install it
    except ImportError:
        raise ReenactError(f"the browser editor needs Gradio, which is not installed: {INSTALL}") from None
    from reenact.ui.page import build_page, serve
    from reenact.ui.session import EditorSession

    session = EditorSession(args.workdir, backend_config(args))
    page = build_page(session, *(str(path) if path else "" for path in (args.model, args.target, args.source)))
    if args.model and args.target:
        session.open(args.model, args.target, args.source)
    print(f"reenact ui: serving on http://{args.host}:{args.port} (Ctrl-C stops); renders go to {session.workdir}")
    try:
        serve(page, session, args.host, args.port)
    finally:
        session.close()
    return 0
