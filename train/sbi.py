"""Self-blended images from face landmarks, as the SBI method builds them.

Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images" (CVPR 2022): a real
face becomes a training fake by blending it with a slightly altered copy of itself inside
a face-shaped mask. What the detector must learn is exactly what a face swap leaves
behind, without any identity change: a blending boundary that follows the face, a colour
and frequency mismatch between the inner face and its surroundings, and a small
misalignment. Built here as in the paper's reference implementation:

- **mask**: the convex hull of the 468 face-mesh points (`train.landmarks`), sometimes
  shrunk toward its centre (the inner face, as the paper's hull variants), elastically
  deformed, then blurred twice with random kernels (with an erosion between: the
  boundary's width and softness vary), blended with a random ratio;
- **source** (the copy pasted in): a colour change (per-channel shift, hue / saturation /
  value, brightness / contrast) and a frequency change (downscale-and-back or sharpen),
  applied to the source or, half of the time, to the target instead; a random scale and
  translation (a few percent) of the source;
- optionally (`jpeg_prob`) the source is JPEG-compressed first, so the blended face has a
  compression history its surroundings lack (double JPEG).

`train.synth.self_blend` (the elliptical mask) remains for images where no face mesh is
found and for `--sbi-mask ellipse`.
"""
from __future__ import annotations

import cv2
import numpy as np

BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)  # the reference implementation's choices


def hull_mask(h: int, w: int, points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Filled convex hull of `points` (0..1 image coordinates), sometimes shrunk toward its centre."""
    xy = np.asarray(points, np.float32) * np.array([w, h], np.float32)
    if rng.random() < 0.5:
        centre = xy.mean(0)
        xy = centre + (xy - centre) * rng.uniform(0.7, 1.0, 2).astype(np.float32)
    hull = cv2.convexHull(xy.reshape(-1, 1, 2)).round().astype(np.int32)
    mask = np.zeros((h, w), np.float32)
    cv2.fillConvexPoly(mask, hull, 1.0)
    return mask


def elastic(mask: np.ndarray, rng: np.random.Generator, shift: float = 0.02, sigma: float = 0.03) -> np.ndarray:
    """Elastic deformation: a smooth random displacement field of up to `shift` of the side,
    smoothed over `sigma` of the side."""
    h, w = mask.shape
    side = float(max(h, w))
    field = [cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), max(1.0, sigma * side))
             for _ in range(2)]
    peak = max(float(np.abs(f).max()) for f in field) or 1.0
    amount = shift * side * rng.uniform(0.3, 1.0) / peak
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(mask, gx + field[0] * amount, gy + field[1] * amount, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def blend_mask(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Soft boundary: blur, keep the fully inside part (an erosion of random width), blur again."""
    h, w = mask.shape
    k = max(h, w) / 256.0  # the reference kernels are for ~256 px crops

    def odd(lo, hi):
        return int(round(rng.integers(lo, hi) * k)) // 2 * 2 + 1

    m = cv2.GaussianBlur(mask, (odd(5, 26), odd(5, 26)), 0)
    m = np.where(m >= max(float(m.max()), 1e-6) * 0.999, 1.0, 0.0).astype(np.float32)
    if not m.any():
        m = mask
    m = cv2.GaussianBlur(m, (odd(5, 26), odd(5, 26)), float(rng.integers(5, 46)) * k * 0.25)
    return m / max(float(m.max()), 1e-6)


def colour_change(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per-channel shift (up to 20 levels), saturation/value by up to 10%, brightness/contrast by
    up to 10% (the reference implementation's ranges; RGB uint8 in and out)."""
    x = img.astype(np.float32) + rng.uniform(-20, 20, 3).astype(np.float32)
    x = np.clip(x, 0, 255).astype(np.uint8)
    hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 1:] *= rng.uniform(0.9, 1.1, 2).astype(np.float32)
    x = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    x = (x - 127.5) * rng.uniform(0.9, 1.1) + 127.5 + rng.uniform(-0.1, 0.1) * 255
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


def frequency_change(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Downscale by 0.25-0.5 and back (lost detail), or sharpen (extra detail)."""
    h, w = img.shape[:2]
    if rng.random() < 0.5:
        s = rng.uniform(0.25, 0.5)
        small = cv2.resize(img, (max(1, int(w * s)), max(1, int(h * s))), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    blurred = cv2.GaussianBlur(img, (0, 0), 1.0).astype(np.float32)
    amount = rng.uniform(0.2, 0.5) * 2
    return np.clip(img.astype(np.float32) * (1 + amount) - blurred * amount, 0, 255).astype(np.uint8)


def shift_scale(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Translate by up to 3% and scale by 0.95..1/0.95 about the centre."""
    h, w = img.shape[:2]
    s = rng.uniform(0.95, 1 / 0.95)
    tx, ty = rng.uniform(-0.03, 0.03, 2) * (w, h)
    m = np.array([[s, 0, (1 - s) * w / 2 + tx], [0, s, (1 - s) * h / 2 + ty]], np.float32)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def jpeg(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    quality = int(rng.integers(40, 91))
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) if ok else img


def landmark_self_blend(img: np.ndarray, points: np.ndarray, rng: np.random.Generator,
                        jpeg_prob: float = 0.0) -> np.ndarray:
    """A self-blended fake of the face in `img` (RGB uint8), masked by its face-mesh `points` (0..1)."""
    h, w = img.shape[:2]
    source, target = img.copy(), img.copy()
    altered = colour_change(img, rng)
    if rng.random() < 0.5:
        altered = frequency_change(altered, rng)
    if rng.random() < 0.5:
        source = altered
    else:
        target = altered
    source = shift_scale(source, rng)
    if jpeg_prob and rng.random() < jpeg_prob:
        source = jpeg(source, rng)
    mask = blend_mask(elastic(hull_mask(h, w, points, rng), rng), rng)
    m = (mask * float(rng.choice(BLEND_RATIOS)))[..., None]
    out = target.astype(np.float32) * (1 - m) + source.astype(np.float32) * m
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
