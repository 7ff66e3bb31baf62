"""Side-by-side review frames: what the generator will be asked, next to the frames it comes from."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from reenact.render.conditioning import ConditionedFrame


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """float32 C x S x S in [-1, 1] (C = 1 or 3) to uint8 S x S x 3."""
    array = ((images.detach().cpu().float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    return np.repeat(array, 3, axis=2) if array.shape[2] == 1 else array


def conditioning_panels(frame: ConditionedFrame) -> list[np.ndarray]:
    """The current frame's correspondence, shading and eye-map images as uint8 S x S x 3 panels."""
    images = frame.images
    return [to_uint8(images[0:3]), to_uint8(images[3:4]), to_uint8(images[4:5])]


def fit_height(rgb: np.ndarray, height: int) -> np.ndarray:
    """Resize to `height` keeping the aspect ratio."""
    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (max(1, round(w * height / h)), height), interpolation=cv2.INTER_AREA)


def draw_window(rgb: np.ndarray, window: np.ndarray) -> np.ndarray:
    """A copy of a frame with the crop window (centre x, centre y, side) drawn as a square."""
    out = rgb.copy()
    if np.isfinite(window).all():
        cx, cy, side = window
        top_left = (round(cx - side / 2), round(cy - side / 2))
        bottom_right = (round(cx + side / 2), round(cy + side / 2))
        cv2.rectangle(out, top_left, bottom_right, (255, 200, 0), max(1, rgb.shape[0] // 240), cv2.LINE_AA)
    return out


def side_by_side(panels: list[np.ndarray], height: int, labels: list[str]) -> np.ndarray:
    """Panels resized to one height, labelled, joined left to right (width made even for H.264)."""
    resized = []
    for panel, label in zip(panels, labels):
        tile = fit_height(panel, height).copy()
        cv2.putText(tile, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(tile, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
        resized.append(tile)
    joined = np.concatenate(resized, axis=1)
    return joined[:, : joined.shape[1] - joined.shape[1] % 2]


OVERLAY_OPACITY = 0.6
"""Share of the correspondence image over the frame, inside the rendered face, in `conditioning_overlay`."""
EDIT_OUTLINE = (255, 64, 64)
"""RGB of the edit mask's outline in `conditioning_overlay`."""


def conditioning_overlay(rgb: np.ndarray, frame: ConditionedFrame) -> np.ndarray:
    """What the generator is asked, seen on the frame itself: the correspondence image placed back over the face
    (OVERLAY_OPACITY), the crop window, and the edit mask's outline when there is one (the pixels re-rendered).
    uint8 H x W x 3 RGB in and out; a frame without a face comes back with its crop window only."""
    out = draw_window(rgb, frame.window)
    if not frame.valid:
        return out
    # Only the crop window's box of the frame is touched (a 4K frame is mostly background).
    height, width = rgb.shape[:2]
    cx, cy, side = frame.window
    x0, y0 = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
    x1, y1 = min(width, int(np.ceil(cx + side / 2)) + 1), min(height, int(np.ceil(cy + side / 2)) + 1)
    if x1 <= x0 or y1 <= y0:
        return out
    box_to_crop = frame.matrix.copy()
    box_to_crop[:, 2] += frame.matrix[:, :2] @ [x0, y0]
    back = cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR

    def to_box(crop: np.ndarray) -> np.ndarray:
        return cv2.warpAffine(crop, box_to_crop, (x1 - x0, y1 - y0), flags=back, borderMode=cv2.BORDER_CONSTANT)

    face = to_box(frame.face_mask.cpu().numpy().astype(np.uint8) * 255)[..., None] * (OVERLAY_OPACITY / 255.0)
    colours = to_box(to_uint8(frame.images[0:3]))
    box = out[y0:y1, x0:x1]
    box[:] = np.round(box * (1 - face) + colours * face).astype(np.uint8)
    if frame.edit_mask is not None:
        mask = (to_box(frame.edit_mask.cpu().numpy().astype(np.uint8) * 255) > 127).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, EDIT_OUTLINE, max(1, height // 240), cv2.LINE_AA, offset=(x0, y0))
    return out
