"""Latency measurement: warm-up, timed runs for a minimum time and count, percentiles.

Used by the benchmarks and `deepfake-edge bench` so every number is measured the same
way; `machine_info` names the machine a result came from.
"""
from __future__ import annotations

import os
import platform
import time
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np


@dataclass(frozen=True)
class LatencyStats:
    """Summary of timed runs in milliseconds."""

    runs: int
    mean_ms: float
    std_ms: float
    min_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    fps: float  # 1000 / p50

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(samples_ms: Sequence[float]) -> LatencyStats:
    """Percentiles of a list of durations (ms); raises ValueError when empty."""
    a = np.asarray(samples_ms, dtype=np.float64)
    if a.size == 0:
        raise ValueError("no timing samples")
    p50, p95, p99 = np.percentile(a, [50, 95, 99])
    return LatencyStats(int(a.size), float(a.mean()), float(a.std()), float(a.min()), float(p50), float(p95),
                        float(p99), float(1000.0 / p50) if p50 > 0 else float("inf"))


def time_calls(fn: Callable[[], object], *, warmup: int = 3, min_runs: int = 20, min_seconds: float = 1.0,
               max_runs: int = 10_000) -> list[float]:
    """Call `fn` `warmup` times untimed, then until both `min_runs` and `min_seconds` are reached."""
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    start = time.perf_counter()
    while len(samples) < max_runs and (len(samples) < min_runs or time.perf_counter() - start < min_seconds):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000.0)
    return samples


def measure(fn: Callable[[], object], **kwargs) -> LatencyStats:
    """`summarize(time_calls(fn, **kwargs))`."""
    return summarize(time_calls(fn, **kwargs))


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    """CPU model, usable cores, OS and Python: printed beside every benchmark result."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return {
        "cpu": cpu_model(),
        "cores": cores,
        "os": f"{platform.system()} {platform.release()}",
        "machine": platform.machine(),
        "python": platform.python_version(),
    }


def machine_summary() -> str:
    """`machine_info` as the one line that result files print: CPU, cores, OS, Python."""
    m = machine_info()
    return f"{m['cpu']}, {m['cores']} cores, {m['os']} {m['machine']}, Python {m['python']}"


def nvidia_gpus() -> list[str]:
    """Names of the NVIDIA GPUs `nvidia-smi` lists here ([] without a driver or a GPU)."""
    import shutil
    import subprocess

    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()] if out.returncode == 0 else []
