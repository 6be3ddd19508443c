"""How fast is VGG16 on this machine? Feature extraction and fine-tuning steps, and
what that means for notebooks 05-06 under ``sample`` and ``full``.

Random weights are used (the speed of a network does not depend on its weight
values), so this runs without the ImageNet weight files.

Usage (from the repository root)::

    .venv/bin/python benchmarks/vgg16_speed.py --out benchmarks/vgg16_speed_cpu.jsonl  # 64, 128, 224 pixels
    .venv/bin/python benchmarks/vgg16_speed.py --sizes 128 --batches 4                 # one size
    .venv/bin/python benchmarks/vgg16_speed.py --table benchmarks/vgg16_speed_cpu.jsonl  # print the tables
    .venv/bin/python benchmarks/vgg16_speed.py --readme           # write them into benchmarks/README.md
    .venv/bin/python benchmarks/vgg16_speed.py --readme --check   # exit 1 when the README's tables are stale

``--out FILE`` appends one JSON line per size and kind of work (images per second), then one per
size and profile (notebook 06's estimated minutes, with the image counts and epochs they assume
and ``notebook_image_size``, the size notebook 06 uses under that profile); every row of a run
carries the same :func:`protocol.stamp` (commit, machine, backend, date, load average at the
start) and the library ``versions``. ``--table FILE`` prints such a file's latest run as
Markdown (:func:`markdown`); ``--readme`` writes the tables of :data:`COMMITTED` into
``benchmarks/README.md`` between ``<!-- vgg16_speed:speeds -->`` and
``<!-- /vgg16_speed:speeds -->``, and ``<!-- vgg16_speed:minutes -->`` and
``<!-- /vgg16_speed:minutes -->`` (:func:`render_readme`).

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
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import protocol  # noqa: E402  (benchmarks/ is on sys.path)
import readme_tables  # noqa: E402
from utils import config, finetune  # noqa: E402

#: Image counts assumed when the data is not prepared (train, valid, test, test1).
NOMINAL_COUNTS = {"sample": (2000, 1000, 1000, 500), "full": (23000, 1000, 1000, 12500)}
#: The committed figures the README's tables are made from.
COMMITTED = ROOT / "benchmarks" / "vgg16_speed_cpu.jsonl"
README = ROOT / "benchmarks" / "README.md"
#: ``<!-- vgg16_speed:speeds -->`` (images per second) and ``<!-- vgg16_speed:minutes -->`` (notebook 06).
PREFIX, SECTION, MINUTES_SECTION = "vgg16_speed", "speeds", "minutes"
#: The kinds of work :func:`measure` times, in order, with the README's name for each.
WORK = {
    "features": "VGG16 base, forward (features)",
    "blocks 1-4": "blocks 1–4, forward (cached once)",
    "block 5": "block 5, forward on cached features",
    "frozen+aug step": "training step, frozen base + augmentation (punchline, (b))",
    "fine-tune step (cached)": "fine-tuning step, block 5 + head on cached features ((c) here)",
    "fine-tune step (end to end)": "fine-tuning step, end to end with augmentation ((c) on a GPU)",
}
#: The parts of :func:`estimate_minutes`, as the README's prose names them.
PARTS = {"punchline": "punchline", "blocks 1-4 once": "blocks 1–4 once", "(a)": "(a)",
         "(b)": "(b) frozen base + augmentation", "(c)": "(c) fine-tuning on cached features",
         "submission": "`test1` predictions"}


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


# ---- the tables ---------------------------------------------------------------------------------

def read_rows(path: Path) -> list:
    """The rows of a JSON-lines file written by ``--out`` (:func:`protocol.read_log`)."""
    return protocol.read_log(Path(path))


latest_run = protocol.latest_run


def _rate(value: float) -> str:
    """Images per second, three significant figures at most: ``263``, ``43.4``, ``6.2``."""
    return f"{value:.0f}" if round(value, 1) >= 100 else f"{value:.1f}"


def _minutes(value: float) -> str:
    """Minutes: whole ones from 10 up (``35``), else one decimal (``3.3``)."""
    return f"{value:.0f}" if round(value, 1) >= 10 else f"{value:.1f}"


def _cores(row: dict) -> int | None:
    found = re.search(r"(\d+) cores", row.get("machine", ""))
    return int(found.group(1)) if found else None


def caption(row: dict) -> str:
    """One line of what and where a run measured, from one of its rows: the command, batch, versions,
    machine, commit, date and load average at the start ("contended" by :func:`protocol.contended`)."""
    versions = ", ".join(f"{name} {version}" for name, version in row.get("versions", {}).items())
    load = f"load average {row['load']} at the start" if row.get("load") is not None else "load not recorded"
    if protocol.contended(row):
        load += ": **contended**, another job shared the machine"
    return (f"Random weights, batch {row['batch_size']}, {row['timed_batches']} timed batches after one warm-up; "
            f"backend {row['backend']}" + (f" ({versions})" if versions else "")
            + f"; {row['machine']}; commit {row['commit']}, {row['date']} UTC; {load}.")


def _speeds(run: list) -> dict:
    """``{(image_size, work): row}`` of a run's speed rows."""
    return {(r["image_size"], r["work"]): r for r in run if "work" in r}


