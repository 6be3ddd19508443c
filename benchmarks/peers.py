"""The course's from-scratch recipe against two published ones, on the same photos and budget.

Usage (from the repository root)::

    .venv/bin/python benchmarks/peers.py                       # sample, 10 min per recipe
    .venv/bin/python benchmarks/peers.py --profile full --budget 1800
    .venv/bin/python benchmarks/peers.py --profile smoke --budget 20   # a quick check
    .venv/bin/python benchmarks/peers.py --profile full --recipes course --course-epochs 30 --budget 1800
    # the course's recipe with larger photos and a fifth block, in bfloat16 (a CPU with AVX-512 BF16)
    DOGSCATS_MIXED_PRECISION=1 .venv/bin/python benchmarks/peers.py --profile full --recipes course \
        --course-epochs 30 --course-size 96 --course-widths 32 64 128 256 512 --budget 4000

Each recipe trains on the prepared ``train`` split of the profile for the same
wall-clock budget (checked after every batch, so the last epoch may be cut short),
keeps the weights of its best validation epoch, and is scored once on the same
``test`` photos. The table gives test accuracy with a 95% Wilson interval, log loss
(nats), epochs done, seconds, images per second trained, FLOPs per training image,
achieved GFLOP/s and that rate as a fraction of a float32 matmul peak measured on
this machine in the same run; then McNemar's exact test of the course's recipe
against each peer on the same test photos (``utils.stats``). The validation accuracy
of the weights kept, scored the same way, is the column to choose recipes on. The
course's scores are saved beside its weights (``<tag>.predictions.npz``) so that a
later run can be paired with them (``--pair-with``). ``DOGSCATS_MIXED_PRECISION=1``
trains in mixed bfloat16 where :mod:`utils.devices` allows it; the matmul peak stays
float32's, so "of peak" can then exceed what float32 could reach.

Recipes, written from their published descriptions
---------------------------------------------------
dlwp2_ch8
    F. Chollet, *Deep Learning with Python*, 2nd ed. (Manning, 2021), ch. 8,
    listings 8.7 and 8.14–8.16: 180×180 inputs; ``RandomFlip("horizontal")``,
    ``RandomRotation(0.1)``, ``RandomZoom(0.2)``; ``Rescaling(1/255)``; Conv2D
    32-64-128-256-256 (3×3, ReLU) with 2×2 max pooling between; Flatten,
    ``Dropout(0.5)``, ``Dense(1, sigmoid)``; RMSprop (Keras default learning rate),
    binary cross-entropy, batch 32, 100 epochs, the best ``val_loss`` epoch kept.
    The book reports 83.5% test accuracy on 2,000 training photos (source: the book,
    test figure).
kerasio_xception
    F. Chollet, "Image classification from scratch", keras.io/examples/vision/
    image_classification_from_scratch (Keras 3 version): 180×180; ``RandomFlip
    ("horizontal")``, ``RandomRotation(0.1)``; ``Rescaling(1/255)``; entry
    ``Conv2D(128, 3, strides=2)`` + BN + ReLU; three residual blocks (256, 512, 728
    filters) of ReLU–SeparableConv2D–BN ×2 + ``MaxPooling2D(3, 2)`` with a 1×1
    strided Conv2D shortcut; ``SeparableConv2D(1024)`` + BN + ReLU; global average
    pooling, ``Dropout(0.25)``, ``Dense(1)`` logits; Adam 3e-4, batch 128, 25 epochs.
    It reports above 90% validation accuracy on PetImages (source: keras-io,
    validation figure).
course
    The course's ``cnn_bn`` (notebook 04): ``lessons.build_cnn_bn`` at 64×64, four
    blocks of convolution + batch normalisation (32-64-128-256 filters), global average
    pooling; the "mild" augmentation in ``tf.data`` (one affine resampling per photo);
    AdamW (weight decay 0.05), linear warm-up to 0.002 over two epochs then cosine decay,
    laid over the epochs the budget allows at the measured speed; test-time
    augmentation (the photo and its mirror image, averaged) when scoring. Under
    ``full`` notebook 04 trains it at 128×128 with a fifth block of 512 filters:
    ``--course-size 128 --course-widths 32 64 128 256 512 --course-epochs 30``.

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

import numpy as np  # noqa: E402

from utils import augmentation, config, devices, stats  # noqa: E402

RECIPES = ("dlwp2_ch8", "kerasio_xception", "course")


def dlwp2_ch8(image_size=(180, 180)):
    """Deep Learning with Python, 2nd ed., ch. 8: the augmented from-scratch convnet."""
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
    model = keras.Model(inputs, outputs, name="dlwp2_ch8")
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    return model, {"batch_size": 32, "logits": False, "image_size": image_size, "epochs": 100}


def kerasio_xception(image_size=(180, 180)):
    """keras.io "Image classification from scratch": the small Xception-like network."""
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
    model = keras.Model(inputs, outputs, name="kerasio_xception")
    model.compile(optimizer=keras.optimizers.Adam(3e-4),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)])
    return model, {"batch_size": 128, "logits": True, "image_size": image_size, "epochs": 25}


def course(cfg, steps_per_epoch: int, epochs: int, side: int | None = None, widths=None):
    """The course's from-scratch recipe, ``cnn_bn`` (notebook 04), with its schedule over ``epochs``.

    ``side``: train at ``side``×``side`` pixels instead of notebook 04's 64×64 (the
    profile's size when smaller), to measure what larger photos buy. ``widths``: the
    filters of the blocks, instead of notebook 04's (32, 64, 128, 256); a fifth
    block needs photos of at least 94×94.
    """
    import keras

    from utils import lessons

    size = (int(side), int(side)) if side else tuple(min(s, 64) for s in cfg.image_size)
    model = lessons.build_cnn_bn(size, tuple(widths), name="course") if widths else lessons.build_cnn_bn(size, name="course")
    total = max(1, epochs * steps_per_epoch)
    warmup = min(2 * steps_per_epoch, total // 4)
    schedule = keras.optimizers.schedules.CosineDecay(0.0, decay_steps=total - warmup, warmup_target=2e-3,
                                                      warmup_steps=warmup)
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.05),
                  loss="binary_crossentropy", metrics=["accuracy"])
    return model, {"batch_size": cfg.batch_size, "logits": False, "image_size": size, "epochs": epochs,
                   "augment": augmentation.MILD_SETTINGS, "tta": True, "widths": widths}


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


class _Budget:
    """Stop training once ``seconds`` have passed (checked after every batch)."""

    def __new__(cls, seconds):
        import keras

        class Budget(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.start, self.batches = time.perf_counter(), 0

            def on_train_batch_end(self, batch, logs=None):
                self.batches += 1
                if time.perf_counter() - self.start > seconds:
                    self.model.stop_training = True

        return Budget()


def _p_dog(model, dataset, logits: bool, tta: bool = False) -> tuple:
    """``utils.evaluate.predict`` of a recipe's model: a sigmoid is added when it outputs logits."""
    import keras

    from utils import evaluate

    if logits:
        model = keras.Model(model.inputs, keras.layers.Activation("sigmoid", dtype="float32")(model.outputs[0]))
    return evaluate.predict(model, dataset, tta=tta)


