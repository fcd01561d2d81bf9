"""The model contract: everything a consumer needs to feed a model and read its output.

Training writes it next to the model; export copies it into every artifact (a sidecar
JSON, and ONNX `metadata_props`); every backend, the detector, verify, the app and the
benchmarks read it. Nothing downstream guesses input size, colour order, normalisation,
class order, the face-crop rule or the decision threshold.

Class order follows Keras' alphabetical directory order: index 0 = "Fake", 1 = "Real".
"""
from __future__ import annotations

import json
import math
import numbers
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from deepfake_edge.runtime.errors import ContractError, InputError

CONTRACT_VERSION = 1
MAX_CONTRACT_BYTES = 4 * 1024 * 1024  # a contract is a few kB; anything near this is not one
CONTRACT_FILENAME = "contract.json"
ONNX_METADATA_KEY = "deepfake_edge.contract"
FAKE = "Fake"
REAL = "Real"
CLASS_NAMES = (FAKE, REAL)  # THE class order: index 0 = Fake, 1 = Real, everywhere


@dataclass(frozen=True)
class CropRule:
    """How a face box becomes the model's input crop; shared by `prepare` and runtime.

    The detector's box is grown by `margin` (a fraction of its larger side, on every
    side), made square around the box centre, shifted to stay inside the image when it
    fits, clipped when it does not, then resized to the model's input size.
    """

    detector: str = "short_range"  # MediaPipe face detector: "short_range" or "full_range"
    margin: float = 0.25
    square: bool = True
    min_confidence: float = 0.5
    min_face_px: int = 20


@dataclass(frozen=True)
class Normalization:
    """`input = pixel * scale + offset`, applied per channel to RGB/BGR values in 0..255."""

    scale: tuple[float, float, float] = (1 / 255, 1 / 255, 1 / 255)
    offset: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class ModelContract:
    """What a model expects and returns. Frozen: derive changed copies with `.with_()`."""

    class_names: tuple[str, ...] = CLASS_NAMES
    input_size: int = 256
    color_order: str = "RGB"
    layout: str = "NHWC"
    normalization: Normalization = field(default_factory=Normalization)
    crop_rule: CropRule = field(default_factory=CropRule)
    threshold: float = 0.5  # fake_probability >= threshold -> "Fake"
    temperature: float = 1.0  # divides log-probabilities before the softmax
    arch: str = "unknown"
    precision: str = "fp32"
    format: str = "keras"
    input_name: str = "input"
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    version: int = CONTRACT_VERSION

    # -- derived -------------------------------------------------------------------
    @property
    def fake_index(self) -> int:
        return self.class_names.index(FAKE)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Per-image input shape (H, W, C) in the model's layout."""
        return (self.input_size, self.input_size, 3)

    def with_(self, **changes: Any) -> "ModelContract":
        return replace(self, **changes)

    def validate(self, source: str = "contract") -> "ModelContract":
        """Every field of the right type, length and range; one ContractError naming them all otherwise."""
        problems = []
        if tuple(self.class_names) != CLASS_NAMES:
            problems.append(
                f"class_names must be exactly {list(CLASS_NAMES)} (index 0 = Fake, 1 = Real), "
                f"got {list(self.class_names)}"
            )
        if self.color_order not in ("RGB", "BGR"):
            problems.append(f"color_order must be RGB or BGR, got {self.color_order!r}")
        if self.layout != "NHWC":
            problems.append(f"layout must be NHWC, got {self.layout!r}")
        if not _is_int(self.input_size) or not 16 <= self.input_size <= 1024:
            problems.append(f"input_size must be a whole number of pixels in 16..1024, got {self.input_size!r}")
        if not _is_number(self.threshold) or not 0.0 <= self.threshold <= 1.0:
            problems.append(f"threshold must be a number in 0..1, got {self.threshold!r}")
        if not _is_number(self.temperature) or not self.temperature > 0:
            problems.append(f"temperature must be a positive number, got {self.temperature!r}")
        n = self.normalization
        for name, values in (("scale", n.scale), ("offset", n.offset)):
            if len(values) != 3 or not all(_is_number(v) for v in values):
                problems.append(f"normalization.{name} must be 3 finite numbers (one per channel), got {list(values)}")
        if len(n.scale) == 3 and any(v == 0 for v in n.scale):
            problems.append(f"normalization.scale must not hold 0 (it would erase a channel), got {list(n.scale)}")
        r = self.crop_rule
        if r.detector not in ("short_range", "full_range"):
            problems.append(f"crop_rule.detector must be short_range or full_range, got {r.detector!r}")
        if not _is_number(r.margin) or not 0.0 <= r.margin <= 2.0:
            problems.append(f"crop_rule.margin must be a number in 0..2, got {r.margin!r}")
        if not _is_number(r.min_confidence) or not 0.0 <= r.min_confidence <= 1.0:
            problems.append(f"crop_rule.min_confidence must be a number in 0..1, got {r.min_confidence!r}")
        if not _is_int(r.min_face_px) or r.min_face_px < 1:
            problems.append(f"crop_rule.min_face_px must be a positive whole number, got {r.min_face_px!r}")
        if not isinstance(r.square, bool):
            problems.append(f"crop_rule.square must be true or false, got {r.square!r}")
        if not _is_int(self.version) or self.version < 1:
            problems.append(f"version must be a positive whole number, got {self.version!r}")
        elif self.version > CONTRACT_VERSION:
            problems.append(f"version {self.version} was written by a newer deepfake-edge (this one reads up to "
                            f"{CONTRACT_VERSION}); upgrade deepfake-edge")
        if problems:
            raise ContractError(f"{source}: " + "; ".join(problems))
        return self

    # -- serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["class_names"] = list(self.class_names)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, default=_json_default)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "contract") -> "ModelContract":
        """A validated contract from its JSON form.

        `REQUIRED_FIELDS` have no safe default (a wrong input size or normalisation would
        quietly feed the model pixels it was not trained on), so a contract without them is
        refused; every other missing field takes its documented default.
        """
        if not isinstance(data, dict):
            raise ContractError(f"{source}: expected a JSON object, got {type(data).__name__}")
        missing = [k for k in REQUIRED_FIELDS if k not in data]
        if missing:
            raise ContractError(f"{source}: missing field(s) {', '.join(missing)}, which have no safe default")
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        try:
            if "class_names" in kwargs:
                kwargs["class_names"] = tuple(kwargs["class_names"])
            if "class_names" in kwargs and not isinstance(data["class_names"], list):
                raise TypeError(f"class_names must be a list, got {type(data['class_names']).__name__}")
            n = kwargs["normalization"]
            if not isinstance(n, dict) or not isinstance(n.get("scale"), list) or not isinstance(n.get("offset"), list):
                raise TypeError("normalization must be an object with 'scale' and 'offset' lists")
            kwargs["normalization"] = Normalization(scale=tuple(n["scale"]), offset=tuple(n["offset"]))
            if "crop_rule" in kwargs:
                if not isinstance(kwargs["crop_rule"], dict):
                    raise TypeError("crop_rule must be an object")
                kwargs["crop_rule"] = CropRule(**kwargs["crop_rule"])
            contract = cls(**kwargs)
        except (TypeError, KeyError, ValueError) as exc:
            raise ContractError(f"{source}: malformed contract ({exc})") from exc
        return contract.validate(source)

    @classmethod
    def from_json(cls, text: str, source: str = "contract") -> "ModelContract":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ContractError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
        return cls.from_dict(data, source)

    def save(self, path: str | Path) -> Path:
        from deepfake_edge.runtime.io import write_text_atomically

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_text_atomically(path, self.to_json() + "\n")  # a crash never leaves half a contract

    @classmethod
    def load(cls, path: str | Path) -> "ModelContract":
        from deepfake_edge.runtime.io import read_text

        path = Path(path)
        try:
            text = read_text(path, "contract", max_bytes=MAX_CONTRACT_BYTES)
        except InputError as exc:
            raise ContractError(str(exc).replace("file not found", "contract file not found")) from None
        return cls.from_json(text, source=str(path))


