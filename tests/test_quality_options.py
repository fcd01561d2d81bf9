"""Quality options of `deepfake-edge train`: --time-budget, --sbi / --sbi-ratio, the schedule, edge-net."""
from __future__ import annotations

import argparse
import csv
import json
import math
import shutil

import numpy as np
import pytest

from deepfake_edge.runtime.contract import ModelContract
from deepfake_edge.runtime.errors import InputError
from tests.benchmark_scripts import load_benchmark
from tests.test_evaluate import cli_main

SIZE = 32


def _train_args(data, out, *extra):
    return ["train", "--data", data, "--out", out, "--arch", "tiny-cnn", "--img-size", SIZE, "--batch-size", "8",
            "--lr", "0.003", "--seed", "1", *extra]


def _epochs_in_history(run):
    with (run / "history.csv").open() as f:
        return [int(r["epoch"]) for r in csv.DictReader(f)]


def _assert_complete_and_calibrated(run):
    for name in ("model.keras", "model.h5", "contract.json", "history.csv", "training_curves.png"):
        assert (run / name).is_file() and (run / name).stat().st_size > 0, name
    assert not (run / "backup").exists()
    c = json.loads((run / "contract.json").read_text())
    assert "calibration" in c["metrics"] and c["metrics"]["validation"]["n"] == 24
    assert c["temperature"] > 0 and 0 <= c["threshold"] <= 1
    return c


# -- time budget ------------------------------------------------------------------------------

def test_time_budget_stops_after_the_crossing_epoch_and_still_calibrates(tiny_data, tmp_path, monkeypatch):
    run = tmp_path / "run"
    # 0.001 min = 0.06 s: the first epoch alone crosses it, so exactly one epoch of 20 runs.
    assert cli_main(_train_args(tiny_data, run, "--epochs", "20", "--time-budget", "0.001"), monkeypatch) == 0
    c = _assert_complete_and_calibrated(run)
    assert _epochs_in_history(run) == [0]
    t = c["training"]
    assert t["epochs_run"] == 1 and t["stopped_by_time_budget"] is True and t["time_budget_min"] == 0.001
    assert t["cpu_seconds_this_session"] > 0 and t["seconds_this_session"] > 0


def test_a_budget_that_is_not_reached_changes_nothing(tiny_data, tmp_path, monkeypatch):
    run = tmp_path / "run"
    assert cli_main(_train_args(tiny_data, run, "--epochs", "2", "--time-budget", "30"), monkeypatch) == 0
    c = _assert_complete_and_calibrated(run)
    assert _epochs_in_history(run) == [0, 1] and c["training"]["stopped_by_time_budget"] is False


def test_time_budget_callback_stops_on_the_epoch_that_crosses(monkeypatch):
    from deepfake_edge.train.schedule import TimeBudget

    now = [0.0]
    cb = TimeBudget(25.0, clock=lambda: now[0])

    class Model:
        stop_training = False

    cb.set_model(Model())
    cb.on_train_begin()
    for epoch in range(10):
        now[0] += 10.0  # each epoch takes 10 s: 10, 20, 30 -> the third epoch crosses 25 s
        cb.on_epoch_end(epoch)
        if cb.model.stop_training:
            break
    assert cb.stopped and cb.stopped_epoch == 2
    with pytest.raises(ValueError):
        TimeBudget(0)


def test_cosine_anneal_follows_the_budget_from_lr_to_its_floor():
    from deepfake_edge.train.schedule import CosineAnneal

    now = [0.0]
    cb = CosineAnneal(1e-2, epochs=100, seconds=100.0, final_fraction=0.02, clock=lambda: now[0])
    cb.set_params({"steps": 10})
    cb.on_train_begin()
    assert cb.rate(cb.progress(0, 0)) == pytest.approx(1e-2)
    now[0] = 50.0  # time is further along (50%) than the epochs (1%): time wins
    assert cb.progress(1, 0) == pytest.approx(0.5)
    assert cb.rate(0.5) == pytest.approx(2e-4 + (1e-2 - 2e-4) * 0.5)
    now[0] = 500.0
    assert cb.progress(2, 0) == 1.0 and cb.rate(1.0) == pytest.approx(2e-4)
    rates = [cb.rate(p) for p in np.linspace(0, 1, 11)]
    assert all(a > b for a, b in zip(rates, rates[1:]))  # strictly decreasing


