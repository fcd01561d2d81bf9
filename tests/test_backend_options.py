"""Typed backend options: checked against the format table once, never silently dropped."""
from __future__ import annotations

import pytest

from deepfake_edge.app import cli
from deepfake_edge.runtime.backends import BackendOptions, open_backend
from deepfake_edge.runtime.errors import InputError
from deepfake_edge.runtime.formats import FORMATS, get_format
from tests.facekit import write_tiny_onnx


def test_an_option_the_files_runtime_ignores_is_refused_naming_file_and_option(tiny_run):
    with pytest.raises(InputError) as err:
        open_backend(tiny_run / "model.keras", BackendOptions(provider="cuda"))
    text = str(err.value)
    assert "model.keras" in text and "--provider cuda" in text and "keras" in text and "\n" not in text
    with pytest.raises(InputError, match="--threads 2"):
        open_backend(tiny_run / "model.keras", BackendOptions(threads=2))


def test_options_an_onnx_file_reads_are_applied(tmp_path):
    path = write_tiny_onnx(tmp_path / "m.onnx")
    with open_backend(path, BackendOptions(provider="cpu", threads=1)) as backend:
        assert backend.describe() == "onnxruntime · CPUExecutionProvider"
        assert backend.options.threads == 1 and backend.session.get_session_options().intra_op_num_threads == 1


def test_defaults_are_not_options_and_bad_values_are_one_line():
    assert BackendOptions().given() == {} and BackendOptions.of(provider="auto", threads=0).given() == {}
    assert BackendOptions.of(provider="cpu", threads=2).given() == {"provider": "cpu", "threads": 2}
    for bad in ({"threads": 0}, {"threads": -1}, {"mode": "eager"}, {"provider": ""}):
        with pytest.raises(InputError):
            BackendOptions(**bad)


def test_for_format_keeps_only_what_each_runtime_reads():
    options = BackendOptions(provider="cpu", threads=2)
    assert options.for_format(get_format("onnx")) == options
    assert options.for_format(get_format("tflite")) == BackendOptions(threads=2)
    assert options.for_format(get_format("keras")) == BackendOptions()
    assert options.not_applicable(get_format("engine")) == ["provider", "threads"]


def test_every_table_row_names_only_real_options_and_variants():
    fields = set(BackendOptions.__dataclass_fields__)
    for fmt in FORMATS:
        assert set(fmt.backend_options) <= fields, fmt.name
        for variant in fmt.variants:
            assert {k for k, _ in variant.options} <= set(fmt.backend_options), (fmt.name, variant.label)
            BackendOptions(**dict(variant.options))  # each variant is a valid option set
    assert [f.name for f in FORMATS if f.role == "reference"] == ["keras"]


def test_detect_refuses_a_provider_for_a_keras_model_in_one_line(tiny_run, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "COMMANDS", ("detect",))
    rc = cli.main(["detect", str(tmp_path / "x.jpg"), "--model", str(tiny_run / "model.keras"), "--provider", "cuda"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "--provider cuda does not apply to a keras model" in err and "\n" not in err


def test_bench_rows_come_from_the_table_not_from_names(tmp_path):
    """Copies (h5, plan) are not rows; each variant is; GPU variants only where the build lists them."""
    from deepfake_edge.app.bench import plan_targets

    labels = [t.label for t, _ in plan_targets(tmp_path, None)]
    assert "keras predict" in labels and "keras tf.function" in labels and "onnx cpu" in labels
    assert not any(label.startswith(("h5", "plan")) for label in labels)
    assert "triton" not in labels  # no local backend
    expected = {v.row_label(f) for f in FORMATS if f.benchmarked for v in f.variants if not v.needs_provider}
    assert expected <= set(labels)


def test_every_export_option_of_the_table_reaches_the_export_command():
    """A row's export option is a flag of `export` and is passed on by name (no hand-kept list)."""
    import argparse

    from deepfake_edge.app.commands import export

    parser = argparse.ArgumentParser()
    export.add_arguments(parser)
    names = {name for fmt in FORMATS for name in fmt.options}
    args = parser.parse_args(["run", "--calib-images", "7", "--max-batch", "4"])
    assert names <= set(vars(args))
    assert args.calib_images == 7 and args.max_batch == 4


def test_int8_steps_read_their_options_dataclass():
    from deepfake_edge.export.options import DEFAULT_CALIB_IMAGES, Int8Options

    assert Int8Options.from_options({}).calib_images == DEFAULT_CALIB_IMAGES
    assert Int8Options.from_options({"calib_images": "12"}).calib_images == 12
