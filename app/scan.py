"""`deepfake-edge scan`: a whole media archive through the detector on Ray Data.

    sources (folders, files, manifests)  ->  pending paths (minus those already in the report)
      -> Ray Data: map_batches(FileScanner, an actor pool of `workers`, each opening the detector once)
      -> the report: a folder of Parquet (or CSV / JSONL) part files, one row per input file

On one machine `ray.init()` starts a local instance by itself; with `--address` the same
code runs on an existing cluster (the workers then need the model path to be readable
where they run, as for any Ray job). Every row is what `detect --json` says about the file
(`app.commands.detect.analyze_path`), flattened to fixed columns (REPORT_SCHEMA) plus the
whole entry as JSON; a bad file is a row with an `error`, never a failed job. A re-run
with the same `--out` reads the paths already reported and skips them (resume), so an
interrupted scan loses at most the batches in flight. `--max-files` bounds one run.

Manifests: `.csv` (a `path` column, else the first), `.parquet` (a `path` column), `.txt` /
`.lst` (one path per line). Folders are walked recursively for images and videos, like
`detect`.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from deepfake_edge.runtime.errors import InputError

log = logging.getLogger(__name__)

REPORT_FORMATS = ("parquet", "csv", "jsonl")
MANIFEST_SUFFIXES = (".csv", ".parquet", ".txt", ".lst")
# One row per file. `faces`/`fake_faces` count kept faces (a video's face tracks);
# `label` is the file's verdict: Fake when any face is, Real when faces were found and none
# is, empty when there was no face or an error.
REPORT_COLUMNS = (("path", "string"), ("kind", "string"), ("faces", "int32"), ("fake_faces", "int32"),
                  ("max_fake_probability", "float64"), ("label", "string"), ("video_verdict", "string"),
                  ("frames_sampled", "int32"), ("ms", "float64"), ("worker", "string"),
                  ("worker_peak_rss_mb", "float64"), ("error", "string"), ("entry_json", "string"))


def report_schema():
    import pyarrow as pa

    return pa.schema([(name, getattr(pa, kind)()) for name, kind in REPORT_COLUMNS])


@dataclass(frozen=True)
class ScanOptions:
    """What `scan` was asked to do (the CLI flags, typed)."""

    model: str
    out: Path
    report_format: str = "parquet"
    workers: int = 1
    batch_size: int = 16  # files per batch handed to a worker
    address: str | None = None  # an existing Ray cluster; None: a local instance
    max_files: int | None = None  # at most this many new files in this run
    face_model: str | None = None
    provider: str = "auto"  # ONNX Runtime execution provider in each worker
    threads: int | None = None  # model runtime threads per worker
    every: int | None = None  # video: every N-th frame (detect's default when None)

    def __post_init__(self):
        if self.report_format not in REPORT_FORMATS:
            raise InputError(f"--format {self.report_format!r}: choose one of {', '.join(REPORT_FORMATS)}")
        if self.workers < 1 or self.batch_size < 1 or (self.max_files is not None and self.max_files < 1):
            raise InputError("--workers, --batch-size and --max-files must be >= 1")


# ----------------------------------------------------------------------------- sources
def iter_sources(sources: Iterable[str | Path]) -> Iterator[str]:
    """Every input path named by `sources`: files as given, folders walked, manifests read."""
    from deepfake_edge.app.commands.detect import expand_inputs

    for source in map(Path, sources):
        if source.suffix.lower() in MANIFEST_SUFFIXES and _is_file(source):
            yield from read_manifest(source)
            continue
        inputs, notes = expand_inputs([str(source)])
        for note in notes:
            if "error" in note:
                raise InputError(note["error"])  # a folder with no image or video at all
            log.info("scan: skipped %s (%s)", note["path"], note["skipped"])
        yield from (str(p) for p in inputs)


def _is_file(path: Path) -> bool:
    from deepfake_edge.runtime.io import is_regular_file

    return is_regular_file(path)


def read_manifest(path: Path) -> Iterator[str]:
    """The paths a manifest lists (relative ones resolved against the manifest's folder)."""
    from deepfake_edge.runtime.io import check_regular_file

    check_regular_file(path, "manifest")
    suffix = path.suffix.lower()
    if suffix in (".txt", ".lst"):
        rows: Iterable[str] = (line.strip() for line in path.read_text(errors="replace").splitlines())
    else:
        import pyarrow.csv as pcsv
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path) if suffix == ".parquet" else pcsv.read_csv(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow's own error, in one line
            raise InputError(f"{path}: cannot read the manifest ({str(exc).splitlines()[0][:160]})") from None
        if table.num_columns == 0:
            raise InputError(f"{path}: the manifest has no columns")
        column = "path" if "path" in table.column_names else table.column_names[0]
        rows = (str(v) for v in table.column(column).to_pylist() if v is not None)
    base = path.parent
    for row in rows:
        if row and not row.startswith("#"):
            yield row if os.path.isabs(row) else str(base / row)


# ----------------------------------------------------------------------------- resume
def reported_paths(out: Path, report_format: str) -> set[str]:
    """Paths already in the report folder (an earlier, possibly interrupted, run)."""
    import pyarrow.dataset as pds

    from deepfake_edge.runtime.io import is_folder

    if not is_folder(out):
        return set()
    suffix = {"parquet": ".parquet", "csv": ".csv", "jsonl": ".json"}[report_format]
    parts = sorted(str(p) for p in out.iterdir() if p.name.endswith(suffix) and p.stat().st_size > 0)
    if not parts:
        return set()
    if report_format == "jsonl":
        done = set()
        for part in parts:
            for line in Path(part).read_text().splitlines():
                if line.strip():
                    done.add(json.loads(line)["path"])
        return done
    dataset = pds.dataset(parts, format=report_format)
    return set(dataset.to_table(columns=["path"]).column("path").to_pylist())


# ----------------------------------------------------------------------------- the worker
def report_row(entry: dict, ms: float, worker: str, rss_mb: float | None = None) -> dict:
    """`detect --json`'s entry for one file, flattened to REPORT_COLUMNS."""
    faces = entry.get("faces") or []
    probs = [float(f["fake_probability"]) for f in faces if f.get("fake_probability") is not None]
    fakes = sum(f.get("label") == "Fake" for f in faces)
    video = entry.get("video")
    label = None if "error" in entry or not faces else ("Fake" if fakes else "Real")
    return {"path": entry["path"], "kind": "video" if video is not None else "image", "faces": len(faces),
            "fake_faces": int(fakes), "max_fake_probability": max(probs) if probs else None, "label": label,
            "video_verdict": (video or {}).get("label"), "frames_sampled": (video or {}).get("frames_sampled"),
            "ms": round(ms, 3), "worker": worker, "worker_peak_rss_mb": rss_mb, "error": entry.get("error"),
            "entry_json": json.dumps(entry, default=str)}


class FileScanner:
    """A Ray Data actor: opens the detector once, then turns batches of paths into report rows."""

    def __init__(self, model: str, face_model: str | None = None, provider: str = "auto",
                 threads: int | None = None, every: int | None = None):
        from deepfake_edge.runtime.detector import Detector

        from deepfake_edge.runtime.backends.options import BackendOptions

        self.detector = Detector.from_path(model, BackendOptions.of(provider=provider, threads=threads),
                                           face_model=face_model)
        self.every = every
        self.worker = f"{os.uname().nodename}:{os.getpid()}"

    def __call__(self, batch):
        import pyarrow as pa

        from deepfake_edge.app.commands.detect import analyze_path

        rows = []
        for path in batch.column("path").to_pylist():
            t0 = time.perf_counter()
            entry = analyze_path(self.detector, Path(path), every=self.every)
            rows.append(report_row(entry, (time.perf_counter() - t0) * 1000.0, self.worker, _peak_rss_mb()))
        return pa.Table.from_pylist(rows, schema=report_schema())


def _peak_rss_mb() -> float:
    """This process's peak resident memory (Linux reports KiB): a worker that leaks shows it here."""
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


# ----------------------------------------------------------------------------- the job
@dataclass
class ScanSummary:
    files: int
    skipped_already_reported: int
    faces: int
    fake_files: int
    errors: int
    seconds: float
    out: Path

    @property
    def files_per_second(self) -> float:
        return self.files / self.seconds if self.seconds else 0.0

    def text(self) -> str:
        return (f"scanned {self.files} files in {self.seconds:.1f} s ({self.files_per_second:.1f} files/s): "
                f"{self.faces} faces, {self.fake_files} files with a Fake face, {self.errors} errors; "
                f"{self.skipped_already_reported} already in the report were skipped; report: {self.out}")


def run_scan(sources: Iterable[str | Path], options: ScanOptions) -> ScanSummary:
    """Scan every pending source file into `options.out`; returns the summary of this run."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from deepfake_edge.runtime.backends import open_backend
    from deepfake_edge.runtime.faces import resolve_face_model

    with open_backend(options.model):  # a bad model is one line here, not a failure in every worker
        pass
    face_model = str(resolve_face_model(options.face_model))
    model = str(Path(options.model).resolve())
    done = reported_paths(options.out, options.report_format)
    pending, skipped, seen = [], 0, set()
    for path in iter_sources(sources):
        if path in done:
            skipped += 1
        elif path not in seen:
            seen.add(path)
            pending.append(path)
            if options.max_files is not None and len(pending) >= options.max_files:
                break
    started = time.perf_counter()
    if not pending:
        log.info("scan: nothing to do (%d files already in %s)", skipped, options.out)
        return ScanSummary(0, skipped, 0, 0, 0, 0.0, options.out)
    ray, started_here = _init_ray(options.address, options.workers)
    import ray.data

    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = True
    dataset = ray.data.from_arrow(pa.table({"path": pending}))
    if dataset.num_blocks() < options.workers * 2:  # enough blocks to keep every worker busy
        dataset = dataset.repartition(max(1, min(len(pending) // options.batch_size, options.workers * 4)))
    scanned = dataset.map_batches(
        FileScanner, fn_constructor_kwargs={"model": model, "face_model": face_model, "provider": options.provider,
                                            "threads": options.threads,
                                            "every": options.every},
        batch_size=options.batch_size, batch_format="pyarrow", concurrency=options.workers, num_cpus=1)
    options.out.mkdir(parents=True, exist_ok=True)
    writer = {"parquet": scanned.write_parquet, "csv": scanned.write_csv, "jsonl": scanned.write_json}
    writer[options.report_format](str(options.out))
    seconds = time.perf_counter() - started
    written = _this_run(options, set(pending))
    faces = int(pc.sum(written.column("faces")).as_py() or 0)
    fake_files = int(pc.sum(pc.equal(written.column("label"), "Fake")).as_py() or 0)
    errors = int(written.num_rows - pc.sum(pc.is_null(written.column("error"))).as_py())
    if started_here:
        ray.shutdown()
    return ScanSummary(written.num_rows, skipped, faces, fake_files, errors, seconds, options.out)


def _this_run(options: ScanOptions, pending: set[str]):
    """The report rows of this run's files (read back from what was written)."""
    import pyarrow as pa

    from deepfake_edge.runtime.io import is_folder

    if options.report_format == "jsonl":
        rows = []
        for part in sorted(options.out.glob("*.json")):
            rows += [json.loads(line) for line in part.read_text().splitlines() if line.strip()]
        table = pa.Table.from_pylist(rows)
    else:
        import pyarrow.dataset as pds

        parts = [str(p) for p in options.out.iterdir() if p.suffix == f".{options.report_format}"] \
            if is_folder(options.out) else []
        table = pds.dataset(parts, format=options.report_format).to_table()
    mask = [p in pending for p in table.column("path").to_pylist()]
    return table.filter(pa.array(mask))


def _init_ray(address: str | None, workers: int = 1):
    """(ray, whether this call started it): a caller's running instance is used as it is.

    A local instance gets one logical CPU more than the workers take (at least the
    machine's cores): the actors hold one CPU each for the whole job, and the tasks that
    read paths and write the report need one of their own, else the job waits forever."""
    import ray

    if ray.is_initialized():
        return ray, False
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report from an offline machine
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        ray.init(num_cpus=max(os.cpu_count() or 1, workers + 1), include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    return ray, True
