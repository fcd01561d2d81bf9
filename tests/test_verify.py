"""Verify: the parity table passes for honest exports and FAILS (naming format and figure)
for a broken one, so the check is known to bite."""
from __future__ import annotations

import json

import numpy as np
import pytest

from deepfake_edge.runtime.contract import ModelContract, Normalization, sidecar_path
from tests.export_helpers import copy_run, run_command

REQUIRED_KEYS = {"format", "status", "accuracy", "auc", "delta_auc", "max_abs_diff", "agreement"}


@pytest.fixture(scope="module")
def eval_data(tmp_path_factory):
    """A larger Test split (100 per class) so one flipped image is < 1 accuracy point."""
    from tests.datagen import make_kaggle_tree

    return make_kaggle_tree(tmp_path_factory.mktemp("eval"), n_per_class=100, size=48, seed=7, splits=("Test",))


@pytest.fixture(scope="module")
def exported(tiny_run, tiny_data, tmp_path_factory):
    from deepfake_edge.export.pipeline import export_run

    run = copy_run(tiny_run, tmp_path_factory.mktemp("verify") / "run")
    results = export_run(run, "cpu,onnx-fp16,tflite-int8", data=tiny_data, calib_images=24)
    assert all(r.ok for r in results), [r.error for r in results]
    return run


def test_verify_passes_with_default_tolerances(exported, eval_data, capsys):
    code = run_command("verify", [str(exported), "--data", str(eval_data)])
    out = capsys.readouterr().out
    assert code == 0, out
    entries = json.loads((exported / "verify.json").read_text())
    by_format = {e["format"]: e for e in entries}
    assert set(by_format) == {"keras", "h5", "onnx", "onnx-fp16", "onnx-int8", "tflite", "tflite-fp16", "tflite-int8"}
    for e in entries:
        assert REQUIRED_KEYS <= set(e)
        assert e["status"] in ("reference", "pass")
    ref = by_format["keras"]
    assert ref["accuracy"] > 0.70 and ref["auc"] > 0.8  # the tiny model really learned the task
    onnx = by_format["onnx"]
    assert onnx["max_abs_diff"] <= 1e-4 and onnx["agreement"] == 1.0
    assert onnx["accuracy"] == pytest.approx(ref["accuracy"]) and onnx["latency_ms"] > 0
    md = (exported / "verify.md").read_text()
    assert "| onnx-int8 | ✅ pass | int8 |" in md and " cores, " in md


def test_wrong_normalisation_in_a_sidecar_fails_verify(exported, eval_data, tmp_path, capsys):
    run = copy_run(exported, tmp_path / "broken")
    side = sidecar_path(run / "model.tflite")
    good = ModelContract.load(side)
    good.with_(normalization=Normalization(scale=(1.0, 1.0, 1.0))).save(side)  # 0..255 instead of 0..1

    code = run_command("verify", [str(run), "--data", str(eval_data), "--formats", "tflite,onnx"])
    out = capsys.readouterr()
    assert code == 1
    assert "FAILED tflite: max |Δp|" in out.err
    entries = {e["format"]: e for e in json.loads((run / "verify.json").read_text())}
    assert entries["tflite"]["status"] == "fail" and entries["tflite"]["max_abs_diff"] > 1e-2
    assert entries["onnx"]["status"] == "pass"


def test_perturbed_onnx_weights_fail_verify(exported, eval_data, tmp_path):
    import onnx
    from onnx import numpy_helper

    from deepfake_edge.export.verify import verify_run

    run = copy_run(exported, tmp_path / "perturbed")
    model = onnx.load(str(run / "model.onnx"))
    rng = np.random.default_rng(0)
    for init in model.graph.initializer:
        w = numpy_helper.to_array(init)
        if w.dtype == np.float32 and w.size > 16:
            init.CopyFrom(numpy_helper.from_array((w + rng.normal(0, 0.05, w.shape)).astype(np.float32), init.name))
    onnx.save(model, str(run / "model.onnx"))

    report = verify_run(run, eval_data, formats=["onnx"])
    assert not report.passed
    assert len(report.failures) == 1 and report.failures[0].startswith("onnx: max |Δp|")


