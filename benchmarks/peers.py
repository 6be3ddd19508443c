"""The course's from-scratch recipe against two published ones: design runs on validation, one final test read.

Usage (from the repository root)::

    # design: every recipe at its published epochs and schedule, 3 seeds, validation only
    .venv/bin/python benchmarks/peers.py --profile sample --schedule published --seeds 42 43 44 \
        --out benchmarks/peers_sample.jsonl
    # design: every recipe's schedule fitted to a 5-minute budget
    .venv/bin/python benchmarks/peers.py --profile sample --schedule fitted --budget 300 --sizes 64 128 --out ...
    # final: the frozen recipe trained on the whole training split, the test split read once
    .venv/bin/python benchmarks/peers.py --profile sample --recipes dlwp2_ch8 --schedule published --final \
        --out benchmarks/peers_sample.jsonl
    .venv/bin/python benchmarks/peers.py --profile smoke --recipes course --budget 20 --out /tmp/rows.jsonl

The protocol is :mod:`protocol`'s. A **design run** trains on the design training
photos (under ``full``, the training split less the photos carved out for
validation), keeps the weights of its lowest validation loss on ``valid``
(checked every epoch, as every recipe here publishes) and scores them on the
enlarged validation set, plain and with test-time augmentation (the photo and its
mirror image averaged). It never reads the test split. It writes one row per
recipe and seed to ``--out``, with every epoch's clock: cumulative wall-clock
seconds, the validation seconds among them, training images and FLOPs, and the
validation loss and accuracy, from which ``report.py`` reads accuracy at any
budget of wall-clock time or training FLOPs. With ``--final`` the recipe trains
on the profile's whole training split, and its kept weights are scored once on
the test split, scored the way the recipe publishes (the course's recipe with
test-time augmentation, the peers without); the row also goes to
``benchmarks/final_reads.jsonl`` and the predictions to ``benchmarks/predictions/``.

Every recipe gets the same options:

- ``--schedule published``: the recipe's own epochs and learning-rate schedule
  (constant for both peers; the course's warm-up and cosine decay over notebook
  04's epochs for the profile). ``--budget`` only stops a run early.
- ``--schedule fitted``: each recipe's learning rate warms up linearly over two
  epochs to its published value, then decays to 0 by a cosine over the epochs
  that fit ``--budget`` at the speed timed on a few batches first.
- ``--size``: the same image size for every recipe (default: each its own).

A run of fewer than two epochs is "not converged" in the tables and is given no
paired test. A run whose loss turns non-finite is trained once more with its seed
before it is scored (``protocol.DIVERGED_RERUNS``): a fault outside the recipe is not
repeated, a recipe that diverges by itself diverges again and is labelled so.
Training seconds exclude validation, which is reported apart; the achieved GFLOP/s
and its share of a float32 matmul peak measured in the same run use training seconds
only (data loading and augmentation run inside them).

Recipes, written from their published descriptions
---------------------------------------------------
dlwp2_ch8
    F. Chollet, *Deep Learning with Python*, 2nd ed. (Manning, 2021), ch. 8,
    listings 8.7 and 8.14–8.16: 180×180 inputs; ``RandomFlip("horizontal")``,
    ``RandomRotation(0.1)``, ``RandomZoom(0.2)``; ``Rescaling(1/255)``; Conv2D
    32-64-128-256-256 (3×3, ReLU) with 2×2 max pooling between; Flatten,
    ``Dropout(0.5)``, ``Dense(1, sigmoid)``; RMSprop (Keras default learning rate,
    0.001), binary cross-entropy, batch 32, 100 epochs, the best ``val_loss`` epoch
    kept. The book reports 83.5% test accuracy on 2,000 training photos (source: the
    book, test figure; its validation curve levels off near 80–85% after about 60
    epochs).
kerasio_xception
    F. Chollet, "Image classification from scratch", keras.io/examples/vision/
    image_classification_from_scratch (Keras 3 version): 180×180; ``RandomFlip
    ("horizontal")``, ``RandomRotation(0.1)``; ``Rescaling(1/255)``; entry
    ``Conv2D(128, 3, strides=2)`` + BN + ReLU; three residual blocks (256, 512, 728
    filters) of ReLU–SeparableConv2D–BN ×2 + ``MaxPooling2D(3, 2)`` with a 1×1
    strided Conv2D shortcut; ``SeparableConv2D(1024)`` + BN + ReLU; global average
    pooling, ``Dropout(0.25)``, ``Dense(1)`` logits; Adam 3e-4, batch 128, 25 epochs.
    It reports above 90% validation accuracy on PetImages (about 23,400 photos, 80%
    trained on) after 25 epochs (source: keras-io, validation figure).
course
    The course's ``cnn_bn`` (notebook 04, its ``#@save`` cells): ``lessons.build_cnn_bn``
    at ``lessons.cnn_bn_shape``'s size, 64×64 (under ``full``: 128×128 with a fifth block
    of 512 filters, ``--course-widths 32 64 128 256 512``), four blocks of convolution + batch normalisation (32-64-128-256
    filters), global average pooling; the "mild" augmentation in ``tf.data`` (one
    affine resampling per photo); ``lessons.compile_cnn_bn``: AdamW (weight decay 0.05),
    linear warm-up to 0.002 over two epochs then cosine decay, over notebook 04's
    epochs for the profile;
    test-time augmentation when scoring.

FLOPs are counted from the layers (2 × multiply-adds of Conv2D, SeparableConv2D and
Dense, forward), times 3 for a training step (forward + the two backward products),
the usual estimate (Kaplan et al., 2020, "Scaling laws", section 2.1).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import protocol  # noqa: E402  (benchmarks/ is on sys.path)
from utils import augmentation, config, devices  # noqa: E402

RECIPES = ("dlwp2_ch8", "kerasio_xception", "course")
SCHEDULES = ("published", "fitted")
CONVERGED_EPOCHS = protocol.CONVERGED_EPOCHS


def dlwp2_ch8(image_size=(180, 180)):
    """Deep Learning with Python, 2nd ed., ch. 8: the augmented from-scratch convnet, uncompiled."""
    import keras
    from keras import layers

    augment = keras.Sequential([layers.RandomFlip("horizontal"), layers.RandomRotation(0.1),
                                layers.RandomZoom(0.2)], name="augmentation")
    inputs = keras.Input(shape=(*image_size, 3))
    x = augment(inputs)
    x = layers.Rescaling(1.0 / 255)(x)
    for index, filters in enumerate((32, 64, 128, 256, 256)):
        x = layers.Conv2D(filters, 3, activation="relu")(x)
        if index < 4:
            x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1, activation="sigmoid", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="dlwp2_ch8"), {
        "batch_size": 32, "logits": False, "epochs": 100, "learning_rate": 1e-3, "optimizer": "rmsprop",
        "tta": False}


def kerasio_xception(image_size=(180, 180)):
    """keras.io "Image classification from scratch": the small Xception-like network, uncompiled."""
    import keras
    from keras import layers

    augment = keras.Sequential([layers.RandomFlip("horizontal"), layers.RandomRotation(0.1)],
                               name="augmentation")
    inputs = keras.Input(shape=(*image_size, 3))
    x = augment(inputs)
    x = layers.Rescaling(1.0 / 255)(x)
    x = layers.Conv2D(128, 3, strides=2, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    previous = x
    for size in (256, 512, 728):
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.SeparableConv2D(size, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
        residual = layers.Conv2D(size, 1, strides=2, padding="same")(previous)
        x = layers.add([x, residual])
        previous = x
    x = layers.SeparableConv2D(1024, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.25)(x)
    outputs = layers.Dense(1, dtype="float32")(x)
    return keras.Model(inputs, outputs, name="kerasio_xception"), {
        "batch_size": 128, "logits": True, "epochs": 25, "learning_rate": 3e-4, "optimizer": "adam", "tta": False}


def course(cfg, image_size=None, widths=None):
    """The course's from-scratch recipe, ``cnn_bn`` (notebook 04), uncompiled.

    ``image_size``: default notebook 04's (``lessons.cnn_bn_shape``: 64×64 under
    ``smoke`` and ``sample``, the profile's 128×128 under ``full``); ``widths``: the
    filters of the blocks, default notebook 04's for that size (a fifth block of 512
    under ``full``). Compiled by notebook 04's ``lessons.compile_cnn_bn``.
    """
    from utils import lessons

    count = len(protocol.training_photos(cfg)[0])
    size = tuple(image_size) if image_size else lessons.cnn_bn_shape(cfg.image_size, count)[0]
    widths = tuple(widths) if widths else lessons.cnn_bn_shape(size, count)[1]
    model = lessons.build_cnn_bn(size, widths, name="course")
    return model, {"batch_size": cfg.batch_size, "logits": False, "epochs": cfg.epochs["cnn_bn"],
                   "compile": lessons.compile_cnn_bn,
                   "augment": augmentation.MILD_SETTINGS, "tta": True, "widths": list(widths)}


def build(name, cfg, image_size=None, widths=None):
    """``(uncompiled model, recipe dict)`` of one recipe; ``image_size`` (h, w) overrides its own."""
    if name == "course":
        return course(cfg, image_size, widths)
    builder = {"dlwp2_ch8": dlwp2_ch8, "kerasio_xception": kerasio_xception}[name]
    return builder(tuple(image_size)) if image_size else builder()


def warmup_cosine(peak: float, epochs: int, steps_per_epoch: int):
    """Notebook 04's schedule (``lessons.cnn_bn_schedule``) at ``peak``: warm-up over two epochs, cosine to 0."""
    from utils import lessons

    return lessons.cnn_bn_schedule(epochs, steps_per_epoch, peak)


