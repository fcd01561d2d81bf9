"""LiteRT (TFLite) backend, run with ai-edge-litert's interpreter; no TensorFlow import.

Full-INT8 models keep float32 input/output here (the exporter converts with float I/O),
so the same preprocessed batch feeds every format. The interpreter is resized to the
batch size on demand and kept at that size for later calls.
"""
from __future__ import annotations

import numpy as np

from deepfake_edge.runtime.backends.base import Backend
from deepfake_edge.runtime.errors import require


class LiteRTBackend(Backend):
    runtime_name = "litert"

    def _load(self) -> None:
        interpreter_mod = require("ai_edge_litert.interpreter", package="ai-edge-litert", purpose="Running .tflite models")
        threads = self.options.get("threads")
        self.interp = interpreter_mod.Interpreter(model_path=str(self.path), num_threads=int(threads) if threads else None)
        self.interp.allocate_tensors()
        self._in = self.interp.get_input_details()[0]
        self._out = self.interp.get_output_details()[0]
        self._batch = int(self._in["shape"][0])

    def _input_hw(self):
        shape = self._in["shape"]
        return (int(shape[1]), int(shape[2]))

    def _quant_in(self, batch: np.ndarray) -> np.ndarray:
        scale, zero = self._in.get("quantization", (0.0, 0))
        if self._in["dtype"] in (np.int8, np.uint8) and scale:
            info = np.iinfo(self._in["dtype"])
            return np.clip(np.round(batch / scale + zero), info.min, info.max).astype(self._in["dtype"])
        return batch.astype(self._in["dtype"], copy=False)

    def _dequant_out(self, out: np.ndarray) -> np.ndarray:
        scale, zero = self._out.get("quantization", (0.0, 0))
        if self._out["dtype"] in (np.int8, np.uint8) and scale:
            return (out.astype(np.float32) - zero) * scale
        return out

    def _predict(self, batch: np.ndarray) -> np.ndarray:
        n = batch.shape[0]
        if n != self._batch:
            self.interp.resize_tensor_input(self._in["index"], [n, *self._in["shape"][1:]])
            self.interp.allocate_tensors()
            self._in = self.interp.get_input_details()[0]
            self._out = self.interp.get_output_details()[0]
            self._batch = n
        self.interp.set_tensor(self._in["index"], self._quant_in(batch))
        self.interp.invoke()
        return self._dequant_out(self.interp.get_tensor(self._out["index"]))

    @property
    def provider(self) -> str:
        return "litert · CPU (XNNPACK)"
