"""Images per second of data augmentation: Keras layers vs the seeds' one-image-at-a-time way.

Three ways of producing augmented training batches from the same real images
(the first ``--images`` of the profile's prepared ``train`` split, decoded and
resized to the profile's image size, held in memory so that decoding is not
measured), in one run:

- ``pillow``: the seeds' approach, one image at a time in Python
  (:func:`utils.augmentation.pillow_augment`, the ``ImageDataGenerator``
  transform with Pillow), then stacked into a float32 batch;
- ``tf.data``: the augmenter mapped over batches in the input pipeline,
  ``ds.map(lambda x: augmenter(x, training=True), num_parallel_calls=AUTOTUNE)``;
- ``in model``: the augmenter as the first layers of a model, run by a compiled
  ``tf.function`` with ``training=True``, as ``fit`` runs it on each batch;
- ``fused``: a sketch (not a course API) of the same transform as *one* affine
  resampling per image, as ``ImageDataGenerator`` did, in ``tf.data``: it shows
  how much of the layers' cost comes from resampling once per layer.

Each is timed for ``--repeats`` passes over the images after one warm-up
batch; the best pass counts. With ``--train`` it also measures whole training
steps of notebook 04's CNN (``fit`` on ``--train-steps`` batches) with the
augmenter inside the model, in ``tf.data``, and without augmentation.

Usage::

    DOGSCATS_PROFILE=sample .venv/bin/python benchmarks/augmentation_pipeline.py
    .venv/bin/python benchmarks/augmentation_pipeline.py --profile sample --images 512 --train

Needs the prepared data (``notebooks/01_data_preparation.ipynb`` or ``make course``).
On a shared machine the figures vary from run to run: compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from utils import augmentation, config, data  # noqa: E402


def batches_of(x, batch_size):
    """Yield consecutive slices of ``x`` of at most ``batch_size`` items."""
    for start in range(0, len(x), batch_size):
        yield x[start:start + batch_size]


def time_passes(run_pass, repeats):
    """Call ``run_pass()`` ``repeats`` times; return the fastest time in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run_pass()
        best = min(best, time.perf_counter() - start)
    return best


def measure_pillow(x_uint8, batch_size, repeats, seed):
    """Seconds per pass of Pillow augmentation, one image at a time, batched."""
    rng = np.random.default_rng(seed)

    def run_pass():
        for batch in batches_of(x_uint8, batch_size):
            np.stack([augmentation.pillow_augment(image, rng) for image in batch]).astype(np.float32)

    for image in x_uint8[:batch_size]:  # warm-up, as for the other methods
        augmentation.pillow_augment(image, rng)
    return time_passes(run_pass, repeats)


def measure_tf_data(x, batch_size, repeats, seed):
    """Seconds per pass of the augmenter mapped over batches in ``tf.data``."""
    import tensorflow as tf

    augmenter = augmentation.augmentation(seed=seed)
    dataset = (tf.data.Dataset.from_tensor_slices(x).batch(batch_size)
               .map(lambda images: augmenter(images, training=True),
                    num_parallel_calls=tf.data.AUTOTUNE)
               .prefetch(tf.data.AUTOTUNE))
    for _ in dataset.take(1):
        pass

    def run_pass():
        for _ in dataset:
            pass

    return time_passes(run_pass, repeats)


def measure_in_model(x, batch_size, repeats, seed):
    """Seconds per pass of the augmenter run inside a model with ``training=True``."""
    import keras
    import tensorflow as tf

    inputs = keras.Input(shape=x.shape[1:])
    model = keras.Model(inputs, augmentation.augmentation(seed=seed)(inputs))
    dataset = tf.data.Dataset.from_tensor_slices(x).batch(batch_size).prefetch(tf.data.AUTOTUNE)

    @tf.function
    def step(images):
        return tf.reduce_sum(model(images, training=True))

    for images in dataset.take(1):
        step(images).numpy()

    def run_pass():
        for images in dataset:
            step(images)
        step(images).numpy()  # wait for the last step

    return time_passes(run_pass, repeats)


def fused_affine(images, seed_pair):
    """The seeds' transform as ONE affine resampling per image (as ``ImageDataGenerator`` did).

    A benchmark-only sketch, not a course API: rotation ±40°, shifts ±20%,
    shear ±0.2 rad, zoom 0.8–1.2 per axis, about the centre, bilinear,
    ``fill_mode="nearest"``, then a random left-right flip. It shows what the
    layer stack loses by resampling once per geometric layer.
    """
    import math

    import tensorflow as tf

    n = tf.shape(images)[0]
    height = tf.cast(tf.shape(images)[1], tf.float32)
    width = tf.cast(tf.shape(images)[2], tf.float32)
    draws = tf.random.stateless_uniform([7, n], seed=seed_pair)
    angle = (draws[0] * 2 - 1) * math.radians(40)
    tx, ty = (draws[1] * 2 - 1) * 0.2 * width, (draws[2] * 2 - 1) * 0.2 * height
    shear = (draws[3] * 2 - 1) * 0.2
    zx, zy = 0.8 + 0.4 * draws[4], 0.8 + 0.4 * draws[5]
    cos, sin = tf.cos(angle), tf.sin(angle)
    # M = rotation · translation · shear · zoom (output → input), about the centre
    a0, a1 = cos * zx, (-cos * tf.sin(shear) - sin * tf.cos(shear)) * zy
    b0, b1 = sin * zx, (-sin * tf.sin(shear) + cos * tf.cos(shear)) * zy
    cx, cy = width / 2, height / 2
    a2 = cos * tx - sin * ty + cx - a0 * cx - a1 * cy
    b2 = sin * tx + cos * ty + cy - b0 * cx - b1 * cy
    zeros = tf.zeros_like(a0)
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=tf.shape(images)[1:3],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="NEAREST")
    flip = tf.reshape(draws[6] < 0.5, [-1, 1, 1, 1])
    return tf.where(flip, tf.reverse(out, axis=[2]), out)


