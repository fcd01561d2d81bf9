"""`export --formats triton`: the run as a Triton Inference Server model repository.

Triton serves a folder of models, each `<name>/config.pbtxt` plus numbered versions
(`<name>/1/model.onnx`). This step writes that folder from the run's exported ONNX (and,
when `model.engine` exists, a second model under Triton's TensorRT platform):

    model_repository/
      README.md                                  the `tritonserver` command, inputs, outputs
      deepfake_edge/config.pbtxt                 platform onnxruntime_onnx
      deepfake_edge/labels.txt                   class names in output order (Fake, Real)
      deepfake_edge/1/model.onnx
      deepfake_edge_tensorrt/config.pbtxt        platform tensorrt_plan (only with model.engine)
      deepfake_edge_tensorrt/1/model.plan

Input/output names, dtypes and dims are read from the ONNX model itself (ONNX Runtime
session metadata) and checked against the contract's input size; the batch dimension is
Triton's (`max_batch_size`), served with dynamic batching. The whole contract rides along
as a model parameter (`deepfake_edge_contract`, JSON) and its preprocessing fields as
flat parameters, so a client can crop, normalise and threshold exactly as `detect` does.

The config text is written here (no Triton package is needed to export); where the
`scale` extra's `tritonclient` is installed, it is parsed with Triton's own model-config
protobuf before it is kept, as the tests do.
"""
from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from deepfake_edge.export.common import staged, target
from deepfake_edge.export.options import TritonOptions
from deepfake_edge.runtime.contract import ModelContract, sidecar_path
from deepfake_edge.runtime.errors import InputError, ModelFileError

log = logging.getLogger(__name__)
MODEL_NAME = "deepfake_edge"
ENGINE_MODEL_NAME = "deepfake_edge_tensorrt"
CONTRACT_PARAMETER = "deepfake_edge_contract"
# ONNX Runtime's tensor type strings -> Triton's DataType names
TRITON_TYPES = {"tensor(float)": "TYPE_FP32", "tensor(float16)": "TYPE_FP16", "tensor(uint8)": "TYPE_UINT8",
                "tensor(int8)": "TYPE_INT8", "tensor(int32)": "TYPE_INT32", "tensor(int64)": "TYPE_INT64"}


@dataclass(frozen=True)
class Tensor:
    name: str
    data_type: str  # Triton DataType name
    dims: tuple[int, ...]  # without the batch dimension


