"""`export --formats triton`: a Triton model repository whose config Triton's own schema accepts."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.export_helpers import run_command

pytest.importorskip("tritonclient", reason="tritonclient (the `scale` extra) ships Triton's model-config schema")


@pytest.fixture(scope="module")
def repository(tmp_path_factory, tiny_run):
    import shutil

    run = tmp_path_factory.mktemp("triton") / "run"
    shutil.copytree(tiny_run, run)
    assert run_command("export", [str(run), "--formats", "triton", "--triton-max-batch", "16",
                                  "--triton-instance-kind", "cpu"]) == 0
    return run


def _config(repository, name="deepfake_edge"):
    from deepfake_edge.export.triton import parse_config

    return parse_config((repository / "model_repository" / name / "config.pbtxt").read_text())


def test_the_repository_has_triton_layout_and_the_run_onnx(repository):
    repo = repository / "model_repository"
    model = repo / "deepfake_edge"
    assert sorted(p.name for p in repo.iterdir()) == ["README.md", "deepfake_edge"]  # no engine: no TensorRT model
    assert (model / "1" / "model.onnx").read_bytes() == (repository / "model.onnx").read_bytes()
    assert (model / "labels.txt").read_text().split() == ["Fake", "Real"]
    assert "tritonserver --model-repository=" in (repo / "README.md").read_text()


def test_config_matches_the_onnx_models_real_inputs_and_outputs(repository):
    import onnxruntime as ort

    from deepfake_edge.runtime.contract import ModelContract

    cfg = _config(repository)
    session = ort.InferenceSession(str(repository / "model.onnx"), providers=["CPUExecutionProvider"])
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    contract = ModelContract.load(repository / "contract.json")
    assert cfg.name == "deepfake_edge" and cfg.platform == "onnxruntime_onnx" and cfg.max_batch_size == 16
    assert [i.name for i in cfg.input] == [inp.name] and [o.name for o in cfg.output] == [out.name]
    assert list(cfg.input[0].dims) == list(inp.shape[1:]) == [contract.input_size, contract.input_size, 3]
    assert list(cfg.output[0].dims) == [2]
    assert cfg.input[0].data_type == cfg.output[0].data_type == 11  # TYPE_FP32
    assert cfg.dynamic_batching.max_queue_delay_microseconds == 500
    assert list(cfg.dynamic_batching.preferred_batch_size) == [4, 8, 16]
    assert cfg.instance_group[0].kind == 2  # KIND_CPU


def test_config_carries_the_contract(repository):
    from deepfake_edge.runtime.contract import ModelContract

    params = {k: v.string_value for k, v in _config(repository).parameters.items()}
    contract = ModelContract.load(repository / "contract.json")
    carried = ModelContract.from_json(params["deepfake_edge_contract"], source="config.pbtxt")
    assert carried.input_size == contract.input_size and carried.threshold == contract.threshold
    assert params["class_names"] == "Fake,Real" and params["input_size"] == str(contract.input_size)
    scale = np.array([float(v) for v in params["normalization_scale"].split(",")])
    assert np.allclose(scale, contract.normalization.scale)


def test_an_engine_in_the_run_adds_a_tensorrt_model(tmp_path, repository):
    import shutil

    from deepfake_edge.export.triton import export_triton
    from deepfake_edge.runtime.contract import ModelContract

    run = tmp_path / "run"
    shutil.copytree(repository, run)
    (run / "model.engine").write_bytes(b"serialized engine bytes")
    (run / "model.engine.json").write_text(json.dumps({"contract": {}, "build": {"max_batch": 8}}))
    export_triton(run, ModelContract.load(run / "contract.json"))
    cfg = _config(run, "deepfake_edge_tensorrt")
    assert cfg.platform == "tensorrt_plan" and cfg.max_batch_size == 8 and cfg.instance_group[0].kind == 1  # GPU
    assert (run / "model_repository" / "deepfake_edge_tensorrt" / "1" / "model.plan").read_bytes() == \
        b"serialized engine bytes"


def test_a_bad_config_is_a_one_line_error():
    from deepfake_edge.export.triton import parse_config
    from deepfake_edge.runtime.errors import ModelFileError

    with pytest.raises(ModelFileError, match=r"^x/config.pbtxt: not a valid Triton model config"):
        parse_config('name: "m"\nmax_batch_size: "eight"\n', "x/config.pbtxt")


def test_triton_options_apply_only_to_triton_and_are_checked(run_copy, capsys):
    assert run_command("export", [str(run_copy), "--formats", "onnx", "--triton-max-batch", "8"]) == 2
    assert "--triton-max-batch applies to triton only" in capsys.readouterr().out
    assert run_command("export", [str(run_copy), "--formats", "triton", "--triton-max-batch", "0"]) == 1
    assert not (run_copy / "model_repository").exists()


def test_verify_and_bench_leave_the_repository_alone(repository):
    from deepfake_edge.app.bench import plan_targets
    from deepfake_edge.export.verify import exported_artifacts

    assert "triton" not in [f.name for f, _ in exported_artifacts(repository)]
    assert "triton" not in [t.fmt.name for t, _ in plan_targets(repository, None)]
