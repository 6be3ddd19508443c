"""Candidate from-scratch recipes for ``cnn_aug``, compared on an enlarged validation set.

Usage (from the repository root)::

    .venv/bin/python benchmarks/cnn_recipes.py                         # every candidate, 5 min each
    .venv/bin/python benchmarks/cnn_recipes.py --budget 420 --candidates bn_gap bn_gap_ls
    .venv/bin/python benchmarks/cnn_recipes.py --profile smoke --budget 10 --extra 8   # a quick check
    .venv/bin/python benchmarks/cnn_recipes.py --markdown benchmarks/cnn_recipes_sample.jsonl

``--out FILE`` appends every row, with the commit and the machine, to a JSON-lines file;
``--markdown FILE`` prints such a file as the Markdown table of ``benchmarks/README.md``.

How a candidate is scored (issue 16: choose on validation only)
---------------------------------------------------------------
Every candidate trains on the profile's ``train`` split (``sample``: 2,000 photos) for
the same wall-clock budget: one epoch is timed first, and the cosine learning-rate
schedule is laid over the epochs that fit in the budget at that speed. It is then
scored once, after its last epoch, on an *enlarged validation set*: the profile's
``valid`` split plus ``--extra`` photos per class taken from the labelled photos of the
full split that the profile does not train on (``sample`` leaves 6,000 of them unused).
With 3,000 validation photos a 95% interval is about ±1.4 points instead of ±2.6
with the 1,000 of ``valid``. The ``test`` split is never read here.

Each row gives validation accuracy with a Wilson 95% interval, the same with
test-time augmentation (the photo and its mirror image, P(dog) averaged), log loss,
epochs, seconds, images per second and FLOPs per training image (counted as in
``benchmarks/peers.py``). McNemar's exact test (``utils.stats``) compares each
candidate with the first one on the same validation photos.

Candidates
----------
cnn_small
    ``cnn_aug`` as it was when this benchmark ran: notebook 03's ``cnn_small`` (``lessons.build_cnn_small``), AdamW
    (weight decay 0.5) with cosine decay from 1e-3, the "mild" augmentation (``augmentation.MILD_SETTINGS``).
bn_gap
    Notebook 04's ``cnn_bn`` (``lessons.build_cnn_bn``, from its cell): four
    blocks Conv2D 3×3 (32, 64, 128, 256 filters, 'valid') + batch normalisation
    (Ioffe & Szegedy, 2015) + ReLU + 2×2 max pooling, then global average pooling
    (Lin et al., 2014, "Network in network") instead of Flatten + Dense(64); dropout
    0.3; AdamW 2e-3 with a linear warm-up of 2 epochs then cosine decay.
bn_gap_ls
    ``bn_gap`` with label smoothing 0.1 (Szegedy et al., 2016, "Rethinking the
    Inception architecture", section 7).
bn_gap_96
    ``bn_gap`` on 96×96 photos: about half the FLOPs, so about twice the epochs.
bn_small
    ``bn_gap`` with ``cnn_small``'s narrower blocks (32, 32, 64, then 128 filters).
bn_gap_64
    ``bn_gap`` on 64×64 photos.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from protocol import unused_photos  # noqa: E402  (benchmarks/ is on sys.path)
from utils import config, stats  # noqa: E402

CANDIDATES = ("cnn_small", "bn_gap", "bn_gap_ls", "bn_gap_96", "bn_small", "bn_gap_64")


def build(name, cfg, steps_per_epoch, epochs):
    """(model, image_size, augmentation settings) of candidate ``name``, compiled for ``epochs``."""
    import keras

    from utils import lessons

    size = tuple(cfg.image_size)
    total = max(1, epochs * steps_per_epoch)
    if name == "cnn_small":
        model = lessons.build_cnn_small(size, dropout=0.5, name=name)
        return lessons.compile_cnn_small(model, total, 1), size      # 03's recipe over `total` steps
    if name == "bn_gap_96":
        size = (96, 96)
    if name == "bn_gap_64":
        size = (64, 64)
    widths = (32, 32, 64, 128) if name == "bn_small" else (32, 64, 128, 256)
    model = lessons.build_cnn_bn(size, widths, name=name)
    schedule = lessons.cnn_bn_schedule(epochs, steps_per_epoch)      # notebook 04's warm-up + cosine
    smoothing = 0.1 if name == "bn_gap_ls" else 0.0
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.05),
                  loss=keras.losses.BinaryCrossentropy(label_smoothing=smoothing),
                  metrics=["accuracy"])
    return model, size


def enlarged_validation(cfg, size, extra_per_class):
    """Arrays of the profile's ``valid`` photos plus ``extra_per_class`` unused labelled ones per class.

    Returns (images, labels): (n, height, width, 3) float32 in [0, 255] and (n,) int32.
    """
    from utils import loading

    x, y = loading.load_arrays("valid", size, cfg=cfg)
    paths, extra_y = unused_photos(cfg, extra_per_class)
    if not paths:
        return x, y
    extra_x = np.stack([loading.load_image(p, size) for p in paths])
    return np.concatenate([x, extra_x]), np.concatenate([y, extra_y])


def train_pipeline(x, y, batch_size, seed, settings):
    import tensorflow as tf

    from utils import lessons

    data = (tf.data.Dataset.from_tensor_slices((x, y.astype("float32")[:, None]))
            .shuffle(len(x), seed=seed, reshuffle_each_iteration=True).batch(batch_size))
    return lessons.augment_dataset(data, seed=seed, **settings)


def run(name, cfg, budget, extra, cache):
    import keras
    from sklearn.metrics import log_loss

    from utils import augmentation, evaluate, loading

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from peers import training_flops_per_image

    keras.utils.set_random_seed(cfg.seed)
    probe, size = build(name, cfg, 1, 1)
    if size not in cache:
        cache[size] = (loading.load_arrays("train", size, cfg=cfg), enlarged_validation(cfg, size, extra))
    (x, y), (vx, vy) = cache[size]
    steps = math.ceil(len(x) / cfg.batch_size)
    train = train_pipeline(x, y, cfg.batch_size, cfg.seed, augmentation.MILD_SETTINGS)
    probe.fit(train.take(2), epochs=1, verbose=0)                    # compiles: not timed
    start = time.perf_counter()
    probe.fit(train.take(6), epochs=1, verbose=0)
    per_batch = (time.perf_counter() - start) / 6
    epochs = max(1, int(budget / (per_batch * steps)))
    keras.utils.set_random_seed(cfg.seed)
    model, _ = build(name, cfg, steps, epochs)
    start = time.perf_counter()
    model.fit(train, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    _, plain = evaluate.predict(model, (vx, vy), batch_size=128)
    _, with_tta = evaluate.predict(model, (vx, vy), batch_size=128, tta=True)   # and the mirror images
    flops = training_flops_per_image(model)
    row = {"candidate": name, "image": f"{size[0]}×{size[1]}", "epochs": epochs, "seconds": round(seconds),
           "images/s": round(epochs * len(x) / seconds, 1), "GFLOP/image": round(flops / 1e9, 3)}
    for label, p in (("", plain), (" TTA", with_tta)):
        correct = int(((p > 0.5).astype(int) == vy).sum())
        low, high = stats.wilson_interval(correct, len(vy))
        row[f"val acc{label}"] = correct / len(vy)
        row[f"95%{label}"] = f"{low:.1%}–{high:.1%}"
        row[f"log loss{label}"] = log_loss(vy, np.clip(p, 1e-7, 1 - 1e-7), labels=[0, 1])
    return row, vy, with_tta


def markdown_table(path: Path) -> str:
    """The rows of a ``--out`` file as a Markdown table, in the order they were measured."""
    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    lines = ["| candidate | image | epochs | train s | images/s | GFLOP/image | val acc (95%) | "
             "val acc, TTA (95%) | val log loss, TTA | commit | machine |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| `{r['candidate']}` | {r['image']} | {r['epochs']} | {r['seconds']} | {r['images/s']:.0f} | "
                     f"{r['GFLOP/image']:.2f} | {r['val acc']:.1%} ({r['95%']}) | "
                     f"{r['val acc TTA']:.1%} ({r['95% TTA']}) | {r['log loss TTA']:.3f} | "
                     f"{r.get('commit', '?')} | {r.get('hardware', '?')} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="sample")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds of training per candidate")
    parser.add_argument("--extra", type=int, default=1000, help="extra validation photos per class")
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=CANDIDATES)
    parser.add_argument("--out", type=Path, help="append each row as a JSON line here")
    parser.add_argument("--markdown", type=Path, help="print this JSON-lines file as a Markdown table and stop")
    args = parser.parse_args(argv)
    import pandas as pd

    if args.markdown:
        print(markdown_table(args.markdown))
        return 0

    cfg = config.get_profile(args.profile)
    print(f"profile {cfg.name}, {args.budget:.0f} s per candidate, {config.describe_hardware()}", flush=True)
    rows, predictions, cache = [], {}, {}
    for name in args.candidates:
        row, vy, p = run(name, cfg, args.budget, args.extra, cache)
        rows.append(row)
        predictions[name] = (vy, p)
        print(json.dumps(row), flush=True)
        if args.out:
            from utils.results import git_commit

            with open(args.out, "a") as handle:
                handle.write(json.dumps({**row, "profile": cfg.name, "commit": git_commit(),
                                         "hardware": config.describe_hardware()}) + "\n")
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    first = args.candidates[0]
    for name in args.candidates[1:]:
        (vy, a), (_, b) = predictions[name], predictions[first]
        test = stats.mcnemar_exact(vy, (a > 0.5).astype(int), (b > 0.5).astype(int))
        print(f"{name} vs {first} (TTA): only {name} right on {test['only_a']}, only {first} on "
              f"{test['only_b']}; McNemar exact p = {test['p_value']:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
