"""Parity table: every exported artifact vs the Keras model, on a labelled split.

Each artifact is opened through its runtime backend with ITS OWN contract (sidecar or
embedded metadata) and fed images preprocessed by the runtime's one path under that
contract, exactly what a user of that file gets. So a wrong normalisation in a sidecar,
or a converter that changed the weights, shows up here as a failed row.

Tolerances by precision (each a CLI flag):
- fp32: max |Δp| <= 1e-4 and 100 % label agreement with Keras;
- fp16: AUC drop <= 0.002;
- int8: AUC drop <= 0.01 and accuracy drop <= 1 point.
(Δ = format - Keras; only drops fail: a reduced-precision model that happens to score
higher on a split is not a regression.)
"""
from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_edge.export.common import first_line
from deepfake_edge.export.pipeline import artifact_size_mb, load_run_contract
from deepfake_edge.runtime import metrics
from deepfake_edge.runtime.contract import ModelContract, find_contract
from deepfake_edge.runtime.errors import DeepfakeEdgeError, InputError, MissingExtraError, NoGpuError
from deepfake_edge.runtime.formats import FORMATS, Format, artifact_path
from deepfake_edge.runtime.profile import machine_summary

log = logging.getLogger(__name__)

REFERENCE = "keras"
PREDICT_CHUNK = 64
LATENCY_WARMUP = 3
LATENCY_RUNS = 20


@dataclass(frozen=True)
class Tolerances:
    fp32_max_diff: float = 1e-4
    fp32_min_agreement: float = 100.0  # percent
    fp16_max_auc_drop: float = 0.002
    int8_max_auc_drop: float = 0.01
    int8_max_acc_drop: float = 1.0  # accuracy points (percent)


@dataclass
class VerifyEntry:
    format: str
    status: str  # reference | pass | fail | error | skipped
    precision: str = ""
    file: str = ""
    size_mb: float = 0.0
    provider: str = ""
    accuracy: float | None = None  # percent
    auc: float | None = None
    delta_accuracy: float | None = None  # points, format - Keras
    delta_auc: float | None = None
    max_abs_diff: float | None = None  # max |Δ fake probability|
    agreement: float | None = None  # percent of labels equal to Keras'
    latency_ms: float | None = None  # batch-1 median
    reasons: list[str] = field(default_factory=list)


@dataclass
class VerifyReport:
    run_dir: Path
    data: Path
    split: str
    n_images: int
    entries: list[VerifyEntry]
    tolerances: Tolerances

    @property
    def failures(self) -> list[str]:
        return [f"{e.format}: {'; '.join(e.reasons)}" for e in self.entries if e.status in ("fail", "error")]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def skipped(self) -> list[str]:
        """Formats asked for (or present) that could not be checked on this machine, with why."""
        return [f"{e.format}: {'; '.join(e.reasons)}" for e in self.entries if e.status == "skipped"]


# -- metrics -------------------------------------------------------------------------------

def accuracy_pct(fake_probs: np.ndarray, labels: np.ndarray, contract: ModelContract) -> float:
    """Percent correct at the contract's threshold (`runtime.metrics.accuracy`); labels 0 = Fake."""
    return metrics.accuracy(fake_probs, labels, contract.threshold) * 100.0


def auc(fake_probs: np.ndarray, labels: np.ndarray, contract: ModelContract) -> float | None:
    """ROC AUC of the fake probability for the Fake class (`runtime.metrics.roc_auc`); None for one class."""
    return metrics.roc_auc(fake_probs, labels)


def predict_all(backend, batch: np.ndarray) -> np.ndarray:
    return np.concatenate([backend.predict(batch[i:i + PREDICT_CHUNK]) for i in range(0, len(batch), PREDICT_CHUNK)])


def batch1_latency_ms(backend, one: np.ndarray, runs: int = LATENCY_RUNS) -> float:
    """Median of `runs` batch-1 calls after a warm-up; the backend times only its runtime call."""
    for _ in range(LATENCY_WARMUP):
        backend.predict(one)
    times = []
    for _ in range(runs):
        backend.predict(one)
        times.append(backend.last_infer_ms)
    return float(np.median(times))


# -- checks ----------------------------------------------------------------------------------

def judge(entry: VerifyEntry, tol: Tolerances) -> None:
    """Set entry.status to pass/fail from its figures and precision, with reasons naming them."""
    reasons = []
    if entry.precision == "fp32":
        if entry.max_abs_diff is not None and entry.max_abs_diff > tol.fp32_max_diff:
            reasons.append(f"max |Δp| {entry.max_abs_diff:.3g} > {tol.fp32_max_diff:g}")
        if entry.agreement is not None and entry.agreement < tol.fp32_min_agreement:
            reasons.append(f"agreement {entry.agreement:.2f}% < {tol.fp32_min_agreement:g}%")
    elif entry.precision == "fp16":
        if entry.delta_auc is not None and entry.delta_auc < -tol.fp16_max_auc_drop:
            reasons.append(f"ΔAUC {entry.delta_auc:+.4f} (drop > {tol.fp16_max_auc_drop:g})")
    elif entry.precision == "int8":
        if entry.delta_auc is not None and entry.delta_auc < -tol.int8_max_auc_drop:
            reasons.append(f"ΔAUC {entry.delta_auc:+.4f} (drop > {tol.int8_max_auc_drop:g})")
        if entry.delta_accuracy is not None and entry.delta_accuracy < -tol.int8_max_acc_drop:
            reasons.append(f"Δaccuracy {entry.delta_accuracy:+.2f} points (drop > {tol.int8_max_acc_drop:g})")
    if entry.auc is None and entry.precision in ("fp16", "int8"):
        reasons.append("AUC undefined: the split needs both Real and Fake images")
    entry.reasons = reasons
    entry.status = "fail" if reasons else "pass"


