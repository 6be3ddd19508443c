"""cnn_bn's training steps alone, as a share of the float32 matmul peak measured in the same run.

Issue 33's fifth target asks for ``cnn_bn``'s training steps at 50% or more of the float32
matmul peak. ``peers.py``'s "of float32 matmul peak" divides by a run's training seconds,
which hold the ``tf.data`` input pipeline too (photos read from the cache, notebook 04's
augmentation) on the same cores. This script times the steps alone:

- the network and its optimizer are notebook 04's (``lessons.build_cnn_bn``, compiled by
  ``lessons.compile_cnn_bn``), at the profile's shape (``lessons.cnn_bn_shape``: 64×64 and
  four blocks under ``sample``, 128×128 and five under ``full``);
- ``model.fit`` trains on in-memory arrays of that shape, float32 pixels in [0, 255] drawn
  at random (a step's arithmetic does not depend on the pixels): one warm-up epoch
  (tracing, allocation), then ``--epochs`` timed ones; the figure is their median, the
  fastest epoch beside it (the peak is a best of 10, so best against best is shown too);
- FLOPs per training image: ``peers.training_flops_per_image`` (3 × the forward
  multiply-add FLOPs of the convolutions and dense layers);
- the peak: ``peers.matmul_peak_gflops`` (a 1024×1024 float32 matmul through Keras, best
  of 10), measured before and after the steps; the share divides by the higher of the two,
  so a peak that read low at one end does not flatter it.

The recipe's batch (the profile's) is the figure the target is about; ``--batch-sizes``
adds others to show how the kernels' efficiency moves with the batch (not the recipe).

Usage::

    .venv/bin/python benchmarks/step_efficiency.py --profiles sample full --out benchmarks/step_efficiency_cpu.jsonl
    .venv/bin/python benchmarks/step_efficiency.py --profiles smoke --epochs 1 --images 64   # a quick check
    .venv/bin/python benchmarks/step_efficiency.py --readme           # its table into benchmarks/README.md
    .venv/bin/python benchmarks/step_efficiency.py --readme --check   # exit 1 when the README's table is stale

``--out FILE`` appends one JSON line per (profile, batch size) with the commit, the machine,
the backend, the date and the load average at the start. ``--readme`` writes :func:`markdown`
of :data:`COMMITTED` into ``benchmarks/README.md`` between ``<!-- step_efficiency:cpu -->``
and ``<!-- /step_efficiency:cpu -->``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import protocol  # noqa: E402  (benchmarks/ is on sys.path)
import readme_tables  # noqa: E402
from utils import config  # noqa: E402

#: The committed runs the README's table is made from.
COMMITTED = ROOT / "benchmarks" / "step_efficiency_cpu.jsonl"
README = ROOT / "benchmarks" / "README.md"
#: ``<!-- step_efficiency:cpu -->``
PREFIX, SECTION = "step_efficiency", "cpu"
#: Issue 33's target: the recipe's training steps at this share of the float32 matmul peak, or more.
TARGET = 0.50


def shape(cfg) -> tuple:
    """``(image size (h, w), block widths)`` of notebook 04's ``cnn_bn`` under ``cfg``.

    ``lessons.cnn_bn_shape`` with the profile's training photos: ``2 × train_per_class``, and
    ``full`` (every photo, ``train_per_class`` None) counted as many (5,000 or more).
    """
    from utils import lessons

    count = 2 * cfg.train_per_class if cfg.train_per_class else 5000
    return lessons.cnn_bn_shape(cfg.image_size, count)


def measure(cfg, batch_size: int, images: int, epochs: int, seed: int = 0) -> dict:
    """Train ``cnn_bn`` on ``images`` random arrays for 1 + ``epochs`` epochs; the timed epochs' figures.

    Returns ``images_per_s`` (median over the timed epochs) and ``images_per_s_best`` (the
    fastest epoch), ``epoch_s`` (each timed epoch's seconds), ``gflop_per_image`` and
    ``gflops`` (achieved at the median, GFLOP/s), ``image_size`` and ``widths``. Raises ValueError when ``images`` is under ``batch_size`` or ``epochs`` < 1.
    """
    import keras

    import peers   # noqa: PLC0415  (benchmarks/ is on sys.path)
    from utils import lessons, training

    if images < batch_size or epochs < 1:
        raise ValueError(f"need at least one batch ({batch_size}) of images and one timed epoch: "
                         f"{images} images, {epochs} epochs")
    size, widths = shape(cfg)
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 255, size=(images, *size, 3)).astype("float32")
    y = rng.integers(0, 2, size=(images, 1)).astype("float32")
    model = lessons.build_cnn_bn(size, widths, name="cnn_bn")
    steps = -(-images // batch_size)
    lessons.compile_cnn_bn(model, 1 + epochs, steps)
    timer = training.epoch_timer()                       # no validation here: its epochs are the steps alone
    model.fit(x, y, batch_size=batch_size, epochs=1 + epochs, shuffle=False, verbose=0, callbacks=[timer])
    timed = timer.epoch_seconds[1:]                      # the first epoch traces and allocates
    rate = images / statistics.median(timed)
    flops = peers.training_flops_per_image(model)
    return {"image_size": list(size), "widths": list(widths), "epoch_s": [round(s, 3) for s in timed],
            "images_per_s": rate, "images_per_s_best": images / min(timed), "gflop_per_image": flops / 1e9,
            "gflops": rate * flops / 1e9}


def read_rows(path: Path) -> list:
    """The rows of a JSON-lines file written by ``--out`` (:func:`protocol.read_log`)."""
    return protocol.read_log(Path(path))


def headline(rows: list) -> str:
    """One sentence: each profile's latest run at the recipe's batch against :data:`TARGET`; "" without one."""
    latest = {}
    for row in rows:
        if row["recipe_batch"]:
            latest[row["profile"]] = row
    if not latest:
        return ""
    parts = [f"`{name}` {row['of_peak']:.0%} ({'met' if row['of_peak'] >= TARGET else 'not met'}; fastest epoch "
             f"{row['of_peak_best']:.0%})" for name, row in latest.items()]
    return (f"Target: the recipe's training steps at {TARGET:.0%} or more of the float32 matmul peak, "
            f"at its own batch, median epoch, latest run of each profile: " + "; ".join(parts) + ".")


def markdown(rows: list) -> str:
    """Markdown: one line per (run, batch size): shape, images/s, GFLOP per training image, GFLOP/s achieved,
    the peak before / after, the share of the higher peak; then :func:`headline` and the machines."""
    lines = ["| date (UTC) | profile | photos, blocks | batch | images/s: median (fastest) of timed epochs "
             "| GFLOP / training image | GFLOP/s at the median | float32 matmul peak before / after, GFLOP/s "
             "| of peak: median (fastest) | precision | load at start | commit |", "|---" * 12 + "|"]
    for row in rows:
        load = (f"{row['load']}" + (" (contended)" if protocol.contended(row) else "")) if row.get("load") is not None else ""
        batch = f"{row['batch_size']}" + (" (the recipe's)" if row["recipe_batch"] else "")
        lines.append(f"| {row['date']} | {row['profile']} | {row['image_size'][0]}×{row['image_size'][1]}, "
                     f"{len(row['widths'])} | {batch} | {row['images_per_s']:,.1f} ({row['images_per_s_best']:,.1f}) "
                     f"of {len(row['epoch_s'])} | {row['gflop_per_image']:.3f} | {row['gflops']:,.1f} | "
                     f"{row['peak_before']:,.1f} / {row['peak_after']:,.1f} | {row['of_peak']:.0%} "
                     f"({row['of_peak_best']:.0%}) | {row['precision']} | {load} | {row['commit']} |")
    sentence = headline(rows)
    machines = "; ".join(sorted({row["machine"] for row in rows}))
    return "\n".join(lines) + ("\n\n" + sentence if sentence else "") + f"\n\nMachine: {machines}."


def render_readme(text: str, path: Path | None = None) -> str:
    """``text`` with its ``<!-- step_efficiency:cpu -->`` block filled from ``path`` (default
    :data:`COMMITTED`). Raises ValueError when ``text`` lacks the markers."""
    from course.tools import reference

    return reference.render_readme(text, {SECTION: markdown(read_rows(path or COMMITTED))}, prefix=PREFIX)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", nargs="+", default=["sample", "full"], choices=config.PROFILE_NAMES)
    parser.add_argument("--batch-sizes", nargs="*", type=int, default=[128],
                        help="batch sizes besides the recipe's (the profile's), for the trend")
    parser.add_argument("--images", type=int, default=1024, help="training images per epoch")
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs, after one warm-up epoch")
    parser.add_argument("--out", type=Path, help="append one JSON line per (profile, batch size) here")
    readme_tables.add_options(parser, COMMITTED)
    args = parser.parse_args(argv)
    done = readme_tables.run(args, sys.modules[__name__])    # --table, --readme, --check
    if done is not None:
        return done
    import keras

    import peers   # noqa: PLC0415
    from utils import devices

    devices.configure()                                  # as every notebook: float32 unless DOGSCATS_MIXED_PRECISION=1
    for name in args.profiles:
        cfg = config.get_profile(name)
        for batch_size in dict.fromkeys([cfg.batch_size, *args.batch_sizes]):
            started = protocol.stamp()
            before = peers.matmul_peak_gflops()
            figures = measure(cfg, batch_size, args.images, args.epochs, seed=cfg.seed)
            after = peers.matmul_peak_gflops()
            row = {"benchmark": "step_efficiency", "profile": name, "batch_size": batch_size,
                   "recipe_batch": batch_size == cfg.batch_size, "images": args.images, **figures,
                   "peak_before": before, "peak_after": after, "of_peak": figures["gflops"] / max(before, after),
                   "of_peak_best": figures["images_per_s_best"] * figures["gflop_per_image"] / max(before, after),
                   "precision": keras.config.dtype_policy().name, **started}
            print(f"{name} {row['image_size'][0]}×{row['image_size'][1]}, {len(row['widths'])} blocks, batch "
                  f"{batch_size}: {row['images_per_s']:,.1f} images/s, {row['gflops']:,.1f} GFLOP/s, "
                  f"{row['of_peak']:.0%} of the float32 matmul peak ({before:,.1f} / {after:,.1f} GFLOP/s)", flush=True)
            if args.out:
                protocol.append(args.out, row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
