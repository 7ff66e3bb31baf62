"""The network presets' names, importable without torch: the CLI lists them in `--help`.

`reenact.nn.presets.PRESETS` defines one preset per name (a test keeps the two in step).
"""

PRESET_NAMES: tuple[str, ...] = ("tiny", "cpu", "gpu")
"""tiny (tests, 64 px, a minute on CPU), cpu (live on a 2-core CPU at 256 px), gpu (quality at 512 px on a GPU)."""
