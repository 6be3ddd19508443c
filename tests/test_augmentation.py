"""Augmentation changes images only in training: seeded, shape and dtype kept, the identity at inference (notebook 04's cells, via utils.lessons; the seeds' Pillow way)."""

import matplotlib

matplotlib.use("Agg")

import keras
import numpy as np
import pytest

from utils import augmentation, lessons, plots


@pytest.fixture(scope="module")
def images():
    """Four 32×32 RGB images, float32 in [0, 255], with structure (not flat colour)."""
    rng = np.random.default_rng(0)
    return rng.uniform(0, 255, size=(4, 32, 32, 3)).astype(np.float32)


def test_builder_uses_seed_settings_in_keras_units():
    augmenter = lessons.build_augmenter(seed=1)
    layers = {layer.name: layer for layer in augmenter.layers}
    assert list(layers) == ["rotation", "shift", "shear", "zoom", "flip"]
    assert layers["rotation"].factor == pytest.approx((-40 / 360, 40 / 360))
    assert layers["shift"].height_factor == pytest.approx(0.2)
    assert layers["shear"].x_factor == pytest.approx((-0.2, 0.2))
    # a zoom factor in [0.8, 1.2] drawn for each axis, as zoom_range=0.2 did
    assert (layers["zoom"].height_lower, layers["zoom"].height_upper) == pytest.approx((-0.2, 0.2))
    assert (layers["zoom"].width_lower, layers["zoom"].width_upper) == pytest.approx((-0.2, 0.2))
    assert all(layers[name].fill_mode == "nearest" for name in ("rotation", "shift", "shear", "zoom"))
    assert augmenter.name == "augmentation"


def test_switched_off_transforms_are_left_out():
    augmenter = lessons.build_augmenter(rotation=40, shift=0, shear=0, zoom=0, flip=False)
    assert [layer.name for layer in augmenter.layers] == ["rotation"]


def test_keeps_shape_and_dtype(images):
    augmenter = lessons.build_augmenter(seed=0)
    out = augmenter(images, training=True)
    assert tuple(out.shape) == images.shape
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    out = keras.ops.convert_to_numpy(out)
    assert out.min() >= 0 and out.max() <= 255


def test_identity_at_inference(images):
    augmenter = lessons.build_augmenter(seed=0)
    np.testing.assert_array_equal(np.asarray(augmenter(images, training=False)), images)


def test_inside_a_model_predict_and_evaluate_do_not_augment(images):
    import keras

    inputs = keras.Input(shape=images.shape[1:])
    model = keras.Model(inputs, lessons.build_augmenter(seed=0)(inputs))
    np.testing.assert_array_equal(model.predict(images, verbose=0), images)
    model.compile(loss="mse")
    assert model.evaluate(images, images, verbose=0) == pytest.approx(0.0)
    # fit's forward pass runs with training=True, and so augments
    assert not np.allclose(np.asarray(model(images, training=True)), images)


def test_called_directly_without_training_it_augments(images):
    # Keras 3's preprocessing layers default to training=True when called
    # directly: pass training=False to see the identity outside a model.
    augmenter = lessons.build_augmenter(seed=0)
    assert not np.allclose(np.asarray(augmenter(images)), images)


def test_changes_pixels_in_training(images):
    augmenter = lessons.build_augmenter(seed=0)
    out = np.asarray(augmenter(images, training=True))
    # every image of the batch is changed, each in its own way
    assert all(not np.allclose(out[i], images[i]) for i in range(len(images)))
    assert not np.allclose(out[0], out[1] - images[1] + images[0])


def test_reproducible_with_a_seed(images):
    first = np.asarray(lessons.build_augmenter(seed=7)(images, training=True))
    again = np.asarray(lessons.build_augmenter(seed=7)(images, training=True))
    other = np.asarray(lessons.build_augmenter(seed=8)(images, training=True))
    np.testing.assert_allclose(first, again)
    assert not np.allclose(first, other)


def test_each_call_draws_new_transforms(images):
    augmenter = lessons.build_augmenter(seed=7)
    first = np.asarray(augmenter(images, training=True))
    second = np.asarray(augmenter(images, training=True))
    assert not np.allclose(first, second)


@pytest.mark.parametrize("kwargs, message", [
    (dict(rotation=-1), "rotation"),
    (dict(rotation=400), "rotation"),
    (dict(shift=1.0), "shift"),
    (dict(shear=1.5), "shear"),
    (dict(zoom=-0.1), "zoom"),
    (dict(zoom="0.2"), "zoom"),
    (dict(rotation=float("nan")), "rotation"),
    (dict(flip="yes"), "flip"),
    (dict(fill_mode="mirror"), "fill_mode"),
    (dict(seed=1.5), "seed"),
    (dict(rotation=0, shift=0, shear=0, zoom=0, flip=False), "nothing to augment"),
])
def test_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        lessons.build_augmenter(**kwargs)


