"""Streaming `tf.data` input pipeline over a Kaggle-layout folder.

Each element goes through exactly the runtime's preprocessing, so the model never trains
on pixels prepared differently from deployment:

    path -> runtime.images.read_rgb -> (SBI fakes only) train.synth.self_blend
         -> runtime.preprocess.resize_crop -> (Train only) train.augment.augment
         -> runtime.preprocess.normalize

Self-blended fakes (`sbi_ratio`): Train can draw a share of its fakes on the fly from its
REAL images, each blended with a transformed copy of itself (`train.synth.self_blend`) and
labelled Fake. Reals, labelled fakes and SBI fakes are three endless, shuffled streams
mixed by `tf.data.Dataset.sample_from_datasets` with weights 1/2, (1 - r)/2 and r/2, so
classes stay balanced and r = 1 trains from real faces alone (no Fake folder needed).

Source groups (`groups`, from a CSV such as dfdc-faces' `groups.csv`, see `train.groups`):
Train then streams each source's images next to each other, with one augmentation seed
per source, so a fake and the real it was made from share a batch and its jitter.

Only the file LIST is held in memory (paths + labels), so 140k images stream fine; a
`train.cache.CropCache` keeps as many decoded crops as its memory budget allows, so
later epochs skip decoding those. Decoding runs in parallel
(`num_parallel_calls=AUTOTUNE`) and batches are prefetched.
A corrupt or unreadable file never crashes a run: it is filtered out, counted, and
appended to `skipped_files.txt` in the run folder as soon as it is met.
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from deepfake_edge.runtime.contract import ModelContract
from deepfake_edge.runtime.dataset import list_split
from deepfake_edge.runtime.errors import InputError
from deepfake_edge.runtime.images import read_rgb
from deepfake_edge.runtime.preprocess import normalize, resize_crop
from deepfake_edge.train.cache import CropCache
from deepfake_edge.train.config import SBI_MASKS

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
    groups: np.ndarray | None = None  # source id per path when a groups file keeps twins together

    @property
    def source_groups(self) -> int | None:
        """Sources with two or more images (twins trained side by side); None without groups."""
        return None if self.groups is None else int((np.bincount(self.groups) >= 2).sum())




@dataclass(frozen=True)
class SelfBlend:
    """How Train makes self-blended fakes: the `TrainConfig.sbi_*` settings as one object that
    travels from the config through `load_split` and `make_dataset` to each example.

    A new self-blending option is a TrainConfig field (its flag follows) plus a field here
    of the same name, which `of(config)` copies; `landmarks` is filled in by `load_split`.
    """

    sbi_ratio: float = 0.0  # share of the fakes that are self-blended (1: real faces alone)
    sbi_mask: str = "auto"  # "landmarks" (face-mesh hull), "ellipse", "auto" (mesh when installed)
    sbi_jpeg: float = 0.0  # probability that the blended source is JPEG-compressed first
    landmarks: object = None  # train.landmarks.LandmarkTable of the Train reals, or None: ellipses

    @classmethod
    def of(cls, config) -> "SelfBlend":
        return cls(**{f.name: getattr(config, f.name) for f in fields(cls) if hasattr(config, f.name)})


NO_SELF_BLEND = SelfBlend()


def load_example(path: str, label: int, seed: int, contract: ModelContract, train: bool,
                 augment_options: dict | None = None, blend: SelfBlend | None = None,
                 cache: CropCache | None = None) -> tuple[np.ndarray, bool, str]:
    """(model input, ok, error) for one file; never raises on a bad image.

    `blend` (not None) turns the (real) image into a self-blended fake at its ORIGINAL
    resolution before the crop, as a face swap is made on the full frame before anyone crops
    it; such examples bypass `cache`, which holds crops, not full-resolution images. With
    `blend.landmarks` (`train.landmarks.LandmarkTable`) the fake is blended inside the
    face-mesh hull (`train.sbi.landmark_self_blend`, JPEG-compressing the source with
    probability `blend.sbi_jpeg`); images without a mesh use the elliptical mask.
    """
    size = contract.input_size
    rng = np.random.default_rng(seed)
    sbi = blend is not None
    crop = None if (cache is None or sbi) else cache.get(path)
    if crop is None:
        try:
            img = read_rgb(path)
            if sbi:
                points = blend.landmarks.get(path) if blend.landmarks is not None else None
                if points is not None:
                    from deepfake_edge.train.sbi import landmark_self_blend

                    img = landmark_self_blend(img, points, rng, jpeg_prob=blend.sbi_jpeg)
                else:
                    from deepfake_edge.train.synth import self_blend

                    img = self_blend(img, rng)
            crop = resize_crop(img, size)
        except (InputError, ValueError) as exc:
            return np.zeros((size, size, 3), np.float32), False, str(exc)
        if cache is not None and not sbi:
            cache.put(path, crop)
    if train:
        from deepfake_edge.train.augment import augment

        crop = augment(crop, rng, **(augment_options or {}))
    return normalize(crop, contract).astype(np.float32), True, ""


def make_dataset(paths: list[Path], labels: np.ndarray, contract: ModelContract, *, batch_size: int,
                 train: bool, augment: bool = True, seed: int = 0, skip_log: SkipLog | None = None,
                 repeat: bool = False, augment_options: dict | None = None, sbi: SelfBlend = NO_SELF_BLEND,
                 source: str | Path | None = None, groups: np.ndarray | None = None,
                 cache: CropCache | None = None):
    """A batched, prefetched `tf.data.Dataset` yielding (float32 NHWC batch, one-hot labels).

    `train=True` shuffles (seeded, reshuffled every epoch) and augments (when `augment`);
    `repeat=True` makes it endless so Keras can show an ETA from the first epoch
    (`steps_per_epoch` then sets the epoch length). `sbi.sbi_ratio` > 0 (training only) makes
    that share of the fakes self-blended images of the reals (see the module docstring).
    `source` (the split folder) is named in error messages; without it, the folder the
    paths share. `groups` (one source id per path, `train.groups`; training without SBI
    only) keeps each source's images next to each other, so real/fake twins share a batch,
    and gives them the same augmentation. `cache` (`train.cache.CropCache`) keeps decoded
    crops between epochs; the batches are the same with or without it. `sbi`'s mask,
    landmarks and JPEG setting shape the self-blended fakes (`load_example`).
    """
    import tensorflow as tf

    if len(paths) != len(labels):
        raise ValueError(f"{len(paths)} paths but {len(labels)} labels")
    if not paths:
        raise InputError(f"{_where(source, paths)}: no images to build a dataset from")
    sbi_ratio = check_sbi_ratio(sbi.sbi_ratio)
    if sbi_ratio and not train:
        raise ValueError("self-blended fakes are for training only; evaluate on real labelled fakes")
    skip_log = skip_log if skip_log is not None else SkipLog()
    size = contract.input_size
    do_augment = bool(train and augment)

    def _load(path_bytes, label, elem_seed, blended):
        path = path_bytes.decode("utf-8")
        x, ok, err = load_example(path, int(label), int(elem_seed), contract, do_augment, augment_options,
                                  blend=sbi if blended else None, cache=cache)
        if not ok:
            skip_log.add(path, err)
        return x, np.bool_(ok)

    def _tf_load(path, label, elem_seed, blended):
        x, ok = tf.numpy_function(_load, [path, label, elem_seed, blended], [tf.float32, tf.bool], stateful=False)
        x.set_shape((size, size, 3))
        ok.set_shape(())
        return x, label, ok

    labels = np.asarray(labels, np.int64)
    if groups is not None and len(groups) != len(paths):
        raise ValueError(f"{len(paths)} paths but {len(groups)} group ids")
    grouped = bool(train and groups is not None and not sbi_ratio)
    if sbi_ratio:
        ds = _sbi_mixture(tf, [str(p) for p in paths], labels, contract, sbi_ratio, seed,
                          source=_where(source, paths))
        if not repeat:
            ds = ds.take(len(paths))
    elif grouped:
        ds = _grouped_stream(tf, [str(p) for p in paths], labels, np.asarray(groups), seed, repeat)
    else:
        ds = tf.data.Dataset.from_tensor_slices(([str(p) for p in paths], labels, np.zeros(len(paths), bool)))
        if train:
            ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
        if repeat:
            ds = ds.repeat()
    if not grouped:  # a grouped stream carries its own seeds, one per source
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip((ds, seeds)).map(lambda e, s: (e[0], e[1], s, e[2]))
    # deterministic=True: the same seed gives the same batches (repeatable runs).
    ds = ds.map(_tf_load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.filter(lambda x, y, ok: ok)
    ds = ds.map(lambda x, y, ok: (x, tf.one_hot(y, len(contract.class_names))))
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _grouped_stream(tf, paths: list[str], labels: np.ndarray, groups: np.ndarray, seed: int, repeat: bool):
    """(path, label, augmentation seed, sbi=False): sources shuffled every epoch, each source's
    images next to each other under one seed.

    Built from tensors, not a Python generator: a generator would need the GIL that the
    parallel decoders (`tf.numpy_function`) also need.
    """
    from deepfake_edge.train.groups import group_members

    members = group_members(groups)  # (sources, largest group), -1 pads
    paths_t, labels_t = tf.constant(paths), tf.constant(labels)
    ds = tf.data.Dataset.from_tensor_slices(members).shuffle(len(members), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip((ds, seeds)).map(lambda m, s: (m, tf.fill(tf.shape(m), s))).unbatch()
    ds = ds.filter(lambda i, s: i >= 0)
    return ds.map(lambda i, s: (tf.gather(paths_t, i), tf.gather(labels_t, i), s, tf.constant(False)))


def check_sbi_ratio(sbi_ratio: float) -> float:
    """The share of fakes that are self-blended must lie in [0, 1]; InputError otherwise."""
    if not 0.0 <= float(sbi_ratio) <= 1.0:
        raise InputError(f"--sbi-ratio must be between 0 and 1 (share of fakes that are self-blended), got {sbi_ratio}")
    return float(sbi_ratio)


def _where(source: str | Path | None, paths) -> str:
    """The folder to name in an error: the given split folder, else the one the paths share."""
    if source:
        return str(source)
    try:
        return os.path.commonpath([str(Path(p).parent) for p in paths]) if len(paths) else "dataset"
    except ValueError:  # paths on different drives
        return "dataset"


def _sbi_mixture(tf, paths: list[str], labels: np.ndarray, contract: ModelContract, ratio: float, seed: int,
                 source: str | Path | None = None):
    """Endless (path, label, sbi) stream: reals 1/2, labelled fakes (1-r)/2, SBI fakes of reals r/2."""
    where = _where(source, paths)
    fake = contract.fake_index
    real = list(contract.class_names).index("Real")
    reals = [p for p, y in zip(paths, labels) if y == real]
    fakes = [p for p, y in zip(paths, labels) if y == fake]
    if not reals:
        raise InputError(f"{where}: self-blended fakes need Real training images, and this split has none")

    def stream(files, label, sbi, k):
        n = len(files)
        ds = tf.data.Dataset.from_tensor_slices((files, np.full(n, label, np.int64), np.full(n, sbi, bool)))
        return ds.shuffle(n, seed=seed + k, reshuffle_each_iteration=True).repeat()

    streams, weights = [stream(reals, real, False, 0)], [0.5]
    if ratio < 1.0:
        if not fakes:
            raise InputError(f"{where}: --sbi-ratio below 1 mixes in labelled fakes, and this split has none; "
                             "use --sbi-ratio 1 to train from real faces alone")
        streams.append(stream(fakes, fake, False, 1))
        weights.append(0.5 * (1.0 - ratio))
    streams.append(stream(reals, fake, True, 2))
    weights.append(0.5 * ratio)
    return tf.data.Dataset.sample_from_datasets(streams, weights=weights, seed=seed)


def check_sbi_mask(mask: str) -> str:
    if mask not in SBI_MASKS:
        raise InputError(f"unknown --sbi-mask {mask!r}; choose one of: {', '.join(SBI_MASKS)}")
    return mask


def sbi_landmarks(paths, labels, contract: ModelContract, mask: str):
    """The Train reals' face-mesh landmarks for `mask` "landmarks" / "auto" (None: elliptical masks)."""
    from deepfake_edge.runtime.errors import FaceModelError
    from deepfake_edge.train.landmarks import LandmarkTable, resolve_landmark_model

    if check_sbi_mask(mask) == "ellipse":
        return None
    try:
        resolve_landmark_model()
    except FaceModelError as exc:
        if mask == "landmarks":
            raise
        log.warning("self-blended fakes use elliptical masks: %s", exc)
        return None
    real = list(contract.class_names).index("Real")
    return LandmarkTable.for_files([p for p, y in zip(paths, labels) if y == real])


