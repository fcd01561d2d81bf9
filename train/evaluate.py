"""Evaluate a trained run THROUGH THE RUNTIME, calibrate it on Validation, report robustness.

Predictions come from `runtime.backends.open_backend(model)` on batches made by
`runtime.dataset.load_preprocessed`, the same path deployment runs, so the numbers here
are the numbers users get. Metrics and fitting live in `train.calibrate`.

- `calibrate_run`: fit temperature (min NLL) and threshold (max Youden's J) on the
  Validation split; write them into the run's contract. Test is never used to choose.
- `evaluate_run`: accuracy, AUC, per-class precision/recall/F1, confusion matrix, ECE on
  a split of a Kaggle-layout folder or on ANY folder with Real/Fake subfolders
  (cross-dataset); writes `eval/metrics.json`, `roc.png`, `confusion_matrix.png`, and
  with `robustness=True` `robustness.json|md|png` (accuracy/AUC per corruption type and
  severity from `train.augment.CORRUPTIONS`).
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np

from deepfake_edge.runtime import metrics as runtime_metrics
from deepfake_edge.runtime.contract import CONTRACT_FILENAME, ModelContract
from deepfake_edge.runtime.errors import InputError
from deepfake_edge.train import calibrate as cal

log = logging.getLogger(__name__)

EVAL_DIRNAME = "eval"


def model_path_of(run_or_model: str | Path) -> Path:
    """A run folder's `model.keras` (the reference model), or the model file given."""
    from deepfake_edge.runtime.io import exists, is_folder, is_regular_file

    p = Path(run_or_model)
    if is_folder(p):
        model = p / "model.keras"
        if not is_regular_file(model):
            raise InputError(f"{p}: run folder holds no model.keras (train it first with `deepfake-edge train`)")
        return model
    if not exists(p):
        from deepfake_edge.runtime.io import check_regular_file

        check_regular_file(p, "model")  # says why: not found, name too long, symlink loop ...
    return p


def _predict_labeled(model: Path, data_dir, split, *, max_per_class, batch_size, contract=None, desc=None,
                     one_class_ok=False):
    from deepfake_edge.runtime.backends import open_backend
    from deepfake_edge.runtime.dataset import list_labeled_folder
    from deepfake_edge.runtime.evaluation import predict_files

    paths, labels = list_labeled_folder(data_dir, split, max_per_class=max_per_class, one_class_ok=one_class_ok)
    with open_backend(model, contract=contract) as backend:
        probs, kept, errors = predict_files(backend, paths, chunk=batch_size, desc=desc or f"predict {split}")
    for e in errors:
        log.warning("skipped: %s", e)
    if len(kept) == 0:
        raise InputError(f"{data_dir}: none of the {len(paths)} images in {split} could be read")
    return [paths[i] for i in kept], labels[kept], probs, errors


def calibrate_run(run_dir: str | Path, data_dir: str | Path, *, max_per_class: int | None = None,
                  batch_size: int = 64) -> ModelContract:
    """Fit temperature and threshold on Validation, store them (and Validation metrics) in the contract."""
    run_dir = Path(run_dir)
    model = model_path_of(run_dir)
    contract_path = run_dir / CONTRACT_FILENAME
    contract = ModelContract.load(contract_path).with_(temperature=1.0, threshold=0.5)
    _, labels, probs, errors = _predict_labeled(model, data_dir, "Validation", max_per_class=max_per_class,
                                                batch_size=batch_size, contract=contract, desc="calibrate")
    contract = calibrated_contract(contract, probs, labels, len(errors))
    contract.save(contract_path)
    return contract


def calibrated_contract(contract: ModelContract, probs: np.ndarray, labels: np.ndarray,
                        skipped: int = 0) -> ModelContract:
    """`contract` with temperature, threshold and Validation metrics fitted on these (uncalibrated) outputs."""
    contract = contract.with_(temperature=1.0, threshold=0.5)
    temperature = cal.fit_temperature(probs, labels)
    p_fake = cal.scaled_probs(probs, temperature)[:, contract.fake_index]
    threshold = cal.fit_threshold(p_fake, labels)
    val = cal.classification_metrics(p_fake, labels, threshold)
    raw = cal.classification_metrics(probs[:, contract.fake_index], labels, 0.5)
    metrics = dict(contract.metrics)
    metrics["validation"] = {
        "n": val["n"], "accuracy": val["accuracy"], "balanced_accuracy": val["balanced_accuracy"],
        "auc": val["auc"], "ece": val["ece"], "ece_uncalibrated": raw["ece"],
        "nll": cal.nll(probs, labels, temperature), "nll_uncalibrated": cal.nll(probs, labels, 1.0),
        "skipped": skipped,
    }
    metrics["calibration"] = {
        "threshold_rule": "maximise Youden's J (TPR - FPR, Fake positive) on Validation; ties nearest 0.5",
        "temperature_rule": "minimise Validation NLL of softmax(log p / T)",
    }
    log.info("calibrated on Validation (%d images): temperature %.3f, threshold %.3f, ECE %.3f -> %.3f",
             val["n"], temperature, threshold, raw["ece"], val["ece"])
    return contract.with_(temperature=float(temperature), threshold=float(threshold), metrics=metrics)


