"""What this machine really has for the `gpu` tests, as a skip reason (None = run them)."""
from __future__ import annotations

import functools

from deepfake_edge.runtime.profile import nvidia_gpus


@functools.lru_cache(maxsize=1)
def gpu_skip_reason() -> str | None:
    if not nvidia_gpus():
        return "no NVIDIA GPU: nvidia-smi is missing or lists none"
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return "TensorRT is not installed (pip install 'deepfake-edge[gpu]')"
    return None
