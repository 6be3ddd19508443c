"""How much one run moves: notebook 04's plain-vs-augmented comparison repeated over seeds, on validation.

Usage (from the repository root)::

    .venv/bin/python benchmarks/seed_spread.py                                   # sample, 3 seeds
    .venv/bin/python benchmarks/seed_spread.py --profile smoke --seeds 1 2        # a quick check
    .venv/bin/python benchmarks/seed_spread.py --markdown benchmarks/seed_spread_sample.jsonl

Notebook 04 trains ``cnn_plain`` and ``cnn_aug`` once, with the profile's seed, and
its verdict rests on that one pair of runs. A different seed gives other initial
weights, other shuffles and other augmentations, so the same comparison moves by some
points from run to run; this benchmark measures by how much. For each seed (default:
the profile's seed and the next two) it trains both networks exactly as 04 does
(``lessons.build_cnn_small`` and ``lessons.compile_cnn_small``, notebook 03's cells,
``cfg.epochs["cnn_aug"]`` epochs, the best validation epoch kept; the augmented one
with ``lessons.augment_dataset`` at the strength given by ``--strength``, 04's
validation choice), then scores both on the **validation** split: accuracy, log loss
and McNemar's exact test of the pair (``utils.stats``). The test split is never read.

``--out FILE`` appends one JSON line per run and one per pair, with the commit, the
machine and the date; notebook 04 prints the spread from the committed
``benchmarks/seed_spread_<profile>.jsonl``. ``--markdown FILE`` prints such a file
as a table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from utils import augmentation, config, evaluate, lessons, loading, results, stats, training  # noqa: E402

#: Augmentation strengths notebook 04 chooses between (its ``STRENGTHS`` cell); the seeds'
#: settings are ``lessons.augment_dataset``'s defaults, so they need no arguments.
STRENGTHS = {"light": augmentation.LIGHT_SETTINGS, "seeds": {}}

COMPARISON = "04: cnn_plain vs cnn_aug"


def train_and_score(cfg, model_id, train_ds, valid_ds, valid_arrays, epochs, folder):
    """One run of 04's recipe; (row, valid P(dog)) scored on validation at the best epoch."""
    import keras

    config.seed_everything(cfg)
    steps_per_epoch = math.ceil(training.count_examples(train_ds) / cfg.batch_size)
    model = lessons.compile_cnn_small(lessons.build_cnn_small(cfg.image_size, dropout=0.5, name=model_id),
                                      epochs, steps_per_epoch, weight_decay=0.5)
    best = keras.callbacks.ModelCheckpoint(Path(folder) / f"{model_id}_{cfg.seed}.keras", monitor="val_accuracy",
                                           mode="max", save_best_only=True)
    _, timing = training.fit(model, train_ds, valid_ds, epochs=epochs, cfg=cfg, callbacks=[best],
                             model_id=f"{model_id}_seed{cfg.seed}", tensorboard=False)
    model.load_weights(best.filepath)
    y_true, p_dog = evaluate.predict(model, valid_arrays)
    scores = evaluate.metrics(y_true, p_dog)
    row = {"model": model_id, "valid_accuracy": scores["accuracy"], "valid_log_loss": scores["log_loss"],
           "valid_count": int(len(y_true)), "best_epoch": timing["best_epoch"], "train_seconds": round(timing["train_seconds"], 1)}
    return row, y_true, p_dog


def run(profile: str, seeds, strength: str, out: Path | None) -> list[dict]:
    """Every seed's pair of runs; the rows, also appended to ``out``."""
    rows = []
    common = {"benchmark": "seed_spread", "comparison": COMPARISON, "profile": profile, "strength": strength,
              "commit": results.git_commit(), "machine": config.describe_hardware(),
              "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    with tempfile.TemporaryDirectory(prefix="dogscats-spread.") as folder:
        for seed in seeds:
            cfg = config.get_profile(profile, seed=seed, results_dir=Path(folder) / "results")
            epochs = cfg.epochs["cnn_aug"]
            train_ds = loading.get_batches("train", cfg.image_size, cfg=cfg, cache=True)
            valid_ds = loading.get_batches("valid", cfg.image_size, cfg=cfg, cache=True)
            valid_arrays = loading.load_arrays("valid", cfg.image_size, cfg=cfg)
            augmented = lessons.augment_dataset(train_ds, seed=seed, **STRENGTHS[strength])
            plain, y_true, p_plain = train_and_score(cfg, "cnn_plain", train_ds, valid_ds, valid_arrays, epochs, folder)
            aug, _, p_aug = train_and_score(cfg, "cnn_aug", augmented, valid_ds, valid_arrays, epochs, folder)
            test = stats.mcnemar_exact(y_true, evaluate.predicted_labels(p_aug), evaluate.predicted_labels(p_plain))
            pair = {"model": "cnn_aug − cnn_plain", "gain": aug["valid_accuracy"] - plain["valid_accuracy"],
                    "only_aug_right": test["only_a"], "only_plain_right": test["only_b"], "p_value": test["p_value"]}
            for row in (plain, aug, pair):
                rows.append({**common, "seed": seed, "epochs": epochs, **row})
                print(json.dumps(rows[-1]), flush=True)
                if out is not None:
                    with open(out, "a", encoding="utf-8") as handle:
                        handle.write(json.dumps(rows[-1]) + "\n")
    return rows


def markdown(path: Path) -> str:
    """The spread table of a JSON-lines file: each seed's pair, then the gain's mean, spread and range."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_seed = {}
    for row in rows:
        by_seed.setdefault(row["seed"], {})[row["model"]] = row
    lines = ["| seed | cnn_plain (validation) | cnn_aug (validation) | gain, points | McNemar p |",
             "|---|---|---|---|---|"]
    gains = []
    for seed, runs in sorted(by_seed.items()):
        pair = runs.get("cnn_aug − cnn_plain")
        if pair is None:
            continue
        gains.append(100 * pair["gain"])
        lines.append(f"| {seed} | {runs['cnn_plain']['valid_accuracy']:.1%} | {runs['cnn_aug']['valid_accuracy']:.1%} "
                     f"| {100 * pair['gain']:+.1f} | {pair['p_value']:.3g} |")
    if gains:
        mean = sum(gains) / len(gains)
        sd = (sum((g - mean) ** 2 for g in gains) / (len(gains) - 1)) ** 0.5 if len(gains) > 1 else float("nan")
        lines.append(f"\nGain over {len(gains)} seeds: mean {mean:+.1f} points, standard deviation {sd:.1f}, "
                     f"range {min(gains):+.1f} to {max(gains):+.1f} ({rows[0]['profile']}, {rows[0]['epochs']} epochs, "
                     f"strength {rows[0]['strength']}, commit {rows[0]['commit']}, {rows[0]['machine']})")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="sample", choices=config.PROFILE_NAMES)
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="default: the profile's seed and the next two")
    parser.add_argument("--strength", default="light", choices=sorted(STRENGTHS))
    parser.add_argument("--out", type=Path, default=None, help="append JSON lines to this file")
    parser.add_argument("--markdown", type=Path, default=None, help="print this JSON-lines file as a table")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown(args.markdown))
        return 0
    base = config.get_profile(args.profile).seed
    run(args.profile, args.seeds or [base, base + 1, base + 2], args.strength, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
