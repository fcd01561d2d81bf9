"""Face detection (MediaPipe Tasks) and THE crop rule, shared by `prepare` and the runtime.

`crop_box` is the one function that turns a detector box into the square, margined,
border-respecting region a model sees; training data (`deepfake-edge prepare`) and every
runtime path (detector, video, app) call it, so training and runtime crops match.

The face-detector model file is resolved without network access:
explicit path -> env `DEEPFAKE_EDGE_FACE_MODEL` -> user cache (`$DEEPFAKE_EDGE_CACHE` or
`~/.cache/deepfake-edge/face_models`). The cache is filled either from a mediapipe<=0.10.21
wheel (`install_from_wheel`, offline) or, only when asked, by downloading MediaPipe's
published BlazeFace short-range model once (`download_face_model`).
"""
from __future__ import annotations

import contextlib
import importlib.abc
import logging
import os
import shutil
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from deepfake_edge.runtime.contract import CropRule
from deepfake_edge.runtime.errors import FaceModelError, InputError

log = logging.getLogger(__name__)

ENV_MODEL = "DEEPFAKE_EDGE_FACE_MODEL"
ENV_CACHE = "DEEPFAKE_EDGE_CACHE"
DETECTOR_KINDS = ("short_range", "full_range")
# File names in the user cache, per detector kind (as the mediapipe<=0.10.21 wheels name them).
MODEL_FILES = {
    "short_range": "face_detection_short_range.tflite",
    "full_range": "face_detection_full_range_sparse.tflite",
}
WHEEL_MEMBERS = {kind: f"mediapipe/modules/face_detection/{name}" for kind, name in MODEL_FILES.items()}
# The 468-point face mesh from the same wheels (training's landmark masks, `train.landmarks`).
LANDMARK_MODEL_FILE = "face_landmark.tflite"
LANDMARK_WHEEL_MEMBER = f"mediapipe/modules/face_landmark/{LANDMARK_MODEL_FILE}"
# MediaPipe's published Tasks model (Apache-2.0); same network as the short-range wheel file.
PUBLISHED_SHORT_RANGE_URL = (
    "https://storage.googleapis.com/mediapipe-models/face_detector/"
    "blaze_face_short_range/float16/latest/blaze_face_short_range.tflite"
)
DOWNLOADED_SHORT_RANGE = "blaze_face_short_range.tflite"


# --------------------------------------------------------------------------- geometry
@dataclass(frozen=True)
class FaceBox:
    """One detected face: (x, y, w, h) in pixels of the original image, and its score."""

    x: float
    y: float
    w: float
    h: float
    score: float = 1.0

    @property
    def xywh(self) -> tuple[int, int, int, int]:
        return (int(round(self.x)), int(round(self.y)), int(round(self.w)), int(round(self.h)))


def crop_box(box: FaceBox | Sequence[float], image_shape: Sequence[int], rule: CropRule) -> tuple[int, int, int, int]:
    """The crop region (x0, y0, x1, y1) of one face box, half-open, inside the image.

    The box grows by `rule.margin` x its larger side on every side; with `rule.square` the
    region is a square of that larger side centred on the box. It is shifted to lie inside
    the image when it fits, and clipped at the border when it is larger than the image.
    """
    x, y, w, h = (box.x, box.y, box.w, box.h) if isinstance(box, FaceBox) else tuple(float(v) for v in box[:4])
    img_h, img_w = int(image_shape[0]), int(image_shape[1])
    grow = rule.margin * max(w, h)
    if rule.square:
        side_w = side_h = max(w, h) + 2 * grow
    else:
        side_w, side_h = w + 2 * grow, h + 2 * grow
    cx, cy = x + w / 2.0, y + h / 2.0
    x0, x1 = _fit_interval(cx, side_w, img_w)
    y0, y1 = _fit_interval(cy, side_h, img_h)
    return x0, y0, x1, y1


def _fit_interval(center: float, length: float, limit: int) -> tuple[int, int]:
    """[start, end) of `length` around `center`, shifted into [0, limit), clipped if longer."""
    length = max(1, int(round(length)))
    if length >= limit:
        return 0, limit
    start = int(round(center - length / 2.0))
    start = min(max(start, 0), limit - length)
    return start, start + length


