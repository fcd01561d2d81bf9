"""Seeded numpy/OpenCV augmentations on RGB uint8 face crops at the model's input size.

Two kinds:

- *training jitter* (`augment`): horizontal flip, small rotation and zoom, colour jitter,
  optionally an erased rectangle (cutout), and — with some probability — one real-world
  corruption;
- *corruption families* (`CORRUPTIONS`): the damage real deepfakes arrive with (JPEG
  re-compression, blur, noise, downscale-upscale, colour shifts, grayscale), each a
  function `fn(img, severity, rng)` with severity 1 (mild) .. 5 (strong). Training samples
  from this table, and `train.evaluate`'s robustness report sweeps it, so both speak of
  the same corruptions.

Every function takes and returns RGB uint8 (H, W, 3) and draws randomness only from the
`numpy.random.Generator` it is given, so a seed reproduces an augmentation exactly.
"""
from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

SEVERITIES = (1, 2, 3, 4, 5)

# Per-severity parameters, index 0 = severity 1. Chosen so severity 1 is barely visible
# and 5 is what a heavily re-shared clip looks like.
_JPEG_QUALITY = (80, 60, 40, 25, 12)
_BLUR_SIGMA = (0.5, 0.9, 1.4, 2.0, 3.0)
_NOISE_STD = (4.0, 8.0, 13.0, 20.0, 30.0)
_DOWNSCALE = (0.8, 0.6, 0.45, 0.33, 0.25)
_COLOR_SHIFT = (8.0, 16.0, 26.0, 38.0, 52.0)
_GRAY_MIX = (0.3, 0.5, 0.7, 0.85, 1.0)


def _check_severity(severity: int) -> int:
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
    return severity - 1


