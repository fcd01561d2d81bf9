"""The ONE table of model formats.

Export reads it to know what each format's step is and where its artifact goes; the
runtime reads it to pick a backend from a file name; verify, the app and the benchmarks
iterate over it. Adding a format means adding a row here, nothing else.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from deepfake_edge.runtime.errors import InputError, ModelFileError


@dataclass(frozen=True)
class Variant:
    """One way of running a format that `bench` measures as its own row (e.g. ONNX on CUDA)."""

    label: str  # appended to the format's name in the row label ("" -> the name alone)
    options: tuple[tuple[str, Any], ...] = ()  # BackendOptions fields for this row
    needs_provider: str | None = None  # an ONNX Runtime provider the installed build must list
    needs_gpu: bool = False  # only meaningful with an NVIDIA GPU present

    def row_label(self, fmt: "Format") -> str:
        return f"{fmt.name} {self.label}" if self.label else fmt.name


PLAIN = (Variant(""),)
_ORT_VARIANTS = (Variant("cpu", (("provider", "cpu"),)),
                 Variant("cuda", (("provider", "cuda"),), "CUDAExecutionProvider", needs_gpu=True),
                 Variant("tensorrt-ep", (("provider", "tensorrt"),), "TensorrtExecutionProvider", needs_gpu=True))
_ORT = ("provider", "threads")


@dataclass(frozen=True)
class Format:
    name: str  # the CLI name: `--formats onnx,onnx-int8`
    filename: str  # artifact name inside a run folder
    suffix: str  # the file-name ending that selects this format (longest match wins)
    backend: str | None  # "module:Class" of its runtime backend, imported lazily; None: served elsewhere
    exporter: str | None  # "module:function(run_dir, contract, **options) -> Path"
    precision: str  # fp32 | fp16 | int8: picks the parity tolerance in verify
    needs_gpu: bool = False
    extra: str | None = None  # pip extra its backend needs beyond the base install (runtime/extras.py)
    cpu_edge: bool = False  # part of the default CPU export set
    is_dir: bool = False  # the artifact is a folder (SavedModel)
    description: str = ""
    step_options: str | None = None  # "module:Class" of its export step's options (export/options.py)
    in_viewer: bool = False  # runs in the viewer's browser (the app links to it; its server never loads it)
    # "reference": the model every other row is compared with; "copy": another file name or
    # container for a row above (same backend, nothing new to verify or benchmark);
    # "artifact": an exported model of its own.
    role: str = "artifact"
    backend_options: tuple[str, ...] = ()  # BackendOptions fields its backend reads (others are refused)
    variants: tuple[Variant, ...] = PLAIN  # the rows `bench` measures it as

    @property
    def benchmarked(self) -> bool:
        """A row of its own in `bench`: it has a local backend and is not a copy of another row's runtime."""
        return self.backend is not None and self.role != "copy"

    @property
    def verified(self) -> bool:
        """Compared with the reference by `verify`: any file with a local backend except the reference."""
        return self.backend is not None and self.role != "reference"

    @property
    def options(self) -> tuple[str, ...]:
        """The export option names its step takes (`export --calib-images`, `--max-batch` ...),
        read from its options dataclass: adding a field there adds the option and its flag."""
        return self.load_step_options().option_names() if self.step_options else ()

    def load_step_options(self) -> type:
        module, _, cls = (self.step_options or "").partition(":")
        return getattr(importlib.import_module(module), cls)

    def load_backend_class(self) -> type:
        if self.backend is None:
            raise ModelFileError(f"format {self.name!r} has no local runtime: {self.description}")
        module, _, cls = self.backend.partition(":")
        return getattr(importlib.import_module(module), cls)

    def load_exporter(self) -> Callable:
        if self.exporter is None:
            raise InputError(f"format {self.name!r} is written by training, not exported")
        module, _, fn = self.exporter.partition(":")
        return getattr(importlib.import_module(module), fn)


_B = "deepfake_edge.runtime.backends"
_E = "deepfake_edge.export"
_INT8 = f"{_E}.options:Int8Options"
_TRITON = f"{_E}.options:TritonOptions"
_ENGINE = f"{_E}.options:EngineOptions"

