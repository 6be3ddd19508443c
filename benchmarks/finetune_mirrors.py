"""Fine-tuning Lite0's top on the photos' cached features, or on the photos' and their mirror images'.

Usage (from the repository root)::

    .venv/bin/python benchmarks/finetune_mirrors.py --out benchmarks/finetune_mirrors_sample.jsonl   # sample
    .venv/bin/python benchmarks/finetune_mirrors.py --profile smoke --extra 20   # a quick check
    .venv/bin/python benchmarks/finetune_mirrors.py --table benchmarks/finetune_mirrors_sample.jsonl
    .venv/bin/python benchmarks/finetune_mirrors.py --readme           # write the table into benchmarks/README.md
    .venv/bin/python benchmarks/finetune_mirrors.py --readme --check   # exit 1 when the README's table is stale

``--out FILE`` appends one JSON line per printed line (the head alone, then each fine-tuning),
with the commit, the machine, the backend, the load average and the date of the run's start
(:func:`protocol.stamp`, taken once, so that every row of one run carries the same), the
versions, the command, the photo counts and the photos classified right. ``--table`` prints
such a file as Markdown (:func:`markdown`): one table per run (the rows sharing a commit,
start date, machine and profile), in file order, each with a sentence comparing the ways
in photos and a caption saying where, when and how. ``--readme`` writes the tables of
:data:`COMMITTED` into ``benchmarks/README.md`` between ``<!-- finetune_mirrors:sample -->``
and ``<!-- /finetune_mirrors:sample -->`` (:func:`render_readme`).

Why (issue 18: fine-tuning aims at 98.5% under ``sample``). Notebook 06
fine-tunes EfficientNet-Lite0's stages 6–7 on features of the bottom computed
once, so the training photos are never augmented there. A mirror image is the
cheapest augmentation that survives caching: one more pass of the bottom over
the training photos. Does training on both pay?

The script follows 06: Lite0 at 224×224 cut at ``stage5_out``; a pooling head
trained on the top's features (Adam 1e-3, 15 epochs, best validation epoch);
then the top and head fine-tuned at 1e-4, batch-norm layers frozen, best
validation epoch kept. Three fine-tunings from the same head:

- the photos, 4 epochs (06's recipe);
- photos + mirror images, 2 epochs (the same number of steps);
- photos + mirror images, 4 epochs (the same number of epochs, twice the steps).

Each is scored on an **enlarged validation set**: the ``valid`` split plus
``--extra`` labelled photos per class that the profile does not use (taken
from ``full``'s training split), so that a choice rests on more than the ~10
mistakes a 1,000-photo validation split leaves. The checkpoints are chosen on
``valid``, which is part of the enlarged set, the same way for all three. The
test split is not read.

Public functions: :func:`read_rows`, :func:`runs`, :func:`headline`, :func:`markdown`,
:func:`render_readme`, :func:`main`.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import protocol  # noqa: E402  (benchmarks/ is on sys.path)
import readme_tables  # noqa: E402
from protocol import unused_photos  # noqa: E402
from utils import config  # noqa: E402

SIZE = (224, 224)
BACKBONE = "efficientnet_lite0"
ROOT = Path(__file__).resolve().parent.parent
#: The committed figures the README's table is made from.
COMMITTED = ROOT / "benchmarks" / "finetune_mirrors_sample.jsonl"
README = ROOT / "benchmarks" / "README.md"
#: ``<!-- finetune_mirrors:sample -->``
PREFIX, SECTION = "finetune_mirrors", "sample"
#: The ways, in the order they run: (key, the name printed, the table's label with ``{epochs}``).
WAYS = (("head", "head only (before fine-tuning)", "none (the head alone)"),
        ("photos", "photos, 4 epochs (06's recipe)", "the photos, {epochs} epochs (06's recipe)"),
        ("mirrors_same_steps", "photos + mirrors, 2 epochs (same steps)",
         "photos + mirror images, {epochs} epochs (the same steps)"),
        ("mirrors_same_epochs", "photos + mirrors, 4 epochs",
         "photos + mirror images, {epochs} epochs (twice the steps)"))


# ---- the table ---------------------------------------------------------------------------------

def read_rows(path: Path) -> list:
    """The rows of a JSON-lines file written by ``--out`` (:func:`protocol.read_log`)."""
    return protocol.read_log(Path(path))


runs = protocol.runs


def _correct(row) -> int:
    """Photos of the enlarged validation set classified right (from the accuracy in rows that lack the count)."""
    if row.get("enlarged_valid_correct") is not None:
        return int(row["enlarged_valid_correct"])
    return round(row["enlarged_valid_accuracy"] * row["enlarged_valid_count"])


def _label(row) -> str:
    labels = {key: label for key, _, label in WAYS}
    return labels.get(row.get("way"), row.get("run", "?")).format(epochs=row.get("finetune_epochs", "?"))


def _find(rows, way):
    found = [r for r in rows if r.get("way") == way]
    return found[-1] if found else None


def _photos(count: int) -> str:
    return f"{count:+,} photo{'' if abs(count) == 1 else 's'}"


def headline(rows: list) -> str:
    """What the rows of one run say, in photos of the enlarged validation set: fine-tuning against the head alone,
    and each way with mirror images against 06's recipe (points: percentage points of accuracy)."""
    head, photos = _find(rows, "head"), _find(rows, "photos")
    sentences = []
    if photos is not None and head is not None:
        gap = _correct(photos) - _correct(head)
        sentences.append(
            f"On the {photos['enlarged_valid_count']:,} photos of the enlarged validation set, {_label(photos)} "
            f"scored {photos['enlarged_valid_accuracy']:.2%} against {head['enlarged_valid_accuracy']:.2%} for the "
            f"head alone: {gap / photos['enlarged_valid_count'] * 100:+.2f} points, {_photos(gap)}.")
    if photos is not None:
        against = []
        for way in ("mirrors_same_steps", "mirrors_same_epochs"):
            row = _find(rows, way)
            if row is not None:
                against.append(f"{_label(row)} {row['enlarged_valid_accuracy']:.2%} "
                               f"({_photos(_correct(row) - _correct(photos))})")
        if against:
            sentences.append(f"Against 06's recipe: {'; '.join(against)}.")
    return " ".join(sentences)


