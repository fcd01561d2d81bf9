"""The options of each export step, one dataclass per kind of step.

The format table names which class a row's step reads (`Format.step_options`), and
`deepfake-edge export` generates its flags from these fields (`runtime.settings`), so an
export option is declared once, here: its default, its help, its flag and its check.
Values given for no chosen format are refused by `export.pipeline.check_options`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from deepfake_edge.runtime.backends.tensorrt import HARDWARE_COMPAT  # light: tensorrt is imported lazily
from deepfake_edge.runtime.errors import InputError
from deepfake_edge.runtime.settings import StepOptions, setting

DEFAULT_CALIB_IMAGES = 200
TRITON_INSTANCE_KINDS = ("auto", "cpu", "gpu")


@dataclass(frozen=True)
class Int8Options(StepOptions):
    """The option of both INT8 steps (ONNX QDQ and LiteRT full INT8)."""

    TITLE = "INT8 quantization (--formats onnx-int8, tflite-int8)"

    calib_images: int = setting(DEFAULT_CALIB_IMAGES, "INT8 calibration images from Train (balanced Real/Fake)",
                                metavar="N")

    def validate(self) -> "Int8Options":
        if self.calib_images < 1:
            raise InputError(f"--calib-images must be at least 1, got {self.calib_images}")
        return self


@dataclass(frozen=True)
class EngineOptions(StepOptions):
    """How the TensorRT engine is built: its optimisation profile and builder limits."""

    TITLE = "TensorRT engine (--formats engine)"

    min_batch: int = setting(1, "optimisation profile minimum batch", metavar="N")
    opt_batch: int = setting(1, "batch TensorRT tunes for (1: one face)", metavar="N")
    max_batch: int = setting(8, "optimisation profile maximum batch", metavar="N")
    workspace_mb: int = setting(1024, "builder workspace memory-pool limit in MB (fits a 4 GB RTX 3050 with the "
                                "app and the display)", metavar="N")
    opt_level: int = setting(3, "builder optimisation level 0..5 (TensorRT's default 3; 5 searches longer)",
                             metavar="N")
    hardware_compat: str = setting("none", "ampere_plus: the engine runs on any Ampere-or-newer GPU, not just "
                                   "this one (slower)", choices=HARDWARE_COMPAT)
    timing_cache: Path | None = setting(None, "TensorRT timing cache file, read and updated by every build "
                                        "(default: one per GPU and TensorRT version under ~/.cache/deepfake-edge)",
                                        metavar="PATH")

    def validate(self) -> "EngineOptions":
        if not 1 <= self.min_batch <= self.opt_batch <= self.max_batch:
            raise InputError(f"engine batch sizes must satisfy 1 <= min <= opt <= max, got "
                             f"{self.min_batch}/{self.opt_batch}/{self.max_batch}")
        if self.workspace_mb < 16:
            raise InputError(f"--workspace-mb must be at least 16, got {self.workspace_mb}")
        if not 0 <= self.opt_level <= 5:
            raise InputError(f"--opt-level must be 0..5, got {self.opt_level}")
        if self.hardware_compat not in HARDWARE_COMPAT:
            raise InputError(f"--hardware-compat must be one of {', '.join(HARDWARE_COMPAT)}, got {self.hardware_compat!r}")
        return self


@dataclass(frozen=True)
class TritonOptions(StepOptions):
    """The batching Triton applies in front of the model (`export --triton-*`)."""

    PREFIX = "triton_"
    TITLE = "Triton model repository (--formats triton)"

    max_batch: int = setting(32, "Triton max_batch_size for the ONNX model", metavar="N")
    queue_delay_us: int = setting(500, "dynamic batching: longest wait for a fuller batch, microseconds",
                                  metavar="US")
    instance_kind: str = setting("auto", "where Triton places the ONNX model's instances",
                                 choices=TRITON_INSTANCE_KINDS)
    instances: int = setting(1, "model instances", metavar="N")

    def validate(self) -> "TritonOptions":
        if self.max_batch < 1 or self.queue_delay_us < 0 or self.instances < 1:
            raise InputError(f"--triton-max-batch and --triton-instances must be >= 1 and --triton-queue-delay-us "
                             f">= 0 (got {self.max_batch}, {self.instances}, {self.queue_delay_us})")
        if self.instance_kind not in TRITON_INSTANCE_KINDS:
            raise InputError(f"--triton-instance-kind must be auto, cpu or gpu (got {self.instance_kind!r})")
        return self


@dataclass(frozen=True)
class WebOptions(StepOptions):
    """The in-browser bundle (`export --web-*`)."""

    PREFIX = "web_"
    TITLE = "In-browser bundle (--formats web; building it needs node and npm)"

    webgpu: bool = setting(True, "also ship ONNX Runtime Web's WebGPU build (+27 MB; used when the browser has "
                           "WebGPU; on by default)", negative="--no-web-webgpu", show_default=False,
                           negative_help="ship the WebAssembly build only (27 MB smaller)")