def compile_recipe(model, recipe, epochs: int, steps_per_epoch: int, fitted: bool) -> None:
    """Compile with the recipe's optimizer: its own schedule, or warm-up + cosine over ``epochs`` when ``fitted``.

    A recipe with its own ``compile`` (the course's: notebook 04's ``compile_cnn_bn``,
    whose schedule is already the warm-up + cosine over ``epochs``) is compiled by it.
    """
    import keras

    if recipe.get("compile"):
        recipe["compile"](model, epochs, steps_per_epoch)
        return
    rate = recipe["learning_rate"]
    if fitted:
        rate = warmup_cosine(recipe["learning_rate"], epochs, steps_per_epoch)
    optimizer = {"rmsprop": lambda: keras.optimizers.RMSprop(rate),
                 "adam": lambda: keras.optimizers.Adam(rate)}[recipe["optimizer"]]()
    if recipe["logits"]:
        loss = keras.losses.BinaryCrossentropy(from_logits=True)
        metric = keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)
    else:
        loss, metric = "binary_crossentropy", "accuracy"
    model.compile(optimizer=optimizer, loss=loss, metrics=[metric])


def training_flops_per_image(model) -> float:
    """3 × forward FLOPs (2 × multiply-adds) of Conv2D, SeparableConv2D, DepthwiseConv2D, Dense."""
    from keras import layers

    total = 0.0

    def walk(layer):
        nonlocal total
        for inner in getattr(layer, "layers", []) or []:
            walk(inner)
        if not hasattr(layer, "output") or isinstance(layer, type(model)):
            return
        try:
            out_shape = layer.output.shape
        except (AttributeError, ValueError):
            return
        positions = math.prod(d for d in out_shape[1:-1] if d) if len(out_shape) > 2 else 1
        if isinstance(layer, layers.SeparableConv2D):
            k = math.prod(layer.kernel_size)
            channels_in = layer.input.shape[-1]
            # depthwise at the input resolution (strides 1 here), then pointwise
            total += 2 * positions * (k * channels_in + channels_in * layer.filters)
        elif isinstance(layer, layers.Conv2D):
            k = math.prod(layer.kernel_size)
            total += 2 * positions * k * layer.input.shape[-1] * layer.filters
        elif isinstance(layer, layers.Dense):
            total += 2 * positions * layer.input.shape[-1] * layer.units
    walk(model)
    return 3 * total


