"""float32, mixed bfloat16 and XLA: seconds per epoch of the course's trainings, measured in one run.

Usage (from the repository root)::

    .venv/bin/python benchmarks/precision.py --out benchmarks/precision_cpu.jsonl   # sample, 4 epochs per way
    .venv/bin/python benchmarks/precision.py --profile smoke --epochs 2 --workloads cnn_bn   # a quick check
    .venv/bin/python benchmarks/precision.py --table benchmarks/precision_cpu.jsonl   # print a file's tables
    .venv/bin/python benchmarks/precision.py --readme           # write them into benchmarks/README.md
    .venv/bin/python benchmarks/precision.py --readme --check   # exit 1 when the README's tables are stale

``--out FILE`` appends one JSON line per (workload, way) run, with the commit, the machine,
the load average and the date of the run's start (:func:`protocol.stamp`, taken once, so
that every row of one run carries the same), the versions and the command; a way stopped
by ``--limit`` or that failed is recorded too (``stopped_after_s`` or ``error``, no seconds).
``--table`` prints such a file as Markdown (:func:`markdown`), ``--readme`` writes the tables
of :data:`COMMITTED` into ``benchmarks/README.md`` between ``<!-- precision:cpu -->`` and
``<!-- /precision:cpu -->`` (:func:`render_readme`).

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
A process still running after ``--limit`` seconds is stopped (XLA's compilation of
Lite0 on a CPU can take many minutes).

The tables (:func:`markdown`): one per run in the file, in file order (a run: the rows
sharing a commit, start date, machine and profile), each with its caption (machine,
native bfloat16, versions, commit, date, load average at start, "contended" per
:func:`protocol.contended`, the command) and one sentence per way giving its ratios to
float32, highest first. Every ratio divides two rows of the same run.

Public functions: :func:`image_size`, :func:`child` (one measurement), :func:`run` (them
all), :func:`read_rows`, :func:`runs`, :func:`speedup`, :func:`headline`, :func:`markdown`,
:func:`render_readme`, :func:`main`.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import protocol  # noqa: E402  (benchmarks/ is on sys.path)
import readme_tables  # noqa: E402

WORKLOADS = ("mlp", "cnn_small", "cnn_bn", "lite0")
WAYS = ("float32", "mixed_bfloat16", "xla")
#: The committed figures the README's tables are made from.
COMMITTED = ROOT / "benchmarks" / "precision_cpu.jsonl"
README = ROOT / "benchmarks" / "README.md"
#: ``<!-- precision:cpu -->``
PREFIX, SECTION = "precision", "cpu"
#: Seconds a (workload, way) process may run before it is stopped (``--limit``).
LIMIT_S = 600
#: The tables' names of the workloads (notebook, network) and of the ways.
WORKLOAD_LABELS = {"mlp": "02 MLP, {size} arrays", "cnn_small": "03 `cnn_small`, {size}",
                   "cnn_bn": "04 `cnn_bn`, {size}, augmented", "lite0": "06 Lite0 bottom, {size} (one pass)"}
WAY_LABELS = {"float32": "float32", "mixed_bfloat16": "mixed_bfloat16", "xla": "XLA"}


def image_size(workload: str, cfg) -> tuple:
    """(height, width) in pixels of ``workload``'s inputs under the profile ``cfg``."""
    return {"mlp": (32, 32), "cnn_bn": (64, 64), "lite0": (224, 224)}.get(workload, tuple(cfg.image_size))


