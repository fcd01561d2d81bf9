"""How a recipe's quality grows with training faces: 5k / 10k / 23k, at equal steps and at a growing budget, over seeds.

Each row trains one recipe (`--recipe`, default the ImageNet edge recipe under the name its
rows were recorded with, edge-imagenet-lite = today's edge) on a
class-balanced random subset of dfdc-faces-xl's Train split (`--max-per-class`, drawn
with the run's seed) and is measured as deployed (exported ONNX, Test at the
Validation-fitted threshold and temperature: `quality.measure_run`). Validation and Test
are the same 1,000 faces for every row. Subsets are drawn whole source by source
(`train.groups.sample_whole_groups`, dfdc-faces-xl ships groups.csv), so every fake keeps
its real twin as in the full set; the first edge-net rows (subset "per-file", session 10)
were drawn file by file, which broke most twins.

- equal steps: every size sees about 50,000 training images (5k x 10 epochs, 10k x 5,
  23k x 2 = 46,852), so only the number of distinct faces changes;
- growing budget (`--budget growing`): the same epochs at every size (the recipe's
  GROWING_EPOCHS), so compute grows with the data.

    .venv/bin/python benchmarks/data_scaling.py                     # equal steps, seeds 1 and 2
    .venv/bin/python benchmarks/data_scaling.py --budget growing --sizes 5000,10000 --seeds 1
    .venv/bin/python benchmarks/data_scaling.py --recipe edge-net --seeds 1,2,3 --sizes 5000,23426

Writes benchmarks/results/data_scaling.{md,json,png}: per row the mean and spread over seeds of
Test AUC / accuracy / ECE, with every seed's numbers in the JSON.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import shlex
import statistics
import sys
import time
from pathlib import Path

import plots  # benchmarks/plots.py: how a benchmark saves a figure
import quality  # benchmarks/quality.py: training in a child process, measuring a run as deployed

from deepfake_edge.train import recipes

REPO = quality.REPO
XL = REPO / ".." / "shared" / "data" / "dfdc-faces-xl"
RESULTS = REPO / "benchmarks" / "results"
FULL = 23426  # XL Train faces
EQUAL_STEP_IMAGES = 50_000
GROWING_EPOCHS = {"edge-net": 20, "edge-imagenet-lite": 12, "edge": 12}  # per recipe, as xl_study gave it on 23k faces
SUBSET = "whole sources"  # how this code draws a subset (rows written before it say "per-file")
log = logging.getLogger("data_scaling")


def epochs_for(size: int, budget: str, recipe: str = "edge-net") -> int:
    """Epochs a subset of `size` faces gets: equal steps (~50k images seen) or the recipe's growing-budget epochs."""
    if budget == "equal-steps":
        return max(1, math.floor(EQUAL_STEP_IMAGES / size + 0.25))
    return GROWING_EPOCHS.get(recipe, 20)


def run_dir(size: int, budget: str, seed: int, recipe: str = "edge-net") -> Path:
    prefix = "" if recipe == "edge-net" else f"{recipe}-"  # the first rows (edge-net) kept the bare names
    return REPO / "runs" / "scaling" / f"{prefix}{budget}-{size}-s{seed}"


def row_key(recipe: str, budget: str, size: int) -> str:
    return f"{recipe} {budget} {size}"


