"""Train the course's first models under one profile and print their result records.

Usage (from the repository root)::

    .venv/bin/python benchmarks/train_models.py --profile sample
    .venv/bin/python benchmarks/train_models.py --profile full --models cnn_small
    # the committed rows (3-5 min on 2 idle cores; records and checkpoints kept out of results/):
    DOGSCATS_RESULTS=/tmp/train_models .venv/bin/python benchmarks/train_models.py --profile sample --no-save --out benchmarks/train_models_sample.jsonl
    .venv/bin/python benchmarks/train_models.py --table benchmarks/train_models_sample.jsonl   # print the table
    .venv/bin/python benchmarks/train_models.py --readme          # write it into benchmarks/README.md
    .venv/bin/python benchmarks/train_models.py --readme --check  # exit 1 when the README's table is stale

``--profile`` is used instead of ``DOGSCATS_PROFILE``. Each model is trained with the same recipe as its notebook (02_mlp, 03_cnn) and the
record is saved to ``results/<profile>/<model_id>.json`` (as the notebook would) unless
``--no-save`` is given; the figures are printed as a table either way. ``--out FILE`` appends
one JSON line per model trained (:func:`out_row`: the profile, the model, its recipe in words,
the split sizes, image size, epochs run and the best one kept, seconds, best validation
accuracy, test accuracy with its 95% interval and log loss, the earlier reads of the same test
photos, the versions, the command, and :func:`protocol.stamp`'s commit, machine, backend, date
and load at the model's start).

Each run is a **final** run in the sense of :mod:`protocol`: its recipe was chosen in
its notebook, on validation, and the run scores the test split once, as the notebook
does. That read is appended to ``--final-log`` (default ``benchmarks/final_reads.jsonl``,
with the commit and the count of earlier reads of the same test photos), and the same
run (profile, model, optimizer, epochs, patience, seed) is refused a second read unless
``--reread "why"`` says why. The best validation accuracy is printed beside the test figure.

The README's table (``--readme``: ``benchmarks/README.md`` between ``<!-- train_models:sample -->``
and ``<!-- /train_models:sample -->``) is :func:`markdown` of :data:`COMMITTED`: for each
profile in the file, the rows of its **latest** run (one invocation of this script, its
``invocation`` field), with a caption per run and, where a run trained both models, one
generated sentence comparing their test accuracy. ``tests/test_train_models_tables.py``
checks the generator.

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
import datetime
import json
import math
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import protocol  # noqa: E402  (benchmarks/ is on sys.path)
import readme_tables  # noqa: E402
from utils import config, data, devices, lessons, prerequisites, results  # noqa: E402

MODEL_IDS = ("mlp_pixels", "cnn_small")
FIGURES = ("image_size", "train_count", "valid_count", "test_count", "epochs", "best_epoch",
           "params", "train_seconds", "seconds_per_epoch", "images_per_second",
           "valid_accuracy", "test_accuracy", "test_log_loss")


#: Notebook 02's optimizers (its ``#@save`` cell, ``lessons.OPTIMIZERS``).
OPTIMIZERS = tuple(lessons.OPTIMIZERS)
NOTEBOOK = "benchmarks/train_models.py"
#: The committed rows the README's table is made from (``--out`` of a ``sample`` run of both models).
COMMITTED = ROOT / "benchmarks" / "train_models_sample.jsonl"
README = ROOT / "benchmarks" / "README.md"
#: ``<!-- train_models:sample -->``
PREFIX, SECTION = "train_models", "sample"


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


def recipe_text(model_id: str, fields: dict) -> str:
    """The recipe of one trained model in words, from its record's fields (e.g. ``"AdamW, weight decay 0.5,
    cosine decay from 0.001 to 0, no early stopping"``)."""
    if model_id == "mlp_pixels":
        return f"notebook 02's `build_mlp` on 32×32 pixels, {fields.get('optimizer') or '?'}"
    parts = [fields.get("optimizer") or "?", fields.get("learning_rate")]
    patience = fields.get("patience")
    parts.append(f"early stopping after {patience} epochs without a better one" if patience else
                 "no early stopping")
    return "notebook 03's recipe: " + ", ".join(p for p in parts if p)


