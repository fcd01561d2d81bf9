"""`deepfake-edge bench RUN_DIR`: latency and accuracy of every runnable format, one table + chart."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_NOT_CHECKED = 3  # --strict: a format asked for (or exported) could not run here
HELP = "benchmark every exported format of a run: accuracy, AUC, latency, throughput, frame time"
NEEDS = ()  # pip extras this command needs beyond the base install (runtime/extras.py)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=Path, help="run folder (model.keras + exported artifacts)")
    p.add_argument("--data", type=Path, help="Kaggle-layout data (or a Real/Fake folder) for accuracy/AUC")
    p.add_argument("--split", default="Test", help="split to score (default Test)")
    p.add_argument("--max-images", type=int, default=400, help="cap on scored images, half per class (default 400)")
    p.add_argument("--formats", help="comma-separated format names (default: every format present)")
    p.add_argument("--out", type=Path, help="output folder (default RUN_DIR/bench)")
    p.add_argument("--threads", type=int, help="intra-op threads for every runtime (default: runtime's own)")
    p.add_argument("--batch", type=int, default=8, help="batch size for the throughput column (default 8)")
    p.add_argument("--min-runs", type=int, default=30, help="timed runs per row at least (default 30)")
    p.add_argument("--min-seconds", type=float, default=2.0, help="seconds of timed runs per row at least (default 2)")
    p.add_argument("--no-frame", action="store_true", help="skip the end-to-end 640x480 frame timing")
    p.add_argument("--face-model", type=Path, help="MediaPipe face detector .tflite (default: resolved from cache)")
    p.add_argument("--floor-auc", type=float, help="exit non-zero when a format's AUC is below this")
    p.add_argument("--strict", action="store_true",
                   help="exit 3 when a format asked for (or exported) could not be run on this machine")


def run(args: argparse.Namespace) -> int:
    import logging

    from deepfake_edge.app.bench import BenchConfig, below_floor, run_bench, write_outputs
    from deepfake_edge.runtime.errors import InputError
    from deepfake_edge.runtime.formats import parse_formats

    log = logging.getLogger("deepfake_edge.bench")
    if args.floor_auc is not None and args.data is None:
        raise InputError("--floor-auc needs --data to measure AUC")
    cfg = BenchConfig(
        data=args.data, split=args.split, max_images=args.max_images,
        formats=[f.name for f in parse_formats(args.formats)] + (["keras"] if args.formats else [])
        if args.formats else None,
        threads=args.threads, batch=args.batch, min_runs=args.min_runs, min_seconds=args.min_seconds,
        e2e=not args.no_frame, face_model=args.face_model, floor_auc=args.floor_auc,
    )
    rows, meta = run_bench(args.run_dir, cfg)
    paths = write_outputs(rows, meta, args.out or args.run_dir / "bench")
    print(paths["md"].read_text())
    log.info("wrote %s, %s, %s", *paths.values())
    failed = [r for r in rows if r.status.startswith("failed")]
    for r in failed:
        print(f"FAILED {r.label}: {r.status}", file=sys.stderr)
    asked = set(cfg.formats or [])
    skipped = [r for r in rows if r.status != "ok" and not r.status.startswith("failed")
               and (r.format in asked or not r.status.startswith("not exported"))]
    for r in skipped:
        print(f"SKIPPED {r.label}: {r.status}", file=sys.stderr)
    if args.floor_auc is not None:
        low = below_floor(rows, args.floor_auc)
        if low:
            names = ", ".join(f"{r.label} (AUC {r.auc if r.auc is None else round(r.auc, 4)})" for r in low)
            print(f"deepfake-edge bench: AUC below floor {args.floor_auc}: {names}")
            return 1
    if failed:
        return 1
    return EXIT_NOT_CHECKED if args.strict and skipped else 0
