"""Option dataclasses that describe their own command-line flags.

A typed option object (`train.config.TrainConfig`, an export step's options) is the one
place an option is declared: its field carries the default, and `setting(...)` adds the
help text and flag spelling as field metadata. The CLI generates its flags from the
dataclass (`app.commands.arguments.add_setting_flags`), so adding an option is adding a
field: the flag, its help (with the default appended), the recorded config and the
contract's training record all follow.

    @dataclass
    class Options:
        lr: float = setting(1e-3, "initial learning rate", metavar="X")

Flags keep None as their argparse default, so a command can tell "not given" from "given
the default" (`--resume` keeps a run's saved value unless the flag is given).
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass


@dataclass(frozen=True)
class Flag:
    """How one option field appears on the command line.

    `flag`: the spelling (default `--field-name`); `negative`: an extra flag storing False
    for a boolean (`--no-augment`), with `negative_help`; `positive=False` leaves only the
    negative flag; `choices` limit the values; `required` makes the flag mandatory.
    """

    help: str
    metavar: str | None = None
    choices: tuple | None = None
    flag: str | None = None
    negative: str | None = None
    negative_help: str | None = None
    positive: bool = True
    required: bool = False
    show_default: bool = True


def setting(default, help: str, **flag):
    """A dataclass field with `default` and its command-line `Flag(help, **flag)`."""
    if isinstance(default, (dict, list)):
        raise TypeError("a mutable default needs default_factory; use None")
    return dataclasses.field(default=default, metadata={"flag": Flag(help, **flag)})


def flag_fields(cls) -> list[tuple[dataclasses.Field, Flag, type]]:
    """(field, Flag, scalar type) for every field of dataclass `cls` that declares a flag.

    The scalar type is the annotation without `| None` (int, float, str or bool).
    """
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        meta = f.metadata.get("flag")
        if meta is None:
            continue
        kind = hints[f.name]
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        out.append((f, meta, args[0] if args else kind))
    return out


class StepOptions:
    """Base of an option dataclass a command fills from flags named `PREFIX + field`.

    `from_options({"triton_max_batch": 8, ...})` takes the keys with this class's prefix,
    keeps the field default for None (flag not given), converts each value to the field's
    type and runs `validate()`, which subclasses override to refuse bad values in one line.
    """

    PREFIX: typing.ClassVar[str] = ""
    TITLE: typing.ClassVar[str] = ""

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """The names the command passes (and its flags spell with dashes): prefix + field."""
        return tuple(cls.PREFIX + f.name for f, _, _ in flag_fields(cls))

    @classmethod
    def from_options(cls, options: dict):
        values = {}
        for f, _, kind in flag_fields(cls):
            value = options.get(cls.PREFIX + f.name)
            if value is not None:
                values[f.name] = kind(value)
        return cls(**values).validate()

    def validate(self):
        return self
