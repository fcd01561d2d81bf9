"""ONNX Runtime backend (`.onnx`, FP32 / FP16 / INT8), with explicit provider choice.

`provider="auto"` asks for TensorRT EP -> CUDA EP -> CPU in that order, keeping only
the ones the installed build offers. onnxruntime-gpu lists GPU providers even on a
machine without a GPU and then silently runs on CPU, so `provider` reports what
`session.get_providers()` says is really in use, not what was asked for.
"""
from __future__ import annotations

import numpy as np

from deepfake_edge.runtime.backends.base import Backend
from deepfake_edge.runtime.errors import InputError

PROVIDER_ALIASES = {
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
AUTO_ORDER = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


def choose_providers(requested: str, available: list[str]) -> list[str]:
    """Providers to ask ONNX Runtime for, best first; CPU is always the last resort."""
    if requested == "auto":
        chosen = [p for p in AUTO_ORDER if p in available]
    else:
        name = PROVIDER_ALIASES.get(requested.lower(), requested)
        if name not in available:
            raise InputError(
                f"ONNX Runtime provider {requested!r} is not available here (available: {', '.join(available)});"
                " GPU providers need the 'gpu' extra (onnxruntime-gpu)"
            )
        chosen = [name]
    if "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    return chosen


class OnnxRuntimeBackend(Backend):
    runtime_name = "onnxruntime"

    def _load(self) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if self.options.threads:
            opts.intra_op_num_threads = self.options.threads
        opts.log_severity_level = 3
        providers = choose_providers(self.options.provider, ort.get_available_providers())
        self.session = ort.InferenceSession(str(self.path), sess_options=opts, providers=providers)
        inp = self.session.get_inputs()[0]
        self._in_name = inp.name
        self._in_shape = inp.shape
        self._out_name = self.session.get_outputs()[0].name

    def _input_hw(self):
        h, w = self._in_shape[1], self._in_shape[2]
        return (h, w) if isinstance(h, int) and isinstance(w, int) else None

    def _predict(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run([self._out_name], {self._in_name: batch})[0]

    @property
    def active_providers(self) -> list[str]:
        return list(self.session.get_providers())

    def describe(self) -> str:
        return f"onnxruntime · {self.active_providers[0]}"
