"""The one accuracy / AUC definition (runtime.metrics) and the three reports that use it.

Hand-computed case: labels 0 = Fake, 1 = Real.
    scores  0.9  0.5  0.3 | 0.5  0.2
    labels  F    F    F   | R    R
AUC: of the 3 x 2 (Fake, Real) pairs, the Fake image scores higher in 4 and ties in 1
(0.5 vs 0.5): (4 + 0.5) / 6 = 0.75.
Accuracy at 0.5 (p >= 0.5 -> Fake): predicted F F R F R -> right, right, wrong, wrong, right = 3/5.
Accuracy at 0.3: predicted F F F F R -> 4/5 (0.3 == threshold counts as Fake).
"""
from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from deepfake_edge.runtime import metrics
from deepfake_edge.runtime.contract import ModelContract

SCORES = np.array([0.9, 0.5, 0.3, 0.5, 0.2])
LABELS = np.array([0, 0, 0, 1, 1])


def test_auc_by_hand_with_a_tie():
    assert metrics.roc_auc(SCORES, LABELS) == pytest.approx(0.75)


def test_auc_extremes_and_all_tied():
    assert metrics.roc_auc([0.9, 0.8, 0.1], [0, 0, 1]) == 1.0  # every Fake above every Real
    assert metrics.roc_auc([0.1, 0.2, 0.9], [0, 0, 1]) == 0.0  # Real ranked above: AUC 0, not flipped
    assert metrics.roc_auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]) == 0.5


def test_auc_undefined_for_one_class():
    assert metrics.roc_auc([0.2, 0.9], [0, 0]) is None
    assert metrics.roc_auc([0.2, 0.9], [1, 1]) is None
    assert metrics.roc_auc([], []) is None


def test_auc_rejects_bad_input():
    with pytest.raises(ValueError, match="3 scores for 2 labels"):
        metrics.roc_auc([0.1, 0.2, 0.3], [0, 1])
    with pytest.raises(ValueError, match="NaN"):
        metrics.roc_auc([0.1, float("nan")], [0, 1])


def test_auc_equals_sklearn_on_heavily_tied_scores():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    for n in (7, 50, 301):
        labels = rng.integers(0, 2, n)
        labels[:2] = [0, 1]
        scores = np.round(rng.random(n) * 0.6 + 0.4 * (labels == 0), 1)  # 11 distinct values: many ties
        expected = roc_auc_score(labels == 0, scores)
        assert metrics.roc_auc(scores, labels) == pytest.approx(expected, abs=1e-12)


def test_accuracy_at_threshold_counts_equal_as_fake():
    assert metrics.accuracy(SCORES, LABELS, 0.5) == pytest.approx(3 / 5)
    assert metrics.accuracy(SCORES, LABELS, 0.3) == pytest.approx(4 / 5)
    assert metrics.accuracy([0.5], [0], 0.5) == 1.0 and metrics.accuracy([0.5], [1], 0.5) == 0.0
    assert math.isnan(metrics.accuracy([], [], 0.5))


def test_callers_report_the_same_numbers_in_their_own_units():
    """verify and bench share runtime.evaluation.score: accuracy a fraction, AUC None for one class."""
    from deepfake_edge.runtime.evaluation import LabelledSet, _pixels_key, score
    from deepfake_edge.train.calibrate import classification_metrics, roc_auc

    contract = ModelContract(input_size=2, threshold=0.3)

    class Scores:  # a backend whose outputs are the fake probabilities above
        path = "scores.onnx"

        def __init__(self, fake):
            self.fake, self.contract = np.asarray(fake, np.float32), contract

        def predict(self, batch):
            f = self.fake[: len(batch)]
            self.fake = self.fake[len(batch):]
            return np.stack([f, 1 - f], 1)

        def describe(self):
            return "scores"

    def labelled(n):
        data = LabelledSet([f"{i}.png" for i in range(n)], np.asarray(LABELS[:n]))
        data._batches[_pixels_key(contract)] = np.zeros((n, 2, 2, 3), np.float32)
        return data

    result = score(Scores(SCORES), labelled(len(SCORES)))
    assert result.accuracy == pytest.approx(0.8) and result.auc == pytest.approx(0.75)  # a fraction
    assert score(Scores(SCORES[:3]), labelled(3)).auc is None  # None for one class

    assert roc_auc(SCORES, LABELS) == pytest.approx(0.75)
    assert math.isnan(roc_auc(SCORES[:3], LABELS[:3]))  # calibration tables: NaN for one class
    report = classification_metrics(SCORES, LABELS, 0.5)
    assert report["accuracy"] == pytest.approx(0.6) and report["auc"] == pytest.approx(0.75)
    assert report["confusion_matrix"] == [[2, 1], [1, 1]]


def test_metrics_import_pulls_in_neither_sklearn_nor_tensorflow():
    probe = ("import json, sys; import deepfake_edge.runtime.metrics; "
             "print(json.dumps(sorted(m for m in ('sklearn', 'tensorflow', 'keras') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
