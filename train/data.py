"""Streaming `tf.data` input pipeline over a Kaggle-layout folder.

Each element goes through exactly the runtime's preprocessing, so the model never trains
on pixels prepared differently from deployment:

    path -> runtime.images.read_rgb -> runtime.preprocess.resize_crop
         -> (Train only) train.augment.augment -> runtime.preprocess.normalize

Only the file LIST is held in memory (paths + labels), so 140k images stream fine.
Decoding runs in parallel (`num_parallel_calls=AUTOTUNE`) and batches are prefetched.
A corrupt or unreadable file never crashes a run: it is filtered out, counted, and
appended to `skipped_files.txt` in the run folder as soon as it is met.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepfake_edge.runtime.contract import ModelContract
from deepfake_edge.runtime.dataset import list_split
from deepfake_edge.runtime.errors import InputError
from deepfake_edge.runtime.images import read_rgb
from deepfake_edge.runtime.preprocess import normalize, resize_crop

log = logging.getLogger(__name__)

SKIPPED_FILENAME = "skipped_files.txt"


class SkipLog:
    """Thread-safe record of files the pipeline could not read (decoders run in parallel).

    Each file is logged once (not once per epoch) and, when `path` is given, appended to
    that file immediately so the record survives a crash.
    """

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        self.entries: dict[str, str] = {}
        if self.path is not None and self.path.is_file():  # a resumed run keeps its record
            for line in self.path.read_text().splitlines():
                file, _, reason = line.partition("\t")
                if file:
                    self.entries[file] = reason

    def add(self, file: str, reason: str) -> None:
        with self._lock:
            if file in self.entries:
                return
            self.entries[file] = reason
            log.warning("skipping unreadable file: %s", reason)
            if self.path is not None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a") as f:
                    f.write(f"{file}\t{reason}\n")

    def __len__(self) -> int:
        return len(self.entries)


@dataclass
class SplitData:
    """One split's file list and its `tf.data.Dataset` of (input batch, one-hot labels)."""

    split: str
    paths: list[Path]
    labels: np.ndarray
    dataset: object
    steps: int  # batches per pass over the split
    class_counts: dict = field(default_factory=dict)


def load_example(path: str, label: int, seed: int, contract: ModelContract, train: bool,
                 augment_options: dict | None = None) -> tuple[np.ndarray, bool, str]:
    """(model input, ok, error) for one file; never raises on a bad image."""
    size = contract.input_size
    try:
        crop = resize_crop(read_rgb(path), size)
    except (InputError, ValueError) as exc:
        return np.zeros((size, size, 3), np.float32), False, str(exc)
    if train:
        from deepfake_edge.train.augment import augment

        crop = augment(crop, np.random.default_rng(seed), **(augment_options or {}))
    return normalize(crop, contract).astype(np.float32), True, ""


def make_dataset(paths: list[Path], labels: np.ndarray, contract: ModelContract, *, batch_size: int,
                 train: bool, augment: bool = True, seed: int = 0, skip_log: SkipLog | None = None,
                 repeat: bool = False, augment_options: dict | None = None):
    """A batched, prefetched `tf.data.Dataset` yielding (float32 NHWC batch, one-hot labels).

    `train=True` shuffles (seeded, reshuffled every epoch) and augments (when `augment`);
    `repeat=True` makes it endless so Keras can show an ETA from the first epoch
    (`steps_per_epoch` then sets the epoch length).
    """
    import tensorflow as tf

    if len(paths) != len(labels):
        raise ValueError(f"{len(paths)} paths but {len(labels)} labels")
    if not paths:
        raise InputError("no images to build a dataset from")
    skip_log = skip_log if skip_log is not None else SkipLog()
    size = contract.input_size
    do_augment = bool(train and augment)

    def _load(path_bytes, label, elem_seed):
        path = path_bytes.decode("utf-8")
        x, ok, err = load_example(path, int(label), int(elem_seed), contract, do_augment, augment_options)
        if not ok:
            skip_log.add(path, err)
        return x, np.bool_(ok)

    def _tf_load(path, label, elem_seed):
        x, ok = tf.numpy_function(_load, [path, label, elem_seed], [tf.float32, tf.bool], stateful=False)
        x.set_shape((size, size, 3))
        ok.set_shape(())
        return x, label, ok

    ds = tf.data.Dataset.from_tensor_slices(([str(p) for p in paths], np.asarray(labels, np.int64)))
    if train:
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip((ds, seeds)).map(lambda pl, s: (pl[0], pl[1], s))
    # deterministic=True: the same seed gives the same batches (repeatable runs).
    ds = ds.map(_tf_load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.filter(lambda x, y, ok: ok)
    ds = ds.map(lambda x, y, ok: (x, tf.one_hot(y, len(contract.class_names))))
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def load_split(data_dir: str | Path, split: str, contract: ModelContract, *, batch_size: int, train: bool,
               augment: bool = True, max_per_class: int | None = None, seed: int = 0,
               skip_log: SkipLog | None = None, repeat: bool = False) -> SplitData:
    """List one split of a Kaggle-layout folder and wrap it in a streaming dataset.

    Raises InputError (one line) for a missing split or an empty/missing class folder.
    """
    paths, labels = list_split(data_dir, split, max_per_class=max_per_class, seed=seed)
    ds = make_dataset(paths, labels, contract, batch_size=batch_size, train=train, augment=augment,
                      seed=seed, skip_log=skip_log, repeat=repeat)
    counts = {name: int((labels == i).sum()) for i, name in enumerate(contract.class_names)}
    steps = max(1, -(-len(paths) // batch_size))
    log.info("%s: %d images (%s)", split, len(paths), ", ".join(f"{k} {v}" for k, v in counts.items()))
    return SplitData(split, paths, labels, ds, steps, counts)