def evaluate_run(run_or_model: str | Path, data_dir: str | Path, split: str = "Test", *,
                 robustness: bool = False, max_per_class: int | None = None, batch_size: int = 64,
                 out_dir: str | Path | None = None, seed: int = 0) -> dict:
    """Evaluate with the contract's temperature and threshold; write metrics and plots to `eval/`.

    A folder holding only Fake (or only Real) images is scored too: AUC needs both classes,
    so the report gives the share of fakes caught (recall) or of reals wrongly flagged
    (false-positive rate) at the calibrated threshold, with `one_class` naming the class
    and `auc_note` saying why AUC is absent. Nothing is written when evaluation fails.
    """
    from deepfake_edge.runtime.contract import find_contract

    model = model_path_of(run_or_model)
    contract = find_contract(model)
    out = Path(out_dir) if out_dir else model.parent / EVAL_DIRNAME
    paths, labels, probs, errors = _predict_labeled(model, data_dir, split, max_per_class=max_per_class,
                                                    batch_size=batch_size, contract=contract, one_class_ok=True)
    from deepfake_edge.runtime.preprocess import fake_probability

    p_fake = fake_probability(probs, contract)
    metrics = cal.classification_metrics(p_fake, labels, contract.threshold)
    present = sorted({contract.class_names[i] for i in np.unique(labels)})
    if len(present) == 1:
        (only,) = present
        flagged = float(np.mean(runtime_metrics.predicted_fake(p_fake, contract.threshold)))
        metrics.update({
            "one_class": only,
            "auc_note": f"AUC needs both Real and Fake images; this folder holds only {only}",
            "recall_fake" if only == "Fake" else "false_positive_rate": flagged,
        })
    metrics.update({
        "split": split,
        "data": str(data_dir),
        "model": str(model),
        "temperature": contract.temperature,
        "ece_uncalibrated": cal.expected_calibration_error(probs[:, contract.fake_index], labels),
        "class_names": list(contract.class_names),
        "skipped": len(errors),
        "skipped_files": errors,
        "threshold_source": "contract (fitted on Validation)" if contract.metrics.get("calibration") else "contract",
    })
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(_finite(metrics), indent=2) + "\n")
    if "one_class" not in metrics:  # a ROC curve needs both classes
        plot_roc(p_fake, labels, metrics, out / "roc.png")
    plot_confusion(np.asarray(metrics["confusion_matrix"]), contract.class_names, out / "confusion_matrix.png")
    log.info("%s: accuracy %.4f, AUC %.4f, ECE %.4f on %d images (threshold %.3f, T %.3f) -> %s",
             split, metrics["accuracy"], metrics["auc"], metrics["ece"], metrics["n"], contract.threshold,
             contract.temperature, out)
    if robustness:
        rows = robustness_report(model, contract, paths, labels, out, batch_size=batch_size, seed=seed)
        metrics["robustness"] = {"rows": len(rows), "file": str(out / "robustness.json")}
    return metrics


