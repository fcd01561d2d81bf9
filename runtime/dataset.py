"""The Kaggle folder layout, `Train|Validation|Test / Real|Fake`, found and listed once.

Folder names match case-insensitively. Class indices follow the contract: 0 = Fake,
1 = Real. Training, evaluation, export calibration, verify and the benchmarks all list
images through here, so they agree on what a split contains.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from deepfake_edge.runtime.contract import CLASS_NAMES, ModelContract
from deepfake_edge.runtime.errors import InputError
from deepfake_edge.runtime.images import is_image_file

SPLITS = ("Train", "Validation", "Test")


def _child_ci(parent: Path, name: str) -> Path | None:
    """`parent/name`, matching the name case-insensitively."""
    from deepfake_edge.runtime.io import is_folder, list_folder

    if not is_folder(parent):
        return None
    exact = parent / name
    if is_folder(exact):
        return exact
    for child in list_folder(parent):
        if is_folder(child) and child.name.lower() == name.lower():
            return child
    return None


def find_split(root: str | Path, split: str) -> Path:
    from deepfake_edge.runtime.io import check_folder

    root = check_folder(root, "data folder")
    found = _child_ci(root, split)
    if found is None:
        raise InputError(f"{root}: no '{split}' folder (expected the layout Train|Validation|Test / Real|Fake)")
    return found


def class_folder(split_dir: Path, class_name: str) -> Path:
    found = _child_ci(split_dir, class_name)
    if found is None:
        raise InputError(f"{split_dir}: no '{class_name}' class folder (expected Real and Fake)")
    return found


def list_split(root: str | Path, split: str, *, max_per_class: int | None = None,
               seed: int = 0) -> tuple[list[Path], np.ndarray]:
    """(image paths, labels) of one split; labels use the contract's order (0 = Fake).

    `max_per_class` takes a seeded random sample per class, so quick runs on a big
    dataset still see both classes evenly. An empty class folder is an error.
    """
    return _list_flat(find_split(root, split), max_per_class=max_per_class, seed=seed)


def list_labeled_folder(root: str | Path, split: str | None = None, *, one_class_ok: bool = False,
                        **kw) -> tuple[list[Path], np.ndarray]:
    """A split of the Kaggle layout, or any folder with Real/Fake subfolders (cross-dataset).

    `one_class_ok=True` (evaluation) also takes a folder, or split, holding only `Real/`
    or only `Fake/` (a set of known fakes, or of known reals): its images all get that label.
    """
    root = Path(root)
    base = _child_ci(root, split) if split else None
    if one_class_ok:
        folder = base if base is not None else root
        present = [name for name in CLASS_NAMES if _child_ci(folder, name) is not None]
        if len(present) == 1:
            return _list_flat(folder, classes=present, **kw)
    if base is not None:
        return list_split(root, split, **kw)
    if _child_ci(root, "Real") is not None and _child_ci(root, "Fake") is not None:
        return _list_flat(root, **kw)
    return list_split(root, split or "Test", **kw)


def _list_flat(root: Path, *, max_per_class: int | None = None, seed: int = 0, classes=CLASS_NAMES):
    paths: list[Path] = []
    labels: list[int] = []
    for index, name in enumerate(CLASS_NAMES):
        if name not in classes:
            continue
        folder = class_folder(root, name)
        files = class_images(folder)
        if not files:
            raise InputError(f"{folder}: class folder holds no images (.jpg, .jpeg, .png, .bmp, .webp)")
        if max_per_class and len(files) > max_per_class:
            rng = np.random.default_rng(seed + index)
            files = sorted(files[i] for i in rng.choice(len(files), max_per_class, replace=False))
        paths.extend(files)
        labels.extend([index] * len(files))
    return paths, np.asarray(labels, dtype=np.int64)


def class_images(folder: Path) -> list[Path]:
    """The images of one class folder, sorted; what else it holds is counted and named in the log.

    Only regular files with an image extension are listed (a FIFO named x.jpg is not read);
    an unreadable folder is one InputError naming it.
    """
    import logging

    from deepfake_edge.runtime.io import is_regular_file, list_folder

    images, other = [], []
    for p in list_folder(folder):
        if is_image_file(p) and is_regular_file(p):
            images.append(p)
        elif not p.is_dir():
            other.append(p.name)
    if other:
        logging.getLogger(__name__).warning(
            "%s: skipped %d entries that are not readable image files (%s%s)", folder, len(other),
            ", ".join(other[:5]), ", ..." if len(other) > 5 else "")
    return images


def load_preprocessed(paths: list[Path], contract: ModelContract, *, skip_bad: bool = True):
    """Read and preprocess image files (face crops) into one batch through the runtime path.

    Returns (batch, kept_indices, errors): unreadable files are skipped and reported, not fatal.
    """
    from deepfake_edge.runtime.images import read_rgb
    from deepfake_edge.runtime.preprocess import preprocess

    arrays, kept, errors = [], [], []
    for i, p in enumerate(paths):
        try:
            arrays.append(preprocess(read_rgb(p), contract))
            kept.append(i)
        except InputError as exc:
            if not skip_bad:
                raise
            errors.append(str(exc))
    size = contract.input_size
    batch = np.stack(arrays) if arrays else np.zeros((0, size, size, 3), np.float32)
    return batch, np.asarray(kept, dtype=np.int64), errors
