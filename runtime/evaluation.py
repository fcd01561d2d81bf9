"""One evaluation loop and one latency definition for every model file: what verify and bench share.

`evaluate_artifact` opens a model with ITS OWN contract, feeds it a labelled set
preprocessed the way that contract says (the runtime's one preprocessing path), and
returns its fake probabilities, accuracy and AUC in one unit. `profile_backend` is the
one latency definition:

    batch-1 latency = wall-clock time of `backend.predict(x)` on an already
    preprocessed (1, H, W, 3) crop, after warm-up calls, over at least `min_runs`
    calls and `min_seconds` seconds: the runtime call plus the backend's input checks
    and, on GPU runtimes, the host<->device copies. Face detection, cropping and
    preprocessing are NOT included (the end-to-end frame time in bench covers those).

Accuracy here is a fraction (0..1) everywhere; reports that print percent convert there.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from deepfake_edge.runtime import metrics
from deepfake_edge.runtime.backends import Backend, BackendOptions, open_backend
from deepfake_edge.runtime.contract import ModelContract, find_contract
from deepfake_edge.runtime.errors import InputError, ModelFileError
from deepfake_edge.runtime.profile import LatencyStats, measure

log = logging.getLogger(__name__)

PREDICT_CHUNK = 64  # images per backend call when scoring a whole set


def _pixels_key(contract: ModelContract) -> tuple:
    """What decides the preprocessed pixels: two contracts with the same key share one batch."""
    return contract.input_size, contract.color_order, repr(contract.normalization)


@dataclass
class LabelledSet:
    """Image files with labels (0 = Fake, 1 = Real, the contract order), preprocessed once per contract kind.

    Unreadable files are dropped (and logged) the first time the set is preprocessed, so
    every artifact is scored on the same images.
    """

    paths: list[Path]
    labels: np.ndarray
    source: str = ""  # the folder, for messages
    split: str | None = None
    _batches: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_folder(cls, data: str | Path, split: str | None, *, max_per_class: int | None = None) -> "LabelledSet":
        from deepfake_edge.runtime.dataset import list_labeled_folder

        paths, labels = list_labeled_folder(data, split, max_per_class=max_per_class)
        return cls(list(paths), np.asarray(labels), str(data), split)

    def __len__(self) -> int:
        return len(self.paths)

    def batch_for(self, contract: ModelContract) -> np.ndarray:
        """The set preprocessed as `contract` says (cached per preprocessing kind)."""
        from deepfake_edge.runtime.dataset import load_preprocessed

        key = _pixels_key(contract)
        if key not in self._batches:
            batch, kept, errors = load_preprocessed(self.paths, contract)
            for err in errors[:5]:
                log.warning("skipped unreadable image: %s", err)
            if len(kept) < len(self.paths):  # the same images for every artifact from here on
                self.paths = [self.paths[i] for i in kept]
                self.labels = self.labels[kept]
                self._batches = {k: v[kept] for k, v in self._batches.items()}
            if len(batch) == 0:
                where = f" in the {self.split} split" if self.split else ""
                raise InputError(f"{self.source or 'evaluation set'}: no readable images{where}")
            self._batches[key] = batch
        return self._batches[key]


@dataclass
class Evaluation:
    """One model's scores on a LabelledSet."""

    fake: np.ndarray  # fake probability per image, calibrated by the artifact's contract
    labels: np.ndarray
    threshold: float
    accuracy: float  # fraction correct at the contract's threshold
    auc: float | None  # None when the set has one class
    runs_on: str  # `backend.describe()`: what really ran it


def predict_all(backend: Backend, batch: np.ndarray, chunk: int = PREDICT_CHUNK) -> np.ndarray:
    """(N, classes) probabilities of a preprocessed batch, `chunk` images per runtime call."""
    if len(batch) == 0:
        return np.zeros((0, len(backend.contract.class_names)), np.float32)
    return np.concatenate([backend.predict(batch[i:i + chunk]) for i in range(0, len(batch), chunk)])


def predict_files(backend: Backend, paths: list[Path], *, chunk: int = PREDICT_CHUNK, desc: str = "predict"):
    """Stream image files through `backend` `chunk` at a time (memory stays bounded on a big
    folder, unlike `LabelledSet`); unreadable files are skipped and reported.

    Returns (probs (N_kept, classes), kept indices into `paths`, one-line errors).
    """
    from tqdm import tqdm

    from deepfake_edge.runtime.dataset import load_preprocessed

    probs, kept, errors = [], [], []
    with tqdm(total=len(paths), desc=desc, unit="img", leave=False) as bar:
        for start in range(0, len(paths), chunk):
            batch, idx, errs = load_preprocessed(paths[start:start + chunk], backend.contract)
            if len(batch):
                probs.append(backend.predict(batch))
                kept.append(idx + start)
            errors.extend(errs)
            bar.update(min(chunk, len(paths) - start))
    n_classes = len(backend.contract.class_names)
    return (np.concatenate(probs) if probs else np.zeros((0, n_classes), np.float32),
            np.concatenate(kept) if kept else np.zeros((0,), np.int64), errors)


def score(backend: Backend, data: LabelledSet) -> Evaluation:
    """Predict `data` with an open backend, preprocessed by the backend's contract; metrics."""
    from deepfake_edge.runtime.preprocess import fake_probability

    contract = backend.contract
    batch = data.batch_for(contract)
    probs = predict_all(backend, batch)
    if not np.all(np.isfinite(probs)):  # a broken conversion: one line naming the file
        raise ModelFileError(f"{backend.path}: {int(np.sum(~np.isfinite(probs)))} outputs are NaN or infinite")
    fake = fake_probability(probs, contract)
    return Evaluation(fake=fake, labels=data.labels, threshold=contract.threshold,
                      accuracy=metrics.accuracy(fake, data.labels, contract.threshold),
                      auc=metrics.roc_auc(fake, data.labels), runs_on=backend.describe())


def evaluate_artifact(model: str | Path, data: LabelledSet, options: BackendOptions | None = None, *,
                      contract: ModelContract | None = None, latency: "LatencyBudget | None" = None
                      ) -> tuple[Evaluation, LatencyStats | None]:
    """Open `model` with its own contract (or `contract`), score `data`, and optionally time batch-1 calls."""
    contract = contract or find_contract(Path(model))
    with open_backend(model, options, contract=contract) as backend:
        result = score(backend, data)
        stats = profile_backend(backend, data.batch_for(contract)[:1], latency) if latency else None
    return result, stats


@dataclass(frozen=True)
class LatencyBudget:
    """How long `profile_backend` times: warm-up calls, then at least `min_runs` and `min_seconds`."""

    warmup: int = 5
    min_runs: int = 30
    min_seconds: float = 2.0


def profile_backend(backend: Backend, one: np.ndarray, budget: LatencyBudget | None = None) -> LatencyStats:
    """The project's batch-1 latency of an open backend (the definition is in this module's docstring)."""
    budget = budget or LatencyBudget()
    one = np.asarray(one[:1], np.float32)
    return measure(lambda: backend.predict(one), warmup=budget.warmup, min_runs=budget.min_runs,
                   min_seconds=budget.min_seconds)
