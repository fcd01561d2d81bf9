"""What a caller may ask of a runtime backend: one typed object, checked against the format once.

Every backend used to take `**options` and read the keys it knew, so an option meant for
another runtime vanished without a word (`detect --provider cuda model.tflite` ran LiteRT
on the CPU and said nothing). Now the format table names, per row, which of these fields
its backend reads (`Format.backend_options`), and `open_backend` refuses an option that
the chosen file's runtime would ignore; callers that open many formats with one set of
options (verify, bench) narrow it per format with `for_format` and log what was left out.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from deepfake_edge.runtime.errors import InputError

if TYPE_CHECKING:
    from deepfake_edge.runtime.formats import Format

KERAS_MODES = ("function", "predict")
# How each field is spelled where a user sets it, for the error message.
FLAGS = {"provider": "--provider", "threads": "--threads", "mode": "the Keras call mode"}


@dataclass(frozen=True)
class BackendOptions:
    """Options of one opened model; a field left at its default means "the runtime's own choice"."""

    provider: str = "auto"  # ONNX Runtime execution provider: auto | cpu | cuda | tensorrt (or its full name)
    threads: int | None = None  # intra-op threads (ONNX Runtime, LiteRT, the page's WASM build)
    mode: str = "function"  # Keras: "function" (one compiled tf.function) or "predict" (model.predict per call)

    def __post_init__(self) -> None:
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise InputError(f"--threads must be a whole number >= 1, got {self.threads!r}")
        if self.mode not in KERAS_MODES:
            raise InputError(f"Keras mode must be one of {', '.join(KERAS_MODES)}, got {self.mode!r}")
        if not isinstance(self.provider, str) or not self.provider:
            raise InputError(f"--provider must be a provider name, got {self.provider!r}")

    @classmethod
    def of(cls, provider: str | None = None, threads: int | None = None, mode: str | None = None) -> "BackendOptions":
        """From CLI-style values where None (or 0 threads) means "not set"."""
        given: dict[str, Any] = {"provider": provider, "threads": threads or None, "mode": mode}
        return cls(**{k: v for k, v in given.items() if v is not None})

    def given(self) -> dict[str, Any]:
        """The fields set to something other than the runtime's own choice."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) != f.default}

    def not_applicable(self, fmt: "Format") -> list[str]:
        """Names of the fields set here that `fmt`'s backend does not read."""
        return [name for name in self.given() if name not in fmt.backend_options]

    def for_format(self, fmt: "Format") -> "BackendOptions":
        """A copy with only what `fmt`'s backend reads (the rest back at their defaults)."""
        return replace(self, **{name: getattr(BackendOptions, name) for name in self.not_applicable(fmt)})

    def check_for(self, fmt: "Format", path: Any) -> None:
        """InputError naming the file and the option when `fmt`'s runtime would ignore something set here."""
        unused = self.not_applicable(fmt)
        if unused:
            takes = ", ".join(FLAGS[n] for n in fmt.backend_options) or "no runtime options"
            said = ", ".join(f"{FLAGS[n]} {getattr(self, n)}" for n in unused)
            raise InputError(f"{path}: {said} does not apply to a {fmt.name} model (its runtime takes {takes})")

    def describe(self) -> str:
        """`provider=cuda, threads=2`, or `defaults`."""
        return ", ".join(f"{k}={v}" for k, v in self.given().items()) or "defaults"
