"""Mixed precision: every model's output layer stays in float32, whoever builds it.

Under ``DOGSCATS_MIXED_PRECISION=1`` the layers compute in 16-bit floats
(:mod:`utils.devices`). A sigmoid computed in bfloat16 rounds 0.999 to exactly 1,
and a confidently wrong photo then costs an unbounded log loss; so each output
layer, in ``utils`` and in every notebook cell that writes one, says
``dtype="float32"``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import keras
import numpy as np
import pytest

from utils import finetune, lessons

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "notebooks" / "solutions").glob("*.ipynb"))
OUTPUT_LAYER = re.compile(r"Dense\(1,[^\n]*activation=[^\n]*")


@pytest.fixture
def bfloat16_policy():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_every_output_layer_written_in_a_notebook_is_float32():
    found = []
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            for line in OUTPUT_LAYER.findall("".join(cell["source"])):
                found.append((path.name, line))
    assert len(found) >= 7, "the scan lost the notebooks' output layers"
    missing = [(name, line) for name, line in found if 'dtype="float32"' not in line]
    assert not missing, f"output layers without dtype=\"float32\": {missing}"


def test_utils_models_answer_in_float32_under_mixed_bfloat16(bfloat16_policy):
    built = {
        "cnn_small": lessons.build_cnn_small((48, 48)),
        "cnn_bn": lessons.build_cnn_bn((48, 48), (8, 8, 8, 8)),
        "feature head, dense": finetune.build_feature_head((2, 2, 8), units=4, head="dense"),
        "feature head, pool": finetune.build_feature_head((2, 2, 8), head="pool"),
    }
    rng = np.random.default_rng(0)
    for name, model in built.items():
        inner = [layer for layer in model.layers if layer.weights and layer.name != "p_dog"]
        assert all(layer.compute_dtype == "bfloat16" for layer in inner), name
        assert inner or name == "feature head, pool", name          # its only weights are p_dog's
        assert model.layers[-1].compute_dtype == "float32", name
        x = rng.uniform(0, 255, (3, *model.input_shape[1:])).astype("float32")
        p = keras.ops.convert_to_numpy(model(x, training=False))
        assert p.dtype == np.float32 and p.shape == (3, 1), name
