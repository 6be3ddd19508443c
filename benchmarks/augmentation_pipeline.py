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

Usage (from the repository root)::

    DOGSCATS_PROFILE=sample .venv/bin/python benchmarks/augmentation_pipeline.py
    .venv/bin/python benchmarks/augmentation_pipeline.py --profile sample --images 512 --repeats 3 \
        --pipeline --train --out benchmarks/augmentation_pipeline_sample.jsonl   # the README's run
    .venv/bin/python benchmarks/augmentation_pipeline.py --table benchmarks/augmentation_pipeline_sample.jsonl
    .venv/bin/python benchmarks/augmentation_pipeline.py --readme           # write the tables into the README
    .venv/bin/python benchmarks/augmentation_pipeline.py --readme --check   # exit 1 when they are stale

``--json FILE`` writes the figures as one JSON document; ``--out FILE`` appends them as one
JSON line (one row per run), stamped by :func:`protocol.stamp` as the run starts (commit,
machine, backend, date, load average), with the command, the versions (TensorFlow, Keras,
NumPy, Pillow), ``repeats``, and with ``--pipeline`` the number of files
(``input_pipeline_files``), with ``--train`` ``train_steps`` and ``fit_images``. Figures are
images per second (``augmentation_images_per_second``, ``input_pipeline_images_per_second``,
``fit_images_per_second``, each a dict keyed by method) and ratios of the same run
(``ratio_to_pillow``, ``input_pipeline_ratio_to_seeds_way``).

``--table FILE`` prints the Markdown tables of such a file's latest run (:func:`markdown`);
``--readme`` writes those of :data:`COMMITTED` into ``benchmarks/README.md`` between
``<!-- augmentation_pipeline:sample -->`` and ``<!-- /augmentation_pipeline:sample -->``
(:func:`render_readme`), ``--readme --check`` only compares (exit status 1 when stale).

Needs the prepared data (``notebooks/01_data_preparation.ipynb`` or ``make course``),
except ``--table`` and ``--readme``.
On a shared machine the figures vary from run to run: compare the ratios, and see the
load average the caption gives (``contended`` as :func:`protocol.contended` says).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import protocol  # noqa: E402  (benchmarks/ is on sys.path)
import readme_tables  # noqa: E402
from utils import augmentation, config, data, lessons, loading, settings  # noqa: E402

#: The committed run the README's tables are made from (``--out`` of the README's command).
COMMITTED = ROOT / "benchmarks" / "augmentation_pipeline_sample.jsonl"
README = ROOT / "benchmarks" / "README.md"
#: ``<!-- augmentation_pipeline:sample -->``
PREFIX, SECTION = "augmentation_pipeline", "sample"
#: The issue's target: the augmented input pipeline at least this many times the seeds' way.
TARGET = 3.0

