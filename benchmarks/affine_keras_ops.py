"""Is ``keras.ops.image.affine_transform`` a drop-in for the course's fused augmentation?

``utils.lessons.random_affine`` (notebook 04's cell) composes the five random transforms into one
matrix per image (``affine_transforms``) and resamples once with TensorFlow's
``ImageProjectiveTransformV3``. Keras 3 has a backend-neutral op with the same
eight-parameter matrix format, ``keras.ops.image.affine_transform``. This script
applies both to the same real images and the same matrices and prints the largest
difference of their outputs (pixel values in [0, 255]) and the images per second of
each, best of ``--repeats`` passes after a warm-up, in one run.

Usage::

    .venv/bin/python benchmarks/affine_keras_ops.py --profile smoke
    .venv/bin/python benchmarks/affine_keras_ops.py --profile sample --images 256

``--out FILE`` appends the figures as one JSON line (with the commit, the machine, the backend and the date).
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
from utils import config, lessons, loading  # noqa: E402


def _best_rate(function, images, repeats):
    function(images)                                   # warm-up (tracing, allocation)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.asarray(function(images))
        best = min(best, time.perf_counter() - start)
    return len(images) / best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, help="append the figures as a JSON line here")
    args = parser.parse_args(argv)
    import keras
    import tensorflow as tf

    cfg = config.get_profile(args.profile)
    batches = loading.get_batches("train", cfg.image_size, batch_size=args.images, shuffle=False, cfg=cfg)
    images = next(iter(batches))[0]
    height, width = cfg.image_size
    transforms = lessons.affine_transforms(len(images), height, width, (cfg.seed, 0))

    def course(x):
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=x, transforms=transforms, output_shape=[height, width],
            fill_value=tf.constant(0.0, tf.float32), interpolation="BILINEAR", fill_mode="NEAREST")

    def keras_ops(x):
        return keras.ops.image.affine_transform(x, keras.ops.convert_to_tensor(np.asarray(transforms)),
                                                interpolation="bilinear", fill_mode="nearest")

    ours, theirs = np.asarray(course(images)), np.asarray(keras_ops(images))
    difference = np.abs(ours - theirs)
    print(f"{len(images)} images {height}×{width} ({cfg.name}), backend {keras.backend.backend()}")
    print(f"largest difference {difference.max():.3f}, mean {difference.mean():.4f} (pixel values 0–255); "
          f"pixels differing by more than 1: {(difference > 1).mean():.2%}")
    rates = {}
    for key, name, function in (("course", "ImageProjectiveTransformV3 (course)", course),
                                ("keras_ops", "keras.ops.image.affine_transform", keras_ops)):
        rates[key] = _best_rate(function, images, args.repeats)
        print(f"{name:36}: {rates[key]:8.0f} images/s")
    if args.out:
        protocol.append(args.out, {
            "benchmark": "affine_keras_ops", "profile": cfg.name, "images": len(images), "image_size": [height, width],
            "repeats": args.repeats, "largest_difference_pixel_values": float(difference.max()),
            "mean_difference_pixel_values": float(difference.mean()),
            "share_of_pixels_differing_by_over_1": float((difference > 1).mean()),
            "course_images_per_s": rates["course"], "keras_ops_images_per_s": rates["keras_ops"],
            **protocol.stamp()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
