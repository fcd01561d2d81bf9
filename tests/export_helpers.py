"""Helpers shared by the export, verify and TensorRT tests."""
from __future__ import annotations

import argparse
import importlib
import shutil
from pathlib import Path

import numpy as np


def copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def run_command(name: str, argv: list[str]) -> int:
    """Run one `deepfake-edge` subcommand module the way the CLI does (errors -> exit 2)."""
    from deepfake_edge.runtime.errors import DeepfakeEdgeError

    module = importlib.import_module(f"deepfake_edge.app.commands.{name}")
    parser = argparse.ArgumentParser(prog=f"deepfake-edge {name}")
    module.add_arguments(parser)
    try:
        return int(module.run(parser.parse_args(argv)) or 0)
    except DeepfakeEdgeError as exc:
        print(f"deepfake-edge {name}: error: {exc}")
        return 2


def labeled_crops(data: Path, contract) -> tuple[np.ndarray, np.ndarray]:
    """Preprocessed Test images and labels, through the runtime's one path."""
    from deepfake_edge.runtime.dataset import list_split, load_preprocessed

    paths, labels = list_split(data, "Test")
    batch, kept, _ = load_preprocessed(paths, contract)
    return batch, labels[kept]


def keras_fake_probs(run_dir: Path, batch: np.ndarray, contract) -> np.ndarray:
    from deepfake_edge.runtime.backends import open_backend
    from deepfake_edge.runtime.preprocess import fake_probability

    with open_backend(run_dir / "model.keras", contract=contract) as keras_backend:
        return fake_probability(keras_backend.predict(batch), contract)
