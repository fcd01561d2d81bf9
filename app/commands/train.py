"""`deepfake-edge train`: train a model on a Kaggle-layout folder into a run folder."""
from __future__ import annotations

HELP = "train a Real/Fake classifier on a Train|Validation|Test / Real|Fake folder"
NEEDS = ("train",)  # pip extras this command needs beyond the base install (runtime/extras.py)


def add_arguments(parser) -> None:
    from deepfake_edge.train.recipes import RECIPES

    # Unset options stay None so `--resume` can take them from the run's saved settings.
    parser.add_argument("--data", required=True, metavar="DIR", help="Kaggle-layout folder (Train|Validation|Test / Real|Fake)")
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder to write (refused if it holds a model, unless --resume)")
    presets = "; ".join(f"{name}: " + ", ".join(f"{k}={v}" for k, v in options.items())
                        for name, options in RECIPES.items())
    parser.add_argument("--recipe", default=None, choices=sorted(RECIPES),
                        help=f"preset of the options below ({presets}); edge is the measured edge default, "
                             "seed the original project's; options given explicitly win (train/recipes.py)")
    parser.add_argument("--arch", default=None, help="architecture (default seed-cnn; see train/models.py: seed-cnn, edge-net, tiny-cnn, ...)")
    parser.add_argument("--img-size", type=int, default=None, metavar="N", help="input size in pixels (default 256)")
    parser.add_argument("--batch-size", type=int, default=None, metavar="N", help="batch size (default 32)")
    parser.add_argument("--epochs", type=int, default=None, metavar="N", help="maximum epochs (default 50; early stopping on validation AUC)")
    parser.add_argument("--max-per-class", type=int, default=None, metavar="N", help="cap images per class per split (quick runs)")
    parser.add_argument("--no-augment", dest="augment", action="store_const", const=False, default=None,
                        help="turn off augmentation (flips, rotation/zoom, colour jitter, corruptions)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run from its last finished epoch")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default 42)")
    parser.add_argument("--lr", type=float, default=None, metavar="X", help="initial Adam learning rate (default 1e-3)")
    parser.add_argument("--pretrained", action="store_const", const=True, default=None,
                        help="start from ImageNet weights: mobilenet-v2 reads them offline from the cache that "
                             "`deepfake-edge weights` (or make setup) fills; Keras applications download once")
    parser.add_argument("--no-pretrained", dest="pretrained", action="store_const", const=False,
                        help="start from random weights even where the recipe starts from ImageNet "
                             "(what the ImageNet initialisation buys, at the same budget)")
    parser.add_argument("--weights", default=None, metavar="PATH",
                        help="local ImageNet weights: a .pth / converted .npz for mobilenet-v2, a 'notop' .h5 "
                             "for Keras applications (offline --pretrained)")
    parser.add_argument("--time-budget", type=float, default=None, metavar="MIN",
                        help="stop after the epoch that crosses MIN minutes of training (the run folder is still "
                             "complete and calibrated); compares architectures at the same cost")
    parser.add_argument("--sbi", action="store_true",
                        help="make fakes on the fly from Train's real faces (self-blended images); "
                             "half of the fakes unless --sbi-ratio says otherwise")
    parser.add_argument("--sbi-ratio", type=float, default=None, metavar="R",
                        help="share of the fakes that are self-blended (0..1; 1 = train from real faces alone, "
                             "Train/Fake may then be missing); implies --sbi")
    parser.add_argument("--sbi-mask", choices=("auto", "landmarks", "ellipse"), default=None,
                        help="mask of the self-blended fakes: the face-mesh hull (landmarks, as the SBI method; "
                             "computed once per dataset and cached), an ellipse, or auto = landmarks when the "
                             "face-landmark model is installed (default)")
    parser.add_argument("--sbi-jpeg", type=float, default=None, metavar="P",
                        help="probability that a self-blended face is JPEG-compressed before blending "
                             "(double-JPEG artefacts; default 0)")
    parser.add_argument("--schedule", choices=("plateau", "cosine"), default=None,
                        help="learning-rate schedule: halve on a validation-loss plateau (default) or a cosine "
                             "anneal over --time-budget / --epochs")
    parser.add_argument("--label-smoothing", type=float, default=None, metavar="X", help="label smoothing (default 0)")
    parser.add_argument("--weight-decay", type=float, default=None, metavar="X",
                        help="decoupled weight decay (AdamW) (default 0: plain Adam)")
    parser.add_argument("--ema", type=float, default=None, metavar="MOMENTUM",
                        help="validate and save a moving average of the weights with this momentum, e.g. 0.99 "
                             "(default 0: the last step's weights)")
    parser.add_argument("--flip-average", action="store_const", const=True, default=None,
                        help="save the model averaging its answers on the crop and its mirror image "
                             "(test-time flip in the graph: every format gets it; twice the compute)")
    parser.add_argument("--groups", default=None, metavar="CSV|auto|none",
                        help="source groups CSV (columns file, source[, split, label]): images made from one "
                             "source video, e.g. a fake and its real twin, share a batch and its augmentation; "
                             "default auto = DATA/groups.csv when present")
    parser.add_argument("--cache-mb", type=float, default=None, metavar="MB",
                        help="memory for decoded face crops kept between epochs, so later epochs skip JPEG "
                             "decoding (speed only; default 1024, 0 = off)")
    parser.add_argument("--teacher", default=None, metavar="RUN_DIR|MODEL",
                        help="distil: learn a stronger model's soft labels on the same augmented crops (a run folder "
                             "uses its model.onnx, else model.keras; see train/distill.py)")
    parser.add_argument("--teacher-weight", type=float, default=None, metavar="W",
                        help="share of each training target taken from --teacher (0 < W <= 1; default 0.5)")
    parser.add_argument("--width", type=float, default=None, metavar="X",
                        help="channel-width multiplier for edge-net (default 1.0; 0.75 in --recipe edge)")
    parser.add_argument("--fused-blocks", type=int, default=None, metavar="N",
                        help="edge-net blocks built as Fused-MBConv, counted from the input (default: edge-net's)")
    parser.add_argument("--blocks", type=int, default=None, metavar="N",
                        help="mobilenet-v2: keep its first N of 17 inverted residual blocks (default 17; 14 in "
                             "--recipe edge-imagenet-lite)")


def given_settings(args) -> dict:
    """The TrainConfig settings the user gave on the command line (None = not given)."""
    from deepfake_edge.train.config import MODEL_OPTION_FLAGS, setting_names

    names = setting_names() | set(MODEL_OPTION_FLAGS)
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    given["data_dir"] = args.data
    if args.sbi_ratio is None and args.sbi:
        given["sbi_ratio"] = 0.5  # --sbi alone: half of the fakes self-blended
    return given


def config_of(args):
    """The run's TrainConfig: the recipe (new runs) or the saved settings (--resume), then the flags."""
    from deepfake_edge.train.config import resolve

    return resolve(args.out, given_settings(args), recipe=args.recipe, resume=args.resume)


def run(args) -> int:
    from deepfake_edge.train.fit import train

    out = train(config_of(args), args.out, resume=args.resume)
    print(f"run folder: {out}")
    return 0
