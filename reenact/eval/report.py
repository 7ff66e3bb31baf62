"""An evaluation's outputs: metrics.json, a Markdown table, a plot of the per-frame scores, the review video.

The table sets the model beside the nearest-neighbour and warp baselines (and,
in self-reenactment, the real frames: the floor the re-tracking itself sets),
so a regression shows at a glance. Files are written to a temporary name and
renamed into place. In metrics.json a score that was not measured (no face, no
ground truth) is null and an infinite PSNR (identical images) is the string
"inf", so the file stays strict JSON.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Self

import numpy as np

from reenact.eval.fidelity import ERRORS
from reenact.eval.results import EvalResult, MethodScores
from reenact.model_folder import write_atomic
from reenact.render.preview import side_by_side
from reenact.video_io import VideoWriter

METRICS_JSON, REPORT_MD, METRICS_PNG, VIDEO = "metrics.json", "report.md", "metrics.png", "comparison.mp4"
"""File names in the report folder."""

ROW_NAMES = {"model": "model", "nearest": "nearest neighbour", "warp": "warp", "real": "real frames (floor)"}
COLUMNS = (
    # key, header, format, needs ground truth
    ("psnr", "PSNR crop (dB)", "{:.2f}", True),
    ("psnr_face", "PSNR face (dB)", "{:.2f}", True),
    ("ssim", "SSIM crop", "{:.3f}", True),
    ("ssim_face", "SSIM face", "{:.3f}", True),
    ("psnr_edit", "PSNR edit mask (dB)", "{:.2f}", True),
    ("ssim_edit", "SSIM edit mask", "{:.3f}", True),
    ("psnr_eyes", "PSNR eyes (dB)", "{:.2f}", True),
    ("psnr_mouth", "PSNR mouth (dB)", "{:.2f}", True),
    ("sharpness", "sharpness", "{:.2f}", True),
    ("l1", "L1", "{:.4f}", True),
    ("landmark_error", "landmarks (% IOD)", "{:.2f}", False),
    ("expression_error", "expression (mm)", "{:.2f}", False),
    ("gaze_error", "gaze (half eye widths)", "{:.3f}", False),
    ("pose_error", "pose (deg)", "{:.2f}", False),
    ("flicker", "flicker", "{:.4f}", False),
    ("face_found", "face found", "{:.0%}", False),
)
"""The Markdown table's columns."""
IMAGE_KEYS = {key for key, _, _, needs_truth in COLUMNS if needs_truth}


class ComparisonVideo:
    """Side-by-side review video, one labelled panel per method (real | model | nearest | warp), H.264.

    Written atomically (`VideoWriter`): leaving the `with` block by an exception
    drops the partial file.
    """

    def __init__(self, path: str | Path, fps: float, labels: list[str], height: int = 256) -> None:
        self.labels = labels
        self.height = height
        self._writer = VideoWriter(path, fps, height * len(labels), height, metadata={"comment": "reenact eval"})

    def write(self, panels: list[np.ndarray]) -> None:
        """One frame: uint8 square panels, one per label."""
        if len(panels) != len(self.labels):
            raise ValueError(f"expected {len(self.labels)} panels ({', '.join(self.labels)}), got {len(panels)}")
        self._writer.write(side_by_side(panels, self.height, self.labels))

    def close(self) -> None:
        self._writer.close()

    def abort(self) -> None:
        self._writer.abort()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._writer.__exit__(*exc)


def _json_value(value: float) -> float | str | None:
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _json_array(values: np.ndarray) -> list:
    return [_json_value(float(v)) for v in values]


def per_frame(scores: MethodScores, key: str) -> np.ndarray:
    """One method's per-frame array of a score (an image metric, a fidelity error or flicker)."""
    if key in scores.images:
        return scores.images[key]
    if key == "flicker":
        return scores.flicker
    return getattr(scores.fidelity, key)


