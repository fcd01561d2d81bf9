"""Run the export steps a user asked for, in the format table's order, and summarise.

`export_run(run_dir, formats)` calls each format's exporter (named in
`runtime.formats.FORMATS`) in table order, so `onnx` is written before the steps that
start from it (`onnx-fp16`, `onnx-int8`, `engine`). A failing step is recorded with a
one-line reason and the others still run; the caller decides the exit code from
`ExportResult.ok`. The summary table follows Ultralytics: format, status, file, size, time.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from deepfake_edge.export.common import first_line, keras_model_path
from deepfake_edge.runtime.contract import CONTRACT_FILENAME, ModelContract
from deepfake_edge.runtime.errors import DeepfakeEdgeError, InputError
from deepfake_edge.runtime.formats import FORMATS, Format, artifact_path, get_format, parse_formats

log = logging.getLogger(__name__)


@dataclass
class ExportResult:
    format: str
    status: str  # "ok" | "failed"
    path: Path | None
    size_mb: float
    seconds: float
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def artifact_size_mb(path: Path) -> float:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6
    return path.stat().st_size / 1e6 if path.exists() else 0.0


def load_run_contract(run_dir: Path) -> ModelContract:
    path = Path(run_dir) / CONTRACT_FILENAME
    if not path.is_file():
        raise InputError(f"{run_dir}: no {CONTRACT_FILENAME} in the run folder (it is written by training)")
    return ModelContract.load(path)


def _as_formats(formats: str | Iterable[str | Format] | None) -> list[Format]:
    if formats is None:
        formats = "cpu"
    if isinstance(formats, str):
        chosen = parse_formats(formats)
    else:
        chosen = [f if isinstance(f, Format) else get_format(f) for f in formats]
    for f in chosen:
        if f.exporter is None:
            raise InputError(f"format {f.name!r} is only read, never written, by deepfake-edge (export 'engine' instead)"
                             if f.needs_gpu else f"format {f.name!r} is written by training, not by export")
    order = {f.name: i for i, f in enumerate(FORMATS)}
    return sorted(chosen, key=lambda f: order[f.name])


def export_one(run_dir: Path, fmt: Format, contract: ModelContract, data: Path | None, **options: Any) -> ExportResult:
    """Run one step; any failure becomes a one-line reason on the result instead of an exception."""
    t0 = time.perf_counter()
    try:
        path = Path(fmt.load_exporter()(run_dir, contract, data=data, **options))
    except DeepfakeEdgeError as exc:
        reason = first_line(exc)
    except Exception as exc:  # noqa: BLE001 - a converter's own error: keep the others running
        log.debug("export %s failed", fmt.name, exc_info=True)
        reason = f"{type(exc).__name__}: {first_line(exc)}"
    else:
        seconds = time.perf_counter() - t0
        log.info("export %s: wrote %s in %.1f s", fmt.name, path, seconds)
        return ExportResult(fmt.name, "ok", path, artifact_size_mb(path), seconds)
    seconds = time.perf_counter() - t0
    log.error("export %s failed: %s", fmt.name, reason)
    return ExportResult(fmt.name, "failed", None, 0.0, seconds, reason)


def check_options(options: dict, formats: list[Format]) -> None:
    """Every option given applies to at least one chosen format (the table's `options`), or InputError.

    `--max-batch` with `--formats onnx` used to be dropped without a word.
    """
    from deepfake_edge.runtime.formats import FORMATS

    for key in options:
        if any(key in f.options for f in formats):
            continue
        owners = [f.name for f in FORMATS if key in f.options]
        flag = "--" + key.replace("_", "-")
        raise InputError(f"{flag} applies to {', '.join(owners) or 'no format'} only; it would do nothing for "
                         f"--formats {','.join(f.name for f in formats)}")


def export_run(run_dir: str | Path, formats: str | Iterable[str | Format] | None = None,
               data: str | Path | None = None, **options: Any) -> list[ExportResult]:
    """Export a trained run folder to `formats` (names, or "cpu" / "all"); one result per format."""
    from deepfake_edge.runtime.io import check_folder

    run_dir = check_folder(run_dir, "run folder")
    keras_model_path(run_dir)
    contract = load_run_contract(run_dir)
    chosen = _as_formats(formats)
    data = Path(data) if data is not None else None
    if data is not None:
        check_folder(data, "data folder")
    options = {k: v for k, v in options.items() if v is not None}  # unset flags keep step defaults
    check_options(options, chosen)
    results = []
    try:
        from tqdm import tqdm

        steps = tqdm(chosen, desc="export", unit="format", leave=False)
    except ImportError:  # pragma: no cover - tqdm is a core dependency
        steps = chosen
    for fmt in steps:
        if hasattr(steps, "set_postfix_str"):
            steps.set_postfix_str(fmt.name)
        results.append(export_one(run_dir, fmt, contract, data, **options))
    return results


def summary_table(results: list[ExportResult], run_dir: Path | None = None) -> str:
    """Markdown table: Format | Status | File | Size (MB) | Time (s), reasons under it."""
    lines = ["| Format | Status | File | Size (MB) | Time (s) |", "|---|---|---|---:|---:|"]
    for r in results:
        name = r.path.name if r.path else (artifact_path(run_dir, r.format).name if run_dir else "-")
        status = "✅ ok" if r.ok else "❌ failed"
        lines.append(f"| {r.format} | {status} | {name} | {r.size_mb:.2f} | {r.seconds:.1f} |")
    failed = [r for r in results if not r.ok]
    if failed:
        lines.append("")
        lines.extend(f"- {r.format}: {r.error}" for r in failed)
    return "\n".join(lines)