# The methods, as keys of the rows' dicts (stable: rows already written use them) and as the README shows them.
PILLOW = "pillow (one image at a time)"
TF_DATA = "tf.data map (batched layers)"
IN_MODEL = "in model (batched layers)"
AUGMENT_DATASET = "tf.data, augment_dataset (1 resampling)"
SEEDS_WAY = "seeds' way: files → Pillow, per image"
CACHED_LAYERS = "cached tf.data → Keras layers"
CACHED_AUGMENT = "cached tf.data → augment_dataset"
PLACEMENTS = ("in model", "tf.data", "augment_dataset", "none")
LABELS = {
    PILLOW: "pillow (one image at a time)",
    TF_DATA: "tf.data map (Keras layers)",
    IN_MODEL: "in model (Keras layers)",
    AUGMENT_DATASET: "tf.data, `augment_dataset` (one resampling)",
    SEEDS_WAY: "seeds' way: decode + resize + Pillow, per image, every epoch",
    CACHED_LAYERS: "`get_batches(cache=True)` → Keras layers in `tf.data`",
    CACHED_AUGMENT: "`get_batches(cache=True)` → `augment_dataset`",
    "in model": "augmenter in the model",
    "tf.data": "layers in `tf.data`",
    "augment_dataset": "`augment_dataset` in `tf.data`",
    "none": "no augmentation",
}


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
    """Images per second of whole input pipelines over the ``train`` split, after a first epoch: (files, rates).

    From the JPEG files to augmented float32 batches, for an epoch after the
    first (the steady state of a long training run): the seeds' way (decode,
    resize and augment every image, every epoch, in Python) against
    ``get_batches(cache=True)`` (decoded once, kept in memory) followed by the
    augmenter, as Keras layers mapped in ``tf.data`` and as the one-resampling
    :func:`utils.lessons.augment_dataset` (notebook 04's cell). ``rates``: images per
    second keyed by :data:`SEEDS_WAY`, :data:`CACHED_LAYERS` and :data:`CACHED_AUGMENT`.
    """
    import tensorflow as tf

    train = loading.get_batches("train", cfg.image_size, batch_size=batch_size, cfg=cfg, cache=True)
    paths = list(train.file_paths)
    labels = np.array([float(Path(p).parent.name == "dogs") for p in paths], np.float32)
    n = len(paths)
    layers = lessons.build_augmenter(seed=seed)
    pipelines = {
        SEEDS_WAY: None,
        CACHED_LAYERS: train.map(lambda x, y: (layers(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE),
        CACHED_AUGMENT: lessons.augment_dataset(train, seed=seed),
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
    """Images per second of one epoch of ``fit`` of the CNN on ``min(len(x), steps * batch_size)`` images,
    keyed by :data:`PLACEMENTS`: augmenter in the model, layers in tf.data, ``augment_dataset``, none.

    Notebook 04's ``cnn_aug``: :func:`utils.lessons.build_cnn_small` compiled with its recipe
    (:func:`utils.lessons.compile_cnn_small`); one warm-up batch (build, trace), then one timed epoch.
    """
    import keras
    import tensorflow as tf

    figures = {}
    n = min(len(x), steps * batch_size)
    x, y = x[:n], y[:n].astype(np.float32).reshape(-1, 1)
    for placement in PLACEMENTS:
        keras.utils.set_random_seed(seed)
        augmenter = lessons.build_augmenter(seed=seed)
        model = lessons.build_cnn_small(image_size, augmentation=augmenter if placement == "in model" else None,
                                        name="cnn_aug")
        # notebook 04's recipe for cnn_aug (AdamW, cosine rate) over the warm-up step and the timed epoch
        lessons.compile_cnn_small(model, 2, -(-n // batch_size))
        dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
        if placement == "tf.data":
            dataset = dataset.map(lambda images, labels: (augmenter(images, training=True), labels),
                                  num_parallel_calls=tf.data.AUTOTUNE)
        elif placement == "augment_dataset":
            dataset = lessons.augment_dataset(dataset, seed=seed)
        dataset = dataset.prefetch(tf.data.AUTOTUNE)
        model.fit(dataset.take(1), epochs=1, verbose=0, shuffle=False)  # build and trace
        start = time.perf_counter()
        model.fit(dataset, epochs=1, verbose=0, shuffle=False)
        figures[placement] = n / (time.perf_counter() - start)
    return figures


# ---- the tables ---------------------------------------------------------------------------------

def read_rows(path: Path) -> list:
    """The rows of a JSON-lines file written by ``--out`` (one per run), those of this benchmark only."""
    return [row for row in protocol.read_log(Path(path)) if row.get("benchmark", "augmentation_pipeline") == "augmentation_pipeline"]


def latest(rows: list) -> dict:
    """The run with the latest ``date`` (the last one in the file among equal dates).

    Raises ValueError when ``rows`` is empty.
    """
    if not rows:
        raise ValueError("no augmentation_pipeline rows")
    return sorted(rows, key=lambda row: row.get("date") or "")[-1]


def _table(header: str, unit_header: str, rates: dict, baseline: str | None) -> list:
    """Markdown lines: one row per method, images/s and (with ``baseline``) the ratio to it; the fastest in bold."""
    best = max(rates.values())
    lines = [f"| {header} | images/s |" + (f" {unit_header} |" if baseline else ""),
             "|---|---:|" + ("---:|" if baseline else "")]
    for key, rate in rates.items():
        cells = [f"{rate:,.0f}"] + ([f"{rate / rates[baseline]:.2f}"] if baseline else [])
        if rate == best:
            cells = [f"**{cell}**" for cell in cells]
        lines.append(f"| {LABELS.get(key, key)} | " + " | ".join(cells) + " |")
    return lines


def _count(number, noun: str) -> str:
    """``"1 batch"``, ``"16 batches"``, ``"2,000 images"``."""
    plural = noun + ("es" if noun.endswith(("s", "ch")) else "s")
    return f"{number:,} {noun if number == 1 else plural}" if isinstance(number, int) else f"{number} {plural}"


def _span(values) -> str:
    low, high = min(values), max(values)
    return f"{low:.2f}×" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}–{high:.2f}×"


def caption(row: dict) -> str:
    """What the run measured, where and when: command, profile, image size, batch, versions, machine, load, commit."""
    versions = row.get("versions") or {}
    named = ", ".join(f"{name} {versions[key]}" for key, name in
                      (("tensorflow", "TensorFlow"), ("keras", "Keras"), ("numpy", "NumPy"), ("pillow", "Pillow"))
                      if versions.get(key))
    size = "×".join(str(s) for s in row["image_size"])
    load = row.get("load")
    started = ("load average unknown at the start" if load is None else
               f"load average {load} at the start" + (" (contended: another job shared the machine)"
                                                       if protocol.contended(row) else ""))
    command = row.get("command") or "(command not recorded)"
    return (f"`{command}`: profile `{row['profile']}`, {size}, batch {row['batch_size']}, best of "
            f"{_count(row.get('repeats', '?'), 'pass')}; {named + '; ' if named else ''}{row.get('machine', '?')}, "
            f"{started}, commit {row.get('commit', '?')}, {row.get('date', '?')} UTC.")


def headline(row: dict) -> str:
    """The readings the prose quotes, as sentences with the run's figures (ratios within the run)."""
    sentences = []
    pipelines = row.get("input_pipeline_images_per_second")
    if pipelines and SEEDS_WAY in pipelines and CACHED_AUGMENT in pipelines:
        ratio = pipelines[CACHED_AUGMENT] / pipelines[SEEDS_WAY]
        verdict = "met" if ratio >= TARGET else "not met"
        sentences.append(f"**The issue's target (the augmented input pipeline ≥ {TARGET:g}× the seeds' "
                         f"one-image-at-a-time Pillow way) is {verdict} by the input pipeline notebook 04 trains "
                         f"with: {ratio:.2f}×**, from the files to the batches.")
    alone = row["augmentation_images_per_second"]
    pillow = alone[PILLOW]
    layers = [alone[key] / pillow for key in (TF_DATA, IN_MODEL) if key in alone]
    text = (f"Augmentation alone, decoding left out of both, `augment_dataset` is "
            f"{alone[AUGMENT_DATASET] / pillow:.2f}× Pillow")
    sentences.append(text + (f"; the Keras layer stack {_span(layers)} Pillow." if layers else "."))
    fit = row.get("fit_images_per_second")
    if fit and all(key in fit for key in PLACEMENTS):
        sentences.append(f"In `fit` of the CNN, `augment_dataset` gave {fit['augment_dataset'] / fit['tf.data']:.2f}× "
                         f"the images per second of the layers in `tf.data` and "
                         f"{fit['augment_dataset'] / fit['in model']:.2f}× those of the augmenter in the model; "
                         f"no augmentation, {fit['none'] / fit['augment_dataset']:.2f}× `augment_dataset`.")
    return "\n".join(sentences)


def markdown(rows: list) -> str:
    """Markdown of the latest run of ``rows`` (:func:`latest`): a caption, up to three tables, the headline.

    Tables: augmentation alone (images/s and × Pillow), input pipelines (images/s and
    × the seeds' way; needs ``--pipeline``), ``fit`` of the CNN with each augmenter
    (images/s; needs ``--train``). Every ratio divides two figures of that one run.
    """
    row = latest(rows)
    lines = [f"Measured by {caption(row)}", ""]
    lines += _table(f"augmentation alone ({row['images']:,} images in memory)", "× Pillow",
                    row["augmentation_images_per_second"], PILLOW)
    pipelines = row.get("input_pipeline_images_per_second")
    lines.append("")
    if pipelines:
        files = row.get("input_pipeline_files")
        lines += _table(f"input pipeline, {f'{files:,} ' if files else ''}`{row['profile']}` train files "
                        "→ augmented batches", "× seeds' way", pipelines, SEEDS_WAY)
    else:
        lines.append("Input pipelines: not measured in this run (`--pipeline`).")
    fit = row.get("fit_images_per_second")
    lines.append("")
    if fit:
        steps, images = row.get("train_steps"), row.get("fit_images")
        detail = ", ".join(part for part in (_count(steps, "batch") if steps else "",
                                             _count(images, "image") if images else "") if part)
        lines += _table("`fit` of the CNN" + (f" ({detail})" if detail else ""), "", fit, None)
    else:
        lines.append("`fit` of the CNN: not measured in this run (`--train`).")
    return "\n".join(lines + ["", headline(row)])


def render_readme(text: str, path: Path = COMMITTED) -> str:
    """``text`` with its ``<!-- augmentation_pipeline:sample -->`` block filled from ``path``'s latest run.

    Raises ValueError when ``text`` lacks the markers.
    """
    from course.tools import reference

    return reference.render_readme(text, {SECTION: markdown(read_rows(path))}, prefix=PREFIX)


# ---- the run -----------------------------------------------------------------------------------

def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
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
    readme_tables.add_options(parser, COMMITTED)
    args = parser.parse_args(argv)
    done = readme_tables.run(args, sys.modules[__name__])    # --table, --readme, --check
    if done is not None:
        return done
    measure(args, argv)
    return 0


def measure(args, argv) -> dict:
    """The run ``main`` parsed: prints the figures, writes ``--json`` and appends the row to ``--out``; the row."""
    cfg = config.get_profile(args.profile)
    batch_size = args.batch_size or cfg.batch_size
    try:
        data.require_prepared(cfg)
    except data.DataNotPreparedError as error:
        sys.exit(str(error))
    stamp = protocol.stamp()          # as the run starts: the code that runs, the load it starts on
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
        PILLOW: measure_pillow(x_uint8, batch_size, args.repeats, cfg.seed),
        TF_DATA: measure_tf_data(x, batch_size, args.repeats, cfg.seed),
        IN_MODEL: measure_in_model(x, batch_size, args.repeats, cfg.seed),
        AUGMENT_DATASET: measure_augment_dataset(x, batch_size, args.repeats, cfg.seed),
    }
    rates = {name: n / s for name, s in seconds.items()}
    baseline = rates[PILLOW]
    print(f"\n{'augmentation alone':40s} {'images/s':>10s} {'× Pillow':>9s}")
    for name, rate in rates.items():
        print(f"{name:40s} {rate:10.0f} {rate / baseline:9.2f}")

    results = {"profile": cfg.name, "images": n, "image_size": list(cfg.image_size),
               "batch_size": batch_size, "repeats": args.repeats, "hardware": config.hardware(),
               "versions": protocol.versions("numpy", "pillow"),
               "command": ".venv/bin/python benchmarks/augmentation_pipeline.py " + shlex.join(argv),
               "augmentation_images_per_second": rates,
               "ratio_to_pillow": {name: rate / baseline for name, rate in rates.items()}}
    if args.pipeline:
        count, pipelines = measure_input_pipelines(cfg, batch_size, cfg.seed)
        seeds_way = pipelines[SEEDS_WAY]
        print(f"\n{'input pipeline, ' + str(count) + ' train files':40s} {'images/s':>10s} {'× seeds':>8s}")
        for name, rate in pipelines.items():
            print(f"{name:40s} {rate:10.0f} {rate / seeds_way:8.2f}")
        results["input_pipeline_files"] = count
        results["input_pipeline_images_per_second"] = pipelines
        results["input_pipeline_ratio_to_seeds_way"] = {name: rate / seeds_way
                                                        for name, rate in pipelines.items()}
    if args.train:
        training = measure_training(x, y, batch_size, args.train_steps, cfg.seed, cfg.image_size)
        print(f"\n{'fit of the CNN, augmentation':32s} {'images/s':>10s}")
        for name, rate in training.items():
            print(f"{name:32s} {rate:10.0f}")
        results["train_steps"] = args.train_steps
        results["fit_images"] = min(n, args.train_steps * batch_size)
        results["fit_images_per_second"] = training
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    row = {"benchmark": "augmentation_pipeline", **results, **stamp}
    if args.out:
        protocol.append(args.out, row)
    return row


if __name__ == "__main__":
    sys.exit(main())
