"""How fast is VGG16 on this machine? Feature extraction and fine-tuning steps, and
what that means for notebooks 05-06 under ``sample`` and ``full``.

Random weights are used (the speed of a network does not depend on its weight
values), so this runs without the ImageNet weight files.

Usage::

    .venv/bin/python benchmarks/vgg16_speed.py                  # sizes 64, 128, 224
    .venv/bin/python benchmarks/vgg16_speed.py --sizes 128 --batches 4

Prints images per second for

* ``features``: the frozen convolutional base, forward only (``predict_on_batch``);
* ``frozen step``: one training step of the model with a frozen base and a new
  dense head (the punchline and approach (b): forward through the whole base,
  backward through the head only);
* ``fine-tune step``: one training step with block 5 trainable (approach (c));

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

import numpy as np  # noqa: E402

from utils import config, vgg16  # noqa: E402

#: Image counts assumed when the data is not prepared (train, valid, test, test1).
NOMINAL_COUNTS = {"sample": (2000, 1000, 1000, 500), "full": (23000, 1000, 1000, 12500)}


def images_per_second(step, batch, batches: int) -> float:
    """Run ``step(batch)`` once to warm up, then ``batches`` times; images per second."""
    step(batch)
    start = time.perf_counter()
    for _ in range(batches):
        step(batch)
    return batches * len(batch[0]) / (time.perf_counter() - start)


def measure(image_size: int, batch_size: int, batches: int) -> dict:
    """Images per second of the three kinds of work at ``image_size`` × ``image_size``."""
    import keras

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (batch_size, image_size, image_size, 3)).astype("float32")
    y = rng.integers(0, 2, (batch_size, 1)).astype("float32")
    base = keras.applications.VGG16(include_top=False, weights=None,
                                    input_shape=(image_size, image_size, 3))
    extractor = vgg16.feature_extractor(base)
    result = {"features": images_per_second(lambda b: extractor.predict_on_batch(b[0]), (x, y), batches)}

    model = vgg16.build_classifier(base, head="dense", name="bench")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    result["frozen step"] = images_per_second(lambda b: model.train_on_batch(*b), (x, y), batches)

    base.trainable = True
    for layer in base.layers:
        layer.trainable = layer.name.startswith("block5")
    model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="binary_crossentropy")
    result["fine-tune step"] = images_per_second(lambda b: model.train_on_batch(*b), (x, y), batches)
    return result


def counts(profile: str) -> tuple:
    """(train, valid, test, test1) images of a profile: measured when prepared, else nominal."""
    cfg = config.get_profile(profile)
    try:
        from utils import data

        found = data.count_images(cfg)
        n = [sum(found[s].values()) for s in ("train", "valid", "test")]
        test1 = len(list((cfg.split_dir / "test1").glob("*.jpg")))
        if cfg.test1_limit is not None:
            test1 = min(test1, cfg.test1_limit)
        if all(n):
            return (*n, test1 or NOMINAL_COUNTS[profile][3]), "prepared data"
    except Exception:
        pass
    return NOMINAL_COUNTS[profile], "nominal counts (data not prepared)"


def estimate_minutes(speed: dict, profile: str) -> tuple[float, dict, str]:
    """Minutes of notebook 06's VGG16 work under ``profile`` at the measured speeds.

    Work counted (images through the network):
    punchline: 1 epoch frozen (train steps + valid forward);
    (a) features: train + valid + test forward once;
    (b) frozen + augmentation: ``vgg16_head`` epochs (train steps + valid forward) + test;
    (c) fine-tune: ``vgg16_finetune`` epochs (fine-tune steps + valid forward) + test;
    evaluation, error views and submission: test + valid + test1 forward.
    """
    cfg = config.get_profile(profile)
    (train, valid, test, test1), source = counts(profile)
    head, tune = cfg.epochs["vgg16_head"], cfg.epochs["vgg16_finetune"]
    fwd, frozen, fine = speed["features"], speed["frozen step"], speed["fine-tune step"]
    parts = {
        "punchline": train / frozen + valid / fwd,
        "(a) features": (train + valid + test) / fwd,
        "(b) frozen + aug": head * (train / frozen + valid / fwd) + test / fwd,
        "(c) fine-tune": tune * (train / fine + valid / fwd) + test / fwd,
        "evaluation + submission": (test + valid + test1) / fwd,
    }
    parts = {k: v / 60 for k, v in parts.items()}
    return sum(parts.values()), parts, f"{train}/{valid}/{test} + {test1} test1 ({source}); epochs head {head}, fine-tune {tune}"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 224])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=3, help="timed batches per measurement")
    args = parser.parse_args(argv)
    print(f"Hardware: {config.describe_hardware()}  (TF threads: default; "
          f"load average at start {os.getloadavg()[0]:.2f})")
    print(f"batch size {args.batch_size}, {args.batches} timed batches after one warm-up; random weights\n")
    print(f"{'size':>9} {'features':>12} {'frozen step':>12} {'fine-tune step':>15}   (images/s)")
    speeds = {}
    for size in args.sizes:
        speed = measure(size, args.batch_size, args.batches)
        speeds[size] = speed
        print(f"{size:>4}x{size:<4} {speed['features']:12.1f} {speed['frozen step']:12.1f} "
              f"{speed['fine-tune step']:15.1f}", flush=True)
    print()
    for size, speed in speeds.items():
        for profile in ("sample", "full"):
            total, parts, what = estimate_minutes(speed, profile)
            detail = ", ".join(f"{k} {v:.1f}" for k, v in parts.items())
            print(f"{size}x{size} {profile:>6}: notebook 06 ≈ {total:.0f} min of VGG16 work  [{detail}]  ({what})")
    print("\nNotebook 05 adds under a minute (a dozen 224x224 images through the full VGG16).")


if __name__ == "__main__":
    main()
