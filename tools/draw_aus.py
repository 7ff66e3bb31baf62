"""Draw every action unit on the canonical face at intensities 0.5 and 1 (docs/aus.png).

Each AU gets two panels, zoomed onto the part of the face it moves: the mesh
that stays in grey, the moving part's neutral edges in light grey under their
deformed positions in colour (darker where a vertex moves more). Run: python tools/draw_aus.py [-o docs/aus.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

INTENSITIES = (0.5, 1.0)
COLUMNS = 4
"""AUs per row (each two panels wide)."""


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    from reenact.facs.units import ACTION_UNITS, fields
    from reenact.tracking.canonical_face import canonical_face

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/aus.png"))
    args = parser.parse_args()

    face = canonical_face()
    edges = face.tessellation_edges
    neutral = face.vertices
    rows = -(-len(ACTION_UNITS) // COLUMNS)
    figure, axes = plt.subplots(rows, 2 * COLUMNS, figsize=(2.2 * 2 * COLUMNS, 2.4 * rows), dpi=80)
    for ax in axes.ravel():
        ax.axis("off")
    for index, (unit, field) in enumerate(zip(ACTION_UNITS, fields())):
        size = np.linalg.norm(field, axis=1)
        moving = neutral[size > 0.1 * size.max(), :2]
        low, high = moving.min(0) - 1.0, moving.max(0) + 1.0
        half = max(high - low) / 2
        centre = (low + high) / 2
        for column, intensity in enumerate(INTENSITIES):
            ax = axes[index // COLUMNS, 2 * (index % COLUMNS) + column]
            shape = neutral + intensity * field
            edge_size = size[edges].mean(1) / size.max()
            still = edge_size < 0.02
            ax.add_collection(LineCollection(neutral[edges[still], :2], colors="0.75", linewidths=0.5))
            ax.add_collection(LineCollection(neutral[edges[~still], :2], colors="0.85", linewidths=0.5))
            ax.add_collection(LineCollection(shape[edges[~still], :2], linewidths=0.7,
                                             colors=plt.cm.magma_r(0.2 + 0.7 * edge_size[~still])))
            ax.set_xlim(centre[0] - half, centre[0] + half)
            ax.set_ylim(centre[1] - half, centre[1] + half)
            ax.set_aspect("equal")
            ax.set_title(f"AU {unit.code} {unit.name}\nintensity {intensity:g}" if column == 0
                         else f"\nintensity {intensity:g}", fontsize=8, loc="left")
    figure.suptitle("Action units on MediaPipe's canonical face (grey: neutral; colour: deformed, darker moves "
                    "more; one-sided units L/R are the subject's left/right)", fontsize=10)
    figure.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    figure.canvas.draw()
    from PIL import Image

    pixels = Image.fromarray(np.asarray(figure.canvas.buffer_rgba())[..., :3])
    pixels.quantize(colors=64).save(args.output, optimize=True)  # line art: a palette keeps the file small
    print(f"{len(ACTION_UNITS)} action units -> {args.output}")


if __name__ == "__main__":
    main()
