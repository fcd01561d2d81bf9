"""Why this verdict: occlusion sensitivity of the fake probability over a face crop.

Each cell of a grid over the crop is covered in turn with the crop's mean colour, and the
model scores every covered copy in ONE batch through the same backend and preprocessing
as the verdict itself. A cell's heat is how much covering it lowers the fake probability:
the regions whose evidence drove the score toward Fake light up. Occlusion is chosen over
Grad-CAM because it needs nothing but `Backend.predict`, so it explains exactly the
artifact being deployed (ONNX, INT8, LiteRT, TensorRT), not a Keras copy of it, and it
costs one batched call: a 7x7 grid of half-overlapping patches is 50 crops, about 80 ms
per face for the edge model on the 2-core CPU while another job shared it (200 times one
classification; `benchmarks/results/explain_cost.md`): fine on request, too slow for the
live stream, where it is not offered.

    >>> heat = occlusion_map(backend, crop_rgb)           # (H, W) float32, 0 where nothing mattered
    >>> overlay = heatmap_overlay(crop_rgb, heat)         # RGB uint8 picture of it
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from deepfake_edge.runtime.preprocess import fake_probability, preprocess_batch


@dataclass(frozen=True)
class OcclusionGrid:
    """Patch side and stride as fractions of the crop side (default: 7x7 half-overlapping patches)."""

    patch: float = 0.25
    stride: float = 0.125


def occlusion_map(backend, crop_rgb: np.ndarray, grid: OcclusionGrid = OcclusionGrid()) -> np.ndarray:
    """(H, W) float32: drop in fake probability when each region of `crop_rgb` is covered (>= 0)."""
    crop = np.ascontiguousarray(crop_rgb)
    h, w = crop.shape[:2]
    ph, pw = max(1, int(round(grid.patch * h))), max(1, int(round(grid.patch * w)))
    sh, sw = max(1, int(round(grid.stride * h))), max(1, int(round(grid.stride * w)))
    fill = crop.reshape(-1, 3).mean(0).astype(crop.dtype)
    boxes = [(y, x) for y in range(0, max(1, h - ph) + 1, sh) for x in range(0, max(1, w - pw) + 1, sw)]
    covered = []
    for y, x in boxes:
        c = crop.copy()
        c[y:y + ph, x:x + pw] = fill
        covered.append(c)
    contract = backend.contract
    probs = backend.predict(preprocess_batch([crop] + covered, contract))
    p = fake_probability(probs, contract)
    drop = np.clip(p[0] - p[1:], 0.0, None)
    heat = np.zeros((h, w), np.float64)
    count = np.zeros((h, w), np.float64)
    for (y, x), d in zip(boxes, drop):
        heat[y:y + ph, x:x + pw] += d
        count[y:y + ph, x:x + pw] += 1
    return (heat / np.maximum(count, 1)).astype(np.float32)


def heatmap_overlay(crop_rgb: np.ndarray, heat: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """The crop beside the crop with the heat map blended over it (RGB uint8, twice as wide)."""
    import cv2

    scale = float(heat.max())
    norm = (heat / scale) if scale > 0 else np.zeros_like(heat)
    colour = cv2.applyColorMap((norm * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
    blended = (crop_rgb.astype(np.float32) * (1 - alpha * norm[..., None]) +
               colour.astype(np.float32) * alpha * norm[..., None])
    return np.concatenate([crop_rgb, np.clip(blended, 0, 255).astype(np.uint8)], axis=1)


def explain_faces(backend, rgb: np.ndarray, result, grid: OcclusionGrid = OcclusionGrid()) -> list[np.ndarray]:
    """One overlay per face of a `DetectionResult` (its crop region, as the verdict saw it)."""
    from deepfake_edge.runtime.faces import cut

    out = []
    for face in result.faces:
        crop = cut(rgb, face.crop_box)
        out.append(heatmap_overlay(crop, occlusion_map(backend, crop, grid)))
    return out