def test_plot_augmentations_shows_original_and_n_versions(images):
    fig = plots.plot_augmentations(images[0], lessons.build_augmenter(seed=0), n=5,
                                   title="augmented noise")
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 6
    assert shown[0].get_title() == "original"
    assert fig._suptitle.get_text() == "augmented noise"
    matplotlib.pyplot.close(fig)


def test_plot_augmentations_rejects_bad_input(images):
    augmenter = lessons.build_augmenter(seed=0)
    with pytest.raises(ValueError, match="n must be"):
        plots.plot_augmentations(images[0], augmenter, n=0)
    with pytest.raises(ValueError, match="shape"):
        plots.plot_augmentations(images, augmenter, n=2)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_pillow_augment_keeps_size_and_dtype(images, dtype):
    image = images[0].astype(dtype)
    rng = np.random.default_rng(0)
    out = augmentation.pillow_augment(image, rng)
    assert out.shape == image.shape and out.dtype == image.dtype
    assert not np.array_equal(out, image)
    # the input is left unchanged
    np.testing.assert_array_equal(image, images[0].astype(dtype))


def test_pillow_augment_is_reproducible_and_random(images):
    image = images[0].astype(np.uint8)
    first = augmentation.pillow_augment(image, np.random.default_rng(3))
    again = augmentation.pillow_augment(image, np.random.default_rng(3))
    np.testing.assert_array_equal(first, again)
    rng = np.random.default_rng(3)
    assert not np.array_equal(augmentation.pillow_augment(image, rng),
                              augmentation.pillow_augment(image, rng))


def test_pillow_augment_flip_only_mirrors():
    image = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    settings = dict(horizontal_flip=True)
    outs = [augmentation.pillow_augment(image, np.random.default_rng(s), settings) for s in range(8)]
    assert all(np.array_equal(o, image) or np.array_equal(o, image[:, ::-1]) for o in outs)
    assert any(np.array_equal(o, image[:, ::-1]) for o in outs)


@pytest.mark.parametrize("image, rng, settings, message", [
    (np.zeros((8, 8), np.uint8), np.random.default_rng(0), None, "shape"),
    (np.zeros((8, 8, 3), np.uint8), 0, None, "Generator"),
    (np.zeros((8, 8, 3), np.uint8), np.random.default_rng(0), dict(spin=3), "unknown"),
    (np.zeros((8, 8, 3), np.uint8), np.random.default_rng(0), dict(fill_mode="constant"), "nearest"),
])
def test_pillow_augment_rejects_bad_input(image, rng, settings, message):
    with pytest.raises(ValueError, match=message):
        augmentation.pillow_augment(image, rng, settings)


# --- one resampling per image: affine_transforms, random_affine, augment_dataset ---

OFF = dict(rotation=0, shift=0, shear=0, zoom=0, flip=False)


def test_random_affine_keeps_shape_and_dtype(images):
    for batch in (images, images.astype(np.uint8)):
        out = np.asarray(lessons.random_affine(batch, [1, 2]))
        assert out.shape == batch.shape and out.dtype == batch.dtype
        assert not np.array_equal(out, batch)


def test_random_affine_with_every_transform_off_is_the_identity(images):
    out = np.asarray(lessons.random_affine(images, [1, 2], **OFF))
    np.testing.assert_array_equal(out, images)


def test_random_affine_flip_only_mirrors_about_half_the_images():
    batch = np.random.default_rng(1).uniform(0, 255, (32, 8, 8, 3)).astype(np.float32)
    out = np.asarray(lessons.random_affine(batch, [3, 4], **dict(OFF, flip=True)))
    mirrored = [np.array_equal(o, b[:, ::-1]) for o, b in zip(out, batch)]
    unchanged = [np.array_equal(o, b) for o, b in zip(out, batch)]
    assert all(m != u for m, u in zip(mirrored, unchanged)), "each image is mirrored or left as is"
    assert 8 <= sum(mirrored) <= 24


def test_random_affine_is_reproducible_with_a_seed(images):
    first = np.asarray(lessons.random_affine(images, [5, 6]))
    again = np.asarray(lessons.random_affine(images, [5, 6]))
    other = np.asarray(lessons.random_affine(images, [5, 7]))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def _matrices(transforms):
    t = np.asarray(transforms)
    return t[:, [0, 1, 3, 4]].reshape(-1, 2, 2), t[:, [2, 5]]