def onnx_interface(path: Path) -> tuple[list[Tensor], list[Tensor]]:
    """The ONNX model's real inputs and outputs (batch dimension dropped), from ONNX Runtime."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - any ORT failure is a bad model file
        raise ModelFileError(f"{path}: ONNX Runtime cannot open it ({str(exc).splitlines()[0][:160]})") from None

    def tensors(items) -> list[Tensor]:
        out = []
        for t in items:
            if t.type not in TRITON_TYPES:
                raise ModelFileError(f"{path}: tensor {t.name!r} has type {t.type}, which Triton config does not map")
            dims = tuple(int(d) if isinstance(d, int) else -1 for d in t.shape[1:])
            out.append(Tensor(t.name, TRITON_TYPES[t.type], dims))
        return out

    return tensors(session.get_inputs()), tensors(session.get_outputs())


def _check_interface(path: Path, inputs: list[Tensor], outputs: list[Tensor], contract: ModelContract) -> None:
    if len(inputs) != 1 or len(outputs) != 1:
        raise ModelFileError(f"{path}: expected one input and one output, found {len(inputs)} and {len(outputs)}")
    if inputs[0].dims != contract.input_shape:
        raise ModelFileError(f"{path}: input dims {inputs[0].dims} disagree with the contract's {contract.input_shape}")
    if outputs[0].dims != (len(contract.class_names),):
        raise ModelFileError(f"{path}: output dims {outputs[0].dims} are not ({len(contract.class_names)},)")


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # JSON escapes quotes, backslashes and newlines as text format does


def contract_parameters(contract: ModelContract) -> dict[str, str]:
    """Triton model parameters (string values) that carry the contract."""
    n = contract.normalization
    return {
        CONTRACT_PARAMETER: json.dumps(contract.to_dict(), sort_keys=True),
        "class_names": ",".join(contract.class_names),
        "input_size": str(contract.input_size),
        "color_order": contract.color_order,
        "layout": contract.layout,
        "normalization_scale": ",".join(f"{v:.9g}" for v in n.scale),  # input = pixel (0..255) * scale + offset
        "normalization_offset": ",".join(f"{v:.9g}" for v in n.offset),
        "threshold": f"{contract.threshold:g}",
        "temperature": f"{contract.temperature:g}",
    }


def config_text(name: str, platform: str, model_file: str, inputs: list[Tensor], outputs: list[Tensor],
                contract: ModelContract, max_batch: int, opts: TritonOptions) -> str:
    """One model's config.pbtxt in protobuf text format (Triton's `inference.ModelConfig`)."""
    def tensor(t: Tensor, extra: str = "") -> str:
        return (f"  {{\n    name: {_quote(t.name)}\n    data_type: {t.data_type}\n"
                f"    dims: [ {', '.join(str(d) for d in t.dims)} ]\n{extra}  }}")

    lines = [f"name: {_quote(name)}", f"platform: {_quote(platform)}", f"max_batch_size: {max_batch}",
             f"default_model_filename: {_quote(model_file)}",
             "input [\n" + tensor(inputs[0], "    format: FORMAT_NHWC\n") + "\n]",
             "output [\n" + tensor(outputs[0], '    label_filename: "labels.txt"\n') + "\n]"]
    preferred = sorted({b for b in (4, 8, 16, max_batch) if b <= max_batch})
    lines.append(f"dynamic_batching {{\n  preferred_batch_size: [ {', '.join(map(str, preferred))} ]\n"
                 f"  max_queue_delay_microseconds: {opts.queue_delay_us}\n}}")
    kind = {"auto": "KIND_AUTO", "cpu": "KIND_CPU", "gpu": "KIND_GPU"}[opts.instance_kind]
    if platform == "tensorrt_plan":
        kind = "KIND_GPU"
    lines.append(f"instance_group [\n  {{\n    count: {opts.instances}\n    kind: {kind}\n  }}\n]")
    for key, value in contract_parameters(contract).items():
        lines.append(f"parameters {{\n  key: {_quote(key)}\n  value: {{ string_value: {_quote(value)} }}\n}}")
    return "\n".join(lines) + "\n"


def parse_config(text: str, source: str = "config.pbtxt"):
    """Parse config text with Triton's own model-config protobuf (`tritonclient`, the `scale` extra).

    `tritonclient.grpc` imports grpcio on import; only its generated `model_config_pb2` is
    needed, so that one file is loaded by path, without the gRPC client around it.
    """
    import importlib.util

    from google.protobuf import text_format

    from deepfake_edge.runtime.errors import require

    spec = importlib.util.find_spec("tritonclient")
    if spec is None or not spec.submodule_search_locations:
        require("tritonclient", package="tritonclient", extra="scale", purpose="Checking a Triton config")
    pb2_file = Path(next(iter(spec.submodule_search_locations))) / "grpc" / "model_config_pb2.py"
    module_spec = importlib.util.spec_from_file_location("deepfake_edge_triton_model_config_pb2", pb2_file)
    pb2 = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(pb2)
    try:
        return text_format.Parse(text, pb2.ModelConfig())
    except text_format.ParseError as exc:
        raise ModelFileError(f"{source}: not a valid Triton model config ({exc})") from None


def _engine_model(run_dir: Path) -> tuple[Path, dict] | None:
    engine = target(run_dir, "engine")
    side = sidecar_path(engine)
    if not (engine.is_file() and side.is_file()):
        return None
    return engine, json.loads(side.read_text()).get("build", {})


def readme_text(contract: ModelContract, inputs: list[Tensor], outputs: list[Tensor], models: list[str]) -> str:
    n = contract.normalization
    return "\n".join([
        "# Triton model repository (written by `deepfake-edge export --formats triton`)", "",
        "Serve it with NVIDIA Triton Inference Server (the container `nvcr.io/nvidia/tritonserver:<yy.mm>-py3`):", "",
        "```bash",
        "docker run --rm -p 8000:8000 -p 8001:8001 -p 8002:8002 -v $PWD:/models \\",
        "  nvcr.io/nvidia/tritonserver:<yy.mm>-py3 tritonserver --model-repository=/models",
        "```", "",
        f"Models: {', '.join(f'`{m}`' for m in models)}. Each takes `{inputs[0].name}` ({inputs[0].data_type}, "
        f"batch x {' x '.join(map(str, inputs[0].dims))}, NHWC, {contract.color_order}) and returns "
        f"`{outputs[0].name}` ({outputs[0].data_type}, batch x {outputs[0].dims[0]}): softmax probabilities in the "
        f"order {', '.join(contract.class_names)} (`labels.txt`).", "",
        f"Preprocess as `deepfake-edge detect` does: crop the face by the contract's crop rule, resize to "
        f"{contract.input_size} x {contract.input_size}, then per channel input = pixel (0..255) x scale + offset "
        f"with scale {[round(v, 9) for v in n.scale]} and offset {[round(v, 9) for v in n.offset]}. Calibrated fake probability: softmax(log(p) / temperature) with temperature "
        f"{contract.temperature:g}; label Fake when it is >= {contract.threshold:g}. Every field is in the model "
        f"parameter `{CONTRACT_PARAMETER}` (the contract as JSON).", "",
        "A TensorRT model is only served by a Triton whose TensorRT version and GPU match the ones the engine "
        "was built with (its build record is in the run folder's `model.engine.json`).", ""])


def export_triton(run_dir: Path, contract: ModelContract, *, data: Path | None = None, **options) -> Path:
    """The run's ONNX (exported first if missing) and engine (if present) as a Triton model repository."""
    from deepfake_edge.export.onnx import fp32_onnx
    from deepfake_edge.runtime.extras import is_installed

    opts = TritonOptions.from_options(options)
    run_dir = Path(run_dir)
    onnx_path = fp32_onnx(run_dir, contract, data)
    inputs, outputs = onnx_interface(onnx_path)
    _check_interface(onnx_path, inputs, outputs, contract)
    final = target(run_dir, "triton")
    with staged(final) as tmp:
        models = {MODEL_NAME: ("onnxruntime_onnx", "model.onnx", onnx_path, opts.max_batch)}
        engine = _engine_model(run_dir)
        if engine is not None:
            models[ENGINE_MODEL_NAME] = ("tensorrt_plan", "model.plan", engine[0], int(engine[1].get("max_batch", 8)))
        for name, (platform, filename, source, max_batch) in models.items():
            (tmp / name / "1").mkdir(parents=True)
            shutil.copyfile(source, tmp / name / "1" / filename)
            (tmp / name / "labels.txt").write_text("\n".join(contract.class_names) + "\n")
            text = config_text(name, platform, filename, inputs, outputs, contract, max_batch, opts)
            if is_installed("tritonclient"):
                parse_config(text, f"{final / name / 'config.pbtxt'}")
            (tmp / name / "config.pbtxt").write_text(text)
        (tmp / "README.md").write_text(readme_text(contract, inputs, outputs, list(models)))
    log.info("triton: %s holds %s", final, ", ".join(models))
    return final
