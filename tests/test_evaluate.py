"""Metrics against hand-computed values, calibration fitting, and `deepfake-edge evaluate` end to end."""
from __future__ import annotations

import importlib.util
import json
import shutil

import numpy as np
import pytest

from deepfake_edge.train import calibrate as cal

# labels: 0 = Fake, 1 = Real (contract order)
LABELS = np.array([0, 0, 0, 1, 1, 1])
P_FAKE = np.array([0.95, 0.85, 0.25, 0.65, 0.15, 0.05])


def cli_main(argv, monkeypatch):
    """`deepfake-edge ...` in-process; skips subcommand modules other engineers have not written yet."""
    from deepfake_edge.app import cli

    present = tuple(c for c in cli.COMMANDS if importlib.util.find_spec(cli._module_name(c)) is not None)
    monkeypatch.setattr(cli, "COMMANDS", present)
    return cli.main([str(a) for a in argv])


def test_metrics_match_hand_computation():
    m = cal.classification_metrics(P_FAKE, LABELS, threshold=0.5)
    # predicted: Fake Fake Real | Fake Real Real
    assert m["confusion_matrix"] == [[2, 1], [1, 2]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["precision"] == pytest.approx({"Fake": 2 / 3, "Real": 2 / 3})
    assert m["recall"] == pytest.approx({"Fake": 2 / 3, "Real": 2 / 3})
    assert m["f1"]["Fake"] == pytest.approx(2 / 3)
    assert m["auc"] == pytest.approx(8 / 9)  # 8 of the 9 (fake, real) pairs ordered right
    # confidences .95 .85 .75 .65 .85 .95; the .75 and .65 ones are wrong:
    # (2*.05 + 2*.15 + .75 + .65) / 6
    assert m["ece"] == pytest.approx(0.3)
    assert m["threshold"] == 0.5 and m["n"] == 6


def test_threshold_changes_the_counts():
    m = cal.classification_metrics(P_FAKE, LABELS, threshold=0.2)
    assert m["confusion_matrix"] == [[3, 0], [1, 2]]
    assert m["recall"]["Fake"] == 1.0 and m["precision"]["Fake"] == pytest.approx(3 / 4)


def test_fit_threshold_maximises_youden_j_and_prefers_0_5_on_ties():
    labels = np.array([0, 0, 0, 1, 1, 1])
    low = np.array([0.35, 0.30, 0.28, 0.10, 0.05, 0.20])  # separable only below 0.28
    t = cal.fit_threshold(low, labels)
    assert 0.20 < t <= 0.28
    assert cal.classification_metrics(low, labels, t)["accuracy"] == 1.0
    assert cal.classification_metrics(low, labels, 0.5)["accuracy"] == 0.5
    assert cal.fit_threshold(np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.1]), labels) == 0.5


def test_fit_temperature_recovers_overconfidence():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 1.5, 4000)
    labels = (rng.random(4000) < 1 / (1 + np.exp(-z))).astype(int)  # P(Real) = sigmoid(z)
    over = 3.0 * z  # the model is 3x too confident
    probs = np.stack([1 / (1 + np.exp(over)), 1 / (1 + np.exp(-over))], axis=1)
    t = cal.fit_temperature(probs, labels)
    assert t == pytest.approx(3.0, rel=0.12)
    assert cal.nll(probs, labels, t) < cal.nll(probs, labels, 1.0)
    p_before = probs[:, 0]
    p_after = cal.scaled_probs(probs, t)[:, 0]
    assert cal.expected_calibration_error(p_after, labels) < cal.expected_calibration_error(p_before, labels) / 2


def test_scaled_probs_matches_the_runtime():
    from deepfake_edge.runtime.contract import ModelContract
    from deepfake_edge.runtime.preprocess import fake_probability

    probs = np.array([[0.9, 0.1], [0.3, 0.7], [0.5, 0.5]])
    np.testing.assert_allclose(cal.scaled_probs(probs, 2.5)[:, 0],
                               fake_probability(probs, ModelContract(temperature=2.5)), atol=1e-12)


def test_evaluate_cli_writes_metrics_that_match_the_runtime(run_copy, tiny_data, monkeypatch):
    from deepfake_edge.runtime.backends import open_backend
    from deepfake_edge.runtime.contract import ModelContract
    from deepfake_edge.runtime.dataset import list_split, load_preprocessed

    assert cli_main(["evaluate", run_copy, "--data", tiny_data, "--split", "Test"], monkeypatch) == 0
    m = json.loads((run_copy / "eval" / "metrics.json").read_text())
    for key in ("accuracy", "auc", "precision", "recall", "f1", "confusion_matrix", "threshold", "ece"):
        assert key in m
    assert (run_copy / "eval" / "roc.png").stat().st_size > 5000
    assert (run_copy / "eval" / "confusion_matrix.png").stat().st_size > 3000
    paths, labels = list_split(tiny_data, "Test")
    contract = ModelContract.load(run_copy / "contract.json")
    with open_backend(run_copy / "model.keras") as backend:
        p_fake = backend.predict(load_preprocessed(paths, contract)[0])[:, 0]
    pred = np.where(p_fake >= contract.threshold, 0, 1)
    assert m["n"] == 24
    assert m["accuracy"] == pytest.approx((pred == labels).mean())
    assert np.sum(m["confusion_matrix"]) == 24
    assert m["accuracy"] >= 0.75  # the fixture model separates this data