def exported_artifacts(run_dir: Path, only: list[str] | None = None) -> list[tuple[Format, Path]]:
    """(format, path) of every artifact present in the run folder, in table order."""
    found = []
    for fmt in FORMATS:
        if fmt.name == REFERENCE or fmt.backend is None or (only and fmt.name not in only):
            continue  # no backend: served elsewhere (Triton), its ONNX is the one checked here
        path = artifact_path(run_dir, fmt)
        if path.exists():
            found.append((fmt, path))
    return found


def _evaluate(fmt: Format, path: Path, paths: list[Path], labels: np.ndarray, ref_contract: ModelContract,
              ref_batch: np.ndarray, ref_fake: np.ndarray, ref_acc: float, ref_auc: float | None,
              backend_options: dict) -> VerifyEntry:
    from deepfake_edge.runtime.backends import open_backend
    from deepfake_edge.runtime.dataset import load_preprocessed
    from deepfake_edge.runtime.preprocess import fake_probability

    entry = VerifyEntry(format=fmt.name, status="error", precision=fmt.precision, file=path.name,
                        size_mb=round(artifact_size_mb(path), 3))
    try:
        contract = find_contract(path)
        entry.precision = contract.precision or fmt.precision
        if _same_preprocessing(contract, ref_contract):
            batch = ref_batch
        else:  # the artifact asks for other pixels: give it what its contract says
            batch, _, _ = load_preprocessed(paths, contract, skip_bad=False)
        with open_backend(path, contract=contract, **backend_options) as backend:
            entry.provider = backend.provider
            probs = predict_all(backend, batch)
            entry.latency_ms = round(batch1_latency_ms(backend, batch[:1]), 4)
    except (MissingExtraError, NoGpuError) as exc:  # e.g. a GPU artifact on a CPU machine: not a failure
        entry.status, entry.reasons = "skipped", [first_line(exc)]
        return entry
    except DeepfakeEdgeError as exc:
        entry.reasons = [first_line(exc)]
        return entry
    except Exception as exc:  # noqa: BLE001 - the runtime's own error, one line
        entry.reasons = [f"{type(exc).__name__}: {first_line(exc)}"]
        return entry

    if not np.all(np.isfinite(probs)):  # a broken conversion: this row errors, the others still run
        entry.reasons = [f"{int(np.sum(~np.isfinite(probs)))} outputs are NaN or infinite"]
        return entry
    fake = fake_probability(probs, contract)
    entry.accuracy = round(accuracy_pct(fake, labels, contract), 4)
    entry.auc = auc(fake, labels, contract)
    entry.delta_accuracy = round(entry.accuracy - ref_acc, 4)
    entry.delta_auc = None if entry.auc is None or ref_auc is None else entry.auc - ref_auc
    entry.max_abs_diff = float(np.max(np.abs(fake - ref_fake)))
    agree = (fake >= contract.threshold) == (ref_fake >= ref_contract.threshold)
    entry.agreement = round(float(np.mean(agree) * 100.0), 4)
    entry.status = "measured"  # judged against the tolerances by the caller
    return entry


def _same_preprocessing(a: ModelContract, b: ModelContract) -> bool:
    return (a.input_size, a.color_order, a.normalization) == (b.input_size, b.color_order, b.normalization)