FORMATS: tuple[Format, ...] = (
    Format("keras", "model.keras", ".keras", f"{_B}.keras:KerasBackend", f"{_E}.keras_copies:export_keras",
           "fp32", extra="train", description="Keras 3 native model (the reference)", role="reference",
           backend_options=("mode",),
           variants=(Variant("predict", (("mode", "predict"),)), Variant("tf.function", (("mode", "function"),)))),
    Format("h5", "model.h5", ".h5", f"{_B}.keras:KerasBackend", f"{_E}.keras_copies:export_h5",
           "fp32", extra="train", description="legacy HDF5, the seed project's format", role="copy",
           backend_options=("mode",)),
    Format("saved_model", "model_saved_model", "_saved_model", f"{_B}.saved_model:SavedModelBackend",
           f"{_E}.keras_copies:export_saved_model", "fp32", is_dir=True, extra="train",
           description="TensorFlow SavedModel for TF Serving"),
    Format("onnx", "model.onnx", ".onnx", f"{_B}.onnxruntime:OnnxRuntimeBackend", f"{_E}.onnx:export_onnx",
           "fp32", cpu_edge=True, description="ONNX opset 17, dynamic batch", backend_options=_ORT,
           variants=_ORT_VARIANTS),
    Format("onnx-fp16", "model.fp16.onnx", ".fp16.onnx", f"{_B}.onnxruntime:OnnxRuntimeBackend",
           f"{_E}.onnx:export_onnx_fp16", "fp16", description="ONNX with FP16 weights, FP32 I/O (TensorRT 11 input)",
           backend_options=_ORT, variants=_ORT_VARIANTS),
    Format("onnx-int8", "model.int8.onnx", ".int8.onnx", f"{_B}.onnxruntime:OnnxRuntimeBackend",
           f"{_E}.quantize:export_onnx_int8", "int8", cpu_edge=True,
           description="ONNX static INT8 (QDQ, per-channel)", step_options=_INT8, backend_options=_ORT,
           variants=_ORT_VARIANTS[:1]),
    Format("tflite", "model.tflite", ".tflite", f"{_B}.litert:LiteRTBackend", f"{_E}.litert:export_tflite",
           "fp32", cpu_edge=True, description="LiteRT FP32", backend_options=("threads",)),
    Format("tflite-fp16", "model.fp16.tflite", ".fp16.tflite", f"{_B}.litert:LiteRTBackend",
           f"{_E}.litert:export_tflite_fp16", "fp16", cpu_edge=True, description="LiteRT FP16 weights",
           backend_options=("threads",)),
    Format("tflite-int8", "model.int8.tflite", ".int8.tflite", f"{_B}.litert:LiteRTBackend",
           f"{_E}.litert:export_tflite_int8", "int8", description="LiteRT full INT8 (float I/O)", step_options=_INT8,
           backend_options=("threads",)),
    Format("engine", "model.engine", ".engine", f"{_B}.tensorrt:TensorRTBackend", f"{_E}.tensorrt:export_engine",
           "fp16", needs_gpu=True, extra="gpu", description="TensorRT FP16 engine (RTX 3050 profile)",
           step_options=_ENGINE),
    # A folder for a Triton Inference Server; no local backend: `verify` and `bench` skip it.
    Format("triton", "model_repository", "model_repository", None, f"{_E}.triton:export_triton", "fp32",
           is_dir=True, description="Triton model repository (ONNX, + the TensorRT engine when exported)",
           step_options=_TRITON),
    # The detector as a static page (ONNX Runtime Web + MediaPipe Tasks Vision, npm at build
    # time); its backend runs the page in headless Chromium, so verify and bench cover it.
    Format("web", "model_web", "_web", f"{_B}.browser:BrowserBackend", f"{_E}.web:export_web", "fp32",
           is_dir=True, extra="browser", description="in-browser bundle: the whole detector in the viewer's browser",
           step_options=f"{_E}.options:WebOptions", in_viewer=True, backend_options=("threads",)),
    Format("plan", "model.plan", ".plan", f"{_B}.tensorrt:TensorRTBackend", None,
           "fp16", needs_gpu=True, extra="gpu", description="TensorRT engine under its other common suffix",
           role="copy"),
)

BY_NAME: dict[str, Format] = {f.name: f for f in FORMATS}
REFERENCE: Format = next(f for f in FORMATS if f.role == "reference")  # what training writes, exports start from
DEFAULT_CPU_FORMATS: tuple[str, ...] = tuple(f.name for f in FORMATS if f.cpu_edge)


def get_format(name: str) -> Format:
    try:
        return BY_NAME[name]
    except KeyError:
        known = ", ".join(BY_NAME)
        raise InputError(f"unknown format {name!r}; known formats: {known}") from None


def parse_formats(text: str) -> list[Format]:
    """`"onnx,tflite"` -> [Format, Format]; `"cpu"` -> the default CPU edge set; `"all"` -> every exportable one."""
    names: list[str] = []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        if part == "cpu":
            names.extend(DEFAULT_CPU_FORMATS)
        elif part == "all":
            names.extend(f.name for f in FORMATS if f.exporter and f.name not in ("keras",))
        else:
            names.append(part)
    seen: dict[str, Format] = {}
    for n in names:
        seen.setdefault(n, get_format(n))
    return list(seen.values())


def format_for_path(path: str | Path) -> Format:
    """Pick the format from a file name: the longest matching suffix wins."""
    name = Path(path).name
    matches = [f for f in FORMATS if name.endswith(f.suffix)]
    if not matches:
        known = ", ".join(sorted({f.suffix for f in FORMATS}))
        raise ModelFileError(f"{path}: unknown model file type (known endings: {known})")
    return max(matches, key=lambda f: len(f.suffix))


def artifact_path(run_dir: str | Path, fmt: Format | str) -> Path:
    fmt = get_format(fmt) if isinstance(fmt, str) else fmt
    return Path(run_dir) / fmt.filename


def resolve_model_path(model: str | Path) -> Path:
    """A model file or folder artifact (SavedModel, web bundle), or a run folder (-> its best CPU
    artifact: ONNX if exported, else Keras)."""
    from deepfake_edge.runtime.io import is_folder

    p = Path(model)
    if is_folder(p) and not any(f.is_dir and p.name.endswith(f.suffix) for f in FORMATS):
        for name in ("onnx", "tflite", "keras"):
            candidate = artifact_path(p, name)
            if candidate.exists():
                return candidate
        raise ModelFileError(f"{p}: run folder holds no model (expected model.onnx, model.tflite or model.keras)")
    return p
