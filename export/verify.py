"""Parity table: every exported artifact vs the Keras model, on a labelled split.

Each artifact is opened through its runtime backend with ITS OWN contract (sidecar or
embedded metadata) and fed images preprocessed by the runtime's one path under that
contract, exactly what a user of that file gets. So a wrong normalisation in a sidecar,
or a converter that changed the weights, shows up here as a failed row.

Every artifact goes through `runtime.evaluation.evaluate_artifact` (the loop `bench`
also uses) and its batch-1 latency is `profile_backend`'s one definition, on a short
budget. Accuracy and agreement are fractions; the tolerances are set in percent/points.

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
from deepfake_edge.runtime.backends import BackendOptions
from deepfake_edge.runtime.contract import find_contract
from deepfake_edge.runtime.errors import DeepfakeEdgeError, InputError, MissingExtraError, NoGpuError
from deepfake_edge.runtime.evaluation import Evaluation, LabelledSet, LatencyBudget, evaluate_artifact
from deepfake_edge.runtime.formats import FORMATS, REFERENCE, Format, artifact_path
from deepfake_edge.runtime.profile import machine_summary

log = logging.getLogger(__name__)

# verify times each artifact briefly (bench measures properly): the same definition, a smaller budget
LATENCY = LatencyBudget(warmup=3, min_runs=20, min_seconds=0.0)


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
    runs_on: str = ""  # what really ran it (`Backend.describe()`)
    accuracy: float | None = None  # fraction correct at the artifact's threshold
    auc: float | None = None
    delta_accuracy: float | None = None  # fraction, format - Keras
    delta_auc: float | None = None
    max_abs_diff: float | None = None  # max |Δ fake probability|
    agreement: float | None = None  # fraction of labels equal to Keras'
    latency_ms: float | None = None  # batch-1 p50 (runtime.evaluation's one definition)
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


# -- checks ----------------------------------------------------------------------------------

def judge(entry: VerifyEntry, tol: Tolerances) -> None:
    """Set entry.status to pass/fail from its figures and precision, with reasons naming them.

    Figures are fractions; the tolerances are in the units users set them in (percent, points).
    """
    reasons = []
    if entry.precision == "fp32":
        if entry.max_abs_diff is not None and entry.max_abs_diff > tol.fp32_max_diff:
            reasons.append(f"max |Δp| {entry.max_abs_diff:.3g} > {tol.fp32_max_diff:g}")
        if entry.agreement is not None and entry.agreement * 100.0 < tol.fp32_min_agreement:
            reasons.append(f"agreement {entry.agreement * 100.0:.2f}% < {tol.fp32_min_agreement:g}%")
    elif entry.precision == "fp16":
        if entry.delta_auc is not None and entry.delta_auc < -tol.fp16_max_auc_drop:
            reasons.append(f"ΔAUC {entry.delta_auc:+.4f} (drop > {tol.fp16_max_auc_drop:g})")
    elif entry.precision == "int8":
        if entry.delta_auc is not None and entry.delta_auc < -tol.int8_max_auc_drop:
            reasons.append(f"ΔAUC {entry.delta_auc:+.4f} (drop > {tol.int8_max_auc_drop:g})")
        if entry.delta_accuracy is not None and entry.delta_accuracy * 100.0 < -tol.int8_max_acc_drop:
            reasons.append(f"Δaccuracy {entry.delta_accuracy * 100.0:+.2f} points (drop > {tol.int8_max_acc_drop:g})")
    if entry.auc is None and entry.precision in ("fp16", "int8"):
        reasons.append("AUC undefined: the split needs both Real and Fake images")
    entry.reasons = reasons
    entry.status = "fail" if reasons else "pass"


def exported_artifacts(run_dir: Path, only: list[str] | None = None) -> list[tuple[Format, Path]]:
    """(format, path) of every artifact present in the run folder that verify compares, in table order."""
    found = []
    for fmt in FORMATS:
        if not fmt.verified or (only and fmt.name not in only):
            continue  # the reference itself, or no local backend (Triton: its ONNX is the one checked)
        path = artifact_path(run_dir, fmt)
        if path.exists():
            found.append((fmt, path))
    return found


def _evaluate(fmt: Format, path: Path, data: LabelledSet, ref: Evaluation, options: BackendOptions) -> VerifyEntry:
    """One artifact scored on `data` with its own contract and compared with the reference."""
    entry = VerifyEntry(format=fmt.name, status="error", precision=fmt.precision, file=path.name,
                        size_mb=round(artifact_size_mb(path), 3))
    try:
        contract = find_contract(path)
        entry.precision = contract.precision or fmt.precision
        result, latency = evaluate_artifact(path, data, options.for_format(fmt), contract=contract,
                                            latency=LATENCY)
    except (MissingExtraError, NoGpuError) as exc:  # e.g. a GPU artifact on a CPU machine: not a failure
        entry.status, entry.reasons = "skipped", [first_line(exc)]
        return entry
    except DeepfakeEdgeError as exc:
        entry.reasons = [first_line(exc)]
        return entry
    except Exception as exc:  # noqa: BLE001 - the runtime's own error, one line
        entry.reasons = [f"{type(exc).__name__}: {first_line(exc)}"]
        return entry
    _fill(entry, result, latency, ref)
    entry.status = "measured"  # judged against the tolerances by the caller
    return entry


def _fill(entry: VerifyEntry, result: Evaluation, latency, ref: Evaluation) -> None:
    entry.runs_on = result.runs_on
    entry.accuracy = round(result.accuracy, 6)
    entry.auc = result.auc
    entry.delta_accuracy = round(result.accuracy - ref.accuracy, 6)
    entry.delta_auc = None if result.auc is None or ref.auc is None else result.auc - ref.auc
    entry.max_abs_diff = float(np.max(np.abs(result.fake - ref.fake)))
    agree = (result.fake >= result.threshold) == (ref.fake >= ref.threshold)
    entry.agreement = round(float(np.mean(agree)), 6)
    entry.latency_ms = round(latency.p50_ms, 4) if latency is not None else None


def verify_run(run_dir: str | Path, data: str | Path, *, split: str = "Test", tolerances: Tolerances | None = None,
               formats: list[str] | None = None, max_per_class: int | None = None,
               backend_options: BackendOptions | None = None) -> VerifyReport:
    """Compare every exported artifact of `run_dir` with its Keras model on `data`/`split`.

    `backend_options` apply to each artifact whose runtime reads them (`--provider` to the
    ONNX files); what a format does not read is logged once, not silently dropped.
    """
    from deepfake_edge.runtime.io import check_folder

    run_dir, data = Path(run_dir), Path(data)
    tol = tolerances or Tolerances()
    options = backend_options or BackendOptions()
    check_folder(run_dir, "run folder")
    ref_contract = load_run_contract(run_dir)
    keras_path = artifact_path(run_dir, REFERENCE)
    if not keras_path.is_file():
        raise InputError(f"{run_dir}: no {REFERENCE.filename} to compare the exports with")
    if formats:
        from deepfake_edge.runtime.formats import get_format

        formats = [get_format(name).name for name in formats]  # an unknown name is an error, not ignored
    artifacts = exported_artifacts(run_dir, formats)
    not_exported = [name for name in (formats or []) if name != REFERENCE.name
                    and name not in {f.name for f, _ in artifacts}]
    if not artifacts and not not_exported:
        raise InputError(f"{run_dir}: no exported artifacts to verify (run `deepfake-edge export {run_dir}` first)")
    for fmt, _ in artifacts:
        if options.not_applicable(fmt):
            log.info("verify %s: %s not applied (its runtime does not read it)", fmt.name,
                     ", ".join(options.not_applicable(fmt)))

    labelled = LabelledSet.from_folder(data, split, max_per_class=max_per_class)
    ref, ref_latency = evaluate_artifact(keras_path, labelled, options.for_format(REFERENCE),
                                         contract=ref_contract, latency=LATENCY)
    log.info("verify: %d %s images from %s, %d artifacts", len(labelled), split, data, len(artifacts))
    reference = VerifyEntry(format=REFERENCE.name, status="reference", precision="fp32", file=keras_path.name,
                            size_mb=round(artifact_size_mb(keras_path), 3))
    _fill(reference, ref, ref_latency, ref)
    entries = [reference]

    try:
        from tqdm import tqdm

        steps = tqdm(artifacts, desc="verify", unit="format", leave=False)
    except ImportError:  # pragma: no cover
        steps = artifacts
    for name in not_exported:  # asked for by name: reported, never silently left out
        entries.append(VerifyEntry(format=name, status="skipped", reasons=[
            f"not exported: deepfake-edge export {run_dir} --formats {name}"]))
    for fmt, path in steps:
        entry = _evaluate(fmt, path, labelled, ref, options)
        if entry.status not in ("error", "skipped"):
            judge(entry, tol)
        log.info("verify %s: %s %s", entry.format, entry.status, "; ".join(entry.reasons))
        entries.append(entry)
    return VerifyReport(run_dir, data, split, len(labelled), entries, tol)


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
        "| Format | Status | Precision | Size (MB) | Accuracy | AUC | ΔAcc | ΔAUC | max abs Δp | Agreement | ms (batch 1) | Runtime |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for e in report.entries:
        lines.append(
            f"| {e.format} | {mark.get(e.status, e.status)} | {e.precision} | {e.size_mb:.3f} | {_fmt(e.accuracy, '.4f')} | "
            f"{_fmt(e.auc, '.4f')} | {_fmt(e.delta_accuracy, '+.4f')} | {_fmt(e.delta_auc, '+.4f')} | "
            f"{_fmt(e.max_abs_diff, '.2e')} | {_fmt(e.agreement, '.4f')} | {_fmt(e.latency_ms, '.2f')} | {e.runs_on} |"
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
