"""Train a model on a Kaggle-layout folder and write a complete run folder.

A run folder holds:
    model.keras, model.h5   the best epoch by validation AUC (Keras 3 and the seed's HDF5)
    contract.json           the ModelContract: arch, input size, normalisation, class order,
                            threshold + temperature fitted on Validation, data summary, metrics
    train_config.json       the settings, so `--resume` continues the same run
    history.csv             one row per epoch (appended across resumes)
    training_curves.png     loss / accuracy / AUC / learning rate per epoch
    logs/                   TensorBoard
    skipped_files.txt       unreadable images met by the pipeline (when any)
    backup/                 BackupAndRestore state while training; removed when it finishes

Comparing architectures at the same cost: `time_budget` (minutes of training wall time
in this session) stops cleanly after the epoch that crosses it; the run folder is still
complete and calibrated, and the contract records the wall and CPU seconds it took.
`schedule="cosine"` anneals the learning rate over the budget (or the epochs), so a
budgeted run ends at a low rate instead of being cut off mid-descent.

Work is never lost: without `resume=True` a folder that already holds a model or a
backup is refused; Ctrl-C (or a kill) leaves `backup/` at the last finished epoch and
`train(..., resume=True)` continues from there.
"""
from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, fields
from pathlib import Path

from deepfake_edge.runtime.contract import CONTRACT_FILENAME, ModelContract
from deepfake_edge.runtime.errors import InputError
from deepfake_edge.runtime.formats import REFERENCE, get_format
from deepfake_edge.runtime.io import replace_atomically
from deepfake_edge.train.config import CONFIG_FILENAME, TrainConfig, check_identity, resolve, saved_config, to_json

log = logging.getLogger(__name__)

BACKUP_DIRNAME = "backup"
BEST_FILENAME = "best.keras"


def check_run_folder(out: Path, resume: bool) -> bool:
    """Refuse to overwrite work; returns True when a backup will be resumed."""
    has_backup = (out / BACKUP_DIRNAME).is_dir() and any((out / BACKUP_DIRNAME).iterdir())
    has_model = (out / REFERENCE.filename).is_file() or (out / BEST_FILENAME).is_file()
    if not resume:
        if has_backup or has_model:
            what = "an interrupted run (backup/)" if has_backup else "a trained model"
            raise InputError(f"{out}: folder already holds {what}; pass --resume to continue it, "
                             "or choose another --out (nothing was overwritten)")
        return False
    if not has_backup:
        if (out / REFERENCE.filename).is_file():
            raise InputError(f"{out}: nothing to resume, this run already finished (model.keras exists, no backup/)")
        log.warning("%s: no backup to resume from; starting a new run", out)
        return False
    return True


def _devices():
    import tensorflow as tf

    return tf.config.list_physical_devices("GPU")


