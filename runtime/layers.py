"""The project's own Keras layers, and the ONE way a `.keras` / `.h5` model is loaded.

A model trained with `--flip-average` holds `HorizontalFlip`, which Keras can rebuild
only once the class is registered; loading through `load_keras_model` (training's best
checkpoint, the Keras backend, export) registers it first, so no caller can forget.
Importing this module imports Keras: do it only where a Keras model is opened.
"""
from __future__ import annotations

from pathlib import Path

import keras


@keras.saving.register_keras_serializable(package="deepfake_edge")
class HorizontalFlip(keras.layers.Layer):
    """Mirror images left to right (NHWC): the fixed, deterministic flip of test-time averaging.

    Unlike `keras.layers.RandomFlip` it flips at inference too. It gathers the columns in
    reverse order, which exports as one ONNX `Gather`. With `keras.ops.flip`, tf2onnx wrote
    transposes around a `ReverseSequence` and the flip-averaged width-0.5 edge-net took
    0.66-0.71 ms at batch 1 instead of 0.56-0.61 (ONNX Runtime, 2 CPU cores; the plain
    network 0.26-0.28); a reversed slice was as fast, but ONNX Runtime's INT8 preparation
    could not infer its shapes.
    """

    def call(self, inputs):
        width = inputs.shape[2]
        if width is None:  # sized at run time: the generic (slower to export) reverse
            return keras.ops.flip(inputs, axis=2)
        return keras.ops.take(inputs, keras.ops.arange(width - 1, -1, -1, dtype="int32"), axis=2)

    def compute_output_shape(self, input_shape):
        return input_shape


def load_keras_model(path: str | Path):
    """`keras.models.load_model(path, compile=False)` with the project's layers registered."""
    return keras.models.load_model(path, compile=False)
