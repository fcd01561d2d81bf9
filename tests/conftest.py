"""Shared fixtures: tiny generated datasets and one tiny trained run per session.

`tiny_run` is trained directly with Keras on generated data (not through
`deepfake-edge train`), so runtime, export and app tests do not depend on the
training pipeline they are not testing; the training pipeline has its own tests.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tests.datagen import load_split, make_kaggle_tree  # noqa: E402

TINY_SIZE = 32


def pytest_collection_modifyitems(config, items):
    """`gpu` tests run only where an NVIDIA GPU and TensorRT are really present."""
    from tests.gpu import gpu_skip_reason

    reason = gpu_skip_reason()
    if reason:
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """Kaggle-layout folder: 12 images per class per split, 48x48 PNG."""
    return make_kaggle_tree(tmp_path_factory.mktemp("tiny_data"), n_per_class=12, size=48, seed=0)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_data) -> Path:
    """A run folder with model.keras, model.h5 and contract.json of a trained tiny-cnn.

    Treat it as read-only; copy it (`run_copy`) to export into it.
    """
    import keras

    from deepfake_edge.runtime.contract import ModelContract
    from deepfake_edge.runtime.preprocess import normalize
    from deepfake_edge.train.models import build_model, get_arch

    keras.utils.set_random_seed(0)
    run = tmp_path_factory.mktemp("tiny_run")
    contract = ModelContract(input_size=TINY_SIZE, arch="tiny-cnn", normalization=get_arch("tiny-cnn").normalization)
    x, y = load_split(tiny_data, "Train", TINY_SIZE)
    xn = np.stack([normalize(im, contract) for im in x])
    model = build_model("tiny-cnn", input_size=TINY_SIZE)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="categorical_crossentropy")
    model.fit(xn, keras.utils.to_categorical(y, 2), epochs=40, batch_size=8, verbose=0)
    model.save(run / "model.keras")
    model.save(run / "model.h5")
    contract.save(run / "contract.json")
    return run


@pytest.fixture()
def run_copy(tiny_run, tmp_path) -> Path:
    """A writable copy of `tiny_run`."""
    dst = tmp_path / "run"
    shutil.copytree(tiny_run, dst)
    return dst
