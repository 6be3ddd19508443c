"""tf.data's autotuner on or off: seconds per epoch of ``model.fit``, measured in one run.

Usage (from the repository root)::

    .venv/bin/python benchmarks/data_autotune.py                      # sample profile, 10 epochs per way
    .venv/bin/python benchmarks/data_autotune.py --profile smoke --epochs 3   # a quick check

``--out FILE`` appends one JSON line per workload (its two ways' figures, with the commit,
the machine, the backend and the date).

Why (issue 16, "how close to the machine"): on a 2-core CPU (TensorFlow 2.21,
Keras 3.15) ``model.fit`` sat idle for 2–5 s before the first batch of about
half its epochs. A stack dump during the wait showed the main thread inside
the epoch loop's iterator, with no Python frame below it, and the wait went
away with ``tf.data.Options().autotune.enabled = False``. The course therefore
puts :func:`utils.loading.pipeline_options` on every pipeline it builds; this
script keeps the evidence.

Two workloads, each trained once with the autotuner on (TensorFlow's default)
and once off, the same model and seed:

images
    notebook 04's ``cnn_bn`` (``lessons.build_cnn_bn``) on the ``train`` split at
    64×64, decoded once (``get_batches(..., cache=True)``), augmented in
    ``tf.data`` (``augment_dataset``, 04's mild strength), validated on ``valid``.
arrays
    the same model on the same photos held in memory, as ``fit`` gets them in
    notebooks 02 and 06: ``model.fit(x, y)`` (Keras batches them itself, autotuner
    on) against :func:`utils.loading.array_batches` (autotuner off).

For each it prints the mean seconds per epoch (the first epoch, which compiles,
left out), how many epochs waited more than a second for their first batch,
and the ratio of the two means (on ÷ off: above 1, off is faster). Nothing is
asserted: run it on your machine to see whether the wait happens there.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import protocol  # noqa: E402  (benchmarks/ is on sys.path)
from utils import config  # noqa: E402

SIZE = (64, 64)


def _epoch_clock():
    import keras

    class Clock(keras.callbacks.Callback):
        """Seconds of each epoch, and of its first batch."""

        def __init__(self):
            super().__init__()
            self.epochs, self.first_batch = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()
            self.seen_batch = False

        def on_train_batch_end(self, batch, logs=None):
            if not self.seen_batch:
                self.first_batch.append(time.perf_counter() - self.start)
                self.seen_batch = True

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append(time.perf_counter() - self.start)

    return Clock()


def autotune_on(dataset):
    """``dataset`` with TensorFlow's default, the autotuner on (overrides the course's options)."""
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = True
    return dataset.with_options(options)


def train(cfg, epochs, fit_inputs):
    """Fit a fresh ``cnn_bn`` with ``fit_inputs`` (kwargs of ``model.fit``); returns the clock."""
    import keras

    from utils import lessons

    keras.utils.set_random_seed(cfg.seed)
    model = lessons.build_cnn_bn(SIZE)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3, weight_decay=0.05),
                  loss="binary_crossentropy", metrics=["accuracy"])
    clock = _epoch_clock()
    model.fit(epochs=epochs, verbose=0, callbacks=[clock], **fit_inputs)
    return clock


def summary(clock, stall=1.0):
    later = clock.epochs[1:] or clock.epochs
    stalled = sum(1 for seconds in clock.first_batch[1:] if seconds > stall)
    return float(np.mean(later)), stalled, len(later)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="sample")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per way (the first is left out)")
    parser.add_argument("--out", type=Path, help="append one JSON line per workload here")
    args = parser.parse_args(argv)
    cfg = config.get_profile(args.profile)

    from utils import augmentation, lessons, loading

    def images(on):
        train = loading.get_batches("train", SIZE, cfg=cfg, cache=True)
        valid = loading.get_batches("valid", SIZE, cfg=cfg, cache=True)
        train = lessons.augment_dataset(train, seed=cfg.seed, **augmentation.MILD_SETTINGS)
        if on:
            train, valid = autotune_on(train), autotune_on(valid)
        return dict(x=train, validation_data=valid, shuffle=False)   # the dataset shuffles itself

    x, y = loading.load_arrays("train", SIZE, cfg=cfg)
    vx, vy = loading.load_arrays("valid", SIZE, cfg=cfg)

    def arrays(on):
        if on:
            return dict(x=x, y=y, batch_size=cfg.batch_size, shuffle=True, validation_data=(vx, vy))
        return dict(x=loading.array_batches(x, y, cfg.batch_size, shuffle=True, seed=cfg.seed), shuffle=False,
                    validation_data=loading.array_batches(vx, vy, cfg.batch_size))

    print(f"{cfg.name}: {len(x):,} training photos at {SIZE[0]}×{SIZE[1]}, {args.epochs} epochs per way, "
          f"cnn_bn; an epoch 'waited' when its first batch took over 1 s")
    print(f"{'workload':9s} {'autotuner':9s} {'s/epoch':>8s} {'waited':>7s}")
    for name, make in (("images", images), ("arrays", arrays)):
        means, row = {}, {"benchmark": "data_autotune", "profile": cfg.name, "workload": name,
                          "training_photos": len(x), "image_size": list(SIZE), "epochs": args.epochs}
        for on in (True, False):
            mean, stalled, counted = summary(train(cfg, args.epochs, make(on)))
            means[on] = mean
            way = "on" if on else "off"
            row.update({f"autotune_{way}_seconds_per_epoch": mean, f"autotune_{way}_epochs_waited": stalled,
                        "epochs_counted": counted})
            print(f"{name:9s} {way:9s} {mean:8.2f} {stalled:>3d} of {counted}", flush=True)
        print(f"{name:9s} on ÷ off: {means[True] / means[False]:.2f}×")
        if args.out:
            protocol.append(args.out, {**row, "on_over_off": means[True] / means[False], **protocol.stamp()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
