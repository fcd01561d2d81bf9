"""The deployable path never imports TensorFlow: runtime import, ONNX and LiteRT inference, face detection."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.facekit import face_model_or_skip, write_tiny_onnx

PROBE = r"""
import json, sys
import numpy as np
import deepfake_edge.runtime
after_import = "tensorflow" in sys.modules
from deepfake_edge.runtime.backends import open_backend
with open_backend(sys.argv[1]) as b:
    p = b.predict(np.zeros((2, 32, 32, 3), np.float32))
after_inference = "tensorflow" in sys.modules
after_faces = None
if len(sys.argv) > 2:
    from deepfake_edge.runtime.detector import Detector
    with Detector.from_path(sys.argv[1], face_model=sys.argv[2]) as det:
        det.detect(np.full((64, 64, 3), 100, np.uint8))
    after_faces = "tensorflow" in sys.modules
print(json.dumps({"import": after_import, "inference": after_inference, "faces": after_faces, "shape": list(p.shape)}))
"""


def _probe(*args):
    out = subprocess.run([sys.executable, "-c", PROBE, *map(str, args)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_runtime_and_onnx_inference_do_not_import_tensorflow(tmp_path):
    result = _probe(write_tiny_onnx(tmp_path / "model.onnx"))
    assert result == {"import": False, "inference": False, "faces": None, "shape": [2, 2]}


def test_mediapipe_face_detection_does_not_import_tensorflow(tmp_path):
    result = _probe(write_tiny_onnx(tmp_path / "model.onnx"), face_model_or_skip())
    assert result["faces"] is False and result["inference"] is False


def _write_tiny_tflite(path):
    """A 2-class .tflite model converted here, in the test process (conversion needs TensorFlow;
    loading and running it must not)."""
    import keras
    import tensorflow as tf

    from deepfake_edge.runtime.contract import ModelContract, sidecar_path

    inputs = keras.Input((32, 32, 3))
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling2D()(inputs))
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(keras.Model(inputs, outputs)).convert())
    ModelContract(input_size=32, format="tflite").save(sidecar_path(path))
    return path


def test_litert_inference_does_not_import_tensorflow(tmp_path):
    result = _probe(_write_tiny_tflite(tmp_path / "model.tflite"))
    assert result == {"import": False, "inference": False, "faces": None, "shape": [2, 2]}
