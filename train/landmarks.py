"""Face landmarks for self-blended fakes: MediaPipe's 468-point face mesh through LiteRT, cached.

The model (`face_landmark.tflite`, Apache-2.0) ships in the same mediapipe 0.10.21 wheel
as the face detector; `deepfake-edge face-model --from-wheel` (run by `make setup`)
puts it in the user cache next to the detector. It takes a 192x192 RGB face crop in
[0, 1] and returns 468 (x, y, z) points in that crop's pixels plus a face-presence
logit. Training images are already face crops (the runtime's crop rule), so the whole
image is the model's input.

Landmarks of a training set are computed once and kept in
`~/.cache/deepfake-edge/landmarks/<digest>.npz`, the digest covering each file's path,
size and modification time, so a changed file is looked at again and a re-run (or a
resumed one) reads them in a second.

    >>> table = LandmarkTable.for_files(real_paths)   # computes what is not cached yet
    >>> table.get(path)                               # (468, 2) in 0..1 of the image, or None
"""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import cv2
import numpy as np

from deepfake_edge.runtime.errors import FaceModelError, InputError

log = logging.getLogger(__name__)

INPUT_SIZE = 192
POINTS = 468
# Face-presence logit below which the mesh is not trusted (the mask falls back to an ellipse).
# Training images are face crops by construction, and dark DFDC crops with a correct mesh
# score around -4 (checked by eye), so only clear non-faces are rejected.
MIN_FACE_LOGIT = -6.0


def resolve_landmark_model(path: str | Path | None = None) -> Path:
    from deepfake_edge.runtime.faces import LANDMARK_MODEL_FILE, cache_dir

    p = Path(path) if path else cache_dir() / LANDMARK_MODEL_FILE
    if not p.is_file():
        raise FaceModelError(f"no face-landmark model at {p}: run `deepfake-edge face-model --from-wheel "
                             "mediapipe-0.10.21-*.whl` (make setup does) to install it from the registry wheel")
    return p


class FaceLandmarker:
    """468 face-mesh points of a face crop: `points(rgb)` -> (468, 2) in 0..1, or None when no face."""

    def __init__(self, model_path: str | Path | None = None):
        from deepfake_edge.runtime.errors import require

        require("ai_edge_litert", package="ai-edge-litert", purpose="Face landmarks")
        from ai_edge_litert.interpreter import Interpreter

        self.path = resolve_landmark_model(model_path)
        try:
            self.interpreter = Interpreter(model_path=str(self.path), num_threads=1)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise FaceModelError(f"{self.path}: cannot load the face-landmark model ({str(exc).splitlines()[0]})") from None
        (inp,) = self.interpreter.get_input_details()
        if tuple(inp["shape"]) != (1, INPUT_SIZE, INPUT_SIZE, 3):
            raise FaceModelError(f"{self.path}: expected a 1x{INPUT_SIZE}x{INPUT_SIZE}x3 input, got {inp['shape']}")
        self._input = inp["index"]
        outputs = {int(np.prod(d["shape"])): d["index"] for d in self.interpreter.get_output_details()}
        if POINTS * 3 not in outputs or 1 not in outputs:
            raise FaceModelError(f"{self.path}: not the 468-point face-mesh model")
        self._mesh, self._flag = outputs[POINTS * 3], outputs[1]

    def points(self, image_rgb: np.ndarray) -> np.ndarray | None:
        x = cv2.resize(image_rgb, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        self.interpreter.set_tensor(self._input, x[None])
        self.interpreter.invoke()
        if float(self.interpreter.get_tensor(self._flag).ravel()[0]) < MIN_FACE_LOGIT:
            return None
        mesh = self.interpreter.get_tensor(self._mesh).reshape(POINTS, 3)[:, :2] / INPUT_SIZE
        return np.clip(mesh, 0.0, 1.0).astype(np.float32)


def _digest(paths: list[Path]) -> str:
    h = hashlib.sha1()
    for p in paths:
        st = os.stat(p)
        h.update(f"{Path(p).resolve()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def _key(path: str | Path) -> str:
    return os.path.realpath(path)


def cache_dir() -> Path:
    from deepfake_edge.runtime.faces import cache_dir as face_cache

    return face_cache().parent / "landmarks"


class LandmarkTable:
    """Landmarks per file (0..1 image coordinates); files without a trusted face map to None."""

    def __init__(self, points: dict[str, np.ndarray | None]):
        # Keyed by the real path: the cache is found by real paths (`_digest`), so a table
        # filled under one spelling (/work/main/../shared/x.jpg) must answer another
        # (/work/snap/../shared/x.jpg). Keyed by spelling, every lookup missed and every
        # self-blended fake silently fell back to the elliptical mask.
        self._points = {_key(f): v for f, v in points.items()}

    def get(self, path: str | Path) -> np.ndarray | None:
        return self._points.get(_key(path))

    def __len__(self) -> int:
        return sum(p is not None for p in self._points.values())

    @property
    def files(self) -> int:
        return len(self._points)

    @classmethod
    def for_files(cls, paths, model_path: str | Path | None = None, cache: Path | None = None) -> "LandmarkTable":
        """Landmarks of `paths`, from the cache or computed now (with a progress bar) and cached."""
        paths = [Path(p) for p in paths]
        target = (cache or cache_dir()) / f"{_digest(paths)}.npz"
        if target.is_file():
            try:
                with np.load(target, allow_pickle=False) as npz:
                    files, mesh, ok = list(npz["files"]), npz["mesh"], npz["ok"]
                if len(files) == len(paths):
                    log.info("face landmarks of %d images from %s", len(paths), target)
                    return cls({f: (m.astype(np.float32) if k else None) for f, m, k in zip(files, mesh, ok)})
            except (OSError, ValueError, KeyError):
                log.warning("%s: damaged landmark cache, computing again", target)
        table = cls._compute(paths, model_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        files = [_key(p) for p in paths]
        mesh = np.stack([table._points[f] if table._points[f] is not None else np.zeros((POINTS, 2), np.float32)
                         for f in files]).astype(np.float16)
        ok = np.array([table._points[f] is not None for f in files])
        from deepfake_edge.runtime.io import replace_atomically

        replace_atomically(target, lambda tmp: np.savez(tmp, files=np.array(files), mesh=mesh, ok=ok), suffix=".npz")
        return table

    @classmethod
    def _compute(cls, paths: list[Path], model_path) -> "LandmarkTable":
        from tqdm import tqdm

        from deepfake_edge.runtime.images import read_rgb

        landmarker = FaceLandmarker(model_path)
        points: dict[str, np.ndarray | None] = {}
        for p in tqdm(paths, desc="face landmarks", unit="img", mininterval=5, disable=len(paths) < 200):
            try:
                points[str(p)] = landmarker.points(read_rgb(p))
            except InputError:
                points[str(p)] = None  # unreadable: the data pipeline skips and reports it
        found = sum(v is not None for v in points.values())
        log.info("face landmarks: %d of %d images have a face mesh (the rest use the elliptical mask)",
                 found, len(paths))
        return cls(points)
