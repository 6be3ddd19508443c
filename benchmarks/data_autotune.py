"""tf.data's autotuner on or off: seconds per epoch of ``model.fit``, measured in one run.

Usage (from the repository root)::

    .venv/bin/python benchmarks/data_autotune.py --out benchmarks/data_autotune_sample.jsonl  # sample, 10 epochs
    .venv/bin/python benchmarks/data_autotune.py --profile smoke --epochs 3   # a quick check
    .venv/bin/python benchmarks/data_autotune.py --table benchmarks/data_autotune_sample.jsonl  # print the table
    .venv/bin/python benchmarks/data_autotune.py --readme           # write it into benchmarks/README.md
    .venv/bin/python benchmarks/data_autotune.py --readme --check   # exit 1 when the README's table is stale

``--out FILE`` appends one JSON line per workload: its two ways' mean seconds per epoch, epochs
that waited, and each timed epoch's seconds and first-batch seconds, all rows of a run with the same
:func:`protocol.stamp` (commit, machine, backend, date, load average at the start) and the library
``versions``. ``--table FILE`` prints such a file's latest run as Markdown (:func:`markdown`);
``--readme`` writes the table of :data:`COMMITTED` into ``benchmarks/README.md`` between
``<!-- data_autotune:sample -->`` and ``<!-- /data_autotune:sample -->`` (:func:`render_readme`).

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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import protocol  # noqa: E402  (benchmarks/ is on sys.path)
import readme_tables  # noqa: E402
from utils import config  # noqa: E402

SIZE = (64, 64)
#: An epoch "waited" when its first batch took longer than this, in seconds.
STALL_SECONDS = 1.0
#: The committed figures the README's table is made from.
COMMITTED = ROOT / "benchmarks" / "data_autotune_sample.jsonl"
README = ROOT / "benchmarks" / "README.md"
#: ``<!-- data_autotune:sample -->``
PREFIX, SECTION = "data_autotune", "sample"


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


def summary(clock, stall=STALL_SECONDS):
    """(mean seconds per epoch, epochs whose first batch took over ``stall`` s, epochs counted), the first
    epoch (compilation) left out unless it is the only one."""
    later = clock.epochs[1:] or clock.epochs
    stalled = sum(1 for seconds in clock.first_batch[1:] if seconds > stall)
    return float(np.mean(later)), stalled, len(later)


# ---- the table ---------------------------------------------------------------------------------

def read_rows(path: Path) -> list:
    """The rows of a JSON-lines file written by ``--out`` (:func:`protocol.read_log`)."""
    return protocol.read_log(Path(path))


latest_run = protocol.latest_run


def on_over_off(row: dict) -> float:
    """A workload's mean seconds per epoch with the autotuner on over off, both of the same run
    (above 1: off is faster)."""
    return row["autotune_on_seconds_per_epoch"] / row["autotune_off_seconds_per_epoch"]


def markdown(rows: list) -> str:
    """Markdown of the latest run of ``rows``: per workload and way, mean seconds per epoch (the first epoch
    left out), epochs that waited over :data:`STALL_SECONDS` for their first batch and the longest such wait
    (s); then what and where it ran, the command, and the on ÷ off ratios of that run."""
    run = latest_run(rows)
    first = run[0]
    stall = first.get("stall_seconds", STALL_SECONDS)
    lines = [f"| workload | autotuner | s / epoch | epochs that waited > {stall:g} s | longest first batch, s |",
             "|---|---|---|---|---|"]
    for row in run:
        for way in ("on", "off"):
            waits = row.get(f"autotune_{way}_first_batch_seconds")
            longest = f"{max(waits):.1f}" if waits else ""
            lines.append(f"| {row['workload']} | {way} | {row[f'autotune_{way}_seconds_per_epoch']:.2f} "
                         f"| {row[f'autotune_{way}_epochs_waited']} of {row['epochs_counted']} | {longest} |")
    versions = ", ".join(f"{name} {version}" for name, version in first.get("versions", {}).items())
    load = f"load average {first['load']} at the start" if first.get("load") is not None else "load not recorded"
    if protocol.contended(first):
        load += ": **contended**, another job shared the machine"
    size = "×".join(str(s) for s in first["image_size"])
    lines += ["", f"`{first['profile']}`: {first['training_photos']:,} training photos at {size}, `cnn_bn`, "
              f"{first['epochs']} epochs per way, the first (compilation) left out; backend {first['backend']}"
              + (f" ({versions})" if versions else "") + f"; {first['machine']}; commit {first['commit']}, "
              f"{first['date']} UTC; {load}. Command: `.venv/bin/python benchmarks/data_autotune.py "
              f"--profile {first['profile']} --epochs {first['epochs']}`."]
    ratios = [f"{on_over_off(row):.2f}× as long for {row['workload']}" for row in run]
    lines += ["", "With the autotuner on, epochs took " + " and ".join(ratios)
              + " as with it off, in the same run (above 1×: off is faster)."]
    return "\n".join(lines)


def render_readme(text: str, path: Path = COMMITTED) -> str:
    """``text`` with its ``<!-- data_autotune:sample -->`` block filled from ``path`` (ValueError when the
    markers are missing)."""
    from course.tools import reference

    return reference.render_readme(text, {SECTION: markdown(read_rows(path))}, prefix=PREFIX)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="sample")
    parser.add_argument("--epochs", type=int, default=10, help="epochs per way (the first is left out)")
    parser.add_argument("--out", type=Path, help="append one JSON line per workload here")
    readme_tables.add_options(parser, COMMITTED)
    args = parser.parse_args(argv)
    done = readme_tables.run(args, sys.modules[__name__])    # --table, --readme, --check
    if done is not None:
        return done
    cfg = config.get_profile(args.profile)
    stamp = {**protocol.stamp(), "versions": protocol.versions()}     # once, as the run starts: one run, one stamp

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
                          "training_photos": len(x), "image_size": list(SIZE), "epochs": args.epochs,
                          "stall_seconds": STALL_SECONDS}
        for on in (True, False):
            clock = train(cfg, args.epochs, make(on))
            mean, stalled, counted = summary(clock)
            means[on] = mean
            way = "on" if on else "off"
            row.update({f"autotune_{way}_seconds_per_epoch": mean, f"autotune_{way}_epochs_waited": stalled,
                        "epochs_counted": counted,
                        f"autotune_{way}_epoch_seconds": [round(t, 3) for t in clock.epochs[1:]],
                        f"autotune_{way}_first_batch_seconds": [round(t, 3) for t in clock.first_batch[1:]]})
            print(f"{name:9s} {way:9s} {mean:8.2f} {stalled:>3d} of {counted}", flush=True)
        print(f"{name:9s} on ÷ off: {means[True] / means[False]:.2f}×")
        if args.out:
            protocol.append(args.out, {**row, "on_over_off": means[True] / means[False], **stamp})
    return 0


if __name__ == "__main__":
    sys.exit(main())
