"""Read any image a user hands us into an RGB uint8 array, or fail with one clear line.

Handles what real folders contain: EXIF rotation, grayscale, RGBA (composited on
white), 16-bit, CMYK and palette images, and refuses decompression bombs and images
too small to hold a face. Used by training, export calibration, detection and the app.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from deepfake_edge.runtime.errors import InputError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
MAX_PIXELS = 50_000_000  # ~7000x7000: above this, refuse instead of exhausting memory
MIN_SIDE = 16
MAX_IMAGE_BYTES = 256 * 1024 * 1024  # an encoded image larger than this is refused before it is read


def is_image_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def read_rgb(source: str | Path | bytes, *, max_pixels: int = MAX_PIXELS, min_side: int = MIN_SIDE,
             name: str | None = None) -> np.ndarray:
    """Decode a file path or encoded bytes into an upright RGB uint8 (H, W, 3) array."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    label = name or (str(source) if not isinstance(source, bytes) else "<bytes>")
    if isinstance(source, (str, Path)):
        from deepfake_edge.runtime.io import read_bytes

        data = read_bytes(Path(source), "image", max_bytes=MAX_IMAGE_BYTES)
    else:
        data = source
    if len(data) == 0:
        raise InputError(f"{label}: empty file (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
            if w * h > max_pixels:
                raise InputError(f"{label}: image is {w}x{h} = {w * h:,} pixels, above the {max_pixels:,}-pixel limit")
            im.load()
            im = ImageOps.exif_transpose(im)
            rgb = _to_rgb(im)
    except InputError:
        raise
    except UnidentifiedImageError:
        raise InputError(f"{label}: not an image file (unrecognised format)") from None
    except Image.DecompressionBombError:
        raise InputError(f"{label}: image is too large (decompression bomb protection)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{label}: corrupt or truncated image ({str(exc).splitlines()[0][:120]})") from None
    if min(rgb.shape[:2]) < min_side:
        raise InputError(f"{label}: image is {rgb.shape[1]}x{rgb.shape[0]}, smaller than {min_side}px")
    return rgb


def _to_rgb(im) -> np.ndarray:
    """Any PIL mode -> RGB uint8, scaling 16-bit and compositing transparency on white."""
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if arr.max() > 255 else 255.0
        gray = np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if im.mode == "F":
        arr = np.asarray(im, dtype=np.float64)
        gray = np.clip(arr * (255.0 if arr.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    return np.asarray(im.convert("RGB"))


def as_rgb_array(image, *, color: str = "RGB", name: str = "image") -> np.ndarray:
    """Accept a path, encoded bytes, a PIL image or a numpy array; return RGB uint8 (H, W, 3).

    `color` says the channel order of a 3-channel numpy array ("RGB" or "BGR", as
    OpenCV gives). Grayscale and 4-channel arrays are converted.
    """
    if isinstance(image, (str, Path, bytes)):
        return read_rgb(image)
    if hasattr(image, "mode") and hasattr(image, "size"):  # PIL image
        from PIL import ImageOps

        return _to_rgb(ImageOps.exif_transpose(image))
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise InputError(f"{name}: expected an image array of shape (H, W[, 3|4]), got {arr.shape}")
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    if arr.dtype == np.uint16:
        arr = (arr / 257).astype(np.uint8)
    elif arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating) and arr.size and arr.max() <= 1.0:
            arr = arr * 255.0
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.shape[2] == 4:
        alpha = arr[..., 3:4].astype(np.float32) / 255.0
        arr = (arr[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
        if color == "BGR":
            arr = arr[..., ::-1]
    elif color == "BGR":
        arr = arr[..., ::-1]
    if min(arr.shape[:2]) < MIN_SIDE:
        raise InputError(f"{name}: image is {arr.shape[1]}x{arr.shape[0]}, smaller than {MIN_SIDE}px")
    return np.ascontiguousarray(arr)
