"""The extras table (runtime/extras.py) agrees with pyproject.toml and turns missing packages into one line."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from deepfake_edge.app import cli
from deepfake_edge.runtime import extras
from deepfake_edge.runtime.errors import MissingExtraError
from deepfake_edge.runtime.formats import FORMATS

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
OPTIONAL = PYPROJECT["project"]["optional-dependencies"]


def _names(requirements: list[str]) -> set[str]:
    import re

    return {re.split(r"[<>=\[; ]", r, maxsplit=1)[0].lower() for r in requirements}


def test_every_extra_in_the_table_is_a_pyproject_extra_and_all_installs_the_cpu_ones():
    assert {e.name for e in extras.EXTRAS} <= OPTIONAL.keys()
    assert OPTIONAL["all"] == ["deepfake-edge[train,app,faces]"]


def test_the_base_install_holds_no_training_or_web_package():
    base = _names(PYPROJECT["project"]["dependencies"])
    assert {"onnxruntime", "mediapipe", "ai-edge-litert", "numpy"} <= base
    heavy = _names(OPTIONAL["train"]) | _names(OPTIONAL["app"])
    assert not base & heavy and {"tensorflow", "gradio"} <= heavy


def test_each_extras_import_names_come_from_its_packages():
    pip_name = {m: extras.PACKAGE_NAMES.get(m, m) for m in extras.MODULE_EXTRA}
    for extra in ("train", "app", "faces"):
        packages = _names(OPTIONAL[extra])
        assert {pip_name[m] for m in extras.BY_NAME[extra].modules} <= packages | {"scipy"}, extra


def test_every_command_names_only_known_extras():
    import importlib

    for name in cli.COMMANDS:
        needs = importlib.import_module(cli._module_name(name)).NEEDS
        assert set(needs) <= extras.BY_NAME.keys(), name
    for fmt in FORMATS:
        assert fmt.extra is None or fmt.extra in extras.BY_NAME, fmt.name


def test_a_missing_extra_is_one_line_naming_the_pip_command(monkeypatch):
    monkeypatch.setattr(extras, "is_installed", lambda m: m != "sklearn")
    with pytest.raises(MissingExtraError) as err:
        extras.check_extra("train", "this command")
    assert str(err.value) == ("this command needs the 'scikit-learn' package, which is not installed: "
                              "pip install 'deepfake-edge[train]'")
    extras.check_extra(None, "nothing needed")


def test_a_deep_import_error_of_an_extras_module_is_reported_as_that_extra(monkeypatch, capsys):
    def run(_args):
        raise ModuleNotFoundError("No module named 'gradio'", name="gradio")

    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with_run(parser(), "detect", run))
    assert cli.main(["detect", "x.jpg", "--model", "m.onnx"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("deepfake-edge detect: error: this command needs the 'gradio' package, which is not installed: "
                   "pip install 'deepfake-edge[app]'")


def test_an_import_error_of_a_base_package_stays_a_traceback(monkeypatch):
    def run(_args):
        raise ModuleNotFoundError("No module named 'numpy'", name="numpy")

    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with_run(parser(), "detect", run))
    with pytest.raises(ModuleNotFoundError):  # a broken base install is a bug to see, not an extra to install
        cli.main(["detect", "x.jpg", "--model", "m.onnx"])


def _with_run(parser, command, run):
    sub = next(a for a in parser._actions if getattr(a, "choices", None) and command in a.choices)
    sub.choices[command].set_defaults(_run=run)
    return parser


def test_a_keras_model_without_the_train_extra_is_a_model_file_error(monkeypatch, tiny_run):
    from deepfake_edge.runtime.backends import open_backend
    from deepfake_edge.runtime.errors import ModelFileError

    monkeypatch.setattr(extras, "is_installed", lambda m: m not in ("tensorflow", "keras"))
    with pytest.raises(ModelFileError, match=r"model\.keras: a keras model needs the 'tensorflow' package.*"
                                             r"deepfake-edge\[train\]"):
        open_backend(tiny_run / "model.keras")
