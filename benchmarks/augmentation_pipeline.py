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
- ``augment_dataset``: the course's :func:`utils.lessons.augment_dataset` (notebook 04's cell),
  the same transform composed into *one* affine resampling per image, as
  ``ImageDataGenerator`` did, batched in ``tf.data``.

Each is timed for ``--repeats`` passes over the images after one warm-up
batch; the best pass counts. These figures leave decoding out.

With ``--pipeline`` it also times whole input pipelines over the profile's
``train`` split, from the JPEG files to augmented batches, for an epoch after
the first: the seeds' way (every image decoded, resized and augmented in
Python in every epoch, as ``flow_from_directory`` did) against
``get_batches(cache=True)`` followed by each augmenter. With ``--train`` it
measures whole training steps of notebook 04's CNN (``fit`` on
``--train-steps`` batches) with the augmenter inside the model, in ``tf.data``
(layers, or ``augment_dataset``), and without augmentation.

Usage::

    DOGSCATS_PROFILE=sample .venv/bin/python benchmarks/augmentation_pipeline.py
    .venv/bin/python benchmarks/augmentation_pipeline.py --profile sample --images 512 --pipeline --train

``--json FILE`` writes the figures as one JSON document; ``--out FILE`` appends them as one
JSON line, with the commit, the machine, the backend and the date.

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
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import protocol  # noqa: E402  (benchmarks/ is on sys.path)
from utils import augmentation, config, data, lessons, loading, settings  # noqa: E402


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

    augmenter = lessons.build_augmenter(seed=seed)
    dataset = (tf.data.Dataset.from_tensor_slices(x).batch(batch_size)
               .map(lambda images: augmenter(images, training=True),
                    num_parallel_calls=tf.data.AUTOTUNE)
               .prefetch(tf.data.AUTOTUNE))
    return _time_dataset(dataset, repeats)


def _time_dataset(dataset, repeats):
    """Seconds per pass over ``dataset`` (after one warm-up batch), best of ``repeats``."""
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
    model = keras.Model(inputs, lessons.build_augmenter(seed=seed)(inputs))
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


def measure_augment_dataset(x, batch_size, repeats, seed):
    """Seconds per pass of the course's one-resampling augmenter (``augment_dataset``) in ``tf.data``."""
    import tensorflow as tf

    labels = np.zeros(len(x), np.float32)
    dataset = lessons.augment_dataset(
        tf.data.Dataset.from_tensor_slices((x, labels)).batch(batch_size), seed=seed)
    return _time_dataset(dataset, repeats)


def seed_style_batches(paths, labels, image_size, batch_size, rng):
    """The seeds' input pipeline: every epoch, each file opened, resized and augmented in Python.

    What ``ImageDataGenerator.flow_from_directory`` did, one image at a time:
    decode the JPEG (Pillow), resize to ``image_size`` (nearest neighbour, the old
    ``load_img`` default and the cheapest), augment (:func:`pillow_augment`),
    stack into a float32 batch.
    """
    from PIL import Image

    height, width = image_size
    for start in range(0, len(paths), batch_size):
        images = []
        for path in paths[start:start + batch_size]:
            with Image.open(path) as image:
                pixels = np.asarray(image.convert("RGB").resize((width, height), Image.Resampling.NEAREST))
            images.append(augmentation.pillow_augment(pixels, rng))
        yield np.stack(images).astype(np.float32), labels[start:start + batch_size]


def measure_input_pipelines(cfg, batch_size, seed):
    """Images per second of whole input pipelines over the ``train`` split, after a first epoch.

    From the JPEG files to augmented float32 batches, for an epoch after the
    first (the steady state of a long training run): the seeds' way (decode,
    resize and augment every image, every epoch, in Python) against
    ``get_batches(cache=True)`` (decoded once, kept in memory) followed by the
    augmenter, as Keras layers mapped in ``tf.data`` and as the one-resampling
    :func:`utils.lessons.augment_dataset` (notebook 04's cell).
    """
    import tensorflow as tf

    train = loading.get_batches("train", cfg.image_size, batch_size=batch_size, cfg=cfg, cache=True)
    paths = list(train.file_paths)
    labels = np.array([float(Path(p).parent.name == "dogs") for p in paths], np.float32)
    n = len(paths)
    layers = lessons.build_augmenter(seed=seed)
    pipelines = {
        "seeds' way: files → Pillow, per image": None,
        "cached tf.data → Keras layers": train.map(lambda x, y: (layers(x, training=True), y),
                                                   num_parallel_calls=tf.data.AUTOTUNE),
        "cached tf.data → augment_dataset": lessons.augment_dataset(train, seed=seed),
    }
    rates = {}
    for name, dataset in pipelines.items():
        if dataset is None:
            rng = np.random.default_rng(seed)
            start = time.perf_counter()
            for _ in seed_style_batches(paths, labels, cfg.image_size, batch_size, rng):
                pass
        else:
            for _ in dataset:   # first epoch: decodes and fills the cache
                pass
            start = time.perf_counter()
            for _ in dataset:
                pass
        rates[name] = n / (time.perf_counter() - start)
    return n, rates


