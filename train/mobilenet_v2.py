"""MobileNetV2 in Keras, laid out exactly like torchvision's, so its ImageNet weights port over.

Keras' own `keras.applications.MobileNetV2` cannot take torchvision's weights as they
are: it pads stride-2 convolutions asymmetrically (ZeroPadding2D to the bottom/right, then
'valid'), torchvision symmetrically (`padding=1`), and its BatchNorm epsilon is 1e-3
against PyTorch's 1e-5; either difference changes every output. This network uses
torchvision's padding and epsilon, names each layer after its torchvision parameter
prefix (`features.3.conv.1.0` -> `features_3_conv_1_0`), and `port_weights` converts a
torchvision state dict layer by layer (convolutions OIHW -> HWIO, depthwise OIHW ->
HWC1, linear OI -> IO), checking every shape.

`mobilenet_v2(include_top=True)` ends in torchvision's 1000-class logits (used to prove
the port reproduces torchvision, `tests/test_pretrained.py`); the training architecture
(`train.models`, "mobilenet-v2") puts the 2-class head of every project model on the
1280-channel features instead.
"""
from __future__ import annotations

import numpy as np

from deepfake_edge.train.torch_weights import port_state_dict

# torchvision's inverted residual settings: expansion t, channels c, repeats n, first stride s
SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
            (6, 320, 1, 1))
BN_EPSILON = 1e-5  # PyTorch's BatchNorm2d default
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def imagenet_normalization():
    """torchvision's input normalisation, `(x / 255 - mean) / std`, as a contract Normalization."""
    from deepfake_edge.runtime.contract import Normalization

    return Normalization(scale=tuple(1.0 / (255.0 * s) for s in IMAGENET_STD),
                         offset=tuple(-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)))


def _name(prefix: str) -> str:
    return prefix.replace(".", "_")


def _conv_bn_relu(x, layers, filters, kernel, stride, prefix, depthwise=False):
    """torchvision's Conv2dNormActivation: conv (symmetric padding, no bias) -> BN -> ReLU6."""
    pad = (kernel - 1) // 2
    if pad and stride > 1:
        x = layers.ZeroPadding2D(pad, name=_name(prefix) + "_pad")(x)
        padding = "valid"
    else:
        padding = "same"  # stride 1, odd kernel: 'same' pads symmetrically, as torchvision does
    if depthwise:
        x = layers.DepthwiseConv2D(kernel, strides=stride, padding=padding, use_bias=False,
                                   name=_name(prefix + ".0"))(x)
    else:
        x = layers.Conv2D(filters, kernel, strides=stride, padding=padding, use_bias=False,
                          name=_name(prefix + ".0"))(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=_name(prefix + ".1"))(x)
    return layers.ReLU(6.0, name=_name(prefix) + "_relu")(x)


def _inverted_residual(x, layers, out_ch, stride, expand, index):
    prefix = f"features.{index}.conv"
    in_ch = x.shape[-1]
    y, part = x, 0
    if expand != 1:
        y = _conv_bn_relu(y, layers, in_ch * expand, 1, 1, f"{prefix}.{part}")
        part += 1
    y = _conv_bn_relu(y, layers, None, 3, stride, f"{prefix}.{part}", depthwise=True)
    y = layers.Conv2D(out_ch, 1, use_bias=False, name=_name(f"{prefix}.{part + 1}"))(y)
    y = layers.BatchNormalization(epsilon=BN_EPSILON, name=_name(f"{prefix}.{part + 2}"))(y)
    if stride == 1 and in_ch == out_ch:
        y = layers.Add(name=f"features_{index}_add")([x, y])
    return y


BLOCKS = sum(n for _, _, n, _ in SETTINGS)  # 17 inverted residual blocks, features.1 .. features.17


def mobilenet_v2(input_size: int = 224, include_top: bool = False, blocks: int = BLOCKS):
    """The Keras network: (N, S, S, 3) ImageNet-normalised RGB -> 1280 features (or 1000 logits).

    `blocks` < 17 truncates it after that many inverted residual blocks (features.1 ..
    features.<blocks>), without the final 1x1 convolution: the early, ImageNet-initialised
    layers at a fraction of the depth, which at batch 1 on a CPU is what sets latency (per
    layer overhead, not FLOPs, dominates a 64 px crop).
    """
    if not 1 <= blocks <= BLOCKS:
        raise ValueError(f"blocks must be 1..{BLOCKS}, got {blocks}")
    if include_top and blocks != BLOCKS:
        raise ValueError("include_top needs the whole network (blocks=17)")
    import keras
    from keras import layers

    inputs = keras.Input((input_size, input_size, 3), name="input")
    x = _conv_bn_relu(inputs, layers, 32, 3, 2, "features.0")
    index = 1
    for t, c, n, s in SETTINGS:
        for i in range(n):
            if index > blocks:
                break
            x = _inverted_residual(x, layers, c, s if i == 0 else 1, t, index)
            index += 1
    if blocks == BLOCKS:
        x = _conv_bn_relu(x, layers, 1280, 1, 1, f"features.{index}")
    if include_top:
        x = layers.GlobalAveragePooling2D(name="pool")(x)
        x = layers.Dense(1000, name="classifier_1")(x)
    return keras.Model(inputs, x, name="mobilenet_v2")


def port_weights(model, state: dict[str, np.ndarray], where: str = "weights") -> dict[str, list[np.ndarray]]:
    """torchvision state dict -> Keras arrays for `model`'s layers (`torch_weights.port_state_dict`)."""
    return port_state_dict(model, state, where, torch_name=lambda name: name.replace("_", "."), network="torchvision MobileNetV2")
