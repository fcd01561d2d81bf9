"""Weight averaging (`train --ema`): validated, checkpointed and saved weights are the averages."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from tests.test_evaluate import cli_main
from tests.test_train import _train_args


def _weights(model):
    return [np.array(w) for w in model.get_weights()]


def test_checkpoint_sees_the_averages_and_the_backup_the_raw_weights():
    import keras

    from deepfake_edge.train import averaging

    class Snapshot(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.model_weights, self.averages = [], []

        def on_epoch_end(self, epoch, logs=None):
            self.model_weights.append(_weights(self.model))
            opt = self.model.optimizer
            self.averages.append([np.array(v) for v in opt._model_variables_moving_average])

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.normal(size=(64, 1)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, use_bias=False)])
    model.compile(optimizer=keras.optimizers.Adam(0.1, **averaging.optimizer_options(0.9)), loss="mse")
    ema_in, ema_out = averaging.callbacks(0.9)
    at_checkpoint, at_backup = Snapshot(), Snapshot()
    history = model.fit(x, y, validation_data=(x, y), epochs=3, batch_size=8, verbose=0, shuffle=False,
                        callbacks=[*ema_in, at_checkpoint, *ema_out, at_backup])

    for epoch in range(3):
        averaged, raw = at_checkpoint.model_weights[epoch][0], at_backup.model_weights[epoch][0]
        assert not np.allclose(averaged, raw, atol=1e-4)  # lr 0.1: the average trails the last step
        np.testing.assert_array_equal(averaged, at_backup.averages[epoch][0])  # swapped, not copied
        np.testing.assert_array_equal(raw, at_checkpoint.averages[epoch][0])
        val_loss = float(np.mean((x @ averaged - y) ** 2))
        assert history.history["val_loss"][epoch] == pytest.approx(val_loss, rel=1e-4)  # validated = averaged
    np.testing.assert_allclose(_weights(model)[0], at_backup.averages[-1][0], rtol=1e-6)  # fit ends on averages


def test_the_backup_a_resume_loads_holds_raw_weights_and_their_averages(tmp_path):
    """What BackupAndRestore writes after an epoch: the model's raw weights and the optimizer's averages."""
    import keras

    from deepfake_edge.train import averaging

    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)

    def compiled():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, use_bias=False)])
        model.compile(optimizer=keras.optimizers.Adam(0.1, **averaging.optimizer_options(0.9)), loss="mse")
        return model

    class Last(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.raw = _weights(self.model)[0]
            self.average = np.array(self.model.optimizer._model_variables_moving_average[0])

    keras.utils.set_random_seed(1)
    model, ema_in, ema_out, last = compiled(), *averaging.callbacks(0.9), Last()
    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"), delete_checkpoint=False)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[*ema_in, *ema_out, last, backup])
    assert not np.allclose(last.raw, last.average, atol=1e-4)

    resumed = compiled()
    resumed.optimizer.build(resumed.trainable_variables)
    resumed.load_weights(tmp_path / "backup" / "latest.weights.h5")  # what BackupAndRestore does on resume
    np.testing.assert_allclose(_weights(resumed)[0], last.raw, rtol=1e-6)
    np.testing.assert_allclose(np.array(resumed.optimizer._model_variables_moving_average[0]), last.average,
                               rtol=1e-6)


def test_no_averaging_adds_nothing():
    from deepfake_edge.train import averaging

    assert averaging.optimizer_options(0.0) == {}
    assert averaging.callbacks(0.0) == ([], [])


def test_train_with_ema_saves_the_weights_its_best_validation_row_measured(tiny_data, tmp_path, monkeypatch):
    import keras

    from deepfake_edge.runtime.contract import ModelContract
    from deepfake_edge.train.data import load_split

    run = tmp_path / "run"
    assert cli_main(_train_args(tiny_data, run, "--epochs", "4", "--ema", "0.9"), monkeypatch) == 0
    contract = json.loads((run / "contract.json").read_text())
    assert contract["training"]["ema"] == 0.9
    with (run / "history.csv").open() as f:
        rows = list(csv.DictReader(f))
    best = rows[contract["training"]["best_epoch"] - 1]

    model = keras.models.load_model(run / "model.keras", compile=False)
    model.compile(loss="categorical_crossentropy", metrics=[keras.metrics.AUC(name="auc")])
    val = load_split(tiny_data, "Validation", ModelContract.load(run / "contract.json"), batch_size=8, train=False)
    loss, auc = model.evaluate(val.dataset, verbose=0)
    assert loss == pytest.approx(float(best["val_loss"]), rel=1e-4)
    assert auc == pytest.approx(float(best["val_auc"]), abs=1e-4)


def test_ema_outside_zero_to_one_is_one_line(tiny_data, tmp_path, monkeypatch, capsys):
    assert cli_main(_train_args(tiny_data, tmp_path / "run", "--ema", "1.5"), monkeypatch) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--ema must be a momentum in [0, 1)" in err