def upgrade(results: dict) -> dict:
    """Rows saved before the recipe and subset columns existed: edge-net (then named edge), per-file subsets."""
    out = {}
    for row in results.values():
        row.setdefault("recipe", "edge-net")
        if row["recipe"] == "edge" and row.get("subset") == "per-file":
            row["recipe"] = "edge-net"
        row.setdefault("subset", "per-file")
        out[row_key(row["recipe"], row["budget"], row["faces"])] = row
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=XL)
    ap.add_argument("--sizes", default=f"5000,10000,{FULL}", help="training faces per row (both classes together)")
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--budget", choices=("equal-steps", "growing"), default="equal-steps")
    ap.add_argument("--recipe", default="edge-imagenet-lite", choices=recipes.recipe_names())
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not (args.data / "Train").is_dir():
        print(f"data_scaling.py: {args.data}: dfdc-faces-xl not found (expected Train|Validation|Test / Real|Fake)",
              file=sys.stderr)
        return 2
    saved = RESULTS / "data_scaling.json"
    results = upgrade(json.loads(saved.read_text())["results"]) if saved.is_file() else {}
    for size in (int(s) for s in args.sizes.split(",")):
        epochs = epochs_for(size, args.budget, args.recipe)
        key = row_key(args.recipe, args.budget, size)
        row = results.setdefault(key, {"recipe": args.recipe, "budget": args.budget, "faces": size,
                                       "epochs": epochs, "subset": SUBSET, "seeds": {}})
        for seed in (int(s) for s in args.seeds.split(",")):
            settings = recipes.recipe(args.recipe)
            if size < FULL:
                settings["max_per_class"] = size // 2
            run = run_dir(size, args.budget, seed, args.recipe)
            if not quality.finished_with(run, quality.recipe_settings(settings, None, epochs=epochs, seed=seed)):
                log.info("training %s faces, seed %d, %d epochs into %s", size, seed, epochs, run)
                quality.train_recipe(settings, args.data, run, None, epochs=epochs, seed=seed)
            m = quality.measure_run(run, args.data, robustness=False, latency_seconds=0.5)
            row["seeds"][str(seed)] = {k: m[k] for k in ("val_auc", "test_auc", "test_accuracy", "test_ece",
                                                         "epochs_run", "train_wall_s")}
            log.info("%s seed %d: %s", key, seed, row["seeds"][str(seed)])
            write(results, saved, args, argv)  # after every run: an interrupted study keeps what it measured
    print((RESULTS / "data_scaling.md").read_text())
    return 0


def spread(values: list[float]) -> str:
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def plot(results: dict, png: Path) -> Path:
    """Test AUC against training faces, one line per recipe and budget, error bars = spread over seeds."""
    lines: dict[tuple[str, str], list[dict]] = {}
    for row in results.values():
        if row["seeds"]:
            lines.setdefault((row["recipe"], row["budget"]), []).append(row)
    with plots.figure(png, title="Data scaling (mean ± spread over seeds)", ylabel="DFDC Test AUC",
                      xlabel="training faces (dfdc-faces-xl Train)", size=(6.5, 4)) as ax:
        for (recipe, budget), rows in sorted(lines.items()):
            rows.sort(key=lambda r: r["faces"])
            aucs = [[p["test_auc"] for p in r["seeds"].values()] for r in rows]
            ax.errorbar([r["faces"] for r in rows], [statistics.mean(a) for a in aucs],
                        yerr=[statistics.stdev(a) if len(a) > 1 else 0 for a in aucs], marker="o", capsize=3,
                        linestyle="-" if budget == "growing" else "--", label=f"{recipe}, {budget}")
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks([5000, 10000, FULL], ["5k", "10k", "23k"])
    return png


def write(results: dict, saved: Path, args, argv) -> None:
    from deepfake_edge.runtime.profile import machine_info

    meta = {"machine": machine_info(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "command": "python benchmarks/data_scaling.py " + " ".join(
                shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))}
    RESULTS.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    lines = ["# Data scaling: edge recipes on 5k / 10k / 23k training faces", "",
             f"Machine: {meta['machine']}. Last written by `{meta['command']}` on {meta['date']}.",
             "Data: class-balanced random subsets of dfdc-faces-xl Train (drawn with each run's seed, whole",
             "source groups or file by file: column subset); Validation",
             "and Test the same 1,000 faces for every row. Test numbers are the exported ONNX model's at the",
             "Validation-fitted threshold and temperature; mean ± standard deviation over the seeds listed.", "",
             "| recipe | budget | subset | train faces | epochs | images seen | seeds | Val AUC | Test AUC | Test acc | "
             "Test ECE | train min (mean) |", "|---|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    for row in sorted(results.values(), key=lambda r: (r["recipe"], r["budget"], r["faces"])):
        per = list(row["seeds"].values())
        col = lambda k: spread([p[k] for p in per])  # noqa: E731
        wall = statistics.mean(p["train_wall_s"] for p in per) / 60 if per else float("nan")
        lines.append(f"| {row['recipe']} | {row['budget']} | {row['subset']} | {row['faces']:,} | {row['epochs']} | {row['faces'] * row['epochs']:,} | "
                     f"{','.join(row['seeds'])} | {col('val_auc')} | {col('test_auc')} | {col('test_accuracy')} | "
                     f"{col('test_ece')} | {wall:.1f} |")
    plot(results, RESULTS / "data_scaling.png")
    notes = RESULTS / "data_scaling.notes.md"
    (RESULTS / "data_scaling.md").write_text("\n".join(lines) + "\n" + ("\n" + notes.read_text()
                                                                          if notes.is_file() else ""))


if __name__ == "__main__":
    sys.exit(main())
