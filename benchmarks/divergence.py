"""Where the course's recipe diverges: its training rerun with the weights watched, the test split never read.

Usage (from the repository root, ``DOGSCATS_DATA`` set to a prepared folder)::

    # the run that diverged (full, seed 44, bfloat16), its first 8 of 30 epochs
    DOGSCATS_MIXED_PRECISION=1 .venv/bin/python benchmarks/divergence.py --seed 44 --stop-after 8 \
        --out benchmarks/divergence_full.jsonl
    # the same in float32, and in bfloat16 with each weight's gradient clipped to norm 1
    .venv/bin/python benchmarks/divergence.py --seed 44 --stop-after 8 --out benchmarks/divergence_full.jsonl
    DOGSCATS_MIXED_PRECISION=1 .venv/bin/python benchmarks/divergence.py --seed 44 --stop-after 8 --clipnorm 1 \
        --out benchmarks/divergence_full.jsonl
    .venv/bin/python benchmarks/divergence.py --readme           # its table into benchmarks/README.md
    .venv/bin/python benchmarks/divergence.py --readme --check   # exit 1 when that table is stale

A run trains the course's recipe (``peers.py``'s ``course``: notebook 04's
``build_cnn_bn`` and ``compile_cnn_bn``, its learning-rate schedule laid over the
profile's epochs) as ``peers.py --final`` does, on the profile's whole training
split (``--photos final``) or on the design photos (``--photos design``), with the
same seed, but stops after ``--stop-after`` epochs, or at the first batch whose
training loss is not finite. It scores nothing but the validation split, which
every run here already watches, so it never touches the test split and is not a
test read (``protocol``).

Each row records, per epoch, the training and validation loss and accuracy and,
per layer, the largest magnitude of its weights (kernel, BN scale γ and shift β,
moving mean and moving variance); and at the first non-finite batch, its epoch,
batch and learning rate and the variables that are no longer finite. From these
one sees whether the weights blow up steadily (a learning rate too high for the
recipe) or at one step (a numeric fault of one layer or precision).

``--readme`` writes :func:`markdown` of :data:`COMMITTED` into ``benchmarks/README.md``
between ``<!-- divergence:runs -->`` markers: each epoch's figures of every final
run of the same seed, shape and precision in :data:`ORIGINALS` beside each rerun
here, the epochs over which they agree, and where each one's loss stopped being finite.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import peers  # noqa: E402
import protocol  # noqa: E402  (benchmarks/ is on sys.path)
import readme_tables  # noqa: E402
from utils import config, devices  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
#: The committed diagnosis runs the README's table is made from, and the final runs they repeat.
COMMITTED = ROOT / "benchmarks" / "divergence_full.jsonl"
ORIGINALS = ROOT / "benchmarks" / "peers_full.jsonl"
README = ROOT / "benchmarks" / "README.md"
#: ``<!-- divergence:runs -->``
PREFIX, SECTION = "divergence", "runs"


def read_rows(path: Path) -> list:
    """The rows of a JSON-lines file written by ``--out`` (:func:`protocol.read_log`)."""
    return protocol.read_log(Path(path))


def _same_run(row: dict, other: dict) -> bool:
    return all(other.get(key) == row.get(key) for key in ("profile", "recipe", "seed", "image", "widths", "precision"))


def _agreeing_epochs(first: list, other: list) -> int:
    """How many epochs from the start two histories have the same validation loss to 4 decimals."""
    same = 0
    while same < min(len(first), len(other)) and f"{first[same]['val_loss']:.4f}" == f"{other[same]['val_loss']:.4f}":
        same += 1
    return same


def _capped(row: dict) -> str:
    """``", oneDNN up to AVX512_CORE_BF16"`` for a run whose oneDNN kernels were capped (no AMX), else ``""``."""
    return f", oneDNN up to {row['onednn_max_cpu_isa']}" if row.get("onednn_max_cpu_isa") else ""


def _figures(epoch: dict | None) -> str:
    if epoch is None:
        return ""
    loss = f"{epoch['loss']:.4f} / " if epoch.get("loss") is not None else "not recorded / "
    val_loss = f"{epoch['val_loss']:.4f}" if math.isfinite(epoch["val_loss"]) else "NaN"
    return f"{loss}{val_loss} / {epoch['val_accuracy']:.1%}"


def _peaks(epoch: dict | None) -> str:
    """``"0.41 / 3.2"``: the largest |weight| of any kernel and the largest BN moving variance at an epoch's end."""
    if not epoch or not epoch.get("peaks"):
        return ""
    kernel = max(v for k, v in epoch["peaks"].items() if k.endswith("kernel"))
    variance = max(v for k, v in epoch["peaks"].items() if k.endswith("moving_variance"))
    return f"{kernel:.2f} / {variance:.3g}"