def test_affine_transforms_rotation_turns_about_the_centre_within_range():
    transforms = lessons.affine_transforms(64, 33, 33, [1, 2], **dict(OFF, rotation=40))
    linear, offset = _matrices(transforms)
    angles = np.degrees(np.arctan2(linear[:, 1, 0], linear[:, 0, 0]))
    assert np.all(np.abs(angles) <= 40 + 1e-4) and np.ptp(angles) > 40   # spread over the range
    np.testing.assert_allclose(np.linalg.det(linear), 1, atol=1e-5)     # a pure rotation
    centre = np.array([16.0, 16.0])
    np.testing.assert_allclose(linear @ centre + offset, np.tile(centre, (64, 1)), atol=1e-3)


def test_affine_transforms_shift_moves_by_at_most_the_fraction():
    transforms = lessons.affine_transforms(64, 40, 100, [1, 2], **dict(OFF, shift=0.2))
    linear, offset = _matrices(transforms)
    np.testing.assert_allclose(linear, np.tile(np.eye(2), (64, 1, 1)), atol=1e-6)
    assert np.all(np.abs(offset[:, 0]) <= 0.2 * 100 + 1e-4)   # x: a fraction of the width
    assert np.all(np.abs(offset[:, 1]) <= 0.2 * 40 + 1e-4)    # y: a fraction of the height
    assert np.abs(offset[:, 0]).max() > 10


def test_affine_transforms_zoom_and_shear_stay_in_range():
    linear, _ = _matrices(lessons.affine_transforms(64, 32, 32, [1, 2], **dict(OFF, zoom=0.2)))
    assert np.all((linear[:, 0, 0] >= 0.8 - 1e-6) & (linear[:, 0, 0] <= 1.2 + 1e-6))
    np.testing.assert_allclose(linear[:, 0, 1], 0, atol=1e-6)
    linear, _ = _matrices(lessons.affine_transforms(64, 32, 32, [1, 2], **dict(OFF, shear=0.2)))
    # rows slide sideways by at most shear · y: the x coefficient of y is in [-0.2, 0.2]
    assert np.all(np.abs(linear[:, 0, 1]) <= 0.2 + 1e-6) and np.abs(linear[:, 0, 1]).max() > 0.1


@pytest.mark.parametrize("kwargs, message", [
    (dict(rotation=200), "rotation"),
    (dict(shift=1.0), "shift"),
    (dict(zoom=-0.1), "zoom"),
    (dict(flip="yes"), "flip"),
    (dict(fill_mode="mirror"), "fill_mode"),
])
def test_random_affine_rejects_bad_settings(images, kwargs, message):
    with pytest.raises(ValueError, match=message):
        lessons.random_affine(images, [1, 2], **kwargs)


def test_random_affine_rejects_a_single_image(images):
    with pytest.raises(ValueError, match="batch"):
        lessons.random_affine(images[0], [1, 2])


def _dataset(images):
    import tensorflow as tf

    labels = np.arange(len(images), dtype=np.float32).reshape(-1, 1)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(2)
    dataset.class_names = ["cats", "dogs"]
    return dataset


def _epoch(dataset):
    batches = list(dataset.as_numpy_iterator())
    return np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches])


def test_augment_dataset_augments_images_and_keeps_labels_and_order(images):
    augmented = lessons.augment_dataset(_dataset(images), seed=1)
    x, y = _epoch(augmented)
    assert x.shape == images.shape and x.dtype == np.float32
    np.testing.assert_array_equal(y.ravel(), np.arange(len(images)))
    assert not np.array_equal(x, images)
    assert augmented.class_names == ["cats", "dogs"]


def test_augment_dataset_draws_new_transforms_every_epoch_reproducibly(images):
    first_run = lessons.augment_dataset(_dataset(images), seed=7)
    epoch_1, epoch_2 = _epoch(first_run)[0], _epoch(first_run)[0]
    assert not np.array_equal(epoch_1, epoch_2), "each epoch must bring new versions"
    second_run = lessons.augment_dataset(_dataset(images), seed=7)
    np.testing.assert_array_equal(_epoch(second_run)[0], epoch_1)
    np.testing.assert_array_equal(_epoch(second_run)[0], epoch_2)


@pytest.mark.parametrize("kwargs, message", [
    (dict(seed=1.5), "seed"),
    (dict(seed=1, **OFF), "switched off"),
    (dict(seed=1, shear=2), "shear"),
    (dict(seed=1, fill_mode="mirror"), "fill_mode"),
])
def test_augment_dataset_rejects_bad_arguments(images, kwargs, message):
    with pytest.raises(ValueError, match=message):
        lessons.augment_dataset(_dataset(images), **kwargs)
