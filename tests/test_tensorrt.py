"""TensorRT engine: clear failure without the gpu extra (CPU), the compatibility rules the
backend enforces (CPU), and build + run + parity on a real GPU (`-m gpu`)."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from deepfake_edge.runtime.contract import ModelContract, sidecar_path
from deepfake_edge.runtime.errors import InputError, ModelFileError
from tests.export_helpers import keras_fake_probs, labeled_crops, run_command

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None
HERE = {"gpu_name": "NVIDIA GeForce RTX 3050 Laptop GPU", "compute_capability": "8.6", "tensorrt_version": "10.13.0"}


@pytest.mark.skipif(HAS_TENSORRT, reason="TensorRT is installed: the missing-extra path cannot happen here")
def test_engine_step_without_tensorrt_names_the_gpu_extra(run_copy, capsys):
    from deepfake_edge.export.pipeline import export_run
    from deepfake_edge.export.tensorrt import export_engine
    from deepfake_edge.runtime.errors import MissingExtraError

    contract = ModelContract.load(run_copy / "contract.json")
    with pytest.raises(MissingExtraError, match=r"pip install 'deepfake-edge\[gpu\]'"):
        export_engine(run_copy, contract)
    [result] = export_run(run_copy, "engine")
    assert not result.ok and "deepfake-edge[gpu]" in result.error
    assert not (run_copy / "model.engine").exists() and not (run_copy / "model.onnx").exists()  # failed fast
    assert run_command("export", [str(run_copy), "--formats", "engine"]) == 1
    assert "engine | ❌ failed" in capsys.readouterr().out


@pytest.mark.skipif(HAS_TENSORRT, reason="TensorRT is installed")
def test_opening_an_engine_without_tensorrt_names_the_gpu_extra(tmp_path):
    from deepfake_edge.runtime.backends import open_backend

    engine = tmp_path / "model.engine"
    engine.write_bytes(b"not really an engine")
    ModelContract(input_size=32).save(tmp_path / "contract.json")
    with pytest.raises(ModelFileError, match=r"deepfake-edge\[gpu\]") as err:
        open_backend(engine)
    assert str(engine) in str(err.value) and "\n" not in str(err.value)
    from deepfake_edge.runtime.errors import MissingExtraError

    assert isinstance(err.value, MissingExtraError)  # verify skips it by type, not by its wording


@pytest.mark.parametrize("build, message", [
    ({**HERE, "tensorrt_version": "10.9.0"}, "built with TensorRT 10.9.0 but this machine has TensorRT 10.13.0"),
    ({**HERE, "gpu_name": "NVIDIA GeForce RTX 4090", "compute_capability": "8.9"}, "built for NVIDIA GeForce RTX 4090"),
])
def test_engine_for_another_gpu_or_tensorrt_is_refused(tmp_path, build, message):
    from deepfake_edge.runtime.backends.tensorrt import check_engine_compatible

    with pytest.raises(ModelFileError, match=message) as err:
        check_engine_compatible(tmp_path / "model.engine", build, HERE)
    assert "deepfake-edge export" in str(err.value)


def test_ampere_plus_engine_runs_on_other_ampere_gpus_only(tmp_path):
    from deepfake_edge.runtime.backends.tensorrt import check_engine_compatible

    build = {**HERE, "gpu_name": "NVIDIA A100", "compute_capability": "8.0", "hardware_compat": "ampere_plus"}
    check_engine_compatible(tmp_path / "model.engine", build, HERE)  # 3050 (8.6) is Ampere: accepted
    turing = {"gpu_name": "Tesla T4", "compute_capability": "7.5", "tensorrt_version": HERE["tensorrt_version"]}
    with pytest.raises(ModelFileError, match="Ampere or newer"):
        check_engine_compatible(tmp_path / "model.engine", build, turing)
    check_engine_compatible(tmp_path / "model.engine", HERE, HERE)  # same machine: accepted


@pytest.mark.parametrize("options, message", [
    ({"min_batch": 4, "opt_batch": 2}, "min <= opt <= max"),
    ({"opt_level": 7}, "opt-level"),
    ({"hardware_compat": "turing"}, "hardware-compat"),
    ({"workspace_mb": 0}, "workspace"),
])
def test_engine_options_are_checked_before_any_work(options, message):
    from deepfake_edge.export.options import EngineOptions

    with pytest.raises(InputError, match=message):
        EngineOptions.from_options(options)
    defaults = EngineOptions.from_options({"max_batch": None})
    assert (defaults.min_batch, defaults.opt_batch, defaults.max_batch, defaults.workspace_mb) == (1, 1, 8, 1024)


@pytest.mark.gpu
def test_engine_builds_runs_and_matches_keras(run_copy, tiny_data, tmp_path):
    from deepfake_edge.export.tensorrt import export_engine
    from deepfake_edge.runtime.backends import open_backend
    from deepfake_edge.runtime.preprocess import fake_probability

    contract = ModelContract.load(run_copy / "contract.json")
    cache = tmp_path / "trt.timing-cache"
    engine = export_engine(run_copy, contract, data=tiny_data, max_batch=8, timing_cache=cache)
    assert engine == run_copy / "model.engine" and engine.stat().st_size > 0 and cache.stat().st_size > 0
    side = json.loads(sidecar_path(engine).read_text())
    assert side["contract"]["format"] == "engine" and side["contract"]["precision"] == "fp16"
    build = side["build"]
    assert build["gpu_name"] and build["compute_capability"] and build["tensorrt_version"]
    assert (build["min_batch"], build["opt_batch"], build["max_batch"]) == (1, 1, 8)

    batch, _ = labeled_crops(tiny_data, contract)  # 24 images: more than max_batch, so chunked
    reference = keras_fake_probs(run_copy, batch, contract)
    with open_backend(engine) as backend:
        probs = backend.predict(batch)
        one = backend.predict(batch[:1])
        assert "tensorrt" in backend.describe()
        assert set(backend.last_stage_ms) == {"h2d_ms", "compute_ms", "d2h_ms"}
        assert all(v >= 0 for v in backend.last_stage_ms.values()) and backend.last_stage_ms["compute_ms"] > 0
    assert probs.shape == (len(batch), 2)
    assert np.abs(fake_probability(probs, contract) - reference).max() <= 1e-2
    np.testing.assert_allclose(one, probs[:1], atol=2e-3)

    rebuilt = export_engine(run_copy, contract, timing_cache=cache)  # reuses the timing cache
    assert rebuilt.exists()
