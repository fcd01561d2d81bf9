"""Named training recipes: presets over `train.config.TrainConfig`, one table for every caller.

`deepfake-edge train --recipe NAME`, `deepfake-edge demo` (the "demo" row) and the
benchmarks (`benchmarks/quality.py`, `benchmarks/xl_study.py`) all read this table; a
recipe's values are TrainConfig fields, and settings given explicitly win over them
(`train.config.resolve`). The seed and edge-net rows are measured against each other in
benchmarks/results/quality.md; edge, edge-imagenet and teacher in
benchmarks/results/xl_study.md, and edge against edge-net at 5k / 10k / 23k faces in
benchmarks/results/data_scaling.md.
"""
from __future__ import annotations

from deepfake_edge.runtime.errors import InputError

RECIPES: dict[str, dict] = {
    # The original project's recipe: its CNN at 256 px, Adam 1e-3 halved on a validation
    # plateau, standard augmentation, no source grouping (the plain `train` defaults).
    "seed": dict(arch="seed-cnn", img_size=256, batch_size=32, lr=1e-3, schedule="plateau", groups="none"),
    # The edge deployment default since session 12: torchvision's ImageNet MobileNetV2
    # (offline, `deepfake-edge weights`, run by `make setup`) cut after its 14th block, at
    # 64 px, fine-tuned 12 epochs on a cosine schedule. Measured against the from-scratch
    # edge-net row below on the same faces: Test AUC 0.868 vs 0.757 on 5k faces, and 0.905 /
    # 0.922 / 0.929 over three seeds vs 0.814 on 23k (benchmarks/results/data_scaling.md,
    # xl_study.md), at 0.43-0.50 ms batch-1 ONNX on 2 cores (0.72M parameters).
    "edge": dict(arch="mobilenet-v2", pretrained=True, img_size=64, batch_size=32, epochs=12, lr=5e-4,
                 schedule="cosine", label_smoothing=0.1, groups="auto", model_options={"blocks": 14}),
    # The from-scratch edge model (the edge default until session 12; no ImageNet weights
    # needed), chosen by the experiments in benchmarks/results/quality.experiments.jsonl:
    # edge-net at width 0.75 and 96 px, lr 4e-3 on a cosine schedule, label smoothing 0.1,
    # real/fake twins side by side when the dataset names them (`groups` auto =
    # DATA/groups.csv when present). Width 0.75 matched width 1's Test AUC over four seeds at
    # two thirds of its latency (x29, x30).
    "edge-net": dict(arch="edge-net", img_size=96, batch_size=32, lr=4e-3, schedule="cosine", label_smoothing=0.1,
                     groups="auto", model_options={"width": 0.75}),
    # A stronger, slower model to distil from (`train --recipe edge-net --teacher RUN_DIR`):
    # torchvision's ImageNet MobileNetV2 (offline, `deepfake-edge weights`) fine-tuned at
    # the edge model's 96 px, so it scores the student's crops as they are; a lower rate than
    # from scratch so the ImageNet features are adapted rather than overwritten.
    "teacher": dict(arch="mobilenet-v2", pretrained=True, img_size=96, batch_size=32, lr=5e-4, schedule="cosine",
                    label_smoothing=0.1, groups="auto"),
    # The teacher's ImageNet network at 64 px: Test AUC 0.906 on 23k DFDC faces at 0.56 ms
    # batch-1 ONNX, 48.9 MFLOPs (xl_study.md, xl-mobilenet-64): the quality pick when 2.26M
    # parameters fit the device. Needs `deepfake-edge weights` (run by `make setup`).
    "edge-imagenet": dict(arch="mobilenet-v2", pretrained=True, img_size=64, batch_size=32, lr=5e-4,
                          schedule="cosine", label_smoothing=0.1, groups="auto"),
    # `deepfake-edge demo` on its embedded 562 training faces (app/demo.py): all-depthwise
    # edge-net (the default Fused-MBConv blocks gave Test AUC 0.67 where this gives 0.79 on
    # the demo's 120 Test images), 96 px (64 px / 12 epochs gave 0.67), 16 epochs.
    "demo": dict(arch="edge-net", img_size=96, batch_size=16, epochs=16, lr=3e-3, model_options={"fused_blocks": 0}),
}


# Former names, so the commands recorded in benchmarks/results still run what they ran:
# `edge-imagenet-lite` was the name of today's `edge` row (without its epochs=12, which every
# recorded run gave with --epochs 12).
ALIASES: dict[str, str] = {"edge-imagenet-lite": "edge"}


def recipe(name: str) -> dict:
    """A copy of the named recipe's TrainConfig values; InputError listing the names otherwise."""
    name = ALIASES.get(name, name)
    if name not in RECIPES:
        raise InputError(f"unknown recipe {name!r}; choose one of: {', '.join(RECIPES)}")
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in RECIPES[name].items()}


def recipe_names() -> list[str]:
    """Every name `--recipe` accepts: the table's rows and their former names."""
    return sorted({*RECIPES, *ALIASES})


def recipe_config(name: str, **settings):
    """The named preset as a TrainConfig, with `settings` on top (unknown names are an error)."""
    from deepfake_edge.train.config import config_from

    return config_from({**recipe(name), **settings}, where=f"recipe {name}")
