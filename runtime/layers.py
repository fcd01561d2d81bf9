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

    Unlike `keras.layers.RandomFlip` it flips at inference too, and it exports as one
    reverse/slice op (tf2onnx, LiteRT, TensorRT all support it).
    """

    def call(self, inputs):
        return keras.ops.flip(inputs, axis=2)

    def compute_output_shape(self, input_shape):
        return input_shape


def load_keras_model(path: str | Path):
    """`keras.models.load_model(path, compile=False)` with the project's layers registered."""
    return keras.models.load_model(path, compile=False)
