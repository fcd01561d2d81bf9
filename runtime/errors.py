"""Errors a user can act on.

Every failure caused by input (a file, a folder, a flag) is one of these, carrying a
single line that names the thing and what is wrong. The CLI prints that line and exits
non-zero instead of a traceback.
"""
from __future__ import annotations


class DeepfakeEdgeError(Exception):
    """Base class: a problem the user can fix, described in one line."""


class InputError(DeepfakeEdgeError):
    """An input file or folder is missing, unreadable or malformed."""


class ModelFileError(DeepfakeEdgeError):
    """A model file is missing, truncated, of an unknown kind, or disagrees with its contract."""


class ContractError(DeepfakeEdgeError):
    """A model contract is missing, invalid, or disagrees with the model."""


class MissingExtraError(DeepfakeEdgeError):
    """An optional package is not installed; the message names the pip extra providing it."""

    def __init__(self, package: str, extra: str | None, purpose: str):
        hint = (
            f"pip install 'deepfake-edge[{extra}]'" if extra else f"pip install {package}"
        )
        super().__init__(f"{purpose} needs the '{package}' package, which is not installed: {hint}")
        self.package = package
        self.extra = extra


class ModelRuntimeMissingError(MissingExtraError, ModelFileError):
    """A model file cannot be opened because its runtime's optional package is missing.

    Both kinds at once: a MissingExtraError (install the extra, or skip this artifact)
    and a ModelFileError naming the file that cannot be opened here.
    """

    def __init__(self, path, missing: MissingExtraError):
        DeepfakeEdgeError.__init__(self, f"{path}: {missing}")
        self.package = missing.package
        self.extra = missing.extra
        self.path = path


class MissingToolError(MissingExtraError):
    """A program outside Python (npm for building the web bundle, Chromium for running it)
    is absent. A MissingExtraError, so `verify` and `bench` report what needs it as skipped;
    the message says what to install."""

    def __init__(self, message: str):
        DeepfakeEdgeError.__init__(self, message)
        self.package = None
        self.extra = None


class NoGpuError(DeepfakeEdgeError):
    """This machine has no usable CUDA GPU, which the requested step needs."""


class FaceModelError(DeepfakeEdgeError):
    """The MediaPipe face-detector model file cannot be found or loaded."""


def require(module: str, *, package: str | None = None, extra: str | None = None, purpose: str = "This step"):
    """Import an optional module lazily, or raise MissingExtraError naming the pip extra.

    `extra` defaults to the one runtime/extras.py's table names for the module.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        from deepfake_edge.runtime.extras import extra_for_module

        raise MissingExtraError(package or module.split(".")[0], extra or extra_for_module(module), purpose) from exc