def test_cosine_schedule_trains_and_records_its_learning_rate(tiny_data, tmp_path, monkeypatch):
    run = tmp_path / "run"
    assert cli_main(_train_args(tiny_data, run, "--epochs", "3", "--schedule", "cosine",
                                "--label-smoothing", "0.1", "--weight-decay", "1e-4"), monkeypatch) == 0
    c = _assert_complete_and_calibrated(run)
    assert c["training"]["schedule"] == "cosine" and c["training"]["label_smoothing"] == 0.1
    with (run / "history.csv").open() as f:
        lrs = [float(r["learning_rate"]) for r in csv.DictReader(f)]
    assert lrs[0] == pytest.approx(0.003) and lrs[-1] < 0.001 and all(a > b for a, b in zip(lrs, lrs[1:])), lrs


# -- self-blended fakes ----------------------------------------------------------------------

def _contract():
    from deepfake_edge.train.models import get_arch

    return ModelContract(input_size=SIZE, arch="tiny-cnn", normalization=get_arch("tiny-cnn").normalization)


def test_sbi_example_is_a_changed_copy_of_the_real_face(tiny_data):
    from deepfake_edge.runtime.dataset import list_split
    from deepfake_edge.train.data import SelfBlend, load_example

    paths, labels = list_split(tiny_data, "Train")
    real = str(paths[int(np.flatnonzero(labels == 1)[0])])
    plain, ok1, _ = load_example(real, 1, 7, _contract(), train=False)
    sbi, ok2, _ = load_example(real, 0, 7, _contract(), train=False, blend=SelfBlend())
    again, _, _ = load_example(real, 0, 7, _contract(), train=False, blend=SelfBlend())
    assert ok1 and ok2
    np.testing.assert_array_equal(sbi, again)  # seeded
    diff = np.abs(sbi - plain).mean(-1)
    assert diff.mean() > 0.005  # the blend changed the face ...
    assert diff[SIZE // 2 - 4:SIZE // 2 + 4, SIZE // 2 - 4:SIZE // 2 + 4].mean() > diff[:3, :3].mean()  # ... inside the mask


@pytest.mark.parametrize("ratio", [0.25, 1.0])
def test_sbi_mixture_keeps_classes_balanced_and_the_asked_share(tiny_data, ratio):
    import tensorflow as tf

    from deepfake_edge.runtime.dataset import list_split
    from deepfake_edge.train.data import _sbi_mixture

    paths, labels = list_split(tiny_data, "Train")
    reals = {str(p) for p, y in zip(paths, labels) if y == 1}
    ds = _sbi_mixture(tf, [str(p) for p in paths], labels, _contract(), ratio, seed=3)
    n = 4000
    items = [(p.decode(), int(y), bool(s)) for p, y, s in ds.take(n).as_numpy_iterator()]
    fakes = [it for it in items if it[1] == 0]
    sbi = [it for it in fakes if it[2]]
    assert abs(len(fakes) / n - 0.5) < 0.03
    assert abs(len(sbi) / len(fakes) - ratio) < 0.04
    assert all(p in reals for p, _, _ in sbi)  # SBI fakes come from Train's reals only
    assert all(p in reals for p, y, s in items if y == 1 and not s)
    assert not any(s and y == 1 for _, y, s in items)


def test_train_from_real_faces_alone(tiny_data, tmp_path, monkeypatch):
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    shutil.rmtree(data / "Train" / "Fake")  # no labelled fakes at all in Train
    run = tmp_path / "run"
    assert cli_main(_train_args(data, run, "--epochs", "2", "--sbi-ratio", "1"), monkeypatch) == 0
    c = _assert_complete_and_calibrated(run)
    assert c["training"]["sbi_ratio"] == 1.0
    assert c["training"]["images"]["Train"]["Fake"] == 0 and c["training"]["images"]["Train"]["Real"] == 12
    assert json.loads((run / "train_config.json").read_text())["sbi_ratio"] == 1.0


def test_sbi_flag_means_half_of_the_fakes(tiny_data, tmp_path, monkeypatch):
    run = tmp_path / "run"
    assert cli_main(_train_args(tiny_data, run, "--epochs", "1", "--sbi"), monkeypatch) == 0
    assert json.loads((run / "contract.json").read_text())["training"]["sbi_ratio"] == 0.5


@pytest.mark.parametrize("extra, message", [
    (("--sbi-ratio", "1.5"), "--sbi-ratio must be between 0 and 1"),
    (("--time-budget", "0"), "--time-budget must be a positive number"),
    (("--label-smoothing", "0.7"), "--label-smoothing"),
])
def test_bad_recipe_values_are_one_line_errors(tiny_data, tmp_path, monkeypatch, capsys, extra, message):
    run = tmp_path / "run"
    assert cli_main(_train_args(tiny_data, run, "--epochs", "1", *extra), monkeypatch) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err
    assert not (run / "model.keras").exists()


def test_mixing_needs_labelled_fakes(tiny_data, tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    shutil.rmtree(data / "Train" / "Fake")
    assert cli_main(_train_args(data, tmp_path / "run", "--epochs", "1", "--sbi-ratio", "0.5"), monkeypatch) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Fake" in err


# -- edge-net ---------------------------------------------------------------------------------

def test_edge_net_puts_batchnorm_right_after_every_convolution():
    import keras

    from deepfake_edge.train.models import build_model

    model = build_model("edge-net", input_size=64)
    convs = [l for l in model.layers if isinstance(l, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))]
    assert len(convs) >= 10
    for conv in convs:
        assert not conv.use_bias, conv.name  # the BN's shift replaces the bias, so BN folds into the conv
        users = [n.operation for n in conv._outbound_nodes]
        assert len(users) == 1 and isinstance(users[0], keras.layers.BatchNormalization), conv.name
    assert model.output_shape == (None, 2)
    assert 50_000 < model.count_params() < 1_000_000


def test_edge_net_width_scales_the_network():
    from deepfake_edge.train.models import build_model

    narrow = build_model("edge-net", input_size=64, width=0.5).count_params()
    wide = build_model("edge-net", input_size=64, width=1.0).count_params()
    assert narrow < 0.5 * wide
    assert math.isfinite(narrow)


# -- the quality benchmark's report -----------------------------------------------------------

def test_a_study_s_epochs_win_over_the_recipe_s_own():
    """data_scaling's equal-steps rows set epochs per size; the edge recipe's epochs=12 must not override them."""
    from deepfake_edge.train.recipes import recipe

    q = load_benchmark("quality")
    assert q.recipe_settings(recipe("edge"), None, epochs=5, seed=2)["epochs"] == 5
    assert q.recipe_settings(recipe("edge"), None)["epochs"] == recipe("edge")["epochs"] == 12
    assert q.recipe_settings({"arch": "edge-net"}, 30.0)["epochs"] == 200  # budget-limited recipes


def test_quality_report_summarises_robustness_and_names_machine_and_command():
    q = load_benchmark("quality")
    rows = [{"corruption": "clean", "severity": 0, "auc": 0.8}] + [
        {"corruption": "jpeg", "severity": s, "auc": 0.8 - 0.05 * s} for s in (1, 2, 3, 4, 5)]
    summary = q._robustness_summary(rows)
    assert summary == {"jpeg": {"auc_sev3": pytest.approx(0.65), "auc_mean": pytest.approx(0.65)}}
    result = {"recipe": {"arch": "edge-net", "img_size": 96, "lr": 0.002}, "arch": "edge-net", "input_size": 96,
              "params": 1234, "test_auc": 0.7, "epochs_run": 5, "best_epoch": 4, "robustness": summary}
    meta = {"machine": {"cpu": "Test CPU", "cores": 2, "os": "Linux"}, "data": "d", "budget_min": 3,
            "command": "python benchmarks/quality.py --budget 3", "date": "today", "total_wall_s": 60}
    md = q.to_markdown({"edge": result}, meta, [], notes="## Notes\n\nWritten by hand.\n")
    assert md.rstrip().endswith("## Notes\n\nWritten by hand.")
    assert "Test CPU, 2 cores" in md and "`python benchmarks/quality.py --budget 3`" in md
    assert "| Test AUC | 0.700 |" in md and "| jpeg | 0.650 (0.650) |" in md and "| parameters | 1,234 |" in md


def test_quality_report_with_several_seeds_compares_the_mean_auc():
    q = load_benchmark("quality")
    per_seed = {"seed": [{"test_auc": 0.60, "test_accuracy": 0.55}, {"test_auc": 0.64, "test_accuracy": 0.61}],
                "edge": [{"test_auc": 0.70, "test_accuracy": 0.66}, {"test_auc": 0.76, "test_accuracy": 0.70}]}
    summaries = {n: q.seed_summary(p) for n, p in per_seed.items()}
    assert summaries["seed"]["test_auc_mean"] == pytest.approx(0.62)
    assert summaries["edge"]["test_auc_spread"] == pytest.approx(0.06)
    assert summaries["edge"]["test_accuracy_mean"] == pytest.approx(0.68)
    assert q.seed_summary(per_seed["seed"][:1])["test_auc_spread"] is None
    results = {n: {"recipe": {"arch": n}, "arch": n, "test_auc": per_seed[n][0]["test_auc"], "epochs_run": 3,
                   "best_epoch": 3, "robustness": {}, "latency_b1_ms_p50": 1.0, "per_seed": per_seed[n],
                   **summaries[n]} for n in per_seed}
    meta = {"machine": {"cpu": "Test CPU", "cores": 2, "os": "Linux"}, "data": "d", "budget_min": 3, "seeds": [42, 7],
            "command": "python benchmarks/quality.py --seeds 42,7", "date": "today", "total_wall_s": 60,
            "edge_minus_seed_test_auc": 0.11, "edge_latency_fraction": 0.5}
    md = q.to_markdown(results, meta, [])
    assert "Test AUC +0.110 (mean over training seeds 42, 7)" in md
    assert "| Test AUC per seed | 0.600 / 0.640 | 0.700 / 0.760 |" in md
    assert "| Test AUC mean (spread) | 0.620 (0.040) | 0.730 (0.060) |" in md
    assert q.run_dir("edge", 7, first=False).name == "dfdc-edge-s7" and q.run_dir("edge", 42, first=True).name == "dfdc-edge"


def test_quality_benchmark_trains_each_recipe_in_its_own_process_with_the_recipe_settings(tiny_data, tmp_path):
    q = load_benchmark("quality")
    out = tmp_path / "run"
    (out / "stale").mkdir(parents=True)  # a fresh run replaces what a previous one left
    recipe = {"arch": "tiny-cnn", "img_size": 32, "batch_size": 8, "lr": 3e-3, "groups": "none"}
    assert q.train_recipe(recipe, tiny_data, out, None, epochs=2, seed=5) == out
    assert not (out / "stale").exists()
    config = json.loads((out / "train_config.json").read_text())
    assert (config["arch"], config["img_size"], config["epochs"], config["seed"]) == ("tiny-cnn", 32, 2, 5)
    assert json.loads((out / "contract.json").read_text())["training"]["epochs_run"] == 2
    with pytest.raises(RuntimeError, match="training tiny-cnn into .* failed"):
        q.train_recipe({**recipe, "img_size": -1}, tiny_data, tmp_path / "bad", None, epochs=1)


def test_edge_net_fused_blocks_replace_the_leading_depthwise_blocks():
    import keras

    from deepfake_edge.train.models import build_model

    model = build_model("edge-net", input_size=64, fused_blocks=3)
    names = [l.name for l in model.layers]
    assert {"s0b0_fused_conv", "s1b0_fused_conv", "s1b1_fused_conv"} <= set(names)
    assert "s2b0_fused_conv" not in names and "s2b0_dw" in names  # the fourth block keeps its depthwise conv
    assert not any(n.startswith(("s0b0_dw", "s1b0_dw", "s1b1_dw")) for n in names)
    for conv in (l for l in model.layers if isinstance(l, keras.layers.Conv2D)):
        assert [type(n.operation) for n in conv._outbound_nodes] == [keras.layers.BatchNormalization], conv.name
    assert model.count_params() > build_model("edge-net", input_size=64, fused_blocks=0).count_params()
    assert "s1b1_dw" in [l.name for l in build_model("edge-net", input_size=64, fused_blocks=0).layers]


def test_edge_net_squeeze_excite_sits_in_the_depthwise_blocks_and_survives_onnx_export():
    """SE rescales channels inside MBConv blocks only; the ONNX export computes the same probabilities."""
    from deepfake_edge.export.onnx import _run_onnx, keras_to_onnx
    from deepfake_edge.train.models import build_model

    model = build_model("edge-net", input_size=32, fused_blocks=5, se_ratio=0.25)
    names = {l.name for l in model.layers}
    depthwise_blocks = {n[: -len("_dw")] for n in names if n.endswith("_dw")}
    assert depthwise_blocks == {"s3b0", "s3b1", "s4b0", "s5b0"}
    assert {f"{b}_se" for b in depthwise_blocks} <= names
    assert not any(n.endswith("_se") and n[: -len("_se")] not in depthwise_blocks for n in names)
    assert model.get_layer("s3b0_se_reduce").filters == 8  # max(8, 32 input channels x 0.25)
    assert model.get_layer("s4b0_se_reduce").filters == 16  # 64 input channels x 0.25
    assert model.count_params() > build_model("edge-net", input_size=32).count_params()
    assert not any(n.endswith("_se") for n in (l.name for l in build_model("edge-net", input_size=32).layers))

    batch = np.random.default_rng(0).random((3, 32, 32, 3), dtype=np.float32)
    proto = keras_to_onnx(model, ModelContract(input_size=32, arch="edge-net"))
    np.testing.assert_allclose(_run_onnx(proto, batch), model(batch, training=False).numpy(), atol=1e-5)


def test_edge_net_avgmax_head_keeps_each_channels_peak_and_exports():
    """"avgmax" pools each channel's mean and its peak; the ONNX export computes the same probabilities."""
    import keras

    from deepfake_edge.export.onnx import _run_onnx, keras_to_onnx
    from deepfake_edge.train.models import build_model

    model = build_model("edge-net", input_size=32, pool="avgmax")
    pooled = model.get_layer("gap_gmp")
    assert pooled.output.shape[-1] == 2 * model.get_layer("gap").output.shape[-1]
    assert model.get_layer("probs").kernel.shape == (2 * 256, 2)
    probe = keras.Model(model.input, [model.get_layer("gap").input, pooled.output])
    batch = np.random.default_rng(0).random((3, 32, 32, 3), dtype=np.float32)
    features, pooled_values = (t.numpy() for t in probe(batch, training=False))
    np.testing.assert_allclose(pooled_values[:, :256], features.mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pooled_values[:, 256:], features.max(axis=(1, 2)), rtol=1e-6)

    proto = keras_to_onnx(model, ModelContract(input_size=32, arch="edge-net"))
    np.testing.assert_allclose(_run_onnx(proto, batch), model(batch, training=False).numpy(), atol=1e-5)
    with pytest.raises(InputError, match="unknown pool 'median'"):
        build_model("edge-net", input_size=32, pool="median")


def _config(argv, tmp_path=None):
    """The TrainConfig `deepfake-edge train ARGV` would train (no training)."""
    import argparse

    from deepfake_edge.app.commands import train as train_command

    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    out = str(tmp_path / "o") if tmp_path is not None else "o"
    return train_command.config_of(parser.parse_args(["--data", "d", "--out", out, *argv]))


def test_train_command_passes_edge_net_options_only_when_given():
    assert _config([]).model_options is None  # the architecture's own defaults
    assert _config(["--width", "0.5", "--fused-blocks", "0"]).model_options == {"width": 0.5, "fused_blocks": 0}


def test_reuse_recognises_a_finished_run_only_with_the_same_settings(tmp_path):
    q = load_benchmark("quality")
    recipe = {"arch": "edge-net", "img_size": 96, "lr": 0.004, "groups": "auto"}
    settings = q.recipe_settings(recipe, 10.0, seed=7)
    assert settings == {"epochs": 200, "seed": 7, "cache_mb": 1024.0, **recipe, "time_budget": 10.0}
    run = tmp_path / "run"
    run.mkdir()
    (run / "train_config.json").write_text(json.dumps({**settings, "data_dir": "d", "model_options": None}))
    assert not q.finished_with(run, settings)  # no contract: the training never finished
    (run / "contract.json").write_text("{}")
    assert q.finished_with(run, settings)
    assert not q.finished_with(run, q.recipe_settings(recipe, 10.0, seed=42))
    assert not q.finished_with(run, q.recipe_settings({**recipe, "lr": 0.002}, 10.0, seed=7))
    assert not q.finished_with(run, q.recipe_settings(recipe, 5.0, seed=7))
    before_cache = {k: v for k, v in settings.items() if k != "cache_mb"}  # trained before the crop cache
    (run / "train_config.json").write_text(json.dumps({**before_cache, "data_dir": "d"}))
    assert not q.finished_with(run, settings)
    assert not q.finished_with(tmp_path / "missing", settings)


def test_recipe_fills_unset_train_options_and_explicit_ones_win():
    import argparse

    from deepfake_edge.app.commands import train as train_command
    from deepfake_edge.train.recipes import RECIPES, recipe

    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    base = ["--data", "d", "--out", "o"]
    edge = _config(["--recipe", "edge-net"])
    assert (edge.arch, edge.img_size, edge.lr, edge.schedule, edge.label_smoothing, edge.groups) == (
        "edge-net", 96, 0.004, "cosine", 0.1, "auto")
    mine = _config(["--recipe", "edge-net", "--lr", "0.002", "--img-size", "128"])
    assert (mine.arch, mine.img_size, mine.lr) == ("edge-net", 128, 0.002)
    plain = _config([])
    assert (plain.arch, plain.lr) == ("seed-cnn", 1e-3)  # no recipe: TrainConfig's defaults
    assert edge.model_options == {"width": 0.75}  # edge-net options travel with the recipe
    assert _config(["--recipe", "edge-net", "--fused-blocks", "0"]).model_options == {"width": 0.75, "fused_blocks": 0}
    assert _config(["--recipe", "edge-net", "--width", "1.0"]).model_options == {"width": 1.0}
    other = _config(["--recipe", "edge-net", "--arch", "tiny-cnn"])
    assert other.lr == 0.004 and other.model_options is None  # not edge-net's width
    with pytest.raises(SystemExit):
        parser.parse_args([*base, "--recipe", "fastest"])
    with pytest.raises(InputError, match="unknown recipe 'fastest'; choose one of: seed, edge, edge-net"):
        recipe("fastest")
    recipe("edge-net")["lr"] = 1.0  # a copy: the table stays as measured
    assert RECIPES["edge-net"]["lr"] == 0.004
    q = load_benchmark("quality")  # its "edge" row is the from-scratch edge-net it measured
    assert q.RECIPES["edge"] == RECIPES["edge-net"] and q.RECIPES["seed"] == {**RECIPES["seed"], "img_size": 64}


def test_the_edge_default_is_the_measured_imagenet_network_and_its_former_name_still_works():
    from deepfake_edge.train.recipes import recipe

    edge = _config(["--recipe", "edge"])
    assert (edge.arch, edge.pretrained, edge.img_size, edge.epochs, edge.model_options) == (
        "mobilenet-v2", True, 64, 12, {"blocks": 14})
    assert _config(["--recipe", "edge-imagenet-lite"]) == edge  # commands recorded in benchmarks/results
    assert recipe("edge-imagenet-lite") == recipe("edge")
    assert _config(["--recipe", "edge", "--no-pretrained"]).pretrained is False


def test_train_with_the_edge_recipe_records_its_settings(tiny_data, tmp_path, monkeypatch):
    run = tmp_path / "run"
    args = ["train", "--data", str(tiny_data), "--out", str(run), "--recipe", "edge-net", "--arch", "tiny-cnn",
            "--img-size", "32", "--batch-size", "8", "--epochs", "1"]
    assert cli_main(args, monkeypatch) == 0
    config = json.loads((run / "train_config.json").read_text())
    assert (config["arch"], config["img_size"], config["batch_size"]) == ("tiny-cnn", 32, 8)  # explicit
    assert (config["lr"], config["schedule"], config["label_smoothing"], config["groups"]) == (0.004, "cosine", 0.1, "auto")


def test_resume_continues_the_saved_settings_and_a_recipe_does_not_override_them(tmp_path):
    """--resume keeps what the run was started with; only settings given explicitly change it."""
    from deepfake_edge.train.config import TrainConfig, to_json

    out = tmp_path / "o"
    out.mkdir()
    started = TrainConfig(data_dir="d", arch="edge-net", img_size=96, lr=0.001, epochs=30, label_smoothing=0.0,
                          model_options={"width": 0.5})
    (out / "train_config.json").write_text(to_json(started))
    resumed = _config(["--resume", "--recipe", "edge-net", "--epochs", "40"], tmp_path)
    assert (resumed.lr, resumed.label_smoothing, resumed.epochs) == (0.001, 0.0, 40)  # not the recipe's 4e-3 / 0.1
    assert resumed.model_options == {"width": 0.5}
    with pytest.raises(InputError, match="--resume with img_size=128, but the run was started with img_size=96"):
        _config(["--resume", "--img-size", "128"], tmp_path)


def test_recipes_are_presets_every_caller_shares():
    from deepfake_edge.app.demo import DemoSettings
    from deepfake_edge.train.config import TrainConfig
    from deepfake_edge.train.recipes import RECIPES, recipe_config

    for name in RECIPES:  # every row is a valid TrainConfig
        assert isinstance(recipe_config(name, data_dir="d"), TrainConfig)
    demo = recipe_config(DemoSettings().recipe, data_dir="d")
    assert (demo.arch, demo.img_size, demo.epochs, demo.model_options) == ("edge-net", 96, 16, {"fused_blocks": 0})
    assert load_benchmark("quality").RECIPES["demo"] == RECIPES["demo"]
    with pytest.raises(InputError, match="unknown training setting.*'widht'"):
        recipe_config("edge", widht=0.5)


def test_data_scaling_table_and_plot_show_every_measured_row(tmp_path, monkeypatch):
    from tests.benchmark_scripts import load_benchmark

    ds = load_benchmark("data_scaling")
    monkeypatch.setattr(ds, "RESULTS", tmp_path)
    seed = lambda auc: {"val_auc": auc, "test_auc": auc, "test_accuracy": 0.8, "test_ece": 0.02,  # noqa: E731
                        "epochs_run": 2, "train_wall_s": 60.0}
    results = {ds.row_key("edge", "equal-steps", n): {"recipe": "edge", "budget": "equal-steps", "faces": n,
                                                      "epochs": 2, "subset": ds.SUBSET,
                                                      "seeds": {"1": seed(auc), "2": seed(auc + 0.02)}}
               for n, auc in ((5000, 0.86), (ds.FULL, 0.88))}
    results["unrun"] = {"recipe": "edge", "budget": "growing", "faces": 5000, "epochs": 12, "subset": ds.SUBSET,
                        "seeds": {}}
    (tmp_path / "data_scaling.notes.md").write_text("## Notes\n\n- by hand\n")
    ds.write(results, tmp_path / "data_scaling.json", argparse.Namespace(), ["--seeds", "1,2"])
    md = (tmp_path / "data_scaling.md").read_text()
    assert "| edge | equal-steps | whole sources | 23,426 | 2 | 46,852 | 1,2 | 0.890 ± 0.014 | 0.890 ± 0.014 |" in md
    assert md.rstrip().endswith("- by hand") and "`python benchmarks/data_scaling.py --seeds 1,2`" in md
    assert (tmp_path / "data_scaling.png").read_bytes()[:4] == b"\x89PNG"