def speed_table(rows: list) -> str:
    """Markdown of the latest run's images per second, a column per image size: best batch / median batch /
    idle-machine estimate (images per second of CPU time × cores), then its caption and command."""
    run = latest_run(rows)
    speeds = _speeds(run)
    sizes = list(dict.fromkeys(size for size, _ in speeds))
    used = {}
    for r in run:
        if "estimate" in r and r.get("notebook_image_size") is not None:
            used.setdefault(r["notebook_image_size"], {})[r["profile"]] = True
    heads = [f"{s}×{s}" + (f" ({', '.join(used[s])})" if s in used else "") for s in sizes]
    lines = ["| work (notebook 06) | " + " | ".join(heads) + " |", "|---" * (1 + len(sizes)) + "|"]
    for work, label in WORK.items():
        if not any((s, work) in speeds for s in sizes):
            continue
        cells = [" / ".join(_rate(speeds[s, work][f"{w}_images_per_s"]) for w in ("best", "median", "idle"))
                 if (s, work) in speeds else "" for s in sizes]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    first = run[0]
    command = (f".venv/bin/python benchmarks/vgg16_speed.py --sizes {' '.join(str(s) for s in sizes)} "
               f"--batch-size {first['batch_size']} --batches {first['timed_batches']}")
    lines += ["", "Images per second: best batch / median batch (wall clock) / idle-machine estimate (images per "
              "second of the process's CPU time × the cores: an upper bound). " + caption(first),
              f"Command: `{command}`."]
    fine = [(s, speeds[s, "fine-tune step (cached)"]["idle_images_per_s"],
             speeds[s, "fine-tune step (end to end)"]["idle_images_per_s"]) for s in sizes
            if (s, "fine-tune step (cached)") in speeds and (s, "fine-tune step (end to end)") in speeds]
    if fine:
        size, cached, whole = next(((s, c, w) for s, c, w in fine if s in used), fine[0])
        lines += ["", f"At {size}×{size} a fine-tuning step from raw images with augmentation ran at {_rate(whole)} "
                  f"images/s against {_rate(cached)} on the cached block-4 features (idle-machine estimates): "
                  f"{cached / whole:.1f}× slower."]
    return "\n".join(lines)