REQUIRED_FIELDS = ("input_size", "normalization")


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def sidecar_path(model_path: str | Path) -> Path:
    """The sidecar contract of one artifact: `model.onnx` -> `model.onnx.json`."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.name + ".json")


def find_contract(model_path: str | Path) -> ModelContract:
    """Resolve the contract of a model file, most specific first.

    1. the artifact's sidecar (`model.onnx.json`);
    2. metadata embedded in the file itself (ONNX `metadata_props`), or the `contract.json`
       inside an artifact that is a folder of its own (the web bundle, `model_web/`);
    3. `contract.json` in the same folder (the run folder).
    """
    model_path = Path(model_path)
    from deepfake_edge.runtime.io import exists, is_folder, is_regular_file, read_text

    side = sidecar_path(model_path)
    if exists(side):
        try:
            data = json.loads(read_text(side, "contract", max_bytes=MAX_CONTRACT_BYTES))
        except json.JSONDecodeError as exc:
            raise ContractError(f"{side}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
        except InputError as exc:
            raise ContractError(f"cannot read the sidecar contract: {exc}") from None
        if not isinstance(data, dict):
            raise ContractError(f"{side}: expected a JSON object, got {type(data).__name__}")
        # Engine sidecars wrap the contract with build information.
        if "contract" in data and isinstance(data["contract"], dict):
            data = data["contract"]
        return ModelContract.from_dict(data, source=str(side))
    if model_path.suffix == ".onnx" and is_regular_file(model_path):
        embedded = read_onnx_contract(model_path)
        if embedded is not None:
            return embedded
    if is_folder(model_path) and exists(model_path / CONTRACT_FILENAME):
        return ModelContract.load(model_path / CONTRACT_FILENAME)
    run_contract = model_path.parent / CONTRACT_FILENAME
    if exists(run_contract):
        return ModelContract.load(run_contract)
    raise ContractError(
        f"{model_path}: no model contract found (looked for {side.name}, embedded metadata, "
        f"and {CONTRACT_FILENAME} beside it); export the model with `deepfake-edge export`"
    )


def read_onnx_contract(path: str | Path) -> ModelContract | None:
    """Contract embedded in an ONNX file's `metadata_props`, or None when absent.

    Read with the `onnx` package where it is installed (the `train` extra), else through
    ONNX Runtime's model metadata, so the base install finds embedded contracts too.
    """
    try:
        import onnx
    except ImportError:
        text = _onnxruntime_metadata(path).get(ONNX_METADATA_KEY)
    else:
        try:
            model = onnx.load(str(path), load_external_data=False)
        except Exception:  # noqa: BLE001 - a truncated file is reported by the backend itself
            return None
        text = next((p.value for p in model.metadata_props if p.key == ONNX_METADATA_KEY), None)
    return ModelContract.from_json(text, source=f"{path} (metadata)") if text is not None else None


def _onnxruntime_metadata(path: str | Path) -> dict[str, str]:
    """An ONNX file's metadata_props through ONNX Runtime ({} when it cannot be opened)."""
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception:  # noqa: BLE001 - a truncated file is reported by the backend itself
        return {}
    return dict(session.get_modelmeta().custom_metadata_map)