def _caption(rows) -> str:
    first = rows[0]
    counts = ""
    if first.get("valid_count") is not None:
        counts = (f" ({first['valid_count']:,} `valid` + {first['extra_photos']:,} labelled photos the profile does "
                  "not use)")
    train = f", {first['train_photos']:,} training photos (+ their mirror images)" if first.get("train_photos") else ""
    versions = first.get("versions") or {}
    versions_text = ", ".join(f"{name} {versions[key]}" for key, name in (("tensorflow", "TensorFlow"),
                                                                         ("keras", "Keras")) if key in versions)
    load = f"load average {first['load']} at start" if first.get("load") is not None else "load not recorded"
    if protocol.contended(first):
        load += " (contended: another job shared the machine)"
    return (f"`{first['profile']}`{train}; enlarged validation set of {first['enlarged_valid_count']:,} photos"
            f"{counts}, the test split not read; {first.get('machine', '?')}"
            + (f"; {versions_text}" if versions_text else "")
            + f"; commit {first.get('commit', '?')}, {first.get('date', '?')} UTC, {load}"
            + (f"; `.venv/bin/python {first['command']}`" if first.get("command") else "")
            + ". Each fine-tuning starts from the same head and keeps its best epoch on `valid`; seconds: its "
              "`fit` (validation on `valid` included). Bold: the best of the run.")


