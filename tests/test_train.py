"""`deepfake-edge train` end to end on tiny data: run folder, contract, refusal, kill + resume."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.test_evaluate import cli_main

REPO = Path(__file__).resolve().parents[1]


def _train_args(data, out, *extra):
    return ["train", "--data", data, "--out", out, "--arch", "tiny-cnn", "--img-size", "32", "--batch-size", "8",
            "--lr", "0.003", "--seed", "1", *extra]


def _history(run):
    with (run / "history.csv").open() as f:
        return list(csv.DictReader(f))


def test_train_writes_a_complete_run_and_refuses_to_overwrite(tiny_data, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    assert cli_main(_train_args(tiny_data, run, "--epochs", "3"), monkeypatch) == 0
    for name in ("model.keras", "model.h5", "contract.json", "history.csv", "training_curves.png", "train_config.json"):
        assert (run / name).is_file() and (run / name).stat().st_size > 0, name
    assert any((run / "logs").rglob("*")), "TensorBoard logs missing"
    assert not (run / "backup").exists()
    c = json.loads((run / "contract.json").read_text())
    assert c["arch"] == "tiny-cnn" and c["input_size"] == 32 and c["class_names"] == ["Fake", "Real"]
    assert c["normalization"]["scale"] == [1 / 255] * 3
    assert c["training"]["images"]["Train"] == {"Fake": 12, "Real": 12}
    assert c["training"]["class_index"] == {"Fake": 0, "Real": 1}
    assert c["training"]["epochs_run"] == 3 and c["training"]["skipped_files"] == 0
    from dataclasses import fields

    from deepfake_edge.train.config import TrainConfig
    from deepfake_edge.train.fit import NOT_COPIED, RENAMED

    recorded = {RENAMED.get(f.name, f.name) for f in fields(TrainConfig) if f.name not in NOT_COPIED}
    assert recorded <= set(c["training"])  # every setting is in the record without being listed by hand
    assert c["training"]["label_smoothing"] == 0.0 and c["training"]["img_size"] == 32
    crops, hits = c["training"]["crop_cache"].split(", ")[0], int(c["training"]["crop_cache"].split(", ")[-1].split()[0])
    assert crops == "48 crops" and hits >= 96  # every Train + Validation image decoded once, epochs 2-3 cached
    assert 0 <= c["threshold"] <= 1 and c["temperature"] > 0
    assert c["metrics"]["validation"]["n"] == 24
    assert [int(r["epoch"]) for r in _history(run)] == [0, 1, 2]

    from deepfake_edge.runtime.backends import open_backend

    with open_backend(run) as backend:  # the runtime opens the run folder as trained
        out = backend.predict(np.zeros((2, 32, 32, 3), np.float32))
    assert out.shape == (2, 2) and np.allclose(out.sum(1), 1, atol=1e-4)

    # Calibration ran on the Validation batches already in memory: the same fit as
    # `calibrate` re-reading Validation from disk through the runtime gives the same numbers.
    from deepfake_edge.train.evaluate import calibrate_run

    import shutil

    shutil.copytree(run, tmp_path / "recal")
    again = calibrate_run(tmp_path / "recal", tiny_data)
    assert again.temperature == pytest.approx(c["temperature"], rel=1e-3)
    assert again.threshold == pytest.approx(c["threshold"], abs=1e-3)
    assert again.metrics["validation"]["auc"] == pytest.approx(c["metrics"]["validation"]["auc"], abs=1e-6)

    mtime = (run / "model.keras").stat().st_mtime_ns
    capsys.readouterr()
    assert cli_main(_train_args(tiny_data, run, "--epochs", "1"), monkeypatch) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "already holds a trained model" in err and "--resume" in err
    assert (run / "model.keras").stat().st_mtime_ns == mtime


def test_unknown_arch_and_bad_data_are_one_line(tiny_data, tmp_path, monkeypatch, capsys):
    assert cli_main(_train_args(tiny_data, tmp_path / "r1", "--arch", "resnet9000"), monkeypatch) == 2
    assert "unknown architecture 'resnet9000'" in capsys.readouterr().err
    assert cli_main(_train_args(tmp_path / "nowhere", tmp_path / "r2"), monkeypatch) == 2
    assert "data folder not found" in capsys.readouterr().err


def test_killed_run_resumes_from_its_last_finished_epoch(tiny_data, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    args = [str(a) for a in _train_args(tiny_data, run, "--epochs", "12", "--batch-size", "2")]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen([sys.executable, "-m", "deepfake_edge.app.cli", *args], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    meta = run / "backup" / "training_metadata.json"
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            try:
                if json.loads(meta.read_text())["epoch"] >= 1:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.02)
        assert proc.poll() is None, "training finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    killed_at = json.loads(meta.read_text())["epoch"]
    assert 1 <= killed_at < 12 and not (run / "model.keras").exists()
    before = _history(run)[:killed_at]

    capsys.readouterr()  # without --resume the interrupted run is protected
    assert cli_main(args, monkeypatch) == 2
    assert "interrupted run" in capsys.readouterr().err

    assert cli_main([*args, "--resume"], monkeypatch) == 0
    rows = _history(run)
    epochs = [int(r["epoch"]) for r in rows]
    assert epochs == list(range(len(epochs))), f"epochs must continue without gaps or repeats: {epochs}"
    assert len(epochs) > killed_at
    assert rows[:killed_at] == before  # the finished epochs were kept, not retrained
    assert (run / "model.keras").is_file() and not (run / "backup").exists()
    c = json.loads((run / "contract.json").read_text())
    assert c["arch"] == "tiny-cnn" and c["training"]["epochs_run"] == len(epochs)


def test_resume_with_a_damaged_train_config_is_one_line_naming_it(tiny_data, tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "train_config.json").write_text('{"arch": "tiny-cnn", "img_si')  # cut off by a crash
    assert cli_main(_train_args(tiny_data, run, "--epochs", "1", "--resume"), monkeypatch) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "train_config.json" in err and "cannot read" in err


def test_atomic_replace_keeps_the_old_file_when_the_write_fails(tmp_path):
    from deepfake_edge.runtime.io import replace_atomically as _replace_atomically

    target = tmp_path / "history.csv"
    target.write_text("epoch\n0\n")

    def crash(tmp):
        tmp.write_text("epo")
        raise RuntimeError("killed mid-write")

    try:
        _replace_atomically(target, crash)
    except RuntimeError:
        pass
    assert target.read_text() == "epoch\n0\n" and sorted(p.name for p in tmp_path.iterdir()) == ["history.csv"]
    _replace_atomically(target, lambda tmp: tmp.write_text("epoch\n0\n1\n"))
    assert target.read_text() == "epoch\n0\n1\n" and sorted(p.name for p in tmp_path.iterdir()) == ["history.csv"]
