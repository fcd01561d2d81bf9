"""The ONE path from a face crop to the model's input tensor.

Training (`train.data`), export calibration and verification, the detector, the app
and the benchmarks all call these functions, so a model never sees pixels prepared
differently from the ones it was trained on. Crops arrive as RGB uint8 arrays (H, W, 3);
the contract says what the model wants (size, colour order, scale and offset).
"""
from __future__ import annotations

from typing import Iterable

import cv2
import numpy as np

from deepfake_edge.runtime.contract import ModelContract


def resize_crop(crop_rgb: np.ndarray, size: int) -> np.ndarray:
    """Resize an RGB uint8 crop to size x size: area averaging to shrink, bilinear to grow."""
    if crop_rgb.ndim != 3 or crop_rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB image of shape (H, W, 3), got {crop_rgb.shape}")
    h, w = crop_rgb.shape[:2]
    if (h, w) == (size, size):
        return np.ascontiguousarray(crop_rgb)
    shrinking = h * w > size * size
    interp = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(crop_rgb, (size, size), interpolation=interp)


def normalize(crop_rgb: np.ndarray, contract: ModelContract) -> np.ndarray:
    """Map an RGB uint8 crop already at the input size to the model's float32 input."""
    x = crop_rgb.astype(np.float32)
    if contract.color_order == "BGR":
        x = x[..., ::-1]
    n = contract.normalization
    return x * np.asarray(n.scale, np.float32) + np.asarray(n.offset, np.float32)


def preprocess(crop_rgb: np.ndarray, contract: ModelContract) -> np.ndarray:
    """One RGB uint8 crop of any size -> float32 (H, W, 3) model input."""
    return normalize(resize_crop(crop_rgb, contract.input_size), contract)


def preprocess_batch(crops_rgb: Iterable[np.ndarray], contract: ModelContract) -> np.ndarray:
    """Several crops -> one float32 (N, H, W, 3) batch, so all faces go in one call."""
    crops = list(crops_rgb)
    size = contract.input_size
    if not crops:
        return np.zeros((0, size, size, 3), np.float32)
    return np.stack([preprocess(c, contract) for c in crops]).astype(np.float32, copy=False)


def fake_probability(probs: np.ndarray, contract: ModelContract) -> np.ndarray:
    """Calibrated probability of "Fake" per row of softmax outputs.

    Temperature scaling works on log-probabilities (logits up to a constant), so it can
    be applied to any exported model's softmax output without changing the graph.
    """
    probs = np.asarray(probs, np.float64)
    if probs.ndim != 2 or probs.shape[1] != len(contract.class_names):
        raise ValueError(f"expected probabilities of shape (N, {len(contract.class_names)}), got {probs.shape}")
    return apply_temperature(probs, contract.temperature)[:, contract.fake_index]


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T) per row: the calibration every consumer applies (T = 1 is a no-op)."""
    probs = np.asarray(probs, np.float64)
    if temperature == 1.0:
        return probs
    logits = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def labels_for(fake_probs: np.ndarray, threshold: float) -> list[str]:
    """"Fake" where the fake probability reaches `threshold` (the contract's `threshold`), else "Real"."""
    t = float(threshold)
    return ["Fake" if p >= t else "Real" for p in np.asarray(fake_probs)]
