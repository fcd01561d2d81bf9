"""Per-stage latency of one 640x480 frame with one face, for each CPU backend.

Stages are what `Detector.detect` reports: MediaPipe face detection, crop + preprocess,
model inference, and the total. Weights do not change latency, so without `--run` the
script builds an untrained model of the chosen architecture, exports it with the
project's exporters (ONNX, LiteRT) and measures every format on the same frame.

    .venv/bin/python benchmarks/frame_latency.py                        # edge-net at 128 px
    .venv/bin/python benchmarks/frame_latency.py --run runs/demo          # a trained run folder
    .venv/bin/python benchmarks/frame_latency.py --arch edge-net --size 256 --out benchmarks/results/frame_latency.md

Needs the MediaPipe face model (`deepfake-edge face-model --from-wheel ...`).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

STAGES = ("detect_ms", "crop_ms", "infer_ms", "total_ms")
DEFAULT_FORMATS = ("onnx", "tflite", "tflite-fp16", "keras")


def build_run(run_dir: Path, arch: str, size: int, formats: list[str]) -> Path:
    """An untrained model of `arch` at `size` px, exported to the requested formats."""
    import keras

    from deepfake_edge.runtime.contract import ModelContract
    from deepfake_edge.runtime.formats import get_format
    from deepfake_edge.train.models import build_model, get_arch

    keras.utils.set_random_seed(0)
    contract = ModelContract(input_size=size, arch=arch, normalization=get_arch(arch).normalization)
    build_model(arch, input_size=size).save(run_dir / "model.keras")
    contract.save(run_dir / "contract.json")
    for name in formats:
        if name != "keras":
            get_format(name).load_exporter()(run_dir, contract)
    return run_dir


def measure_format(model_path: Path, frame: np.ndarray, face_model: str | None, min_runs: int, min_seconds: float,
                   threads: int | None) -> dict:
    from deepfake_edge.runtime.backends.options import BackendOptions
    from deepfake_edge.runtime.detector import Detector
    from deepfake_edge.runtime.profile import summarize

    with Detector.from_path(model_path, BackendOptions.of(threads=threads), face_model=face_model) as det:
        for _ in range(5):
            det.detect(frame)
        samples = {s: [] for s in STAGES}
        faces = 0
        start = time.perf_counter()
        while len(samples["total_ms"]) < min_runs or time.perf_counter() - start < min_seconds:
            result = det.detect(frame)
            faces = len(result.faces)
            for s in STAGES:
                samples[s].append(result.timings[s])
        return {"backend": det.backend_description, "faces": faces,
                **{s: summarize(v) for s, v in samples.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="trained run folder (default: build an untrained model)")
    parser.add_argument("--arch", default="edge-net")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--formats", default=",".join(DEFAULT_FORMATS))
    parser.add_argument("--face-model")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--min-runs", type=int, default=50)
    parser.add_argument("--min-seconds", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "frame_latency.md")
    args = parser.parse_args(argv)

    from deepfake_edge.runtime.formats import artifact_path, get_format
    from deepfake_edge.runtime.profile import machine_info

    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    tmp = None
    run = args.run
    if run is None:
        tmp = tempfile.TemporaryDirectory(prefix="frame_latency_")
        run = build_run(Path(tmp.name), args.arch, args.size, formats)
    from deepfake_edge.app.bench import face_frame  # the same frame `deepfake-edge bench` times

    frame = face_frame()
    rows = []
    for name in formats:
        path = artifact_path(run, get_format(name))
        if not path.exists():
            print(f"skip {name}: {path} not found", file=sys.stderr)
            continue
        r = measure_format(path, frame, args.face_model, args.min_runs, args.min_seconds, args.threads)
        rows.append((name, r))
        print(f"{name:12s} {r['backend']:40s} total p50 {r['total_ms'].p50_ms:6.2f} ms", file=sys.stderr)

    m = machine_info()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "# Frame latency: one 640x480 frame, one face",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['os']}, Python {m['python']} "
        f"(1-min load average {load:.1f} when done: above the core count means other work shared the CPU)",
        f"Command: `{' '.join(['.venv/bin/python', 'benchmarks/frame_latency.py', *(argv or sys.argv[1:])])}`",
        f"Model: {'run ' + str(args.run) if args.run else f'untrained {args.arch} at {args.size} px'}; "
        f"MediaPipe short-range face detector; at least {args.min_runs} runs and {args.min_seconds:g} s per format "
        "after 5 warm-up frames. Milliseconds, p50 / p95.",
        "",
        "| format | backend | faces | detect | crop+preprocess | infer | total | fps (p50) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in rows:
        cell = lambda s: f"{r[s].p50_ms:.2f} / {r[s].p95_ms:.2f}"  # noqa: E731
        lines.append(f"| {name} | {r['backend']} | {r['faces']} | {cell('detect_ms')} | {cell('crop_ms')} | "
                     f"{cell('infer_ms')} | {cell('total_ms')} | {r['total_ms'].fps:.0f} |")
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
