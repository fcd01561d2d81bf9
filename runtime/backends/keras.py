"""Keras 3 backend (`.keras`, `.h5`): the reference every export is compared against.

`mode="predict"` uses `model.predict` (what most users call); `mode="function"` wraps
the model in one traced `tf.function`, the fast way to run Keras eagerly-built models.
"""
from __future__ import annotations

import numpy as np

from deepfake_edge.runtime.backends.base import Backend


def _check_archive(path) -> None:
    """A `.keras` file is a zip archive; a cut-off one is named as such (Keras says "File not found")."""
    import zipfile

    from deepfake_edge.runtime.errors import ModelFileError

    if path.suffix == ".keras":
        try:
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
        except (zipfile.BadZipFile, EOFError, OSError):
            raise ModelFileError(f"{path}: truncated or corrupt .keras file (not a complete zip archive)") from None
        if bad is not None:
            raise ModelFileError(f"{path}: corrupt .keras file ({bad} fails its checksum)")
    elif path.suffix == ".h5":
        with open(path, "rb") as f:
            if f.read(8) != b"\x89HDF\r\n\x1a\n":
                raise ModelFileError(f"{path}: not an HDF5 file (truncated or corrupt .h5 model)")


class KerasBackend(Backend):
    runtime_name = "keras"

    def _load(self) -> None:
        # heavy: Keras is imported only when a Keras model is actually opened
        from deepfake_edge.runtime.layers import load_keras_model

        _check_archive(self.path)
        self.model = load_keras_model(self.path)
        self.mode = self.options.mode
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

    def describe(self) -> str:
        return f"keras · {'predict' if self.mode == 'predict' else 'tf.function'}"
