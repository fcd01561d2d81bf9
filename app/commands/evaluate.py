"""`deepfake-edge evaluate`: metrics, plots and (optionally) a robustness report for a run."""
from __future__ import annotations

HELP = "evaluate a run (or model file) on a split or any Real/Fake folder: metrics.json, ROC, confusion matrix"
NEEDS = ("train",)  # pip extras this command needs beyond the base install (runtime/extras.py)


def add_arguments(parser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="run folder (uses its model.keras) or a model file")
    parser.add_argument("--data", required=True, metavar="DIR",
                        help="Kaggle-layout folder, or any folder with Real/ and Fake/ subfolders (cross-dataset); a "
                             "folder with only Fake/ (or only Real/) reports recall (or false-positive rate)")
    parser.add_argument("--split", default="Test", help="split of a Kaggle-layout folder (default Test)")
    parser.add_argument("--robustness", action="store_true",
                        help="also report accuracy/AUC per corruption type and severity (eval/robustness.*)")
    parser.add_argument("--calibrate", action="store_true",
                        help="first refit temperature and threshold on the Validation split of --data")
    parser.add_argument("--max-per-class", type=int, default=None, metavar="N", help="cap images per class")
    parser.add_argument("--batch-size", type=int, default=64, metavar="N")
    parser.add_argument("--out", default=None, metavar="DIR", help="where to write (default RUN_DIR/eval)")


def run(args) -> int:
    from deepfake_edge.train.evaluate import calibrate_run, evaluate_run

    if args.calibrate:
        calibrate_run(args.run_dir, args.data, max_per_class=args.max_per_class, batch_size=args.batch_size)
    m = evaluate_run(args.run_dir, args.data, args.split, robustness=args.robustness,
                     max_per_class=args.max_per_class, batch_size=args.batch_size, out_dir=args.out)
    if "one_class" in m:
        what = (f"recall (fakes caught) {m['recall_fake']:.4f}" if m["one_class"] == "Fake"
                else f"false-positive rate (reals flagged Fake) {m['false_positive_rate']:.4f}")
        print(f"{m['split']}: only {m['one_class']} images (n={m['n']}): {what} at threshold {m['threshold']:.3f}; "
              f"no AUC: {m['auc_note']}  skipped={m['skipped']}")
        return 0
    auc = "n/a" if m["auc"] != m["auc"] else f"{m['auc']:.4f}"
    print(f"{m['split']}: accuracy {m['accuracy']:.4f}  AUC {auc}  ECE {m['ece']:.4f}  "
          f"threshold {m['threshold']:.3f}  n={m['n']}  skipped={m['skipped']}")
    return 0