def metrics_dict(result: EvalResult) -> dict:
    """metrics.json's content: what was evaluated, the summary per method, and every per-frame array."""
    per_frame_scores = {}
    for name, scores in result.methods.items():
        keys = [*scores.images, *ERRORS, "flicker"]
        per_frame_scores[name] = {key: _json_array(per_frame(scores, key)) for key in keys}
        per_frame_scores[name]["face_found"] = scores.fidelity.found.tolist()
    return {
        "mode": result.mode,
        "description": result.description,
        "summary": {name: {k: _json_value(v) for k, v in row.items()} for name, row in result.summary().items()},
        "frames": result.frames.tolist(),
        "nearest_frame": result.nearest.tolist(),
        "nearest_distance_px": _json_array(result.nearest_distance),
        "per_frame": per_frame_scores,
    }


def markdown_table(result: EvalResult) -> str:
    """The summary as a Markdown table: one row per method, the columns that apply to the mode."""
    columns = [c for c in COLUMNS if result.mode == "self" or not c[3]]
    lines = [
        "| method | " + " | ".join(header for _, header, _, _ in columns) + " |",
        "| --- |" + " ---: |" * len(columns),
    ]
    for name, row in result.summary().items():
        cells = []
        for key, _, fmt, _ in columns:
            value = row.get(key, float("nan"))
            cells.append("—" if math.isnan(value) else "inf" if math.isinf(value) else fmt.format(value))
        lines.append(f"| {ROW_NAMES.get(name, name)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_report(result: EvalResult) -> str:
    """report.md: what was evaluated, the table, and what the columns mean."""
    title = "Self-reenactment" if result.mode == "self" else "Cross-reenactment"
    reference = "real frames do" if result.mode == "self" else "driving video's crops do"
    facts = "\n".join(f"- {key}: {value}" for key, value in result.description.items())
    notes = [
        "Scores are means over the frames where they were measured, in the model's aligned crop.",
        (
            "Landmarks, expression, gaze and pose: the frames re-tracked and compared with the parameters that "
            "conditioned them (landmark error in % of the inter-ocular distance; expression as RMS per-vertex "
            "distance in canonical space; pose as the angle between the head rotations)."
        ),
        (
            f"Flicker: per pixel, how much more consecutive frames change than the {reference} (mean absolute "
            "difference, 1 = full scale; 0 = no excess)."
        ),
        (
            "Baselines: the training frame nearest to the wanted face (crop positions of the mesh and irises), "
            "and that frame warped piecewise-affinely onto the wanted face."
        ),
    ]
    if result.mode == "self":
        notes.append("Real frames: the real crops re-tracked, the floor of the fidelity scores.")
    return (f"# {title}\n\n{facts}\n\n{markdown_table(result)}\n\n" + "\n".join(f"- {n}" for n in notes)
            + f"\n\nPer-frame scores: `{METRICS_JSON}`, `{METRICS_PNG}`.\n")


def plot_metrics(result: EvalResult, path: Path) -> None:
    """Per-frame curves of each method (PSNR, SSIM in self-reenactment; landmark error, pose error, flicker)
    as a PNG, written atomically (matplotlib's Agg canvas; no display needed)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = [("landmark_error", "landmarks (% IOD)"), ("pose_error", "pose error (deg)"), ("flicker", "flicker")]
    if result.mode == "self":
        panels = [("psnr", "PSNR crop (dB)"), ("ssim", "SSIM crop")] + panels
    figure = Figure(figsize=(10, 2.2 * len(panels)), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (key, label) in zip(axes, panels):
        for name, scores in result.methods.items():
            if key in IMAGE_KEYS and key not in scores.images:
                continue
            values = per_frame(scores, key)
            if np.isnan(values).all():
                continue
            ax.plot(result.frames, values, label=ROW_NAMES.get(name, name), linewidth=1)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="upper right", fontsize="small", ncol=4)
    axes[-1].set_xlabel("frame")
    tmp = path.with_name(f".{path.stem}.tmp.png")
    figure.savefig(tmp, dpi=100, format="png")
    os.replace(tmp, path)


def write_report(result: EvalResult, folder: str | Path) -> dict[str, Path]:
    """Write metrics.json, report.md and metrics.png into `folder` (created if needed); returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / name for name in (METRICS_JSON, REPORT_MD, METRICS_PNG)}
    write_atomic(paths[METRICS_JSON], json.dumps(metrics_dict(result), indent=1, allow_nan=False).encode())
    write_atomic(paths[REPORT_MD], markdown_report(result).encode())
    plot_metrics(result, paths[METRICS_PNG])
    return paths
