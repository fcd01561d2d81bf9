"""Source groups: which training images come from the same source video.

Face-swap datasets are made by editing real videos, so a fake usually has a real twin:
the same person, pose, light and background, differing only where the face was swapped
(dfdc-faces ships this as `groups.csv`). Training on twins side by side, in the same
batch and with the SAME augmentation, leaves the network one thing to learn that tells
them apart: the manipulation, not who is in the picture or how the clip was shot.

A groups file is a CSV with a header and at least the columns

    file                 image file name (or a path relative to the data folder)
    source | source_video  any id shared by the images made from one source

and optionally `split` and `label`, which disambiguate equal file names in different
folders (dfdc-faces: `split,label,file,source_video`). Rows for other splits and for
files not in the training list are ignored; training files with no row form a group of
their own.

`sample_whole_groups` draws a capped training subset source by source, so a fake keeps
its real twin when only part of a dataset is used (`--max-per-class` with a groups file).

`group_members` turns the group ids into one row of image indices per source;
`train.data.make_dataset` shuffles the rows each epoch and streams each row's images
together, under one augmentation seed.
"""
from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np

from deepfake_edge.runtime.errors import InputError

log = logging.getLogger(__name__)

GROUPS_FILENAME = "groups.csv"
SOURCE_COLUMNS = ("source", "source_video")


def default_groups_file(data_dir: str | Path) -> Path | None:
    """`<data>/groups.csv` when the dataset ships one, else None."""
    path = Path(data_dir) / GROUPS_FILENAME
    return path if path.is_file() else None


def resolve_groups_file(setting: str | None, data_dir: str | Path) -> Path | None:
    """The groups file a run uses: "auto" (or None) looks for `<data>/groups.csv`, "none"
    turns grouping off, anything else is a path that must exist."""
    if setting in (None, "", "auto"):
        return default_groups_file(data_dir)
    if setting == "none":
        return None
    path = Path(setting)
    if not path.is_file():
        raise InputError(f"{path}: groups file not found (use --groups auto or --groups none)")
    return path


def read_groups(groups_file: str | Path, paths: list[Path], split: str = "Train") -> np.ndarray:
    """One group id per path (int64); paths without a row get a group of their own.

    Raises InputError (one line, naming the file) for an unreadable CSV, missing columns,
    or a file name that matches several training images when `split`/`label` columns
    are absent.
    """
    groups_file = Path(groups_file)
    rows, source_col = _read_rows(groups_file)
    by_key: dict[tuple, list[int]] = {}
    for i, p in enumerate(paths):
        p = Path(p)
        for key in _keys(p):
            by_key.setdefault(key, []).append(i)
    source_ids: dict[str, int] = {}
    group = np.full(len(paths), -1, np.int64)
    matched = 0
    for line, row in rows:
        if row.get("split") and row["split"].strip().lower() != split.lower():
            continue
        name = (row.get("file") or "").strip()
        if not name:
            continue
        label = (row.get("label") or "").strip().lower()
        key = ("file", Path(name).name.lower(), label) if label else ("name", Path(name).name.lower())
        hits = by_key.get(key, [])
        if len(Path(name).parts) > 1:  # a relative path narrows the match to that folder
            hits = [i for i in hits if Path(paths[i]).as_posix().lower().endswith(Path(name).as_posix().lower())]
        if len(hits) > 1:
            raise InputError(f"{groups_file}: line {line}: file {name!r} matches {len(hits)} {split} images; "
                             "add split and label columns (or relative paths) to tell them apart")
        if not hits:
            continue
        source = row[source_col].strip()
        group[hits[0]] = source_ids.setdefault(source, len(source_ids))
        matched += 1
    singles = np.flatnonzero(group < 0)
    group[singles] = len(source_ids) + np.arange(len(singles))
    sizes = np.bincount(group)
    log.info("%s: %d of %d %s images in %d source groups (%d groups of 2 or more)", groups_file, matched,
             len(paths), split, len(source_ids), int((sizes >= 2).sum()))
    return group


def _keys(path: Path) -> list[tuple]:
    """Lookup keys of one listed image: by name, and by name within its class folder."""
    name = path.name.lower()
    return [("name", name), ("file", name, path.parent.name.lower())]


def _read_rows(groups_file: Path) -> tuple[list[tuple[int, dict]], str]:
    try:
        with groups_file.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            fieldnames = [c.strip().lower() for c in (reader.fieldnames or [])]
            reader.fieldnames = fieldnames
            rows = [(n + 2, row) for n, row in enumerate(reader)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"{groups_file}: cannot read the groups file ({type(e).__name__}: {e})") from None
    source_col = next((c for c in SOURCE_COLUMNS if c in fieldnames), None)
    if "file" not in fieldnames or source_col is None:
        raise InputError(f"{groups_file}: a groups file needs a header with 'file' and 'source' (or "
                         f"'source_video') columns; found {', '.join(fieldnames) or 'none'}")
    return rows, source_col


def group_members(group: np.ndarray) -> np.ndarray:
    """(sources, largest group) int64 matrix of image indices per source, padded with -1.

    The training stream shuffles its rows every epoch and emits each row's images
    together, under one augmentation seed.
    """
    group = np.asarray(group, np.int64)
    if group.size == 0:
        return np.zeros((0, 1), np.int64)
    members = np.argsort(group, kind="stable")
    _, starts, sizes = np.unique(group[members], return_index=True, return_counts=True)
    out = np.full((len(starts), int(sizes.max())), -1, np.int64)
    for row, (start, size) in enumerate(zip(starts, sizes)):
        out[row, :size] = members[start:start + size]
    return out


def sample_whole_groups(group: np.ndarray, labels: np.ndarray, max_per_class: int, seed: int) -> np.ndarray:
    """Sorted indices of a seeded random subset taken whole source by source.

    Sources are visited in a random order (numpy Generator seeded with `seed`) and kept
    whole while no class would exceed `max_per_class`; the result has at most
    `max_per_class` images per class and, where the sources allow, exactly that many. A
    per-file sample of a twin dataset keeps about (cap / class size) of the twins; this
    keeps every twin, so a subset trains like a smaller copy of the full set.
    """
    group = np.asarray(group, np.int64)
    labels = np.asarray(labels, np.int64)
    members = group_members(group)
    n_classes = int(labels.max()) + 1 if labels.size else 0
    counts = np.zeros(n_classes, np.int64)
    keep: list[int] = []
    for row in members[np.random.default_rng(seed).permutation(len(members))]:
        idx = row[row >= 0]
        add = np.bincount(labels[idx], minlength=n_classes)
        if np.all(counts + add <= max_per_class):
            counts += add
            keep.extend(idx.tolist())
            if np.all(counts >= max_per_class):
                break
    return np.sort(np.asarray(keep, np.int64))
