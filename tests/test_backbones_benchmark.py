"""benchmarks/backbones.py: every row is a real exported network with its own size, FLOPs and timings."""
from __future__ import annotations

import json

from tests.benchmark_scripts import load_benchmark


def test_backbones_rows_are_measured_networks_with_their_parameters_and_timings(tmp_path):
    from deepfake_edge.train.models import build_model

    bb = load_benchmark("backbones")
    assert bb.parse_row("mobilenet-v2:14:64") == ("mobilenet-v2", 14, 64)
    out = tmp_path / "backbones.md"
    assert bb.main(["--rows", "tiny-cnn:0:32,tiny-cnn:0:48", "--rounds", "2", "--seconds", "0.05",
                    "--out", str(out)]) == 0
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert [(r["arch"], r["input_size"]) for r in rows] == [("tiny-cnn", 32), ("tiny-cnn", 48)]
    for r in rows:
        assert r["params"] == build_model("tiny-cnn", input_size=r["input_size"]).count_params()
        assert len(r["p50_ms"]) == 2 and 0 < r["latency_b1_ms_p50"] <= r["latency_b1_ms_p95"] * 1.5
    assert rows[1]["mflops_per_image"] > rows[0]["mflops_per_image"] > 0  # more pixels, more convolution work
    md = out.read_text()
    assert "| tiny-cnn | all | 48 |" in md and "python benchmarks/backbones.py --rows" in md
