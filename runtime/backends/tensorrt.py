"""TensorRT engine backend (`.engine` / `.plan`), thin on purpose: checkable against
TensorRT's documented Python API (10.x and 11.x).

- Engines are tied to the TensorRT version and (unless built with `AMPERE_PLUS`
  hardware compatibility) to the GPU model that built them. The build records both in
  the engine's sidecar (`model.engine.json` = {"contract": ..., "build": ...}); this
  backend refuses a mismatching engine with one clear line instead of a CUDA error.
- Inference uses named I/O tensors: `set_input_shape`, `set_tensor_address`,
  `execute_async_v3` on one CUDA stream. Device buffers (cuda-python,
  `cuda.bindings.runtime`) are allocated once for the engine's largest profile batch
  and reused by every call; bigger batches are split into chunks of that size.
- CUDA events around the copies and the execution give `last_stage_ms` (h2d, compute,
  d2h), so benchmarks can report host<->device copies separately.
- Without TensorRT / cuda-python the error names the `gpu` extra.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_edge.runtime.backends.base import Backend
from deepfake_edge.runtime.contract import sidecar_path
from deepfake_edge.runtime.errors import DeepfakeEdgeError, ModelFileError, NoGpuError, require

log = logging.getLogger(__name__)

HARDWARE_COMPAT = ("none", "ampere_plus")


def import_tensorrt(purpose: str):
    """(tensorrt, cuda.bindings.runtime), or MissingExtraError naming the `gpu` extra."""
    trt = require("tensorrt", package="tensorrt", extra="gpu", purpose=purpose)
    cudart = require("cuda.bindings.runtime", package="cuda-python", extra="gpu", purpose=purpose)
    return trt, cudart


def cuda_check(result, what: str):
    """Unwrap a cuda-python `(error, value...)` tuple, raising on any error code."""
    err, *values = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise DeepfakeEdgeError(f"CUDA call {what} failed with {err}")
    return values[0] if len(values) == 1 else (tuple(values) or None)


def gpu_identity(cudart) -> dict[str, str]:
    """Name and compute capability of the current CUDA device; a clear error when there is none."""
    err, count = cudart.cudaGetDeviceCount()
    if int(err) != 0 or count < 1:
        raise NoGpuError(
            f"no CUDA GPU is available ({err}); TensorRT engines need an NVIDIA GPU and the 'gpu' extra: "
            "pip install 'deepfake-edge[gpu]'"
        )
    device = cuda_check(cudart.cudaGetDevice(), "cudaGetDevice")
    prop = cuda_check(cudart.cudaGetDeviceProperties(device), "cudaGetDeviceProperties")
    name = prop.name.decode(errors="replace") if isinstance(prop.name, bytes) else str(prop.name)
    return {"gpu_name": name.rstrip("\x00").strip(), "compute_capability": f"{prop.major}.{prop.minor}"}


def read_build_info(engine_path: Path) -> dict[str, Any]:
    """The `build` record from an engine's sidecar, or {} when the sidecar has none."""
    side = sidecar_path(engine_path)
    if not side.is_file():
        return {}
    try:
        data = json.loads(side.read_text())
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{side}: not valid JSON ({exc.msg})") from exc
    build = data.get("build") if isinstance(data, dict) else None
    return build if isinstance(build, dict) else {}


def check_engine_compatible(engine_path: Path, build: dict[str, Any], here: dict[str, str]) -> None:
    """Refuse an engine built with another TensorRT version or for another GPU.

    `here` holds this machine's `gpu_name`, `compute_capability` and `tensorrt_version`.
    An `ampere_plus` engine runs on any GPU of compute capability 8.0 or newer.
    """
    if not build:
        log.warning("%s: no build record in its sidecar; cannot check GPU/TensorRT compatibility", engine_path)
        return
    rebuild = "rebuild it on this machine with `deepfake-edge export RUN_DIR --formats engine`"
    built_trt, here_trt = str(build.get("tensorrt_version", "")), str(here.get("tensorrt_version", ""))
    if built_trt and built_trt != here_trt:
        raise ModelFileError(
            f"{engine_path}: engine was built with TensorRT {built_trt} but this machine has TensorRT {here_trt}; {rebuild}"
        )
    if build.get("hardware_compat", "none") == "ampere_plus":
        major = int(str(here.get("compute_capability", "0.0")).split(".")[0])
        if major < 8:
            raise ModelFileError(
                f"{engine_path}: engine was built for Ampere or newer GPUs but {here.get('gpu_name')} has compute "
                f"capability {here.get('compute_capability')}; {rebuild}"
            )
        return
    built_gpu = str(build.get("gpu_name", ""))
    if built_gpu and built_gpu != here.get("gpu_name"):
        raise ModelFileError(
            f"{engine_path}: engine was built for {built_gpu} (compute capability {build.get('compute_capability')}) "
            f"but this GPU is {here.get('gpu_name')} ({here.get('compute_capability')}); {rebuild} "
            "or build it with --hardware-compat ampere_plus"
        )


