"""`deepfake-edge bench` end to end on a tiny exported run: one row per format, sane numbers."""
from __future__ import annotations

import json

import pytest

from deepfake_edge.app.cli import main


@pytest.fixture(scope="module")
def exported_run(tiny_run, tiny_data, tmp_path_factory):
    import shutil

    from deepfake_edge.export.pipeline import export_run

    run = tmp_path_factory.mktemp("bench") / "run"
    shutil.copytree(tiny_run, run)
    results = export_run(run, "onnx,onnx-int8,tflite", data=tiny_data, calib_images=16)
    assert all(r.status == "ok" for r in results), [(r.format, r.status) for r in results]
    return run


def test_bench_table_has_a_row_per_format_with_sane_numbers(exported_run, tiny_data, tmp_path):
    out = tmp_path / "bench"
    code = main(["bench", str(exported_run), "--data", str(tiny_data), "--out", str(out),
                 "--min-runs", "5", "--min-seconds", "0.05", "--no-frame"])
    assert code == 0
    report = json.loads((out / "bench.json").read_text())
    rows = {r["label"]: r for r in report["rows"]}
    for label in ("keras predict", "keras tf.function", "onnx cpu", "onnx-int8 cpu", "tflite"):
        r = rows[label]
        assert r["status"] == "ok", (label, r["status"])
        assert r["p50_ms"] > 0 and r["p95_ms"] >= r["p50_ms"] and r["throughput_ips"] > 0
        assert 0.0 <= r["auc"] <= 1.0 and 0.0 <= r["accuracy"] <= 1.0
        assert r["size_mb"] > 0
    # Formats not exported, or needing a GPU, are listed with the reason.
    assert rows["tflite-fp16"]["status"].startswith("not exported")
    assert rows["engine"]["status"].startswith(("not exported", "needs an NVIDIA GPU"))
    # FP32 exports score exactly like Keras on the same inputs.
    assert rows["onnx cpu"]["auc"] == pytest.approx(rows["keras predict"]["auc"], abs=1e-6)
    assert report["meta"]["machine"]["cores"] >= 1 and report["meta"]["model_gflops_per_image"] > 0
    md = (out / "bench.md").read_text()
    assert "| Format | Status |" in md and "Roofline" in md
    assert (out / "bench.png").stat().st_size > 1000


def test_bench_floor_auc_fails_the_run(exported_run, tiny_data, tmp_path, capsys):
    code = main(["bench", str(exported_run), "--data", str(tiny_data), "--out", str(tmp_path / "b"),
                 "--formats", "onnx", "--min-runs", "3", "--min-seconds", "0.02", "--no-frame",
                 "--floor-auc", "1.01"])
    assert code == 1
    assert "below floor" in capsys.readouterr().out


def test_bench_frame_timing_uses_face_detector(exported_run, tmp_path):
    from tests.facekit import face_model_or_skip

    face_model_or_skip()
    out = tmp_path / "bench"
    assert main(["bench", str(exported_run), "--formats", "onnx", "--out", str(out),
                 "--min-runs", "3", "--min-seconds", "0.02"]) == 0
    rows = {r["label"]: r for r in json.loads((out / "bench.json").read_text())["rows"]}
    assert rows["onnx cpu"]["e2e_p50_ms"] > rows["onnx cpu"]["p50_ms"] > 0
    assert rows["onnx cpu"]["extra"]["faces_found"] == 1


def test_bench_names_what_it_could_not_run_and_strict_exits_3(exported_run, tmp_path, capsys):
    """The engine row needs a GPU this machine lacks: listed as skipped; --strict turns that into exit 3."""
    args = ["bench", str(exported_run), "--formats", "onnx,engine", "--out", str(tmp_path / "b"),
            "--min-runs", "3", "--min-seconds", "0.02", "--no-frame"]
    assert main(args) == 0
    assert "SKIPPED engine" in capsys.readouterr().err
    assert main(args + ["--strict"]) == 3
    assert main(["bench", str(exported_run), "--formats", "onnx", "--out", str(tmp_path / "c"), "--min-runs", "3",
                 "--min-seconds", "0.02", "--no-frame", "--strict"]) == 0
