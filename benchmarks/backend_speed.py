"""Seconds per training epoch of the course's networks on each Keras backend, measured in one run.

Usage (from the repository root)::

    .venv/bin/python benchmarks/backend_speed.py --out benchmarks/backend_speed_cpu.jsonl   # 6-10 min on 2 cores
    .venv/bin/python benchmarks/backend_speed.py --rounds 1 --epochs 2 --models mlp          # a quick check
    .venv/bin/python benchmarks/backend_speed.py --table benchmarks/backend_speed_cpu.jsonl  # print the table
    .venv/bin/python benchmarks/backend_speed.py --readme           # write it into benchmarks/README.md
    .venv/bin/python benchmarks/backend_speed.py --readme --check   # exit 1 when the README's table is stale

Why (issue 34, item 9): under ``sample``, notebook 03's ``cnn_small`` trained 5.3
times slower on JAX than on TensorFlow on the same 2 cores. Two causes were found
in XLA:CPU, YNNPACK's convolutions and the gradient of ``MaxPooling2D``;
:mod:`utils.jax_cpu` fixes both (:func:`utils.devices.configure` applies them) and
this benchmark keeps the figures, with and without.

What runs: the course's own networks and recipes on synthetic data of the real
shapes, so that no prepared photos are needed.

cnn_small
    notebook 03's network and recipe (``lessons.build_cnn_small`` and
    ``lessons.compile_cnn_small``: AdamW, cosine rate) at the profile's image size
    and batch size.
mlp
    notebook 02's ``mlp_pixels`` (``lessons.build_mlp``) on 32×32 arrays, Adagrad
    (0.01), its choice on validation.

``cnn_small`` on two inputs, to tell the training step from the input pipeline
(``mlp`` on ``tf.data`` only, unless ``--inputs`` says otherwise):

arrays
    ``model.fit(x, y)`` on in-memory NumPy arrays: the step's compute.
tf.data
    what the notebooks feed: for ``cnn_small`` ``loading.get_batches(...,
    cache=True)`` over JPEG files (smooth synthetic photos of 500×375 pixels,
    decoded and resized in the warm-up epoch, then read from the cache), for
    ``mlp`` ``loading.array_batches`` (``training.fit``'s route for arrays).

Every (model, input, backend) runs in its own Python process (``KERAS_BACKEND``
is fixed at import), after ``devices.configure()`` as in every notebook: a
warm-up epoch (compilation, the cache), then ``--epochs`` timed ones. The
processes are interleaved, TensorFlow, JAX, PyTorch, TensorFlow, JAX..., for
``--rounds`` rounds, so load from other jobs falls on every backend alike; each
backend's median is compared with TensorFlow's median of the same run
(``tensorflow_ratio``: its seconds over TensorFlow's, above 1 is slower). By
default JAX also runs on ``cnn_small`` without :mod:`utils.jax_cpu`'s fixes (both
inputs: the figures before them) and, on the arrays, with the max-pooling
gradient alone (convolutions left in YNNPACK), which splits the gain between the
two. PyTorch runs when it is installed.

``--out FILE`` appends one JSON line per (model, input, backend, fixes), with the
versions, the machine, the date and the commit (``fixes``: those of :data:`FIXES`
the process kept, ``fix``: whether it kept both, as the course does;
``fast_max_pool_gradient`` and ``xla_flags``: what that process then used);
``--table`` prints such a file
as Markdown, ``--readme`` writes that table of ``benchmarks/backend_speed_cpu.jsonl``
into ``benchmarks/README.md`` between ``<!-- backend_speed:cpu -->`` and
``<!-- /backend_speed:cpu -->`` (``tests/test_backend_speed.py`` checks it).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MODELS = ("cnn_small", "mlp")
INPUTS = ("arrays", "tf.data")
#: The inputs each model runs on unless ``--inputs`` says: the MLP's arrays-or-tf.data split tells
#: nothing the CNN's does not, so it runs on its notebook's route only (a shorter benchmark).
DEFAULT_INPUTS = {"cnn_small": ("arrays", "tf.data"), "mlp": ("tf.data",)}
BACKENDS = ("tensorflow", "jax", "torch")
#: The committed figures the README's table is made from.
COMMITTED = ROOT / "benchmarks" / "backend_speed_cpu.jsonl"
README = ROOT / "benchmarks" / "README.md"
#: ``<!-- backend_speed:cpu -->``
PREFIX, SECTION = "backend_speed", "cpu"
MLP_IMAGE_SIZE = (32, 32)
#: :mod:`utils.jax_cpu`'s fixes, both applied by ``devices.configure()`` on the JAX backend.
FIXES = ("xla_flag", "max_pool_gradient")
#: JAX's runs on ``cnn_small``, by input: the fixes each keeps (the first is the course's way).
JAX_VARIANTS = {"arrays": (FIXES, ("max_pool_gradient",), ()), "tf.data": (FIXES, ())}
#: Synthetic JPEGs: Kaggle's photos are about this size before the resize.
PHOTO_SIZE = (500, 375)


# ---- one measurement, in a child process -------------------------------------------------------

def _versions() -> dict:
    import keras

    found = {"keras": keras.__version__}
    for name in ("tensorflow", "jax", "jaxlib", "torch"):
        if name in sys.modules or keras.backend.backend() == name or name == "tensorflow":
            try:
                found[name] = __import__(name).__version__
            except ImportError:
                pass
    return found


def _arrays(count, image_size, seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (count, *image_size, 3), dtype=np.uint8).astype("float32")
    y = rng.integers(0, 2, (count, 1)).astype("float32")
    return x, y


def write_photos(folder: Path, count: int, seed: int = 0) -> Path:
    """A prepared ``sample`` split of ``count`` smooth synthetic JPEGs (half cats, half dogs) under ``folder``.

    Returns the data folder (``DOGSCATS_DATA``'s role): ``folder/dogscats/prepare.json``
    and ``folder/dogscats/sample/train/{cats,dogs}/N.jpg``, what :func:`utils.data.is_prepared` asks for.
    """
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    root = folder / "dogscats"
    for index in range(count):
        class_dir = root / "sample" / "train" / ("cats", "dogs")[index % 2]
        class_dir.mkdir(parents=True, exist_ok=True)
        coarse = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)     # smooth: a few kB per file, like a photo
        Image.fromarray(coarse).resize(PHOTO_SIZE, Image.BILINEAR).save(class_dir / f"{index}.jpg", quality=90)
    (root / "prepare.json").write_text(json.dumps({"synthetic": count}), encoding="utf-8")
    return folder


def child(model_name: str, input_name: str, fixes, epochs: int, images: int, data_dir: str | None) -> dict:
    """Train one model for 1 + ``epochs`` epochs in this process, keeping ``fixes``; the timed epochs' seconds."""
    import keras

    from utils import config, devices, jax_cpu, lessons, loading, training

    if "xla_flag" not in fixes:
        jax_cpu.configure_xla = lambda *args, **kwargs: "left out"
    devices.configure()                      # what every notebook's setup cell does first
    if "max_pool_gradient" not in fixes:
        jax_cpu.uninstall()
    cfg = config.get_profile("sample", **({"data_dir": Path(data_dir)} if data_dir else {}))
    keras.utils.set_random_seed(cfg.seed)
    batch = cfg.batch_size
    steps = -(-images // batch)
    if model_name == "cnn_small":
        image_size = tuple(cfg.image_size)
        model = lessons.compile_cnn_small(lessons.build_cnn_small(image_size), 1 + epochs, steps)
    else:
        image_size = MLP_IMAGE_SIZE
        model = lessons.build_mlp(image_size)
        model.compile(optimizer=keras.optimizers.Adagrad(learning_rate=0.01), loss="binary_crossentropy",
                      metrics=["accuracy"])
    if input_name == "arrays":
        x, y = _arrays(images, image_size, cfg.seed)
        fit_args = dict(x=x, y=y, batch_size=batch, shuffle=True)
    elif model_name == "cnn_small":
        fit_args = dict(x=loading.get_batches("train", image_size, cfg=cfg, cache=True))
    else:
        x, y = _arrays(images, image_size, cfg.seed)
        fit_args = dict(x=loading.array_batches(x, y, batch, shuffle=True, seed=cfg.seed))
    # No validation in this fit, so each epoch's seconds are its training steps alone.
    clock = training.epoch_timer()
    model.fit(**fit_args, epochs=1 + epochs, verbose=0, callbacks=[clock])
    seconds = clock.epoch_seconds
    return {"backend": keras.backend.backend(), "versions": _versions(), "image_size": list(image_size),
            "batch_size": batch, "images": images, "steps_per_epoch": steps, "warmup_seconds": round(seconds[0], 3),
            "seconds": [round(s, 3) for s in seconds[1:]], "fast_max_pool_gradient": jax_cpu.installed(),
            "xla_flags": os.environ.get("XLA_FLAGS", "")}


# ---- the interleaved run -----------------------------------------------------------------------

def available_backends(wanted=BACKENDS) -> list:
    """``wanted`` less those whose package is not installed (torch, usually)."""
    return [b for b in wanted if importlib.util.find_spec(b) is not None]


def plan(models, inputs, backends, variants=True) -> list:
    """The (model, input, backend, fixes) of one round, in the order they run: backends interleaved.

    ``inputs`` None: each model's :data:`DEFAULT_INPUTS`. ``variants``: JAX also runs
    :data:`JAX_VARIANTS` on ``cnn_small``; otherwise every run keeps both :data:`FIXES`.
    """
    runs = []
    for model in models:
        for input_name in (DEFAULT_INPUTS[model] if inputs is None else inputs):
            for backend in backends:
                kept = JAX_VARIANTS[input_name] if backend == "jax" and variants and model == "cnn_small" else (FIXES,)
                runs += [(model, input_name, backend, tuple(fixes)) for fixes in kept]
    return runs


def _run_child(run, epochs, images, data_dir):
    model, input_name, backend, fixes = run
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, __file__, "--child", model, input_name, ",".join(fixes) or "none",
               "--epochs", str(epochs), "--images", str(images)]
    if data_dir:
        command += ["--data-dir", str(data_dir)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise RuntimeError(f"{run} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return json.loads(lines[-1][len("RESULT "):])


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _commit() -> str | None:
    from utils import results

    return results.git_commit()


def run(models, inputs, backends, rounds, epochs, images, variants=True, out: Path | None = None) -> list:
    """Every round of :func:`plan`; one row per (model, input, backend, fixes), also appended to ``out``."""
    runs = plan(models, inputs, backends, variants)
    found = {r: [] for r in runs}
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="dogscats-backends.") as folder:
        needs_photos = any(model == "cnn_small" and input_name == "tf.data" for model, input_name, _, _ in runs)
        data_dir = write_photos(Path(folder), images) if needs_photos else None
        for number in range(rounds):
            for one in runs:
                result = _run_child(one, epochs, images, data_dir)
                found[one].append(result)
                print(f"round {number + 1}/{rounds} {one[0]:9s} {one[1]:7s} {one[2]:10s} "
                      f"{'' if one[3] == FIXES else '(fixes: ' + (','.join(one[3]) or 'none') + ') '}"
                      f"{result['seconds']}", flush=True)
            loads.append(os.getloadavg()[0])
    common = {"benchmark": "backend_speed", "cpu_count": len(os.sched_getaffinity(0)), "cpu": _cpu_model(),
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "commit": _commit(), "rounds": rounds, "epochs_per_round": epochs,
              "load_average": [round(min(loads), 2), round(max(loads), 2)]}
    rows = []
    for one, results_ in found.items():
        seconds = [s for r in results_ for s in r["seconds"]]
        first = results_[0]
        rows.append({**common, "model": one[0], "input": one[1], "backend": first["backend"],
                     "fix": one[3] == FIXES, "fixes": list(one[3]),
                     "fast_max_pool_gradient": bool(first["fast_max_pool_gradient"]), "xla_flags": first["xla_flags"],
                     "versions": first["versions"],
                     "image_size": first["image_size"], "batch_size": first["batch_size"],
                     "images": first["images"], "steps_per_epoch": first["steps_per_epoch"],
                     "seconds_per_epoch_median": round(statistics.median(seconds), 3),
                     "seconds_per_epoch_all": seconds,
                     "warmup_seconds": [r["warmup_seconds"] for r in results_]})
    for row in rows:
        base = [r for r in rows if r["model"] == row["model"] and r["input"] == row["input"]
                and r["backend"] == "tensorflow"]
        row["tensorflow_ratio"] = (round(row["seconds_per_epoch_median"] / base[0]["seconds_per_epoch_median"], 2)
                                   if base else None)
    if out is not None:
        with open(out, "a", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return rows


# ---- the table ---------------------------------------------------------------------------------

def read_rows(path: Path) -> list:
    """The rows of a JSON-lines file written by ``--out``."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def _backend_name(row) -> str:
    name = row["backend"]
    version = row["versions"].get("jaxlib" if name == "jax" else name, "")
    label = f"{name} {version}".strip()
    if name == "jax" and not row["fix"]:
        label += (", without `utils.jax_cpu`" if not row["fixes"] else
                  ", max-pool gradient only (convolutions in YNNPACK)" if row["fixes"] == ["max_pool_gradient"]
                  else ", only " + ", ".join(row["fixes"]))
    return label


def _best_ratio(row, rows) -> float | None:
    """The backend's fastest epoch over TensorFlow's fastest of the same run and workload."""
    base = [r for r in rows if (r["model"], r["input"], r["date"], r["backend"])
            == (row["model"], row["input"], row["date"], "tensorflow")]
    return min(row["seconds_per_epoch_all"]) / min(base[0]["seconds_per_epoch_all"]) if base else None


def markdown(rows: list) -> str:
    """Markdown: one row per (model, input, backend, fixes), then what and where it was measured.

    Besides the medians, each row's fastest epoch and its ratio: on a shared machine the
    fastest epoch is the one least slowed by other jobs.
    """
    lines = ["| model | input | image, batch | backend | s/epoch: median (fastest) "
             "| × TensorFlow: median (fastest) | epochs timed |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        best = min(row["seconds_per_epoch_all"])
        if row["backend"] == "tensorflow":
            ratio = "1 (baseline)"
        else:
            best_ratio = _best_ratio(row, rows)
            ratio = f"{row['tensorflow_ratio']:.2f}" + (f" ({best_ratio:.2f})" if best_ratio else "")
        size = "×".join(str(s) for s in row["image_size"])
        lines.append(f"| `{row['model']}` | {row['input']} | {size}, {row['batch_size']} | {_backend_name(row)} "
                     f"| {row['seconds_per_epoch_median']:.2f} ({best:.2f}) | {ratio} "
                     f"| {len(row['seconds_per_epoch_all'])} |")
    runs = sorted({(r["date"], r["commit"], r["cpu_count"], r["cpu"], r["images"], r["rounds"],
                    r["epochs_per_round"], tuple(r["load_average"]), r["versions"].get("keras", "")) for r in rows})
    for date, commit, cores, cpu, images, rounds, epochs, load, keras_version in runs:
        lines.append(f"\n{images:,} synthetic images per epoch, {rounds} rounds of {epochs} timed epochs per "
                     f"backend after a warm-up, interleaved; Keras {keras_version}, {cores} CPU cores ({cpu}), "
                     f"load average {load[0]}–{load[1]}, commit {commit} with `utils.jax_cpu`, {date[:10]}. "
                     "× TensorFlow: the backend's seconds over TensorFlow's in the same run "
                     "(above 1: slower).")
    return "\n".join(lines)


def render_readme(text: str, path: Path = COMMITTED) -> str:
    """``text`` with its ``<!-- backend_speed:cpu -->`` block filled from ``path``."""
    from course.tools import reference

    return reference.render_readme(text, {SECTION: markdown(read_rows(path))}, prefix=PREFIX)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--inputs", nargs="+", choices=INPUTS, default=None,
                        help="default: cnn_small on both, mlp on tf.data (notebook 02's route)")
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=None,
                        help="default: tensorflow jax torch, those installed")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (default 2)")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per process, after a warm-up (default 3)")
    parser.add_argument("--images", type=int, default=1000, help="training images per epoch (default 1000)")
    parser.add_argument("--no-variants", dest="variants", action="store_false",
                        help="skip JAX's runs without utils.jax_cpu's fixes")
    parser.add_argument("--out", type=Path, default=None, help="append JSON lines to this file")
    parser.add_argument("--table", type=Path, default=None, help="print this JSON-lines file as a table")
    parser.add_argument("--readme", action="store_true",
                        help=f"write the table of {COMMITTED.name} into benchmarks/README.md")
    parser.add_argument("--check", action="store_true", help="with --readme: only check, exit 1 when stale")
    parser.add_argument("--child", nargs=3, metavar=("MODEL", "INPUT", "FIXES"), help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        model_name, input_name, fixes = args.child
        kept = () if fixes == "none" else tuple(fixes.split(","))
        result = child(model_name, input_name, kept, args.epochs, args.images, args.data_dir)
        print("RESULT " + json.dumps(result), flush=True)
        return 0
    if args.table:
        print(markdown(read_rows(args.table)))
        return 0
    if args.readme:
        from course.tools.readme import update_readme

        return update_readme(README, render_readme, args.check, "python benchmarks/backend_speed.py --readme",
                             f"backend speed table differs from {COMMITTED.name}")
    if args.rounds < 1 or args.epochs < 1 or args.images < 1:
        parser.error("--rounds, --epochs and --images must be positive")
    backends = available_backends(args.backends or BACKENDS)
    rows = run(args.models, args.inputs, backends, args.rounds, args.epochs, args.images, args.variants, args.out)
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
