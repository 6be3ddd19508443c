"""How much one run moves: the comparisons of notebooks 02, 03, 04 and 06 repeated over seeds, on validation.

Usage (from the repository root)::

    .venv/bin/python benchmarks/seed_spread.py                                   # sample, 3 seeds, 04's pair
    .venv/bin/python benchmarks/seed_spread.py --comparison 03                   # 03's four networks
    .venv/bin/python benchmarks/seed_spread.py --comparison 02                   # 02's four optimizers
    .venv/bin/python benchmarks/seed_spread.py --comparison 06                   # notebook 06, run per seed
    .venv/bin/python benchmarks/seed_spread.py --profile smoke --seeds 1 2        # a quick check
    .venv/bin/python benchmarks/seed_spread.py --markdown benchmarks/seed_spread_sample.jsonl
    .venv/bin/python benchmarks/seed_spread.py --readme          # its tables into benchmarks/README.md

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

``--comparison 03`` repeats notebook 03's instead: ``cnn_small`` and the seeds' three
networks (``lessons.NETWORKS``, 03's cells), each compiled with ``lessons.compile_cnn_small``
for ``cfg.epochs["cnn"]`` epochs, the best validation epoch kept, each seed network paired
with ``cnn_small`` by McNemar's test on validation.

``--comparison 02`` repeats notebook 02's optimizers (``lessons.OPTIMIZERS``), each on a
fresh ``lessons.build_mlp`` with pixels scaled to [0, 1], for ``cfg.epochs["mlp"]`` epochs,
each paired with Adam.

``--comparison 06`` executes notebook 06 itself once per seed (``DOGSCATS_SEED``), each into a
results folder of its own, and reads its three ways' validation figures from their records
(each way's best validation epoch; no paired test: records keep test predictions only, and
the notebook pairs the three on test itself).

``--out FILE`` appends one JSON line per run and one per pair, with the comparison, the
commit, the machine and the date; notebooks 02, 03, 04 and 06 print their spread from the committed
``benchmarks/seed_spread_<profile>.jsonl``. ``--markdown FILE`` prints such a file
as tables, one per comparison.
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

#: The comparisons, by notebook: the value of each JSON line's "comparison".
COMPARISONS = {"04": "04: cnn_plain vs cnn_aug", "03": "03: cnn_small vs the seeds' networks",
               "02": "02: the optimizers on fresh MLPs", "06": "06: three ways to reuse a pretrained network"}

#: Notebook 06's three ways, as its records name them (``transfer.model_id(backbone, way)``).
WAYS_06 = ("features", "frozen_aug", "finetune")

#: The committed runs the notebooks and benchmarks/README.md read, and the README's marked block.
COMMITTED = ROOT / "benchmarks" / "seed_spread_sample.jsonl"
README = ROOT / "benchmarks" / "README.md"
PREFIX, SECTION = "seed_spread", "sample"

#: Notebook 02's image size for its MLP (its load-arrays cell).
MLP_IMAGE_SIZE = (32, 32)


def train_and_score(cfg, model_id, train_ds, valid_ds, valid_arrays, epochs, folder, build=None, optimizer=None):
    """One run on validation, the best epoch kept; (row, y_true, valid P(dog)).

    ``build(image_size)`` makes the network (default: cnn_small, 04's way); it trains with
    cnn_small's recipe, or compiled with ``optimizer()`` when given (02's way)."""
    import keras

    config.seed_everything(cfg)
    steps_per_epoch = math.ceil(training.count_examples(train_ds) / cfg.batch_size)
    network = (lessons.build_cnn_small(cfg.image_size, dropout=0.5, name=model_id) if build is None
               else build(cfg.image_size))
    if optimizer is None:
        model = lessons.compile_cnn_small(network, epochs, steps_per_epoch, weight_decay=0.5)
    else:
        model = network
        model.compile(optimizer=optimizer(), loss="binary_crossentropy", metrics=["accuracy"])
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


def _pairs_04(cfg, seed, strength, train_ds, valid_ds, valid_arrays, folder):
    """Notebook 04's pair for one seed: the two runs' rows and the pair's row."""
    epochs = cfg.epochs["cnn_aug"]
    augmented = lessons.augment_dataset(train_ds, seed=seed, **STRENGTHS[strength])
    plain, y_true, p_plain = train_and_score(cfg, "cnn_plain", train_ds, valid_ds, valid_arrays, epochs, folder)
    aug, _, p_aug = train_and_score(cfg, "cnn_aug", augmented, valid_ds, valid_arrays, epochs, folder)
    test = stats.mcnemar_exact(y_true, evaluate.predicted_labels(p_aug), evaluate.predicted_labels(p_plain))
    pair = {"model": "cnn_aug − cnn_plain", "gain": aug["valid_accuracy"] - plain["valid_accuracy"],
            "only_aug_right": test["only_a"], "only_plain_right": test["only_b"], "p_value": test["p_value"]}
    return epochs, [plain, aug, pair]