def measure_training(x, y, batch_size, steps, seed, image_size):
    """Images per second of ``fit`` for the CNN: augmenter in the model, in tf.data, none."""
    import tensorflow as tf


    figures = {}
    n = min(len(x), steps * batch_size)
    x, y = x[:n], y[:n].astype(np.float32).reshape(-1, 1)
    for placement in ("in model", "tf.data", "augment_dataset", "none"):
        import keras

        keras.utils.set_random_seed(seed)
        augmenter = lessons.build_augmenter(seed=seed)
        model = lessons.build_cnn_small(image_size, augmentation=augmenter if placement == "in model" else None,
                                 name="cnn_aug")
        dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
        if placement == "tf.data":
            dataset = dataset.map(lambda images, labels: (augmenter(images, training=True), labels),
                                  num_parallel_calls=tf.data.AUTOTUNE)
        elif placement == "augment_dataset":
            dataset = lessons.augment_dataset(dataset, seed=seed)
        dataset = dataset.prefetch(tf.data.AUTOTUNE)
        model.fit(dataset.take(1), epochs=1, verbose=0)  # build and trace
        start = time.perf_counter()
        model.fit(dataset, epochs=1, verbose=0)
        figures[placement] = n / (time.perf_counter() - start)
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default=settings.read("DOGSCATS_PROFILE"),
                        choices=config.PROFILE_NAMES)
    parser.add_argument("--images", type=int, default=512, help="images to augment per pass")
    parser.add_argument("--batch-size", type=int, default=None, help="default: the profile's")
    parser.add_argument("--repeats", type=int, default=3, help="passes per method; the best counts")
    parser.add_argument("--pipeline", action="store_true",
                        help="also time whole input pipelines (files to augmented batches) "
                             "over the profile's train split")
    parser.add_argument("--train", action="store_true", help="also time fit steps of the CNN")
    parser.add_argument("--train-steps", type=int, default=16)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures there")
    parser.add_argument("--out", type=Path, default=None, help="append the figures as a JSON line here")
    args = parser.parse_args(argv)

    cfg = config.get_profile(args.profile)
    batch_size = args.batch_size or cfg.batch_size
    try:
        data.require_prepared(cfg)
    except data.DataNotPreparedError as error:
        sys.exit(str(error))
    x, y = loading.load_arrays("train", cfg.image_size, cfg)
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
        "tf.data, augment_dataset (1 resampling)": measure_augment_dataset(x, batch_size, args.repeats, cfg.seed),
    }
    rates = {name: n / s for name, s in seconds.items()}
    baseline = rates["pillow (one image at a time)"]
    print(f"\n{'augmentation alone':40s} {'images/s':>10s} {'× Pillow':>9s}")
    for name, rate in rates.items():
        print(f"{name:40s} {rate:10.0f} {rate / baseline:9.2f}")

    results = {"profile": cfg.name, "images": n, "image_size": list(cfg.image_size),
               "batch_size": batch_size, "hardware": config.hardware(),
               "augmentation_images_per_second": rates,
               "ratio_to_pillow": {name: rate / baseline for name, rate in rates.items()}}
    if args.pipeline:
        count, pipelines = measure_input_pipelines(cfg, batch_size, cfg.seed)
        seeds_way = pipelines["seeds' way: files → Pillow, per image"]
        print(f"\n{'input pipeline, ' + str(count) + ' train files':40s} {'images/s':>10s} {'× seeds':>8s}")
        for name, rate in pipelines.items():
            print(f"{name:40s} {rate:10.0f} {rate / seeds_way:8.2f}")
        results["input_pipeline_images_per_second"] = pipelines
        results["input_pipeline_ratio_to_seeds_way"] = {name: rate / seeds_way
                                                        for name, rate in pipelines.items()}
    if args.train:
        training = measure_training(x, y, batch_size, args.train_steps, cfg.seed, cfg.image_size)
        print(f"\n{'fit of the CNN, augmentation':32s} {'images/s':>10s}")
        for name, rate in training.items():
            print(f"{name:32s} {rate:10.0f}")
        results["fit_images_per_second"] = training
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if args.out:
        protocol.append(args.out, {"benchmark": "augmentation_pipeline", **results, **protocol.stamp()})
    return results


if __name__ == "__main__":
    main()
