"""Deterministic, small generated data for tests (no download, no ../shared).

`make_kaggle_tree` writes a `Train|Validation|Test / Real|Fake` folder whose classes a
tiny CNN separates in a few epochs: "Real" images are smooth colour fields with soft
blobs; "Fake" images carry a sharp blended patch with a colour mismatch, the kind of
boundary artefact blending leaves.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

SPLITS = ("Train", "Validation", "Test")


def real_image(rng: np.random.Generator, size: int) -> np.ndarray:
    base = rng.uniform(60, 200, size=3)
    yy, xx = np.mgrid[0:size, 0:size] / size
    img = np.empty((size, size, 3), np.float32)
    for c in range(3):
        img[..., c] = base[c] + 40 * np.sin(2 * np.pi * (xx * rng.uniform(0.5, 1.5) + yy * rng.uniform(0.5, 1.5)) + rng.uniform(0, 6))
    for _ in range(3):
        cx, cy = rng.uniform(0.2, 0.8, 2) * size
        r = rng.uniform(0.08, 0.2) * size
        blob = np.exp(-(((xx * size - cx) ** 2 + (yy * size - cy) ** 2) / (2 * r * r)))
        img += blob[..., None] * rng.uniform(-40, 40, 3)
    img = cv2.GaussianBlur(img, (0, 0), 1.5)
    return np.clip(img, 0, 255).astype(np.uint8)


def fake_image(rng: np.random.Generator, size: int) -> np.ndarray:
    img = real_image(rng, size).astype(np.float32)
    s = int(size * rng.uniform(0.35, 0.55))
    x0, y0 = rng.integers(0, size - s, 2)
    patch = rng.uniform(0, 255, (s // 4 + 1, s // 4 + 1, 3)).astype(np.float32)
    patch = cv2.resize(patch, (s, s), interpolation=cv2.INTER_NEAREST)
    img[y0:y0 + s, x0:x0 + s] = 0.5 * img[y0:y0 + s, x0:x0 + s] + 0.5 * patch
    return np.clip(img, 0, 255).astype(np.uint8)


def make_kaggle_tree(root: Path, n_per_class: int = 12, size: int = 48, seed: int = 0,
                     splits=SPLITS, ext: str = ".png") -> Path:
    """Write n_per_class RGB images per class per split; returns root."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    for split in splits:
        for label, make in (("Real", real_image), ("Fake", fake_image)):
            d = root / split / label
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n_per_class):
                rgb = make(rng, size)
                cv2.imwrite(str(d / f"{label.lower()}_{i:03d}{ext}"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return root


def load_split(root: Path, split: str, size: int):
    """(RGB uint8 images at `size`, labels with 0 = Fake, 1 = Real) of one split."""
    from deepfake_edge.runtime.preprocess import resize_crop

    images, labels = [], []
    for label_index, label in enumerate(("Fake", "Real")):
        for p in sorted((Path(root) / split / label).iterdir()):
            bgr = cv2.imread(str(p))
            images.append(resize_crop(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), size))
            labels.append(label_index)
    return np.stack(images), np.asarray(labels)
