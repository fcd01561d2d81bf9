"""`deepfake-edge scan`: a media archive (folders, file lists, manifests) through the detector on Ray Data."""
from __future__ import annotations

import argparse

HELP = "scan folders, file lists or a CSV/Parquet manifest on Ray Data into a resumable Parquet report"
NEEDS = ("scale",)  # pip extras this command needs beyond the base install (runtime/extras.py)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from deepfake_edge.app.commands.arguments import add_face_model, add_provider, add_threads

    parser.add_argument("sources", nargs="+", metavar="SOURCE",
                        help="image/video files, folders (walked recursively), or manifests (.csv / .parquet with a "
                             "`path` column, .txt one path per line)")
    parser.add_argument("--model", required=True, help="model file or run folder")
    parser.add_argument("--out", required=True, help="report folder; a re-run with the same --out skips files "
                                                     "already reported")
    parser.add_argument("--format", dest="report_format", default="parquet", choices=("parquet", "csv", "jsonl"),
                        help="report format (default parquet)")
    parser.add_argument("--workers", type=int, default=1,
                        help="detector actors (each opens the model once and takes one CPU; default 1)")
    parser.add_argument("--batch-size", type=int, default=16, help="files per batch handed to a worker (default 16)")
    parser.add_argument("--address", default=None,
                        help="an existing Ray cluster (e.g. ray://head:10001 or auto); default: a local instance")
    parser.add_argument("--max-files", type=int, default=None, metavar="N",
                        help="scan at most N new files in this run (the rest on the next, resumed, run)")
    add_face_model(parser)
    add_provider(parser)
    add_threads(parser, per=" in each worker")
    parser.add_argument("--every", type=int, default=None, metavar="N", help="videos: analyse every N-th frame")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from deepfake_edge.app.scan import ScanOptions, run_scan

    options = ScanOptions(model=args.model, out=Path(args.out), report_format=args.report_format,
                          workers=args.workers, batch_size=args.batch_size, address=args.address,
                          max_files=args.max_files, face_model=args.face_model, provider=args.provider, threads=args.threads,
                          every=args.every)
    summary = run_scan(args.sources, options)
    print(summary.text())
    return 1 if summary.errors else 0
