"""Export + verify a model trained on DFDC face crops; writes the parity table with the machine.

Trains nothing: takes a run folder (default runs/dfdc-edge) and the DFDC faces
(default ../shared/data/dfdc-faces, Kaggle layout), exports the CPU edge formats (INT8
calibrated on Train), verifies them on Test and writes benchmarks/results/verify_dfdc.md.

    .venv/bin/python benchmarks/verify_dfdc.py [--run runs/dfdc-edge] [--data ../shared/data/dfdc-faces]
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_RUN = REPO / "runs" / "dfdc-edge"
DEFAULT_DATA = REPO / ".." / "shared" / "data" / "dfdc-faces"
DEFAULT_OUT = REPO / "benchmarks" / "results" / "verify_dfdc.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=DEFAULT_RUN, help="trained run folder (model.keras + contract.json)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Kaggle-layout face crops")
    parser.add_argument("--formats", default="cpu", help="formats to export (default: the CPU edge set)")
    parser.add_argument("--calib-images", type=int, default=None,
                        help="INT8 calibration images from Train (default: the export step's 200)")
    parser.add_argument("--max-per-class", type=int, help="verify on a seeded sample of N Test images per class")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results Markdown file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    from deepfake_edge.export.pipeline import export_run, summary_table
    from deepfake_edge.export.verify import to_markdown, verify_run, write_reports
    from deepfake_edge.runtime.backends import BackendOptions

    if not (args.run / "model.keras").is_file():
        print(f"verify_dfdc: no trained run at {args.run} (train one with `deepfake-edge train`)", file=sys.stderr)
        return 2
    if not args.data.is_dir():
        print(f"verify_dfdc: data folder {args.data} not found", file=sys.stderr)
        return 2
    results = export_run(args.run, args.formats, data=args.data, calib_images=args.calib_images)
    report = verify_run(args.run, args.data, max_per_class=args.max_per_class, backend_options=BackendOptions(provider="cpu"))
    command = "python benchmarks/verify_dfdc.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write_reports(report, command)
    text = "\n".join([
        to_markdown(report, command.strip()),
        "## Export summary",
        "",
        summary_table(results, args.run),
        "",
    ])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    print(f"wrote {args.out}")
    return 0 if report.passed and all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
