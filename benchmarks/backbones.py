"""What each ImageNet backbone costs at the edge: parameters, FLOPs and batch-1 ONNX latency.

The edge budget is 0.5 ms batch-1 ONNX on this CPU. Weights do not change latency, so each
row is an untrained network of one architecture / depth / input size with the project's
2-class head, exported with the project's ONNX exporter and timed with the project's one
latency definition (`runtime.evaluation.profile_backend`: wall clock of `predict` on a
preprocessed crop). Rows are timed in interleaved rounds (every row once per round) and
each row reports the median of its per-round p50s, so a load change on a shared machine
hits every row alike instead of one.

    .venv/bin/python benchmarks/backbones.py
    .venv/bin/python benchmarks/backbones.py --rounds 5 --rows "mobilenet-v2:14:64,efficientnet-lite0:11:64"

Writes benchmarks/results/backbones.{md,json} (machine, command and date included).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

RESULTS = Path(__file__).resolve().parent / "results"
# arch:blocks:size. MobileNetV2 cut after 14 of 17 blocks is the edge recipe (stride 16, 96
# channels); EfficientNet-Lite0's stride-16 stage ends after block 11 (112 channels), its
# next stage after 15; edge-net (no blocks option, written as 0) is the from-scratch model.
DEFAULT_ROWS = ("mobilenet-v2:14:64", "mobilenet-v2:17:64", "efficientnet-lite0:11:64", "efficientnet-lite0:15:64",
                "efficientnet-lite0:16:64", "efficientnet-lite0:11:96", "edge-net:0:96")


def parse_row(text: str) -> tuple[str, int, int]:
    arch, blocks, size = text.split(":")
    return arch, int(blocks), int(size)


def build_onnx(run_dir: Path, arch: str, blocks: int, size: int) -> tuple[Path, int]:
    """An untrained `arch` cut after `blocks` (0: the architecture's default) at `size` px, exported to ONNX."""
    import keras

    from deepfake_edge.export.onnx import export_onnx
    from deepfake_edge.runtime.contract import ModelContract
    from deepfake_edge.train.models import build_model, get_arch

    keras.utils.set_random_seed(0)
    run_dir.mkdir(parents=True)
    contract = ModelContract(input_size=size, arch=arch, normalization=get_arch(arch).normalization)
    model = build_model(arch, input_size=size, **({"blocks": blocks} if blocks else {}))
    model.save(run_dir / "model.keras")
    contract.save(run_dir / "contract.json")
    return export_onnx(run_dir, contract), model.count_params()


def main(argv: list[str] | None = None) -> int:
    from deepfake_edge.app.bench import onnx_flops
    from deepfake_edge.runtime.backends import open_backend
    from deepfake_edge.runtime.contract import ModelContract
    from deepfake_edge.runtime.evaluation import LatencyBudget, profile_backend
    from deepfake_edge.runtime.profile import machine_summary

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default=",".join(DEFAULT_ROWS), help="arch:blocks:size, comma-separated")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=2.0, help="timing per row per round")
    ap.add_argument("--out", type=Path, default=RESULTS / "backbones.md")
    args = ap.parse_args(argv)
    rows = [parse_row(r) for r in args.rows.split(",") if r.strip()]
    budget = LatencyBudget(warmup=10, min_runs=50, min_seconds=args.seconds)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        backends = []
        for k, (arch, blocks, size) in enumerate(rows):
            path, params = build_onnx(Path(tmp) / f"r{k}", arch, blocks, size)
            contract = ModelContract.load(path.parent / "contract.json")
            backends.append(open_backend(path, contract=contract))
            results.append({"arch": arch, "blocks": blocks or None, "input_size": size, "params": params,
                            "mflops_per_image": round((onnx_flops(path) or 0) / 1e6, 1),
                            "onnx_mb": round(path.stat().st_size / 2**20, 2), "p50_ms": [], "p95_ms": []})
        one = {size: np.random.default_rng(0).random((1, size, size, 3), np.float32) for _, _, size in rows}
        for _ in range(args.rounds):
            for (_, _, size), backend, row in zip(rows, backends, results):
                stats = profile_backend(backend, one[size], budget)
                row["p50_ms"].append(round(stats.p50_ms, 4))
                row["p95_ms"].append(round(stats.p95_ms, 4))
        for backend in backends:
            backend.close()
    for row in results:
        row["latency_b1_ms_p50"] = round(statistics.median(row["p50_ms"]), 3)
        row["latency_b1_ms_p95"] = round(statistics.median(row["p95_ms"]), 3)
    meta = {"machine": machine_summary(), "command": "python benchmarks/backbones.py "
            + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rounds": args.rounds}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": results}, indent=1) + "\n")
    args.out.write_text(to_markdown(results, meta))
    print(args.out.read_text())
    return 0


def to_markdown(results: list[dict], meta: dict) -> str:
    lines = ["# Backbones at the edge: parameters, FLOPs, batch-1 ONNX latency", "",
             f"Machine: {meta['machine']}. Command: `{meta['command']}`, "
             f"{meta['date']}. Untrained networks (weights do not change latency) with the project's 2-class "
             f"head, exported by `export_onnx`; latency = `profile_backend` (wall clock of `predict` on one "
             f"preprocessed crop), median over {meta['rounds']} interleaved rounds of each round's p50 / p95.",
             "", "| arch | blocks | input px | parameters | MFLOPs / face | ONNX MB | batch-1 p50 ms | batch-1 p95 ms "
             "| p50 per round |", "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        lines.append(f"| {r['arch']} | {r['blocks'] or 'all'} | {r['input_size']} | {r['params']:,} | "
                     f"{r['mflops_per_image']} | {r['onnx_mb']} | {r['latency_b1_ms_p50']:.3f} | "
                     f"{r['latency_b1_ms_p95']:.3f} | {' '.join(f'{v:.3f}' for v in r['p50_ms'])} |")
    notes = Path(str(RESULTS / "backbones.notes.md"))
    if notes.is_file():
        lines += ["", notes.read_text().rstrip()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
