"""Every kind of model the notebooks save loads back anywhere: a fresh Python, ``import utils``, plain Keras.

A learner (or notebook 07, or a solution) reloads a saved ``.keras`` file with
``keras.models.load_model(path)``. Keras finds a layer of the course's own
(VGG16's and Lite0's preprocessing) only if its class is registered in that
Python: importing :mod:`utils` must be enough (:mod:`utils.registration`).

Each case builds one kind of saved model, small, with the notebooks' own
builders (:mod:`utils.lessons`, :mod:`utils.finetune`, :mod:`utils.transfer`),
saves it the notebooks' way (``ModelCheckpoint`` after a training step for
02–04, ``model.save`` of ``finetune.inference_model`` or of the features
model for 06). One fresh Python, started in an empty folder, runs
``import utils`` and reloads every file with plain Keras; each file's
predictions on fixed images are compared with the original model's.

==================  =================================================================
case                the notebooks' models it stands for
==================  =================================================================
mlp_pixels          02's MLP (``ModelCheckpoint``, then ``mlp.save``)
cnn_small           03's cnn_small, 04's cnn_plain and cnn_aug (one builder, one recipe)
cnn_bn              04's cnn_bn
*_features          06's features model: preprocessing → base → the features head
*_frozen_aug        06's frozen base trained with augmentation, saved without it
*_finetune          06's fine-tuned model (top of the base trainable)
==================  =================================================================

The backbones have random weights (no ImageNet file is needed): what is
checked is that the file loads and computes the same function.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from utils import config

ROOT = config.PROJECT_ROOT

#: What the fresh Python runs: the prelude (``import utils`` …), then plain Keras on each file in turn.
#: One Python for every file (Keras' import is most of the time); each file loads on its own,
#: and a failure is written down for its case instead of ending the run.
RELOAD = textwrap.dedent("""\
    import json, sys, traceback
    import numpy as np
    {prelude}
    import keras
    images, failures = np.load(sys.argv[1]), {{}}
    for path in sys.argv[3:]:
        try:
            model = keras.models.load_model(path)
            np.save(path + ".npy", np.asarray(model.predict(images[path], verbose=0)))
        except Exception:
            failures[path] = traceback.format_exc()[-3000:]
    with open(sys.argv[2], "w") as handle:
        json.dump(failures, handle)
    """)


def _images(image_size, count=3, seed=0) -> np.ndarray:
    """Fixed images ``(count, h, w, 3)`` float32 in [0, 255]."""
    return np.random.default_rng(seed).uniform(0, 255, (count, *image_size, 3)).astype(np.float32)


def _perturb(model, seed=1) -> None:
    """Move every weight away from its initial value (biases 0, batch-norm statistics 0 and 1).

    A reload that lost a weight (or the batch-norm statistics) then predicts
    differently, instead of agreeing by the accident of default values.
    """
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        value = keras.ops.convert_to_numpy(variable)
        noise = rng.standard_normal(value.shape).astype(value.dtype)
        variable.assign(value * (1 + 0.1 * noise) + 0.02 * rng.standard_normal(value.shape).astype(value.dtype))


def _checkpointed(model, path, image_size) -> None:
    """One training step with the notebooks' ``ModelCheckpoint`` (02–04), which writes ``path``."""
    x, y = _images(image_size, count=4, seed=2), np.array([0, 1, 0, 1], np.float32)
    checkpoint = keras.callbacks.ModelCheckpoint(path, monitor="accuracy", mode="max", save_best_only=True)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[checkpoint], shuffle=False)


def _lite0_base(image_size):
    """EfficientNet-Lite0's convolutional base as ``lite0_weights.lite0_base`` builds it, random weights."""
    from utils import efficientnet_lite

    base = efficientnet_lite.build_efficientnet_lite0((*image_size, 3), include_top=False)
    base.backbone = efficientnet_lite.NAME
    return base


def _vgg16_base(image_size):
    """VGG16's convolutional base as ``vgg16.vgg16_base`` builds it, random weights."""
    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=(*image_size, 3), name="vgg16")
    base.backbone = "vgg16"
    return base


def _transfer(backbone, method, path, image_size) -> keras.Model:
    """Notebook 06's model ``method`` on ``backbone``, saved as the notebook saves it."""
    from utils import finetune, lessons, transfer

    base = _lite0_base(image_size) if backbone == "efficientnet_lite0" else _vgg16_base(image_size)
    head, units = transfer.HEADS[backbone], 4
    model_id = transfer.model_id(backbone, method)
    if method == "features":
        features_head = finetune.build_feature_head(base.output_shape[1:], units=units, head=head,
                                                    name=f"{model_id}_head")
        model = keras.Sequential([keras.Input((*image_size, 3)), transfer.preprocessing_layer(backbone), base,
                                  features_head], name=model_id)
    else:
        classifier = finetune.build_classifier(base, head=head, units=units,
                                               augmentation=lessons.build_augmenter(seed=1),
                                               name=transfer.model_id(backbone, "frozen_aug"))
        if method == "finetune":
            transfer.set_trainable_top(base, transfer.SPLIT_AT[backbone])
        model = finetune.inference_model(classifier, name=model_id)
    _perturb(model)
    model.save(path)
    return model


def _course_model(kind, path, image_size) -> keras.Model:
    """Notebooks 02–04's model ``kind``, trained one step and checkpointed."""
    from utils import lessons

    if kind == "mlp_pixels":
        model = lessons.build_mlp(image_size)
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    elif kind == "cnn_small":
        model = lessons.compile_cnn_small(lessons.build_cnn_small(image_size), epochs=1, steps_per_epoch=1)
    else:
        model = lessons.build_cnn_bn(image_size, widths=(4, 4, 4, 4))
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    _perturb(model)
    _checkpointed(model, path, image_size)   # after the one epoch: the model's state now
    return model


