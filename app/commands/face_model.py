"""`deepfake-edge face-model`: install or locate the MediaPipe face-detector model."""
from __future__ import annotations

import argparse

HELP = "install (from a mediapipe<=0.10.21 wheel, or by download) or locate the face-detector model"
NEEDS = ()  # pip extras this command needs beyond the base install (runtime/extras.py)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from-wheel", metavar="WHEEL", help="extract the models from a mediapipe<=0.10.21 wheel (offline)")
    parser.add_argument("--download", action="store_true",
                        help="download MediaPipe's published short-range model once into the cache (needs network)")
    parser.add_argument("--path", metavar="P", help="check this model file instead of the cache")
    parser.add_argument("--kind", choices=("short_range", "full_range"), default="short_range",
                        help="which detector to locate (default: short_range)")


def run(args: argparse.Namespace) -> int:
    from deepfake_edge.runtime import faces

    if args.from_wheel:
        for kind, path in faces.install_from_wheel(args.from_wheel).items():
            print(f"installed {kind}: {path}")
    if args.download:
        print(f"downloaded short_range: {faces.download_face_model()}")
    path = faces.resolve_face_model(args.path, args.kind)
    print(path)
    return 0
