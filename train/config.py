"""The training settings as ONE typed object, and how a run's settings are decided.

`TrainConfig` is what every layer passes: the CLI builds it from the flags the user set,
recipes are named presets over it (`train.recipes`), the demo and the benchmarks take a
preset, `train.fit.train(config, out)` trains exactly it, and the run folder stores it
(`train_config.json`) so `--resume` continues the same run. `resolve` is the one place
where explicit settings, a recipe and a resumed run's saved settings meet:

- a new run: the recipe's preset (if any), then what was given explicitly on top;
- a resumed run: the run's SAVED settings, then what was given explicitly on top (a
  recipe named again is not re-applied: it must not silently change a run half-way);
- the identity settings (architecture, input size, seed, pretrained) cannot change on
  resume, and an unknown setting name is an error, never silently dropped.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from deepfake_edge.runtime.errors import InputError
from deepfake_edge.runtime.settings import setting

log = logging.getLogger(__name__)

CONFIG_FILENAME = "train_config.json"


SCHEDULES = ("plateau", "cosine")  # train.schedule: halve on a validation plateau, or a cosine anneal
SBI_MASKS = ("auto", "landmarks", "ellipse")  # train.synth masks of self-blended fakes


@dataclass
class TrainConfig:
    """Everything that defines a training run (defaults follow the seed project).

    Each field with a `setting(...)` is a `deepfake-edge train` flag generated from it
    (`app.commands.arguments.add_setting_flags`); `model_options` / `augment_options` are
    set by recipes and benchmarks (edge-net's width and friends have their own flags,
    `MODEL_OPTION_FLAGS`).
    """

    data_dir: str = setting("", "Kaggle-layout folder (Train|Validation|Test / Real|Fake)", flag="--data",
                            metavar="DIR", required=True, show_default=False)
    arch: str = setting("seed-cnn", "architecture (see train/models.py: seed-cnn, edge-net, mobilenet-v2, "
                        "tiny-cnn, ...)")
    img_size: int = setting(256, "input size in pixels", metavar="N")
    batch_size: int = setting(32, "batch size", metavar="N")
    epochs: int = setting(50, "maximum epochs (early stopping on validation AUC)", metavar="N")
    max_per_class: int | None = setting(None, "cap images per class per split (quick runs, data-scaling "
                                        "studies); with a groups file Train's subset is drawn whole source by "
                                        "source, so a fake keeps its real twin", metavar="N")
    augment: bool = setting(True, "", positive=False, negative="--no-augment",
                            negative_help="turn off augmentation (flips, rotation/zoom, colour jitter, corruptions)")
    seed: int = setting(42, "random seed")
    lr: float = setting(1e-3, "initial learning rate (Adam, or AdamW with --weight-decay)", metavar="X")
    pretrained: bool = setting(False, "start from ImageNet weights: mobilenet-v2 reads them offline from the cache "
                               "that `deepfake-edge weights` (or make setup) fills; Keras applications download "
                               "once", negative="--no-pretrained", show_default=False,
                               negative_help="start from random weights even where the recipe starts from "
                                             "ImageNet (what the ImageNet initialisation buys, at the same budget)")
    weights: str | None = setting(None, "local ImageNet weights: a .pth / converted .npz for mobilenet-v2, a "
                                  "'notop' .h5 for Keras applications (offline --pretrained)", metavar="PATH")
    patience: int = setting(8, "epochs without a better validation AUC before early stopping", metavar="N")
    lr_patience: int = setting(3, "epochs of validation-loss plateau before the plateau schedule halves the "
                               "learning rate", metavar="N")
    time_budget: float | None = setting(None, "stop after the epoch that crosses MIN minutes of training (the run "
                                        "folder is still complete and calibrated); compares architectures at the "
                                        "same cost", metavar="MIN")
    sbi_ratio: float = setting(0.0, "share of the fakes that are self-blended from Train's real faces (0..1; "
                               "1 = train from real faces alone, Train/Fake may then be missing; --sbi alone = "
                               "0.5)", metavar="R")
    schedule: str = setting("plateau", "learning-rate schedule: halve on a validation-loss plateau, or a cosine "
                            "anneal over --time-budget / --epochs", choices=SCHEDULES)
    label_smoothing: float = setting(0.0, "label smoothing", metavar="X")
    weight_decay: float = setting(0.0, "decoupled weight decay (AdamW; 0 = plain Adam)", metavar="X")
    model_options: dict | None = None  # extra keyword arguments for the architecture (e.g. width)
    augment_options: dict | None = None  # keyword arguments for train.augment.augment (strength)
    groups: str = setting("auto", "source groups CSV (columns file, source[, split, label]): images made from one "
                          "source video, e.g. a fake and its real twin, share a batch and its augmentation; auto "
                          "= DATA/groups.csv when present", metavar="CSV|auto|none")
    cache_mb: float = setting(1024.0, "memory for decoded face crops kept between epochs, so later epochs skip "
                              "JPEG decoding (speed only; 0 = off)", metavar="MB")
    ema: float = setting(0.0, "validate and save a moving average of the weights with this momentum, e.g. 0.99 "
                         "(0: the last step's weights)", metavar="MOMENTUM")
    flip_average: bool = setting(False, "save the model averaging its answers on the crop and its mirror image "
                                 "(test-time flip in the graph: every format gets it; twice the compute)",
                                 show_default=False)
    sbi_mask: str = setting("auto", "mask of the self-blended fakes: the face-mesh hull (landmarks, as the SBI "
                            "method; computed once per dataset and cached), an ellipse, or auto = landmarks when "
                            "the face-landmark model is installed", choices=SBI_MASKS)
    sbi_jpeg: float = setting(0.0, "probability that a self-blended face is JPEG-compressed before blending "
                              "(double-JPEG artefacts)", metavar="P")
    teacher: str | None = setting(None, "distil: learn a stronger model's soft labels on the same augmented crops "
                                  "(a run folder uses its model.onnx, else model.keras; see train/distill.py)",
                                  metavar="RUN_DIR|MODEL")
    teacher_weight: float = setting(0.5, "share of each training target taken from --teacher (0 < W <= 1)",
                                    metavar="W")

    # Changing these on --resume would make the backup meaningless.
    IDENTITY = ("arch", "img_size", "seed", "pretrained")


@dataclass
class ModelFlags:
    """Architecture options with their own `train` flag; they merge into `TrainConfig.model_options`
    (a recipe's width survives `--fused-blocks 2`) instead of replacing it."""

    width: float | None = setting(None, "channel-width multiplier for edge-net (default 1.0; 0.75 in --recipe "
                                  "edge)", metavar="X")
    fused_blocks: int | None = setting(None, "edge-net blocks built as Fused-MBConv, counted from the input "
                                       "(default: edge-net's)", metavar="N")
    blocks: int | None = setting(None, "mobilenet-v2: keep its first N of 17 inverted residual blocks (default 17; "
                                 "14 in --recipe edge-imagenet-lite)", metavar="N")


MODEL_OPTION_FLAGS = tuple(f.name for f in fields(ModelFlags))


def train_flags(settings: dict) -> list[str]:
    """`settings` (TrainConfig / ModelFlags names) spelled as the `deepfake-edge train` flags
    generated from the same fields, so a benchmark's command line cannot drift from what it ran."""
    from deepfake_edge.runtime.settings import flag_fields

    declared = {f.name: flag for cls in (TrainConfig, ModelFlags) for f, flag, _ in flag_fields(cls)}
    out: list[str] = []
    for name, value in settings.items():
        if name not in declared:
            raise InputError(f"{name!r} has no train flag; known: {', '.join(sorted(declared))}")
        flag = declared[name]
        spelling = flag.flag or "--" + name.replace("_", "-")
        if isinstance(value, bool):
            out.append(spelling if value else flag.negative or "")
            if not out[-1]:
                raise InputError(f"{name}=False has no train flag")
        else:
            out += [spelling, f"{value:g}" if isinstance(value, float) else str(value)]
    return out


def setting_names() -> set[str]:
    return {f.name for f in fields(TrainConfig)}


def config_from(settings: dict, base: TrainConfig | None = None, where: str = "training settings") -> TrainConfig:
    """`base` (default: TrainConfig()) with `settings` applied; an unknown name is one InputError."""
    unknown = sorted(set(settings) - setting_names())
    if unknown:
        raise InputError(f"{where}: unknown training setting(s) {', '.join(map(repr, unknown))}; "
                         f"known: {', '.join(sorted(setting_names()))}")
    return replace(base or TrainConfig(), **settings)


def read_saved(path: Path) -> dict:
    """The settings a run was started with; a damaged file is one InputError naming it."""
    from deepfake_edge.runtime.io import first_line, read_text

    try:
        saved = json.loads(read_text(path, "training settings file", max_bytes=1024 * 1024))
    except ValueError as e:
        raise InputError(f"{path}: cannot read the saved training settings ({type(e).__name__}: "
                         f"{first_line(e)}); fix or delete the file and pass the settings again") from None
    if not isinstance(saved, dict):
        raise InputError(f"{path}: saved training settings are not a JSON object; fix or delete the file "
                         "and pass the settings again")
    return saved


def saved_config(out: Path) -> dict | None:
    """The known settings saved in a run folder, or None when it has none."""
    path = Path(out) / CONFIG_FILENAME
    if not path.is_file():
        return None
    saved = read_saved(path)
    return {k: v for k, v in saved.items() if k in setting_names()}  # a newer run's extra keys are ignored


def check_identity(out: Path, config: TrainConfig, saved: dict | None) -> None:
    if saved is None:
        return
    for key in TrainConfig.IDENTITY:
        if key in saved and getattr(config, key) != saved[key]:
            raise InputError(f"{out}: --resume with {key}={getattr(config, key)!r}, but the run was started with "
                             f"{key}={saved[key]!r}; resume with the same setting or use a new --out")


def resolve(out: str | Path, given: dict, *, recipe: str | None = None, resume: bool = False) -> TrainConfig:
    """The run's TrainConfig from explicit settings (None = not given), a recipe and a resumed run.

    `given` may hold `width` / `fused_blocks` (architecture options with their own flags);
    they are merged into the recipe's `model_options`, which travel only with the
    recipe's own architecture (`--recipe edge --arch tiny-cnn` must not hand edge-net's
    width to another network).
    """
    out = Path(out)
    given = {k: v for k, v in given.items() if v is not None}
    flag_options = {k: given.pop(k) for k in MODEL_OPTION_FLAGS if k in given}
    saved = saved_config(out) if resume else None
    if saved is not None:
        if recipe:
            log.info("--resume continues %s with its saved settings; --recipe %s is not applied again", out, recipe)
        options = {**(saved.get("model_options") or {}), **(given.get("model_options") or {}), **flag_options}
        settings = {**saved, **given, **({"model_options": options} if options else {})}
        config = config_from(settings)
        check_identity(out, config_from({**saved, **given}), saved)
        return config
    base: dict = {}
    if recipe:
        from deepfake_edge.train.recipes import recipe as preset

        base = preset(recipe)
        if given.get("arch") not in (None, base.get("arch")):
            base.pop("model_options", None)
    options = {**(base.get("model_options") or {}), **(given.get("model_options") or {}), **flag_options}
    settings = {**base, **given, **({"model_options": options} if options else {})}
    return config_from(settings)


def to_json(config: TrainConfig) -> str:
    return json.dumps(asdict(config), indent=2) + "\n"
