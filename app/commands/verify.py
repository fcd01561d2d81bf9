"""`deepfake-edge verify RUN_DIR --data DIR`: prove every export keeps Keras' accuracy and AUC.

Runs each exported artifact through its runtime backend on a labelled split (default
Test) and writes RUN_DIR/verify.json and RUN_DIR/verify.md. Exit codes: 0 every checked
format passed; 1 a format failed its tolerance (the message names the format and the
figure); 3 with `--strict`, everything checked passed but a format asked for (or present)
could not be checked here (not exported, or its runtime or GPU is missing). Skipped
formats are listed on stderr either way.
"""
from __future__ import annotations

import argparse
import sys

EXIT_NOT_CHECKED = 3  # --strict: all checked formats passed, but something asked for was not checked
HELP = "compare every exported artifact with the Keras model on a labelled split (parity table)"
NEEDS = ("train",)  # pip extras this command needs beyond the base install (runtime/extras.py)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from deepfake_edge.app.commands.arguments import add_provider

    from deepfake_edge.export.verify import Tolerances

    d = Tolerances()
    parser.add_argument("run_dir", metavar="RUN_DIR", help="run folder with model.keras and exported artifacts")
    parser.add_argument("--data", required=True, metavar="DIR", help="Kaggle-layout data folder (or Real/Fake folder)")
    parser.add_argument("--split", default="Test", help="split to evaluate on (default Test)")
    parser.add_argument("--formats", help="only these formats (comma-separated; default: every artifact present)")
    parser.add_argument("--max-per-class", type=int, metavar="N", help="seeded sample of N images per class")
    parser.add_argument("--strict", action="store_true",
                        help="exit 3 when a format asked for (or present) could not be checked on this machine")
    add_provider(parser, default="cpu", applies_to=".onnx artifacts")
    tol = parser.add_argument_group("tolerances")
    tol.add_argument("--fp32-max-diff", type=float, default=d.fp32_max_diff, help=f"FP32: max |Δp| (default {d.fp32_max_diff:g})")
    tol.add_argument("--fp32-min-agreement", type=float, default=d.fp32_min_agreement,
                     help=f"FP32: minimum label agreement %% (default {d.fp32_min_agreement:g})")
    tol.add_argument("--fp16-max-auc-drop", type=float, default=d.fp16_max_auc_drop,
                     help=f"FP16: largest AUC drop (default {d.fp16_max_auc_drop:g})")
    tol.add_argument("--int8-max-auc-drop", type=float, default=d.int8_max_auc_drop,
                     help=f"INT8: largest AUC drop (default {d.int8_max_auc_drop:g})")
    tol.add_argument("--int8-max-acc-drop", type=float, default=d.int8_max_acc_drop,
                     help=f"INT8: largest accuracy drop in points (default {d.int8_max_acc_drop:g})")


def run(args: argparse.Namespace) -> int:
    from deepfake_edge.app.commands.arguments import backend_options
    from deepfake_edge.export.verify import Tolerances, to_markdown, verify_run, write_reports

    tolerances = Tolerances(args.fp32_max_diff, args.fp32_min_agreement, args.fp16_max_auc_drop,
                            args.int8_max_auc_drop, args.int8_max_acc_drop)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()] if args.formats else None
    report = verify_run(args.run_dir, args.data, split=args.split, tolerances=tolerances, formats=formats,
                        max_per_class=args.max_per_class, backend_options=backend_options(args))
    command = "deepfake-edge verify " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else None
    json_path, md_path = write_reports(report, command)
    print(to_markdown(report, command))
    print(f"wrote {json_path} and {md_path}")
    for failure in report.failures:
        print(f"FAILED {failure}", file=sys.stderr)
    for skipped in report.skipped:
        print(f"SKIPPED {skipped}", file=sys.stderr)
    if not report.passed:
        return 1
    return EXIT_NOT_CHECKED if args.strict and report.skipped else 0