def list_train_split(data_dir: str | Path, *, max_per_class: int | None = None, seed: int = 0,
                     sbi_ratio: float = 0.0) -> tuple[list[Path], np.ndarray]:
    """Train's (paths, labels); with `sbi_ratio` 1 the Fake folder may be absent or empty.

    Training from real faces alone needs only `Train/Real`: every fake is self-blended.
    """
    try:
        return list_split(data_dir, "Train", max_per_class=max_per_class, seed=seed)
    except InputError:
        if check_sbi_ratio(sbi_ratio) < 1.0:
            raise
    from deepfake_edge.runtime.dataset import CLASS_NAMES, class_folder, find_split
    from deepfake_edge.runtime.images import is_image_file

    folder = class_folder(find_split(data_dir, "Train"), "Real")
    files = sorted(p for p in folder.iterdir() if p.is_file() and is_image_file(p))
    if not files:
        raise InputError(f"{folder}: class folder holds no images (.jpg, .jpeg, .png, .bmp, .webp)")
    if max_per_class and len(files) > max_per_class:
        rng = np.random.default_rng(seed + CLASS_NAMES.index("Real"))
        files = sorted(files[i] for i in rng.choice(len(files), max_per_class, replace=False))
    log.info("Train: real faces only (%s), every fake self-blended", folder)
    return files, np.full(len(files), CLASS_NAMES.index("Real"), np.int64)


