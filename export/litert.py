"""Keras -> LiteRT (.tflite): FP32, FP16 weights, and full INT8 with float I/O.

Converted with TensorFlow's `TFLiteConverter.from_keras_model` and checked by running
the result through ai-edge-litert's interpreter (the runtime backend). The INT8 model
quantizes every op, calibrated on Train images preprocessed by the runtime, and keeps
float32 input and output so the same preprocessed batch feeds every format.
"""
from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

from deepfake_edge.export.common import artifact_contract, finish, load_keras, staged, target
from deepfake_edge.export.options import Int8Options
from deepfake_edge.export.quantize import calibration_batch
from deepfake_edge.runtime.contract import ModelContract

log = logging.getLogger(__name__)


def _convert(model, configure=None) -> bytes:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if configure is not None:
        configure(converter, tf)
    chatter = io.StringIO()  # the converter prints its temporary SavedModel's signature
    with contextlib.redirect_stdout(chatter):
        result = converter.convert()
    log.debug("TFLite converter output:\n%s", chatter.getvalue())
    return result


def _write(run_dir: Path, fmt_name: str, contract: ModelContract, model, data, tflite_bytes: bytes,
           **provenance) -> Path:
    final = target(run_dir, fmt_name)
    with staged(final) as tmp:
        tmp.write_bytes(tflite_bytes)
    stamped = artifact_contract(contract, fmt_name, **provenance)
    return finish(Path(run_dir), fmt_name, final, stamped, model, data)


def export_tflite(run_dir: Path, contract: ModelContract, *, data: Path | None = None, **options) -> Path:
    """model.keras -> model.tflite (FP32)."""
    model = load_keras(run_dir)
    return _write(Path(run_dir), "tflite", contract, model, data, _convert(model))


def export_tflite_fp16(run_dir: Path, contract: ModelContract, *, data: Path | None = None, **options) -> Path:
    """model.keras -> model.fp16.tflite (FP16 weights, dequantized to FP32 on CPU)."""
    def configure(converter, tf):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]

    model = load_keras(run_dir)
    return _write(Path(run_dir), "tflite-fp16", contract, model, data, _convert(model, configure))


def export_tflite_int8(run_dir: Path, contract: ModelContract, *, data: Path | None = None,
                       **options) -> Path:
    """model.keras -> model.int8.tflite: full INT8 ops, float32 I/O, calibrated on Train."""
    calib = calibration_batch(data, contract, Int8Options.from_options(options).calib_images,
                              purpose="LiteRT INT8 calibration")

    def representative():
        for image in calib:
            yield [image[None]]

    def configure(converter, tf):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.float32
        converter.inference_output_type = tf.float32

    model = load_keras(run_dir)
    return _write(Path(run_dir), "tflite-int8", contract, model, data, _convert(model, configure),
                  calibration={"images": int(len(calib)), "split": "Train", "method": "TFLite full-integer"})
