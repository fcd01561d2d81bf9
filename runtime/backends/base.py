"""One backend interface for every runtime: open, predict on a batch, close.

Subclasses implement `_load`, `_predict` and `_input_hw`; the base owns the checks
(the file exists and is not empty, the model's input size agrees with its contract,
the batch is float32 NHWC of that size) and the timing, so every runtime is measured
the same way: `last_infer_ms` covers the runtime call and nothing else.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_edge.runtime.backends.options import BackendOptions
from deepfake_edge.runtime.contract import ModelContract, find_contract
from deepfake_edge.runtime.io import first_line
from deepfake_edge.runtime.errors import (
    DeepfakeEdgeError,
    MissingExtraError,
    ModelFileError,
    ModelRuntimeMissingError,
)


class Backend:
    """Base class. Use as a context manager or call `close()`."""

    runtime_name = "base"

    def __init__(self, path: str | Path, options: BackendOptions | None = None, *,
                 contract: ModelContract | None = None):
        self.path = Path(path)
        _check_file(self.path)
        self.contract = contract or find_contract(self.path)
        self.options = options or BackendOptions()
        self.last_infer_ms = float("nan")
        try:
            self._load()
        except MissingExtraError as exc:
            if isinstance(exc, ModelFileError):
                raise
            raise ModelRuntimeMissingError(self.path, exc) from exc  # still a MissingExtraError, now naming the file
        except DeepfakeEdgeError:
            raise  # already one clear line of its own kind (NoGpuError, ContractError, ...)
        except Exception as exc:  # noqa: BLE001 - the runtime's own error, reported in one line
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelFileError(f"{self.path}: cannot load as {self.runtime_name} model ({msg[:300]})") from exc
        hw = self._input_hw()
        want = (self.contract.input_size, self.contract.input_size)
        if hw is not None and tuple(hw) != want:
            self.close()
            raise ModelFileError(
                f"{self.path}: model input is {hw[0]}x{hw[1]} but its contract says {want[0]}x{want[1]}"
            )
        self._check_output()

    def _check_output(self) -> None:
        """Validated when opened, not when used: one input must give (1, classes) probabilities.

        A model exported from something else (logits, one sigmoid unit, another class count)
        would otherwise give plausible-looking but meaningless scores at the first frame.
        The sum is allowed 0.02 of slack: an INT8 model's quantized softmax sums to ~0.996.
        """
        size, classes = self.contract.input_size, len(self.contract.class_names)
        try:
            out = np.asarray(self._predict(np.zeros((1, size, size, 3), np.float32)), dtype=np.float64)
        except DeepfakeEdgeError:
            self.close()
            raise
        except Exception as exc:  # noqa: BLE001 - the runtime's own error, reported in one line
            self.close()
            raise ModelFileError(f"{self.path}: cannot run one {size}x{size} input "
                                 f"({type(exc).__name__}: {first_line(exc)})") from exc
        problem = None
        if out.shape not in ((1, classes), (classes,)):
            problem = f"outputs shape {tuple(out.shape)} for one input, not (1, {classes}) class probabilities"
        elif not np.all(np.isfinite(out)):
            problem = "outputs NaN or infinite values for one input (a broken conversion?)"
        elif out.min() < -0.01 or out.max() > 1.01 or abs(out.sum() - 1) > 0.02:
            problem = (f"outputs {np.round(out.ravel(), 4).tolist()} for one input, not probabilities summing to 1 "
                       "(a softmax over (Fake, Real))")
        if problem:
            self.close()
            raise ModelFileError(f"{self.path}: {problem}")

    # -- to implement -----------------------------------------------------------------
    def _load(self) -> None:
        raise NotImplementedError

    def _predict(self, batch: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _input_hw(self) -> tuple[int, int] | None:
        """(H, W) the model file declares, or None when it has no fixed size."""
        return None

    def _close(self) -> None:
        pass

    # -- public -----------------------------------------------------------------------
    def describe(self) -> str:
        """What really runs the model, for display: e.g. "onnxruntime · CPUExecutionProvider".

        Not what was asked for (`options.provider` is an alias going in): a GPU build can
        list CUDA and still run on the CPU, and this says which one runs.
        """
        return self.runtime_name

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Float32 (N, H, W, 3) preprocessed crops -> (N, 2) probabilities in contract order."""
        batch = np.asarray(batch)
        size = self.contract.input_size
        if batch.ndim != 4 or batch.shape[1:] != (size, size, 3):
            raise ValueError(f"expected a batch of shape (N, {size}, {size}, 3), got {batch.shape}")
        if batch.shape[0] == 0:
            return np.zeros((0, len(self.contract.class_names)), np.float32)
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        t0 = time.perf_counter()
        out = self._predict(batch)
        self.last_infer_ms = (time.perf_counter() - t0) * 1000.0
        out = np.asarray(out, dtype=np.float32).reshape(batch.shape[0], -1)
        return out

    def close(self) -> None:
        self._close()

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, runs={self.describe()!r})"


def _check_file(path: Path) -> None:
    """A model is a regular, non-empty file (or a SavedModel folder); one ModelFileError line otherwise."""
    from deepfake_edge.runtime.errors import InputError
    from deepfake_edge.runtime.io import check_regular_file, is_folder

    if is_folder(path):
        return  # a SavedModel folder: its backend checks its contents
    try:
        check_regular_file(path, "model")
    except InputError as exc:
        text = str(exc).replace(": file not found", ": model file not found").replace(
            ": empty model file (0 bytes)", ": model file is empty (0 bytes)")
        raise ModelFileError(text) from None