def test_score(fields: dict) -> dict:
    """The test read of a record's fields as :func:`protocol.scores` gives it: ``n``, ``accuracy``, ``low``,
    ``high`` (fractions; the 95% Wilson interval of :func:`utils.stats.wilson_interval`) and ``log_loss``
    (nats)."""
    from utils import stats

    n = int(fields["test_count"])
    correct = int(round(fields["test_accuracy"] * n))
    low, high = stats.wilson_interval(correct, n)
    return {"n": n, "accuracy": correct / n, "low": low, "high": high, "log_loss": float(fields["test_log_loss"])}


def out_row(cfg, model_id: str, fields: dict, run: dict, started: dict) -> dict:
    """The ``--out`` JSON line of one trained model.

    Parameters
    ----------
    cfg : utils.config.Profile
    model_id : str
        ``"mlp_pixels"`` or ``"cnn_small"``.
    fields : dict
        The record's fields (:func:`utils.evaluate.record_fields`), with ``benchmark_wall_seconds``.
    run : dict
        What the whole invocation shares or what this model's read adds: ``invocation`` (its start,
        UTC), ``command``, ``versions``, and this model's ``run_id``, ``test_split``, ``reads_before``
        (final reads of the same test photos before this one) and ``reread_reason``.
    started : dict
        :func:`protocol.stamp` taken as this model started (commit, machine, backend, date, load).

    Returns
    -------
    dict
        :data:`FIGURES` (seconds, accuracies as fractions, log loss in nats), ``recipe`` (words),
        ``test`` (:func:`test_score`), ``valid_log_loss``, ``optimizer``, ``learning_rate``,
        ``patience``, ``precision``, ``seed``, ``benchmark_wall_seconds``, ``run`` and ``started``'s keys.
    """
    return {"benchmark": "train_models", "profile": cfg.name, "model": model_id,
            "recipe": recipe_text(model_id, fields), **{key: fields.get(key) for key in FIGURES},
            "valid_log_loss": fields.get("valid_log_loss"), "test": test_score(fields),
            "optimizer": fields.get("optimizer"), "learning_rate": fields.get("learning_rate"),
            "patience": fields.get("patience"), "precision": fields.get("precision"), "seed": cfg.seed,
            "benchmark_wall_seconds": fields.get("benchmark_wall_seconds"), **run, **started}


# ---- the README's table ------------------------------------------------------------------------

def read_rows(path: Path) -> list:
    """The rows of a JSON-lines file written by ``--out`` (:func:`protocol.read_log`)."""
    return protocol.read_log(Path(path))


def _run_key(row) -> str:
    """One invocation's rows share it (older rows without ``invocation``: their commit and date)."""
    return row.get("invocation") or f"{row.get('date', '')} {row.get('commit', '')}"


def latest_runs(rows: list) -> list:
    """Per profile (smoke, sample, full, then any other), the rows of its latest invocation: a list of
    row lists, in the order the rows were written."""
    order = {name: index for index, name in enumerate(config.PROFILE_NAMES)}
    runs = []
    for profile in sorted({r["profile"] for r in rows}, key=lambda name: (order.get(name, len(order)), name)):
        mine = [r for r in rows if r["profile"] == profile]
        latest = max(_run_key(r) for r in mine)
        runs.append([r for r in mine if _run_key(r) == latest])
    return runs


def _percent(value) -> str:
    return "–" if value is None else f"{value:.1%}"


def _table_row(row) -> str:
    counts = " / ".join("?" if row.get(key) is None else f"{row[key]:,}"
                        for key in ("train_count", "valid_count", "test_count"))
    epochs = f"{row['epochs']}" + (f" ({row['best_epoch']})" if row.get("best_epoch") else "")
    speed = f"{row['seconds_per_epoch']:.1f}" + (" (contended)" if protocol.contended(row) else "")
    return (f"| {row['profile']} | `{row['model']}` | {row['recipe']} | {counts} "
            f"| {'×'.join(str(s) for s in row['image_size'])} | {epochs} | {speed} | {row['train_seconds']:,.0f} "
            f"| {_percent(row.get('valid_accuracy'))} | {protocol.interval_text(row['test'])} "
            f"| {row['test']['log_loss']:.3f} | {row['reads_before']} |")