class TensorRTBackend(Backend):
    runtime_name = "tensorrt"

    def _load(self) -> None:
        trt, cudart = import_tensorrt("Running a TensorRT engine")
        self._trt, self._cudart = trt, cudart
        self._buffers: list[int] = []
        self._stream = None
        here = gpu_identity(cudart) | {"tensorrt_version": trt.__version__}
        self.gpu = here
        check_engine_compatible(self.path, read_build_info(self.path), here)

        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self.engine = self._runtime.deserialize_cuda_engine(self.path.read_bytes())
        if self.engine is None:
            raise ModelFileError(f"{self.path}: TensorRT could not deserialize the engine (corrupt, or another TensorRT version)")
        self.context = self.engine.create_execution_context()

        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelFileError(f"{self.path}: expected one input and one output tensor, got {inputs} and {outputs}")
        self._in, self._out = inputs[0], outputs[0]
        self._in_dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(self._in)))
        self._out_dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(self._out)))
        self._in_shape = tuple(self.engine.get_tensor_shape(self._in))  # (-1, H, W, 3)
        out_shape = tuple(self.engine.get_tensor_shape(self._out))  # (-1, 2)
        _, _, max_shape = self.engine.get_tensor_profile_shape(self._in, 0)
        self.max_batch = int(max_shape[0])
        self._out_row = int(np.prod(out_shape[1:]))

        # One stream and one pair of device buffers, sized for the largest batch, reused by every call.
        self._stream = cuda_check(cudart.cudaStreamCreate(), "cudaStreamCreate")
        in_bytes = self.max_batch * int(np.prod(self._in_shape[1:])) * self._in_dtype.itemsize
        out_bytes = self.max_batch * self._out_row * self._out_dtype.itemsize
        self._d_in = cuda_check(cudart.cudaMalloc(in_bytes), "cudaMalloc")
        self._buffers.append(self._d_in)
        self._d_out = cuda_check(cudart.cudaMalloc(out_bytes), "cudaMalloc")
        self._buffers.append(self._d_out)
        self.context.set_tensor_address(self._in, int(self._d_in))
        self.context.set_tensor_address(self._out, int(self._d_out))
        # CUDA events split each call into copy-in / compute / copy-out without extra host syncs.
        self._events = [cuda_check(cudart.cudaEventCreate(), "cudaEventCreate") for _ in range(4)]
        self.last_stage_ms: dict[str, float] = {}

    def _input_hw(self):
        h, w = self._in_shape[1], self._in_shape[2]
        return (int(h), int(w)) if h > 0 and w > 0 else None

    def _run_chunk(self, chunk: np.ndarray) -> np.ndarray:
        cudart = self._cudart
        n = chunk.shape[0]
        host_in = np.ascontiguousarray(chunk, dtype=self._in_dtype)
        host_out = np.empty((n, self._out_row), self._out_dtype)
        if not self.context.set_input_shape(self._in, tuple(host_in.shape)):
            raise ModelFileError(f"{self.path}: engine rejects input shape {host_in.shape}")
        ev = self._events
        cuda_check(cudart.cudaEventRecord(ev[0], self._stream), "cudaEventRecord")
        cuda_check(cudart.cudaMemcpyAsync(self._d_in, host_in.ctypes.data, host_in.nbytes,
                                          cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, self._stream), "cudaMemcpyAsync")
        cuda_check(cudart.cudaEventRecord(ev[1], self._stream), "cudaEventRecord")
        if not self.context.execute_async_v3(int(self._stream)):
            raise ModelFileError(f"{self.path}: TensorRT execution failed")
        cuda_check(cudart.cudaEventRecord(ev[2], self._stream), "cudaEventRecord")
        cuda_check(cudart.cudaMemcpyAsync(host_out.ctypes.data, self._d_out, host_out.nbytes,
                                          cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost, self._stream), "cudaMemcpyAsync")
        cuda_check(cudart.cudaEventRecord(ev[3], self._stream), "cudaEventRecord")
        cuda_check(cudart.cudaStreamSynchronize(self._stream), "cudaStreamSynchronize")
        self.last_stage_ms = {
            name: float(cuda_check(cudart.cudaEventElapsedTime(ev[i], ev[i + 1]), "cudaEventElapsedTime"))
            for i, name in enumerate(("h2d_ms", "compute_ms", "d2h_ms"))
        }
        return host_out

    def _predict(self, batch: np.ndarray) -> np.ndarray:
        chunks = [self._run_chunk(batch[i:i + self.max_batch]) for i in range(0, len(batch), self.max_batch)]
        return np.concatenate(chunks).astype(np.float32, copy=False)

    def _close(self) -> None:
        cudart = getattr(self, "_cudart", None)
        if cudart is None:
            return
        for ptr in getattr(self, "_buffers", []):
            cudart.cudaFree(ptr)
        self._buffers = []
        for event in getattr(self, "_events", []):
            cudart.cudaEventDestroy(event)
        self._events = []
        if getattr(self, "_stream", None) is not None:
            cudart.cudaStreamDestroy(self._stream)
            self._stream = None

    def describe(self) -> str:
        gpu = getattr(self, "gpu", {})
        return f"tensorrt {gpu.get('tensorrt_version', '?')} · {gpu.get('gpu_name', 'GPU')}"
