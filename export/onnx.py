"""Keras -> ONNX (FP32, opset 17, dynamic batch) and its FP16-weights variant.

- `export_onnx`: tf2onnx `from_keras` with one input named `input` of shape
  (batch, H, W, 3), `onnx.checker`, then onnxslim when the slimmed graph is smaller AND
  still gives the same outputs; the contract is embedded in `metadata_props`.
- `export_onnx_fp16`: the FP32 ONNX with weights and compute in FP16 but FP32 inputs and
  outputs (Cast nodes at the edges). This is what TensorRT 11, whose networks are
  strongly typed, builds an FP16 engine from; it also runs on ONNX Runtime.
  The FP16 and INT8 steps start from `model.onnx` and write it first when it is missing.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from deepfake_edge.export.common import (
    CPU_CHECK,
    first_line,
    artifact_contract,
    check_inputs,
    finish,
    load_keras,
    staged,
    target,
)
from deepfake_edge.runtime.contract import ONNX_METADATA_KEY, ModelContract
from deepfake_edge.runtime.errors import ModelFileError

log = logging.getLogger(__name__)

OPSET = 17
INPUT_NAME = "input"


def embed_contract(model, contract: ModelContract) -> None:
    """Put the contract into the ONNX model's `metadata_props` (replacing an older one)."""
    keep = [(p.key, p.value) for p in model.metadata_props if p.key != ONNX_METADATA_KEY]
    del model.metadata_props[:]
    for key, value in [*keep, (ONNX_METADATA_KEY, contract.to_json())]:
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


def keras_to_onnx(model, contract: ModelContract):
    """In-memory ONNX ModelProto of a Keras model: opset 17, input `input`, dynamic batch."""
    import tensorflow as tf
    import tf2onnx

    size = contract.input_size
    spec = [tf.TensorSpec((None, size, size, 3), tf.float32, name=INPUT_NAME)]
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=OPSET)
    return proto


def _run_onnx(proto, batch: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: batch})[0]


def simplify(proto, batch: np.ndarray, atol: float = 1e-6):
    """onnxslim's version of the graph when it has fewer nodes and the same outputs, else `proto`."""
    try:
        import onnxslim

        slim = onnxslim.slim(proto)
    except Exception as exc:  # noqa: BLE001 - simplification is an optimisation, never a failure
        log.warning("onnxslim could not simplify the graph (%s); keeping the tf2onnx graph", first_line(exc))
        return proto
    before, after = len(proto.graph.node), len(slim.graph.node)
    if after >= before:
        log.info("onnxslim: no smaller graph (%d nodes); keeping the tf2onnx graph", before)
        return proto
    diff = float(np.max(np.abs(_run_onnx(slim, batch) - _run_onnx(proto, batch))))
    if diff > atol:
        log.warning("onnxslim changed the outputs by %.2e; keeping the tf2onnx graph", diff)
        return proto
    log.info("onnxslim: %d -> %d nodes, outputs unchanged (max |Δ| %.1e)", before, after, diff)
    return slim


def check_onnx_interface(proto, path: Path | str) -> None:
    """The interface every consumer relies on: one input `input` (batch, H, W, 3), dynamic batch."""
    inputs = [i for i in proto.graph.input if i.name not in {init.name for init in proto.graph.initializer}]
    if len(inputs) != 1 or inputs[0].name != INPUT_NAME:
        raise ModelFileError(f"{path}: expected one input named {INPUT_NAME!r}, got {[i.name for i in inputs]}")
    batch_dim = inputs[0].type.tensor_type.shape.dim[0]
    if batch_dim.HasField("dim_value"):
        raise ModelFileError(f"{path}: the batch dimension is fixed at {batch_dim.dim_value}; expected dynamic")


def save_onnx(proto, final: Path) -> None:
    import onnx

    with staged(final) as tmp:
        onnx.save_model(proto, str(tmp))
        onnx.checker.check_model(str(tmp))


def export_onnx(run_dir: Path, contract: ModelContract, *, data: Path | None = None, **options) -> Path:
    """model.keras -> model.onnx (FP32), checked, simplified when that is safe, contract embedded."""
    import onnx

    run_dir = Path(run_dir)
    model = load_keras(run_dir)
    final = target(run_dir, "onnx")
    proto = keras_to_onnx(model, contract)
    onnx.checker.check_model(proto)
    if options.get("simplify", True):
        proto = simplify(proto, check_inputs(contract, data))
    check_onnx_interface(proto, final)
    stamped = artifact_contract(contract, "onnx", onnx_opset=OPSET)
    proto.producer_name = "deepfake-edge"
    embed_contract(proto, stamped)
    save_onnx(proto, final)
    return finish(run_dir, "onnx", final, stamped, model, data, CPU_CHECK)


def fp32_onnx(run_dir: Path, contract: ModelContract, data: Path | None, **options) -> Path:
    """Path of the run's FP32 ONNX, exporting it first when it is not there yet."""
    path = target(run_dir, "onnx")
    if not path.is_file():
        log.info("%s is missing: exporting it first", path.name)
        export_onnx(run_dir, contract, data=data, **options)
    return path


def to_fp16(proto, source: str | Path = "ONNX model"):
    """FP16 weights and compute, FP32 graph inputs/outputs (ONNX Runtime's float16 converter).

    `source` names the file the graph came from, for error messages.
    """
    from onnxruntime.transformers.float16 import convert_float_to_float16

    converted = convert_float_to_float16(proto, keep_io_types=True)
    topological_sort(converted.graph, source)  # the converter appends its input Casts at the end
    return converted


def topological_sort(graph, source: str | Path = "ONNX model") -> None:
    """Reorder `graph.node` so every node comes after the nodes producing its inputs.

    `source` names the file the graph came from, for error messages.
    """
    available = {i.name for i in graph.input} | {init.name for init in graph.initializer} | {""}
    pending = list(graph.node)
    ordered = []
    while pending:
        ready = [n for n in pending if all(name in available for name in n.input)]
        if not ready:
            raise ModelFileError(f"{source}: ONNX graph has a cycle or an input no node produces: "
                                 + ", ".join(sorted({i for n in pending for i in n.input} - available))[:200])
        for node in ready:
            ordered.append(node)
            available.update(node.output)
        ready_ids = {id(n) for n in ready}
        pending = [n for n in pending if id(n) not in ready_ids]
    copies = [type(n)() for n in ordered]
    for copy, node in zip(copies, ordered):
        copy.CopyFrom(node)
    del graph.node[:]
    graph.node.extend(copies)


def export_onnx_fp16(run_dir: Path, contract: ModelContract, *, data: Path | None = None, **options) -> Path:
    """model.onnx -> model.fp16.onnx: FP16 weights, FP32 I/O (the TensorRT 11 FP16 input)."""
    import onnx

    run_dir = Path(run_dir)
    source = fp32_onnx(run_dir, contract, data, **options)
    final = target(run_dir, "onnx-fp16")
    proto = to_fp16(onnx.load(str(source)), source)
    check_onnx_interface(proto, final)
    stamped = artifact_contract(contract, "onnx-fp16", onnx_opset=OPSET, source=source.name)
    embed_contract(proto, stamped)
    save_onnx(proto, final)
    return finish(run_dir, "onnx-fp16", final, stamped, load_keras(run_dir), data, CPU_CHECK)
