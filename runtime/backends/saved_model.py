"""TensorFlow SavedModel backend (the TF Serving export), through its serving signature."""
from __future__ import annotations

import numpy as np

from deepfake_edge.runtime.backends.base import Backend


class SavedModelBackend(Backend):
    runtime_name = "tf-saved-model"

    def _load(self) -> None:
        import tensorflow as tf

        self._obj = tf.saved_model.load(str(self.path))
        self._fn = self._obj.signatures["serving_default"]
        self._in_name, spec = next(iter(self._fn.structured_input_signature[1].items()))
        self._shape = spec.shape

    def _input_hw(self):
        return None if self._shape[1] is None else (int(self._shape[1]), int(self._shape[2]))

    def _predict(self, batch: np.ndarray) -> np.ndarray:
        out = self._fn(**{self._in_name: batch})
        return next(iter(out.values())).numpy()
