"""`deepfake-edge export RUN_DIR --formats ...`: write deployable artifacts of a trained run.

Each format is one step from the format table (runtime/formats.py); a failed step is
reported with a one-line reason and the others still run. Prints the summary table
(format, status, file, size, seconds); exit code 1 when any requested format failed.
"""
from __future__ import annotations

import argparse

HELP = "export a trained run to ONNX / ONNX INT8 / LiteRT / TensorRT / SavedModel, each checked against Keras"
NEEDS = ("train",)  # pip extras this command needs beyond the base install (runtime/extras.py)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from deepfake_edge.runtime.formats import DEFAULT_CPU_FORMATS, FORMATS

    names = ", ".join(f.name for f in FORMATS if f.exporter)
    parser.add_argument("run_dir", metavar="RUN_DIR", help="run folder with model.keras and contract.json")
    parser.add_argument("--formats", default="cpu",
                        help=f"comma-separated formats, or 'cpu' ({','.join(DEFAULT_CPU_FORMATS)}) or 'all'; known: {names}")
    parser.add_argument("--data", metavar="DIR",
                        help="Kaggle-layout data folder: Train images calibrate INT8 and check every export")
    parser.add_argument("--calib-images", type=int, metavar="N", help="INT8 calibration images from Train (default 200)")
    engine = parser.add_argument_group("TensorRT engine")
    engine.add_argument("--min-batch", type=int, metavar="N", help="optimisation profile minimum batch (default 1)")
    engine.add_argument("--opt-batch", type=int, metavar="N", help="batch TensorRT tunes for (default 1: one face)")
    engine.add_argument("--max-batch", type=int, metavar="N", help="optimisation profile maximum batch (default 8)")
    engine.add_argument("--workspace-mb", type=int, metavar="N",
                        help="builder workspace memory-pool limit in MB (default 1024, fits a 4 GB RTX 3050)")
    engine.add_argument("--opt-level", type=int, metavar="N", help="builder optimisation level 0..5 (default 3)")
    engine.add_argument("--hardware-compat", choices=("none", "ampere_plus"),
                        help="ampere_plus: the engine runs on any Ampere-or-newer GPU, not just this one")
    engine.add_argument("--timing-cache", metavar="PATH",
                        help="TensorRT timing cache file, read and updated by every build "
                             "(default: one per GPU and TensorRT version under ~/.cache/deepfake-edge)")
    triton = parser.add_argument_group("Triton model repository (--formats triton)")
    triton.add_argument("--triton-max-batch", type=int, metavar="N", help="Triton max_batch_size (default 32)")
    triton.add_argument("--triton-queue-delay-us", type=int, metavar="US",
                        help="dynamic batching: longest wait for a fuller batch, microseconds (default 500)")
    triton.add_argument("--triton-instance-kind", choices=("auto", "cpu", "gpu"),
                        help="where Triton places the ONNX model's instances (default auto)")
    triton.add_argument("--triton-instances", type=int, metavar="N", help="model instances (default 1)")
    web = parser.add_argument_group("In-browser bundle (--formats web; building it needs node and npm)")
    web.add_argument("--web-webgpu", action=argparse.BooleanOptionalAction, default=None,
                     help="also ship ONNX Runtime Web's WebGPU build (+27 MB; used when the browser has WebGPU, "
                          "default on)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from deepfake_edge.export.pipeline import export_run, summary_table
    from deepfake_edge.runtime.formats import FORMATS

    # every export option a table row declares, under its own name (its flag is --name-with-dashes);
    # unset flags are None and keep the step's default, a set one for no chosen format is an error
    options = {name: getattr(args, name) for fmt in FORMATS for name in fmt.options}
    results = export_run(args.run_dir, args.formats, data=args.data, **options)
    print(summary_table(results, Path(args.run_dir)))
    return 0 if all(r.ok for r in results) else 1