def test_an_export_that_outputs_nan_is_an_error_row_and_the_others_still_run(exported, eval_data, tmp_path):
    import onnx
    from onnx import numpy_helper

    from deepfake_edge.export.verify import verify_run

    run = copy_run(exported, tmp_path / "nan")
    model = onnx.load(str(run / "model.onnx"))
    for init in model.graph.initializer:
        w = numpy_helper.to_array(init)
        if w.dtype == np.float32 and w.size > 16:
            init.CopyFrom(numpy_helper.from_array(np.full_like(w, np.nan), init.name))
    onnx.save(model, str(run / "model.onnx"))

    report = verify_run(run, eval_data, formats=["onnx", "tflite"])
    entries = {e.format: e for e in report.entries}
    # caught when the backend opens the artifact (its first output is checked), not at the first frame
    assert entries["onnx"].status == "error" and "NaN or infinite" in entries["onnx"].reasons[0]
    assert entries["tflite"].status == "pass"
    assert report.failures == [f"onnx: {entries['onnx'].reasons[0]}"]


@pytest.mark.parametrize("precision, change, figure", [
    ("fp16", {"delta_auc": -0.003}, "ΔAUC"),
    ("int8", {"delta_auc": -0.02}, "ΔAUC"),
    ("int8", {"delta_accuracy": -0.015}, "Δaccuracy"),  # figures are fractions, tolerances points
    ("fp32", {"agreement": 0.995}, "agreement"),
])
def test_tolerances_bite_by_precision(precision, change, figure):
    from deepfake_edge.export.verify import Tolerances, VerifyEntry, judge

    base = dict(auc=0.9, delta_auc=0.0, delta_accuracy=0.0, max_abs_diff=0.0, agreement=1.0)
    ok = VerifyEntry(format="x", status="measured", precision=precision, **base)
    judge(ok, Tolerances())
    assert ok.status == "pass"
    bad = VerifyEntry(format="x", status="measured", precision=precision, **(base | change))
    judge(bad, Tolerances())
    assert bad.status == "fail" and figure in bad.reasons[0]
    loose = VerifyEntry(format="x", status="measured", precision=precision, **(base | change))
    judge(loose, Tolerances(fp32_min_agreement=99, fp16_max_auc_drop=0.01, int8_max_auc_drop=0.05, int8_max_acc_drop=2))
    assert loose.status == "pass"  # each tolerance is a setting, not a constant


def test_verify_without_exports_is_a_clear_error(run_copy, eval_data, capsys):
    (run_copy / "model.h5").unlink()  # the fixture's training also wrote an .h5 copy
    assert run_command("verify", [str(run_copy), "--data", str(eval_data)]) == 2
    assert "no exported artifacts to verify" in capsys.readouterr().out


def test_dfdc_benchmark_script_writes_a_results_file_naming_the_machine(run_copy, tiny_data, tmp_path):
    from tests.benchmark_scripts import load_benchmark

    module = load_benchmark("verify_dfdc")
    out = tmp_path / "verify_dfdc.md"
    code = module.main(["--run", str(run_copy), "--data", str(tiny_data), "--formats", "onnx", "--out", str(out)])
    assert code == 0
    text = out.read_text()
    assert " cores, " in text and "| onnx | ✅ pass | fp32 |" in text and "## Export summary" in text
    assert (run_copy / "verify.json").is_file()


def test_a_format_asked_for_but_not_checked_is_reported_and_strict_exits_3(exported, eval_data, capsys):
    """engine cannot be checked on this CPU machine (not exported): named on stderr; --strict makes it exit 3."""
    args = [str(exported), "--data", str(eval_data), "--formats", "onnx,engine", "--max-per-class", "10"]
    assert run_command("verify", args) == 0
    err = capsys.readouterr().err
    assert "SKIPPED engine: not exported" in err
    by_format = {e["format"]: e for e in json.loads((exported / "verify.json").read_text())}
    assert by_format["engine"]["status"] == "skipped" and by_format["onnx"]["status"] == "pass"
    assert run_command("verify", args + ["--strict"]) == 3
    assert run_command("verify", [str(exported), "--data", str(eval_data), "--formats", "onnx", "--strict",
                                  "--max-per-class", "10"]) == 0
    assert run_command("verify", [str(exported), "--data", str(eval_data), "--formats", "onnx,nonsense"]) == 2
    assert "unknown format 'nonsense'" in capsys.readouterr().out  # run_command prints the CLI's error line