def markdown(rows: list, originals: list | None = None) -> str:
    """Markdown: per diagnosis row, one line per epoch with the training loss, validation loss and validation
    accuracy of every final run of the same seed, shape and precision (``originals``, default
    :data:`ORIGINALS`' final rows, by start) and of the rerun; then where each one's loss was first not finite
    (:func:`protocol.diverged_epoch`) and for how many epochs each retraced the first run (the same
    validation loss to 4 decimals)."""
    if not rows:
        return "No diagnosis runs recorded yet."
    originals = read_rows(ORIGINALS) if originals is None else originals
    out = []
    for row in rows:
        finals = sorted((o for o in originals if o.get("kind") == "final" and _same_run(row, o)),
                        key=lambda o: o["date"])
        runs = [(f"final run of {o['date']} ({o['commit']}){_capped(o)}", o["history"]) for o in finals]
        machines = {o["machine"] for o in finals} | {row["machine"]}
        clip = f", gradients clipped to norm {row['clipnorm']:g}" if row.get("clipnorm") else ""
        runs.append((f"this rerun, {row['date']} ({row['commit']}){clip}{_capped(row)}", row["history"]))
        depth = max(len(history) for _, history in runs)
        shown = min(depth, row["epochs"] + 2)       # the rerun's epochs, and two more of the longer runs
        out.append(f"**`{row['profile']}`, `{row['recipe']}` {row['image'][0]}×{row['image'][1]}, blocks "
                   f"{'-'.join(map(str, row['widths']))}, seed {row['seed']}, {row['precision']}, "
                   f"{row['train_photos']:,} training photos** (each cell: training loss / validation loss / "
                   f"validation accuracy; last column: the rerun's largest |weight| of a kernel / largest "
                   f"moving variance of a batch normalisation)\n")
        out.append("| epoch | " + " | ".join(name for name, _ in runs) + " | the rerun's weights |")
        out.append("|---" * (len(runs) + 2) + "|")
        for index in range(shown):
            cells = [_figures(history[index] if index < len(history) else None) for _, history in runs]
            cells.append(_peaks(row["history"][index] if index < len(row["history"]) else None))
            out.append(f"| {index + 1} | " + " | ".join(cells) + " |")
        sentences = []
        for number, (name, history) in enumerate(runs):
            first = protocol.diverged_epoch(history)
            text = f"{name[0].upper()}{name[1:]}: " + (f"loss not finite from epoch {first}" if first else
                                                     f"loss finite in all {len(history)} epochs")
            if number:                              # against the first run: how long they retrace each other
                same = _agreeing_epochs(runs[0][1], history)
                text += (f", the first run's validation loss to 4 decimals in epochs 1–{same}" if same else
                         ", a different validation loss from epoch 1 on")
            sentences.append(text)
        out.append("\n" + ". ".join(sentences) + f". Machine: {'; '.join(sorted(machines))}.\n")
    return "\n".join(out).rstrip()


def render_readme(text: str, path: Path | None = None) -> str:
    """``text`` with its ``<!-- divergence:runs -->`` block filled from ``path`` (default :data:`COMMITTED`).
    Raises ValueError when ``text`` lacks the markers."""
    from course.tools import reference

    return reference.render_readme(text, {SECTION: markdown(read_rows(path or COMMITTED))}, prefix=PREFIX)


def weight_peaks(model) -> dict:
    """``{variable path: largest |value|}`` of every variable of ``model`` (float; NaN where one is NaN)."""
    peaks = {}
    for variable in model.variables:
        if "seed_generator" in variable.path:         # a random state, not a weight
            continue
        value = np.asarray(variable.numpy(), dtype=np.float64)
        peaks[variable.path] = float(np.max(np.abs(value))) if np.all(np.isfinite(value)) else math.nan
    return peaks