def test_calibrate_then_cross_dataset_folder_with_a_bad_file(run_copy, tiny_data, tmp_path, monkeypatch):
    assert cli_main(["evaluate", run_copy, "--data", tiny_data, "--calibrate", "--split", "Validation"],
                    monkeypatch) == 0
    contract = json.loads((run_copy / "contract.json").read_text())
    assert contract["metrics"]["validation"]["n"] == 24
    assert 0 < contract["temperature"] and 0 <= contract["threshold"] <= 1
    assert "Youden" in contract["metrics"]["calibration"]["threshold_rule"]

    other = tmp_path / "other_dataset"  # not the Kaggle layout: just real/ and FAKE/
    shutil.copytree(tiny_data / "Test" / "Real", other / "real")
    shutil.copytree(tiny_data / "Test" / "Fake", other / "FAKE")
    (other / "real" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    out = tmp_path / "cross"
    assert cli_main(["evaluate", run_copy, "--data", other, "--out", out], monkeypatch) == 0
    m = json.loads((out / "metrics.json").read_text())
    assert m["n"] == 24 and m["skipped"] == 1 and "broken.png" in m["skipped_files"][0]
    assert m["threshold"] == pytest.approx(contract["threshold"])


def test_robustness_report(run_copy, tiny_data, monkeypatch):
    assert cli_main(["evaluate", run_copy, "--data", tiny_data, "--robustness", "--max-per-class", "4"],
                    monkeypatch) == 0
    rows = json.loads((run_copy / "eval" / "robustness.json").read_text())
    assert len(rows) == 1 + 6 * 5
    assert {r["corruption"] for r in rows} == {"clean", "jpeg", "blur", "noise", "downscale", "color_shift",
                                               "grayscale"}
    assert all(r["n"] == 8 and 0 <= r["accuracy"] <= 1 for r in rows)
    clean = json.loads((run_copy / "eval" / "metrics.json").read_text())
    assert rows[0]["accuracy"] == pytest.approx(clean["accuracy"])
    md = (run_copy / "eval" / "robustness.md").read_text()
    assert "| jpeg |" in md and "sev 5" in md
    assert (run_copy / "eval" / "robustness.png").stat().st_size > 10000


def test_evaluate_errors_are_one_line(tmp_path, tiny_data, monkeypatch, capsys):
    assert cli_main(["evaluate", tmp_path, "--data", tiny_data], monkeypatch) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no model.keras" in err


@pytest.mark.parametrize("only", ["Fake", "Real"])
def test_evaluate_a_one_class_folder_reports_recall_or_false_positives(tiny_run, tiny_data, tmp_path, monkeypatch,
                                                                        capsys, only):
    """A folder of known fakes (or reals) is scored at the calibrated threshold; AUC is absent, with the reason."""
    from deepfake_edge.runtime.backends import open_backend
    from deepfake_edge.runtime.dataset import load_preprocessed
    from deepfake_edge.runtime.preprocess import fake_probability

    folder = tmp_path / "known"
    shutil.copytree(tiny_data / "Test" / only, folder / only)
    out = tmp_path / "eval"
    assert cli_main(["evaluate", tiny_run, "--data", folder, "--out", out], monkeypatch) == 0
    m = json.loads((out / "metrics.json").read_text())
    paths = sorted((folder / only).iterdir())
    with open_backend(tiny_run / "model.keras") as backend:
        batch, _, _ = load_preprocessed(paths, backend.contract)
        flagged = float(np.mean(fake_probability(backend.predict(batch), backend.contract) >= backend.contract.threshold))
    key = "recall_fake" if only == "Fake" else "false_positive_rate"
    assert m["one_class"] == only and m["n"] == len(paths) and m["auc"] is None
    assert m[key] == pytest.approx(flagged) and f"only {only}" in m["auc_note"]
    assert not (out / "roc.png").exists() and (out / "confusion_matrix.png").is_file()
    printed = capsys.readouterr().out
    assert f"only {only} images" in printed and f"{flagged:.4f}" in printed


def test_evaluate_that_fails_leaves_no_output_folder(tiny_run, tmp_path, monkeypatch, capsys):
    empty = tmp_path / "data" / "Fake"
    empty.mkdir(parents=True)
    out = tmp_path / "eval"
    assert cli_main(["evaluate", tiny_run, "--data", tmp_path / "data", "--out", out], monkeypatch) == 2
    err = capsys.readouterr().err.strip()
    assert "holds no images" in err and "\n" not in err
    assert not out.exists()
