"""Is ``keras.ops.image.affine_transform`` a drop-in for the course's fused augmentation?

``utils.lessons.random_affine`` (notebook 04's cell) composes the five random transforms into one
matrix per image (``affine_transforms``) and resamples once with TensorFlow's
``ImageProjectiveTransformV3``. Keras 3 has a backend-neutral op with the same
eight-parameter matrix format, ``keras.ops.image.affine_transform``. This script
applies both to the same real images and the same matrices and prints the largest
difference of their outputs (pixel values in [0, 255]) and the images per second of
each, best of ``--repeats`` passes after a warm-up, in one run.

Usage::

    .venv/bin/python benchmarks/affine_keras_ops.py --profile smoke --images 64 --repeats 3 --out benchmarks/affine_keras_ops.jsonl
    .venv/bin/python benchmarks/affine_keras_ops.py --profile sample --images 256
    .venv/bin/python benchmarks/affine_keras_ops.py --readme           # write its table into benchmarks/README.md
    .venv/bin/python benchmarks/affine_keras_ops.py --readme --check   # exit 1 when the README's table is stale

``--out FILE`` appends the figures as one JSON line (with the commit, the machine, the backend, the date
and the load average at the start). ``--readme`` writes :func:`markdown` of :data:`COMMITTED` (every
run in it, one line each) into ``benchmarks/README.md`` between ``<!-- affine_keras_ops:runs -->`` and
``<!-- /affine_keras_ops:runs -->``.
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
from utils import config, lessons, loading  # noqa: E402

#: The committed runs the README's table is made from.
COMMITTED = ROOT / "benchmarks" / "affine_keras_ops.jsonl"
README = ROOT / "benchmarks" / "README.md"
#: ``<!-- affine_keras_ops:runs -->``
PREFIX, SECTION = "affine_keras_ops", "runs"


def _best_rate(function, images, repeats):
    function(images)                                   # warm-up (tracing, allocation)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.asarray(function(images))
        best = min(best, time.perf_counter() - start)
    return len(images) / best


def read_rows(path: Path) -> list:
    """The rows of a JSON-lines file written by ``--out`` (:func:`protocol.read_log`)."""
    return protocol.read_log(Path(path))


def markdown(rows: list) -> str:
    """Markdown: one line per run: images and size, the largest and mean output difference (pixel values in
    [0, 255]), images per second of each op (best pass) and ``keras.ops`` over the TensorFlow op, both of
    the same run; then the machines, and "contended" (:func:`protocol.contended`) where another job ran."""
    lines = ["| date (UTC) | images | largest difference | mean difference | TensorFlow op, images/s "
             "| `keras.ops`, images/s | `keras.ops` ÷ TensorFlow op | backend | load at start | commit |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        load = f"{row['load']}" + (" (contended)" if protocol.contended(row) else "") if row.get("load") is not None else ""
        lines.append(f"| {row['date']} | {row['images']} at {row['image_size'][0]}×{row['image_size'][1]} "
                     f"({row['profile']}), best of {row['repeats']} | {row['largest_difference_pixel_values']:.3f} "
                     f"| {row['mean_difference_pixel_values']:.4f} | {row['course_images_per_s']:,.0f} "
                     f"| {row['keras_ops_images_per_s']:,.0f} "
                     f"| {row['keras_ops_images_per_s'] / row['course_images_per_s']:.2f} | {row['backend']} "
                     f"| {load} | {row['commit']} |")
    machines = sorted({row["machine"] for row in rows})
    return "\n".join(lines) + "\n\nMachine: " + "; ".join(machines) + "."


def render_readme(text: str, path: Path | None = None) -> str:
    """``text`` with its ``<!-- affine_keras_ops:runs -->`` block filled from ``path`` (default
    :data:`COMMITTED`). Raises ValueError when ``text`` lacks the markers."""
    from course.tools import reference

    return reference.render_readme(text, {SECTION: markdown(read_rows(path or COMMITTED))}, prefix=PREFIX)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, help="append the figures as a JSON line here")
    readme_tables.add_options(parser, COMMITTED)
    args = parser.parse_args(argv)
    done = readme_tables.run(args, sys.modules[__name__])    # --table, --readme, --check
    if done is not None:
        return done
    started = protocol.stamp()
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
            **started})
    return 0


if __name__ == "__main__":
    sys.exit(main())