def _watch():
    """A callback that records each epoch's figures and weight peaks and stops at the first non-finite loss."""
    import keras

    class Watch(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.epochs, self.first_nonfinite, self.start = [], None, time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            loss = float((logs or {}).get("loss", 0.0))
            if math.isfinite(loss) or self.first_nonfinite:
                return
            iterations = int(self.model.optimizer.iterations.numpy())
            rate = self.model.optimizer.learning_rate
            self.first_nonfinite = {
                "epoch": len(self.epochs) + 1, "batch": batch + 1, "step": iterations, "loss": loss,
                "learning_rate": float(rate(iterations) if callable(rate) else rate),
                "nonfinite": sorted(path for path, peak in weight_peaks(self.model).items()
                                    if not math.isfinite(peak))}
            self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            self.epochs.append({"epoch": epoch + 1, "wall_s": round(time.perf_counter() - self.start, 1),
                                **{key: float(logs[key]) for key in ("loss", "accuracy", "val_loss",
                                                                     "val_accuracy") if key in logs},
                                "peaks": weight_peaks(self.model)})
            print(f"  epoch {epoch + 1}: loss {logs.get('loss', math.nan):.4f}, "
                  f"valid {logs.get('val_accuracy', math.nan):.1%} (loss {logs.get('val_loss', math.nan):.4f})",
                  flush=True)

    return Watch()


def run(cfg, *, seed, stop_after, clipnorm=None, photos="final", image_size=(128, 128),
        widths=(32, 64, 128, 256, 512)) -> dict:
    """Train the course's recipe for ``stop_after`` epochs of its schedule; return the row (JSON values)."""
    import keras

    started = protocol.stamp()
    model, recipe = peers.build("course", cfg, image_size, widths)
    design = protocol.design_photos(cfg)
    train_paths, train, valid = peers.datasets(cfg, recipe, tuple(image_size), design, seed=seed,
                                               final=photos == "final")
    steps = math.ceil(len(train_paths) / recipe["batch_size"])
    epochs = recipe["epochs"]
    keras.utils.set_random_seed(seed)                # as peers.run_recipe: seed, then build and compile
    model, recipe = peers.build("course", cfg, image_size, widths)
    peers.compile_recipe(model, recipe, epochs, steps, fitted=False)
    model.optimizer.clipnorm = clipnorm              # each weight's gradient clipped to this norm (None: off)
    watch = _watch()
    start = time.perf_counter()
    model.fit(train, validation_data=valid, epochs=min(stop_after, epochs), verbose=0, shuffle=False,
              callbacks=[watch])
    return {"kind": "diagnosis", "profile": cfg.name, "recipe": "course", "photos": photos,
            "image": list(image_size), "widths": list(widths), "seed": seed, "epochs_planned": epochs,
            "stop_after": stop_after, "epochs": len(watch.epochs), "clipnorm": clipnorm,
            "precision": keras.config.dtype_policy().name, "train_photos": len(train_paths),
            "wall_s": round(time.perf_counter() - start, 1), "first_nonfinite": watch.first_nonfinite,
            "diverged_epoch": (watch.first_nonfinite or {}).get("epoch") or protocol.diverged_epoch(watch.epochs),
            "history": watch.epochs, **started}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="full")
    parser.add_argument("--seed", type=int, default=44)
    parser.add_argument("--stop-after", type=int, default=8, help="epochs to run of the recipe's schedule")
    parser.add_argument("--clipnorm", type=float, default=None, help="clip each weight's gradient to this norm")
    parser.add_argument("--photos", choices=("final", "design"), default="final",
                        help="train on the whole training split (as the final run) or the design photos")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--widths", type=int, nargs="+", default=[32, 64, 128, 256, 512])
    parser.add_argument("--out", type=Path, default=None, help="append the run's row to this JSON-lines file")
    readme_tables.add_options(parser, COMMITTED)
    args = parser.parse_args(argv)
    done = readme_tables.run(args, sys.modules[__name__])    # --table, --readme, --check
    if done is not None:
        return done
    cfg = config.get_profile(args.profile)
    plan = devices.configure()                      # DOGSCATS_MIXED_PRECISION=1: mixed_bfloat16 on such a CPU
    print(f"{cfg.name}, seed {args.seed}, {plan.policy}, clipnorm {args.clipnorm}, {args.photos} photos, "
          f"{args.stop_after} epochs", flush=True)
    row = run(cfg, seed=args.seed, stop_after=args.stop_after, clipnorm=args.clipnorm, photos=args.photos,
              image_size=(args.size, args.size), widths=tuple(args.widths))
    first = row["first_nonfinite"]
    print("no non-finite loss" if not first else
          f"first non-finite loss: epoch {first['epoch']}, batch {first['batch']} (step {first['step']}, "
          f"learning rate {first['learning_rate']:.2e}); non-finite variables: {len(first['nonfinite'])}",
          flush=True)
    if args.out:
        protocol.append(args.out, row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
