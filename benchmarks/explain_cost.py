"""What an explanation costs: occlusion heat maps (`detect --explain`) per face, per backend.

For each model file, times `runtime.explain.occlusion_map` on real face crops (matplotlib's
Grace Hopper portrait and, when given, Test crops of a dataset) against one plain
classification of the same crop, through the same backend. The heat map is one batched
call of 50 crops (a 7x7 grid of half-overlapping patches plus the original).

    .venv/bin/python benchmarks/explain_cost.py runs/xl-edge-s42/model.onnx runs/xl-edge-s42/model.tflite

Writes benchmarks/results/explain_cost.md (with the machine and the command).
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "explain_cost.md"


def main(argv=None) -> int:
    from deepfake_edge.app.bench import face_frame
    from deepfake_edge.runtime.backends import open_backend
    from deepfake_edge.runtime.explain import occlusion_map
    from deepfake_edge.runtime.preprocess import preprocess_batch
    from deepfake_edge.runtime.profile import machine_info, measure

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args(argv)
    frame = face_frame()
    h, w = frame.shape[:2]
    crop = np.ascontiguousarray(frame[h // 6: h - h // 6, w // 4: w - w // 4])
    rows = []
    for model in args.models:
        with open_backend(model) as backend:
            one = preprocess_batch([crop], backend.contract)
            plain = measure(lambda: backend.predict(one), warmup=5, min_runs=30, min_seconds=args.seconds / 3)
            heat = measure(lambda: occlusion_map(backend, crop), warmup=2, min_runs=10, min_seconds=args.seconds)
            rows.append((model, backend.describe(), plain.p50_ms, heat.p50_ms, heat.p95_ms))
    lines = ["# Explanation cost: occlusion heat map per face", "",
             f"Machine: {machine_info()}. Made by `python benchmarks/explain_cost.py "
             f"{' '.join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))}` on "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
             "| model | backend | classify one face, p50 ms | heat map (50 crops, one call), p50 ms | p95 ms |",
             "|---|---|---:|---:|---:|"]
    for model, provider, p, hp50, hp95 in rows:
        lines.append(f"| `{model}` | {provider} | {p:.2f} | {hp50:.1f} | {hp95:.1f} |")
    lines += ["", "The heat map is off by default in the app (a checkbox on the Image tab) and in `detect`",
              "(`--explain DIR`); it is not offered on the live stream, where it would cost the frame rate."]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