def _pairs_03(cfg, seed, strength, train_ds, valid_ds, valid_arrays, folder):
    """Notebook 03's four networks for one seed: their rows, then each seed network against cnn_small
    (McNemar, Holm-adjusted over the three tests as 03 does)."""
    epochs = cfg.epochs["cnn"]
    runs, p_dogs = [], {}
    for name, build in lessons.NETWORKS.items():
        row, y_true, p_dogs[name] = train_and_score(cfg, name, train_ds, valid_ds, valid_arrays, epochs, folder,
                                                    build=build)
        runs.append(row)
    return epochs, runs + _against(runs, p_dogs, y_true, "cnn_small")


def _pairs_02(cfg, seed, strength, train_ds, valid_ds, valid_arrays, folder):
    """Notebook 02's optimizers for one seed, each on a fresh MLP (pixels scaled to [0, 1]): their rows,
    then each against Adam (McNemar, Holm-adjusted over the three tests)."""
    from keras import layers

    epochs = cfg.epochs["mlp"]
    train = loading.load_arrays("train", MLP_IMAGE_SIZE, cfg)
    valid = loading.load_arrays("valid", MLP_IMAGE_SIZE, cfg)
    runs, p_dogs = [], {}
    for name, make_optimizer in lessons.OPTIMIZERS.items():
        row, y_true, p_dogs[name] = train_and_score(
            cfg, name, train, valid, valid, epochs, folder, optimizer=make_optimizer,
            build=lambda _size: lessons.build_mlp(MLP_IMAGE_SIZE, [layers.Rescaling(1 / 255)]))
        runs.append(row)
    return epochs, runs + _against(runs, p_dogs, y_true, "adam")


def _runs_06(cfg, seed, folder):
    """Notebook 06 itself, executed with ``DOGSCATS_SEED=seed`` into a results folder of its own
    (its three ways live in its cells and ``utils.finetune``, so the notebook is the benchmark);
    its three records' validation figures, and each way's gap to feature extraction."""
    import os
    from unittest import mock

    from course.run import execute

    results_dir = Path(folder) / f"results-06-{seed}"
    environ = {"DOGSCATS_SEED": str(seed), "DOGSCATS_PROFILE": cfg.name, "DOGSCATS_RESULTS": str(results_dir)}
    with mock.patch.dict(os.environ, environ):          # the kernel inherits them; restored after
        execute.quiet_kernel_environment()
        outcome = execute.nbclient_executor(ROOT / "notebooks" / "06_vgg16_finetuning.ipynb", cwd=ROOT / "notebooks",
                                            timeout=None, progress=lambda *args, **kwargs: None)
    if outcome.status != execute.OK:
        raise RuntimeError(f"notebook 06 under {cfg.name} with seed {seed}: {outcome.status} {outcome.reason or ''}")
    records = {r["model_id"]: r for r in results.load_records(config.get_profile(cfg.name, seed=seed,
                                                                                   results_dir=results_dir))}
    from utils import transfer

    backbone = next(b for b in transfer.BACKBONES if transfer.model_id(b, "finetune") in records)
    rows = []
    for way in WAYS_06:
        record = records[transfer.model_id(backbone, way)]
        rows.append({"model": way, "model_id": record["model_id"], "backbone": backbone, "valid_accuracy": record["valid_accuracy"],
                     "valid_log_loss": record["valid_log_loss"], "valid_count": record["valid_count"],
                     "best_epoch": record["best_epoch"], "train_seconds": record.get("train_seconds")})
    accuracy = {row["model"]: row["valid_accuracy"] for row in rows}
    rows += [{"model": f"{way} − features", "gain": accuracy[way] - accuracy["features"]} for way in WAYS_06[1:]]
    return cfg.epochs["vgg16_finetune"], rows


