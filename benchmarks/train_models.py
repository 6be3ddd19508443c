"""Train the course's first models under one profile and print their result records.

Usage (from the repository root)::

    .venv/bin/python benchmarks/train_models.py --profile sample
    .venv/bin/python benchmarks/train_models.py --profile full --models cnn_small

``--profile`` is used instead of ``DOGSCATS_PROFILE``. Each model is trained with the same recipe as its notebook (02_mlp, 03_cnn) and the
record is saved to ``results/<profile>/<model_id>.json`` (as the notebook would) unless
``--no-save`` is given; the figures are printed as a table either way. ``--out FILE`` appends
one JSON line per model (the printed figures, with the commit, the machine, the backend and the date).

Each run is a **final** run in the sense of :mod:`protocol`: its recipe was chosen in
its notebook, on validation, and the run scores the test split once, as the notebook
does. That read is appended to ``--final-log`` (default ``benchmarks/final_reads.jsonl``,
with the commit and the count of earlier reads of the same test photos), and the same
run (profile, model, optimizer, epochs, patience, seed) is refused a second read unless
``--reread "why"`` says why. The best validation accuracy is printed beside the test figure.

Recipes
-------
mlp_pixels  32×32 pixels, Dense 768 → 384 → 1, ``--mlp-optimizer`` (default adagrad, the
            one notebook 02 chose on validation under ``sample``; the notebook tries four
            and keeps the best on validation), ``cfg.epochs["mlp"]``.
cnn_small   ``lessons.build_cnn_small(cfg.image_size)``, AdamW (weight decay 0.5) with a
            ``CosineDecay`` learning rate from 0.001 to 0 over ``cfg.epochs["cnn"]`` epochs, all of them run
            (``--patience N`` adds early stopping, off by default as in the notebook), the
            best validation epoch kept, images cached in memory after epoch 1.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import protocol  # noqa: E402  (benchmarks/ is on sys.path)
from utils import config, data, devices, lessons, prerequisites, results  # noqa: E402

MODEL_IDS = ("mlp_pixels", "cnn_small")
FIGURES = ("image_size", "train_count", "valid_count", "test_count", "epochs", "best_epoch",
           "params", "train_seconds", "seconds_per_epoch", "images_per_second",
           "valid_accuracy", "test_accuracy", "test_log_loss")


#: Notebook 02's optimizers (its ``#@save`` cell, ``lessons.OPTIMIZERS``).
OPTIMIZERS = tuple(lessons.OPTIMIZERS)
NOTEBOOK = "benchmarks/train_models.py"


def train_mlp(cfg, optimizer="adagrad", verbose=2):
    """Train ``mlp_pixels`` as notebook 02 does (``prerequisites.train_mlp``); return the record's fields."""
    fields, _ = prerequisites.train_mlp(cfg, cfg.epochs["mlp"], optimizer, notebook=NOTEBOOK, verbose=verbose)
    return fields


def train_cnn(cfg, epochs=None, verbose=2, patience=0):
    """Train ``cnn_small`` as notebook 03 does (``prerequisites.train_cnn``); return the record's fields."""
    fields, _ = prerequisites.train_cnn(cfg, "cnn_small", epochs or cfg.epochs["cnn"], notebook=NOTEBOOK,
                                        patience=patience, verbose=verbose)
    return fields


