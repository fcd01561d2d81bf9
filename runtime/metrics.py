"""Accuracy and ROC AUC of fake probabilities against labels: the one definition.

Training's evaluation (`train.calibrate`), export parity (`export.verify`) and the
benchmark (`app.bench`) all score predictions with these functions, so "accuracy" and
"AUC" mean the same thing in every report:

- labels are in the contract's class order (0 = Fake, 1 = Real); "Fake" is the positive
  class;
- a score is the fake probability (`runtime.preprocess.fake_probability`), and an image is
  called Fake when its score is >= the contract's threshold (the same rule as
  `runtime.preprocess.labels_for`);
- AUC is the Mann-Whitney rank statistic (ties count one half), which equals
  scikit-learn's `roc_auc_score`; it is None when the labels hold only one class, because
  no ranking can be judged then.

numpy only: importing this module pulls in neither scikit-learn nor TensorFlow.
"""
from __future__ import annotations

import numpy as np

from deepfake_edge.runtime.contract import CLASS_NAMES, FAKE

FAKE_INDEX = CLASS_NAMES.index(FAKE)


def is_fake(labels) -> np.ndarray:
    """Boolean array: True where the label is the Fake class."""
    return np.asarray(labels).astype(np.int64) == FAKE_INDEX


def predicted_fake(fake_probs, threshold: float) -> np.ndarray:
    """Boolean array: True where the fake probability reaches the threshold (p >= t -> Fake)."""
    return np.asarray(fake_probs, np.float64) >= threshold


def accuracy(fake_probs, labels, threshold: float) -> float:
    """Fraction (0..1) of images whose thresholded prediction matches the label; NaN when empty."""
    truth = is_fake(labels)
    if truth.size == 0:
        return float("nan")
    return float(np.mean(predicted_fake(fake_probs, threshold) == truth))


def roc_auc(fake_probs, labels) -> float | None:
    """ROC AUC of the fake probability with Fake as the positive class; None for a one-class set.

    Computed as the probability that a random Fake image scores higher than a random Real
    one, ties counting one half: (sum of the Fake images' average ranks - n_f (n_f + 1) / 2)
    / (n_f * n_r).

    Raises:
        ValueError: when scores and labels differ in length or a score is not finite.
    """
    scores = np.asarray(fake_probs, np.float64).ravel()
    positive = is_fake(labels).ravel()
    if scores.shape != positive.shape:
        raise ValueError(f"{scores.size} scores for {positive.size} labels")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores contain NaN or infinity")
    n_fake = int(positive.sum())
    n_real = positive.size - n_fake
    if n_fake == 0 or n_real == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    _, first, counts = np.unique(scores[order], return_index=True, return_counts=True)
    ranks = np.empty(scores.size, np.float64)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)  # 1-based, ties share their mean rank
    return float((ranks[positive].sum() - n_fake * (n_fake + 1) / 2.0) / (n_fake * n_real))
