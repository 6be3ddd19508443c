"""float32, mixed bfloat16 and XLA: seconds per epoch of the course's trainings, measured in one run.

Usage (from the repository root)::

    .venv/bin/python benchmarks/precision.py                     # sample profile, 4 epochs per way
    .venv/bin/python benchmarks/precision.py --profile smoke --epochs 2 --workloads cnn_bn   # a quick check

``--out FILE`` appends one JSON line per (workload, way) measured, with the commit, the machine,
the backend and the date.

Why (issue 16, "how close to the machine": try the cheap levers, keep those
that pay). Three ways to run the same training on a CPU, TensorFlow backend:

float32
    the course's default.
mixed_bfloat16
    ``keras.mixed_precision.set_global_policy("mixed_bfloat16")``: layers
    compute in bfloat16, weights stay float32, the output layer float32
    (what ``DOGSCATS_MIXED_PRECISION=1`` selects on a CPU with native bfloat16,
    :mod:`utils.devices`). Only worth it where the cores multiply bfloat16
    natively (AVX-512 BF16, AMX); elsewhere it is emulated.
xla
    float32, compiled with ``jit_compile=True`` (Keras leaves XLA off on a
    CPU-only TensorFlow machine).

Workloads, each the recipe of a notebook on the profile's training photos:

mlp        02's ``Dense(768) → Dense(384)`` network on 32×32 arrays (Adam);
cnn_small  03's network at the profile's image size, decoded once (AdamW);
cnn_bn     04's network at 64×64, augmented in ``tf.data`` (AdamW);
lite0      06's EfficientNet-Lite0 bottom (up to ``stage5_out``) over the
           training photos at 224×224: inference only, an "epoch" is one pass.

Each (workload, way) runs in its own Python process, so one policy never leaks
into the next. Printed: the mean seconds per epoch with the first epoch (which
compiles) left out, and each way's ratio to float32 (above 1: faster than
float32). Nothing is asserted: the ratios depend on the CPU, which is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import protocol  # noqa: E402  (benchmarks/ is on sys.path)

WORKLOADS = ("mlp", "cnn_small", "cnn_bn", "lite0")
WAYS = ("float32", "mixed_bfloat16", "xla")


def _clock():
    import keras

    class Clock(keras.callbacks.Callback):
        """Seconds of each training epoch (validation excluded: there is none)."""

        def __init__(self):
            super().__init__()
            self.epochs = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.epochs.append(time.perf_counter() - self.start)

    return Clock()


def child(workload: str, way: str, profile: str, epochs: int) -> dict:
    """One measurement, in this process: ``{"epochs": [seconds...], "images": n}``."""
    import keras

    from utils import augmentation, config, lessons, loading, transfer

    cfg = config.get_profile(profile)
    if way == "mixed_bfloat16":
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    jit = way == "xla"
    keras.utils.set_random_seed(cfg.seed)
    if workload == "lite0":
        from utils import finetune

        base = transfer.load_base("efficientnet_lite0", input_shape=(224, 224, 3), cfg=cfg)
        bottom, _ = finetune.split_base(base, at=transfer.SPLIT_AT["efficientnet_lite0"])
        bottom.compile(jit_compile=jit)
        batches = loading.get_batches("train", (224, 224), shuffle=False, cfg=cfg, cache=True)
        passes, count = [], 0
        for _ in range(epochs):
            start = time.perf_counter()
            count = sum(int(bottom.predict_on_batch(x).shape[0]) for x, _ in batches)
            passes.append(time.perf_counter() - start)
        return {"epochs": passes, "images": count}
    if workload == "mlp":
        x, y = loading.load_arrays("train", (32, 32), cfg=cfg)
        model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
                                  keras.layers.Dense(768, activation="relu"), keras.layers.Dense(384, activation="relu"),
                                  keras.layers.Dense(1, activation="sigmoid", dtype="float32")])
        optimizer = keras.optimizers.Adam(1e-3)
        data = loading.array_batches(x, y, cfg.batch_size, shuffle=True, seed=cfg.seed)
        count = len(x)
    elif workload == "cnn_small":
        model = lessons.build_cnn_small(cfg.image_size, dropout=0.5)
        optimizer = keras.optimizers.AdamW(1e-3, weight_decay=0.5)
        data = loading.get_batches("train", cfg.image_size, cfg=cfg, cache=True)
        count = len(data.file_paths)
    else:
        model = lessons.build_cnn_bn((64, 64))
        optimizer = keras.optimizers.AdamW(2e-3, weight_decay=0.05)
        train = loading.get_batches("train", (64, 64), cfg=cfg, cache=True)
        count = len(train.file_paths)
        data = lessons.augment_dataset(train, seed=cfg.seed, **augmentation.MILD_SETTINGS)
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"], jit_compile=jit)
    clock = _clock()
    model.fit(data, epochs=epochs, verbose=0, callbacks=[clock])
    return {"epochs": clock.epochs, "images": count}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="sample")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per way (the first is left out)")
    parser.add_argument("--workloads", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    parser.add_argument("--ways", nargs="+", choices=WAYS, default=list(WAYS))
    parser.add_argument("--out", type=Path, help="append one JSON line per (workload, way) here")
    parser.add_argument("--child", nargs=2, metavar=("WORKLOAD", "WAY"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch compiles and is left out")
    if args.child:
        print("RESULT " + json.dumps(child(*args.child, args.profile, args.epochs)), flush=True)
        return 0

    from utils import config, devices

    print(f"{args.profile}: {args.epochs} epochs per way, the first left out; {config.describe_hardware()}; "
          f"native bfloat16: {devices.native_bfloat16()}")
    print(f"{'workload':10s} {'way':15s} {'s/epoch':>8s} {'images/s':>9s} {'× float32':>10s}")
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    for workload in args.workloads:
        baseline = None
        for way in args.ways:
            done = subprocess.run([sys.executable, __file__, "--profile", args.profile, "--epochs", str(args.epochs),
                                   "--child", workload, way], capture_output=True, text=True, env=env, cwd=ROOT)
            lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
            if done.returncode or not lines:
                print(f"{workload:10s} {way:15s} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
                continue
            found = json.loads(lines[-1][len("RESULT "):])
            later = found["epochs"][1:]
            mean = sum(later) / len(later)
            baseline = baseline or (mean if way == "float32" else None)
            ratio = f"{baseline / mean:9.2f}×" if baseline else f"{'—':>10s}"
            print(f"{workload:10s} {way:15s} {mean:8.2f} {found['images'] / mean:9.0f} {ratio}", flush=True)
            if args.out:
                protocol.append(args.out, {
                    "benchmark": "precision", "profile": args.profile, "workload": workload, "way": way,
                    "epochs": args.epochs, "images": found["images"], "seconds_per_epoch": mean,
                    "images_per_s": found["images"] / mean, "speedup_over_float32": baseline / mean if baseline else None,
                    "native_bfloat16": devices.native_bfloat16(),
                    **protocol.stamp(), "backend": "tensorflow"})   # the children run TensorFlow (env above)
    return 0


if __name__ == "__main__":
    sys.exit(main())
