"""ONNX -> TensorRT FP16 engine, tuned for a small GPU (an RTX 3050 laptop part, 4 GB).

Thin on purpose, so each call can be checked against TensorRT's documented Python API:
- TensorRT 10: parse the FP32 `model.onnx`, set `BuilderFlag.FP16`.
- TensorRT 11 (no `BuilderFlag.FP16`: networks are strongly typed): parse
  `model.fp16.onnx` (FP16 weights, FP32 I/O) into a STRONGLY_TYPED network.
- One optimisation profile, batch min/opt/max = 1/1/8 by default (one face is the
  common case); a workspace memory-pool limit (1 GiB default) that fits a 4 GB card;
  `builder_optimization_level`; optional `AMPERE_PLUS` hardware compatibility; a
  timing cache read before and written after every build so rebuilds are fast.
- The sidecar `model.engine.json` = {"contract": ..., "build": {GPU name, compute
  capability, TensorRT version, profile, ...}}; the runtime backend refuses an engine
  whose build does not match the machine.
"""
from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import asdict
from pathlib import Path

from deepfake_edge.export.common import (
    artifact_contract,
    check_against_keras,
    check_inputs,
    checked,
    keras_reference,
    load_keras,
    staged,
    write_text_atomic,
    target,
)
from deepfake_edge.export.onnx import fp32_onnx
from deepfake_edge.export.options import EngineOptions
from deepfake_edge.runtime.backends.tensorrt import gpu_identity, import_tensorrt
from deepfake_edge.runtime.contract import ModelContract, sidecar_path
from deepfake_edge.runtime.errors import InputError, ModelFileError

log = logging.getLogger(__name__)


def default_timing_cache(gpu_name: str, trt_version: str) -> Path:
    """A timing cache per GPU model and TensorRT version, under the user's cache folder."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "deepfake-edge"
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", f"{gpu_name}-trt{trt_version}").strip("-")
    return root / f"tensorrt-{slug}.timing-cache"


def is_strongly_typed_release(trt) -> bool:
    """TensorRT 11 removed `BuilderFlag.FP16`: precision comes from the ONNX types instead."""
    return not hasattr(trt.BuilderFlag, "FP16")


def build_engine(trt, onnx_path: Path, engine_path: Path, opts: EngineOptions, *, strongly_typed: bool,
                 timing_cache: Path) -> None:
    """Parse `onnx_path`, build a serialized FP16 engine, write it to `engine_path`."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if strongly_typed else 0
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelFileError(f"{onnx_path}: TensorRT cannot parse the ONNX model ({errors[:300]})")

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, opts.workspace_mb << 20)
    config.builder_optimization_level = opts.opt_level
    if not strongly_typed:
        config.set_flag(trt.BuilderFlag.FP16)
    if opts.hardware_compat == "ampere_plus":
        config.hardware_compatibility_level = trt.HardwareCompatibilityLevel.AMPERE_PLUS

    inp = network.get_input(0)
    per_image = tuple(inp.shape)[1:]  # (H, W, 3)
    profile = builder.create_optimization_profile()
    profile.set_shape(inp.name, (opts.min_batch, *per_image), (opts.opt_batch, *per_image),
                      (opts.max_batch, *per_image))
    config.add_optimization_profile(profile)

    cache = config.create_timing_cache(timing_cache.read_bytes() if timing_cache.is_file() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)

    log.info("building TensorRT engine from %s (%s, batch %d/%d/%d, workspace %d MB, opt level %d)",
             onnx_path.name, "strongly typed" if strongly_typed else "FP16 flag", opts.min_batch,
             opts.opt_batch, opts.max_batch, opts.workspace_mb, opts.opt_level)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ModelFileError(f"{onnx_path}: TensorRT failed to build an engine (see the TensorRT log above)")
    with staged(engine_path) as tmp:
        tmp.write_bytes(bytes(serialized))

    timing_cache.parent.mkdir(parents=True, exist_ok=True)
    partial = timing_cache.with_name(timing_cache.name + ".partial")
    partial.write_bytes(bytes(config.get_timing_cache().serialize()))
    partial.replace(timing_cache)


def export_engine(run_dir: Path, contract: ModelContract, *, data: Path | None = None, **options) -> Path:
    """ONNX -> model.engine (FP16) with the sidecar {"contract", "build"}; checked against Keras."""
    opts = EngineOptions.from_options(options)
    trt, cudart = import_tensorrt("Building a TensorRT engine")
    gpu = gpu_identity(cudart)
    run_dir = Path(run_dir)
    strongly_typed = is_strongly_typed_release(trt)
    if strongly_typed:
        from deepfake_edge.export.onnx import export_onnx_fp16

        source = target(run_dir, "onnx-fp16")
        if not source.is_file():
            export_onnx_fp16(run_dir, contract, data=data)
    else:
        source = fp32_onnx(run_dir, contract, data)
    cache = opts.timing_cache or default_timing_cache(gpu["gpu_name"], trt.__version__)
    final = target(run_dir, "engine")
    build_engine(trt, source, final, opts, strongly_typed=strongly_typed, timing_cache=cache)

    build = {
        **gpu,
        "tensorrt_version": trt.__version__,
        "precision": "fp16",
        "strongly_typed": strongly_typed,
        "source": source.name,
        **{k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(opts).items()},
        "timing_cache": str(cache),
    }
    stamped = artifact_contract(contract, "engine", tensorrt=trt.__version__, gpu=gpu["gpu_name"])
    side = sidecar_path(final)
    write_text_atomic(side, json.dumps({"contract": stamped.to_dict(), "build": build}, indent=2, sort_keys=True) + "\n")

    def check() -> None:
        batch = check_inputs(contract, data)
        check_against_keras(final, stamped, keras_reference(load_keras(run_dir), batch), batch)

    checked(final, check)  # a failed check removes the engine and its sidecar
    return final
