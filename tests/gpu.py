"""What this machine really has for the `gpu` tests, as a skip reason (None = run them)."""
from __future__ import annotations

import functools
import shutil
import subprocess


@functools.lru_cache(maxsize=1)
def gpu_skip_reason() -> str | None:
    if shutil.which("nvidia-smi") is None:
        return "no NVIDIA GPU: nvidia-smi not found"
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "no NVIDIA GPU: nvidia-smi failed"
    if "GPU" not in out:
        return "no NVIDIA GPU listed by nvidia-smi"
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return "TensorRT is not installed (pip install 'deepfake-edge[gpu]')"
    return None
