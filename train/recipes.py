"""Named training recipes: `deepfake-edge train --recipe NAME` and `benchmarks/quality.py`.

A recipe is a set of `train.fit.train` arguments; options given explicitly on the command
line (or as keyword arguments) win over the recipe's. Both entries are measured against
each other in benchmarks/results/quality.md.
"""
from __future__ import annotations

from deepfake_edge.runtime.errors import InputError

RECIPES: dict[str, dict] = {
    # The original project's recipe: its CNN at 256 px, Adam 1e-3 halved on a validation
    # plateau, standard augmentation, no source grouping (the plain `train` defaults).
    "seed": dict(arch="seed-cnn", img_size=256, batch_size=32, lr=1e-3, schedule="plateau", groups="none"),
    # The edge deployment default, chosen by the experiments in
    # benchmarks/results/quality.experiments.jsonl: edge-net at width 0.75 and 96 px, lr
    # 4e-3 on a cosine schedule, label smoothing 0.1, real/fake twins side by side when the
    # dataset names them (`groups` auto = DATA/groups.csv when present). Width 0.75 matched
    # width 1's Test AUC over four seeds at two thirds of its latency (x29, x30).
    "edge": dict(arch="edge-net", img_size=96, batch_size=32, lr=4e-3, schedule="cosine", label_smoothing=0.1,
                 groups="auto", model_options={"width": 0.75}),
    # A stronger, slower model to distil from (`train --recipe edge --teacher RUN_DIR`):
    # torchvision's ImageNet MobileNetV2 (offline, `deepfake-edge weights`) fine-tuned at
    # the edge model's 96 px, so it scores the student's crops as they are; a lower rate than
    # from scratch so the ImageNet features are adapted rather than overwritten.
    "teacher": dict(arch="mobilenet-v2", pretrained=True, img_size=96, batch_size=32, lr=5e-4, schedule="cosine",
                    label_smoothing=0.1, groups="auto"),
}


def recipe(name: str) -> dict:
    """A copy of the named recipe's `train()` arguments; InputError listing the names otherwise."""
    if name not in RECIPES:
        raise InputError(f"unknown recipe {name!r}; choose one of: {', '.join(RECIPES)}")
    return dict(RECIPES[name])