def _finite(obj):
    """JSON has no NaN: write null for an undefined metric (e.g. AUC of a one-class folder)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


# -- robustness ---------------------------------------------------------------------------

def robustness_report(model: Path, contract: ModelContract, paths: list[Path], labels: np.ndarray, out: Path, *,
                      batch_size: int = 64, seed: int = 0, severities=None) -> list[dict]:
    """Accuracy/AUC per corruption family and severity; writes robustness.json|md|png.

    Each image is decoded once, corrupted at its ORIGINAL resolution (as damage happens
    before anyone crops a face), then preprocessed by the runtime and predicted.
    """
    from tqdm import tqdm

    from deepfake_edge.runtime.backends import open_backend
    from deepfake_edge.runtime.images import read_rgb
    from deepfake_edge.runtime.preprocess import fake_probability, preprocess_batch
    from deepfake_edge.train.augment import CORRUPTIONS, SEVERITIES

    severities = tuple(severities or SEVERITIES)
    conditions = [("clean", 0)] + [(name, s) for name in CORRUPTIONS for s in severities]
    scores = {c: [] for c in conditions}
    with open_backend(model, contract=contract) as backend, \
            tqdm(total=len(paths) * len(conditions), desc="robustness", unit="img", leave=False) as bar:
        for start in range(0, len(paths), batch_size):
            originals = [read_rgb(p) for p in paths[start:start + batch_size]]
            for name, sev in conditions:
                if name == "clean":
                    crops = originals
                else:
                    crops = [CORRUPTIONS[name](im, sev, np.random.default_rng([seed, start + i, sev]))
                             for i, im in enumerate(originals)]
                probs = backend.predict(preprocess_batch(crops, contract))
                scores[(name, sev)].append(fake_probability(probs, contract))
                bar.update(len(crops))
    rows = []
    for (name, sev), parts in scores.items():
        p = np.concatenate(parts)
        m = cal.classification_metrics(p, labels, contract.threshold)
        rows.append({"corruption": name, "severity": sev, "n": m["n"], "accuracy": m["accuracy"],
                     "auc": m["auc"], "ece": m["ece"]})
    (out / "robustness.json").write_text(json.dumps(_finite(rows), indent=2) + "\n")
    (out / "robustness.md").write_text(robustness_markdown(rows, severities))
    plot_robustness(rows, severities, out / "robustness.png")
    log.info("robustness report (%d conditions x %d images) -> %s", len(conditions), len(paths), out)
    return rows


def robustness_markdown(rows: list[dict], severities) -> str:
    clean = next(r for r in rows if r["corruption"] == "clean")
    lines = [
        "# Robustness: accuracy / AUC per corruption and severity",
        "",
        f"Clean: accuracy {clean['accuracy']:.3f}, AUC {_fmt(clean['auc'])} on {clean['n']} images. "
        "Severity 1 = mild ... 5 = strong (see `train/augment.py`).",
        "",
        "| corruption | " + " | ".join(f"sev {s}" for s in severities) + " |",
        "|---|" + "---|" * len(severities),
    ]
    by = {(r["corruption"], r["severity"]): r for r in rows}
    for name in dict.fromkeys(r["corruption"] for r in rows if r["corruption"] != "clean"):
        cells = [f"{by[(name, s)]['accuracy']:.3f} / {_fmt(by[(name, s)]['auc'])}" for s in severities]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _fmt(v) -> str:
    return "n/a" if v is None or not math.isfinite(v) else f"{v:.3f}"


# -- plots --------------------------------------------------------------------------------

def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_roc(fake_probs, labels, metrics: dict, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    is_fake = runtime_metrics.is_fake(labels)  # the same class order and threshold rule as the numbers
    if is_fake.any() and (~is_fake).any():
        from sklearn.metrics import roc_curve

        fpr, tpr, _ = roc_curve(is_fake.astype(int), fake_probs)
        ax.plot(fpr, tpr, lw=2, label=f"AUC {metrics['auc']:.3f}")
        thr = metrics["threshold"]
        pred = runtime_metrics.predicted_fake(fake_probs, thr)
        ax.plot([(pred & ~is_fake).sum() / (~is_fake).sum()], [(pred & is_fake).sum() / is_fake.sum()], "o",
                label=f"threshold {thr:.2f}")
    ax.plot([0, 1], [0, 1], "--", color="grey", lw=1)
    ax.set(xlabel="false positive rate (Real called Fake)", ylabel="true positive rate (Fake caught)",
           title=f"ROC, {metrics.get('split', '')} (n={metrics['n']})", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_confusion(cm: np.ndarray, class_names, path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4, 3.6))
    ax.imshow(cm, cmap="Blues")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                    color="white" if cm[i, j] > cm.max() / 2 else "black", fontsize=13)
    ax.set_xticks(range(len(class_names)), class_names)
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set(xlabel="predicted", ylabel="true", title="confusion matrix")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_robustness(rows: list[dict], severities, path: Path) -> Path:
    plt = _pyplot()
    clean = next(r for r in rows if r["corruption"] == "clean")
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    for ax, key in zip(axes, ("accuracy", "auc")):
        for name in dict.fromkeys(r["corruption"] for r in rows if r["corruption"] != "clean"):
            ys = [next(r[key] for r in rows if r["corruption"] == name and r["severity"] == s) for s in severities]
            ax.plot(severities, ys, marker="o", label=name)
        ax.axhline(clean[key], color="black", ls="--", lw=1, label="clean")
        ax.set(xlabel="severity", ylabel=key, title=f"{key} under corruption", xticks=list(severities))
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
