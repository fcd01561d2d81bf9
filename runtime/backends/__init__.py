"""Runtime backends, one module per runtime, all behind `Backend`; picked by `open_backend`."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from deepfake_edge.runtime.backends.base import Backend
from deepfake_edge.runtime.contract import ModelContract
from deepfake_edge.runtime.formats import format_for_path, resolve_model_path


def open_backend(model: str | Path, contract: ModelContract | None = None, **options: Any) -> Backend:
    """Open a model file (or a run folder's best CPU artifact) with the backend its format names."""
    path = resolve_model_path(model)
    fmt = format_for_path(path)
    from deepfake_edge.runtime.backends.base import _check_file

    _check_file(path)
    if fmt.extra and fmt.extra != "gpu":  # GPU backends explain themselves (which of CUDA / TensorRT is absent)
        from deepfake_edge.runtime.errors import MissingExtraError, ModelRuntimeMissingError
        from deepfake_edge.runtime.extras import check_extra

        try:
            check_extra(fmt.extra, f"a {fmt.name} model")
        except MissingExtraError as exc:
            raise ModelRuntimeMissingError(path, exc) from None
    cls = fmt.load_backend_class()
    return cls(path, contract=contract, **options)


__all__ = ["Backend", "open_backend"]