def measure_fused(x, batch_size, repeats, seed):
    """Seconds per pass of :func:`fused_affine` mapped over batches in ``tf.data``."""
    import tensorflow as tf

    dataset = (tf.data.Dataset.from_tensor_slices(x).batch(batch_size).enumerate()
               .map(lambda step, images: fused_affine(images, tf.stack([tf.cast(seed, tf.int64), step])),
                    num_parallel_calls=tf.data.AUTOTUNE)
               .prefetch(tf.data.AUTOTUNE))
    for _ in dataset.take(1):
        pass

    def run_pass():
        for _ in dataset:
            pass

    return time_passes(run_pass, repeats)


def measure_training(x, y, batch_size, steps, seed, image_size):
    """Images per second of ``fit`` for the CNN: augmenter in the model, in tf.data, none."""
    import tensorflow as tf

    from utils import models

    figures = {}
    n = min(len(x), steps * batch_size)
    x, y = x[:n], y[:n].astype(np.float32).reshape(-1, 1)
    for placement in ("in model", "tf.data", "none"):
        import keras

        keras.utils.set_random_seed(seed)
        augmenter = augmentation.augmentation(seed=seed)
        model = models.build_cnn(image_size, augmentation=augmenter if placement == "in model" else None,
                                 name="cnn_aug")
        dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
        if placement == "tf.data":
            dataset = dataset.map(lambda images, labels: (augmenter(images, training=True), labels),
                                  num_parallel_calls=tf.data.AUTOTUNE)
        dataset = dataset.prefetch(tf.data.AUTOTUNE)
        model.fit(dataset.take(1), epochs=1, verbose=0)  # build and trace
        start = time.perf_counter()
        model.fit(dataset, epochs=1, verbose=0)
        figures[placement] = n / (time.perf_counter() - start)
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default=os.environ.get("DOGSCATS_PROFILE", "sample"),
                        choices=config.PROFILE_NAMES)
    parser.add_argument("--images", type=int, default=512, help="images to augment per pass")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the profile's")
    parser.add_argument("--repeats", type=int, default=3, help="passes per method; the best counts")
    parser.add_argument("--train", action="store_true", help="also time fit steps of the CNN")
    parser.add_argument("--train-steps", type=int, default=16)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures there")
    args = parser.parse_args(argv)

    cfg = config.get_profile(args.profile)
    batch_size = args.batch_size or cfg.batch_size
    try:
        data.require_prepared(cfg)
    except data.DataNotPreparedError as error:
        sys.exit(str(error))
    x, y = data.load_arrays("train", cfg.image_size, cfg)
    # the same real images for every method: the first cats and the first dogs
    half = args.images // 2
    chosen = np.concatenate([np.flatnonzero(y == 0)[:half],
                             np.flatnonzero(y == 1)[:args.images - half]])
    x, y = x[chosen], y[chosen]
    x_uint8 = np.clip(np.rint(x), 0, 255).astype(np.uint8)
    n = len(x)
    import tensorflow as tf

    print(f"profile {cfg.name} · {n} real train images · {cfg.image_size[0]}×{cfg.image_size[1]} · "
          f"batch {batch_size} · best of {args.repeats} · TensorFlow {tf.__version__} · "
          f"{config.describe_hardware()}")

    seconds = {
        "pillow (one image at a time)": measure_pillow(x_uint8, batch_size, args.repeats, cfg.seed),
        "tf.data map (batched layers)": measure_tf_data(x, batch_size, args.repeats, cfg.seed),
        "in model (batched layers)": measure_in_model(x, batch_size, args.repeats, cfg.seed),
        "tf.data, one fused affine (sketch)": measure_fused(x, batch_size, args.repeats, cfg.seed),
    }
    rates = {name: n / s for name, s in seconds.items()}
    baseline = rates["pillow (one image at a time)"]
    print(f"\n{'augmentation':32s} {'images/s':>10s} {'× Pillow':>9s}")
    for name, rate in rates.items():
        print(f"{name:32s} {rate:10.0f} {rate / baseline:9.2f}")

    results = {"profile": cfg.name, "images": n, "image_size": list(cfg.image_size),
               "batch_size": batch_size, "hardware": config.hardware(),
               "augmentation_images_per_second": rates,
               "ratio_to_pillow": {name: rate / baseline for name, rate in rates.items()}}
    if args.train:
        training = measure_training(x, y, batch_size, args.train_steps, cfg.seed, cfg.image_size)
        print(f"\n{'fit of the CNN, augmentation':32s} {'images/s':>10s}")
        for name, rate in training.items():
            print(f"{name:32s} {rate:10.0f}")
        results["fit_images_per_second"] = training
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
