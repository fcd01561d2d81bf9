"""`deepfake-edge demo`: the embedded default, end to end, on data it makes itself."""
from __future__ import annotations

HELP = "the whole job on bundled real faces: dataset, train edge-net, evaluate, export, verify, bench"
NEEDS = ("train", "faces")  # pip extras this command needs beyond the base install (runtime/extras.py)


def add_arguments(parser) -> None:
    parser.add_argument("--out", default="runs/demo", metavar="DIR", help="output folder (default runs/demo)")
    parser.add_argument("--epochs", type=int, default=None, metavar="N", help="training epochs (default 16)")
    parser.add_argument("--img-size", type=int, default=None, metavar="N", help="input size (default 96)")
    parser.add_argument("--seed", type=int, default=None)


def run(args) -> int:
    from dataclasses import replace

    from deepfake_edge.app.demo import DemoSettings, format_summary, run_demo

    overrides = {k: v for k, v in {"epochs": args.epochs, "img_size": args.img_size, "seed": args.seed}.items()
                 if v is not None}
    ctx = run_demo(args.out, replace(DemoSettings(), **overrides))
    print(format_summary(ctx))
    return 0