def run_recipe(name, cfg, budget, peak, course_epochs=None, course_side=None, course_widths=None):
    """Train one recipe for ``budget`` seconds; score it once on the test split.

    The course's recipe lays its schedule over the epochs the budget allows at a timed
    speed, or over ``course_epochs`` when given (notebook 04's own count, e.g. 30
    under ``full``); the budget still stops it. ``course_side`` trains it at
    ``course_side``×``course_side`` pixels instead of 64×64, ``course_widths`` with
    other blocks. The row also gives the validation accuracy of the weights kept (the
    epoch of lowest validation loss), scored as the test is: the figure to choose on.
    """
    import keras
    from sklearn.metrics import log_loss

    from utils import lessons, loading

    keras.utils.set_random_seed(cfg.seed)
    train_count = len(loading.get_batches("train", (32, 32), batch_size=1, cfg=cfg).file_paths)
    steps = math.ceil(train_count / cfg.batch_size)
    if name == "dlwp2_ch8":
        model, recipe = dlwp2_ch8()
    elif name == "kerasio_xception":
        model, recipe = kerasio_xception()
    elif course_epochs:
        model, recipe = course(cfg, steps, int(course_epochs), course_side, course_widths)
    else:
        # the cosine schedule needs a length: time one epoch's worth of batches first
        probe_model, recipe = course(cfg, steps, 1, course_side, course_widths)
        train = lessons.augment_dataset(
            loading.get_batches("train", recipe["image_size"], batch_size=recipe["batch_size"], cfg=cfg, cache=True),
            seed=cfg.seed, **recipe["augment"])
        probe_model.fit(train.take(2), epochs=1, verbose=0)          # compiles: not timed
        start = time.perf_counter()
        probe_model.fit(train.take(4), epochs=1, verbose=0)
        per_batch = (time.perf_counter() - start) / 4
        valid_steps = math.ceil(len(loading.get_batches("valid", (32, 32), batch_size=1, cfg=cfg).file_paths)
                                / cfg.batch_size)
        # an epoch: its training batches, then validation (a forward pass, about a third of a step)
        epoch_seconds = per_batch * (steps + valid_steps / 3)
        epochs = max(1, int(0.9 * budget / epoch_seconds))
        model, recipe = course(cfg, steps, epochs, course_side, course_widths)
    size, batch = recipe["image_size"], recipe["batch_size"]
    train = loading.get_batches("train", size, batch_size=batch, cfg=cfg, cache=True)
    if recipe.get("augment"):                       # the course augments in tf.data, the peers in the model
        train = lessons.augment_dataset(train, seed=cfg.seed, **recipe["augment"])
    valid = loading.get_batches("valid", size, batch_size=batch, cfg=cfg, cache=True)
    test = loading.get_batches("test", size, batch_size=batch, shuffle=False, cfg=cfg)
    # the course's files are named by size and widths, so runs that change them keep their own
    tag = (f"{name}-{size[0]}px-" + "-".join(map(str, recipe["widths"]))) if "widths" in recipe else name
    best = keras.callbacks.ModelCheckpoint(str(Path(cfg.profile_results_dir) / "peers" / f"{tag}.weights.h5"),
                                           monitor="val_loss", save_best_only=True, save_weights_only=True)
    Path(best.filepath).parent.mkdir(parents=True, exist_ok=True)
    budget_callback = _Budget(budget)
    start = time.perf_counter()
    history = model.fit(train, validation_data=valid, epochs=recipe["epochs"], verbose=0,
                        callbacks=[budget_callback, best])
    seconds = time.perf_counter() - start
    model.load_weights(best.filepath)
    valid_true, valid_p = _p_dog(model, valid, recipe["logits"], tta=recipe.get("tta", False))   # cached, in order
    y_true, p_dog = _p_dog(model, test, recipe["logits"], tta=recipe.get("tta", False))
    # the scores, so that a later run can be paired with this one (--pair-with)
    np.savez(Path(best.filepath).with_name(f"{tag}.predictions.npz"), test_true=y_true, test_p_dog=p_dog,
             valid_true=valid_true, valid_p_dog=valid_p)
    from utils import evaluate

    correct = int((evaluate.predicted_labels(p_dog) == y_true).sum())
    low, high = stats.wilson_interval(correct, len(y_true))
    trained = budget_callback.batches * batch
    flops = training_flops_per_image(model)
    gflops = flops * trained / seconds / 1e9
    return {"recipe": name, "image": f"{size[0]}×{size[1]}", "epochs": len(history.history["loss"]),
            "seconds": round(seconds), "images/s": round(trained / seconds, 1),
            "valid accuracy": float((evaluate.predicted_labels(valid_p) == valid_true).mean()),
            "test accuracy": correct / len(y_true), "95% low": low, "95% high": high,
            "log loss": log_loss(y_true, np.clip(p_dog, 1e-7, 1 - 1e-7), labels=[0, 1]),
            "GFLOP/image": flops / 1e9, "GFLOP/s": gflops, "of peak": gflops / peak,
            "_y": y_true, "_p": p_dog}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="sample")
    parser.add_argument("--budget", type=float, default=600.0, help="seconds of training per recipe")
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=RECIPES)
    parser.add_argument("--course-epochs", type=int, default=None,
                        help="train the course's recipe for this many epochs (notebook 04's count) instead of "
                             "planning them from the budget; the budget still stops it")
    parser.add_argument("--course-size", type=int, default=None,
                        help="train the course's recipe at this many pixels a side instead of 64")
    parser.add_argument("--course-widths", type=int, nargs="+", default=None,
                        help="filters of the course's blocks, four or more (default 32 64 128 256)")
    parser.add_argument("--pair-with", type=Path, nargs="+", default=[],
                        help="predictions.npz of earlier runs (written beside their weights): McNemar's test of "
                             "the course's recipe against each, on the same test photos")
    args = parser.parse_args(argv)
    import pandas as pd

    from utils import evaluate

    cfg = config.get_profile(args.profile)
    plan = devices.configure()                      # DOGSCATS_MIXED_PRECISION=1: mixed_bfloat16 on such a CPU
    peak = matmul_peak_gflops()
    print(f"profile {cfg.name}, budget {args.budget:.0f} s per recipe, "
          f"{config.describe_hardware()}, matmul peak {peak:.1f} GFLOP/s (float32, measured now), "
          f"policy {plan.policy}")
    rows = []
    for name in args.recipes:
        print(f"training {name} ...", flush=True)
        rows.append(run_recipe(name, cfg, args.budget, peak, course_epochs=args.course_epochs,
                               course_side=args.course_size, course_widths=args.course_widths))
    table = pd.DataFrame([{k: v for k, v in row.items() if not k.startswith("_")} for row in rows])
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    ours = next((r for r in rows if r["recipe"] == "course"), None)
    if ours is not None:
        # the peers of this run, then earlier runs' saved scores: (name, test labels, P(dog))
        others = [(row["recipe"], row["_y"], row["_p"]) for row in rows if row is not ours]
        for path in args.pair_with:
            saved = np.load(path)
            others.append((path.stem, saved["test_true"], saved["test_p_dog"]))
        for other, other_y, other_p in others:
            if not np.array_equal(other_y, ours["_y"]):
                print(f"{other}: not the same test photos, not paired")
                continue
            test = stats.mcnemar_exact(ours["_y"], evaluate.predicted_labels(ours["_p"]),
                                       evaluate.predicted_labels(other_p))
            print(f"course vs {other}: only the course right on {test['only_a']} photos, "
                  f"only {other} on {test['only_b']}; McNemar exact p = {test['p_value']:.3g}")
    print(f"commit {__import__('utils.results', fromlist=['git_commit']).git_commit()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
