"""Raw photos and videos -> the Kaggle layout of face crops, with THE runtime crop rule.

`deepfake-edge prepare RAW_DIR OUT_DIR` reads `RAW_DIR/{Real,Fake}/...` (any depth) or a
Kaggle tree `RAW_DIR/{Train,Validation,Test}/{Real,Fake}/...`, finds faces with the same
MediaPipe detector and `crop_box` the runtime uses, and writes
`OUT_DIR/{Train,Validation,Test}/{Real,Fake}/<name>.png`. Without split folders, files are
assigned to splits by a hash of their relative path, so all frames of one video land in
the same split (no leakage) and reruns are stable. The crop rule is written to
`OUT_DIR/crop_rule.json`, skipped files and why to `OUT_DIR/prepare_report.json`.
Existing crops are kept, so an interrupted run resumes instead of starting over.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from deepfake_edge.runtime.contract import CropRule
from deepfake_edge.runtime.dataset import CLASS_NAMES, SPLITS, _child_ci
from deepfake_edge.runtime.errors import DeepfakeEdgeError, InputError
from deepfake_edge.runtime.faces import crop_faces
from deepfake_edge.runtime.images import is_image_file, read_rgb
from deepfake_edge.runtime.preprocess import resize_crop
from deepfake_edge.runtime.video import is_video_file, iter_frames

log = logging.getLogger(__name__)

CROP_RULE_FILE = "crop_rule.json"
REPORT_FILE = "prepare_report.json"


@dataclass
class PrepareReport:
    written: int = 0
    kept_existing: int = 0
    sources: int = 0
    skipped: list[dict] = field(default_factory=list)  # {"path", "reason"}
    per_split: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["skipped_count"] = len(self.skipped)
        return d


def split_for(relative: str, val_fraction: float, test_fraction: float) -> str:
    """Stable split of a source file from its relative path."""
    u = int(hashlib.sha1(relative.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    if u < test_fraction:
        return "Test"
    if u < test_fraction + val_fraction:
        return "Validation"
    return "Train"


def list_sources(raw_dir: str | Path, unlisted: list[dict] | None = None) -> list[tuple[Path, str, str | None]]:
    """(file, class name, split or None) of every image/video under a Real/Fake or Kaggle tree.

    What is not taken (other extensions, non-regular files, sub-folders that cannot be
    read) is appended to `unlisted` as `{"path", "reason"}`, so the report names it.
    """
    from deepfake_edge.runtime.io import scan_folder

    unlisted = unlisted if unlisted is not None else []
    raw = Path(raw_dir)
    if not raw.is_dir():
        raise InputError(f"{raw}: raw data folder not found")
    roots: list[tuple[Path, str | None]] = []
    for split in SPLITS:
        d = _child_ci(raw, split)
        if d is not None:
            roots.append((d, split))
    if not roots:
        roots = [(raw, None)]
    found = []
    for root, split in roots:
        for cls in CLASS_NAMES:
            d = _child_ci(root, cls)
            if d is None:
                continue
            files, notes = scan_folder(d, lambda p: is_image_file(p) or is_video_file(p))
            unlisted.extend(notes)
            found.extend((p, cls, split) for p in files)
    if not found:
        raise InputError(f"{raw}: no images or videos in Real/ or Fake/ subfolders "
                         "(expected RAW_DIR/Real, RAW_DIR/Fake, or Train|Validation|Test/Real|Fake)")
    return found


def prepare_dataset(raw_dir: str | Path, out_dir: str | Path, face_detector, rule: CropRule, *,
                    size: int | None = 256, every: int | None = None, fps: float | None = 1.0,
                    max_faces: int = 1, val_fraction: float = 0.15, test_fraction: float = 0.15,
                    progress: bool = True) -> PrepareReport:
    """Write face crops of every source into the Kaggle layout; return what was done and skipped."""
    raw, out = Path(raw_dir), Path(out_dir)
    unlisted: list[dict] = []
    sources = list_sources(raw, unlisted)
    out.mkdir(parents=True, exist_ok=True)
    (out / CROP_RULE_FILE).write_text(json.dumps(asdict(rule), indent=2, sort_keys=True) + "\n")
    report = PrepareReport(sources=len(sources))
    report.skipped.extend(unlisted)
    iterator = sources
    if progress:
        from tqdm import tqdm

        iterator = tqdm(sources, desc="prepare", unit="file")
    for path, cls, split in iterator:
        rel = path.relative_to(raw).as_posix()
        split = split or split_for(rel, val_fraction, test_fraction)
        dest = out / split / cls
        dest.mkdir(parents=True, exist_ok=True)
        stem = rel.replace("/", "__").rsplit(".", 1)[0]
        try:
            frames = _frames_of(path, every, fps)
            found_any = False
            for tag, rgb in frames:
                boxes = face_detector.detect(rgb)[:max_faces]
                for k, crop in enumerate(crop_faces(rgb, boxes, rule)):
                    found_any = True
                    target = dest / f"{stem}{tag}_face{k}.png"
                    if target.exists():
                        report.kept_existing += 1
                        continue
                    _write_png(target, resize_crop(crop, size) if size else crop)
                    report.written += 1
                    counts = report.per_split.setdefault(split, {})
                    counts[cls] = counts.get(cls, 0) + 1
            if not found_any:
                report.skipped.append({"path": str(path), "reason": "no face found"})
        except DeepfakeEdgeError as exc:
            report.skipped.append({"path": str(path), "reason": str(exc)})
        except Exception as exc:  # noqa: BLE001 - one file's surprise (a decoder error) never aborts the batch
            report.skipped.append({"path": str(path), "reason": f"{type(exc).__name__}: {str(exc).strip()[:160]}"})
    (out / REPORT_FILE).write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    log.info("prepare: %d crops written, %d kept, %d of %d sources skipped -> %s",
             report.written, report.kept_existing, len(report.skipped), report.sources, out)
    return report


def _frames_of(path: Path, every: int | None, fps: float | None):
    if is_video_file(path):
        if every is not None:
            fps = None
        for index, _, rgb in iter_frames(path, every=every, fps=fps):
            yield f"_f{index:06d}", rgb
    else:
        yield "", read_rgb(path)


def _write_png(path: Path, rgb: np.ndarray) -> None:
    import cv2

    ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise InputError(f"{path}: cannot encode the crop as PNG")
    from deepfake_edge.runtime.io import os_error_text, write_bytes_atomically

    try:  # through `<name>.partial`: a crash mid-write never leaves a file the dataset lists
        write_bytes_atomically(path, encoded.tobytes())
    except OSError as exc:
        raise InputError(f"{path}: cannot write the crop ({os_error_text(exc)})") from None
