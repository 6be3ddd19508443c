"""The MLP and CNN builders give the lessons' layers and parameter counts and refuse bad arguments."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from utils import conv_arithmetic, models


# -- build_mlp ------------------------------------------------------------------

def test_build_mlp_matches_the_seed():
    model = models.build_mlp((32, 32))
    assert model.name == "mlp_pixels"
    assert model.input_shape == (None, 32, 32, 3)
    assert model.output_shape == (None, 1)
    dense = [layer for layer in model.layers if layer.__class__.__name__ == "Dense"]
    assert [layer.units for layer in dense] == [768, 384, 1]
    assert model.count_params() == 3072 * 768 + 768 + 768 * 384 + 384 + 384 + 1
    assert model.compiled


def test_build_mlp_normalise_switch_and_output_range():
    scaled = models.build_mlp((8, 8), hidden_units=(4,), compile=False)
    unscaled = models.build_mlp((8, 8), hidden_units=(4,), normalise=False, compile=False)
    assert unscaled.name == "mlp_unscaled"
    assert any(layer.name == "rescale" for layer in scaled.layers)
    assert not any(layer.name == "rescale" for layer in unscaled.layers)
    assert not scaled.compiled
    images = np.random.default_rng(0).uniform(0, 255, (5, 8, 8, 3)).astype("float32")
    p_dog = keras.ops.convert_to_numpy(scaled(images))
    assert p_dog.shape == (5, 1)
    assert ((p_dog >= 0) & (p_dog <= 1)).all()


@pytest.mark.parametrize("kwargs", [
    dict(image_size=(32,)), dict(image_size=(0, 32)), dict(image_size="32x32"),
    dict(hidden_units=()), dict(hidden_units=(768, 0)), dict(optimizer="nadamax"),
    dict(learning_rate=-1.0), dict(mean=[1, 2, 3]), dict(std=[1, 2, 3]),
    dict(mean=[1, 2], std=[1, 2]), dict(mean=[1, 2, 3], std=[1, 0, 3]),
    dict(mean=[1, float("nan"), 3], std=[1, 1, 1]), dict(dropout=1.0), dict(dropout=-0.1),
    dict(flip="yes"),
])
def test_build_mlp_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        models.build_mlp(**kwargs)


def test_build_mlp_standardises_with_the_training_mean_and_std():
    mean, std = np.array([120.0, 110.0, 100.0]), np.array([60.0, 50.0, 40.0])
    model = models.build_mlp((4, 4), hidden_units=(3,), mean=mean, std=std, compile=False)
    assert model.name == "mlp_standardised"
    assert not any(layer.name == "rescale" for layer in model.layers)
    images = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    standardised = np.asarray(model.get_layer("standardise")(images))
    np.testing.assert_allclose(standardised, (images - mean) / std, rtol=1e-5, atol=1e-5)
    # the same trainable parameters as the plain MLP: standardising learns nothing
    plain = models.build_mlp((4, 4), hidden_units=(3,), compile=False)
    trainable = [sum(int(np.prod(w.shape)) for w in m.trainable_weights) for m in (model, plain)]
    assert trainable[0] == trainable[1]


def test_build_mlp_dropout_and_flip_act_only_in_training():
    model = models.build_mlp((8, 8), hidden_units=(16, 8), dropout=0.5, flip=True, seed=3,
                             compile=False, name="mlp_regularised")
    assert model.name == "mlp_regularised"
    names = [layer.name for layer in model.layers]
    assert names[1] == "flip" and {"dropout_1", "dropout_2"} <= set(names)
    images = np.random.default_rng(0).uniform(0, 255, (6, 8, 8, 3)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(images, training=False)),
                                  keras.ops.convert_to_numpy(model(images, training=False)))
    assert not np.allclose(keras.ops.convert_to_numpy(model(images, training=True)),
                           keras.ops.convert_to_numpy(model(images, training=False)))


# -- build_cnn ------------------------------------------------------------------

def test_build_cnn_seed_variant_layers_and_first_layer_params():
    model = models.build_cnn((64, 64), variant="seed", compile=False)
    assert model.name == "cnn_small"
    conv_1 = model.get_layer("conv_1")
    assert conv_1.count_params() == conv_arithmetic.conv2d_params(3, 3, 32)
    side = 64
    for index in (1, 2, 3):
        side = conv_arithmetic.conv_output_size(side, 3)          # 'valid' convolution
        assert model.get_layer(f"conv_{index}").output.shape[1] == side
        side = conv_arithmetic.conv_output_size(side, 2, s=2) if side % 2 == 0 else side // 2
        assert model.get_layer(f"pool_{index}").output.shape[1] == side
    assert model.output_shape == (None, 1)


def test_build_cnn_improved_variant_has_a_fourth_block_and_a_smaller_dense_layer():
    seed = models.build_cnn((128, 128), variant="seed", compile=False)
    model = models.build_cnn((128, 128), variant="improved", name="cnn_test")
    assert model.name == "cnn_test"
    assert model.compiled
    side = 128
    for _ in range(4):
        side = conv_arithmetic.conv_output_size(side, 3) // 2
    assert model.get_layer("pool_4").output.shape[1:] == (side, side, 64) == (6, 6, 64)
    assert model.get_layer("dense").count_params() == 6 * 6 * 64 * 64 + 64
    assert model.count_params() < seed.count_params() / 3
    p_dog = keras.ops.convert_to_numpy(model(np.zeros((2, 128, 128, 3), "float32")))
    assert p_dog.shape == (2, 1)


def test_build_cnn_places_augmentation_right_after_the_input():
    import keras

    flip = keras.layers.RandomFlip("horizontal", name="flip")
    model = models.build_cnn((64, 64), augmentation=flip, name="cnn_aug", compile=False)
    assert model.layers[1].name == "flip"
    assert model.layers[2].name == "rescale"


@pytest.mark.parametrize("kwargs", [
    dict(variant="vgg"), dict(dropout=1.0), dict(dropout=-0.1), dict(dropout="half"),
    dict(image_size=(45, 64)), dict(image_size=(21, 21), variant="seed"),
])
def test_build_cnn_rejects_bad_arguments(kwargs):
    arguments = dict(image_size=(64, 64), compile=False)
    arguments.update(kwargs)
    with pytest.raises(ValueError):
        models.build_cnn(**arguments)


def test_build_bn_cnn_normalises_every_block_and_pools_globally():
    import keras

    model = models.build_bn_cnn((96, 96))
    assert model.name == "cnn_bn" and not model.compiled
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Conv2D") == kinds.count("BatchNormalization") == 4
    assert "Flatten" not in kinds and "GlobalAveragePooling2D" in kinds
    assert all(not model.get_layer(f"conv_{i}").use_bias for i in range(1, 5))
    side = 96
    for _ in range(4):
        side = conv_arithmetic.conv_output_size(side, 3) // 2
    assert model.get_layer("pool_4").output.shape[1:] == (side, side, 256) == (4, 4, 256)
    assert model.get_layer("p_dog").count_params() == 256 + 1        # the head: one weight per map
    # batch normalisation uses the batch in training and its running averages at inference
    images = np.random.default_rng(0).uniform(0, 255, (4, 96, 96, 3)).astype("float32")
    inference = keras.ops.convert_to_numpy(model(images, training=False))
    assert inference.shape == (4, 1) and ((inference > 0) & (inference < 1)).all()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(images, training=False)), inference)


@pytest.mark.parametrize("kwargs", [
    dict(widths=(32, 64, 128)), dict(widths=(32, 64, 0, 256)), dict(widths=(32, 64, 128.5, 256)),
    dict(dropout=1.0), dict(image_size=(45, 96)), dict(image_size=(93, 96), widths=(8, 8, 8, 8, 8)),
])
def test_build_bn_cnn_rejects_bad_arguments(kwargs):
    arguments = dict(image_size=(96, 96))
    arguments.update(kwargs)
    with pytest.raises(ValueError):
        models.build_bn_cnn(**arguments)


def test_build_bn_cnn_fifth_block_sees_the_whole_96_pixel_photo():
    model = models.build_bn_cnn((94, 94), (8, 8, 8, 8, 16))     # the smallest photo five blocks take
    assert model.get_layer("pool_5").output.shape[1:] == (1, 1, 16)
    assert model.get_layer("p_dog").count_params() == 16 + 1


# -- optimizers -----------------------------------------------------------------

@pytest.mark.parametrize("name, cls, rate", [
    ("adam", "Adam", 1e-3), ("RMSprop", "RMSprop", 1e-3), ("sgd", "SGD", 1e-2), ("adagrad", "Adagrad", 1e-2),
])
def test_make_optimizer_gives_a_fresh_optimizer(name, cls, rate):
    first, second = models.make_optimizer(name), models.make_optimizer(name)
    assert type(first).__name__ == cls
    assert first is not second
    assert float(np.asarray(first.learning_rate)) == pytest.approx(rate)
    if cls == "SGD":
        assert first.momentum == pytest.approx(0.9)


def test_make_optimizer_rejects_rate_with_an_object():
    import keras

    with pytest.raises(ValueError, match="learning_rate"):
        models.make_optimizer(keras.optimizers.Adam(), learning_rate=0.1)
