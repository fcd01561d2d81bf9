"""Keras 3 backend (`.keras`, `.h5`): the reference every export is compared against.

`mode="predict"` uses `model.predict` (what most users call); `mode="function"` wraps
the model in one traced `tf.function`, the fast way to run Keras eagerly-built models.
"""
from __future__ import annotations

import numpy as np

from deepfake_edge.runtime.backends.base import Backend


class KerasBackend(Backend):
    runtime_name = "keras"

    def _load(self) -> None:
        # heavy: Keras is imported only when a Keras model is actually opened
        from deepfake_edge.runtime.layers import load_keras_model

        self.model = load_keras_model(self.path)
        self.mode = self.options.get("mode", "function")
        if self.mode == "function":
            import tensorflow as tf

            self._fn = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True)

    def _input_hw(self):
        shape = self.model.inputs[0].shape
        return None if shape[1] is None else (int(shape[1]), int(shape[2]))

    def _predict(self, batch: np.ndarray) -> np.ndarray:
        if self.mode == "predict":
            return self.model.predict(batch, verbose=0)
        return self._fn(batch).numpy()

    @property
    def provider(self) -> str:
        return f"keras · {'predict' if self.mode == 'predict' else 'tf.function'}"
