"""Without VGG16's weights, 05-06 choose EfficientNet-Lite0 and say why; the transfer steps work on Lite0."""

import keras
import numpy as np
import pytest

from utils import config, efficientnet_lite, finetune, transfer, weights

SIDE = 64


@pytest.fixture
def no_vgg16(tmp_path, monkeypatch):
    """No VGG16 weights anywhere, and no DOGSCATS_BACKBONE."""
    monkeypatch.delenv(transfer.BACKBONE_ENV, raising=False)
    monkeypatch.delenv(weights.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(weights, "_cache_dirs", lambda: [tmp_path / "empty"])
    return tmp_path


def test_choice_without_vgg16_weights_is_lite0_with_one_sentence(no_vgg16):
    choice = transfer.choose_backbone()
    assert choice.name == "efficientnet_lite0"
    assert "not on this machine" in choice.reason and "pip" in choice.reason
    assert weights.WEIGHTS_FILES["notop"].name in choice.reason
    assert weights.WEIGHTS_FILES["top"].name in transfer.choose_backbone(include_top=True).reason


def test_choice_prefers_vgg16_when_its_weights_are_here(no_vgg16, monkeypatch):
    folder = no_vgg16 / "cache"
    folder.mkdir()
    (folder / weights.WEIGHTS_FILES["notop"].name).write_bytes(b"stand-in")
    monkeypatch.setattr(weights, "_cache_dirs", lambda: [folder])
    assert transfer.choose_backbone().name == "vgg16"
    assert transfer.choose_backbone(include_top=True).name == "efficientnet_lite0"   # 05 needs the top file


def test_environment_variable_decides(no_vgg16, monkeypatch):
    monkeypatch.setenv(transfer.BACKBONE_ENV, "VGG16")
    assert transfer.choose_backbone().name == "vgg16"
    monkeypatch.setenv(transfer.BACKBONE_ENV, "resnet50")
    with pytest.raises(ValueError, match="vgg16, efficientnet_lite0"):
        transfer.choose_backbone()
    with pytest.raises(ValueError, match="unknown backbone"):
        transfer.load_base("resnet50")


def test_image_size_rule_and_candidates():
    assert transfer.choose_image_size({128: 0.970, 160: 0.978, 224: 0.980}) == 160
    assert transfer.choose_image_size({128: 0.980, 224: 0.981}) == 128
    assert transfer.choose_image_size({224: 0.99, 128: 0.90}) == 224
    with pytest.raises(ValueError):
        transfer.choose_image_size({})
    assert transfer.image_size_candidates("efficientnet_lite0", config.get_profile("smoke")) == (64,)
    assert 224 in transfer.image_size_candidates("efficientnet_lite0", config.get_profile("sample"))
    assert transfer.image_size_candidates("vgg16", config.get_profile("sample")) == (128,)


def test_model_ids_and_backbone_detection():
    assert transfer.model_id("vgg16", "finetune") == "vgg16_finetune"
    assert transfer.model_id("efficientnet_lite0", "features") == "efficientnet_lite0_features"
    with pytest.raises(ValueError):
        transfer.model_id("alexnet", "features")
    lite = efficientnet_lite.build_efficientnet_lite0((SIDE, SIDE, 3), include_top=False)
    assert transfer.backbone_of(lite) == "efficientnet_lite0"
    vgg = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    assert transfer.backbone_of(vgg) == "vgg16"
    with pytest.raises(ValueError, match="neither"):
        transfer.backbone_of(keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)]))


def test_decode_rejects_bad_shapes():
    with pytest.raises(ValueError, match="1000"):
        transfer.decode_top_classes(np.zeros((1, 10)))
    with pytest.raises(ValueError, match="top"):
        transfer.decode_top_classes(np.zeros((1, 1000)), top=0)
    assert transfer.is_cat_or_dog_class(283) == "cat" and transfer.is_cat_or_dog_class(151) == "dog"
    assert transfer.is_cat_or_dog_class(292) is None                 # a tiger is neither


@pytest.fixture(scope="module")
def lite_base():
    """Lite0 at 64×64 with random weights: enough to check the plumbing."""
    keras.utils.set_random_seed(0)
    base = efficientnet_lite.build_efficientnet_lite0((SIDE, SIDE, 3), include_top=False)
    base.weights_source = "untrained (test)"
    return base


def test_split_classifier_and_fine_tuning_on_lite0(lite_base):
    """The residual graph splits, the pieces compute the same, BN stays frozen when the top trains."""
    images = np.random.default_rng(0).uniform(0, 255, (2, SIDE, SIDE, 3)).astype(np.float32)
    preprocessed = efficientnet_lite.preprocess(images)
    bottom, top = finetune.split_base(lite_base, at=transfer.SPLIT_AT["efficientnet_lite0"])
    assert bottom.output_shape == (None, 4, 4, 112) and top.output_shape == (None, 2, 2, 1280)
    np.testing.assert_allclose(top.predict(bottom.predict(preprocessed, verbose=0), verbose=0),
                               lite_base.predict(preprocessed, verbose=0), rtol=1e-4, atol=1e-4)
    classifier = finetune.build_classifier(lite_base, head=transfer.HEADS["efficientnet_lite0"], name="c")
    assert isinstance(classifier.get_layer("lite_preprocessing"), efficientnet_lite.LitePreprocessing)  # Lite0's own
    tail = finetune.attach_head(top, classifier)
    np.testing.assert_allclose(tail.predict(bottom.predict(preprocessed, verbose=0), verbose=0),
                               classifier.predict(images, verbose=0), rtol=1e-4, atol=1e-5)
    features, _, _ = finetune.extract_features(bottom, [images])
    np.testing.assert_allclose(features, bottom.predict(preprocessed, verbose=0), rtol=1e-4, atol=1e-4)
    trainable = transfer.set_trainable_top(lite_base, transfer.SPLIT_AT["efficientnet_lite0"])
    names = [layer.name for layer in lite_base.layers]
    for layer in lite_base.layers:
        later = names.index(layer.name) > names.index("stage5_out")
        bn = isinstance(layer, keras.layers.BatchNormalization)
        assert layer.trainable == (later and not bn), layer.name
    assert 0 < trainable < lite_base.count_params()
    with pytest.raises(ValueError, match="no layer"):
        transfer.set_trainable_top(lite_base, "stage9_out")


@pytest.mark.real_data
def test_punchline_on_lite0_with_real_weights(prepared_smoke, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    helper = finetune.DogsCatsVgg16(prepared_smoke, image_size=(SIDE, SIDE), backbone="efficientnet_lite0")
    assert helper.weights_source == "imagenet" and helper.base.backbone == "efficientnet_lite0"
    helper.finetune()
    # four short epochs: one epoch of 5 batches left the head at chance on PyTorch (a different draw)
    history = helper.fit(helper.get_batches("train"), helper.get_batches("valid"), epochs=4, verbose=0)
    assert isinstance(helper.model.get_layer("head_pool"), keras.layers.GlobalAveragePooling2D)
    assert max(history.history["val_accuracy"]) > 0.5     # real ImageNet features: better than chance
