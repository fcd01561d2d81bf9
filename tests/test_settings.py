"""Option dataclasses declare their flags: a new field is a new flag, with its help and default."""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass

import pytest

from deepfake_edge.app.commands.arguments import add_setting_flags
from deepfake_edge.runtime.settings import setting
from deepfake_edge.train.config import MODEL_OPTION_FLAGS, TrainConfig


@dataclass
class Knobs:
    rate: float = setting(0.25, "how fast", metavar="X")
    count: int | None = setting(None, "how many", metavar="N")
    mode: str = setting("a", "which one", choices=("a", "b"))
    loud: bool = setting(False, "shout")
    tidy: bool = setting(True, "", positive=False, negative="--messy", negative_help="leave a mess")
    internal: dict | None = None  # no flag


def _parse(*argv):
    parser = argparse.ArgumentParser()
    dests = add_setting_flags(parser, Knobs)
    return parser, dests, vars(parser.parse_args(list(argv)))


def test_every_field_with_a_setting_becomes_a_typed_flag_that_defaults_to_not_given():
    parser, dests, args = _parse()
    assert dests == ["rate", "count", "mode", "loud", "tidy"]
    assert args == {"rate": None, "count": None, "mode": None, "loud": None, "tidy": None}
    _, _, args = _parse("--rate", "0.5", "--count", "3", "--mode", "b", "--loud", "--messy")
    assert args == {"rate": 0.5, "count": 3, "mode": "b", "loud": True, "tidy": False}
    assert isinstance(args["count"], int) and isinstance(args["rate"], float)
    text = parser.format_help()
    assert "how fast (default 0.25)" in text and "--messy" in text and "--tidy" not in text
    with pytest.raises(SystemExit):
        _parse("--mode", "c")  # choices come from the field
    with pytest.raises(TypeError, match="mutable default"):
        setting({}, "a dict default would be shared between instances")


def test_train_has_a_flag_for_every_setting_a_user_can_give():
    """The CLI reads TrainConfig: every field is a flag except the two dicts recipes and benchmarks fill."""
    from deepfake_edge.app import cli

    parser = cli.build_parser()
    train = next(a for a in parser._subparsers._group_actions[0].choices.items() if a[0] == "train")[1]
    dests = {a.dest for a in train._actions}
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert fields - dests == {"model_options", "augment_options"}
    assert set(MODEL_OPTION_FLAGS) <= dests
    args = train.parse_args(["--out", "r", "--data", "d", "--patience", "3", "--no-pretrained", "--blocks", "9"])
    from deepfake_edge.app.commands.train import given_settings

    assert given_settings(args) == {"data_dir": "d", "patience": 3, "pretrained": False, "blocks": 9}


def test_step_options_read_their_prefixed_names_keep_defaults_for_unset_and_validate():
    from deepfake_edge.export.options import EngineOptions, TritonOptions, WebOptions
    from deepfake_edge.runtime.errors import InputError
    from deepfake_edge.runtime.formats import FORMATS

    assert TritonOptions.option_names() == ("triton_max_batch", "triton_queue_delay_us", "triton_instance_kind",
                                           "triton_instances")
    opts = TritonOptions.from_options({"triton_max_batch": "8", "triton_instances": None, "max_batch": 99})
    assert opts.max_batch == 8 and opts.instances == 1  # only its own prefix; None = the default
    assert WebOptions.from_options({"web_webgpu": False}).webgpu is False
    assert str(EngineOptions.from_options({"timing_cache": "t.cache"}).timing_cache) == "t.cache"
    with pytest.raises(InputError, match="--triton-instance-kind must be auto, cpu or gpu"):
        TritonOptions.from_options({"triton_instance_kind": "tpu"})
    engine = next(f for f in FORMATS if f.name == "engine")
    assert engine.options == tuple(f.name for f in dataclasses.fields(EngineOptions))  # the row reads the class


def test_self_blending_settings_travel_as_one_object_copied_by_name_from_the_config():
    from deepfake_edge.train.data import SelfBlend

    config = TrainConfig(sbi_ratio=0.25, sbi_mask="ellipse", sbi_jpeg=0.5)
    blend = SelfBlend.of(config)
    assert (blend.sbi_ratio, blend.sbi_mask, blend.sbi_jpeg, blend.landmarks) == (0.25, "ellipse", 0.5, None)
    named = {f.name for f in dataclasses.fields(SelfBlend)} - {"landmarks"}
    assert named <= {f.name for f in dataclasses.fields(TrainConfig)}  # nothing silently left at its default


def test_a_settings_dict_spelled_as_train_flags_parses_back_to_the_same_settings():
    """Benchmarks print the CLI equivalent of what they ran: it must be exactly that."""
    from deepfake_edge.app import cli
    from deepfake_edge.app.commands.train import given_settings
    from deepfake_edge.runtime.errors import InputError
    from deepfake_edge.train.config import train_flags

    settings = {"epochs": 12, "time_budget": 26.0, "sbi_ratio": 0.25, "sbi_mask": "landmarks", "pretrained": False,
                "flip_average": True, "blocks": 14, "teacher": "runs/xl-teacher"}
    args = cli.build_parser().parse_args(["train", "--data", "d", "--out", "r", *train_flags(settings)])
    assert given_settings(args) == {"data_dir": "d", **settings}
    with pytest.raises(InputError, match="'model_options' has no train flag"):
        train_flags({"model_options": {"width": 1}})