def verify_run(run_dir: str | Path, data: str | Path, *, split: str = "Test", tolerances: Tolerances | None = None,
               formats: list[str] | None = None, max_per_class: int | None = None,
               backend_options: dict | None = None) -> VerifyReport:
    """Compare every exported artifact of `run_dir` with its Keras model on `data`/`split`."""
    from deepfake_edge.runtime.backends import open_backend
    from deepfake_edge.runtime.dataset import list_labeled_folder, load_preprocessed
    from deepfake_edge.runtime.preprocess import fake_probability
    from deepfake_edge.runtime.io import check_folder

    run_dir, data = Path(run_dir), Path(data)
    tol = tolerances or Tolerances()
    backend_options = backend_options or {}
    check_folder(run_dir, "run folder")
    ref_contract = load_run_contract(run_dir)
    keras_path = artifact_path(run_dir, REFERENCE)
    if not keras_path.is_file():
        raise InputError(f"{run_dir}: no model.keras to compare the exports with")
    if formats:
        from deepfake_edge.runtime.formats import get_format

        formats = [get_format(name).name for name in formats]  # an unknown name is an error, not ignored
    artifacts = exported_artifacts(run_dir, formats)
    not_exported = [name for name in (formats or []) if name != REFERENCE and name not in {f.name for f, _ in artifacts}]
    if not artifacts and not not_exported:
        raise InputError(f"{run_dir}: no exported artifacts to verify (run `deepfake-edge export {run_dir}` first)")

    paths, labels = list_labeled_folder(data, split, max_per_class=max_per_class)
    batch, kept, errors = load_preprocessed(paths, ref_contract)
    for err in errors[:5]:
        log.warning("skipped unreadable image: %s", err)
    paths, labels = [paths[i] for i in kept], labels[kept]
    if len(batch) == 0:
        raise InputError(f"{data}: no readable images in the {split} split")
    log.info("verify: %d %s images from %s, %d artifacts", len(batch), split, data, len(artifacts))

    with open_backend(keras_path, contract=ref_contract) as keras_backend:
        ref_probs = predict_all(keras_backend, batch)
        ref_latency = batch1_latency_ms(keras_backend, batch[:1])
        ref_provider = keras_backend.provider
    ref_fake = fake_probability(ref_probs, ref_contract)
    ref_acc = accuracy_pct(ref_fake, labels, ref_contract)
    ref_auc = auc(ref_fake, labels, ref_contract)
    entries = [VerifyEntry(format=REFERENCE, status="reference", precision="fp32", file=keras_path.name,
                           size_mb=round(artifact_size_mb(keras_path), 3), provider=ref_provider,
                           accuracy=round(ref_acc, 4), auc=ref_auc, delta_accuracy=0.0,
                           delta_auc=0.0 if ref_auc is not None else None, max_abs_diff=0.0, agreement=100.0,
                           latency_ms=round(ref_latency, 4))]

    try:
        from tqdm import tqdm

        steps = tqdm(artifacts, desc="verify", unit="format", leave=False)
    except ImportError:  # pragma: no cover
        steps = artifacts
    for name in not_exported:  # asked for by name: reported, never silently left out
        entries.append(VerifyEntry(format=name, status="skipped", reasons=[
            f"not exported: deepfake-edge export {run_dir} --formats {name}"]))
    for fmt, path in steps:
        entry = _evaluate(fmt, path, paths, labels, ref_contract, batch, ref_fake, ref_acc, ref_auc, backend_options)
        if entry.status not in ("error", "skipped"):
            judge(entry, tol)
        log.info("verify %s: %s %s", entry.format, entry.status, "; ".join(entry.reasons))
        entries.append(entry)
    return VerifyReport(run_dir, data, split, int(len(batch)), entries, tol)


# -- reports -------------------------------------------------------------------------------

def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_json(report: VerifyReport) -> list[dict[str, Any]]:
    return [{k: _clean(v) for k, v in asdict(e).items()} for e in report.entries]


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def to_markdown(report: VerifyReport, command: str | None = None) -> str:
    mark = {"reference": "reference", "pass": "✅ pass", "fail": "❌ FAIL", "error": "❌ error", "skipped": "⏭ skipped"}
    lines = [
        f"# Export parity: {report.run_dir.name}",
        "",
        f"- data: `{report.data}` split `{report.split}`, {report.n_images} images",
        f"- machine: {machine_summary()}",
        f"- tolerances: {', '.join(f'{k}={v:g}' for k, v in asdict(report.tolerances).items())}",
    ]
    if command:
        lines.append(f"- command: `{command}`")
    lines += [
        "",
        "| Format | Status | Precision | Size (MB) | Accuracy % | AUC | ΔAcc | ΔAUC | max abs Δp | Agreement % | ms (batch 1) | Runtime |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for e in report.entries:
        lines.append(
            f"| {e.format} | {mark.get(e.status, e.status)} | {e.precision} | {e.size_mb:.3f} | {_fmt(e.accuracy, '.2f')} | "
            f"{_fmt(e.auc, '.4f')} | {_fmt(e.delta_accuracy, '+.2f')} | {_fmt(e.delta_auc, '+.4f')} | "
            f"{_fmt(e.max_abs_diff, '.2e')} | {_fmt(e.agreement, '.2f')} | {_fmt(e.latency_ms, '.2f')} | {e.provider} |"
        )
    notes = [f"- {e.format} ({e.status}): {'; '.join(e.reasons)}" for e in report.entries if e.reasons]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def write_reports(report: VerifyReport, command: str | None = None) -> tuple[Path, Path]:
    """RUN/verify.json (one entry per format) and RUN/verify.md, each written atomically."""
    from deepfake_edge.runtime.io import write_text_atomically

    json_path, md_path = report.run_dir / "verify.json", report.run_dir / "verify.md"
    write_text_atomically(json_path, json.dumps(to_json(report), indent=2) + "\n")
    write_text_atomically(md_path, to_markdown(report, command))
    return json_path, md_path