def minutes_table(rows: list) -> str:
    """Markdown of the latest run's estimated minutes of notebook 06 per profile and image size (best batches,
    median batches, idle-machine estimate), where the time goes under ``sample``, and the headline reading."""
    run = latest_run(rows)
    estimates = [r for r in run if "estimate" in r]
    order = list(dict.fromkeys(r["profile"] for r in estimates))
    estimates.sort(key=lambda r: (order.index(r["profile"]), r["image_size"]))
    if not estimates:
        return "No estimates in this run."
    first = estimates[0]
    cores = _cores(first)
    idle = f"idle {cores}-core estimate" if cores else "idle-machine estimate"
    contended = " (contended)" if protocol.contended(first) else ""
    lines = [f"| profile (training images) | image size | best batches{contended} | median batches{contended} "
             f"| {idle} |", "|---|---|---|---|---|"]
    for r in estimates:
        mark = " (notebook 06's)" if r.get("notebook_image_size") == r["image_size"] else ""
        lines.append(f"| {r['profile']} ({r['images']['train']:,}) | {r['image_size']}×{r['image_size']}{mark} "
                     f"| {_minutes(r['best_minutes'])} min | {_minutes(r['median_minutes'])} min "
                     f"| {_minutes(r['idle_minutes'])} min |")
    counts = dict.fromkeys(
        f"{r['profile']} {r['images']['train']:,}/{r['images']['valid']:,}/{r['images']['test']:,} + "
        f"{r['images']['test1']:,} `test1`, head {r['epochs']['vgg16_head']} and fine-tune "
        f"{r['epochs']['vgg16_finetune']} epochs ({'prepared split' if 'prepared data' in r['counts'] else 'nominal'})"
        for r in estimates)
    lines += ["", "Minutes of notebook 06's VGG16 work: the script's arithmetic from the speeds above, not a timing "
              "of the notebook. Images train/valid/test + `test1`, and epochs: " + "; ".join(counts) + "."]
    sample = [r for r in estimates if r["profile"] == "sample"]
    chosen = next((r for r in sample if r.get("notebook_image_size") == r["image_size"]), sample[0] if sample else None)
    if chosen:
        parts = chosen["idle_parts_minutes"]
        largest = max(parts, key=parts.get)
        where = ", ".join(f"{PARTS.get(k, k)} {v:.1f}" for k, v in parts.items())
        size = f"{chosen['image_size']}×{chosen['image_size']}"
        span = "–".join(dict.fromkeys(_minutes(chosen[f"{w}_minutes"]) for w in ("best", "median")))
        lines += ["", f"Where the time goes under `sample` at {size} (idle-machine estimate, minutes): {where}; "
                  f"{PARTS.get(largest, largest)} is the largest part, {parts[largest] / chosen['idle_minutes']:.0%} "
                  f"of {_minutes(chosen['idle_minutes'])} min.",
                  "", f"Reading: notebook 06 under `sample` at {size} should take about "
                  f"{_minutes(chosen['idle_minutes'])} min on {cores or 'the'} idle cores of this machine, and "
                  f"{span} min at the best and median batch times as measured{contended}."]
    full = [r for r in estimates if r["profile"] == "full" and r["images"]["train"] < NOMINAL_COUNTS["full"][0]]
    if full:
        lines.append(f"`full` is counted here with {full[0]['images']['train']:,} training images, those prepared "
                     f"on this machine; Kaggle's whole training set has {NOMINAL_COUNTS['full'][0]:,}.")
    return "\n".join(lines)


def markdown(rows: list) -> str:
    """Both tables of the latest run of ``rows`` (:func:`speed_table`, then :func:`minutes_table`)."""
    return speed_table(rows) + "\n\n" + minutes_table(rows)


def render_readme(text: str, path: Path = COMMITTED) -> str:
    """``text`` with its ``<!-- vgg16_speed:speeds -->`` and ``<!-- vgg16_speed:minutes -->`` blocks filled
    from ``path`` (ValueError when a block's markers are missing)."""
    from course.tools import reference

    rows = read_rows(path)
    return reference.render_readme(text, {SECTION: speed_table(rows), MINUTES_SECTION: minutes_table(rows)},
                                   prefix=PREFIX)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 224])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=4, help="timed batches per measurement")
    parser.add_argument("--out", type=Path, help="append the speeds and the estimates as JSON lines here")
    readme_tables.add_options(parser, COMMITTED)
    args = parser.parse_args(argv)
    done = readme_tables.run(args, sys.modules[__name__])    # --table, --readme, --check
    if done is not None:
        return done
    from utils import vgg16

    stamp = {**protocol.stamp(), "versions": protocol.versions()}     # once, as the run starts: one run, one stamp
    common = {"benchmark": "vgg16_speed", "batch_size": args.batch_size, "timed_batches": args.batches}
    print(f"Hardware: {stamp['machine']}  (TF threads: default; load average at start {stamp['load']})")
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
                                           "median_images_per_s": median, "idle_images_per_s": idle, **stamp})
        sys.stdout.flush()
    print()
    for size, speed in speeds.items():
        for profile in ("sample", "full"):
            cfg = config.get_profile(profile)
            (train, valid, test, test1), _ = counts(profile)
            row = {**common, "image_size": size, "estimate": "notebook 06", "profile": profile,
                   "notebook_image_size": vgg16.vgg_image_size(cfg)[0],
                   "images": {"train": train, "valid": valid, "test": test, "test1": test1},
                   "epochs": {k: cfg.epochs[k] for k in ("vgg16_head", "vgg16_finetune")}}
            for which, label in ((0, "best"), (1, "median"), (2, "idle")):
                total, parts, what = estimate_minutes(speed, profile, which)
                detail = ", ".join(f"{k} {v:.1f}" for k, v in parts.items())
                print(f"{size}x{size} {profile:>6} ({label:6s} speeds): notebook 06 ≈ {total:.0f} min  [{detail}]")
                row.update({f"{label}_minutes": total, f"{label}_parts_minutes": parts})
            print(f"    ({what})")
            if args.out:
                protocol.append(args.out, {**row, "counts": what, **stamp})
    print("\nNotebook 05 adds about a minute (8 images at 224x224 through VGG16, twice).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