def crop_faces(image_rgb: np.ndarray, boxes: Iterable[FaceBox | Sequence[float]], rule: CropRule) -> list[np.ndarray]:
    """Crop every face with `crop_box`; the crops are views' copies at their native size."""
    return [cut(image_rgb, crop_box(box, image_rgb.shape, rule)) for box in boxes]


def cut(image_rgb: np.ndarray, region: Sequence[int]) -> np.ndarray:
    """The pixels of a `crop_box` region (x0, y0, x1, y1), as a contiguous copy."""
    x0, y0, x1, y1 = region
    return np.ascontiguousarray(image_rgb[y0:y1, x0:x1])


def clip_box(box: FaceBox, image_shape: Sequence[int]) -> FaceBox:
    """The part of a detector box inside the image (detectors may return boxes past the edge)."""
    img_h, img_w = int(image_shape[0]), int(image_shape[1])
    x0, y0 = max(0.0, box.x), max(0.0, box.y)
    x1, y1 = min(float(img_w), box.x + box.w), min(float(img_h), box.y + box.h)
    return FaceBox(x0, y0, max(0.0, x1 - x0), max(0.0, y1 - y0), box.score)


def keep_faces(boxes: Iterable[FaceBox], rule: CropRule) -> list[FaceBox]:
    """Faces that pass the rule's minimum confidence and minimum size, largest first."""
    kept = [b for b in boxes if b.score >= rule.min_confidence and min(b.w, b.h) >= rule.min_face_px]
    return sorted(kept, key=lambda b: b.w * b.h, reverse=True)


# --------------------------------------------------------------------------- model files
def cache_dir() -> Path:
    """Where face models live: `$DEEPFAKE_EDGE_CACHE/face_models` or `~/.cache/deepfake-edge/face_models`."""
    root = os.environ.get(ENV_CACHE) or str(Path.home() / ".cache" / "deepfake-edge")
    return Path(root).expanduser() / "face_models"


def _check_kind(kind: str) -> str:
    if kind not in DETECTOR_KINDS:
        raise InputError(f"unknown face detector {kind!r}; choose one of: {', '.join(DETECTOR_KINDS)}")
    return kind


def resolve_face_model(path: str | Path | None = None, kind: str = "short_range") -> Path:
    """Find the face-detector model file, offline; FaceModelError says how to provide one."""
    _check_kind(kind)
    if path:
        p = Path(path).expanduser()
        if not p.is_file():
            raise FaceModelError(f"{p}: face-detector model file not found")
        return p
    env = os.environ.get(ENV_MODEL)
    if env and kind == "short_range":
        p = Path(env).expanduser()
        if not p.is_file():
            raise FaceModelError(f"{p}: face-detector model file not found (from ${ENV_MODEL})")
        return p
    cache = cache_dir()
    candidates = [cache / MODEL_FILES[kind]]
    if kind == "short_range":
        candidates.append(cache / DOWNLOADED_SHORT_RANGE)
    for c in candidates:
        if c.is_file() and c.stat().st_size > 0:
            return c
    raise FaceModelError(
        f"no MediaPipe {kind} face-detector model in {cache}: run `deepfake-edge face-model --from-wheel "
        f"mediapipe-0.10.21-*.whl` (offline) or `deepfake-edge face-model --download`, "
        f"or pass --face-model PATH / set ${ENV_MODEL}"
    )


def install_from_wheel(wheel: str | Path, cache: str | Path | None = None) -> dict[str, Path]:
    """Extract the short- and full-range face models (and the face-mesh landmark model, keyed
    "landmarks", when the wheel ships it) from a mediapipe<=0.10.21 wheel into the cache."""
    wheel = Path(wheel)
    if not wheel.is_file():
        raise InputError(f"{wheel}: wheel file not found")
    dest = Path(cache) if cache else cache_dir()
    dest.mkdir(parents=True, exist_ok=True)
    installed: dict[str, Path] = {}
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = set(zf.namelist())
            members = {kind: (member, MODEL_FILES[kind]) for kind, member in WHEEL_MEMBERS.items()}
            members["landmarks"] = (LANDMARK_WHEEL_MEMBER, LANDMARK_MODEL_FILE)
            for kind, (member, filename) in members.items():
                if member not in names:
                    continue
                target = dest / filename
                tmp = target.with_suffix(".tmp")
                with zf.open(member) as src, open(tmp, "wb") as out:
                    shutil.copyfileobj(src, out)
                tmp.replace(target)
                installed[kind] = target
    except zipfile.BadZipFile:
        raise InputError(f"{wheel}: not a valid wheel (zip) file") from None
    if "short_range" not in installed:
        raise FaceModelError(f"{wheel}: holds no {WHEEL_MEMBERS['short_range']} (use a mediapipe<=0.10.21 wheel)")
    log.info("installed face models %s into %s", ", ".join(installed), dest)
    return installed