def run_id(cfg, model_id: str, args) -> str:
    """The name of one run's test read: profile, model, what its options change, seed."""
    if model_id == "mlp_pixels":
        plan = f"{args.mlp_optimizer}-{cfg.epochs['mlp']}ep"
    else:
        plan = f"{args.cnn_epochs or cfg.epochs['cnn']}ep-patience{args.patience}"
    return f"{cfg.name}-{model_id}-{plan}-seed{cfg.seed}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=config.PROFILE_NAMES, default="sample")
    parser.add_argument("--models", nargs="+", choices=MODEL_IDS, default=list(MODEL_IDS))
    parser.add_argument("--mlp-optimizer", default="adagrad", choices=sorted(OPTIMIZERS))
    parser.add_argument("--cnn-epochs", type=int, default=None,
                        help="override the profile's cfg.epochs['cnn']")
    parser.add_argument("--patience", type=int, default=0,
                        help="early stopping patience of cnn_small (default 0: none, as in the notebook)")
    parser.add_argument("--no-save", action="store_true", help="print only; write no record")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    parser.add_argument("--out", type=Path, help="append one JSON line per model here")
    parser.add_argument("--final-log", type=Path, default=protocol.FINAL_LOG,
                        help="the log of test reads this run appends to")
    parser.add_argument("--reread", default=None, help="why a run already read reads the test split again")
    args = parser.parse_args(argv)

    devices.configure()   # DOGSCATS_DEVICES, DOGSCATS_MIXED_PRECISION, as the notebooks' setup cell
    cfg = config.get_profile(args.profile)
    runs = {model_id: run_id(cfg, model_id, args) for model_id in args.models}
    try:
        for ident in runs.values():                 # before anything else: a refused read costs nothing
            protocol.check_first_read(ident, args.reread, args.final_log)
    except protocol.RereadRefused as error:
        print(f"refused: {error}", file=sys.stderr)
        return 2
    config.report(cfg)
    data.require_prepared(cfg)
    verbose = 0 if args.quiet else 2
    split = protocol.test_split_sha(cfg)           # which test photos every model below reads
    rows = {}
    for model_id in args.models:
        started = protocol.stamp()
        start = time.perf_counter()
        if model_id == "mlp_pixels":
            fields = train_mlp(cfg, args.mlp_optimizer, verbose)
        else:
            fields = train_cnn(cfg, args.cnn_epochs, verbose, args.patience)
            fields["patience"] = args.patience or None
        fields["benchmark_wall_seconds"] = round(time.perf_counter() - start, 1)
        if not args.no_save:
            path = results.save_record(cfg, model_id, **fields)
            print(f"wrote {path}")
        rows[model_id] = fields
        protocol.append(args.final_log, {
            "benchmark": "train_models", "kind": "final", "run_id": runs[model_id], "profile": cfg.name,
            "recipe": model_id, "seed": cfg.seed, "epochs": fields["epochs"], "kept_epoch": fields.get("best_epoch"),
            "valid_accuracy": fields.get("valid_accuracy"),
            "test": {"n": fields["test_count"], "accuracy": fields["test_accuracy"],
                     "log_loss": fields["test_log_loss"]},
            "test_split": split, "reads_before": protocol.test_reads(split, args.final_log),
            "reread_reason": args.reread, **started})
        print(json.dumps({model_id: {key: fields.get(key) for key in FIGURES}}, indent=1))
        if args.out:
            protocol.append(args.out, {"benchmark": "train_models", "profile": cfg.name, "model": model_id,
                                       **{key: fields.get(key) for key in FIGURES},
                                       "optimizer": fields.get("optimizer"), "patience": fields.get("patience"),
                                       "benchmark_wall_seconds": fields["benchmark_wall_seconds"], **started})

    print(f"\nprofile {cfg.name} · {config.describe_hardware()}")
    header = f"{'model':12} {'val acc':>8} {'test acc':>8} {'log loss':>8} {'epochs':>6} {'s/epoch':>8} {'img/s':>7} {'train s':>8} {'params':>10}"
    print(header)
    for model_id, f in rows.items():
        print(f"{model_id:12} {f.get('valid_accuracy') or math.nan:8.1%} {f['test_accuracy']:8.1%} "
              f"{f['test_log_loss']:8.3f} {f['epochs']:6d} "
              f"{f['seconds_per_epoch']:8.1f} {f['images_per_second'] or 0:7.0f} "
              f"{f['train_seconds']:8.0f} {f['params']:10,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
