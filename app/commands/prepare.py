"""`deepfake-edge prepare RAW_DIR OUT_DIR`: raw photos/videos -> Kaggle layout of face crops."""
from __future__ import annotations

import argparse

HELP = "turn raw images/videos in Real/Fake folders into the Kaggle layout of face crops (same crop rule as detect)"
NEEDS = ()  # pip extras this command needs beyond the base install (runtime/extras.py)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from deepfake_edge.app.commands.arguments import add_detector_kind, add_face_model

    parser.add_argument("raw_dir", metavar="RAW_DIR", help="RAW_DIR/{Real,Fake}/... or RAW_DIR/{Train,Validation,Test}/{Real,Fake}")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="where the Train|Validation|Test / Real|Fake crops go")
    parser.add_argument("--size", type=int, default=256, help="side of the saved crops in pixels; 0 keeps native size (default 256)")
    parser.add_argument("--model", metavar="MODEL_OR_RUN_DIR", help="take the crop rule from this model's contract")
    parser.add_argument("--margin", type=float, help="face margin, fraction of the face's larger side (default 0.25)")
    parser.add_argument("--min-confidence", type=float, help="minimum face-detector confidence (default 0.5)")
    parser.add_argument("--min-face", type=int, help="minimum face size in pixels (default 20)")
    add_detector_kind(parser, "MediaPipe face detector (default short_range)")
    sampling = parser.add_mutually_exclusive_group()
    sampling.add_argument("--every", type=int, help="videos: keep every Nth frame")
    sampling.add_argument("--fps", type=float, default=1.0, help="videos: frames kept per second (default 1)")
    parser.add_argument("--all-faces", action="store_true", help="keep every face, not only the largest")
    parser.add_argument("--val-fraction", type=float, default=0.15)
    parser.add_argument("--test-fraction", type=float, default=0.15)
    add_face_model(parser)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from deepfake_edge.runtime.contract import CropRule, find_contract
    from deepfake_edge.runtime.faces import FaceDetector
    from deepfake_edge.runtime.formats import resolve_model_path
    from deepfake_edge.train.prepare import prepare_dataset

    rule = find_contract(resolve_model_path(args.model)).crop_rule if args.model else CropRule()
    changes = {k: v for k, v in (("margin", args.margin), ("min_confidence", args.min_confidence),
                                 ("min_face_px", args.min_face), ("detector", args.detector)) if v is not None}
    rule = replace(rule, **changes)
    with FaceDetector(args.face_model, rule=rule) as faces:
        report = prepare_dataset(args.raw_dir, args.out_dir, faces, rule, size=args.size or None,
                                 every=args.every, fps=None if args.every else args.fps,
                                 max_faces=1_000 if args.all_faces else 1,
                                 val_fraction=args.val_fraction, test_fraction=args.test_fraction)
    for split, counts in sorted(report.per_split.items()):
        print(f"{split}: " + ", ".join(f"{c} {n}" for c, n in sorted(counts.items())))
    print(f"{report.written} crops written, {report.kept_existing} already there, "
          f"{len(report.skipped)} of {report.sources} files skipped (see {args.out_dir}/prepare_report.json)")
    for item in report.skipped[:10]:
        print(f"  skipped {item['path']}: {item['reason']}")
    return 0
