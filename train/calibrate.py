"""Metrics on known predictions, and the calibration fitted on Validation.

Everything here works on plain arrays — `labels` in the contract's order (0 = Fake,
1 = Real) and the model's softmax `probs` (N, 2) or fake probabilities (N,) — so tests can
check each number against a hand computation.

- Threshold: the fake-probability cut that maximises Youden's J = TPR - FPR on Validation
  ("Fake" is the positive class), i.e. the best balanced accuracy; ties go to the cut
  closest to 0.5. Chosen on Validation only, stored in the contract, Test only reported.
- Temperature: the T > 0 minimising the negative log-likelihood of the Validation labels
  under softmax(log p / T) — the `fake_probability` the runtime applies.
- ECE: expected calibration error over `bins` equal-width confidence bins of the
  predicted class's probability.
"""
from __future__ import annotations

import math

import numpy as np

from deepfake_edge.runtime import metrics
from deepfake_edge.runtime.contract import CLASS_NAMES, REAL
from deepfake_edge.runtime.metrics import FAKE_INDEX
from deepfake_edge.runtime.metrics import is_fake as _is_fake
from deepfake_edge.runtime.preprocess import apply_temperature

REAL_INDEX = CLASS_NAMES.index(REAL)


def scaled_probs(probs: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(log p / T) row-wise: exactly what the runtime applies (`runtime.preprocess`)."""
    return apply_temperature(probs, temperature)


def nll(probs: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    p = scaled_probs(probs, temperature)[np.arange(len(labels)), np.asarray(labels, np.int64)]
    return float(-np.mean(np.log(np.clip(p, 1e-12, 1.0))))


def fit_temperature(probs: np.ndarray, labels: np.ndarray, *, low: float = 0.05, high: float = 20.0) -> float:
    """Temperature minimising Validation NLL (bounded search over log T)."""
    from scipy.optimize import minimize_scalar

    probs = np.asarray(probs, np.float64)
    labels = np.asarray(labels, np.int64)
    if len(labels) == 0:
        return 1.0
    res = minimize_scalar(lambda lt: nll(probs, labels, math.exp(lt)), bounds=(math.log(low), math.log(high)),
                          method="bounded", options={"xatol": 1e-4})
    t = float(math.exp(res.x))
    # Never return a temperature that is worse than doing nothing.
    return t if nll(probs, labels, t) <= nll(probs, labels, 1.0) else 1.0


def fit_threshold(fake_probs: np.ndarray, labels: np.ndarray) -> float:
    """The fake-probability threshold (p >= t -> Fake) maximising Youden's J on these labels."""
    p = np.asarray(fake_probs, np.float64)
    is_fake = _is_fake(labels)
    if len(p) == 0 or is_fake.all() or (~is_fake).all():
        return 0.5
    candidates = np.unique(np.concatenate([p, [0.5]]))
    # Midpoints between neighbouring scores generalise better than the scores themselves.
    mids = (candidates[:-1] + candidates[1:]) / 2 if len(candidates) > 1 else candidates
    candidates = np.unique(np.concatenate([candidates, mids]))
    pred = p[None, :] >= candidates[:, None]
    tpr = (pred & is_fake).sum(1) / is_fake.sum()
    fpr = (pred & ~is_fake).sum(1) / (~is_fake).sum()
    j = tpr - fpr
    best = np.flatnonzero(np.isclose(j, j.max()))
    return float(np.clip(candidates[best[np.argmin(np.abs(candidates[best] - 0.5))]], 0.0, 1.0))


def expected_calibration_error(fake_probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """ECE of the predicted class's confidence (at 0.5), `bins` equal-width bins over [0, 1]."""
    p = np.asarray(fake_probs, np.float64)
    is_fake = _is_fake(labels)
    if len(p) == 0:
        return float("nan")
    conf = np.maximum(p, 1 - p)
    correct = (p >= 0.5) == is_fake
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


def roc_auc(fake_probs: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC with Fake as the positive class (`runtime.metrics`); NaN when only one class is present."""
    auc = metrics.roc_auc(fake_probs, labels)
    return float("nan") if auc is None else auc


def classification_metrics(fake_probs: np.ndarray, labels: np.ndarray, threshold: float) -> dict:
    """Accuracy, AUC, per-class precision/recall/F1, confusion matrix, ECE, balanced accuracy.

    `confusion_matrix[i][j]` counts images of true class i predicted as class j, in the
    contract's class order (Fake, Real).
    """
    p = np.asarray(fake_probs, np.float64)
    y = np.asarray(labels, np.int64)
    pred = np.where(metrics.predicted_fake(p, threshold), FAKE_INDEX, REAL_INDEX)
    cm = np.zeros((2, 2), np.int64)
    for t, q in zip(y, pred):
        cm[t, q] += 1
    precision, recall, f1 = {}, {}, {}
    for i, name in enumerate(CLASS_NAMES):
        tp = cm[i, i]
        predicted = cm[:, i].sum()
        actual = cm[i, :].sum()
        precision[name] = float(tp / predicted) if predicted else 0.0
        recall[name] = float(tp / actual) if actual else 0.0
        pr, rc = precision[name], recall[name]
        f1[name] = float(2 * pr * rc / (pr + rc)) if pr + rc else 0.0
    n = len(y)
    recalls = [recall[c] for c in CLASS_NAMES if cm[CLASS_NAMES.index(c), :].sum()]
    return {
        "n": int(n),
        "accuracy": metrics.accuracy(p, y, threshold),
        "balanced_accuracy": float(np.mean(recalls)) if recalls else float("nan"),
        "auc": roc_auc(p, y),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "confusion_matrix": cm.tolist(),
        "threshold": float(threshold),
        "ece": expected_calibration_error(p, y),
    }
