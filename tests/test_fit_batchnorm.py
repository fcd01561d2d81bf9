"""Short training runs speed up BatchNorm statistics everywhere in the model, nested models included."""
from __future__ import annotations

import logging


def _nested_model(keras):
    """An application-style functional sub-model (BN momentum 0.99 and 0.5) used as ONE layer of an
    outer functional model that has its own BN, plus a nested Sequential and a shared sub-model."""
    layers = keras.layers
    inner_in = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same")(inner_in)
    x = layers.BatchNormalization(momentum=0.99, name="inner_bn_default")(x)
    x = layers.BatchNormalization(momentum=0.5, name="inner_bn_low")(x)
    inner = keras.Model(inner_in, x, name="backbone")
    seq = keras.Sequential([layers.Conv2D(4, 1), layers.BatchNormalization(momentum=0.999, name="seq_bn")], name="seq")

    inputs = keras.Input((8, 8, 3))
    y = inner(inputs)
    y = inner(y[..., :3])  # the same sub-model twice: its layers are visited once
    y = seq(y)
    y = layers.BatchNormalization(momentum=0.99, name="outer_bn")(y)
    outputs = layers.Dense(2, activation="softmax")(layers.GlobalAveragePooling2D()(y))
    return keras.Model(inputs, outputs, name="outer")


def _momenta(model):
    inner, seq = model.get_layer("backbone"), model.get_layer("seq")
    return {
        "inner_bn_default": inner.get_layer("inner_bn_default").momentum,
        "inner_bn_low": inner.get_layer("inner_bn_low").momentum,
        "seq_bn": seq.get_layer("seq_bn").momentum,
        "outer_bn": model.get_layer("outer_bn").momentum,
    }


def test_short_run_sets_momentum_in_nested_models_and_keeps_lower_ones(caplog):
    import keras

    from deepfake_edge.train.fit import _adapt_batchnorm

    model = _nested_model(keras)
    with caplog.at_level(logging.INFO, logger="deepfake_edge.train.fit"):
        _adapt_batchnorm(model, total_steps=100)
    assert _momenta(model) == {"inner_bn_default": 0.9, "inner_bn_low": 0.5, "seq_bn": 0.9, "outer_bn": 0.9}
    assert "BatchNorm momentum 0.9 on 3 layers" in caplog.text


def test_long_run_keeps_the_architecture_momentum():
    import keras

    from deepfake_edge.train.fit import _adapt_batchnorm

    model = _nested_model(keras)
    _adapt_batchnorm(model, total_steps=3000)
    assert _momenta(model) == {"inner_bn_default": 0.99, "inner_bn_low": 0.5, "seq_bn": 0.999, "outer_bn": 0.99}


def test_keras_application_inside_a_functional_model():
    """The real case: `keras.applications` backbone (BN momentum 0.999) wrapped by a head."""
    import keras

    from deepfake_edge.train.fit import _adapt_batchnorm

    backbone = keras.applications.MobileNetV3Small(input_shape=(32, 32, 3), include_top=False, weights=None,
                                                   include_preprocessing=False)
    inputs = keras.Input((32, 32, 3))
    outputs = keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling2D()(backbone(inputs)))
    model = keras.Model(inputs, outputs)
    bns = [layer for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(bns) > 10 and all(bn.momentum > 0.9 for bn in bns)

    _adapt_batchnorm(model, total_steps=50)
    assert [bn.momentum for bn in bns] == [0.9] * len(bns)