def child(workload: str, way: str, profile: str, epochs: int) -> dict:
    """One measurement, in this process.

    Returns ``{"epochs": [seconds of each epoch, the first included], "images": photos per epoch,
    "image_size": [height, width], "versions": {"keras": ..., "tensorflow": ...}}``.
    """
    import keras
    import tensorflow as tf

    from utils import augmentation, config, lessons, loading, training, transfer

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
        return {"epochs": passes, "images": count, "image_size": list(image_size("lite0", cfg)),
                "versions": _versions(keras, tf)}
    if workload == "mlp":
        x, y = loading.load_arrays("train", (32, 32), cfg=cfg)
        model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Rescaling(1 / 255), keras.layers.Flatten(),
                                  keras.layers.Dense(768, activation="relu"), keras.layers.Dense(384, activation="relu"),
                                  keras.layers.Dense(1, activation="sigmoid", dtype="float32")])
        optimizer = keras.optimizers.Adam(1e-3)
        data = loading.array_batches(x, y, cfg.batch_size, shuffle=True, seed=cfg.seed)
        count, size = len(x), image_size("mlp", cfg)
    elif workload == "cnn_small":
        model = lessons.build_cnn_small(image_size("cnn_small", cfg), dropout=0.5)
        optimizer = keras.optimizers.AdamW(1e-3, weight_decay=0.5)
        data = loading.get_batches("train", image_size("cnn_small", cfg), cfg=cfg, cache=True)
        count, size = len(data.file_paths), image_size("cnn_small", cfg)
    else:
        model = lessons.build_cnn_bn((64, 64))
        optimizer = keras.optimizers.AdamW(2e-3, weight_decay=0.05)
        train = loading.get_batches("train", (64, 64), cfg=cfg, cache=True)
        count, size = len(train.file_paths), image_size("cnn_bn", cfg)
        data = lessons.augment_dataset(train, seed=cfg.seed, **augmentation.MILD_SETTINGS)
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["accuracy"], jit_compile=jit)
    # No validation in this fit, so each epoch's seconds are its training steps alone.
    clock = training.epoch_timer()
    model.fit(data, epochs=epochs, verbose=0, callbacks=[clock])
    return {"epochs": clock.epoch_seconds, "images": count, "image_size": [int(n) for n in size],
            "versions": _versions(keras, tf)}


