"""What flip averaging (`train --flip-average`) buys: AUC with and without it, per trained run.

Trains nothing. For each run folder, scores Validation and Test twice through the runtime's
one preprocessing path: with the plain network, and with the same network averaging its
answers on the crop and its mirror image (`train.models.flip_averaged`). A run trained
with `--flip-average` is unwrapped to get its plain network, so both kinds of run compare
the same weights. AUC does not depend on the temperature, so no calibration is involved.
For the first run of each architecture it also exports both networks to ONNX (in a
temporary folder) and times them at batch 1 on ONNX Runtime: the price of the average.

    .venv/bin/python benchmarks/flip_average.py runs/dfdc-edge runs/dfdc-edge-s7 ... [--data DIR]

Writes benchmarks/results/flip_average.md (with the machine and the command).
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / ".." / "shared" / "data" / "dfdc-faces"
DEFAULT_OUT = REPO / "benchmarks" / "results" / "flip_average.md"
SPLITS = ("Validation", "Test")


def plain_and_averaged(model):
    """(plain network, flip-averaged network) sharing one set of weights."""
    import keras

    from deepfake_edge.runtime.layers import HorizontalFlip
    from deepfake_edge.train.models import flip_averaged

    if any(isinstance(layer, HorizontalFlip) for layer in model.layers):
        return next(layer for layer in model.layers if isinstance(layer, keras.Model)), model
    return model, flip_averaged(model)


def split_aucs(run: Path, data: Path, batch_size: int = 128) -> dict[str, tuple[float, float]]:
    """{split: (plain AUC, flip-averaged AUC)} for one run folder."""
    from deepfake_edge.runtime.contract import ModelContract
    from deepfake_edge.runtime.dataset import list_labeled_folder, load_preprocessed
    from deepfake_edge.runtime.layers import load_keras_model
    from deepfake_edge.runtime.metrics import roc_auc

    contract = ModelContract.load(run / "contract.json")
    plain, averaged = plain_and_averaged(load_keras_model(run / "model.keras"))
    out = {}
    for split in SPLITS:
        paths, labels = list_labeled_folder(data, split)
        scores = {"plain": [], "averaged": []}
        kept_labels = []
        for start in range(0, len(paths), batch_size):
            batch, kept, _ = load_preprocessed(paths[start:start + batch_size], contract)
            kept_labels.append(labels[start:start + batch_size][kept])
            for name, net in (("plain", plain), ("averaged", averaged)):
                scores[name].append(np.asarray(net(batch, training=False))[:, contract.fake_index])
        y = np.concatenate(kept_labels)
        out[split] = tuple(roc_auc(np.concatenate(scores[k]), y) for k in ("plain", "averaged"))
    return out


def onnx_latency_ms(run: Path, seconds: float = 3.0) -> tuple[float, float]:
    """Batch-1 ONNX Runtime p50 (ms) of the run's plain and flip-averaged networks."""
    from deepfake_edge.export.pipeline import export_run
    from deepfake_edge.runtime.backends import open_backend
    from deepfake_edge.runtime.layers import load_keras_model
    from deepfake_edge.runtime.profile import measure

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, net in zip(("plain", "averaged"), plain_and_averaged(load_keras_model(run / "model.keras"))):
            copy = Path(tmp) / name
            copy.mkdir()
            shutil.copy(run / "contract.json", copy / "contract.json")
            net.save(copy / "model.keras")
            export_run(copy, "onnx")
            with open_backend(copy / "model.onnx") as backend:
                size = backend.contract.input_size
                x = np.full((1, size, size, 3), 0.5, np.float32)
                out.append(measure(lambda: backend.predict(x), warmup=20, min_runs=200, min_seconds=seconds).p50_ms)
    return out[0], out[1]


def to_markdown(rows: list[tuple[str, dict]], command: str) -> str:
    from deepfake_edge.runtime.profile import machine_summary

    lines = ["# Flip averaging: AUC of each run's network without and with it", "",
             f"Machine: {machine_summary()}", f"Command: `{command}`",
             f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
             "| run | architecture | " + " | ".join(f"{s} plain | {s} averaged | {s} Δ" for s in SPLITS) + " |",
             "|---|---|" + "---:|" * (3 * len(SPLITS))]
    for name, r in rows:
        cells = []
        for s in SPLITS:
            plain, averaged = r[s]
            cells += [f"{plain:.4f}", f"{averaged:.4f}", f"{averaged - plain:+.4f}"]
        lines.append(f"| {name} | {r['arch']} | " + " | ".join(cells) + " |")
    lines += ["", "Per architecture (mean over its runs; batch-1 ONNX Runtime p50 of its first run):", "",
              "| architecture | runs | " + " | ".join(f"{s} plain | {s} averaged | {s} higher in" for s in SPLITS)
              + " | ms plain | ms averaged |", "|---|---:|" + "---:|" * (3 * len(SPLITS) + 2)]
    for arch in dict.fromkeys(r["arch"] for _, r in rows):
        mine = [r for _, r in rows if r["arch"] == arch]
        cells = []
        for s in SPLITS:
            plain, averaged = np.mean([r[s][0] for r in mine]), np.mean([r[s][1] for r in mine])
            cells += [f"{plain:.4f}", f"{averaged:.4f}", f"{sum(r[s][1] > r[s][0] for r in mine)} of {len(mine)}"]
        ms = mine[0].get("latency_ms")
        cells += [f"{ms[0]:.3f}", f"{ms[1]:.3f}"] if ms else ["-", "-"]
        lines.append(f"| {arch} | {len(mine)} | " + " | ".join(cells) + " |")
    return "\n".join(lines + [""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="trained run folders (model.keras + contract.json)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Kaggle-layout face crops")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results Markdown file")
    parser.add_argument("--no-latency", dest="latency", action="store_false", help="AUC only (no ONNX export)")
    args = parser.parse_args(argv)
    from deepfake_edge.runtime.contract import ModelContract

    rows = []
    for run in args.runs:
        if not (run / "model.keras").is_file():
            print(f"flip_average: {run}: no model.keras (train the run first)", file=sys.stderr)
            return 2
        contract = ModelContract.load(run / "contract.json")
        options = contract.training.get("model_options") or {}
        label = contract.arch + "".join(f" {k}={v}" for k, v in options.items())
        row = {"arch": label, **split_aucs(run, args.data)}
        if args.latency and label not in {r["arch"] for _, r in rows}:
            row["latency_ms"] = onnx_latency_ms(run)
        rows.append((os.path.relpath(run.resolve(), REPO), row))
        print(rows[-1], flush=True)
    command = "python benchmarks/flip_average.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:]))
    text = to_markdown(rows, command)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
