"""The model contract, the preprocessing path and the format table."""
from __future__ import annotations

import json

import numpy as np
import pytest

from deepfake_edge.runtime.contract import ModelContract, Normalization, find_contract, sidecar_path
from deepfake_edge.runtime.errors import ContractError, InputError, ModelFileError
from deepfake_edge.runtime.formats import FORMATS, format_for_path, parse_formats, resolve_model_path
from deepfake_edge.runtime.preprocess import fake_probability, labels_for, preprocess, preprocess_batch


def test_contract_round_trips_through_json(tmp_path):
    c = ModelContract(input_size=64, threshold=0.4, temperature=1.7, arch="edge-net",
                      normalization=Normalization(scale=(2.0, 2.0, 2.0), offset=(-1.0, -1.0, -1.0)))
    path = c.save(tmp_path / "contract.json")
    back = ModelContract.load(path)
    assert back == c
    assert back.fake_index == 0 and back.class_names == ("Fake", "Real")


@pytest.mark.parametrize("change, message", [
    ({"class_names": ["Cat", "Dog"]}, "class_names"),
    ({"class_names": ["Real", "Fake"]}, "index 0 = Fake"),
    ({"threshold": 1.5}, "threshold"),
    ({"color_order": "HSV"}, "color_order"),
    ({"temperature": 0}, "temperature"),
])
def test_invalid_contract_is_one_clear_line(tmp_path, change, message):
    data = ModelContract().to_dict() | change
    p = tmp_path / "contract.json"
    p.write_text(json.dumps(data))
    with pytest.raises(ContractError, match=message) as err:
        ModelContract.load(p)
    assert str(p) in str(err.value) and "\n" not in str(err.value)


def test_class_order_is_one_definition():
    from deepfake_edge.runtime import contract, dataset

    assert dataset.CLASS_NAMES is contract.CLASS_NAMES == ("Fake", "Real")
    assert ModelContract().fake_index == 0
    with pytest.raises(ContractError, match=r"exactly \['Fake', 'Real'\]"):
        ModelContract(class_names=("Real", "Fake")).validate()


def test_contract_lookup_prefers_sidecar_then_run_folder(tmp_path):
    model = tmp_path / "model.tflite"
    model.write_bytes(b"x")
    with pytest.raises(ContractError, match="no model contract"):
        find_contract(model)
    ModelContract(input_size=64).save(tmp_path / "contract.json")
    assert find_contract(model).input_size == 64
    sidecar_path(model).write_text(ModelContract(input_size=96).to_json())
    assert find_contract(model).input_size == 96


def test_corrupt_sidecar_is_one_line_naming_the_file(tmp_path):
    model = tmp_path / "model.tflite"
    model.write_bytes(b"x")
    ModelContract(input_size=64).save(tmp_path / "contract.json")
    side = sidecar_path(model)
    side.write_text('{"input_size": 64,\n  "class_names": [\n')  # truncated by a crash
    with pytest.raises(ContractError, match="not valid JSON") as err:
        find_contract(model)
    assert str(side) in str(err.value) and "\n" not in str(err.value)


def test_preprocess_scales_and_orders_channels():
    crop = np.zeros((10, 20, 3), np.uint8)
    crop[..., 0] = 255  # pure red in RGB
    rgb = preprocess(crop, ModelContract(input_size=16))
    assert rgb.shape == (16, 16, 3) and rgb.dtype == np.float32
    np.testing.assert_allclose(rgb[..., 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(rgb[..., 1:], 0.0, atol=1e-6)
    bgr = preprocess(crop, ModelContract(input_size=16, color_order="BGR",
                                         normalization=Normalization((1.0,) * 3, (-128.0,) * 3)))
    np.testing.assert_allclose(bgr[..., 2], 127.0)
    np.testing.assert_allclose(bgr[..., 0], -128.0)
    assert preprocess_batch([], ModelContract(input_size=16)).shape == (0, 16, 16, 3)


def test_fake_probability_uses_class_order_and_temperature():
    probs = np.array([[0.9, 0.1], [0.2, 0.8]])
    c = ModelContract()
    np.testing.assert_allclose(fake_probability(probs, c), [0.9, 0.2])
    soft = fake_probability(probs, c.with_(temperature=2.0))
    # T=2 pulls towards 0.5 but keeps the order: sqrt(.9)/(sqrt(.9)+sqrt(.1)) = 0.75
    np.testing.assert_allclose(soft[0], 0.75, atol=1e-9)
    assert labels_for(np.array([0.5, 0.49]), c.threshold) == ["Fake", "Real"]
    assert labels_for(np.array([0.5, 0.49]), c.with_(threshold=0.45).threshold) == ["Fake", "Fake"]


def test_format_table_picks_longest_suffix_and_rejects_unknown(tmp_path):
    assert format_for_path("a/model.int8.onnx").name == "onnx-int8"
    assert format_for_path("mine.onnx").name == "onnx"
    assert format_for_path("x.fp16.tflite").name == "tflite-fp16"
    assert format_for_path("x.plan").name == "plan"
    with pytest.raises(ModelFileError, match="unknown model file type"):
        format_for_path("model.pt")
    assert [f.name for f in parse_formats("onnx,cpu")][:1] == ["onnx"]
    with pytest.raises(InputError, match="unknown format"):
        parse_formats("onnx,coreml")
    assert len({f.filename for f in FORMATS}) == len(FORMATS)
    assert all(f.filename.startswith("model") for f in FORMATS)
    with pytest.raises(ModelFileError, match="holds no model"):
        resolve_model_path(tmp_path)


@pytest.mark.parametrize("change, message", [
    ({"input_size": "96"}, "input_size must be a whole number"),
    ({"input_size": True}, "input_size must be a whole number"),
    ({"threshold": 1.5}, "threshold must be a number in 0..1"),
    ({"temperature": 0}, "temperature must be a positive number"),
    ({"normalization": {"scale": [1, 1], "offset": [0, 0, 0]}}, "normalization.scale must be 3 finite numbers"),
    ({"normalization": {"scale": [0, 1, 1], "offset": [0, 0, 0]}}, "normalization.scale must not hold 0"),
    ({"crop_rule": {"margin": -1}}, "crop_rule.margin must be a number in 0..2"),
    ({"version": 99}, "version 99 was written by a newer deepfake-edge"),
    ({"class_names": "FakeReal"}, "class_names must be a list"),
])
def test_a_contract_field_of_the_wrong_type_or_range_is_refused_at_load(tmp_path, change, message):
    from deepfake_edge.runtime.errors import ContractError

    data = {**ModelContract(input_size=64).to_dict(), **change}
    path = tmp_path / "contract.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ContractError) as err:
        ModelContract.load(path)
    assert str(err.value).startswith(str(path)) and message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("missing", ["input_size", "normalization"])
def test_a_contract_without_a_field_that_has_no_safe_default_is_refused(tmp_path, missing):
    from deepfake_edge.runtime.errors import ContractError

    data = ModelContract(input_size=64).to_dict()
    del data[missing]
    path = tmp_path / "contract.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ContractError, match=f"missing field\\(s\\) {missing}, which have no safe default"):
        ModelContract.load(path)
