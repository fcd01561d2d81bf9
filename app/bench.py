"""`deepfake-edge bench`: latency and accuracy of every runnable format of one run, in one table.

Each row is one (format, runtime option) pair from the format table, fed the SAME
preprocessed inputs: accuracy and AUC on a labelled split, batch-1 latency
(p50/p95/p99 over timed runs after warm-up), throughput at a larger batch, and the
end-to-end time of one 640x480 frame (MediaPipe detect + crop + classify). Formats that
cannot run here get a row whose status says why. A roofline line relates each runtime's
speed to the model's FLOPs and the machine's measured matrix-multiply peak.
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_edge.export.pipeline import artifact_size_mb
from deepfake_edge.runtime.contract import find_contract
from deepfake_edge.runtime.errors import DeepfakeEdgeError, InputError
from deepfake_edge.runtime.extras import missing_modules
from deepfake_edge.runtime.formats import FORMATS, REFERENCE, Format, artifact_path
from deepfake_edge.runtime.profile import machine_info, measure, nvidia_gpus, summarize, time_calls

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """One benchmark row: a format of the table, run with particular backend options."""

    label: str
    fmt: Format
    options: tuple[tuple[str, Any], ...] = ()


@dataclass
class Row:
    label: str
    format: str
    precision: str
    status: str = "ok"
    runs_on: str = ""  # what really ran it (`Backend.describe()`)
    size_mb: float | None = None
    accuracy: float | None = None
    auc: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    fps: float | None = None
    throughput_ips: float | None = None
    e2e_p50_ms: float | None = None
    e2e_p95_ms: float | None = None
    detect_p50_ms: float | None = None
    gflops_per_s: float | None = None
    pct_of_peak: float | None = None
    speedup_vs_keras_predict: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class BenchConfig:
    data: Path | None = None
    split: str = "Test"
    max_images: int = 400
    formats: list[str] | None = None  # None: every format present in the run folder
    threads: int | None = None
    batch: int = 8
    min_runs: int = 30
    min_seconds: float = 2.0
    warmup: int = 5
    e2e: bool = True
    face_model: Path | None = None
    floor_auc: float | None = None


def _available_ort_providers() -> list[str]:
    try:
        import onnxruntime as ort
    except ImportError:
        return []
    return list(ort.get_available_providers())


def plan_targets(run_dir: Path, wanted: list[str] | None) -> list[tuple[Target, str | None]]:
    """Every row to run (the table's benchmarked formats x their variants), each with a reason it
    cannot run here (None = runnable)."""
    gpu = bool(nvidia_gpus())
    providers = _available_ort_providers()
    rows: list[tuple[Target, str | None]] = []
    for fmt in FORMATS:
        if not fmt.benchmarked or (wanted is not None and fmt.name not in wanted):
            continue
        path = artifact_path(run_dir, fmt)
        missing = None if path.exists() else f"not exported: deepfake-edge export {run_dir} --formats {fmt.name}"
        if missing is None and fmt.extra and missing_modules(fmt.extra):
            missing = f"needs pip install 'deepfake-edge[{fmt.extra}]'"
        if fmt.needs_gpu and missing is None and not gpu:
            missing = "needs an NVIDIA GPU (none found)"
        for variant in fmt.variants:
            if variant.needs_provider and variant.needs_provider not in providers:
                continue  # this build of ONNX Runtime does not offer it: not a row at all
            reason = missing
            if reason is None and variant.needs_gpu and not gpu:
                reason = f"{variant.needs_provider or variant.label} is listed but no NVIDIA GPU is present"
            rows.append((Target(variant.row_label(fmt), fmt, variant.options), reason))
    return rows


def onnx_flops(path: Path) -> float | None:
    """Multiply-adds x 2 per image of Conv / Gemm / MatMul nodes, from ONNX shape inference at batch 1.

    None without the `onnx` package (the `train` extra): the base install counts no FLOPs.
    """
    try:
        import onnx
    except ImportError:
        log.info("FLOPs not counted: the 'onnx' package is not installed (pip install 'deepfake-edge[train]')")
        return None
    from onnx import shape_inference

    model = onnx.load(str(path))
    inp = model.graph.input[0]
    dims = inp.type.tensor_type.shape.dim
    dims[0].dim_value = 1
    model = shape_inference.infer_shapes(model)
    shapes: dict[str, list[int]] = {}
    for vi in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        shapes[vi.name] = [d.dim_value for d in vi.type.tensor_type.shape.dim]
    inits = {t.name: list(t.dims) for t in model.graph.initializer}
    total = 0.0
    for node in model.graph.node:
        if node.op_type in ("Conv", "ConvInteger", "QLinearConv"):
            w = inits.get(node.input[1 if node.op_type != "QLinearConv" else 3])
            out = shapes.get(node.output[0])
            if not w or not out or len(out) != 4:
                continue
            cout, cin_g, kh, kw = w
            total += 2.0 * out[1] * out[2] * out[3] * cin_g * kh * kw
        elif node.op_type in ("Gemm", "MatMul"):
            w = inits.get(node.input[1])
            if w and len(w) == 2:
                total += 2.0 * w[0] * w[1]
    return total or None


def matmul_peak_gflops(threads: int | None = None, n: int = 1024, seconds: float = 1.0) -> dict[str, float]:
    """The machine's float32 ceiling: the best large matrix product of numpy and ONNX Runtime.

    numpy's BLAS can be throttled on some CPUs (OPENBLAS_CORETYPE), so ONNX Runtime's own
    MatMul kernels, on the runtimes' thread count, are measured too; the higher one is the peak.
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    flop = 2.0 * n ** 3
    results = {"numpy": flop / (measure(lambda: a @ b, warmup=2, min_runs=5, min_seconds=seconds).min_ms / 1e3) / 1e9}
    try:
        import onnxruntime as ort
        from onnx import TensorProto, helper

        graph = helper.make_graph(
            [helper.make_node("MatMul", ["a", "b"], ["c"])], "peak",
            [helper.make_tensor_value_info("a", TensorProto.FLOAT, [n, n]),
             helper.make_tensor_value_info("b", TensorProto.FLOAT, [n, n])],
            [helper.make_tensor_value_info("c", TensorProto.FLOAT, [n, n])])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = int(threads)
        sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        feed = {"a": a, "b": b}
        stats = measure(lambda: sess.run(None, feed), warmup=2, min_runs=5, min_seconds=seconds)
        results["onnxruntime"] = flop / (stats.min_ms / 1e3) / 1e9
    except ImportError:
        pass
    best = max(results, key=results.get)
    return {"gflops": results[best], "source": best, **{f"{k}_gflops": v for k, v in results.items()}}


def face_frame() -> np.ndarray:
    """A 640x480 RGB frame with one real face (matplotlib's Grace Hopper photo)."""
    import cv2
    import matplotlib

    from deepfake_edge.runtime.images import read_rgb

    face = read_rgb(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")
    frame = np.full((480, 640, 3), 90, np.uint8)
    face = cv2.resize(face, (300, 352), interpolation=cv2.INTER_AREA)
    frame[64:416, 170:470] = face
    return frame


def run_bench(run_dir: str | Path, cfg: BenchConfig, progress: bool = True) -> tuple[list[Row], dict[str, Any]]:
    """One row per (format, variant): verify's evaluation (`evaluate_artifact`'s loop, each
    artifact preprocessed by its own contract) plus `profile_backend`'s latency columns."""
    from tqdm import tqdm

    from deepfake_edge.runtime.backends import BackendOptions, open_backend
    from deepfake_edge.runtime.evaluation import LabelledSet, LatencyBudget, profile_backend, score
    from deepfake_edge.runtime.io import check_folder

    run_dir = check_folder(run_dir, "run folder")
    contract = find_contract(artifact_path(run_dir, REFERENCE))
    plan = plan_targets(run_dir, cfg.formats)
    if not plan:
        raise InputError(f"{run_dir}: no format to benchmark (asked for {cfg.formats})")

    size = contract.input_size
    rng = np.random.default_rng(0)
    labelled = None
    if cfg.data is not None:
        per_class = max(1, cfg.max_images // 2) if cfg.max_images else None
        labelled = LabelledSet.from_folder(cfg.data, cfg.split, max_per_class=per_class)
        labelled.batch_for(contract)  # unreadable files dropped now, so every row scores the same images
    budget = LatencyBudget(warmup=cfg.warmup, min_runs=cfg.min_runs, min_seconds=cfg.min_seconds)
    throughput_budget = LatencyBudget(warmup=2, min_runs=max(5, cfg.min_runs // 3), min_seconds=cfg.min_seconds / 2)

    frame = face_frame() if cfg.e2e else None
    faces = None
    if cfg.e2e:
        try:
            from deepfake_edge.runtime.faces import FaceDetector

            faces = FaceDetector(cfg.face_model, rule=contract.crop_rule)
        except DeepfakeEdgeError as exc:
            log.warning("end-to-end frame timing skipped: %s", exc)

    onnx_path = artifact_path(run_dir, "onnx")
    flops = onnx_flops(onnx_path) if onnx_path.exists() else None
    peak_info = matmul_peak_gflops(cfg.threads)
    peak = peak_info["gflops"]
    rows: list[Row] = []
    bar = tqdm(plan, desc="bench", unit="format", disable=not progress)
    for target, reason in bar:
        bar.set_postfix_str(target.label)
        row = Row(target.label, target.fmt.name, target.fmt.precision)
        path = artifact_path(run_dir, target.fmt)
        if reason:
            row.status = reason
            rows.append(row)
            continue
        try:
            row.size_mb = artifact_size_mb(path)
            options = BackendOptions(**dict(target.options), threads=cfg.threads).for_format(target.fmt)
            backend = open_backend(path, options)
        except DeepfakeEdgeError as exc:
            row.status = f"failed: {exc}"
            rows.append(row)
            continue
        try:
            row.runs_on = backend.describe()
            own = backend.contract
            if labelled is not None:
                result = score(backend, labelled)
                row.accuracy, row.auc = result.accuracy, result.auc
                x1 = labelled.batch_for(own)[:1]
                xb = np.resize(labelled.batch_for(own)[:cfg.batch], (cfg.batch, own.input_size, own.input_size, 3))
            else:
                x1 = rng.random((1, own.input_size, own.input_size, 3), dtype=np.float32)
                xb = rng.random((cfg.batch, own.input_size, own.input_size, 3), dtype=np.float32)
            s1 = profile_backend(backend, x1, budget)
            row.p50_ms, row.p95_ms, row.p99_ms, row.fps = s1.p50_ms, s1.p95_ms, s1.p99_ms, s1.fps
            stages = getattr(backend, "last_stage_ms", None)
            if stages:  # GPU runtimes: the p50 above includes host<->device copies; also show them alone
                row.extra["batch1_stage_ms"] = {k: round(v, 4) for k, v in stages.items()}
            sb = measure(lambda: backend.predict(xb), warmup=throughput_budget.warmup,
                         min_runs=throughput_budget.min_runs, min_seconds=throughput_budget.min_seconds)
            row.throughput_ips = cfg.batch * 1000.0 / sb.p50_ms
            if flops:
                row.gflops_per_s = flops / (s1.p50_ms / 1000.0) / 1e9
                row.pct_of_peak = 100.0 * row.gflops_per_s / peak
            if faces is not None:
                from deepfake_edge.runtime.detector import Detector

                det = Detector(backend, faces, own)
                results = []

                def one_frame():
                    results.append(det.detect(frame))

                se = summarize(time_calls(one_frame, warmup=3, min_runs=max(10, cfg.min_runs // 2),
                                          min_seconds=cfg.min_seconds / 2))
                row.e2e_p50_ms, row.e2e_p95_ms = se.p50_ms, se.p95_ms
                row.detect_p50_ms = float(np.median([r.timings["detect_ms"] for r in results]))
                row.extra["faces_found"] = len(results[-1].faces)
        except Exception as exc:  # noqa: BLE001 - one runtime failing must not stop the table
            row.status = f"failed: {str(exc).splitlines()[0][:160]}"
        finally:
            backend.close()
        rows.append(row)
    if faces is not None:
        faces.close()

    ref = next((r for r in rows if r.format == REFERENCE.name and r.p50_ms), None)  # its first variant: predict
    for r in rows:
        if ref and r.p50_ms:
            r.speedup_vs_keras_predict = ref.p50_ms / r.p50_ms
    meta = {
        "run_dir": str(run_dir),
        "arch": contract.arch,
        "input_size": size,
        "machine": machine_info() | {"gpu": ", ".join(nvidia_gpus()) or None},
        "versions": _versions(),
        "threads": cfg.threads or "runtime default",
        "batch_throughput": cfg.batch,
        "data": str(cfg.data) if cfg.data else None,
        "split": cfg.split,
        "eval_images": len(labelled) if labelled is not None else 0,
        "model_gflops_per_image": flops / 1e9 if flops else None,
        "machine_peak_gflops": peak,
        "machine_peak": peak_info,
        "method": (f"warm-up {cfg.warmup}, then >= {cfg.min_runs} runs and >= {cfg.min_seconds}s per row; "
                   "median and percentiles of every run (runtime.evaluation.profile_backend: the predict call "
                   "on a preprocessed crop); each artifact fed the split preprocessed by its own contract"),
        "timestamp": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    return rows, meta


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("tensorflow", "keras", "onnxruntime", "onnxruntime-gpu", "ai-edge-litert", "mediapipe", "tensorrt",
                "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def _fmt(v, digits=2):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.{digits}f}"


def to_markdown(rows: list[Row], meta: dict[str, Any]) -> str:
    m = meta["machine"]
    lines = [
        f"# Benchmark: {meta['run_dir']} ({meta['arch']}, {meta['input_size']}x{meta['input_size']})",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, GPU: {m.get('gpu') or 'none'}; {m['os']}, Python {m['python']}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".",
        f"Threads: {meta['threads']}. Accuracy/AUC on {meta['eval_images']} images of {meta['data']} "
        f"({meta['split']})." if meta["data"] else f"Threads: {meta['threads']}. No --data: accuracy not measured.",
        f"Method: {meta['method']}.",
        "",
        "| Format | Status | Provider | Size MB | Acc | AUC | p50 ms | p95 ms | p99 ms | FPS | "
        f"imgs/s @{meta['batch_throughput']} | frame p50 ms | vs Keras predict |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        status = "✅" if r.status == "ok" else ("❌ " + r.status if r.status.startswith("failed") else "➖ " + r.status)
        lines.append(
            f"| {r.label} | {status} | {r.runs_on or '–'} | {_fmt(r.size_mb)} | {_fmt(r.accuracy, 4)} | "
            f"{_fmt(r.auc, 4)} | {_fmt(r.p50_ms)} | {_fmt(r.p95_ms)} | {_fmt(r.p99_ms)} | {_fmt(r.fps, 1)} | "
            f"{_fmt(r.throughput_ips, 1)} | {_fmt(r.e2e_p50_ms)} | "
            f"{_fmt(r.speedup_vs_keras_predict, 1) + '×' if r.speedup_vs_keras_predict else '–'} |"
        )
    lines.append("")
    if meta.get("model_gflops_per_image"):
        best = min((r for r in rows if r.p50_ms), key=lambda r: r.p50_ms, default=None)
        lines.append(
            f"Roofline: the model needs {meta['model_gflops_per_image']:.3f} GFLOP per image; this machine's "
            f"float32 matrix-multiply peak measured {meta['machine_peak_gflops']:.1f} GFLOP/s "
            f"({meta['machine_peak']['source']}, 1024x1024)"
            + (f"; the fastest row ({best.label}) reaches {best.gflops_per_s:.1f} GFLOP/s at batch 1 = "
               f"{best.pct_of_peak:.1f}% of that peak (batch-1 convolutions are memory- and overhead-bound)."
               if best and best.gflops_per_s else ".")
        )
    for r in rows:
        if "batch1_stage_ms" in r.extra:
            st = r.extra["batch1_stage_ms"]
            lines.append(f"{r.label}: latency includes host↔device copies; last batch-1 call: copy in "
                         f"{st['h2d_ms']:.3f} ms, compute {st['compute_ms']:.3f} ms, copy out {st['d2h_ms']:.3f} ms.")
    frame_rows = [r for r in rows if r.e2e_p50_ms]
    if frame_rows:
        lines.append(f"Frame: one 640x480 frame with one face, MediaPipe short-range detection "
                     f"(p50 {np.median([r.detect_p50_ms for r in frame_rows]):.2f} ms) + crop + classify.")
    return "\n".join(lines) + "\n"


def plot(rows: list[Row], meta: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if r.p50_ms]
    fig, ax = plt.subplots(figsize=(8, 0.5 * max(3, len(ok)) + 1.2))
    labels = [r.label for r in ok]
    y = np.arange(len(ok))
    ax.barh(y - 0.2, [r.p50_ms for r in ok], height=0.4, label="classifier p50 (batch 1)")
    ax.barh(y + 0.2, [r.e2e_p50_ms or np.nan for r in ok], height=0.4,
            label="640x480 frame p50 (detect+crop+classify)")
    for i, r in enumerate(ok):
        ax.text(r.p50_ms, i - 0.2, f" {r.p50_ms:.3g}", va="center", fontsize=8)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xscale("log")  # Keras predict is 10-100x slower than the edge runtimes
    ax.set_xlabel("milliseconds, log scale (lower is better)")
    m = meta["machine"]
    ax.set_title(f"{meta['arch']} {meta['input_size']}px on {m['cores']} cores: {m['cpu'][:40]}", fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_outputs(rows: list[Row], meta: dict[str, Any], out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "bench.json", "md": out / "bench.md", "png": out / "bench.png"}
    paths["json"].write_text(json.dumps({"meta": meta, "rows": [asdict(r) for r in rows]}, indent=2) + "\n")
    paths["md"].write_text(to_markdown(rows, meta))
    plot(rows, meta, paths["png"])
    return paths


def below_floor(rows: list[Row], floor: float) -> list[Row]:
    """Rows that ran but whose AUC is under the floor (or could not be measured)."""
    return [r for r in rows if r.status == "ok" and (r.auc is None or r.auc < floor)]