#: case → (builder, image size): the smallest size each network accepts, or near it.
CASES = {
    "mlp_pixels": (lambda path, size: _course_model("mlp_pixels", path, size), (8, 8)),
    "cnn_small": (lambda path, size: _course_model("cnn_small", path, size), (46, 46)),
    "cnn_bn": (lambda path, size: _course_model("cnn_bn", path, size), (46, 46)),
    **{f"{backbone}_{method}": ((lambda path, size, b=backbone, m=method: _transfer(b, m, path, size)), (32, 32))
       for backbone in ("efficientnet_lite0", "vgg16") for method in ("features", "frozen_aug", "finetune")},
}


def _reload_in_fresh_python(paths, images, folder, prelude="import utils") -> dict:
    """``keras.models.load_model(path).predict(images[path])`` for each path, in a new Python that ran ``prelude``.

    Parameters
    ----------
    paths : list of pathlib.Path
        ``.keras`` files, loaded in this order.
    images : dict of pathlib.Path → numpy.ndarray, shape (n, h, w, 3), float32
    folder : pathlib.Path
        The new Python's working folder (empty of the project), for its files.
    prelude : str
        What the new Python runs before importing Keras.

    Returns
    -------
    dict of pathlib.Path → numpy.ndarray or str
        The predictions ``(n, 1)`` of each file, or the traceback of its failure.
    """
    np.savez(folder / "images.npz", **{str(path): images[path] for path in paths})
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run([sys.executable, "-c", RELOAD.format(prelude=prelude), str(folder / "images.npz"),
                          str(folder / "failures.json"), *map(str, paths)],
                         cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, f"the fresh Python failed after {prelude!r}:\n{run.stderr[-3000:]}"
    failures = json.loads((folder / "failures.json").read_text())
    return {path: failures.get(str(path)) or np.load(f"{path}.npy") for path in paths}


def _shared_folder(tmp_path_factory):
    """This test session's folder, one for all its pytest-xdist workers (each has its own below it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _build_and_reload(folder) -> None:
    """Every case built, saved, and reloaded in one fresh Python; results written to ``folder/results.npz``.

    ``expected/<case>`` and ``found/<case>`` hold predictions ``(3, 1)``; ``failures.json`` (written by the
    fresh Python) holds the traceback of each file that did not reload.
    """
    paths, images, arrays = {}, {}, {}
    for case, (build, image_size) in CASES.items():
        path = paths[case] = folder / f"{case}.keras"
        model = build(path, image_size)
        images[path] = _images(image_size)
        arrays[f"expected/{case}"] = model.predict(images[path], verbose=0)
        del model
        keras.backend.clear_session()
    found = _reload_in_fresh_python(list(paths.values()), images, folder)
    arrays.update({f"found/{case}": found[path] for case, path in paths.items() if not isinstance(found[path], str)})
    np.savez(folder / "partial.npz", **arrays)
    (folder / "partial.npz").replace(folder / "results.npz")


@pytest.fixture(scope="module")
def reloaded(tmp_path_factory):
    """case → (expected predictions, reloaded predictions or the traceback of the failed reload).

    Built once per test session: with pytest-xdist, the first worker to get here builds it under a
    lock (about 45 s of Keras), and the others read its files.
    """
    from filelock import FileLock

    folder = _shared_folder(tmp_path_factory) / "reload"
    with FileLock(f"{folder}.lock"):
        if not (folder / "results.npz").is_file():
            folder.mkdir(exist_ok=True)
            _build_and_reload(folder)
    failures = json.loads((folder / "failures.json").read_text())
    with np.load(folder / "results.npz") as arrays:
        return {case: (arrays[f"expected/{case}"],
                       failures.get(str(folder / f"{case}.keras")) or arrays[f"found/{case}"])
                for case in CASES}


@pytest.mark.parametrize("case", list(CASES))
def test_a_saved_model_reloads_in_a_fresh_python_after_import_utils(case, reloaded):
    expected, found = reloaded[case]
    assert expected.shape == (3, 1)
    assert not isinstance(found, str), f"{case}.keras did not reload after 'import utils':\n{found}"
    np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("prelude", ["from utils import config", "import keras\nimport utils"],
                         ids=["from-utils-import-config", "keras-first"])
def test_the_course_layers_are_known_whatever_the_import_order(prelude, tmp_path):
    """VGG16's and Lite0's preprocessing layers, whether Keras is imported after utils or before."""
    from utils import transfer

    model = keras.Sequential([keras.Input((4, 4, 3)), transfer.preprocessing_layer("vgg16"),
                              transfer.preprocessing_layer("efficientnet_lite0")])
    path = tmp_path / "layers.keras"
    model.save(path)
    images = _images((4, 4), count=2)
    found = _reload_in_fresh_python([path], {path: images}, tmp_path, prelude)[path]
    assert not isinstance(found, str), f"the course's layers are unknown after {prelude!r}:\n{found}"
    np.testing.assert_allclose(found, model.predict(images, verbose=0), rtol=1e-6, atol=1e-5)


def test_import_utils_stays_light():
    """``import utils`` (every notebook's first cell, on Colab and Kaggle) imports neither Keras nor TensorFlow."""
    code = ("import sys, utils\n"
            "heavy = sorted(name for name in ('keras', 'tensorflow', 'jax', 'torch') if name in sys.modules)\n"
            "print(heavy)\n")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "[]", f"import utils imported {run.stdout.strip()}"