def _against(runs, p_dogs, y_true, reference):
    """Each run's pair with ``reference`` on validation: gain, McNemar counts and p, Holm-adjusted p."""
    accuracy = {row["model"]: row["valid_accuracy"] for row in runs}
    others = [row["model"] for row in runs if row["model"] != reference]
    tests = [stats.mcnemar_exact(y_true, evaluate.predicted_labels(p_dogs[name]),
                                 evaluate.predicted_labels(p_dogs[reference])) for name in others]
    adjusted = stats.holm([test["p_value"] for test in tests])
    return [{"model": f"{name} − {reference}", "gain": accuracy[name] - accuracy[reference],
             "only_this_right": test["only_a"], f"only_{reference}_right": test["only_b"],
             "p_value": test["p_value"], "holm_p_value": float(holm_p)}
            for name, test, holm_p in zip(others, tests, adjusted)]


def run(profile: str, seeds, strength: str, out: Path | None, comparison: str = "04") -> list[dict]:
    """Every seed's runs of one comparison (``COMPARISONS``); the rows, also appended to ``out``."""
    rows = []
    common = {"benchmark": "seed_spread", "comparison": COMPARISONS[comparison], "profile": profile,
              "commit": results.git_commit(), "machine": config.describe_hardware(),
              "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    if comparison == "04":
        common["strength"] = strength
    one_seed = {"04": _pairs_04, "03": _pairs_03, "02": _pairs_02}.get(comparison)
    with tempfile.TemporaryDirectory(prefix="dogscats-spread.") as folder:
        for seed in seeds:
            cfg = config.get_profile(profile, seed=seed, results_dir=Path(folder) / "results")
            if comparison == "06":
                epochs, found = _runs_06(cfg, seed, folder)
                _append(rows, [{**common, "seed": seed, "epochs": epochs, **row} for row in found], out)
                continue
            if comparison == "02":          # the MLP reads its own small arrays
                train_ds = valid_ds = valid_arrays = None
            else:
                train_ds = loading.get_batches("train", cfg.image_size, cfg=cfg, cache=True)
                valid_ds = loading.get_batches("valid", cfg.image_size, cfg=cfg, cache=True)
                valid_arrays = loading.load_arrays("valid", cfg.image_size, cfg=cfg)
            epochs, found = one_seed(cfg, seed, strength, train_ds, valid_ds, valid_arrays, folder)
            _append(rows, [{**common, "seed": seed, "epochs": epochs, **row} for row in found], out)
    return rows


def _append(rows: list, new: list, out: Path | None) -> None:
    """Print each new row as JSON, append it to ``rows`` and, one line each, to ``out``."""
    for row in new:
        rows.append(row)
        print(json.dumps(row), flush=True)
        if out is not None:
            with open(out, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")


def markdown(path: Path) -> str:
    """The spread tables of a JSON-lines file, one per comparison: each seed's validation accuracies
    and gains, then each gain's mean, standard deviation and range over the seeds."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    sections = []
    for comparison in dict.fromkeys(row.get("comparison", COMPARISONS["04"]) for row in rows):
        chosen = [row for row in rows if row.get("comparison", COMPARISONS["04"]) == comparison]
        models = list(dict.fromkeys(row["model"] for row in chosen if "gain" not in row))
        gains = list(dict.fromkeys(row["model"] for row in chosen if "gain" in row))
        tested = all("p_value" in row for row in chosen if "gain" in row)
        by_seed = {}
        for row in chosen:
            by_seed.setdefault(row["seed"], {})[row["model"]] = row
        lines = [f"**{comparison}** ({chosen[0]['profile']}, {chosen[0]['epochs']} epochs"
                 + (f", strength {chosen[0]['strength']}" if "strength" in chosen[0] else "")
                 + f", commit {chosen[0]['commit']}, {chosen[0]['machine']})", "",
                 "| seed | " + " | ".join(f"{m} (validation)" for m in models)
                 + " | " + " | ".join(f"{g}, points" + (" (McNemar p)" if tested else "") for g in gains) + " |",
                 "|---" * (1 + len(models) + len(gains)) + "|"]
        for seed, runs in sorted(by_seed.items()):
            cells = [f"{runs[m]['valid_accuracy']:.1%}" if m in runs else "" for m in models]
            cells += [f"{100 * runs[g]['gain']:+.1f}" + (f" ({runs[g]['p_value']:.3g})" if tested else "") if g in runs
                      else "" for g in gains]
            lines.append(f"| {seed} | " + " | ".join(cells) + " |")
        for gain in gains:
            values = [100 * runs[gain]["gain"] for runs in by_seed.values() if gain in runs]
            mean = sum(values) / len(values)
            sd = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else float("nan")
            lines.append(f"\n{gain} over {len(values)} seeds: mean {mean:+.1f} points, standard deviation {sd:.1f}, "
                         f"range {min(values):+.1f} to {max(values):+.1f}")
        sections.append("\n".join(lines))
    return "\n\n".join(sections)


def render_readme(text: str, path: Path = COMMITTED) -> str:
    """``text`` with its ``<!-- seed_spread:sample -->`` block filled with :func:`markdown` of ``path``."""
    from course.tools import reference

    return reference.render_readme(text, {SECTION: markdown(path)}, prefix=PREFIX)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="sample", choices=config.PROFILE_NAMES)
    parser.add_argument("--seeds", type=int, nargs="+", default=None,
                        help="default: the profile's seed and the next two")
    parser.add_argument("--comparison", default="04", choices=sorted(COMPARISONS),
                        help="whose comparison: notebook 04's pair (default), 03's four networks, 02's four optimizers "
                             "or 06's three ways (the notebook executed per seed)")
    parser.add_argument("--strength", default="light", choices=sorted(STRENGTHS), help="04's augmentation strength")
    parser.add_argument("--out", type=Path, default=None, help="append JSON lines to this file")
    parser.add_argument("--markdown", type=Path, default=None, help="print this JSON-lines file as a table")
    parser.add_argument("--readme", action="store_true",
                        help=f"write the tables of {COMMITTED.name} into benchmarks/README.md")
    parser.add_argument("--check", action="store_true", help="with --readme: only check, exit 1 when stale")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown(args.markdown))
        return 0
    if args.readme:
        text = README.read_text(encoding="utf-8")
        fresh = render_readme(text)
        if args.check:
            if fresh != text:
                print("benchmarks/README.md's seed spread tables are stale: run benchmarks/seed_spread.py --readme")
            return int(fresh != text)
        README.write_text(fresh, encoding="utf-8")
        return 0
    base = config.get_profile(args.profile).seed
    run(args.profile, args.seeds or [base, base + 1, base + 2], args.strength, args.out, args.comparison)
    return 0


if __name__ == "__main__":
    sys.exit(main())
