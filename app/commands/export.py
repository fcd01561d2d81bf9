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
    from deepfake_edge.app.commands.arguments import add_setting_flags
    from deepfake_edge.runtime.formats import DEFAULT_CPU_FORMATS, FORMATS

    names = ", ".join(f.name for f in FORMATS if f.exporter)
    parser.add_argument("run_dir", metavar="RUN_DIR", help="run folder with model.keras and contract.json")
    parser.add_argument("--formats", default="cpu",
                        help=f"comma-separated formats, or 'cpu' ({','.join(DEFAULT_CPU_FORMATS)}) or 'all'; known: {names}")
    parser.add_argument("--data", metavar="DIR",
                        help="Kaggle-layout data folder: Train images calibrate INT8 and check every export")
    # one group of flags per export step's options dataclass (export/options.py), in table order
    seen = []
    for fmt in FORMATS:
        if fmt.step_options and fmt.step_options not in seen:
            seen.append(fmt.step_options)
            options_class = fmt.load_step_options()
            add_setting_flags(parser, options_class, group=options_class.TITLE, prefix=options_class.PREFIX)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from deepfake_edge.export.pipeline import export_run, summary_table
    from deepfake_edge.runtime.formats import FORMATS

    # every export option a table row's step declares, under its own name (its flag is --name-with-dashes);
    # unset flags are None and keep the step's default, a set one for no chosen format is an error
    options = {name: getattr(args, name) for fmt in FORMATS for name in fmt.options}
    results = export_run(args.run_dir, args.formats, data=args.data, **options)
    print(summary_table(results, Path(args.run_dir)))
    return 0 if all(r.ok for r in results) else 1