def markdown(rows: list) -> str:
    """Markdown: per run (:func:`runs`), accuracy (fraction shown as %, with its 95% Wilson interval), log loss
    (nats) and fine-tuning seconds of each way on the enlarged validation set, then :func:`headline` and a caption."""
    from utils import stats

    parts = []
    for mine in runs(rows):
        order = {key: i for i, (key, _, _) in enumerate(WAYS)}
        mine = sorted(mine, key=lambda r: order.get(r.get("way"), len(order)))
        best_accuracy = max(_correct(r) for r in mine)
        best_loss = min(round(r["enlarged_valid_log_loss"], 4) for r in mine)
        lines = ["| fine-tuning | accuracy (95% interval) | right of | log loss | seconds |", "|---|---|---|---|---|"]
        for row in mine:
            n, correct = row["enlarged_valid_count"], _correct(row)
            low, high = stats.wilson_interval(correct, n)
            accuracy = f"{row['enlarged_valid_accuracy']:.2%}"
            loss = f"{row['enlarged_valid_log_loss']:.4f}"
            accuracy = f"**{accuracy}**" if correct == best_accuracy else accuracy
            loss = f"**{loss}**" if round(row["enlarged_valid_log_loss"], 4) == best_loss else loss
            seconds = f"{row['finetune_seconds']:,.0f}" if row.get("finetune_epochs") else ""
            lines.append(f"| {_label(row)} | {accuracy} ({low:.1%}–{high:.1%}) | {correct:,} of {n:,} | {loss} "
                         f"| {seconds} |")
        sentence = headline(mine)
        parts.append("\n".join(lines) + ("\n\n" + sentence if sentence else "") + "\n\n" + _caption(mine))
    return "\n\n".join(parts) if parts else "No run recorded yet."


