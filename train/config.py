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

log = logging.getLogger(__name__)

CONFIG_FILENAME = "train_config.json"
# Architecture options that have their own CLI flag (`--width`, `--fused-blocks`,
# `--blocks`); they merge into `model_options` rather than replacing a recipe's.
MODEL_OPTION_FLAGS = ("width", "fused_blocks", "blocks")


@dataclass
class TrainConfig:
    """Everything that defines a training run (defaults follow the seed project)."""

    data_dir: str = ""
    arch: str = "seed-cnn"
    img_size: int = 256
    batch_size: int = 32
    epochs: int = 50
    max_per_class: int | None = None
    augment: bool = True
    seed: int = 42
    lr: float = 1e-3
    pretrained: bool = False
    weights: str | None = None
    patience: int = 8  # EarlyStopping on val AUC
    lr_patience: int = 3  # ReduceLROnPlateau on val loss
    time_budget: float | None = None  # minutes of training; stop after the epoch that crosses it
    sbi_ratio: float = 0.0  # share of Train's fakes made on the fly as self-blended reals
    schedule: str = "plateau"  # "plateau" (ReduceLROnPlateau) or "cosine" (over budget / epochs)
    label_smoothing: float = 0.0
    weight_decay: float = 0.0  # > 0: AdamW with this decoupled weight decay
    model_options: dict | None = None  # extra keyword arguments for the architecture (e.g. width)
    augment_options: dict | None = None  # keyword arguments for train.augment.augment (strength)
    groups: str = "auto"  # source groups CSV keeping real/fake twins together: "auto" = <data>/groups.csv, "none"
    cache_mb: float = 1024.0  # memory for decoded crops kept between epochs (train.cache); 0 = decode every time
    ema: float = 0.0  # momentum of the weights' moving average validated and saved (train.averaging); 0 = off
    flip_average: bool = False  # saved model averages its answers on the crop and its mirror image
    sbi_mask: str = "auto"  # self-blended fakes' mask: "landmarks" (face mesh), "ellipse", "auto" (mesh if installed)
    sbi_jpeg: float = 0.0  # probability that a self-blended source is JPEG-compressed first (double JPEG)
    teacher: str | None = None  # run folder or model file whose soft labels the student learns (train.distill)
    teacher_weight: float = 0.5  # share of each Train target taken from the teacher (1 = soft labels only)

    # Changing these on --resume would make the backup meaningless.
    IDENTITY = ("arch", "img_size", "seed", "pretrained")


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
