"""`Detector`: an image or frame -> faces -> one batch -> backend -> labelled results.

The one place where face detection, the crop rule, preprocessing and a model backend
meet. The CLI (`deepfake-edge detect`), video analysis, the webcam loop and the Gradio
app all call `Detector.detect`, so they report the same boxes and scores.

    with Detector.from_path("runs/demo") as det:
        result = det.detect("photo.jpg")
        for face in result.faces:
            print(face.box, face.label, face.fake_probability)
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable


from deepfake_edge.runtime.backends import Backend, BackendOptions, open_backend
from deepfake_edge.runtime.contract import ModelContract
from deepfake_edge.runtime.errors import InputError
from deepfake_edge.runtime.faces import FaceBox, FaceDetector, crop_box, cut
from deepfake_edge.runtime.images import as_rgb_array
from deepfake_edge.runtime.preprocess import fake_probability, labels_for, preprocess_batch

NO_FACE_MODES = ("skip", "whole")


@dataclass
class FaceResult:
    """One classified face. `box` is (x, y, w, h) of the detected face in original-image pixels."""

    box: tuple[int, int, int, int]
    fake_probability: float
    label: str
    face_score: float
    crop_box: tuple[int, int, int, int] | None = None  # (x0, y0, x1, y1) region fed to the model

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["box"] = list(self.box)
        d["crop_box"] = list(self.crop_box) if self.crop_box is not None else None
        return d


@dataclass
class DetectionResult:
    """Everything found in one image, with per-stage timings in milliseconds."""

    faces: list[FaceResult]
    timings: dict[str, float]
    image_size: tuple[int, int]  # (width, height)
    no_face: bool = False  # the face detector found nothing
    whole_image: bool = False  # ... and the whole image was classified instead

    def to_dict(self) -> dict[str, Any]:
        return {
            "faces": [f.to_dict() for f in self.faces],
            "timings": {k: round(float(v), 3) for k, v in self.timings.items()},
            "image_size": list(self.image_size),
            "no_face": self.no_face,
            "whole_image": self.whole_image,
        }


class Detector:
    """Face detector + crop rule + model backend, all driven by the model's contract."""

    def __init__(self, backend: Backend, face_detector: FaceDetector | Any, contract: ModelContract | None = None,
                 no_face: str = "skip"):
        if no_face not in NO_FACE_MODES:
            raise InputError(f"no_face must be one of {', '.join(NO_FACE_MODES)}, got {no_face!r}")
        self.backend = backend
        self.face_detector = face_detector
        self.contract = contract or backend.contract
        self.no_face = no_face

    @classmethod
    def from_path(cls, model: str | Path, options: BackendOptions | None = None, *,
                  face_model: str | Path | None = None, no_face: str = "skip",
                  detector_kind: str | None = None) -> "Detector":
        """Open a model file or run folder and a MediaPipe face detector using the model's crop rule."""
        if no_face not in NO_FACE_MODES:
            raise InputError(f"no_face must be one of {', '.join(NO_FACE_MODES)}, got {no_face!r}")
        backend = open_backend(model, options)
        try:
            faces = FaceDetector(face_model, rule=backend.contract.crop_rule, kind=detector_kind)
        except BaseException:
            backend.close()
            raise
        return cls(backend, faces, backend.contract, no_face=no_face)

    @property
    def backend_description(self) -> str:
        return self.backend.describe()

    # -- inference ------------------------------------------------------------------
    def detect(self, image: Any, *, color: str = "RGB") -> DetectionResult:
        """Classify every face of one image (path, bytes, PIL image or numpy array)."""
        return self.detect_batch([image], color=color)[0]

    def detect_batch(self, images: Iterable[Any], *, color: str = "RGB") -> list[DetectionResult]:
        """Several images: faces of ALL of them go through one backend call."""
        t_start = time.perf_counter()
        rgbs = [as_rgb_array(im, color=color, name=_name_of(im)) for im in images]
        per_image: list[tuple[list[FaceBox], bool, float]] = []
        for rgb in rgbs:
            t0 = time.perf_counter()
            boxes = list(self.face_detector.detect(rgb)) if self.face_detector is not None else []
            per_image.append((boxes, not boxes, (time.perf_counter() - t0) * 1000.0))

        t0 = time.perf_counter()
        rule = self.contract.crop_rule
        crops, regions, owners, face_boxes = [], [], [], []
        for index, (rgb, (boxes, empty, _)) in enumerate(zip(rgbs, per_image)):
            if empty and self.no_face == "whole":
                h, w = rgb.shape[:2]
                boxes_here = [FaceBox(0, 0, w, h, 0.0)]
                regions_here = [(0, 0, w, h)]
                crops_here = [rgb]
            else:
                boxes_here = boxes
                regions_here = [crop_box(b, rgb.shape, rule) for b in boxes]
                crops_here = [cut(rgb, r) for r in regions_here]  # one crop_box per face
            crops.extend(crops_here)
            regions.extend(regions_here)
            face_boxes.extend(boxes_here)
            owners.extend([index] * len(crops_here))
        batch = preprocess_batch(crops, self.contract)
        crop_ms = (time.perf_counter() - t0) * 1000.0

        t0 = time.perf_counter()
        probs = self.backend.predict(batch)  # an empty batch returns (0, 2) without calling the runtime
        infer_ms = (time.perf_counter() - t0) * 1000.0 if len(batch) else 0.0
        p_fake = fake_probability(probs, self.contract)
        labels = labels_for(p_fake, self.contract.threshold)
        total_ms = (time.perf_counter() - t_start) * 1000.0

        results = []
        n = max(1, len(rgbs))
        for index, (rgb, (boxes, empty, detect_ms)) in enumerate(zip(rgbs, per_image)):
            faces = [
                FaceResult(face_boxes[i].xywh, float(p_fake[i]), labels[i], float(face_boxes[i].score),
                           tuple(int(v) for v in regions[i]))
                for i in range(len(owners)) if owners[i] == index
            ]
            timings = {
                "detect_ms": detect_ms,
                "crop_ms": crop_ms / n,
                "infer_ms": infer_ms / n,
                "total_ms": total_ms / n,
            }
            h, w = rgb.shape[:2]
            results.append(DetectionResult(faces, timings, (w, h), no_face=empty,
                                           whole_image=empty and self.no_face == "whole"))
        return results

    # -- lifecycle --------------------------------------------------------------------
    def close(self) -> None:
        if self.face_detector is not None and hasattr(self.face_detector, "close"):
            self.face_detector.close()
        self.backend.close()

    def __enter__(self) -> "Detector":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _name_of(image: Any) -> str:
    if isinstance(image, (str, Path)):
        return str(image)
    return "image"
