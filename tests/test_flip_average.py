"""`--flip-average`: the saved model answers with the mean over the crop and its mirror image,
in Keras and in every exported format, and training records and calibrates it."""
from __future__ import annotations

import json

import numpy as np
import pytest

from deepfake_edge.runtime.contract import find_contract
from deepfake_edge.runtime.formats import artifact_path, get_format
from tests.benchmark_scripts import load_benchmark
from tests.export_helpers import copy_run, keras_fake_probs, labeled_crops
from tests.test_evaluate import cli_main

FORMATS = ["h5", "saved_model", "onnx", "onnx-fp16", "onnx-int8", "tflite", "tflite-fp16", "tflite-int8"]
PARITY = {"fp32": 1e-4, "fp16": 1e-2, "int8": 0.15}


def _mirrored(batch: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(batch[:, :, ::-1])


@pytest.fixture(scope="module")
def flip_run(tiny_run, tiny_data, tmp_path_factory):
    """tiny_run's network wrapped by `flip_averaged`, saved as the run's model, then exported."""
    from deepfake_edge.export.pipeline import export_run
    from deepfake_edge.runtime.layers import load_keras_model
    from deepfake_edge.train.models import flip_averaged

    run = copy_run(tiny_run, tmp_path_factory.mktemp("flip") / "run")
    wrapped = flip_averaged(load_keras_model(run / "model.keras"))
    for name in ("model.keras", "model.h5"):
        (run / name).unlink()
        wrapped.save(run / name)
    results = export_run(run, ",".join(FORMATS), data=tiny_data, calib_images=24)
    assert not {r.format: r.error for r in results if not r.ok}
    return run


def test_wrapped_model_is_the_mean_of_the_crop_and_its_mirror(tiny_run, flip_run, tiny_data):
    from deepfake_edge.runtime.backends import open_backend

    contract = find_contract(tiny_run / "model.keras")
    batch, _ = labeled_crops(tiny_data, contract)
    with open_backend(tiny_run / "model.keras") as plain:
        p, m = plain.predict(batch), plain.predict(_mirrored(batch))
    assert np.abs(p - m).max() > 1e-3  # the plain network does see left from right
    with open_backend(flip_run / "model.keras") as averaged:
        np.testing.assert_allclose(averaged.predict(batch), (p + m) / 2, atol=1e-6)
        assert averaged.model.count_params() == plain_params(tiny_run)  # shared weights, no copy


def plain_params(run):
    from deepfake_edge.runtime.layers import load_keras_model

    return load_keras_model(run / "model.keras").count_params()


@pytest.mark.parametrize("name", FORMATS)
def test_every_format_keeps_the_flip_average(flip_run, tiny_data, name):
    from deepfake_edge.runtime.backends import open_backend
    from deepfake_edge.runtime.preprocess import fake_probability

    path = artifact_path(flip_run, name)
    contract = find_contract(path)
    batch, _ = labeled_crops(tiny_data, contract)
    reference = keras_fake_probs(flip_run, batch, contract)
    tolerance = PARITY[get_format(name).precision]
    with open_backend(path) as backend:
        probs = fake_probability(backend.predict(batch), contract)
        mirrored = fake_probability(backend.predict(_mirrored(batch)), contract)
    assert np.abs(probs - reference).max() <= tolerance, name
    assert np.abs(probs - mirrored).max() <= tolerance, f"{name}: the answer changes with the mirror image"


def test_train_flip_average_saves_records_and_calibrates_the_wrapped_model(tiny_data, tmp_path, monkeypatch):
    from deepfake_edge.runtime.layers import HorizontalFlip, load_keras_model

    run = tmp_path / "run"
    args = ["train", "--data", str(tiny_data), "--out", str(run), "--arch", "tiny-cnn", "--img-size", "32",
            "--batch-size", "8", "--epochs", "1", "--flip-average"]
    assert cli_main(args, monkeypatch) == 0
    contract = json.loads((run / "contract.json").read_text())
    assert contract["training"]["flip_average"] is True
    assert json.loads((run / "train_config.json").read_text())["flip_average"] is True
    for name in ("model.keras", "model.h5"):
        model = load_keras_model(run / name)
        assert any(isinstance(layer, HorizontalFlip) for layer in model.layers), name
    # Calibration was fitted on the saved (wrapped) model's Validation answers.
    from deepfake_edge.runtime.backends import open_backend
    from deepfake_edge.runtime.contract import ModelContract
    from deepfake_edge.runtime.dataset import list_labeled_folder, load_preprocessed
    from deepfake_edge.train import calibrate as cal

    paths, labels = list_labeled_folder(tiny_data, "Validation")
    saved = ModelContract.load(run / "contract.json")
    batch, kept, _ = load_preprocessed(paths, saved)
    with open_backend(run / "model.keras") as backend:
        probs = backend.predict(batch)
    validation = contract["metrics"]["validation"]
    assert validation["nll_uncalibrated"] == pytest.approx(cal.nll(probs, labels[kept], 1.0), rel=1e-5)


def test_flip_benchmark_compares_the_same_weights_for_plain_and_wrapped_runs(tiny_run, flip_run, tiny_data,
                                                                             tmp_path):
    from deepfake_edge.runtime.backends import open_backend
    from deepfake_edge.runtime.contract import ModelContract
    from deepfake_edge.runtime.dataset import list_labeled_folder, load_preprocessed
    from deepfake_edge.runtime.metrics import roc_auc

    bench = load_benchmark("flip_average")
    plain_run, wrapped_run = bench.split_aucs(tiny_run, tiny_data), bench.split_aucs(flip_run, tiny_data)
    for split in bench.SPLITS:  # a wrapped run is unwrapped: both rows score the same two networks
        assert wrapped_run[split] == pytest.approx(plain_run[split], abs=1e-9)
    paths, labels = list_labeled_folder(tiny_data, "Test")
    contract = ModelContract.load(tiny_run / "contract.json")
    batch, kept, _ = load_preprocessed(paths, contract)
    with open_backend(tiny_run / "model.keras") as plain, open_backend(flip_run / "model.keras") as averaged:
        expected = (roc_auc(plain.predict(batch)[:, contract.fake_index], labels[kept]),
                    roc_auc(averaged.predict(batch)[:, contract.fake_index], labels[kept]))
    assert plain_run["Test"] == pytest.approx(expected, abs=1e-9)
    out = tmp_path / "flip.md"
    assert bench.main([str(tiny_run), str(flip_run), "--data", str(tiny_data), "--out", str(out)]) == 0
    text = out.read_text()
    assert "Machine:" in text and text.count("| tiny-cnn |") == 3  # one row per run, one per architecture
    summary = next(line for line in text.splitlines() if line.startswith("| tiny-cnn | 2 |")).split(" | ")
    plain, averaged = plain_run["Test"]
    assert summary[5:7] == [f"{plain:.4f}", f"{averaged:.4f}"]  # both runs score the same two networks
    assert float(summary[8]) > 0 and float(summary[9].rstrip(" |")) > 0  # both networks were timed


@pytest.mark.gpu
def test_tensorrt_engine_keeps_the_flip_average(flip_run, tiny_data, tmp_path):
    from deepfake_edge.export.tensorrt import export_engine
    from deepfake_edge.runtime.backends import open_backend
    from deepfake_edge.runtime.contract import ModelContract
    from deepfake_edge.runtime.preprocess import fake_probability

    contract = ModelContract.load(flip_run / "contract.json")
    engine = export_engine(flip_run, contract, data=tiny_data, max_batch=8, timing_cache=tmp_path / "cache")
    batch, _ = labeled_crops(tiny_data, contract)
    reference = keras_fake_probs(flip_run, batch, contract)
    with open_backend(engine) as backend:
        probs = fake_probability(backend.predict(batch), contract)
        mirrored = fake_probability(backend.predict(_mirrored(batch)), contract)
    assert np.abs(probs - reference).max() <= 1e-2  # FP16 engine
    assert np.abs(probs - mirrored).max() <= 1e-2
