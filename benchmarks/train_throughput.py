"""Input-pipeline and training throughput (images/s) of `deepfake-edge train`'s own code.

Measures, on ../shared/data/dfdc-faces when present (else the package's demo dataset,
`deepfake_edge.train.synth.make_demo_dataset`: ORL face photos + blended fakes, no download):
  1. the tf.data pipeline alone (decode -> resize -> augment -> normalise), with and
     without decoded crops kept in memory (`train.cache.CropCache`, what `train` uses), and
  2. training steps of each architecture fed by that pipeline, with and without the cache.
Small step counts: this is a throughput probe, not a training run.

    .venv/bin/python benchmarks/train_throughput.py [--data DIR] [--size 64] [--steps 20]
Writes benchmarks/results/train_throughput.md naming the machine and the command.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

from deepfake_edge.runtime.profile import machine_summary, nvidia_gpus

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO / ".." / "shared" / "data" / "dfdc-faces"


def measure_pipeline(split, batches: int) -> float:
    it = iter(split.dataset)
    next(it)  # warm-up: first batch pays the tracing
    t0 = time.perf_counter()
    n = 0
    for _ in range(batches):
        x, _ = next(it)
        n += int(x.shape[0])
    return n / (time.perf_counter() - t0)


def measure_training(arch: str, split, size: int, steps: int, batch_size: int) -> tuple[float, int]:
    import keras

    from deepfake_edge.train.models import build_model

    model = build_model(arch, input_size=size)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    model.fit(split.dataset, steps_per_epoch=2, epochs=1, verbose=0)  # warm-up / tracing
    t0 = time.perf_counter()
    model.fit(split.dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    seconds = time.perf_counter() - t0
    return steps * batch_size / seconds, model.count_params()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--archs", default="edge-net,seed-cnn")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "train_throughput.md"))
    args = ap.parse_args()
    with contextlib.ExitStack() as cleanup:
        data, source = _train_data(Path(args.data), cleanup)
        rows = _measure(args, data)
    _write_results(args, source, rows)
    return 0


def _train_data(data: Path, cleanup: contextlib.ExitStack) -> tuple[Path, str]:
    """The folder to read Train images from, and the results file's line naming it.

    A folder with a Train split is used as given; otherwise the demo dataset is written to a
    temporary folder (removed on exit), so the script runs on a fresh clone without downloads.
    """
    if (data / "Train").is_dir() or any(p.name.lower() == "train" for p in data.glob("*")):
        return data, str(data)
    from deepfake_edge.train.synth import make_demo_dataset

    tmp = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="train_throughput_")))
    info = make_demo_dataset(tmp / "demo")
    n = info.images["Train"]
    return Path(info.root), (f"{data} not found; demo dataset instead (deepfake_edge.train.synth.make_demo_dataset: "
                             f"ORL face photos 92x92 + blended fakes, Train {n['Real']} real + {n['Fake']} fake)")


def _measure(args, data: Path) -> list[tuple[str, str, float]]:
    from deepfake_edge.runtime.contract import ModelContract
    from deepfake_edge.train.cache import CropCache
    from deepfake_edge.train.data import load_split

    contract = ModelContract(input_size=args.size)

    def split(augment=True, cache=None):
        return load_split(data, "Train", contract, batch_size=args.batch_size, train=True, augment=augment,
                          max_per_class=2000, repeat=True, cache=cache)

    rows = []
    for augment in (False, True):
        rows.append((f"input pipeline, augment={'on' if augment else 'off'}", "-",
                     measure_pipeline(split(augment), args.steps)))
    cache = CropCache(1024)
    cached = split(cache=cache)
    for _ in cached.dataset.take(cached.steps):  # one pass fills the cache, as a first epoch does
        pass
    rows.append(("input pipeline, augment=on, crops cached", "-", measure_pipeline(cached, args.steps)))
    for arch in args.archs.split(","):
        for name, source in (("pipeline with augment", split()), ("crops cached", cached)):
            ips, params = measure_training(arch, source, args.size, args.steps, args.batch_size)
            rows.append((f"train {arch} ({name})", f"{params:,}", ips))
    return rows


def _write_results(args, source: str, rows: list[tuple[str, str, float]]) -> None:
    cmd = "python " + " ".join([os.path.relpath(__file__, REPO), *sys.argv[1:]])
    lines = [
        "# Training throughput",
        "",
        f"- Machine: {machine_summary()}, GPU: {', '.join(nvidia_gpus()) or 'none'}",
        f"- Data: {source}",
        f"- Input {args.size}x{args.size}, batch {args.batch_size}, {args.steps} timed steps after warm-up",
        f"- Command: `{cmd}`",
        "- Note: the machine was shared with other jobs; treat numbers as indicative.",
        "",
        "| what | params | images/s |",
        "|---|---|---|",
        *[f"| {w} | {p} | {v:.1f} |" for w, p, v in rows],
        "",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
