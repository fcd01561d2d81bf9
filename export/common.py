"""What every export step shares: load the Keras reference, write an artifact safely,
write its sidecar contract, and check the artifact against Keras (timm-style assert).

Each step is `export_xxx(run_dir, contract, *, data=None, **options) -> Path`; it reads
`run_dir/model.keras`, writes one artifact at `artifact_path(run_dir, fmt)` plus the
sidecar `<artifact>.json`, reloads the artifact through its runtime backend and compares
it with Keras on a few inputs before returning. A step that fails its check raises
`ModelFileError`; nothing half-written is left under the final artifact name.
"""
from __future__ import annotations

import contextlib
import logging
import shutil
from pathlib import Path
from typing import Iterator

import numpy as np

from deepfake_edge.runtime.backends.options import BackendOptions
from deepfake_edge.runtime.contract import ModelContract, sidecar_path
from deepfake_edge.runtime.errors import InputError, ModelFileError
from deepfake_edge.runtime.formats import REFERENCE, Format, artifact_path, get_format
from deepfake_edge.runtime.io import first_line  # noqa: F401 - the one-line error text, used by the steps
from deepfake_edge.runtime.io import write_text_atomically as write_text_atomic  # noqa: F401

log = logging.getLogger(__name__)

KERAS_FILENAME = REFERENCE.filename
CPU_CHECK = BackendOptions(provider="cpu")  # export checks run the ONNX files on the CPU provider

# Largest |Δ fake probability| an export step accepts on its few check inputs. Loose on
# purpose for reduced precision: `deepfake-edge verify` applies the real tolerances on a
# whole labelled split; this only catches a broken conversion at export time.
EXPORT_CHECK_ATOL = {"fp32": 1e-4, "fp16": 1e-2, "int8": 0.25}
CHECK_IMAGES = 8


def keras_model_path(run_dir: str | Path) -> Path:
    path = Path(run_dir) / KERAS_FILENAME
    if not path.is_file():
        raise InputError(f"{run_dir}: no {KERAS_FILENAME} in the run folder (train a model first)")
    return path


def load_keras(run_dir: str | Path):
    """The run's Keras model (the reference every export is built from and checked against)."""
    path = keras_model_path(run_dir)
    try:
        # heavy: only export steps that need Keras import it
        from deepfake_edge.runtime.layers import load_keras_model

        return load_keras_model(path)
    except Exception as exc:  # noqa: BLE001 - Keras' own error, reported on one line
        raise ModelFileError(f"{path}: cannot load the Keras model ({first_line(exc)})") from exc


def artifact_contract(contract: ModelContract, fmt: Format | str, **provenance) -> ModelContract:
    """The run's contract stamped with this artifact's format and precision."""
    fmt = get_format(fmt) if isinstance(fmt, str) else fmt
    prov = dict(contract.provenance)
    prov.update({k: v for k, v in provenance.items() if v is not None})
    return contract.with_(format=fmt.name, precision=fmt.precision, provenance=prov)


def write_sidecar(artifact: Path, contract: ModelContract) -> Path:
    return contract.save(sidecar_path(artifact))


@contextlib.contextmanager
def staged(final: Path) -> Iterator[Path]:
    """Yield a temporary path beside `final`; move it into place only if the block succeeds.

    An export that fails half-way never replaces (or deletes) an earlier good artifact.
    """
    tmp = final.with_name(f".partial-{final.name}")  # keeps the suffix writers look at
    _remove(tmp)
    try:
        yield tmp
        if not tmp.exists():
            raise ModelFileError(f"{final}: the export step wrote nothing")
        _remove(final)
        tmp.replace(final)
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def check_inputs(contract: ModelContract, data: str | Path | None = None, n: int = CHECK_IMAGES) -> np.ndarray:
    """A few preprocessed inputs: real Train images when `data` is given, else seeded noise.

    Both go through the runtime's one preprocessing path, so they sit in the value range
    the model really sees.
    """
    from deepfake_edge.runtime.preprocess import normalize

    if data is not None:
        from deepfake_edge.runtime.dataset import list_split, load_preprocessed

        paths, _ = list_split(data, "Train", max_per_class=max(1, n // 2))
        batch, _, _ = load_preprocessed(paths, contract)
        if len(batch):
            return batch
    rng = np.random.default_rng(1234)
    size = contract.input_size
    pixels = rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8)
    return np.stack([normalize(p, contract) for p in pixels]).astype(np.float32)


def keras_reference(model, batch: np.ndarray) -> np.ndarray:
    return np.asarray(model(batch, training=False), dtype=np.float32)


def check_against_keras(artifact: Path, contract: ModelContract, reference_probs: np.ndarray,
                        batch: np.ndarray, options: BackendOptions | None = None) -> float:
    """Reload `artifact` through its runtime backend and compare with Keras; returns max |Δp|.

    Raises ModelFileError naming the artifact and the figure when the difference is
    larger than this precision's export tolerance.
    """
    from deepfake_edge.runtime.backends import open_backend
    from deepfake_edge.runtime.preprocess import fake_probability

    with open_backend(artifact, options, contract=contract) as backend:
        probs = backend.predict(batch)
    if not np.all(np.isfinite(probs)):
        raise ModelFileError(f"{artifact}: produces non-finite outputs on the check inputs")
    diff = float(np.max(np.abs(fake_probability(probs, contract) - fake_probability(reference_probs, contract))))
    atol = EXPORT_CHECK_ATOL[contract.precision]
    log.info("%s: max |Δp| vs Keras on %d inputs = %.2e (limit %g)", artifact.name, len(batch), diff, atol)
    if diff > atol:
        raise ModelFileError(
            f"{artifact}: differs from the Keras model by max |Δp| = {diff:.3g} on {len(batch)} inputs "
            f"(limit for {contract.precision} is {atol:g})"
        )
    return diff


def finish(run_dir: Path, fmt_name: str, artifact: Path, contract: ModelContract, model, data,
           options: BackendOptions | None = None) -> Path:
    """Write the sidecar, then reload and check the artifact against Keras; returns its path.

    An artifact that fails (or cannot run) its check is removed with its sidecar, so
    verify, detect and the app never pick up a conversion known to be broken.
    """
    write_sidecar(artifact, contract)
    checked(artifact, lambda: _check(artifact, contract, model, data, options))
    return artifact


def _check(artifact: Path, contract: ModelContract, model, data, options: BackendOptions | None) -> None:
    batch = check_inputs(contract, data)
    check_against_keras(artifact, contract, keras_reference(model, batch), batch, options)


def checked(artifact: Path, check) -> None:
    """Run `check()`; when it raises, remove `artifact` and its sidecar, then re-raise."""
    try:
        check()
    except BaseException:
        discard_artifact(artifact)
        raise


def discard_artifact(artifact: Path) -> None:
    """Remove an artifact (file or folder) and its sidecar contract."""
    log.warning("%s: removing the artifact and its sidecar: it failed its check against Keras", artifact)
    _remove(artifact)
    _remove(sidecar_path(artifact))




def target(run_dir: str | Path, fmt_name: str) -> Path:
    from deepfake_edge.runtime.io import check_folder

    return artifact_path(check_folder(run_dir, "run folder"), fmt_name)