def _strategy_and_precision(gpus):
    """MirroredStrategy on several GPUs, mixed precision on any GPU; the CPU path is untouched."""
    import keras
    import tensorflow as tf

    if gpus:
        keras.mixed_precision.set_global_policy("mixed_float16")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def _backup_epoch(out: Path) -> int:
    meta = out / BACKUP_DIRNAME / "training_metadata.json"
    try:
        return int(json.loads(meta.read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


def _trim_history(history: Path, keep_epochs: int) -> list[dict]:
    """Keep the rows of epochs that the backup covers (a kill may land between the two writes)."""
    if not history.is_file():
        return []
    with history.open() as f:
        rows = [r for r in csv.DictReader(f) if r.get("epoch", "").isdigit() and int(r["epoch"]) < keep_epochs]
    if rows:
        def write(tmp: Path) -> None:
            with tmp.open("w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=list(rows[0]))
                w.writeheader()
                w.writerows(rows)

        replace_atomically(history, write)
    else:
        history.unlink()
    return rows


@dataclass
class Prepared:
    """What the fit stage needs, made by `prepare_stage`: the data, the contract, the teacher."""

    contract: ModelContract
    train_data: object  # train.data.SplitData
    val_data: object
    train_inputs: object  # the Train dataset, with the teacher's soft labels when distilling
    teacher: object | None
    skip_log: object
    cache: object | None
    groups_file: Path | None


@dataclass
class Fitted:
    """What the fit stage hands to finalize: the best model and how the run went."""

    model: object
    rows: list[dict]
    seconds: float
    cpu_seconds: float
    budget: object | None
    device: str


def train(config: TrainConfig | str | Path, out_dir: str | Path, resume: bool = False, calibrate: bool = True,
          **settings) -> Path:
    """Train `config` into `out_dir`: keep the best epoch by validation AUC, calibrate on Validation.

    `config` is a `train.config.TrainConfig` (the CLI builds it with `train.config.resolve`;
    recipes are presets over it). The older form `train(data_dir, out_dir, **settings)`
    builds the config from keyword settings the same way (`resolve`: a resumed run keeps
    its saved settings for what is not given). Notable settings: `time_budget` in minutes;
    `sbi_ratio`, the share of fakes self-blended from Train's reals (1 = real faces only);
    `groups`, the source groups CSV keeping real/fake twins together; `cache_mb`, memory
    for decoded crops (speed only); `ema` > 0, a moving average of the weights;
    `flip_average`, a saved model that averages the crop and its mirror image; `teacher`, a
    run folder or model file whose soft labels the student learns (`train.distill`).

    Four stages: `prepare_stage` (check the settings, list and load the data),
    `fit_stage` (build, compile and fit the model), `finalize_stage` (save the model,
    curves and the contract's training record) and `calibrate_stage` (temperature and
    threshold from the Validation data already loaded, on the model in memory). The
    contract is written once, after calibration. Returns the run folder.
    """
    out = Path(out_dir)
    resuming = check_run_folder(out, resume)
    cfg = _config_of(config, out, resuming, settings)
    prepared = prepare_stage(cfg, out)
    try:
        fitted = fit_stage(cfg, out, prepared, resuming)
    finally:
        if prepared.teacher is not None:
            prepared.teacher.close()
    contract = finalize_stage(cfg, out, prepared, fitted)
    if calibrate:
        contract = calibrate_stage(contract, fitted.model, prepared.val_data, len(prepared.skip_log))
    contract.save(out / CONTRACT_FILENAME)
    log.info("run complete: %s (%d epochs, %.0f s; %d unreadable files skipped; crop cache: %s)", out,
             len(fitted.rows), fitted.seconds, len(prepared.skip_log),
             prepared.cache.summary() if prepared.cache is not None else "off")
    return out


def _config_of(config: TrainConfig | str | Path, out: Path, resuming: bool, settings: dict) -> TrainConfig:
    """The run's TrainConfig: the one given, or one resolved from keyword settings (resume-aware)."""
    if isinstance(config, TrainConfig):
        if settings:
            raise TypeError("pass either a TrainConfig or keyword settings, not both")
        check_identity(out, config, saved_config(out) if resuming else None)
        cfg = config
    else:
        data = str(config) if config else None
        cfg = resolve(out, {"data_dir": data, **settings}, resume=resuming)
    if not cfg.data_dir:
        raise InputError("no --data folder given")
    return cfg


def prepare_stage(cfg: TrainConfig, out: Path) -> Prepared:
    """Check the settings, then list and load Train and Validation (and open the teacher)."""
    from deepfake_edge.train.models import get_arch

    spec = get_arch(cfg.arch)  # unknown names fail before anything heavy starts
    if cfg.epochs < 1 or cfg.batch_size < 1:
        raise InputError(f"epochs and batch size must be at least 1 (got {cfg.epochs}, {cfg.batch_size})")
    _check_recipe(cfg)
    if cfg.pretrained and not cfg.weights:  # offline ImageNet weights missing: say so before loading data
        from deepfake_edge.train.weights import WEIGHTS, cached

        if cfg.arch in WEIGHTS:
            cached(cfg.arch)
    from deepfake_edge.train.groups import resolve_groups_file

    groups_file = resolve_groups_file(cfg.groups, cfg.data_dir)
    contract = ModelContract(input_size=cfg.img_size, arch=cfg.arch, normalization=spec.normalization).validate(
        "training settings")

    from deepfake_edge.train.cache import CropCache
    from deepfake_edge.train.data import SKIPPED_FILENAME, SelfBlend, SkipLog, load_split

    out.mkdir(parents=True, exist_ok=True)
    skip_log = SkipLog(out / SKIPPED_FILENAME)
    cache = CropCache(cfg.cache_mb) if cfg.cache_mb else None  # one budget for Train and Validation
    train_data = load_split(cfg.data_dir, "Train", contract, batch_size=cfg.batch_size, train=True,
                            augment=cfg.augment, max_per_class=cfg.max_per_class, seed=cfg.seed,
                            skip_log=skip_log, repeat=True, sbi=SelfBlend.of(cfg),
                            augment_options=cfg.augment_options, groups_file=groups_file, cache=cache)
    val_data = load_split(cfg.data_dir, "Validation", contract, batch_size=cfg.batch_size, train=False,
                          max_per_class=cfg.max_per_class, seed=cfg.seed, skip_log=skip_log, cache=cache)
    train_inputs, teacher = train_data.dataset, None
    if cfg.teacher:
        from deepfake_edge.train.distill import Teacher, with_teacher

        teacher = Teacher(cfg.teacher, contract)
        train_inputs = with_teacher(train_data.dataset, teacher, cfg.teacher_weight)
    config_text = to_json(cfg)
    replace_atomically(out / CONFIG_FILENAME, lambda tmp: tmp.write_text(config_text))
    return Prepared(contract, train_data, val_data, train_inputs, teacher, skip_log, cache,
                    groups_file if train_data.groups is not None else None)


def fit_stage(cfg: TrainConfig, out: Path, prepared: Prepared, resuming: bool) -> Fitted:
    """Build and fit the model (resuming from the backup when asked); the best epoch's model."""
    import keras

    from deepfake_edge.runtime.layers import load_keras_model
    from deepfake_edge.train import averaging

    train_data, val_data = prepared.train_data, prepared.val_data
    keras.utils.set_random_seed(cfg.seed)
    gpus = _devices()
    strategy = _strategy_and_precision(gpus)
    with strategy.scope():
        from deepfake_edge.train.models import build_model

        model = build_model(cfg.arch, input_size=cfg.img_size, pretrained=cfg.pretrained, weights_path=cfg.weights,
                            **(cfg.model_options or {}))
        _adapt_batchnorm(model, _expected_steps(cfg, train_data.steps))
        from deepfake_edge.train.distill import hard_label_auc

        ema_options = averaging.optimizer_options(cfg.ema)
        optimizer = (keras.optimizers.AdamW(cfg.lr, weight_decay=cfg.weight_decay, **ema_options) if cfg.weight_decay
                     else keras.optimizers.Adam(cfg.lr, **ema_options))
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.CategoricalCrossentropy(label_smoothing=cfg.label_smoothing),
            metrics=["accuracy", hard_label_auc() if cfg.teacher else keras.metrics.AUC(name="auc")],
        )

    history = out / "history.csv"
    best_so_far = None
    initial_epoch = 0
    if resuming:
        initial_epoch = _backup_epoch(out)
        rows = _trim_history(history, initial_epoch)
        aucs = [float(r["val_auc"]) for r in rows if r.get("val_auc") not in (None, "", "nan")]
        best_so_far = max(aucs) if aucs else None
        log.info("resuming %s after epoch %d of %d", out, initial_epoch, cfg.epochs)
    elif history.exists():
        history.unlink()

    # Order matters for a kill at any instant: the history row and the best checkpoint are
    # written BEFORE the backup records the epoch as finished (BackupAndRestore last).
    # With weight averaging the averages are in the model from validation to just before the backup.
    ema_in, ema_out = averaging.callbacks(cfg.ema)
    callbacks = [
        *_lr_schedule(keras, cfg),  # before the CSV logger, so the history records the rate it set
        *ema_in,
        keras.callbacks.CSVLogger(str(history), append=True),
        keras.callbacks.ModelCheckpoint(str(out / BEST_FILENAME), monitor="val_auc", mode="max",
                                        save_best_only=True, initial_value_threshold=best_so_far),
        keras.callbacks.EarlyStopping(monitor="val_auc", mode="max", patience=cfg.patience),
        *_tensorboard(keras, out / "logs"),
        *ema_out,
        keras.callbacks.BackupAndRestore(str(out / BACKUP_DIRNAME), double_checkpoint=True),
    ]
    budget = None
    if cfg.time_budget:
        from deepfake_edge.train.schedule import TimeBudget

        budget = TimeBudget(cfg.time_budget * 60.0)
        callbacks.insert(0, budget)  # first: it only sets a flag; the epoch's own callbacks still run
    log.info("training %s at %dpx on %s: %d train / %d validation images, batch %d, %d epochs, %s",
             cfg.arch, cfg.img_size, cfg.data_dir, len(train_data.paths), len(val_data.paths), cfg.batch_size,
             cfg.epochs, f"{len(gpus)} GPU(s), mixed precision" if gpus else "CPU")
    t0, cpu0 = time.perf_counter(), time.process_time()
    try:
        model.fit(prepared.train_inputs, validation_data=val_data.dataset, epochs=cfg.epochs,
                  steps_per_epoch=train_data.steps, callbacks=callbacks, verbose=_verbosity())
    except KeyboardInterrupt:
        log.warning("interrupted: %s/backup holds the last finished epoch; continue with:\n"
                    "  deepfake-edge train --data %s --out %s --resume", out, cfg.data_dir, out)
        raise
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - cpu0
    if budget is not None and budget.stopped:
        log.info("time budget of %.1f min reached after epoch %d (%.0f s); finishing the run folder",
                 cfg.time_budget, budget.stopped_epoch + 1, seconds)
    best = out / BEST_FILENAME
    if best.is_file():
        model = load_keras_model(best)
    if cfg.flip_average:
        from deepfake_edge.train.models import flip_averaged

        model = flip_averaged(model)
    return Fitted(model, _read_history(history), seconds, cpu_seconds, budget,
                  f"{len(gpus)} GPU" if gpus else "CPU")


# The contract's training record holds EVERY TrainConfig field (a new option is recorded
# without naming it here) plus what was measured; the teacher's are recorded as resolved.
NOT_COPIED = ("teacher", "teacher_weight")
RENAMED = {"time_budget": "time_budget_min"}  # contract key when it differs from the TrainConfig field


def finalize_stage(cfg: TrainConfig, out: Path, prepared: Prepared, fitted: Fitted) -> ModelContract:
    """Save the model (native + legacy .h5), the training curves, and the contract's training record."""
    import keras

    from deepfake_edge.export.keras_copies import save_h5
    from deepfake_edge.train.data import SKIPPED_FILENAME

    model, rows = fitted.model, fitted.rows
    replace_atomically(out / REFERENCE.filename, model.save)
    save_h5(model, out / get_format("h5").filename)
    (out / BEST_FILENAME).unlink(missing_ok=True)
    shutil.rmtree(out / BACKUP_DIRNAME, ignore_errors=True)
    plot_training_curves(rows, out / "training_curves.png")

    best_row = max(rows, key=lambda r: _num(r.get("val_auc")), default={})
    contract, skip_log, teacher = prepared.contract, prepared.skip_log, prepared.teacher
    settings = {RENAMED.get(f.name, f.name): getattr(cfg, f.name) for f in fields(cfg) if f.name not in NOT_COPIED}
    settings["data_dir"] = str(cfg.data_dir)
    measured = {
        "class_index": {name: i for i, name in enumerate(contract.class_names)},
        "images": {"Train": prepared.train_data.class_counts, "Validation": prepared.val_data.class_counts},
        "skipped_files": len(skip_log),
        "skipped_list": SKIPPED_FILENAME if len(skip_log) else None,
        "epochs_run": len(rows),
        "best_epoch": int(best_row["epoch"]) + 1 if best_row else None,
        "params": int(model.count_params()),
        "seconds_this_session": round(fitted.seconds, 1),
        "cpu_seconds_this_session": round(fitted.cpu_seconds, 1),
        "stopped_by_time_budget": bool(fitted.budget is not None and fitted.budget.stopped),
        "groups_file": str(prepared.groups_file) if prepared.groups_file is not None else None,
        "source_groups": prepared.train_data.source_groups,
        "teacher": str(teacher.path) if teacher is not None else None,
        "teacher_weight": cfg.teacher_weight if teacher is not None else None,
        "crop_cache": prepared.cache.summary() if prepared.cache is not None else "off",
        "device": fitted.device,
    }
    return contract.with_(
        training=settings | measured,
        metrics={"best_val_auc_keras": _num(best_row.get("val_auc")) if best_row else None},
        provenance={"trained_by": "deepfake-edge train", "keras": keras.__version__},
    )


def calibrate_stage(contract: ModelContract, model, val_data, skipped: int) -> ModelContract:
    """Temperature and threshold fitted on the Validation batches already loaded, by the model in memory.

    The same fit as `deepfake-edge calibrate` (`train.evaluate.calibrated_contract`), without
    listing and decoding Validation a second time or rewriting the contract just written.
    """
    import numpy as np

    from deepfake_edge.train.evaluate import calibrated_contract

    probs, labels = [], []
    for x, y in val_data.dataset:
        probs.append(np.asarray(model(x, training=False), np.float64))
        labels.append(np.argmax(np.asarray(y), axis=1))
    return calibrated_contract(contract, np.concatenate(probs), np.concatenate(labels), skipped)


def _check_recipe(cfg: TrainConfig) -> None:
    """One-line InputErrors for recipe settings that make no sense, before anything heavy starts."""
    from deepfake_edge.train.data import check_sbi_ratio
    from deepfake_edge.train.config import SCHEDULES

    check_sbi_ratio(cfg.sbi_ratio)
    from deepfake_edge.train.data import check_sbi_mask

    check_sbi_mask(cfg.sbi_mask)
    if not 0.0 <= cfg.sbi_jpeg <= 1.0:
        raise InputError(f"--sbi-jpeg must be a probability in [0, 1], got {cfg.sbi_jpeg}")
    if cfg.time_budget is not None and cfg.time_budget <= 0:
        raise InputError(f"--time-budget must be a positive number of minutes, got {cfg.time_budget}")
    if cfg.schedule not in SCHEDULES:
        raise InputError(f"unknown schedule {cfg.schedule!r}; choose one of: {', '.join(SCHEDULES)}")
    if not 0.0 <= cfg.label_smoothing < 0.5:
        raise InputError(f"--label-smoothing must be in [0, 0.5), got {cfg.label_smoothing}")
    if cfg.weight_decay < 0:
        raise InputError(f"--weight-decay must not be negative, got {cfg.weight_decay}")
    if not 0.0 <= cfg.ema < 1.0:
        raise InputError(f"--ema must be a momentum in [0, 1) (0 turns weight averaging off), got {cfg.ema}")
    if cfg.teacher:
        from deepfake_edge.train.distill import check_teacher_weight, resolve_teacher

        check_teacher_weight(cfg.teacher_weight)
        resolve_teacher(cfg.teacher)
    if cfg.cache_mb < 0:
        raise InputError(f"--cache-mb must not be negative (0 turns the crop cache off), got {cfg.cache_mb}")


def _expected_steps(cfg: TrainConfig, steps_per_epoch: int) -> int:
    """Training steps the run will probably take (a budget can end it before `epochs`)."""
    return cfg.epochs * steps_per_epoch


def _lr_schedule(keras, cfg: TrainConfig) -> list:
    """ReduceLROnPlateau on validation loss, or a cosine anneal over the time budget / epochs."""
    if cfg.schedule == "cosine":
        from deepfake_edge.train.schedule import CosineAnneal

        return [CosineAnneal(cfg.lr, epochs=cfg.epochs,
                             seconds=cfg.time_budget * 60.0 if cfg.time_budget else None)]
    return [keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=cfg.lr_patience,
                                              min_lr=1e-6)]


def _adapt_batchnorm(model, total_steps: int, short_run_steps: int = 3000) -> None:
    """Faster BatchNorm moving statistics for short runs.

    With Keras' default momentum 0.99 the moving mean/variance need ~500 steps to forget
    their initial values; a few-hundred-step run (the demo, quick `--max-per-class`
    runs) otherwise ends with inference statistics that give every image the same
    output (measured: constant validation predictions, AUC 0.5, while training accuracy
    was 0.9). Long runs keep the architecture's own momentum.
    """
    if total_steps >= short_run_steps:
        return
    import keras

    def sublayers(layer, seen):
        # Public walk: `.layers` of the model and of every nested model (a Keras
        # application used as one layer of a functional model), each layer once.
        for child in getattr(layer, "layers", ()):
            if id(child) not in seen:
                seen.add(id(child))
                yield child
                yield from sublayers(child, seen)

    changed = 0
    for layer in sublayers(model, set()):
        if isinstance(layer, keras.layers.BatchNormalization) and layer.momentum > 0.9:
            layer.momentum = 0.9
            changed += 1
    if changed:
        log.info("short run (%d steps): BatchNorm momentum 0.9 on %d layers", total_steps, changed)


def _tensorboard(keras, log_dir: Path) -> list:
    """The TensorBoard callback; TensorFlow 2.21 no longer installs `tensorboard` itself."""
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        log.warning("TensorBoard logs skipped: the 'tensorboard' package is not installed (pip install tensorboard)")
        return []
    return [keras.callbacks.TensorBoard(log_dir=str(log_dir), histogram_freq=0, profile_batch=0)]


def _verbosity() -> int | str:
    """Keras' progress bar (with ETA) on a terminal, one line per epoch in logs and CI."""
    return "auto" if os.isatty(1) else 2


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def _read_history(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def plot_training_curves(rows: list[dict], path: Path) -> Path:
    """Loss, accuracy, AUC (train vs validation) and learning rate per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [int(r["epoch"]) + 1 for r in rows]
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.5))
    for ax, key in zip(axes[:3], ("loss", "accuracy", "auc")):
        ax.plot(epochs, [_num(r.get(key)) for r in rows], marker=".", label="train")
        ax.plot(epochs, [_num(r.get(f"val_{key}")) for r in rows], marker=".", label="validation")
        ax.set(title=key, xlabel="epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    lr_key = "learning_rate" if rows and "learning_rate" in rows[0] else "lr"
    axes[3].plot(epochs, [_num(r.get(lr_key)) for r in rows], marker=".")
    axes[3].set(title="learning rate", xlabel="epoch", yscale="log")
    axes[3].grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
