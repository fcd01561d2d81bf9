"""Detection on 4.7x more faces: the edge recipe on dfdc-faces-xl, an ImageNet teacher, distillation, SBI.

Each row of STUDY is one training on the XL Train split (23,426 faces; Validation and
Test identical to dfdc-faces, so every number compares with benchmarks/results/quality.md),
made by the same `train()` the CLI runs, in its own process, under a wall-clock budget:

    .venv/bin/python benchmarks/xl_study.py                       # train what is missing, measure all
    .venv/bin/python benchmarks/xl_study.py --rows xl-edge,xl-teacher
    .venv/bin/python benchmarks/xl_study.py --measure-only        # re-measure the run folders

Rows (the CLI equivalent is in each row's `command`):
- xl-edge: `--recipe edge` (edge-net, width 0.75, 96 px), the student without a teacher;
- xl-teacher: `--recipe teacher` (torchvision's ImageNet MobileNetV2, offline weights);
- xl-student: `--recipe edge --teacher runs/xl-teacher`, the edge model distilled;
- xl-sbi-real-only: `--recipe edge --sbi-ratio 1 --sbi-mask landmarks`: no DFDC fake at all,
  every fake self-blended from XL's reals (the field's cross-manipulation protocol);
- xl-teacher-sbi-real-only: the same protocol from the ImageNet MobileNetV2;
- xl-mobilenet-64: the teacher recipe at 64 px, the ImageNet network at the edge latency budget;
- xl-mobilenet-lite-64: `--recipe edge-imagenet-lite`, that network cut after 14 of its 17 blocks;
- xl-mobilenet-lite-64-s2, -s3: the same with training seeds 2 and 3 (the seed spread of the edge pick);
- xl-mobilenet-lite-64-mix, -mix-ellipse: the edge pick with a quarter of its fakes self-blended
  from reals (labelled + SBI mixture; face-mesh or elliptical masks), scored in-dataset and on
  unseen manipulations (benchmarks/cross_manipulation.py);
- xl-mobilenet-lite-64-scratch: the same network and budget from random weights (what ImageNet buys).

Each finished run is exported to ONNX and measured as deployed (`quality.measure_run`):
Test accuracy / AUC / ECE at the Validation-fitted threshold and temperature, parameters,
FLOPs, batch-1 ONNX latency, training wall time. Writes benchmarks/results/xl_study.md
and xl_study.json; the hand-written reading in xl_study.notes.md is appended.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import time
from pathlib import Path

import quality  # benchmarks/quality.py: training in a child process, measuring a run as deployed

from deepfake_edge.train import recipes

REPO = quality.REPO
XL = REPO / ".." / "shared" / "data" / "dfdc-faces-xl"
RESULTS = REPO / "benchmarks" / "results"
NOTES = RESULTS / "xl_study.notes.md"
log = logging.getLogger("xl_study")


def _row(recipe: str, budget: float, epochs: int, **overrides) -> dict:
    """One study row: a recipe with overrides, and the `train` command line spelled from them."""
    from deepfake_edge.train.config import train_flags

    shown = {k: (os.path.relpath(v, REPO) if k == "teacher" else v) for k, v in overrides.items()}
    flags = " ".join(train_flags({"epochs": epochs, "time_budget": float(budget), **shown}))
    return {"settings": {**recipes.recipe(recipe), **overrides}, "budget": budget, "epochs": epochs,
            "command": f"deepfake-edge train --data DATA --out RUN --recipe {recipe} {flags}"}


# name -> the run's train() settings, wall-clock budget (minutes) and epoch cap
STUDY: dict[str, dict] = {
    "xl-edge": _row("edge-net", 32, 20),
    "xl-teacher": _row("teacher", 36, 12),
    "xl-student": _row("edge-net", 32, 20, teacher=str(REPO / "runs" / "xl-teacher")),
    "xl-sbi-real-only": _row("edge-net", 26, 20, sbi_ratio=1.0, sbi_mask="landmarks"),
    "xl-mobilenet-64": _row("teacher", 26, 12, img_size=64),
    "xl-mobilenet-lite-64": _row("edge-imagenet-lite", 26, 12),
    "xl-mobilenet-lite-64-s2": _row("edge-imagenet-lite", 26, 12, seed=2),
    "xl-teacher-sbi-real-only": _row("teacher", 20, 12, sbi_ratio=1.0, sbi_mask="landmarks"),
    # trained with --sbi-mask landmarks, but through a path spelling the landmark cache missed
    # (fixed since): every fake got the elliptical mask, so this is what it ran
    "xl-mobilenet-lite-64-mix-ellipse": _row("edge-imagenet-lite", 26, 12, sbi_ratio=0.25, sbi_mask="ellipse"),
    "xl-mobilenet-lite-64-mix": _row("edge-imagenet-lite", 26, 12, sbi_ratio=0.25, sbi_mask="landmarks"),
    "xl-mobilenet-lite-64-s3": _row("edge-imagenet-lite", 26, 12, seed=3),
    "xl-mobilenet-lite-64-scratch": _row("edge-imagenet-lite", 26, 12, pretrained=False),
}
RUN_DIRS = {"xl-edge": "xl-edge-s42"}  # the first XL run was made by hand with exactly these settings


def run_dir(name: str) -> Path:
    return REPO / "runs" / RUN_DIRS.get(name, name)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(XL))
    ap.add_argument("--rows", default=",".join(STUDY), help=f"rows to train/measure (default all: {', '.join(STUDY)})")
    ap.add_argument("--measure-only", action="store_true", help="measure existing run folders, train nothing")
    ap.add_argument("--robustness", action="store_true", help="also the per-corruption table (slower)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    data = Path(args.data)
    if not (data / "Train").is_dir():
        print(f"xl_study.py: {data}: dfdc-faces-xl not found (expected Train|Validation|Test / Real|Fake)",
              file=sys.stderr)
        return 2
    saved = RESULTS / "xl_study.json"
    results = json.loads(saved.read_text())["results"] if saved.is_file() else {}
    for name in args.rows.split(","):
        row, run = STUDY[name], run_dir(name)
        settings = quality.recipe_settings(row["settings"], row["budget"], epochs=row["epochs"])
        if not args.measure_only and not quality.finished_with(run, settings):
            log.info("training %s into %s (%s min budget)", name, run, row["budget"])
            quality.train_recipe(row["settings"], data, run, row["budget"], epochs=row["epochs"])
        if not (run / "contract.json").is_file():
            log.warning("%s: %s not trained yet, skipped", name, run)
            continue
        results[name] = {"command": row["command"], **quality.measure_run(run, data, robustness=args.robustness)}
        log.info("%s: %s", name, {k: results[name][k] for k in ("test_auc", "test_accuracy", "epochs_run")})
        write_results(results, saved)  # after every row: an interrupted study keeps what it measured
    print(write_results(results, saved).read_text())
    return 0


def write_results(results: dict, saved: Path) -> Path:
    """xl_study.json and xl_study.md from the rows measured so far (in STUDY's order)."""
    from deepfake_edge.runtime.profile import machine_info

    ordered = {name: results[name] for name in STUDY if name in results}
    meta = {"machine": machine_info(), "data": os.path.relpath(XL, REPO),
            "command": "python benchmarks/xl_study.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "seed": 42}
    RESULTS.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps({"meta": meta, "results": ordered}, indent=2) + "\n")
    md = RESULTS / "xl_study.md"
    md.write_text(to_markdown(ordered, meta))
    return md


def to_markdown(results: dict, meta: dict) -> str:
    f = quality._f
    lines = [
        "# Detection on dfdc-faces-xl: more faces, an ImageNet teacher, distillation, self-blended fakes",
        "",
        f"Machine: {meta['machine']}. Data: `{meta['data']}` (Train 11,713 + 11,713; Validation and Test the",
        "same 500 + 500 each as dfdc-faces). Training seed 42 unless the row name ends in -sN (seed N); each run's own budget. Every row is trained "
        "and measured by `python benchmarks/xl_study.py --rows NAME` (its CLI equivalent is listed below); "
        f"this file was last written by `{meta['command']}` on {meta['date']}.",
        "Test numbers are the exported ONNX model's, at the threshold and temperature fitted on Validation.",
        "",
        "| run | arch | params | MFLOPs | batch-1 ONNX ms | epochs | train min | Val AUC | Test AUC | Test acc | Test ECE |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        wall = r.get("train_wall_s")
        lines.append(f"| {name} | {r['arch']} | {f(r['params'])} | {f(r['mflops_per_image'], 1)} | "
                     f"{f(r['latency_b1_ms_p50'])} | {f(r['epochs_run'])} | {f(wall / 60 if wall else None, 1)} | "
                     f"{f(r['val_auc'])} | {f(r['test_auc'])} | {f(r['test_accuracy'])} | {f(r['test_ece'])} |")
    lines += ["", "Commands (DATA = ../shared/data/dfdc-faces-xl):", ""]
    lines += [f"- {name}: `{r['command']}`" for name, r in results.items()]
    notes = NOTES.read_text() if NOTES.is_file() else ""
    return "\n".join(lines) + "\n" + ("\n" + notes if notes else "")


if __name__ == "__main__":
    sys.exit(main())
