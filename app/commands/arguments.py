"""CLI arguments several commands share, declared once (choices come from the runtime's tables)."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deepfake_edge.runtime.backends.options import BackendOptions

PROVIDER_CHOICES = ("auto", "cpu", "cuda", "tensorrt")  # "auto": TensorRT -> CUDA -> CPU, what is installed


def add_provider(parser: argparse.ArgumentParser, default: str = "auto", applies_to: str = "the model") -> None:
    """`--provider`: the ONNX Runtime execution provider for `applies_to` (aliases of
    runtime.backends.onnxruntime.PROVIDER_ALIASES, plus auto)."""
    from deepfake_edge.runtime.backends.onnxruntime import PROVIDER_ALIASES

    assert set(PROVIDER_CHOICES) - {"auto"} <= set(PROVIDER_ALIASES), "a provider choice without an alias"
    parser.add_argument("--provider", choices=PROVIDER_CHOICES, default=default,
                        help=f"ONNX Runtime execution provider for {applies_to} (default {default}; "
                             "auto: TensorRT -> CUDA -> CPU, whichever is installed)")


def backend_options(args: argparse.Namespace) -> "BackendOptions":
    """The typed runtime options of the shared flags a command declared (--provider, --threads)."""
    from deepfake_edge.runtime.backends.options import BackendOptions

    return BackendOptions.of(provider=getattr(args, "provider", None), threads=getattr(args, "threads", None))


def add_face_model(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--face-model", default=None, metavar="PATH",
                        help="MediaPipe face-detector .tflite (default: the one in the user cache)")


def add_threads(parser: argparse.ArgumentParser, per: str = "") -> None:
    parser.add_argument("--threads", type=int, default=None,
                        help=f"CPU threads for the model runtime{per} (default: the runtime's own)")


def add_detector_kind(parser: argparse.ArgumentParser, help_text: str) -> None:
    """`--detector`: MediaPipe's short- or full-range face detector (runtime.faces.DETECTOR_KINDS)."""
    from deepfake_edge.runtime.faces import DETECTOR_KINDS

    parser.add_argument("--detector", choices=DETECTOR_KINDS, help=help_text)


def add_setting_flags(parser: argparse.ArgumentParser, options_class, *, group: str | None = None,
                      prefix: str = "") -> list[str]:
    """One flag per field of `options_class` that declares a `runtime.settings.Flag`; returns the dests.

    `prefix` is prepended to each dest and default spelling (`triton_` -> `--triton-max-batch`).

    Every flag defaults to None ("not given"), so the command applies only what the user
    set (recipes and resumed runs keep their values). The help says the field's default.
    """
    from deepfake_edge.runtime.settings import flag_fields

    target = parser.add_argument_group(group) if group else parser
    dests = []
    for f, flag, kind in flag_fields(options_class):
        dest, spelling = prefix + f.name, flag.flag or "--" + (prefix + f.name).replace("_", "-")
        default = "" if not flag.show_default or f.default in (None, "") else f" (default {f.default})"
        if kind is bool:
            if flag.positive:
                target.add_argument(spelling, dest=dest, action="store_const", const=True,
                                    default=None, help=flag.help + default)
            if flag.negative:
                target.add_argument(flag.negative, dest=dest, action="store_const", const=False, default=None,
                                    help=flag.negative_help)
        else:
            target.add_argument(spelling, dest=dest, type=kind, default=None, metavar=flag.metavar,
                                choices=flag.choices, required=flag.required, help=flag.help + default)
        dests.append(dest)
    return dests