def _installed() -> dict:
    """The installed Keras and TensorFlow, as the children will import them (also for a row that failed)."""
    from importlib import metadata

    found = {}
    for name in ("keras", "tensorflow"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def _versions(keras, tf) -> dict:
    return {"keras": keras.__version__, "tensorflow": tf.__version__}


# ---- the run: one process per (workload, way) ----------------------------------------------------

def run(profile: str, epochs: int, workloads, ways, limit: float = LIMIT_S, out: Path | None = None,
        command: str = "benchmarks/precision.py") -> list:
    """Measure every (workload, way), each in its own process; print and return the rows (appended to ``out``).

    A row's ``seconds_per_epoch`` is the mean of its epochs after the first (seconds),
    ``images_per_s`` the photos per epoch over it, ``speedup_over_float32`` float32's
    seconds over the way's in this run (None without a float32 row). A process stopped
    after ``limit`` seconds gives a row with ``stopped_after_s``; one that failed, ``error``.
    """
    from utils import config, mixed_precision

    common = {"benchmark": "precision", "profile": profile, "epochs": epochs, "limit_s": limit,
              "native_bfloat16": mixed_precision.native_bfloat16(), "command": command, "versions": _installed(),
              **protocol.stamp(), "backend": "tensorflow"}   # once, as the run starts; the children run TensorFlow
    cfg = config.get_profile(profile)
    print(f"{profile}: {epochs} epochs per way, the first left out; {common['machine']}; "
          f"native bfloat16: {common['native_bfloat16']}; load average {common['load']} at start")
    print(f"{'workload':10s} {'way':15s} {'s/epoch':>8s} {'images/s':>9s} {'× float32':>10s}")
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    rows = []
    for workload in workloads:
        baseline = None
        for way in ways:
            row = {**common, "workload": workload, "way": way,
                   "image_size": [int(n) for n in image_size(workload, cfg)]}
            began = time.perf_counter()
            try:
                done = subprocess.run([sys.executable, __file__, "--profile", profile, "--epochs", str(epochs),
                                       "--child", workload, way], capture_output=True, text=True, env=env, cwd=ROOT,
                                      timeout=limit)
            except subprocess.TimeoutExpired:
                row["stopped_after_s"] = round(time.perf_counter() - began)
                print(f"{workload:10s} {way:15s} stopped after {row['stopped_after_s']} s", flush=True)
            else:
                lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
                if done.returncode or not lines:
                    row["error"] = (done.stderr.strip().splitlines() or ["?"])[-1][:300]
                    print(f"{workload:10s} {way:15s} failed: {row['error']}", flush=True)
                else:
                    found = json.loads(lines[-1][len("RESULT "):])
                    later = found["epochs"][1:]
                    mean = sum(later) / len(later)
                    baseline = baseline or (mean if way == "float32" else None)
                    row.update(images=found["images"], image_size=found["image_size"], versions=found["versions"],
                               epoch_seconds=[round(s, 3) for s in found["epochs"]], seconds_per_epoch=mean,
                               images_per_s=found["images"] / mean,
                               speedup_over_float32=baseline / mean if baseline else None)
                    ratio = f"{baseline / mean:9.2f}×" if baseline else f"{'—':>10s}"
                    print(f"{workload:10s} {way:15s} {mean:8.2f} {found['images'] / mean:9.0f} {ratio}", flush=True)
            rows.append(row)
            if out:
                protocol.append(out, row)
    return rows


# ---- the tables --------------------------------------------------------------------------------

def read_rows(path: Path) -> list:
    """The rows of a JSON-lines file written by ``--out`` (:func:`protocol.read_log`)."""
    return protocol.read_log(Path(path))


runs = protocol.runs


def _measured(row) -> bool:
    return row is not None and row.get("seconds_per_epoch") is not None


def _find(rows, workload, way):
    found = [r for r in rows if r["workload"] == workload and r["way"] == way]
    return found[-1] if found else None


def speedup(row: dict, rows: list) -> float | None:
    """float32's seconds per epoch over ``row``'s, both from ``rows`` (one run); None when either is missing."""
    base = _find(rows, row["workload"], "float32")
    if not (_measured(row) and _measured(base)):
        return None
    return base["seconds_per_epoch"] / row["seconds_per_epoch"]


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _not_measured(row) -> str:
    if row.get("stopped_after_s") is not None:
        return f"stopped after {_duration(row['stopped_after_s'])}"
    return "failed" if row.get("error") else ""


def _cell(row, rows) -> str:
    if row is None:
        return ""
    if not _measured(row):
        return _not_measured(row)
    text = f"{row['seconds_per_epoch']:.2f}"
    ratio = speedup(row, rows) if row["way"] != "float32" else None
    return text + (f" ({ratio:.2f}×)" if ratio is not None else "")


def _workload_label(workload, rows) -> str:
    sizes = [r["image_size"] for r in rows if r["workload"] == workload and r.get("image_size")]
    size = "×".join(str(n) for n in sizes[0]) if sizes else "?"
    return WORKLOAD_LABELS.get(workload, f"`{workload}`, {{size}}").format(size=size)


def _listing(items) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def headline(rows: list) -> str:
    """One sentence per way other than float32: its ratio to float32 on each workload, highest first."""
    sentences = []
    for way in [w for w in WAYS if w != "float32"]:
        mine = [r for r in rows if r["way"] == way]
        ratios = sorted(((speedup(r, rows), r["workload"]) for r in mine if speedup(r, rows) is not None),
                        reverse=True)
        items = [f"`{workload}` {ratio:.2f}×" + (" as fast as float32" if i == 0 else "")
                 for i, (ratio, workload) in enumerate(ratios)]
        others = [f"`{r['workload']}` " + ("was " if r.get("stopped_after_s") is not None else "") + _not_measured(r)
                  for r in mine if not _measured(r) and _not_measured(r)]
        if items:
            sentences.append(f"{WAY_LABELS[way]} ran {_listing(items)}" + (f"; {_listing(others)}" if others else "")
                             + ".")
        elif others:
            sentences.append(f"{WAY_LABELS[way]}: {_listing(others)}.")
    return " ".join(sentences)


def _caption(rows) -> str:
    first = rows[0]
    images = sorted({r["images"] for r in rows if r.get("images")})
    photos = f" ({', '.join(f'{n:,}' for n in images)} training photos)" if images else ""
    versions = next((r["versions"] for r in rows if r.get("versions")), {})
    versions_text = ", ".join(f"{name} {versions[key]}" for key, name in (("tensorflow", "TensorFlow"),
                                                                         ("keras", "Keras")) if key in versions)
    load = f"load average {first['load']} at start" if first.get("load") is not None else "load not recorded"
    if protocol.contended(first):
        load += " (contended: another job shared the machine)"
    native = {True: "yes", False: "no"}.get(first.get("native_bfloat16"), "not recorded")
    limit = f", stopped if still running after {_duration(first['limit_s'])}" if first.get("limit_s") else ""
    return (f"`{first['profile']}`{photos}, {first['epochs']} epochs per way, the first (it compiles) left out, "
            f"each (workload, way) in its own process{limit}; {first.get('machine', '?')}, native bfloat16: {native}"
            + (f"; {versions_text}" if versions_text else "")
            + f"; commit {first.get('commit', '?')}, {first.get('date', '?')} UTC, {load}"
            + (f"; `.venv/bin/python {first['command']}`" if first.get("command") else "")
            + ". × float32: float32's seconds per epoch over the way's, in the same run (above 1: faster).")


def markdown(rows: list) -> str:
    """Markdown: per run (:func:`runs`), a table of seconds per epoch by workload and way (× float32 beside each),
    the :func:`headline` sentences and a caption saying where, when and how it was measured."""
    parts = []
    for mine in runs(rows):
        ways = [w for w in WAYS if any(r["way"] == w for r in mine)]
        workloads = [w for w in WORKLOADS if any(r["workload"] == w for r in mine)]
        workloads += [w for w in dict.fromkeys(r["workload"] for r in mine) if w not in workloads]
        ratio = " (× float32)" if "float32" in ways else ""
        header = ["workload"] + [f"{WAY_LABELS[w]} s / epoch" + ("" if w == "float32" else ratio) for w in ways]
        lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
        for workload in workloads:
            cells = [_workload_label(workload, mine)] + [_cell(_find(mine, workload, w), mine) for w in ways]
            lines.append("| " + " | ".join(cells) + " |")
        sentence = headline(mine)
        parts.append("\n".join(lines) + ("\n\n" + sentence if sentence else "") + "\n\n" + _caption(mine))
    return "\n\n".join(parts) if parts else "No run recorded yet."


def render_readme(text: str, path: Path | None = None) -> str:
    """``text`` with its ``<!-- precision:cpu -->`` block filled from ``path`` (default :data:`COMMITTED`).

    Raises ValueError when ``text`` lacks the markers.
    """
    from course.tools import reference

    return reference.render_readme(text, {SECTION: markdown(read_rows(path or COMMITTED))}, prefix=PREFIX)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="sample")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per way (the first is left out)")
    parser.add_argument("--workloads", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    parser.add_argument("--ways", nargs="+", choices=WAYS, default=list(WAYS))
    parser.add_argument("--limit", type=float, default=LIMIT_S,
                        help=f"seconds a (workload, way) process may run before it is stopped (default {LIMIT_S})")
    parser.add_argument("--out", type=Path, help="append one JSON line per (workload, way) here")
    readme_tables.add_options(parser, COMMITTED)
    parser.add_argument("--child", nargs=2, metavar=("WORKLOAD", "WAY"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    done = readme_tables.run(args, sys.modules[__name__])    # --table, --readme, --check
    if done is not None:
        return done
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch compiles and is left out")
    if args.child:
        print("RESULT " + json.dumps(child(*args.child, args.profile, args.epochs)), flush=True)
        return 0
    command = "benchmarks/precision.py" + "".join(" " + shlex.quote(a) for a in (sys.argv[1:] if argv is None
                                                                                 else argv))
    run(args.profile, args.epochs, args.workloads, args.ways, args.limit, args.out, command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
