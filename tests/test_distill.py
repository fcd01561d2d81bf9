"""`train --teacher`: the student learns the teacher's soft labels on the crops it sees."""
from __future__ import annotations

import json

import numpy as np
import pytest

from deepfake_edge.runtime.contract import ModelContract
from deepfake_edge.runtime.preprocess import apply_temperature, normalize, resize_crop
from tests.datagen import load_split
from tests.test_evaluate import cli_main
from tests.test_train import _train_args


def _crops(tiny_data, size):
    x, y = load_split(tiny_data, "Validation", size)
    return x, y


def test_teacher_scores_student_inputs_as_it_scores_its_own(tiny_run, tiny_data):
    """Student inputs (another size) are turned back into pixels, resized and normalised the teacher's way."""
    from deepfake_edge.runtime.backends import open_backend
    from deepfake_edge.train.distill import Teacher

    crops, _ = _crops(tiny_data, 48)
    student = ModelContract(input_size=48, arch="student")
    teacher = Teacher(tiny_run, student)
    try:
        soft = teacher.soft_targets(np.stack([normalize(c, student) for c in crops]))
    finally:
        teacher.close()
    with open_backend(tiny_run / "model.keras") as backend:
        own = backend.predict(np.stack([normalize(resize_crop(c, 32), backend.contract) for c in crops]))
    own = apply_temperature(own, backend.contract.temperature)
    assert soft.shape == (len(crops), 2) and np.allclose(soft.sum(1), 1, atol=1e-5)
    assert np.abs(soft - own).max() < 0.05  # 48 -> 32 px resize of a crop vs of the original image
    assert np.corrcoef(soft[:, 0], own[:, 0])[0, 1] > 0.95


def test_targets_mix_hard_labels_with_the_teachers_answer(tiny_run, tiny_data):
    import tensorflow as tf

    from deepfake_edge.train.distill import Teacher, with_teacher

    crops, labels = _crops(tiny_data, 32)
    contract = ModelContract(input_size=32, arch="student")
    x = np.stack([normalize(c, contract) for c in crops]).astype(np.float32)
    onehot = np.eye(2, dtype=np.float32)[labels]
    teacher = Teacher(tiny_run, contract)
    try:
        expected = 0.3 * onehot + 0.7 * teacher.soft_targets(x)
        ds = with_teacher(tf.data.Dataset.from_tensor_slices((x, onehot)).batch(8), teacher, 0.7)
        targets = np.concatenate([t.numpy() for _, t in ds])
    finally:
        teacher.close()
    np.testing.assert_allclose(targets, expected, atol=1e-6)
    assert not np.allclose(targets, onehot)


def test_train_with_a_teacher_records_it(tiny_run, tiny_data, tmp_path, monkeypatch):
    run = tmp_path / "student"
    args = _train_args(tiny_data, run, "--epochs", "2", "--teacher", str(tiny_run), "--teacher-weight", "0.8")
    assert cli_main(args, monkeypatch) == 0
    training = json.loads((run / "contract.json").read_text())["training"]
    assert training["teacher"] == str(tiny_run / "model.keras") and training["teacher_weight"] == 0.8
    assert json.loads((run / "train_config.json").read_text())["teacher"] == str(tiny_run)
    import csv

    with (run / "history.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert all(0.0 < float(r["auc"]) <= 1.0 for r in rows)  # training AUC against the hard labels, not 0


@pytest.mark.parametrize("extra, message", [
    (("--teacher", "nowhere"), "nowhere: teacher not found"),
    (("--teacher", "{run}", "--teacher-weight", "0"), "--teacher-weight must be in (0, 1]"),
])
def test_bad_teacher_options_are_one_line(tiny_run, tiny_data, tmp_path, monkeypatch, capsys, extra, message):
    extra = tuple(e.replace("{run}", str(tiny_run)) for e in extra)
    assert cli_main(_train_args(tiny_data, tmp_path / "s", "--epochs", "1", *extra), monkeypatch) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not (tmp_path / "s" / "model.keras").exists()
