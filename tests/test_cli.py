"""The `deepfake-edge` command: every subcommand is listed and documented; input errors are one line."""
from __future__ import annotations

import subprocess
import sys

import pytest

from deepfake_edge.app.cli import COMMANDS, main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deepfake_edge.app", *args], capture_output=True, text=True,
                          timeout=120)


def test_help_lists_every_subcommand_without_importing_tensorflow():
    out = run_cli("--help")
    assert out.returncode == 0
    for name in ("prepare", "train", "evaluate", "export", "verify", "detect", "app", "bench", "demo", "face-model"):
        assert name in out.stdout
    code = ("import sys; from deepfake_edge.app.cli import build_parser; build_parser(); "
            "print('tensorflow' in sys.modules, 'gradio' in sys.modules)")
    probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert probe.stdout.strip() == "False False", probe.stderr  # --help stays instant


@pytest.mark.parametrize("command", COMMANDS)
def test_each_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"deepfake-edge {command}" in capsys.readouterr().out


def test_input_error_is_one_line_naming_the_path(tmp_path):
    missing = tmp_path / "no-such-data"
    out = run_cli("train", "--data", str(missing), "--out", str(tmp_path / "run"), "--epochs", "1")
    assert out.returncode == 2
    lines = [line for line in out.stderr.splitlines() if "error:" in line]
    assert len(lines) == 1 and lines[0].startswith("deepfake-edge train: error:") and str(missing) in lines[0]
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "run" / "model.keras").exists()


def test_a_command_whose_import_fails_breaks_only_itself(monkeypatch, capsys):
    """Polygraphy-style: a missing optional package turns one command into a clear 'unavailable' entry."""
    import importlib

    from deepfake_edge.app import cli

    real_import = importlib.import_module

    def no_gradio(name, *args, **kwargs):
        if name == "deepfake_edge.app.commands.app":
            raise ImportError("No module named 'gradio'", name="gradio")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", no_gradio)
    parser = cli.build_parser()
    help_text = parser.format_help()
    assert "app" in help_text and "unavailable here" in help_text and "detect" in help_text
    assert cli.main(["app", "--port", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("deepfake-edge app: error:") and "'gradio'" in err and "\n" not in err
    assert cli.main(["weights", "--list"]) == 0  # the other commands still work


def test_a_module_of_our_own_missing_says_the_install_is_stale(monkeypatch, capsys):
    """A strict editable install made before a module was added lacks it: say so, not 'pip install <module>'."""
    import importlib

    from deepfake_edge.app import cli

    real_import = importlib.import_module

    def stale(name, *args, **kwargs):
        if name == "deepfake_edge.app.commands.scan":
            raise ImportError("No module named 'deepfake_edge.app.scan'", name="deepfake_edge.app.scan")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", stale)
    assert cli.main(["scan", "x", "--model", "m", "--out", "o"]) == 2
    err = capsys.readouterr().err.strip()
    assert "lacks its module deepfake_edge.app.scan" in err and "make setup" in err and "pip install deepfake_edge" not in err
