"""The lesson models have one source, their notebook cell: utils/lessons.py is generated from it, fresh, and builds what the lessons teach."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from course.tools import lessons as exporter
from utils import conv_arithmetic, lessons


# -- the generated module ---------------------------------------------------------

def test_generated_module_is_fresh():
    """Editing a #@save cell without re-exporting fails here: the cell and the module never drift."""
    current = (exporter.ROOT / exporter.TARGET).read_text(encoding="utf-8")
    assert current == exporter.render(), "utils/lessons.py is stale: run python -m course.tools.lessons"


def test_every_reused_builder_comes_from_a_notebook_cell():
    cells = exporter.saved_cells()
    notebooks = {notebook.split("/")[-1][:2] for notebook, _, _ in cells}
    assert notebooks == {"02", "03", "04", "05", "06", "07"}
    names = {name for name in vars(lessons) if not name.startswith("_")}
    assert {"build_mlp", "build_cnn_seed", "build_cnn_small", "build_augmenter", "random_affine",
            "augment_dataset", "build_cnn_bn", "conv_block", "fc_block", "build_vgg16", "head_layers", "value_and_grad"} <= names


def _notebook(tmp_path, *sources):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    cells = [{"cell_type": "code", "id": f"c{i}", "metadata": {}, "outputs": [], "execution_count": None,
              "source": source} for i, source in enumerate(sources)]
    (folder / "02_x.ipynb").write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                                   "nbformat_minor": 5}), encoding="utf-8")
    return tmp_path


def test_exporter_takes_marked_cells_only_and_in_order(tmp_path):
    root = _notebook(tmp_path, "#@save\ndef a():\n    return 1\n", "def b():\n    return 2\n",
                     "#@save\nB = 3  # a constant\n")
    text = exporter.render(root)
    assert "def a():" in text and "B = 3" in text and "def b()" not in text
    assert text.index("def a():") < text.index("B = 3")
    assert "GENERATED" in text and "notebooks/02_x.ipynb" in text


def test_exporter_refuses_a_marked_cell_that_does_work(tmp_path):
    root = _notebook(tmp_path, "#@save\ndef a():\n    return 1\n\nmodel = a()\nmodel.summary()\n")
    with pytest.raises(ValueError, match="only defines"):
        exporter.render(root)


# -- 02: the MLP ------------------------------------------------------------------------

def test_mlp_has_the_seeds_layers_and_hand_counted_parameters():
    model = lessons.build_mlp((32, 32))
    assert model.name == "mlp_pixels" and model.output_shape == (None, 1)
    assert [layer.units for layer in model.layers if isinstance(layer, keras.layers.Dense)] == [768, 384, 1]
    assert model.count_params() == 3072 * 768 + 768 + 768 * 384 + 384 + 384 + 1 == 2_655_745


def test_mlp_input_layers_replace_the_rescaling():
    raw = lessons.build_mlp((8, 8), [])
    assert not any(isinstance(layer, keras.layers.Rescaling) for layer in raw.layers)
    mean, std = np.array([120.0, 110.0, 100.0]), np.array([60.0, 50.0, 40.0])
    standardised = lessons.build_mlp((4, 4), [keras.layers.Normalization(mean=mean, variance=std ** 2)])
    images = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(standardised.layers[0](images)), (images - mean) / std, rtol=1e-5, atol=1e-5)


def test_mlp_dropout_and_flip_act_only_in_training():
    keras.utils.set_random_seed(0)   # the same initial weights whichever tests ran before
    model = lessons.build_mlp((8, 8), [keras.layers.RandomFlip("horizontal", seed=3)], dropout=0.5, seed=3)
    assert sum(isinstance(layer, keras.layers.Dropout) for layer in model.layers) == 2
    # inputs in [0, 1]: raw [0, 255] pixels (no Rescaling here) saturate the sigmoid at 0 or 1,
    # where dropout's change of the logit no longer shows in P(dog)
    images = np.random.default_rng(0).uniform(0, 1, (6, 8, 8, 3)).astype("float32")
    at_inference = keras.ops.convert_to_numpy(model(images, training=False))
    np.testing.assert_array_equal(at_inference, keras.ops.convert_to_numpy(model(images, training=False)))
    assert not np.allclose(keras.ops.convert_to_numpy(model(images, training=True)), at_inference)


# -- 03: the CNNs -----------------------------------------------------------------------

def test_cnn_seed_sizes_follow_the_convolution_arithmetic():
    model = lessons.build_cnn_seed((64, 64))
    assert model.get_layer("conv_1").count_params() == conv_arithmetic.conv2d_params(3, 3, 32)
    side = 64
    for index in (1, 2, 3):
        side = conv_arithmetic.conv_output_size(side, 3)          # 'valid' convolution
        assert model.get_layer(f"conv_{index}").output.shape[1] == side
        side //= 2
        assert model.get_layer(f"pool_{index}").output.shape[1] == side


def test_cnn_small_has_a_fourth_block_and_a_smaller_dense_layer():
    seed, small = lessons.build_cnn_seed((128, 128)), lessons.build_cnn_small((128, 128))
    assert small.get_layer("pool_4").output.shape[1:] == (6, 6, 64)
    assert small.get_layer("dense").count_params() == 6 * 6 * 64 * 64 + 64
    assert small.count_params() < seed.count_params() / 3
    assert keras.ops.convert_to_numpy(small(np.zeros((2, 128, 128, 3), "float32"))).shape == (2, 1)


def test_cnn_small_places_augmentation_right_after_the_input():
    model = lessons.build_cnn_small((64, 64), augmentation=keras.layers.RandomFlip("horizontal", name="flip"),
                                    name="cnn_aug")
    assert [layer.name for layer in model.layers[1:3]] == ["flip", "rescale"] and model.name == "cnn_aug"


# -- 04: cnn_bn ---------------------------------------------------------------------------

def test_cnn_bn_normalises_every_block_and_pools_globally():
    model = lessons.build_cnn_bn((96, 96))
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Conv2D") == kinds.count("BatchNormalization") == 4 and "Flatten" not in kinds
    assert all(not model.get_layer(f"conv_{i}").use_bias for i in range(1, 5))
    assert model.get_layer("pool_4").output.shape[1:] == (4, 4, 256)
    assert model.get_layer("p_dog").count_params() == 256 + 1        # the head: one weight per map
    images = np.random.default_rng(0).uniform(0, 255, (4, 96, 96, 3)).astype("float32")
    inference = keras.ops.convert_to_numpy(model(images, training=False))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(images, training=False)), inference)


def test_cnn_bn_refuses_photos_too_small_for_its_blocks():
    with pytest.raises(ValueError, match="94×94"):
        lessons.build_cnn_bn((93, 96), (8, 8, 8, 8, 8))
    with pytest.raises(ValueError, match="46×46"):
        lessons.build_cnn_bn((45, 96))
    model = lessons.build_cnn_bn((94, 94), (8, 8, 8, 8, 16))      # the smallest photo five blocks take
    assert model.get_layer("pool_5").output.shape[1:] == (1, 1, 16)


# -- 06: the transfer head -------------------------------------------------------------

def test_head_layers_dense_and_pool():
    assert [layer.name for layer in lessons.head_layers("dense")] == ["flatten", "head_dense", "head_dropout", "p_dog"]
    assert [layer.name for layer in lessons.head_layers("pool", dropout=0.0)] == ["head_pool", "p_dog"]
    with pytest.raises(ValueError, match="head"):
        lessons.head_layers("attention")