def render_readme(text: str, path: Path | None = None) -> str:
    """``text`` with its ``<!-- finetune_mirrors:sample -->`` block filled from ``path`` (default :data:`COMMITTED`).

    Raises ValueError when ``text`` lacks the markers.
    """
    from course.tools import reference

    return reference.render_readme(text, {SECTION: markdown(read_rows(path or COMMITTED))}, prefix=PREFIX)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="sample")
    parser.add_argument("--extra", type=int, default=1000, help="unused labelled photos per class added to valid")
    parser.add_argument("--out", type=Path, help="append one JSON line per fine-tuning here")
    readme_tables.add_options(parser, COMMITTED)
    args = parser.parse_args(argv)
    done = readme_tables.run(args, sys.modules[__name__])    # --table, --readme, --check
    if done is not None:
        return done
    command = "benchmarks/finetune_mirrors.py" + "".join(" " + shlex.quote(a) for a in (sys.argv[1:] if argv is None
                                                                                        else argv))
    common = {"benchmark": "finetune_mirrors", "command": command, **protocol.stamp()}   # once, as the run starts
    cfg = config.get_profile(args.profile)

    import keras
    import tensorflow as tf

    from utils import evaluate, finetune, loading, transfer

    base = transfer.load_base(BACKBONE, input_shape=(*SIZE, 3), cfg=cfg)
    bottom, top = finetune.split_base(base, at=transfer.SPLIT_AT[BACKBONE])
    base.trainable = False
    train = loading.get_batches("train", SIZE, shuffle=False, cfg=cfg)
    x_train, y_train = finetune.extract_features(bottom, train)[:2]
    x_mirror = finetune.extract_features(bottom, train.map(lambda x, y: (x[:, :, ::-1], y)))[0]
    x_valid, y_valid = finetune.extract_features(bottom, loading.get_batches("valid", SIZE, shuffle=False, cfg=cfg))[:2]
    paths, y_extra = unused_photos(cfg, args.extra)
    if paths:
        images = tf.data.Dataset.from_tensor_slices(np.stack([loading.load_image(p, SIZE) for p in paths])).batch(32)
        x_enlarged = np.concatenate([x_valid, finetune.extract_features(bottom, images)[0]])
        y_enlarged = np.concatenate([y_valid, y_extra])
    else:
        x_enlarged, y_enlarged = x_valid, y_valid
    print(f"{cfg.name}: {len(y_train):,} training photos (+ their mirror images), validation {len(y_valid):,}, "
          f"enlarged validation {len(y_enlarged):,}; {config.describe_hardware()}", flush=True)

    folder = cfg.profile_results_dir / "benchmarks"
    folder.mkdir(parents=True, exist_ok=True)

    def keep_best(name):
        return keras.callbacks.ModelCheckpoint(folder / f"finetune_mirrors_{name}.weights.h5", monitor="val_accuracy",
                                               mode="max", save_best_only=True, save_weights_only=True)

    keras.utils.set_random_seed(cfg.seed)
    pooled_train, pooled_valid = top.predict(x_train, verbose=0), top.predict(x_valid, verbose=0)
    head = finetune.build_feature_head(pooled_train.shape[1:], head="pool", name="head")
    head.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
    best = keep_best("head")
    head.fit(pooled_train, y_train, validation_data=(pooled_valid, y_valid), epochs=15, batch_size=cfg.batch_size,
             verbose=0, callbacks=[best])
    head.load_weights(best.filepath)
    classifier = finetune.build_classifier(base, head="pool", name="classifier")
    for layer in head.layers:
        if layer.weights:
            classifier.get_layer(layer.name).set_weights(layer.get_weights())
    top_and_head = finetune.attach_head(top, classifier, name="top_and_head")
    transfer.set_trainable_top(base, transfer.SPLIT_AT[BACKBONE])
    start = top_and_head.get_weights()

    common.update(profile=cfg.name, versions={"keras": keras.__version__, "tensorflow": tf.__version__},
                  train_photos=int(len(y_train)), valid_count=int(len(y_valid)), extra_photos=len(paths),
                  extra_per_class=args.extra)
    names = {key: name for key, name, _ in WAYS}

    def report(way, seconds, epochs=0, photos=0):
        p = np.asarray(top_and_head.predict(x_enlarged, verbose=0), "float32")[:, 0]
        found = evaluate.metrics(y_enlarged, p)
        correct = int((evaluate.predicted_labels(p) == np.asarray(y_enlarged).reshape(-1)).sum())
        print(f"{names[way]:42s} accuracy {found['accuracy']:.2%}  log loss {found['log_loss']:.4f}  {seconds:5.0f} s",
              flush=True)
        if args.out:
            protocol.append(args.out, {
                **common, "run": names[way], "way": way, "finetune_epochs": epochs,
                "finetune_examples": photos, "enlarged_valid_count": int(len(y_enlarged)),
                "enlarged_valid_correct": correct,
                "enlarged_valid_accuracy": float(found["accuracy"]), "enlarged_valid_log_loss": float(found["log_loss"]),
                "finetune_seconds": seconds})

    report("head", 0)
    both_x, both_y = np.concatenate([x_train, x_mirror]), np.concatenate([y_train, y_train])
    for way, x, y, epochs in (("photos", x_train, y_train, 4),
                              ("mirrors_same_steps", both_x, both_y, 2),
                              ("mirrors_same_epochs", both_x, both_y, 4)):
        top_and_head.set_weights(start)
        keras.utils.set_random_seed(cfg.seed)
        top_and_head.compile(optimizer=keras.optimizers.Adam(1e-4), loss="binary_crossentropy", metrics=["accuracy"])
        best = keep_best("top")
        began = time.perf_counter()
        top_and_head.fit(x, y, validation_data=(x_valid, y_valid), epochs=epochs, batch_size=cfg.batch_size,
                         shuffle=True, verbose=0, callbacks=[best])
        seconds = time.perf_counter() - began
        top_and_head.load_weights(best.filepath)
        report(way, seconds, epochs, len(y))
    return 0


if __name__ == "__main__":
    sys.exit(main())
