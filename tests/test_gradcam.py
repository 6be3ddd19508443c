"""utils.gradcam and plots.plot_gradcam: the heatmap points at the evidence (Selvaraju et al. 2017)."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from utils import gradcam, lessons, plots  # noqa: E402

SIZE = 16


def _bright_detector(name="detector"):
    """P(dog) grows with brightness: 1×1 ReLU conv (all weights 1) → average → Dense(+1)."""
    model = keras.Sequential([
        keras.Input((SIZE, SIZE, 3)),
        keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(2, 1, activation="relu", name="conv_a"),
        keras.layers.Conv2D(1, 1, activation="relu", name="conv_last"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(1, activation="sigmoid"),
    ], name=name)
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel, bias = layer.get_weights()
            layer.set_weights([np.ones_like(kernel), np.zeros_like(bias)])
    dense = model.layers[-1]
    dense.set_weights([np.ones((1, 1), np.float32), np.array([-1.0], np.float32)])
    return model


def _image_with_bright_corner():
    image = np.zeros((SIZE, SIZE, 3), np.float32)
    image[:5, -5:] = 255.0  # top-right corner
    return image


def test_heatmap_shape_range_and_location():
    model = _bright_detector()
    heatmap = gradcam.gradcam_heatmap(model, _image_with_bright_corner(), class_index=1)
    assert heatmap.shape == (SIZE, SIZE) and heatmap.dtype == np.float32
    assert heatmap.min() >= 0.0 and heatmap.max() == pytest.approx(1.0)
    row, col = np.unravel_index(np.argmax(heatmap), heatmap.shape)
    assert row < 5 and col >= SIZE - 5, "the heat sits on the bright corner"
    assert heatmap[SIZE - 1, 0] == 0.0


def test_no_evidence_for_the_other_class_gives_zeros():
    heatmap = gradcam.gradcam_heatmap(_bright_detector(), _image_with_bright_corner(), class_index=0)
    assert heatmap.shape == (SIZE, SIZE) and not heatmap.any()


def test_saturated_sigmoid_still_gives_a_heatmap():
    """The logit is explained, so P(dog) ≈ 1 does not make the gradient vanish."""
    model = _bright_detector()
    model.layers[-1].set_weights([np.full((1, 1), 200.0, np.float32), np.zeros(1, np.float32)])
    image = _image_with_bright_corner()
    assert float(model(image[None])[0, 0]) == pytest.approx(1.0)
    heatmap = gradcam.gradcam_heatmap(model, image)
    assert heatmap.max() == pytest.approx(1.0)
    assert model.layers[-1].activation is keras.activations.sigmoid, "the model is left as it was"
    assert float(model(image[None])[0, 0]) == pytest.approx(1.0)


def test_default_layer_is_the_last_conv_and_names_are_checked():
    model = _bright_detector()
    assert gradcam.find_layer(model).name == "conv_last"
    assert gradcam.gradcam_heatmap(model, _image_with_bright_corner(), layer_name="conv_a").shape == (SIZE, SIZE)
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        gradcam.gradcam_heatmap(model, _image_with_bright_corner(), layer_name="nope")
    dense_only = keras.Sequential([keras.Input((4, 4, 3)), keras.layers.Flatten(),
                                   keras.layers.Dense(1, activation="sigmoid")], name="mlp")
    with pytest.raises(ValueError, match="no Conv2D"):
        gradcam.gradcam_heatmap(dense_only, np.zeros((4, 4, 3)))


def test_bad_inputs():
    model = _bright_detector()
    with pytest.raises(ValueError, match=r"\(h, w, 3\)"):
        gradcam.gradcam_heatmap(model, np.zeros((2, SIZE, SIZE, 3)))
    with pytest.raises(ValueError, match="class_index"):
        gradcam.gradcam_heatmap(model, _image_with_bright_corner(), class_index=2)
    with pytest.raises(ValueError, match="alpha"):
        gradcam.overlay(np.zeros((4, 4, 3)), np.zeros((2, 2)), alpha=2)


def test_nested_frozen_base_like_vgg16():
    """A classifier holding a frozen base model (as VGG16 transfer learning does)."""
    base = keras.Sequential([keras.Input((SIZE, SIZE, 3)),
                             keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="block1_conv1"),
                             keras.layers.MaxPooling2D(),
                             keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="block5_conv3")],
                            name="vgg16")
    base.trainable = False
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = base(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs, name="vgg16_finetune")
    keras.utils.set_random_seed(0)
    image = np.random.default_rng(0).uniform(0, 255, (SIZE, SIZE, 3)).astype(np.float32)
    before = keras.ops.convert_to_numpy(model(image[None]))
    assert gradcam.find_layer(model).name == "block5_conv3"
    heatmap = gradcam.gradcam_heatmap(model, image)
    assert heatmap.shape == (SIZE // 2, SIZE // 2)
    assert 0.0 <= heatmap.min() and heatmap.max() <= 1.0
    # the hooks are gone: the model answers as it did before Grad-CAM ran
    assert np.allclose(keras.ops.convert_to_numpy(model(image[None])), before)
    assert base.trainable is False and "call" not in vars(base.layers[-1])


@pytest.mark.parametrize("class_index", [1, 0])
def test_heatmap_equals_the_gradient_worked_out_by_hand(class_index):
    """A model whose Grad-CAM can be written down: 1×1 conv (no ReLU) → average → Dense.

    With feature maps A (h, w, K), logit z = Σ_k v_k mean(A_k) + b, so ∂z/∂A_k(i, j) =
    v_k / (h·w) everywhere: α_k = v_k / (h·w) and the map is ReLU(±Σ_k α_k A_k), scaled
    to a peak of 1. The channels' weights have mixed signs, so a wrong sign, a wrong
    channel, or gradients not averaged per channel change the answer.
    """
    rng = np.random.default_rng(3)
    kernel = rng.normal(size=(1, 1, 3, 4)).astype(np.float32)
    v = np.array([[1.5], [-2.0], [0.5], [-0.25]], np.float32)
    model = keras.Sequential([keras.Input((6, 5, 3)),
                              keras.layers.Conv2D(4, 1, name="maps"),
                              keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(1, activation="sigmoid")])
    model.layers[0].set_weights([kernel, np.zeros(4, np.float32)])
    model.layers[-1].set_weights([v, np.array([0.1], np.float32)])
    image = rng.uniform(0, 1, (6, 5, 3)).astype(np.float32)

    maps = image @ kernel[0, 0]                        # (6, 5, 4): a 1×1 convolution
    alpha = v[:, 0] / (6 * 5)
    sign = 1.0 if class_index == 1 else -1.0
    expected = np.maximum(sign * (maps @ alpha), 0.0)
    expected = expected / expected.max()

    heatmap = gradcam.gradcam_heatmap(model, image, class_index=class_index)
    assert heatmap.shape == (6, 5)
    np.testing.assert_allclose(heatmap, expected, atol=1e-5)


def test_overlay_and_plot_gradcam(tmp_path):
    model = _bright_detector()
    image = _image_with_bright_corner()
    blended = gradcam.overlay(image, np.eye(4, dtype=np.float32))
    assert blended.shape == (SIZE, SIZE, 3) and blended.dtype == np.uint8
    images = np.stack([image, np.zeros_like(image)])
    fig = plots.plot_gradcam(model, images, labels=[1, 1], path=tmp_path / "gc.png")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 2 and all(t.startswith("true: dog") for t in titles)
    colours = [ax.title.get_color() for ax in fig.axes if ax.get_title()]
    assert plots.MISTAKE_COLOUR in colours, "the dark image is predicted cat: a mistake"
    assert (tmp_path / "gc.png").is_file()
    with pytest.raises(ValueError, match="labels"):
        plots.plot_gradcam(model, images, labels=[1])
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.mark.slow
def test_the_course_vgg16_classifier():
    """The real VGG16 classifier of notebook 06 (random weights, 32×32): block5_conv3 is found."""
    finetune = pytest.importorskip("utils.finetune")
    base = lessons.build_vgg16(include_top=False, input_shape=(32, 32, 3))
    model = finetune.build_classifier(base, head="pool", name="vgg16_finetune")
    image = np.random.default_rng(0).uniform(0, 255, (32, 32, 3)).astype(np.float32)
    assert gradcam.find_layer(model).name == "block5_conv3"
    heatmap = gradcam.gradcam_heatmap(model, image)
    assert heatmap.shape == (2, 2) and 0.0 <= heatmap.min() and heatmap.max() <= 1.0


def test_a_small_cnn_is_explained_where_its_map_still_has_a_grid():
    """cnn_small on 64×64 photos: conv_4's map is 4×4, too coarse to say where; conv_3's is 12×12."""
    model = lessons.build_cnn_small((64, 64))
    assert model.get_layer("conv_4").output.shape[1:3] == (4, 4)
    assert gradcam.find_layer(model).name == "conv_4"                  # the default: the last one
    layer = gradcam.find_layer(model, min_grid=gradcam.MIN_GRID)
    assert layer.name == "conv_3"
    image = np.random.default_rng(0).uniform(0, 255, (64, 64, 3)).astype(np.float32)
    assert gradcam.gradcam_heatmap(model, image, layer_name=layer.name).shape == (12, 12)
    # a CNN whose every map is coarse still gets its last convolution
    tiny = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3, name="only_conv"),
                             keras.layers.Flatten(), keras.layers.Dense(1, activation="sigmoid")])
    assert gradcam.find_layer(tiny, min_grid=gradcam.MIN_GRID).name == "only_conv"      # 6×6, the only one