def download_face_model(cache: str | Path | None = None, url: str = PUBLISHED_SHORT_RANGE_URL) -> Path:
    """Download MediaPipe's published short-range model once into the cache (explicit opt-in only)."""
    import urllib.request

    dest = (Path(cache) if cache else cache_dir())
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / DOWNLOADED_SHORT_RANGE
    if target.is_file() and target.stat().st_size > 0:
        return target
    tmp = target.with_suffix(".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, open(tmp, "wb") as out:
            shutil.copyfileobj(resp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise FaceModelError(f"cannot download the face model from {url} ({exc}); "
                             "install it offline with `deepfake-edge face-model --from-wheel WHEEL`") from None
    tmp.replace(target)
    return target


# --------------------------------------------------------------------------- detector
class _BlockTensorFlow(importlib.abc.MetaPathFinder):
    """Makes `import tensorflow` fail while MediaPipe is imported.

    mediapipe.tasks tries `from tensorflow.tools.docs import doc_controls` (for its API
    docs only) and falls back to a no-op when TensorFlow is absent. Without this block,
    creating a face detector would pull all of TensorFlow (seconds, ~1 GB) into the
    TF-free ONNX / LiteRT path.
    """

    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def _import_vision():
    if "tensorflow" in sys.modules or "mediapipe.tasks.python.vision" in sys.modules:
        from mediapipe.tasks.python import vision
        return vision
    blocker = _BlockTensorFlow()
    sys.meta_path.insert(0, blocker)
    try:
        from mediapipe.tasks.python import vision
    finally:
        sys.meta_path.remove(blocker)
    return vision


class FaceDetector:
    """MediaPipe Tasks BlazeFace detector in IMAGE mode. Close it (or use `with`).

    `detect(image_rgb)` returns every face MediaPipe reports at or above the rule's
    minimum confidence that is at least `min_face_px` on its shorter side, largest
    first, boxes clipped to the image.
    """

    def __init__(self, model_path: str | Path | None = None, rule: CropRule | None = None, kind: str | None = None):
        self.rule = rule or CropRule()
        self.kind = _check_kind(kind or self.rule.detector)
        self.model_path = resolve_face_model(model_path, self.kind)
        vision = _import_vision()
        from mediapipe.tasks.python.core.base_options import BaseOptions

        options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_path=str(self.model_path)),
            running_mode=vision.RunningMode.IMAGE,
            min_detection_confidence=float(self.rule.min_confidence),
        )
        try:
            self._task = vision.FaceDetector.create_from_options(options)
        except Exception as exc:  # noqa: BLE001 - MediaPipe raises RuntimeError/ValueError with long text
            msg = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise FaceModelError(f"{self.model_path}: cannot load as a MediaPipe face detector ({msg})") from None

    def detect(self, image_rgb: np.ndarray) -> list[FaceBox]:
        import mediapipe as mp

        if self._task is None:
            raise RuntimeError("FaceDetector is closed")
        image_rgb = np.ascontiguousarray(image_rgb, dtype=np.uint8)
        result = self._task.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=image_rgb))
        boxes = []
        for d in result.detections:
            bb = d.bounding_box
            score = float(d.categories[0].score) if d.categories else 1.0
            boxes.append(clip_box(FaceBox(bb.origin_x, bb.origin_y, bb.width, bb.height, score), image_rgb.shape))
        return keep_faces(boxes, self.rule)

    def close(self) -> None:
        task, self._task = getattr(self, "_task", None), None
        if task is not None:
            with contextlib.suppress(Exception):
                task.close()

    def __enter__(self) -> "FaceDetector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):  # MediaPipe's own __del__ prints a TypeError at exit if never closed
        self.close()