def matmul_peak_gflops(n: int = 1024, repeats: int = 10) -> float:
    """Float32 matmul throughput of this machine, GFLOP/s, via the active Keras backend."""
    import keras

    a = keras.ops.convert_to_tensor(np.random.default_rng(0).normal(size=(n, n)).astype("float32"))
    keras.ops.convert_to_numpy(keras.ops.matmul(a, a))       # warm-up
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(keras.ops.matmul(a, a))
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best / 1e9


class _Clock:
    """Every epoch's clock and validation figures; stops training once ``budget`` wall-clock seconds have passed.

    Validation seconds (Keras' ``on_test_begin``/``on_test_end`` inside ``fit``) are
    kept apart from the training seconds; the budget counts both, as a learner waits
    for both. Checked after every batch, so the last epoch may be cut short.
    """

    def __new__(cls, budget, train_count, batch_size, epochs, label=""):
        import keras

        from utils import progress

        class Clock(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.start, self.valid_seconds, self.images, self.epochs = time.perf_counter(), 0.0, 0, []
                self.epoch_images = 0
                self.bar = progress.bar(total=epochs, desc=label, unit="epoch", leave=False, mininterval=5)

            def on_train_end(self, logs=None):
                self.bar.close()

            def on_epoch_begin(self, epoch, logs=None):
                self.epoch_images = 0

            def on_train_batch_end(self, batch, logs=None):
                self.epoch_images = min(train_count, self.epoch_images + batch_size)
                if time.perf_counter() - self.start > budget:
                    self.model.stop_training = True

            def on_test_begin(self, logs=None):
                self.test_start = time.perf_counter()

            def on_test_end(self, logs=None):
                self.valid_seconds += time.perf_counter() - self.test_start

            def on_epoch_end(self, epoch, logs=None):
                self.images += self.epoch_images
                wall = time.perf_counter() - self.start
                self.epochs.append({"epoch": epoch + 1, "wall_s": round(wall, 2),
                                    "valid_s": round(self.valid_seconds, 2), "images": self.images,
                                    "loss": float(logs.get("loss", math.nan)),
                                    "val_loss": float(logs.get("val_loss", math.nan)),
                                    "val_accuracy": float(logs.get("val_accuracy", math.nan))})
                self.bar.set_postfix_str(f"valid {self.epochs[-1]['val_accuracy']:.1%}", refresh=False)
                self.bar.update()

        return Clock()


def _p_dog(model, dataset, logits: bool, tta: bool = False) -> tuple:
    """``utils.evaluate.predict`` of a recipe's model: a sigmoid is added when it outputs logits."""
    import keras

    from utils import evaluate

    if logits:
        model = keras.Model(model.inputs, keras.layers.Activation("sigmoid", dtype="float32")(model.outputs[0]))
    return evaluate.predict(model, dataset, tta=tta)


def _scores(y_true, p_dog) -> dict:
    """Accuracy with its 95% Wilson interval and log loss (nats) of one set of predictions: :func:`protocol.scores`."""
    return protocol.scores(y_true, p_dog)


def run_id(profile, name, size, widths, schedule, epochs, seed, budget=None) -> str:
    """A run's name: what was trained, how, for how long, with which seed."""
    shape = f"{size[0]}px" + ("-" + "-".join(map(str, widths)) if widths else "")
    plan = f"{schedule}{epochs}" + (f"-{int(budget)}s" if schedule == "fitted" else "")
    return f"{profile}-{name}-{shape}-{plan}-seed{seed}"


def plan_epochs(name, cfg, image_size, widths, train, steps, valid_count, budget) -> int:
    """Epochs that fit ``budget`` seconds, from 4 timed batches after 2 that compile (validation ≈ 1/3 of a step)."""
    model, recipe = build(name, cfg, image_size, widths)
    compile_recipe(model, recipe, 1, 10, fitted=True)
    model.fit(train.take(2), epochs=1, verbose=0, shuffle=False)
    start = time.perf_counter()
    model.fit(train.take(4), epochs=1, verbose=0, shuffle=False)
    per_batch = (time.perf_counter() - start) / 4
    valid_steps = math.ceil(valid_count / recipe["batch_size"])
    return max(1, int(0.9 * budget / (per_batch * (steps + valid_steps / 3))))


def datasets(cfg, recipe, size, photos, *, seed, final):
    """``(training paths, training batches, validation batches)`` of one recipe's run.

    Training photos: the profile's whole training split when ``final``, else the design
    photos (``photos``: :func:`protocol.design_photos`), shuffled with ``seed`` and, for a
    recipe that augments in ``tf.data`` (the course's), augmented. Batches of
    ``(batch, *size, 3)`` float32 in [0, 255] and float32 labels; validation is the
    profile's ``valid`` split, in order, cached.
    """
    from utils import lessons, loading

    batch = recipe["batch_size"]
    train_paths, train_labels = protocol.training_photos(cfg) if final else photos["train"]
    train = protocol.photo_batches(train_paths, train_labels, size, batch, shuffle=True, seed=seed)
    if recipe.get("augment"):                       # the course augments in tf.data, the peers in the model
        train = lessons.augment_dataset(train, seed=seed, **recipe["augment"])
    valid = loading.get_batches("valid", size, batch_size=batch, shuffle=False, cfg=cfg, cache=True)
    return train_paths, train, valid


def run_recipe(name, cfg, *, seed, schedule="published", budget=math.inf, image_size=None, widths=None,
               final=False, extra_per_class=1000, peak=None, reread=None, folder=None,
               log=protocol.FINAL_LOG) -> dict:
    """Train one recipe once and score it: a design row, plus the final row when ``final``.

    Returns the row (a dict of JSON values). Design: trains on
    :func:`protocol.design_photos`' training photos and scores the kept weights on its
    enlarged validation set. Final: trains on the whole training split, then reads the
    test split once (:func:`protocol.check_first_read` first, so a refused reread
    trains nothing). A run whose loss turns non-finite is trained again with its seed,
    :data:`protocol.DIVERGED_RERUNS` times at most, before anything is scored; the row's
    ``rerun_of`` keeps the diverged attempt's history (None when there was none).
    Raises :class:`protocol.RereadRefused`.
    """
    import keras

    from utils import loading

    started = protocol.stamp()                      # the commit and load of the code that runs
    model, recipe = build(name, cfg, image_size, widths)
    size = tuple(model.inputs[0].shape[1:3])
    batch = recipe["batch_size"]
    photos = protocol.design_photos(cfg, extra_per_class)
    train_paths, train, valid = datasets(cfg, recipe, size, photos, seed=seed, final=final)
    steps = math.ceil(len(train_paths) / batch)
    valid_count = len(valid.file_paths)
    epochs = recipe["epochs"]
    if schedule == "fitted":
        keras.utils.set_random_seed(seed)
        epochs = plan_epochs(name, cfg, size, widths, train, steps, valid_count, budget)
    ident = run_id(cfg.name, name, size, recipe.get("widths"), schedule, epochs, seed,
                   budget if schedule == "fitted" else None)
    if final:
        protocol.check_first_read(ident, reread, log)
    folder = Path(folder or Path(cfg.profile_results_dir) / "peers")
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / f"{ident}{'-final' if final else ''}.weights.h5"
    rerun_of = None
    for attempt in range(1 + protocol.DIVERGED_RERUNS):
        keras.utils.set_random_seed(seed)
        model, recipe = build(name, cfg, image_size, widths)
        compile_recipe(model, recipe, epochs, steps, fitted=schedule == "fitted")
        best = keras.callbacks.ModelCheckpoint(str(weights), monitor="val_loss", save_best_only=True,
                                               save_weights_only=True)
        clock = _Clock(budget, len(train_paths), batch, epochs, label=ident)
        start = time.perf_counter()
        model.fit(train, validation_data=valid, epochs=epochs, verbose=0, shuffle=False, callbacks=[clock, best])
        wall = time.perf_counter() - start
        history = clock.epochs
        if not history:
            raise RuntimeError(f"{ident}: no epoch ended within the budget of {budget:.0f} s; give it more time")
        diverged = protocol.diverged_epoch(history)
        if diverged is None or attempt == protocol.DIVERGED_RERUNS:
            break
        # protocol's rule, decided on the training and validation loss before any test read: rerun it once
        rerun_of = {"diverged_epoch": diverged, "wall_s": round(wall, 1), "history": history}
        print(f"  {ident}: loss not finite from epoch {diverged}; rerunning it once with seed {seed}", flush=True)
        weights.unlink(missing_ok=True)
    if not any(math.isfinite(epoch["val_loss"]) for epoch in history):   # no weights worth keeping
        raise RuntimeError(f"{ident}: its loss was not finite from epoch 1, in each of {1 + protocol.DIVERGED_RERUNS} "
                           f"runs; nothing to score (a lower learning rate, or float32, may hold)")
    model.load_weights(best.filepath)                # back to the kept epoch (lowest validation loss)
    kept = min(history, key=lambda e: (e["val_loss"] if math.isfinite(e["val_loss"]) else math.inf))
    train_seconds = wall - clock.valid_seconds
    complete = sum(protocol.completed_epochs(history, len(train_paths)))   # a budget may cut the last one short
    flops = training_flops_per_image(model)
    row = {"kind": "final" if final else "design", "run_id": ident, "profile": cfg.name, "recipe": name,
           "image": list(size), "widths": recipe.get("widths"), "schedule": schedule,
           "budget_s": None if math.isinf(budget) else budget, "epochs_planned": epochs, "epochs": len(history),
           "kept_epoch": kept["epoch"], "epochs_complete": complete,
           "converged": complete >= CONVERGED_EPOCHS, "diverged_epoch": protocol.diverged_epoch(history),
           "seed": seed,
           "train_photos": len(train_paths), "batch_size": batch, "wall_s": round(wall, 1),
           "train_s": round(train_seconds, 1), "valid_s": round(clock.valid_seconds, 1),
           "images_per_s": round(clock.images / train_seconds, 1),
           "gflop_per_image": flops / 1e9, "gflops": flops * clock.images / train_seconds / 1e9,
           "matmul_peak_gflops": peak, "precision": keras.config.dtype_policy().name,
           "history": history, "rerun_of": rerun_of, **started}
    row["of_peak"] = row["gflops"] / peak if peak else None
    if not final or cfg.name != "full":             # under full a final run trains on the carved photos
        enlarged = protocol.photo_batches(*photos["enlarged"], size, batch, cache=False)
        kept = {}
        for tta in (False, True):
            y_true, kept["valid_tta" if tta else "valid"] = _p_dog(model, enlarged, recipe["logits"], tta=tta)
            row["valid_tta" if tta else "valid"] = _scores(y_true, kept["valid_tta" if tta else "valid"])
        row["valid_note"] = photos["note"]
    if not final:                                   # kept for pairing design candidates on validation
        row["predictions"] = protocol.save_predictions(f"{ident}-design", y_true, None,
                                                       Path(log).parent / "predictions", **kept).name
        return row
    test = loading.get_batches("test", size, batch_size=batch, shuffle=False, cfg=cfg)
    split = protocol.test_split_sha(cfg)
    y_true, p_dog = _p_dog(model, test, recipe["logits"], tta=recipe["tta"])     # the one test read
    row.update({"test": _scores(y_true, p_dog), "test_tta": recipe["tta"], "test_split": split,
                "reads_before": protocol.test_reads(split, log), "reread_reason": reread,
                "predictions": protocol.save_predictions(ident, y_true, p_dog, Path(log).parent / "predictions").name})
    protocol.append(log, {k: v for k, v in row.items() if k not in ("history", "rerun_of")}
                    | {"rerun_of_diverged": bool(rerun_of)})
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="sample")
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=RECIPES)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--schedule", choices=SCHEDULES, default="published")
    parser.add_argument("--budget", type=float, default=math.inf,
                        help="wall-clock seconds per run (training + validation): stops a run; with --schedule "
                             "fitted, the length the schedules are laid over")
    parser.add_argument("--sizes", type=int, nargs="+", default=[None],
                        help="every recipe at each of these many pixels a side (the same trials for all; "
                             "default each recipe's own size)")
    parser.add_argument("--course-widths", type=int, nargs="+", default=None,
                        help="filters of the course's blocks, four or more (default notebook 04's)")
    parser.add_argument("--extra", type=int, default=1000, help="photos per class added to valid for scoring")
    parser.add_argument("--final", action="store_true",
                        help="train on the whole training split and read the test split once (logged)")
    parser.add_argument("--reread", default=None, help="with --final: why a run already read is read again")
    parser.add_argument("--final-log", type=Path, default=protocol.FINAL_LOG,
                        help="the log of test reads (predictions go to predictions/ beside it)")
    parser.add_argument("--out", type=Path, default=None, help="append each run's row to this JSON-lines file")
    args = parser.parse_args(argv)
    if args.schedule == "fitted" and math.isinf(args.budget):
        parser.error("--schedule fitted needs --budget")

    cfg = config.get_profile(args.profile)
    plan = devices.configure()                      # DOGSCATS_MIXED_PRECISION=1: mixed_bfloat16 on such a CPU
    peak = matmul_peak_gflops()
    print(f"profile {cfg.name}, schedule {args.schedule}, budget {args.budget:.0f} s, seeds {args.seeds}, "
          f"{config.describe_hardware()}, matmul peak {peak:.1f} GFLOP/s (float32, measured now), "
          f"policy {plan.policy}", flush=True)
    for seed, side, name in ((seed, side, name) for seed in args.seeds for side in args.sizes
                             for name in args.recipes):
        size = (side, side) if side else None
        print(f"{'final' if args.final else 'design'}: {name}, seed {seed} ...", flush=True)
        try:
            row = run_recipe(name, cfg, seed=seed, schedule=args.schedule, budget=args.budget, image_size=size,
                             widths=args.course_widths if name == "course" else None, final=args.final,
                             extra_per_class=args.extra, peak=peak, reread=args.reread,
                             log=args.final_log)
        except protocol.RereadRefused as error:
            print(f"refused: {error}", file=sys.stderr)
            return 2
        except ValueError as error:         # e.g. a network whose valid convolutions need larger photos
            if size is None:
                raise
            print(f"  skipped: {name} cannot train at {side}×{side} ({str(error).splitlines()[0]})", flush=True)
            continue
        scored = row.get("test") or row["valid"]
        print(f"  {row['run_id']}: {row['epochs']} epochs (kept {row['kept_epoch']}), "
              f"{row['train_s']:.0f} s training + {row['valid_s']:.0f} s validation, "
              f"{'test' if args.final else 'enlarged validation'} {scored['accuracy']:.1%} "
              f"({scored['low']:.1%}–{scored['high']:.1%}, n = {scored['n']:,}), {row['of_peak'] or 0:.0%} of peak",
              flush=True)
        if args.out:
            protocol.append(args.out, row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
