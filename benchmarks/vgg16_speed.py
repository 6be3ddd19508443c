"""How fast is VGG16 on this machine? Feature extraction and fine-tuning steps, and
what that means for notebooks 05-06 under ``sample`` and ``full``.

Random weights are used (the speed of a network does not depend on its weight
values), so this runs without the ImageNet weight files.

Usage::

    .venv/bin/python benchmarks/vgg16_speed.py                  # sizes 64, 128, 224
    .venv/bin/python benchmarks/vgg16_speed.py --sizes 128 --batches 4

``--out FILE`` appends one JSON line per size and kind of work (images per second), then one per
size and profile (notebook 06's estimated minutes), with the commit, the machine, the backend and the date.

Prints images per second for

* ``features``: the frozen convolutional base, forward only (``predict_on_batch``);
* ``blocks 1-4`` and ``block 5``: the two halves of the base, forward only
  (notebook 06 runs blocks 1-4 once and caches their output);
* ``frozen+aug step``: one training step of the model with augmentation, a
  frozen base and a new dense head (the punchline and approach (b): forward
  through the whole base, backward through the head only);
* ``fine-tune step (cached)``: one step of block 5 + head on cached block-4
  features (approach (c) as notebook 06 does it on a CPU);
* ``fine-tune step (end to end)``: the same step from raw images with
  augmentation (approach (c) on a GPU);

then the estimated minutes of notebook 06's training and prediction work under
``sample`` and ``full``, from the image counts and epochs of each profile.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import protocol  # noqa: E402  (benchmarks/ is on sys.path)
from utils import config, finetune  # noqa: E402

#: Image counts assumed when the data is not prepared (train, valid, test, test1).
NOMINAL_COUNTS = {"sample": (2000, 1000, 1000, 500), "full": (23000, 1000, 1000, 12500)}


def images_per_second(step, batch, batches: int) -> tuple[float, float, float]:
    """Run ``step(batch)`` once to warm up, then ``batches`` times, each timed.

    Returns
    -------
    (best, median, idle) : tuple of float
        Images per second of the fastest batch and of the median batch (wall
        clock), and ``idle``: images per second of CPU time of this process
        times the number of cores, i.e. the speed on an idle machine if the
        work spread perfectly over all cores. On shared cores ``best`` and
        ``median`` are lower bounds of an idle machine's speed, ``idle`` an
        upper bound.
    """
    step(batch)
    times = []
    cpu_start = time.process_time()
    for _ in range(batches):
        start = time.perf_counter()
        step(batch)
        times.append(time.perf_counter() - start)
    cpu_seconds = time.process_time() - cpu_start
    n = len(batch[0])
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return n / min(times), n / float(np.median(times)), n * batches / (cpu_seconds / cores)


def measure(image_size: int, batch_size: int, batches: int) -> dict:
    """Images per second of each kind of work in notebook 06 at ``image_size`` × ``image_size``."""
    import keras

    from utils import lessons

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (batch_size, image_size, image_size, 3)).astype("float32")
    y = rng.integers(0, 2, (batch_size, 1)).astype("float32")
    base = keras.applications.VGG16(include_top=False, weights=None,
                                    input_shape=(image_size, image_size, 3))
    result = {}
    extractor = finetune.feature_extractor(base)
    result["features"] = images_per_second(lambda b: extractor.predict_on_batch(b[0]), (x, y), batches)
    bottom, block5 = finetune.split_base(base, at="block4_pool")
    bottom_raw = finetune.feature_extractor(bottom, name="bottom_raw")
    result["blocks 1-4"] = images_per_second(lambda b: bottom_raw.predict_on_batch(b[0]), (x, y), batches)
    x4 = np.asarray(bottom_raw.predict_on_batch(x))
    result["block 5"] = images_per_second(lambda b: block5.predict_on_batch(b[0]), (x4, y), batches)

    base.trainable = False
    model = finetune.build_classifier(base, augmentation=lessons.build_augmenter(seed=0), name="bench")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    result["frozen+aug step"] = images_per_second(lambda b: model.train_on_batch(*b), (x, y), batches)

    finetune.set_trainable_blocks(base, blocks=(5,))
    tail = finetune.attach_head(block5, model, name="bench_tail")
    tail.compile(optimizer=keras.optimizers.Adam(1e-5), loss="binary_crossentropy")
    result["fine-tune step (cached)"] = images_per_second(lambda b: tail.train_on_batch(*b), (x4, y), batches)
    model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="binary_crossentropy")
    result["fine-tune step (end to end)"] = images_per_second(lambda b: model.train_on_batch(*b), (x, y), batches)
    return result


def counts(profile: str) -> tuple:
    """(train, valid, test, test1) images of a profile: measured when prepared, else nominal."""
    cfg = config.get_profile(profile)
    try:
        from utils import audit

        found = audit.count_images(cfg)
        n = [sum(found[s].values()) for s in ("train", "valid", "test")]
        test1 = len(list((cfg.split_dir / "test1").glob("*.jpg")))
        if cfg.test1_limit is not None:
            test1 = min(test1, cfg.test1_limit)
        if all(n):
            return (*n, test1 or NOMINAL_COUNTS[profile][3]), "prepared data"
    except Exception:
        pass
    return NOMINAL_COUNTS[profile], "nominal counts (data not prepared)"


def estimate_minutes(speed: dict, profile: str, which: int = 0) -> tuple[float, dict, str]:
    """Minutes of notebook 06's VGG16 work under ``profile`` at the measured speeds.

    Work counted (images through the network), as the notebook does it:
    punchline: 1 epoch with a frozen base (train steps + valid forward);
    blocks 1-4 once over train + valid + test (cached);
    (a) block 5 over the cached features once (the head's epochs are negligible);
    (b) ``vgg16_head`` epochs of frozen base + augmentation (train steps + valid forward);
    (c) ``vgg16_finetune`` epochs of block 5 + head on the cached features;
    submission: test1 forward. Evaluation reuses the cached features.
    ``which``: 0 uses the best batch times, 1 the median ones, 2 the idle-machine estimate.
    """
    speed = {k: v[which] for k, v in speed.items()}
    cfg = config.get_profile(profile)
    (train, valid, test, test1), source = counts(profile)
    head, tune = cfg.epochs["vgg16_head"], cfg.epochs["vgg16_finetune"]
    fwd, b14, b5 = speed["features"], speed["blocks 1-4"], speed["block 5"]
    parts = {
        "punchline": train / speed["frozen+aug step"] + valid / fwd,
        "blocks 1-4 once": (train + valid + test) / b14,
        "(a)": (train + valid + test) / b5,
        "(b)": head * (train / speed["frozen+aug step"] + valid / fwd),
        "(c)": tune * (train / speed["fine-tune step (cached)"] + valid / b5),
        "submission": test1 / fwd,
    }
    parts = {k: v / 60 for k, v in parts.items()}
    return sum(parts.values()), parts, f"{train}/{valid}/{test} + {test1} test1 ({source}); epochs head {head}, fine-tune {tune}"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 224])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=4, help="timed batches per measurement")
    parser.add_argument("--out", type=Path, help="append the speeds and the estimates as JSON lines here")
    args = parser.parse_args(argv)
    common = {"benchmark": "vgg16_speed", "batch_size": args.batch_size, "timed_batches": args.batches}
    print(f"Hardware: {config.describe_hardware()}  (TF threads: default; "
          f"load average at start {os.getloadavg()[0]:.2f})")
    print(f"batch size {args.batch_size}, {args.batches} timed batches after one warm-up; random weights\n")
    speeds = {}
    for size in args.sizes:
        speed = measure(size, args.batch_size, args.batches)
        speeds[size] = speed
        print(f"{size}x{size} (images/s: best batch / median batch / idle-machine estimate from CPU time):")
        for kind, (best, median, idle) in speed.items():
            print(f"    {kind:28s} {best:8.1f} / {median:8.1f} / {idle:8.1f}")
            if args.out:
                protocol.append(args.out, {**common, "image_size": size, "work": kind, "best_images_per_s": best,
                                           "median_images_per_s": median, "idle_images_per_s": idle,
                                           **protocol.stamp()})
        sys.stdout.flush()
    print()
    for size, speed in speeds.items():
        for profile in ("sample", "full"):
            row = {**common, "image_size": size, "estimate": "notebook 06", "profile": profile}
            for which, label in ((0, "best"), (1, "median"), (2, "idle")):
                total, parts, what = estimate_minutes(speed, profile, which)
                detail = ", ".join(f"{k} {v:.1f}" for k, v in parts.items())
                print(f"{size}x{size} {profile:>6} ({label:6s} speeds): notebook 06 ≈ {total:.0f} min  [{detail}]")
                row.update({f"{label}_minutes": total, f"{label}_parts_minutes": parts})
            print(f"    ({what})")
            if args.out:
                protocol.append(args.out, {**row, "counts": what, **protocol.stamp()})
    print("\nNotebook 05 adds about a minute (8 images at 224x224 through VGG16, twice; measured 45 s under smoke).")


if __name__ == "__main__":
    main()
