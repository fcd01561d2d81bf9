"""ONNX static INT8 quantization: QDQ format, per-channel weights, calibrated on real crops.

Dynamic quantization is 4-5x slower on conv nets on CPU (STACK.md), so this is static:
`quant_pre_process` (shape inference + graph optimisation) first, then
`quantize_static` with activation ranges calibrated on images from the Train split,
read and preprocessed by the runtime's own path, because the calibration data decides
most of the INT8 error.
"""
from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from deepfake_edge.export.common import CPU_CHECK, artifact_contract, finish, load_keras, staged, target
from deepfake_edge.export.onnx import OPSET, embed_contract, fp32_onnx, save_onnx
from deepfake_edge.export.options import DEFAULT_CALIB_IMAGES, Int8Options
from deepfake_edge.runtime.contract import ModelContract
from deepfake_edge.runtime.errors import InputError

log = logging.getLogger(__name__)

CALIB_BATCH = 16


def calibration_batch(data: Path | None, contract: ModelContract, n_images: int = DEFAULT_CALIB_IMAGES,
                      purpose: str = "INT8 calibration") -> np.ndarray:
    """Up to `n_images` preprocessed Train images, balanced over Real and Fake."""
    from deepfake_edge.runtime.dataset import list_split, load_preprocessed

    if data is None:
        raise InputError(f"{purpose} needs face images: pass --data DIR (a folder with Train/Real and Train/Fake)")
    if n_images < 1:
        raise InputError(f"{purpose}: the number of calibration images must be at least 1, got {n_images}")
    paths, _ = list_split(data, "Train", max_per_class=max(1, n_images // 2))
    batch, _, errors = load_preprocessed(paths, contract)
    for err in errors[:5]:
        log.warning("calibration: skipped %s", err)
    if len(batch) == 0:
        raise InputError(f"{data}: no readable Train images for {purpose}")
    log.info("%s on %d Train images from %s", purpose, len(batch), data)
    return batch


@contextlib.contextmanager
def _working_directory(path):
    """Run a block in `path`: ONNX Runtime's shape inference saves a debug model
    (`sym_shape_infer_temp.onnx` + external data) into the working directory when it fails,
    which would litter the user's folder."""
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def quantize_onnx_int8(source: Path, dest: Path, calib: np.ndarray) -> None:
    """Pre-process, then statically quantize `source` to QDQ INT8 (per-channel) at `dest`."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class BatchReader(CalibrationDataReader):
        """Feeds the in-memory calibration batch, CALIB_BATCH images a call."""

        def __init__(self) -> None:
            self.pos = 0

        def get_next(self):
            if self.pos >= len(calib):
                return None
            chunk = calib[self.pos:self.pos + CALIB_BATCH]
            self.pos += CALIB_BATCH
            return {"input": chunk}

        def rewind(self) -> None:
            self.pos = 0

    reader = BatchReader()
    with tempfile.TemporaryDirectory(prefix="deepfake-edge-quant-") as tmp:
        prepped = Path(tmp) / "prepped.onnx"
        source = Path(source).resolve()  # before the working directory changes
        with _working_directory(tmp):
            quant_pre_process(str(source), str(prepped))
        quantize_static(
            str(prepped), str(dest), reader,
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
        )


def export_onnx_int8(run_dir: Path, contract: ModelContract, *, data: Path | None = None,
                     **options) -> Path:
    """model.onnx -> model.int8.onnx (static QDQ INT8, per-channel), calibrated on Train."""
    import onnx

    run_dir = Path(run_dir)
    calib = calibration_batch(data, contract, Int8Options.from_options(options).calib_images)
    source = fp32_onnx(run_dir, contract, data, **options)
    final = target(run_dir, "onnx-int8")
    with staged(final) as tmp:
        quantize_onnx_int8(source, tmp, calib)
        proto = onnx.load(str(tmp))
    stamped = artifact_contract(contract, "onnx-int8", onnx_opset=OPSET, source=source.name,
                                calibration={"images": int(len(calib)), "split": "Train",
                                             "method": "static QDQ per-channel MinMax"})
    embed_contract(proto, stamped)
    save_onnx(proto, final)
    return finish(run_dir, "onnx-int8", final, stamped, load_keras(run_dir), data, CPU_CHECK)