def jpeg(img: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Re-encode as JPEG at a quality that falls with severity (+-3 jitter)."""
    q = int(np.clip(_JPEG_QUALITY[_check_severity(severity)] + rng.integers(-3, 4), 5, 95))
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, q])
    if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 image
        return img
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def gaussian_blur(img: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    sigma = _BLUR_SIGMA[_check_severity(severity)] * rng.uniform(0.9, 1.1)
    return cv2.GaussianBlur(img, (0, 0), sigmaX=sigma)


def gaussian_noise(img: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    std = _NOISE_STD[_check_severity(severity)]
    noisy = img.astype(np.float32) + rng.normal(0.0, std, img.shape).astype(np.float32)
    return np.clip(noisy + 0.5, 0, 255).astype(np.uint8)


def downscale_upscale(img: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Shrink then enlarge back: the softness of a low-resolution upload."""
    h, w = img.shape[:2]
    f = _DOWNSCALE[_check_severity(severity)]
    small = cv2.resize(img, (max(2, round(w * f)), max(2, round(h * f))), interpolation=cv2.INTER_AREA)
    interp = (cv2.INTER_LINEAR, cv2.INTER_CUBIC)[int(rng.integers(0, 2))]
    return cv2.resize(small, (w, h), interpolation=interp)


def color_shift(img: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Add a random per-channel offset (white-balance / colour-grading error)."""
    amount = _COLOR_SHIFT[_check_severity(severity)]
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction) + 1e-8
    shifted = img.astype(np.float32) + direction.astype(np.float32) * amount
    return np.clip(shifted + 0.5, 0, 255).astype(np.uint8)


def grayscale(img: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Blend towards the grey image; severity 5 is fully grey."""
    mix = _GRAY_MIX[_check_severity(severity)]
    gray = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    out = (1.0 - mix) * img.astype(np.float32) + mix * gray.astype(np.float32)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


Corruption = Callable[[np.ndarray, int, np.random.Generator], np.ndarray]

# THE table of corruption families: training samples it, the robustness report sweeps it.
CORRUPTIONS: dict[str, Corruption] = {
    "jpeg": jpeg,
    "blur": gaussian_blur,
    "noise": gaussian_noise,
    "downscale": downscale_upscale,
    "color_shift": color_shift,
    "grayscale": grayscale,
}


def corrupt(img: np.ndarray, name: str, severity: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """Apply one named corruption; unknown names raise ValueError listing the table."""
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; choose one of: {', '.join(CORRUPTIONS)}")
    return CORRUPTIONS[name](img, severity, rng if rng is not None else np.random.default_rng(0))


# -- training jitter ---------------------------------------------------------------------

def flip_horizontal(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(img[:, ::-1])


def rotate_zoom(img: np.ndarray, angle_deg: float, zoom: float) -> np.ndarray:
    """Rotate about the centre and zoom in (zoom >= 1 keeps the face filling the crop)."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle_deg, zoom)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


# ITU-R BT.601 luma weights: the grey image saturation is measured against.
_LUMA = np.array([0.299, 0.587, 0.114])


def color_jitter(img: np.ndarray, brightness: float, contrast: float, saturation: float) -> np.ndarray:
    """Multiplicative brightness, contrast about the mean, saturation about the grey image.

    All three are linear in the pixel, so they compose into one 3x4 colour matrix that
    OpenCV applies in a single uint8 pass (saturating, rounded): 12x faster than float
    arithmetic at 192 px, which matters because every training image goes through it.
    """
    toward_grey = saturation * np.eye(3) + (1.0 - saturation) * np.outer(np.ones(3), _LUMA)
    mean = float(img.mean()) * brightness  # rows of toward_grey sum to 1: the mean is a fixed point
    matrix = np.hstack([contrast * brightness * toward_grey, np.full((3, 1), (1.0 - contrast) * mean)])
    return cv2.transform(img, matrix)


def cutout(img: np.ndarray, rng: np.random.Generator, max_area: float = 0.2) -> np.ndarray:
    """Paint one random rectangle (2%..max_area of the crop, aspect 1:3..3:1) in the crop's mean colour.

    Random erasing: a detector that may lose any part of the face cannot rest on one
    region's artefact (the DFDC winners erased face parts for the same reason). The mean
    colour adds no texture of its own, which noise would, and texture is what the model reads.
    Off in the edge recipe: at probability 0.5 it gave dfdc-faces Validation / Test AUC
    0.737 / 0.748 under the 10-minute CPU budget, no better than the recipe's runs on the
    same seed (0.733-0.755 / 0.754-0.765; benchmarks/results/quality.md, x22).
    """
    h, w = img.shape[:2]
    area = rng.uniform(0.02, max_area) * h * w
    aspect = float(np.exp(rng.uniform(np.log(1 / 3), np.log(3))))
    ch = int(min(h, max(1, round(np.sqrt(area * aspect)))))
    cw = int(min(w, max(1, round(np.sqrt(area / aspect)))))
    top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    out = img.copy()
    out[top:top + ch, left:left + cw] = np.round(img.reshape(-1, img.shape[2]).mean(axis=0)).astype(img.dtype)
    return out


def augment(img: np.ndarray, rng: np.random.Generator, *, max_angle: float = 10.0, max_zoom: float = 0.12,
            jitter: float = 0.2, corruption_prob: float = 0.35, max_severity: int = 4,
            cutout_prob: float = 0.0, cutout_max_area: float = 0.2) -> np.ndarray:
    """One random training view of an RGB uint8 crop (same shape back).

    Corruption severities are drawn from 1..max_severity: the strongest level is kept
    for the robustness report, to measure what training never saw. With `cutout_prob` 0
    no cutout is drawn, so the random stream (and every view) is the same as without it.
    """
    out = img
    if rng.random() < 0.5:
        out = flip_horizontal(out)
    angle = rng.uniform(-max_angle, max_angle)
    zoom = 1.0 + rng.uniform(0.0, max_zoom)
    out = rotate_zoom(out, angle, zoom)
    out = color_jitter(out, *(1.0 + rng.uniform(-jitter, jitter, 3)))
    if cutout_prob and rng.random() < cutout_prob:
        out = cutout(out, rng, cutout_max_area)
    if rng.random() < corruption_prob:
        names = list(CORRUPTIONS)
        name = names[int(rng.integers(0, len(names)))]
        out = CORRUPTIONS[name](out, int(rng.integers(1, max_severity + 1)), rng)
    return out
