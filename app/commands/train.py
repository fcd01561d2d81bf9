"""`deepfake-edge train`: train a model on a Kaggle-layout folder into a run folder."""
from __future__ import annotations

HELP = "train a Real/Fake classifier on a Train|Validation|Test / Real|Fake folder"
NEEDS = ("train",)  # pip extras this command needs beyond the base install (runtime/extras.py)


def add_arguments(parser) -> None:
    """`--out`, `--recipe`, `--resume`, `--sbi`, then one flag per TrainConfig / ModelFlags field."""
    from deepfake_edge.app.commands.arguments import add_setting_flags
    from deepfake_edge.train.config import ModelFlags, TrainConfig
    from deepfake_edge.train.recipes import RECIPES, recipe_names

    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder to write (refused if it holds a model, unless --resume)")
    presets = "; ".join(f"{name}: " + ", ".join(f"{k}={v}" for k, v in options.items())
                        for name, options in RECIPES.items())
    parser.add_argument("--recipe", default=None, choices=recipe_names(),
                        help=f"preset of the settings below ({presets}); edge is the measured edge default (needs "
                             "`deepfake-edge weights`, run by make setup), edge-net the same budget from scratch, "
                             "seed the original project's; settings given explicitly win (train/recipes.py)")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted run from its last finished epoch, with its saved settings")
    parser.add_argument("--sbi", action="store_true",
                        help="make fakes on the fly from Train's real faces (self-blended images); "
                             "half of the fakes unless --sbi-ratio says otherwise")
    # Generated from the dataclasses (train/config.py): a new training setting is a field there.
    add_setting_flags(parser, TrainConfig, group="training settings (train/config.py TrainConfig)")
    add_setting_flags(parser, ModelFlags, group="architecture options (merged into the recipe's model_options)")


def given_settings(args) -> dict:
    """The TrainConfig settings the user gave on the command line (None = not given)."""
    from deepfake_edge.train.config import MODEL_OPTION_FLAGS, setting_names

    names = setting_names() | set(MODEL_OPTION_FLAGS)
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    if given.get("sbi_ratio") is None and args.sbi:
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
