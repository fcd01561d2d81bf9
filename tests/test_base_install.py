"""The base install runs the exported detector without the training stack.

A real wheel of the project is installed with only its base dependencies into a fresh
venv (no TensorFlow, no Gradio; pip's cache makes this ~1 minute after `make setup`). In
it, `detect --json` on an image and a short video and `bench` on an ONNX model exported
earlier in this test by the full install must give the full install's numbers, every
runtime module must import, and the commands that need an extra must name it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from tests.export_helpers import run_command
from tests.facekit import face_model_or_skip, grace_hopper
from tests.test_video import write_face_video

ROOT = Path(__file__).resolve().parents[1]
TRAINING_STACK = ("tensorflow", "keras", "tf2onnx", "onnx", "scikit-learn", "gradio", "tensorboard", "scipy")
ONNX_PARITY = 1e-4  # export.verify.Tolerances.fp32_max_diff: the same ONNX file under the same ONNX Runtime


def _run(cmd, **kw):
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, **kw)


@pytest.fixture(scope="module")
def base_venv(tmp_path_factory) -> Path:
    """A venv holding the project's wheel and its base dependencies only."""
    work = tmp_path_factory.mktemp("base_install")
    src = work / "src"  # build from a copy: the repo's own build/ holds the strict editable tree
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", ".cache", "runs", "build", ".git", "*.egg-info",
                                                             "__pycache__", "benchmarks", "tests"))
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", work, src])
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = work.glob("deepfake_edge-*.whl")
    venv = work / "venv"
    assert _run([sys.executable, "-m", "venv", venv]).returncode == 0
    installed = _run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--no-compile", wheel], timeout=900)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return venv


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_run) -> Path:
    """The tiny run exported to ONNX by the full install."""
    run = tmp_path_factory.mktemp("exported") / "run"
    shutil.copytree(tiny_run, run)
    assert run_command("export", [str(run), "--formats", "onnx"]) == 0
    return run


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("media")
    image = folder / "face.jpg"
    cv2.imwrite(str(image), cv2.cvtColor(grace_hopper(), cv2.COLOR_RGB2BGR))
    return image, write_face_video(folder / "clip.mp4")


def _detect(cli: list, model: Path, media) -> list[dict]:
    out = _run([*cli, "detect", *media, "--model", model, "--json"], timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def _probabilities(entries: list[dict]) -> list[float]:
    """Every fake probability an entry reports: per face, and a video's verdict and per-frame timeline."""
    probs = []
    for e in entries:
        probs += [f["fake_probability"] for f in e.get("faces", [])]
        if "video" in e:
            probs.append(e["video"]["mean_fake_probability"])
            probs += [t["fake_probability"] for t in e["video"]["timeline"] if t["fake_probability"] is not None]
    return probs


def test_base_install_has_no_training_stack(base_venv):
    listed = _run([base_venv / "bin" / "python", "-m", "pip", "list", "--format", "json"])
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert "deepfake-edge" in names and "onnxruntime" in names and "mediapipe" in names
    assert not names & set(TRAINING_STACK), names & set(TRAINING_STACK)


# Runtime modules that are Keras by nature, imported only where a Keras model is opened.
KERAS_MODULES = {"deepfake_edge.runtime.layers"}


def test_every_runtime_module_imports_without_tensorflow(base_venv):
    probe = ("import pkgutil, importlib, json, sys, deepfake_edge.runtime as r\n"
             "mods = [m.name for m in pkgutil.walk_packages(r.__path__, 'deepfake_edge.runtime.')]\n"
             "failed = {}\n"
             "for m in mods:\n"
             "    try: importlib.import_module(m)\n"
             "    except ModuleNotFoundError as e: failed[m] = e.name\n"
             "import deepfake_edge.app.cli\n"
             "print(json.dumps({'modules': len(mods), 'failed': failed, 'tf': 'tensorflow' in sys.modules}))")
    out = _run([base_venv / "bin" / "python", "-c", probe], cwd=base_venv)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["modules"] >= 20 and result["tf"] is False
    assert result["failed"] == {m: "keras" for m in KERAS_MODULES}


def test_help_lists_every_command_and_names_the_extras(base_venv):
    from deepfake_edge.app.cli import COMMANDS

    out = _run([base_venv / "bin" / "deepfake-edge", "--help"])
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    for name in COMMANDS:
        assert f" {name} " in text, name
    assert "train a Real/Fake classifier" in text and "[needs: pip install 'deepfake-edge[train]']" in text
    assert "[needs: pip install 'deepfake-edge[app]']" in text


@pytest.mark.parametrize("argv, extra", [(["train", "--data", "D", "--out", "R"], "train"),
                                          (["export", "R"], "train"), (["app"], "app")])
def test_a_command_without_its_extra_says_which_to_install(base_venv, argv, extra):
    out = _run([base_venv / "bin" / "deepfake-edge", *argv])
    assert out.returncode == 2
    line = out.stderr.strip()
    assert "\n" not in line and "Traceback" not in line, line
    assert line.startswith(f"deepfake-edge {argv[0]}: error:") and f"pip install 'deepfake-edge[{extra}]'" in line


def test_detect_in_the_base_install_matches_the_full_install(base_venv, exported, media):
    face_model_or_skip()
    model = exported / "model.onnx"
    full = _detect([sys.executable, "-m", "deepfake_edge.app.cli"], model, media)
    base = _detect([base_venv / "bin" / "deepfake-edge"], model, media)
    assert [e["path"] for e in base] == [str(m) for m in media]
    assert not any(e.get("error") for e in base), base
    p_full, p_base = _probabilities(full), _probabilities(base)
    assert len(p_base) == len(p_full) >= 2 + 12  # the image's face, the video's track, verdict and 12 frames
    assert max(abs(a - b) for a, b in zip(p_full, p_base)) <= ONNX_PARITY
    assert [f["label"] for f in base[0]["faces"]] == [f["label"] for f in full[0]["faces"]]


def test_bench_in_the_base_install_measures_onnx_and_skips_keras_naming_the_extra(base_venv, exported, tiny_data,
                                                                                 tmp_path):
    out = _run([base_venv / "bin" / "deepfake-edge", "bench", exported, "--data", tiny_data, "--formats",
                "keras,onnx", "--no-frame", "--min-runs", "3", "--min-seconds", "0.1", "--out", tmp_path / "base"],
               timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = {r["label"]: r for r in json.loads((tmp_path / "base" / "bench.json").read_text())["rows"]}
    assert rows["onnx cpu"]["status"] == "ok"
    assert "deepfake-edge[train]" in rows["keras predict"]["status"]
    assert run_command("bench", [str(exported), "--data", str(tiny_data), "--formats", "onnx", "--no-frame",
                                 "--min-runs", "3", "--min-seconds", "0.1", "--out", str(tmp_path / "full")]) == 0
    full = {r["label"]: r for r in json.loads((tmp_path / "full" / "bench.json").read_text())["rows"]}
    assert rows["onnx cpu"]["auc"] == pytest.approx(full["onnx cpu"]["auc"], abs=1e-6)
    assert rows["onnx cpu"]["accuracy"] == pytest.approx(full["onnx cpu"]["accuracy"], abs=1e-6)