def load_split(data_dir: str | Path, split: str, contract: ModelContract, *, batch_size: int, train: bool,
               augment: bool = True, max_per_class: int | None = None, seed: int = 0,
               skip_log: SkipLog | None = None, repeat: bool = False, sbi: SelfBlend = NO_SELF_BLEND,
               augment_options: dict | None = None, groups_file: str | Path | None = None,
               cache: CropCache | None = None) -> SplitData:
    """List one split of a Kaggle-layout folder and wrap it in a streaming dataset.

    Raises InputError (one line) for a missing split or an empty/missing class folder.
    With `sbi.sbi_ratio` > 0 (Train only), `class_counts` also reports the expected share of
    self-blended fakes under "sbi_ratio". `groups_file` (Train only, see `train.groups`)
    puts real/fake twins from one source side by side; `groups` then holds each image's
    source id; with `max_per_class` too, Train's subset is drawn whole source by source
    so the twins survive the cap. `cache` keeps decoded crops between epochs (see
    `make_dataset`). `sbi.sbi_mask` picks the self-blended fakes' mask: "landmarks" (face-mesh hull; the landmarks of the
    Train reals are computed once and cached), "ellipse", or "auto" (landmarks when the
    face-landmark model is installed); `counts["sbi_mask"]` says which was used.
    """
    sbi_ratio = sbi.sbi_ratio
    is_train = split.lower() == "train"
    whole_sources = bool(is_train and max_per_class and groups_file is not None)
    if is_train:
        paths, labels = list_train_split(data_dir, max_per_class=None if whole_sources else max_per_class,
                                         seed=seed, sbi_ratio=sbi_ratio)
    else:
        paths, labels = list_split(data_dir, split, max_per_class=max_per_class, seed=seed)
    groups = None
    if whole_sources:  # a capped subset keeps each fake's real twin (train.groups.sample_whole_groups)
        from deepfake_edge.train.groups import read_groups, sample_whole_groups

        all_groups = read_groups(groups_file, paths, split)
        keep = sample_whole_groups(all_groups, labels, max_per_class, seed)
        log.info("%s: %d of %d images kept, whole source groups drawn with seed %d (--max-per-class %d)",
                 split, len(keep), len(paths), seed, max_per_class)
        paths, labels, all_groups = [paths[i] for i in keep], labels[keep], all_groups[keep]
        if train and not sbi_ratio:
            groups = all_groups
    if groups is None and groups_file is not None and train and not sbi_ratio:
        from deepfake_edge.train.groups import read_groups

        groups = read_groups(groups_file, paths, split)
    elif groups is None and groups_file is not None:
        log.info("%s: groups file not used (%s)", groups_file,
                 "self-blended fakes come from reals" if sbi_ratio else f"{split} is not shuffled for training")
    landmarks, mask_used = None, "ellipse"
    if sbi_ratio and train:
        landmarks = sbi_landmarks(paths, labels, contract, sbi.sbi_mask)
        mask_used = "landmarks" if landmarks is not None else "ellipse"
    ds = make_dataset(paths, labels, contract, batch_size=batch_size, train=train, augment=augment,
                      seed=seed, skip_log=skip_log, repeat=repeat, sbi=replace(sbi, landmarks=landmarks),
                      augment_options=augment_options, source=Path(data_dir) / split, groups=groups,
                      cache=cache)
    counts = {name: int((labels == i).sum()) for i, name in enumerate(contract.class_names)}
    if sbi_ratio:
        counts["sbi_ratio"] = float(sbi_ratio)
        counts["sbi_mask"] = mask_used
        if landmarks is not None:
            # what the blending will really find, looked up the way it looks them up
            counts["sbi_face_meshes"] = sum(landmarks.get(p) is not None for p in paths)
    steps = max(1, -(-len(paths) // batch_size))
    if sbi_ratio and counts[contract.class_names[contract.fake_index]] == 0:
        steps = max(1, -(-2 * len(paths) // batch_size))  # an epoch sees each real once and as many SBI fakes
    log.info("%s: %d images (%s)", split, len(paths), ", ".join(f"{k} {v}" for k, v in counts.items()))
    return SplitData(split, paths, labels, ds, steps, counts, groups)
