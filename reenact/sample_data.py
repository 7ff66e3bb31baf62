"""Where the real face clips for tests, benchmarks and the demo live.

`$REENACT_DATA` when set, else `../shared/data` beside the repository checkout.
Clips are read from there, never copied into the project.
"""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """The folder of sample clips (it may not exist; callers check the files they need)."""
    beside_repository = Path(__file__).resolve().parents[2] / "shared" / "data"
    return Path(os.environ.get("REENACT_DATA", beside_repository)).resolve()
