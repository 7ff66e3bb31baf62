"""Open the browser editor in headless Chromium, as a person would, and save a screenshot of the page.

    python tools/ui_screenshot.py --model models/NAME --target CLIP.mp4 [--frame 120] [--smile 0.8] -o docs/ui.png

Serves `reenact ui`'s page on a free loopback port, opens the model and clip,
loads it in /usr/bin/chromium through Playwright (its Python package only: no
browser download), sets the frame and a smile with the page's own controls,
waits for the re-rendered preview, and checks that the preview shown in the
browser is not blank (exit status 1 if it is). Prints the preview's pixel
spread and the time the page took.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
"""Flags for a closed network: nothing is fetched from outside, no sandbox (root in a container)."""
MIN_SPREAD = 8.0
"""Least standard deviation of the preview's grey levels for it to count as a picture, not a blank."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shown_image(page, elem_id: str) -> np.ndarray:
    """The picture the browser shows in the image component `elem_id`, as uint8 H x W x 3 RGB."""
    import cv2

    png = page.locator(f"#{elem_id} img").first.screenshot()
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def screenshot(model: Path, target: Path, output: Path, frame: int = 0, smile: float = 0.8,
               timeout_s: float = 120.0) -> float:
    """Save the page's screenshot to `output`; return the shown preview's grey-level spread."""
    from playwright.sync_api import sync_playwright

    from reenact.ui.page import build_page, serve
    from reenact.ui.session import EditorSession

    session = EditorSession(Path(tempfile.mkdtemp(prefix="reenact-ui-shot-")))
    session.open(model, target)
    page = build_page(session, str(model), str(target))
    url = serve(page, session, port=free_port(), block=False)
    try:
        with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
            browser = playwright.chromium.launch_persistent_context(
                profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS,
                viewport={"width": 1500, "height": 1000})
            tab = browser.new_page()
            tab.set_default_timeout(timeout_s * 1000)
            tab.goto(url)
            tab.wait_for_selector("#rendered img")
            status = tab.locator("#messages textarea")
            # The page's own controls: the frame box beside the slider, then the smile slider's box.
            tab.locator("#frame input[type=number]").fill(str(frame))
            tab.locator("#frame input[type=number]").press("Enter")
            tab.wait_for_function(f"document.querySelector('#messages textarea').value.startsWith('frame {frame} ')")
            tab.locator("#smile input[type=number]").fill(str(smile))
            tab.locator("#smile input[type=number]").press("Enter")
            tab.wait_for_function("document.querySelector('#edits-file').innerText.includes('smile')")
            tab.wait_for_function(f"document.querySelector('#messages textarea').value.startsWith('frame {frame} ')")
            time.sleep(1.0)  # the image element is swapped in after the message
            preview = shown_image(tab, "rendered")
            output.parent.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(output), full_page=True)
            print(f"{output}: page shown; {status.input_value()}")
            browser.close()
    finally:
        page.close()
        session.close()
    return float(preview.astype(np.float32).mean(2).std())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--target", type=Path, required=True)
    parser.add_argument("--frame", type=int, default=0)
    parser.add_argument("--smile", type=float, default=0.8)
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/ui.png"))
    args = parser.parse_args()
    if not CHROMIUM.is_file():
        print(f"ui_screenshot: {CHROMIUM} not found (apt-get install chromium)", file=sys.stderr)
        return 2
    start = time.perf_counter()
    spread = screenshot(args.model, args.target, args.output, args.frame, args.smile)
    blank = spread < MIN_SPREAD
    print(f"preview in the browser: grey-level spread {spread:.1f} ({'BLANK' if blank else 'a picture'}); "
          f"{time.perf_counter() - start:.1f} s")
    return 1 if blank else 0


if __name__ == "__main__":
    sys.exit(main())
