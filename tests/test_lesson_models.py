"""The models the lessons write in their cells are the ones ``utils`` builds for later notebooks.

Notebook 02 writes its MLP, 03 its two CNNs and 04 its augmentation stack layer by
layer in a cell; notebook 04, notebook 06, the benchmarks and other tests reuse
``models.build_mlp``, ``models.build_cnn`` and ``augmentation.augmentation``. These
tests run the cells' own source (read from the notebooks) and compare layer by layer:
type, name where the cell names its layers, configuration and parameter count. Change
one side without the other and they fail.
"""

from __future__ import annotations

import json

import pytest

from utils import augmentation, config, models

ROOT = config.PROJECT_ROOT
IGNORED = {"name", "trainable"}   # dtype compared: output layers compute in float32 on both sides


def cell_source(notebook: str, cell_id: str) -> str:
    cells = json.loads((ROOT / "notebooks" / notebook).read_text(encoding="utf-8"))["cells"]
    found = [cell for cell in cells if cell.get("id") == cell_id]
    assert found, f"{notebook} has no cell {cell_id!r}"
    return "".join(found[0]["source"])


def run_cells(notebook: str, *cell_ids: str, **names) -> dict:
    """Execute the cells' source in a fresh namespace holding what the notebook's setup defines."""
    import keras
    from keras import layers

    namespace = dict(keras=keras, layers=layers, config=config, models=models,
                     augmentation=augmentation, cfg=config.get_profile("smoke"))
    namespace.update(names)
    for cell_id in cell_ids:
        exec(compile(cell_source(notebook, cell_id), f"{notebook}:{cell_id}", "exec"), namespace)
    return namespace


def architecture(model, with_names=True) -> list:
    """(class, name, config without names/dtypes, parameters) of every layer but the input."""
    rows = []
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        settings = {k: v for k, v in layer.get_config().items() if k not in IGNORED}
        rows.append((type(layer).__name__, layer.name if with_names else None, settings,
                     layer.count_params() if layer.built else None))
    return rows


def test_architecture_tells_different_models_apart():
    a = models.build_cnn((64, 64), variant="improved", compile=False)
    assert architecture(a) != architecture(models.build_cnn((64, 64), variant="seed", compile=False))
    assert architecture(a) != architecture(models.build_cnn((64, 64), dropout=0.25, compile=False))


def test_02s_mlp_is_models_build_mlp(capsys):
    namespace = run_cells("02_mlp.ipynb", "build-mlp", IMAGE_SIZE=(32, 32))
    cell_model = namespace["mlp"]
    built = models.build_mlp((32, 32), compile=False)
    assert architecture(cell_model, with_names=False) == architecture(built, with_names=False)
    assert cell_model.count_params() == built.count_params() == 2_655_745


@pytest.mark.parametrize("image_size", [(64, 64), (128, 128)])
def test_03s_cnns_are_models_build_cnn(image_size, capsys):
    namespace = run_cells("03_cnn.ipynb", "seed-build", "improved-build", IMAGE_SIZE=image_size)
    assert namespace["seed_cnn"].name == "cnn_seed" and namespace["cnn"].name == "cnn_small"
    assert architecture(namespace["seed_cnn"]) == architecture(
        models.build_cnn(image_size, variant="seed", compile=False))
    assert architecture(namespace["cnn"]) == architecture(
        models.build_cnn(image_size, variant="improved", name="cnn_small", compile=False))


def test_04s_augmentation_stack_is_augmentation_augmentation(capsys):
    namespace = run_cells("04_data_augmentation.ipynb", "builder")
    cell_stack = namespace["augmenter"]
    built = augmentation.augmentation(seed=namespace["cfg"].seed)
    assert cell_stack.name == built.name == "augmentation"
    assert architecture(cell_stack) == architecture(built)


@pytest.mark.parametrize("image_size, train_count, bn_size, blocks", [
    ((64, 64), 2000, (64, 64), 4), ((128, 128), 2000, (64, 64), 4),      # smoke, sample: 64×64, four blocks
    ((128, 128), 8000, (128, 128), 5),                                   # full: the profile's size, five blocks
    ((64, 64), 8000, (64, 64), 4),                                       # many photos but too small for five
])
def test_04s_cnn_bn_is_models_build_bn_cnn(image_size, train_count, bn_size, blocks, capsys):
    cfg = config.get_profile("smoke", image_size=image_size)
    namespace = run_cells("04_data_augmentation.ipynb", "cnn-bn-model", cfg=cfg, counts={"train": train_count},
                          cnn_aug=models.build_cnn(image_size, compile=False))
    assert namespace["BN_IMAGE_SIZE"] == bn_size and len(namespace["WIDTHS"]) == blocks
    cell_model = namespace["cnn_bn"]
    built = models.build_bn_cnn(namespace["BN_IMAGE_SIZE"], namespace["WIDTHS"])
    assert cell_model.name == built.name == "cnn_bn"
    assert architecture(cell_model) == architecture(built)
    assert architecture(built) != architecture(models.build_bn_cnn(namespace["BN_IMAGE_SIZE"], (16, 32, 64, 128)))
    assert cell_model.get_layer(f"pool_{blocks}").output.shape[1] >= 1


def test_04s_mild_strength_is_augmentation_mild_settings():
    source = cell_source("04_data_augmentation.ipynb", "build-aug")
    start = source.index("STRENGTHS = {")
    block = source[start:source.index("}\n", source.index('"mild"', start)) + 2]
    namespace = {}
    exec(block, namespace)
    assert namespace["STRENGTHS"]["mild"] == augmentation.MILD_SETTINGS, "the benchmarks train with 04's mild strength"
