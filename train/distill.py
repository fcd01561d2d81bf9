"""Knowledge distillation: train the edge model against a stronger teacher's soft labels.

`train --teacher RUN_DIR_OR_MODEL` opens the teacher through the runtime's own backends
(its fastest CPU artifact: `model.onnx` when the teacher run was exported, else
`model.keras`), so any run folder or artifact can teach, whatever its architecture,
input size or normalisation. The teacher labels every augmented Train batch *as the
student sees it* ("consistent teaching", Beyer et al. 2022: a teacher scoring the same
crop, flip and jitter as the student transfers far more than fixed labels computed once on
clean images the teacher has already fitted). Each batch's student input is turned back
into pixels, resized to the teacher's input size and normalised with the teacher's
contract; the teacher's answer, calibrated with its own temperature, is mixed with the
hard label:

    target = (1 - w) * one_hot(label) + w * teacher_probabilities,   w = --teacher-weight

and the student trains with its usual cross-entropy on that target (which, for soft
targets, is the distillation loss up to a constant). Validation keeps the hard labels,
so checkpoints and calibration are chosen by the same measure as without a teacher.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

import cv2
import numpy as np

from deepfake_edge.runtime.contract import ModelContract
from deepfake_edge.runtime.errors import InputError

log = logging.getLogger(__name__)

TEACHER_ARTIFACTS = ("onnx", "keras")  # what a teacher run folder is opened by, fastest first


def resolve_teacher(teacher: str | Path) -> Path:
    """The teacher's model file: the path itself, or a run folder's ONNX (else Keras) model."""
    from deepfake_edge.runtime.formats import artifact_path

    path = Path(teacher)
    if path.is_dir():
        for fmt in TEACHER_ARTIFACTS:
            candidate = artifact_path(path, fmt)
            if candidate.is_file():
                return candidate
        raise InputError(f"{path}: teacher run folder holds no model.onnx or model.keras")
    if not path.exists():
        raise InputError(f"{path}: teacher not found (give a run folder or a model file)")
    return path


class Teacher:
    """A model that labels student batches: `soft_targets(student_batch)` -> (N, 2) probabilities."""

    def __init__(self, teacher: str | Path, student: ModelContract):
        from deepfake_edge.runtime.backends import open_backend

        self.path = resolve_teacher(teacher)
        self.backend = open_backend(self.path)
        self.contract = self.backend.contract  # validated: same class order as every project model
        self.student = student
        self._lock = threading.Lock()  # tf.data may call from several threads; one session at a time
        log.info("teacher %s (%s, %d px, temperature %.3f)", self.path, self.backend.describe(),
                 self.contract.input_size, self.contract.temperature)

    def pixels(self, batch: np.ndarray) -> np.ndarray:
        """Student-normalised inputs back to 0..255 RGB crops (the inverse of `runtime.preprocess.normalize`)."""
        n = self.student.normalization
        x = (np.asarray(batch, np.float32) - np.asarray(n.offset, np.float32)) / np.asarray(n.scale, np.float32)
        if self.student.color_order != "RGB":
            x = x[..., ::-1]
        return np.clip(x, 0, 255)

    def soft_targets(self, batch: np.ndarray) -> np.ndarray:
        """The teacher's calibrated class probabilities for a batch of student inputs."""
        from deepfake_edge.runtime.preprocess import apply_temperature, normalize

        size = self.contract.input_size
        crops = self.pixels(batch)
        if crops.shape[1] != size:
            crops = np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_LINEAR) for c in crops])
        inputs = np.stack([normalize(c, self.contract) for c in crops]).astype(np.float32)
        with self._lock:
            probs = self.backend.predict(inputs)
        return apply_temperature(probs, self.contract.temperature).astype(np.float32)

    def close(self) -> None:
        self.backend.close()


def hard_label_auc():
    """Training AUC against the hard label inside a mixed target (Keras' AUC reads soft targets as 0).

    A target is `(1 - w) * label + w * p`, so its true class always holds at least 1 - w
    plus its share of p, and rounding recovers the label for any w <= 0.5 and for every
    target the teacher does not confidently contradict.
    """
    import keras

    @keras.saving.register_keras_serializable(package="deepfake_edge")
    class HardLabelAUC(keras.metrics.AUC):
        def update_state(self, y_true, y_pred, sample_weight=None):
            return super().update_state(keras.ops.round(y_true), y_pred, sample_weight)

    return HardLabelAUC(name="auc")


def check_teacher_weight(weight: float) -> float:
    if not 0.0 < float(weight) <= 1.0:
        raise InputError(f"--teacher-weight must be in (0, 1] (share of the target taken from the teacher), got {weight}")
    return float(weight)


def with_teacher(dataset, teacher: Teacher, weight: float):
    """A batched (x, one-hot y) dataset whose targets mix in the teacher's soft labels."""
    import tensorflow as tf

    check_teacher_weight(weight)

    def mix(x, y):
        soft = teacher.soft_targets(x)
        return ((1.0 - weight) * y + weight * soft).astype(np.float32)

    def tf_mix(x, y):
        target = tf.numpy_function(mix, [x, y], tf.float32, stateful=False)
        target.set_shape(y.shape)
        return x, target

    return dataset.map(tf_mix, num_parallel_calls=1, deterministic=True).prefetch(tf.data.AUTOTUNE)