def _caption(run: list) -> str:
    first = run[0]
    versions = ", ".join(f"{name} {version}" for name, version in (first.get("versions") or {}).items())
    loads = ", ".join(f"{r['load']} (`{r['model']}`)" + (", contended" if protocol.contended(r) else "")
                      for r in run)
    precision = {r.get("precision") for r in run} - {None}
    return (f"`{first['profile']}`: run of {first['date']} UTC, commit {first['commit']}, {first['machine']}, "
            f"{first['backend']}" + (f" ({versions})" if versions else "")
            + (f", {', '.join(sorted(precision))}" if precision else "") + f", seed {first.get('seed', '?')}"
            + f"; load average at each model's start {loads}; `{first.get('command', '?')}`.")


def headline(run: list) -> str:
    """One sentence comparing the run's two models on the same test photos ("" unless it trained both)."""
    found = {r["model"]: r for r in run}
    if not {"mlp_pixels", "cnn_small"} <= set(found):
        return ""
    cnn, mlp = found["cnn_small"], found["mlp_pixels"]
    points = 100 * (cnn["test"]["accuracy"] - mlp["test"]["accuracy"])
    return (f"Under `{cnn['profile']}`, `cnn_small` scored {abs(points):.1f} points "
            f"{'above' if points >= 0 else 'below'} `mlp_pixels` on the same {cnn['test']['n']:,} test photos in this run ({cnn['test']['accuracy']:.1%} and "
            f"{mlp['test']['accuracy']:.1%}); its epochs took {cnn['seconds_per_epoch'] / mlp['seconds_per_epoch']:.1f}"
            f"× as long ({'×'.join(map(str, cnn['image_size']))} photos against "
            f"{'×'.join(map(str, mlp['image_size']))}).")


def markdown(rows: list) -> str:
    """Markdown: one table row per model of each profile's latest run (:func:`latest_runs`), then per run a
    caption (date, commit, machine, versions, precision, load at each model's start, the command) and
    the :func:`headline` sentence.

    Columns: epochs run (the best, kept, in brackets), s/epoch and train s (wall-clock seconds,
    validation after each epoch included), best validation accuracy, test accuracy with its 95%
    interval, test log loss (nats), and the final reads of the same test photos before this one.
    """
    lines = ["| profile | model | recipe | train / valid / test | image | epochs run (best kept) | s/epoch "
             "| train s | best valid acc | test acc (95% interval) | test log loss | test reads before |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    runs = latest_runs(rows)
    lines += [_table_row(row) for run in runs for row in run]
    for run in runs:
        lines.append("\n" + _caption(run))
        if headline(run):
            lines.append("\n" + headline(run))
    return "\n".join(lines)


def render_readme(text: str, path: Path | None = None) -> str:
    """``text`` with its ``<!-- train_models:sample -->`` block filled from ``path`` (default :data:`COMMITTED`).

    Raises ValueError when ``text`` lacks the markers.
    """
    from course.tools import reference

    return reference.render_readme(text, {SECTION: markdown(read_rows(path or COMMITTED))}, prefix=PREFIX)


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
    readme_tables.add_options(parser, COMMITTED)
    args = parser.parse_args(argv)
    done = readme_tables.run(args, sys.modules[__name__])    # --table, --readme, --check
    if done is not None:
        return done
    invocation = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    command = shlex.join(["benchmarks/train_models.py", *(sys.argv[1:] if argv is None else argv)])

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
    versions = protocol.versions()
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
        read = {"run_id": runs[model_id], "test_split": split,
                "reads_before": protocol.test_reads(split, args.final_log), "reread_reason": args.reread,
                "predictions": protocol.save_predictions(                    # kept for paired tests
                    runs[model_id], fields["test_y_true"], fields["test_p_dog"],
                    Path(args.final_log).parent / "predictions").name}
        protocol.append(args.final_log, {
            "benchmark": "train_models", "kind": "final", "run_id": runs[model_id], "profile": cfg.name,
            "recipe": model_id, "seed": cfg.seed, "epochs": fields["epochs"], "kept_epoch": fields.get("best_epoch"),
            "valid_accuracy": fields.get("valid_accuracy"), "test": test_score(fields), **read, **started})
        print(json.dumps({model_id: {key: fields.get(key) for key in FIGURES}}, indent=1))
        if args.out:
            protocol.append(args.out, out_row(cfg, model_id, fields, {
                "invocation": invocation, "command": command, "versions": versions, **read}, started))

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
