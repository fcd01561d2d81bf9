"""Runtime backends, one module per runtime, all behind `Backend`; picked by `open_backend`."""
from __future__ import annotations

from pathlib import Path

from deepfake_edge.runtime.backends.base import Backend
from deepfake_edge.runtime.backends.options import BackendOptions
from deepfake_edge.runtime.contract import ModelContract
from deepfake_edge.runtime.formats import format_for_path, resolve_model_path


def open_backend(model: str | Path, options: BackendOptions | None = None, *,
                 contract: ModelContract | None = None) -> Backend:
    """Open a model file (or a run folder's best CPU artifact) with the backend its format names.

    `options` are checked against the format's row first: an option this file's runtime
    would ignore (`--provider cuda` for a .tflite) is an InputError, not silently dropped.
    """
    path = resolve_model_path(model)
    fmt = format_for_path(path)
    from deepfake_edge.runtime.backends.base import _check_file

    _check_file(path)
    options = options or BackendOptions()
    options.check_for(fmt, path)
    if fmt.extra and fmt.extra != "gpu":  # GPU backends explain themselves (which of CUDA / TensorRT is absent)
        from deepfake_edge.runtime.errors import MissingExtraError, ModelRuntimeMissingError
        from deepfake_edge.runtime.extras import check_extra

        try:
            check_extra(fmt.extra, f"a {fmt.name} model")
        except MissingExtraError as exc:
            raise ModelRuntimeMissingError(path, exc) from None
    cls = fmt.load_backend_class()
    return cls(path, options, contract=contract)


__all__ = ["Backend", "BackendOptions", "open_backend"]
