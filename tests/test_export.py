"""Export: every CPU format is written, carries its contract, reopens with its backend and
matches the Keras model; one failing step does not stop the others."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from deepfake_edge.runtime.contract import ONNX_METADATA_KEY, ModelContract, find_contract, sidecar_path
from deepfake_edge.runtime.errors import InputError
from deepfake_edge.runtime.formats import artifact_path, get_format
from tests.export_helpers import copy_run, keras_fake_probs, run_command, labeled_crops

CPU_FORMATS = ["h5", "saved_model", "onnx", "onnx-fp16", "onnx-int8", "tflite", "tflite-fp16", "tflite-int8"]
PARITY = {"fp32": 1e-4, "fp16": 1e-2, "int8": 0.15}


@pytest.fixture(scope="module")
def exported(tiny_run, tiny_data, tmp_path_factory):
    from deepfake_edge.export.pipeline import export_run

    run = copy_run(tiny_run, tmp_path_factory.mktemp("exported") / "run")
    results = export_run(run, ",".join(CPU_FORMATS), data=tiny_data, calib_images=24)
    return run, results


def test_every_cpu_format_is_written_with_its_contract(exported):
    run, results = exported
    assert [r.format for r in results] == CPU_FORMATS  # table order: onnx before its INT8/FP16 children
    failed = {r.format: r.error for r in results if not r.ok}
    assert not failed
    for r in results:
        fmt = get_format(r.format)
        assert r.path == artifact_path(run, fmt) and r.path.exists() and r.size_mb > 0
        side = json.loads(sidecar_path(r.path).read_text())
        assert side["format"] == fmt.name and side["precision"] == fmt.precision
        assert side["input_size"] == 32 and side["class_names"] == ["Fake", "Real"]
    assert not list(run.glob(".partial-*")), "no half-written artifacts are left behind"


@pytest.mark.parametrize("name", CPU_FORMATS)
def test_artifact_reopens_with_its_backend_and_matches_keras(exported, tiny_data, name):
    from deepfake_edge.runtime.backends import open_backend
    from deepfake_edge.runtime.preprocess import fake_probability

    run, _ = exported
    path = artifact_path(run, name)
    contract = find_contract(path)
    batch, _ = labeled_crops(tiny_data, contract)
    reference = keras_fake_probs(run, batch, contract)
    with open_backend(path) as backend:
        probs = backend.predict(batch)
        single = backend.predict(batch[:1])
    assert probs.shape == (len(batch), 2)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-2)  # INT8 outputs are quantized
    diff = np.abs(fake_probability(probs, contract) - reference)
    assert diff.max() <= PARITY[get_format(name).precision], f"{name}: max |Δp| {diff.max():.3g}"
    np.testing.assert_allclose(single, probs[:1], atol=1e-5)  # batch size does not change the answer


@pytest.mark.parametrize("name", ["tflite", "tflite-int8"])
def test_litert_keeps_one_interpreter_per_batch_size(exported, tiny_data, name):
    """A face count that alternates between frames reuses allocated interpreters, with the same answers."""
    from deepfake_edge.runtime.backends import open_backend

    run, _ = exported
    path = artifact_path(run, name)
    batch, _ = labeled_crops(tiny_data, find_contract(path))
    with open_backend(path) as backend:
        first = {n: backend.predict(batch[:n]) for n in (1, 3)}
        built = {n: entry[0] for n, entry in backend.interpreters.items()}
        for n in (1, 3, 1, 3, 2):
            probs = backend.predict(batch[:n])
            if n in first:
                np.testing.assert_array_equal(probs, first[n])
        assert {n: entry[0] for n, entry in backend.interpreters.items() if n in built} == built  # none rebuilt
        assert sorted(backend.interpreters) == [1, 2, 3]
        for n in range(4, 4 + backend.max_interpreters):
            backend.predict(np.repeat(batch[:1], n, axis=0))
        assert len(backend.interpreters) == backend.max_interpreters  # the least recent sizes are dropped


def test_onnx_interface_is_what_consumers_rely_on(exported, tiny_run):
    import onnx

    run, _ = exported
    model = onnx.load(str(run / "model.onnx"))
    onnx.checker.check_model(model)
    assert [i.name for i in model.graph.input] == ["input"]
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert not dims[0].HasField("dim_value"), "batch dimension must be dynamic"
    assert [d.dim_value for d in dims[1:]] == [32, 32, 3]
    assert {o.domain: o.version for o in model.opset_import}[""] == 17
    meta = {p.key: p.value for p in model.metadata_props}
    embedded = ModelContract.from_json(meta[ONNX_METADATA_KEY])
    run_contract = ModelContract.load(tiny_run / "contract.json")
    assert embedded.format == "onnx" and embedded.normalization == run_contract.normalization
    fp16 = onnx.load(str(run / "model.fp16.onnx"))
    assert fp16.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # FP32 I/O kept
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in fp16.graph.initializer)
    int8 = onnx.load(str(run / "model.int8.onnx"))
    ops = {n.op_type for n in int8.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops  # QDQ format


def test_failed_step_is_reported_and_the_rest_still_run(run_copy, capsys):
    from deepfake_edge.export.pipeline import export_run, summary_table

    results = export_run(run_copy, "onnx,onnx-int8")  # INT8 needs calibration images: no --data
    by_name = {r.format: r for r in results}
    assert by_name["onnx"].ok and (run_copy / "model.onnx").is_file()
    assert not by_name["onnx-int8"].ok and "--data" in by_name["onnx-int8"].error
    assert "\n" not in by_name["onnx-int8"].error
    assert not (run_copy / "model.int8.onnx").exists()
    table = summary_table(results)
    assert "| onnx | ✅ ok | model.onnx |" in table and "onnx-int8 | ❌ failed" in table

    code = run_command("export", [str(run_copy), "--formats", "onnx-int8"])
    assert code == 1
    assert "onnx-int8: INT8 calibration needs face images" in capsys.readouterr().out


def test_failed_check_leaves_no_artifact_behind(run_copy, monkeypatch):
    from deepfake_edge.export import common
    from deepfake_edge.export.pipeline import export_run

    monkeypatch.setitem(common.EXPORT_CHECK_ATOL, "fp32", -1.0)  # no conversion can pass this check
    [result] = export_run(run_copy, "onnx")
    assert not result.ok and "differs from the Keras model" in result.error
    onnx = run_copy / "model.onnx"
    assert not onnx.exists() and not sidecar_path(onnx).exists()
    assert not [p.name for p in run_copy.iterdir() if "onnx" in p.name]  # no temp files either


def test_failed_int8_preparation_leaves_the_working_folder_clean(run_copy, tiny_data, tmp_path, monkeypatch):
    from onnxruntime.quantization import shape_inference

    from deepfake_edge.export.pipeline import export_run

    def failing_pre_process(source, output, **_):  # what ONNX Runtime does when shapes stay unknown
        open("sym_shape_infer_temp.onnx", "wb").close()
        raise Exception("Incomplete symbolic shape inference")

    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(shape_inference, "quant_pre_process", failing_pre_process)
    results = {r.format: r for r in export_run(run_copy, "onnx,onnx-int8", data=tiny_data, calib_images=8)}
    assert results["onnx"].ok and not results["onnx-int8"].ok
    assert "Incomplete symbolic shape inference" in results["onnx-int8"].error
    assert list(cwd.iterdir()) == [] and not (run_copy / "model.int8.onnx").exists()
    assert Path.cwd() == cwd  # the working directory is restored


def test_int8_export_of_a_run_named_by_a_relative_path(run_copy, tiny_data, monkeypatch):
    from deepfake_edge.export.pipeline import export_run

    monkeypatch.chdir(run_copy.parent)
    [result] = export_run(run_copy.name, "onnx-int8", data=tiny_data, calib_images=8)
    assert result.ok, result.error
    assert (run_copy / "model.int8.onnx").is_file() and list(run_copy.parent.iterdir()) == [run_copy]


def test_bad_run_folder_and_format_are_one_line_errors(tmp_path, capsys):
    assert run_command("export", [str(tmp_path)]) == 2
    out = capsys.readouterr().out
    assert "no model.keras" in out and str(tmp_path) in out
    with pytest.raises(InputError, match="unknown format 'onnx-int4'"):
        from deepfake_edge.export.pipeline import export_run

        (tmp_path / "model.keras").write_bytes(b"x")
        ModelContract(input_size=32).save(tmp_path / "contract.json")
        export_run(tmp_path, "onnx-int4")


def test_an_option_that_applies_to_none_of_the_formats_is_an_error(run_copy, capsys):
    """--max-batch with --formats onnx used to be dropped silently."""
    from deepfake_edge.export.pipeline import export_run

    with pytest.raises(InputError, match=r"--max-batch applies to engine only; it would do nothing for --formats onnx"):
        export_run(run_copy, "onnx", max_batch=16)
    with pytest.raises(InputError, match=r"--calib-images applies to onnx-int8, tflite-int8 only"):
        export_run(run_copy, "onnx,tflite", calib_images=10)
    assert not (run_copy / "model.onnx").exists()  # refused before any work
    from tests.export_helpers import run_command

    assert run_command("export", [str(run_copy), "--formats", "onnx", "--opt-level", "5"]) == 2
    assert "--opt-level applies to engine only" in capsys.readouterr().out


def test_the_h5_copy_training_wrote_is_checked_not_rewritten_unless_stale(run_copy):
    import os

    from deepfake_edge.export.pipeline import export_run

    import time

    h5, reference = run_copy / "model.h5", run_copy / "model.keras"
    now = time.time_ns()
    os.utime(reference, ns=(now - 100 * 10**9,) * 2)
    os.utime(h5, ns=(now - 50 * 10**9,) * 2)  # as training leaves it: the copy written after model.keras
    before = h5.stat().st_mtime_ns
    [result] = export_run(run_copy, "h5")
    assert result.ok and h5.stat().st_mtime_ns == before  # checked against Keras, the file untouched
    os.utime(reference, ns=(now - 10 * 10**9,) * 2)  # model.keras replaced after the copy was made
    [result] = export_run(run_copy, "h5")
    assert result.ok and h5.stat().st_mtime_ns > before  # the stale copy is written again
