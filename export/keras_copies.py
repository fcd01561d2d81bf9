"""Keras-side formats: the `.keras` reference, a legacy `.h5` copy, and a TF SavedModel.

The SavedModel is written with `model.export(dir)` (serving signature
`serving_default`), the form TF Serving loads; Keras itself cannot read it back, so
it is checked through the runtime's SavedModel backend like every other artifact.
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

from deepfake_edge.export.common import (
    artifact_contract,
    finish,
    keras_model_path,
    load_keras,
    staged,
    target,
    write_sidecar,
)
from deepfake_edge.runtime.contract import ModelContract

log = logging.getLogger(__name__)


def export_keras(run_dir: Path, contract: ModelContract, *, data: Path | None = None, **options) -> Path:
    """The reference itself: check that model.keras loads and give it a sidecar contract."""
    path = keras_model_path(run_dir)
    load_keras(run_dir)
    write_sidecar(path, artifact_contract(contract, "keras"))
    return path


def save_h5(model, final: Path) -> Path:
    """Write `model` as legacy HDF5 at `final`, atomically: the one writer of model.h5
    (training calls it for the seed project's run-folder layout, and so does `export_h5`)."""
    with staged(final) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns that HDF5 is legacy: we know
        model.save(tmp)
    return final


def export_h5(run_dir: Path, contract: ModelContract, *, data: Path | None = None, **options) -> Path:
    """Legacy HDF5 copy (the seed project's format), checked against Keras.

    Training already writes model.h5 next to model.keras; this step writes it again only
    when it is missing or older than model.keras, and checks it either way.
    """
    model = load_keras(run_dir)
    final = target(run_dir, "h5")
    reference = keras_model_path(run_dir)
    if final.is_file() and final.stat().st_mtime >= reference.stat().st_mtime:
        log.info("%s: the copy training wrote is current; checking it", final.name)
    else:
        save_h5(model, final)
    return finish(Path(run_dir), "h5", final, artifact_contract(contract, "h5"), model, data)


def export_saved_model(run_dir: Path, contract: ModelContract, *, data: Path | None = None, **options) -> Path:
    """TensorFlow SavedModel with a `serving_default` signature, for TF Serving."""
    model = load_keras(run_dir)
    final = target(run_dir, "saved_model")
    with staged(final) as tmp:
        model.export(str(tmp), format="tf_saved_model", verbose=False)
    return finish(Path(run_dir), "saved_model", final, artifact_contract(contract, "saved_model"), model, data)
