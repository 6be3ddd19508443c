"""Transfer learning under the protocol: notebook 06's fine-tuned EfficientNet-Lite0, chosen on validation, one test read.

Usage (from the repository root)::

    # design: each image size, validation only (under full: 1,000 photos carved out of the training split + valid)
    .venv/bin/python benchmarks/transfer_protocol.py --profile full --sizes 224 288 --out benchmarks/transfer_full.jsonl
    # final: the candidate `chosen` picks from those design rows, trained on the whole training split, test read once
    .venv/bin/python benchmarks/transfer_protocol.py --profile full --final --out benchmarks/transfer_full.jsonl
    .venv/bin/python benchmarks/transfer_protocol.py --profile smoke --sizes 64 --out /tmp/rows.jsonl   # a quick check

``--out FILE`` appends one JSON line per run (design or final), with the commit,
the machine, the backend and the date; a final run's row also goes to
``benchmarks/final_reads.jsonl`` (``--final-log``) and its predictions to
``benchmarks/predictions/``. ``report.py`` generates the README's transfer tables
from these files.

Why (issue 33: transfer under ``full`` ≥ 99.0%, chosen on validation and
confirmed once on test). Notebook 06 reads its test split once per model but
chooses among three ways by running all three to the end; here the choice is made
on an enlarged validation set before the test split is opened.

The recipe is notebook 06's way (c), with the settings 06 chose under ``full``
(``reference/full/records``): EfficientNet-Lite0 cut at ``stage5_out``
(``transfer.SPLIT_AT``), the bottom run once over every photo (cached
features); a pooling head (``finetune.build_feature_head``, ``head="pool"``,
``transfer.HEADS``) trained on the frozen top's output, Adam 1e-3 for
``5 × epochs["vgg16_head"]`` epochs; then the top (stages 6–7 and the head
convolution, batch norm frozen: ``transfer.set_trainable_top``) and head
fine-tuned on the cached features at 1e-4 (06's choice under ``full``) for
``epochs["vgg16_finetune"]`` epochs. Each stage keeps its best validation-accuracy
epoch on ``valid``, as 06 does. One difference, said in the README: 06 starts
the fine-tuning from way (b)'s head, trained through the whole network with
augmentation; here it starts from the head trained on the features (way (a)),
which skips 06's most expensive step (3 epochs of every photo through Lite0).

The candidates a design run scores on the enlarged validation set, for each
``--sizes`` side: the head alone (06's way (a)) and the fine-tuned top, each on
the photo alone and with test-time augmentation (the photo and its mirror image
averaged). :func:`chosen` picks one: the highest accuracy (mean over seeds), a
tie broken by the lower log loss. A design run never opens a test photo; the
final run trains only the chosen candidate.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import protocol  # noqa: E402  (benchmarks/ is on sys.path)
from utils import config, devices  # noqa: E402

BACKBONE = "efficientnet_lite0"
#: Notebook 06's fine-tuning learning rate, chosen there on validation under ``full`` (between 1e-5 and 1e-4).
LEARNING_RATE = 1e-4
#: The ways a design run scores: 06's (a) feature extraction (the head alone) and (c) the fine-tuned top.
WAYS = ("head", "finetune")


def candidates(rows: list) -> dict:
    """Every candidate of the design rows: {(side, way, tta): [enlarged-validation scores, one per seed]}.

    ``rows``: rows of ``--out`` (final rows are skipped). ``way`` is one of :data:`WAYS`;
    ``tta`` a bool. Each score is a dict with ``accuracy``, ``low``, ``high``, ``log_loss``, ``n``.
    """
    out = {}
    for row in rows:
        if row.get("kind") != "design":
            continue
        for way in WAYS:
            for tta in (False, True):
                out.setdefault((row["image"][0], way, tta), []).append(row["valid"][way]["tta" if tta else "plain"])
    return out


def chosen(rows: list):
    """The rule: the candidate with the highest mean enlarged-validation accuracy; a tie, the lower mean log loss.

    Returns ``(side, way, tta)``, or None when ``rows`` hold no design run.
    """
    found = candidates(rows)
    if not found:
        return None
    return max(found, key=lambda key: (round(statistics.mean(s["accuracy"] for s in found[key]), 6),
                                       -statistics.mean(s["log_loss"] for s in found[key])))


def paired_with_chosen(rows: list, folder: Path) -> dict:
    """McNemar's exact test of each candidate against the chosen one, on the first seed's enlarged validation set.

    Returns {(side, way, tta): ``utils.stats.mcnemar_exact``'s dict, A the chosen one}; candidates of another
    image size are paired when a design run of that size has the same seed and the same photos. Rows without
    saved predictions are skipped.
    """
    pick = chosen(rows)
    design = [r for r in rows if r.get("kind") == "design" and r.get("predictions")]
    first = next((r for r in design if pick and r["image"][0] == pick[0]), None)
    if first is None:
        return {}
    mine = (first["predictions"], f"{pick[1]}_{'tta' if pick[2] else 'plain'}")
    out = {}
    for row in (r for r in design if r["seed"] == first["seed"]):
        for way in WAYS:
            for tta in (False, True):
                key = (row["image"][0], way, tta)
                test = None if key == pick else protocol.paired(
                    folder, mine, (row["predictions"], f"{way}_{'tta' if tta else 'plain'}"))
                if test:
                    out[key] = test
    return out


def run_id(profile: str, side: int, way: str, tta: bool, seed: int) -> str:
    """A final run's name: profile, network, image side, way, test-time augmentation and seed."""
    return f"{profile}-{BACKBONE}-{side}px-{way}{'-tta' if tta else ''}-seed{seed}"


class Features:
    """The frozen bottom's output for lists of photos, computed once and kept on disk.

    ``folder``: where the arrays go, one ``.npy`` per list of photos, size, mirroring and
    compute precision (the name is a hash of them), so a final run reuses a design run's
    features of the same photos. Arrays are float32 ``(n, h', w', c)``; ``seconds`` adds up
    the time spent computing (not loading). A file is written under a temporary name and
    renamed when complete, so a run killed mid-write leaves no partial array; a file that
    cannot be read is computed again.
    """

    def __init__(self, bottom, side: int, batch_size: int, folder: Path):
        self.bottom, self.side, self.batch_size, self.folder = bottom, side, batch_size, Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.seconds = 0.0

    def __call__(self, paths, labels, mirrored: bool = False) -> np.ndarray:
        import keras

        from utils import finetune

        key = hashlib.sha256("\n".join([BACKBONE, self.bottom.name, keras.config.dtype_policy().name,
                                        str(self.side), str(mirrored), *map(str, paths)]).encode())
        path = self.folder / f"{key.hexdigest()[:16]}.npy"
        if path.exists():
            try:
                return np.load(path)
            except (OSError, ValueError, EOFError):          # truncated or not an array: compute it again
                path.unlink()
        batches = protocol.photo_batches(paths, labels, (self.side, self.side), self.batch_size, cache=False)
        if mirrored:                                 # left to right: axis 2 of (batch, height, width, 3)
            batches = batches.map(lambda x, y: (x[:, :, ::-1], y))
        features, _, seconds = finetune.extract_features(self.bottom, batches)
        self.seconds += seconds
        partial = path.with_name(path.stem + ".partial.npy")
        np.save(partial, features)
        os.replace(partial, path)
        return features


def run(cfg, side: int, *, seed: int, final: bool = False, choice=None, extra_per_class: int = 1000,
        reread=None, log: Path = protocol.FINAL_LOG, folder: Path | None = None, progress=print) -> dict:
    """One design run (every way scored on the enlarged validation set) or one final run of ``choice``.

    Parameters
    ----------
    cfg : utils.config.Profile
    side : int
        Image side in pixels (photos resized to ``side × side``, bilinear).
    seed : int
        Seeds the heads' initial weights and the shuffling.
    final : bool
        Train on the whole training split and read the test split once, scored as
        ``choice`` says: ``(side, way, tta)`` from :func:`chosen`.
    extra_per_class, reread, log, folder
        Photos per class added to ``valid``; a reason for a second final read; the
        log of test reads; where the cached features and weights go (default
        ``<results>/<profile>/transfer_protocol``).

    Returns
    -------
    dict
        The row: ``kind``, ``run_id``, ``image``, seconds, and ``valid`` (design: each way's
        ``plain`` and ``tta`` scores on the enlarged set) or ``test`` (final).

    Raises
    ------
    protocol.RereadRefused
        Before anything is computed, when the final run already read the test split.
    ValueError
        ``final`` without a ``choice`` of this ``side``.
    """
    import keras

    from utils import finetune, transfer

    started = protocol.stamp()
    way, tta = (choice[1], choice[2]) if final else (None, None)
    if final:
        if not choice or choice[0] != side:
            raise ValueError(f"a final run needs the chosen candidate at {side} px, got {choice}")
        ident = run_id(cfg.name, side, way, tta, seed)
        protocol.check_first_read(ident, reread, log)
    else:
        ident = f"{cfg.name}-{BACKBONE}-{side}px-design-seed{seed}"
    folder = Path(folder or Path(cfg.profile_results_dir) / "transfer_protocol")
    photos = protocol.design_photos(cfg, extra_per_class)
    train_paths, train_y = protocol.training_photos(cfg) if final else photos["train"]
    valid_paths = protocol._split_paths("valid", cfg)
    valid_y = np.array([protocol._label(p) for p in valid_paths], np.int32)

    base = transfer.load_base(BACKBONE, input_shape=(side, side, 3), cfg=cfg)
    bottom, top = finetune.split_base(base, at=transfer.SPLIT_AT[BACKBONE])
    base.trainable = False
    features = Features(bottom, side, cfg.batch_size, folder / "features")
    all_paths, all_y = protocol.training_photos(cfg)     # every training photo once: design and final share them
    progress(f"{ident}: features of {len(all_paths):,} training and {len(valid_paths):,} validation photos ...")
    known = {}
    for paths, x in ((all_paths, features(all_paths, all_y)), (valid_paths, features(valid_paths, valid_y))):
        known.update({path: x[i] for i, path in enumerate(paths)})          # views, not copies

    def gather(paths, labels):
        """The bottom's features of these photos, from those computed already; the others computed now."""
        missing = [i for i, path in enumerate(paths) if path not in known]
        if missing:
            x = features([paths[i] for i in missing], np.asarray(labels)[missing])
            known.update({paths[i]: x[j] for j, i in enumerate(missing)})
        return np.stack([known[path] for path in paths])

    x_train, x_valid = gather(train_paths, train_y), gather(valid_paths, valid_y)

    def keep_best(name):
        return keras.callbacks.ModelCheckpoint(folder / f"{ident}-{name}.weights.h5", monitor="val_accuracy",
                                               mode="max", save_best_only=True, save_weights_only=True)

    keras.utils.set_random_seed(seed)
    head_epochs, finetune_epochs = 5 * cfg.epochs["vgg16_head"], cfg.epochs["vgg16_finetune"]
    top_train, top_valid = top.predict(x_train, verbose=0), top.predict(x_valid, verbose=0)
    head = finetune.build_feature_head(top_train.shape[1:], head=transfer.HEADS[BACKBONE], name="head")
    head.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
    best = keep_best("head")
    began = time.perf_counter()
    head_history = head.fit(top_train, train_y, validation_data=(top_valid, valid_y), epochs=head_epochs,
                            batch_size=cfg.batch_size, shuffle=True, verbose=0, callbacks=[best]).history
    head_seconds = time.perf_counter() - began
    head.load_weights(best.filepath)
    del top_train, top_valid
    classifier = finetune.build_classifier(base, head=transfer.HEADS[BACKBONE], name="classifier")
    for layer in head.layers:
        if layer.weights:
            classifier.get_layer(layer.name).set_weights(layer.get_weights())
    top_and_head = finetune.attach_head(top, classifier, name="top_and_head")
    row = {"kind": "final" if final else "design", "run_id": ident, "profile": cfg.name, "backbone": BACKBONE,
           "image": [side, side], "seed": seed, "train_photos": len(train_paths), "batch_size": cfg.batch_size,
           "head_epochs": head_epochs, "head_kept_epoch": int(np.argmax(head_history["val_accuracy"])) + 1,
           "head_s": round(head_seconds, 1), "finetune_epochs": finetune_epochs, "learning_rate": LEARNING_RATE,
           "precision": keras.config.dtype_policy().name, **started}

    def p_dog(x, x_mirrored, with_tta):
        p = np.asarray(top_and_head.predict(x, verbose=0), np.float32)[:, 0]
        return (p + np.asarray(top_and_head.predict(x_mirrored, verbose=0), np.float32)[:, 0]) / 2 if with_tta else p

    if not final:
        enlarged_paths, enlarged_y = photos["enlarged"]
        x_enlarged = gather(enlarged_paths, enlarged_y)
        x_enlarged_mirrored = features(enlarged_paths, enlarged_y, mirrored=True)
        kept = {f"head_{tta}": p_dog(x_enlarged, x_enlarged_mirrored, tta == "tta") for tta in ("plain", "tta")}
        row["valid"] = {"head": {tta: protocol.scores(enlarged_y, kept[f"head_{tta}"]) for tta in ("plain", "tta")}}
        row["valid_note"] = photos["note"]
    if final and way == "head":
        row["finetune_s"], row["finetune_kept_epoch"] = 0.0, 0
    else:
        transfer.set_trainable_top(base, transfer.SPLIT_AT[BACKBONE])
        keras.utils.set_random_seed(seed)
        top_and_head.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="binary_crossentropy",
                             metrics=["accuracy"])
        best = keep_best("top")
        progress(f"{ident}: fine-tuning {transfer.FINE_TUNED[BACKBONE]} for {finetune_epochs} epochs ...")
        began = time.perf_counter()
        history = top_and_head.fit(x_train, train_y, validation_data=(x_valid, valid_y), epochs=finetune_epochs,
                                   batch_size=cfg.batch_size, shuffle=True, verbose=0, callbacks=[best]).history
        row["finetune_s"] = round(time.perf_counter() - began, 1)
        row["finetune_kept_epoch"] = int(np.argmax(history["val_accuracy"])) + 1
        top_and_head.load_weights(best.filepath)
        if not final:
            kept.update({f"finetune_{tta}": p_dog(x_enlarged, x_enlarged_mirrored, tta == "tta")
                         for tta in ("plain", "tta")})
            row["valid"]["finetune"] = {tta: protocol.scores(enlarged_y, kept[f"finetune_{tta}"])
                                        for tta in ("plain", "tta")}
    row["feature_s"] = round(features.seconds, 1)
    if not final:
        row["predictions"] = protocol.save_predictions(ident, enlarged_y, None, Path(log).parent / "predictions",
                                                       **kept).name
        return row
    test_paths = protocol._split_paths("test", cfg)                  # the one test read
    test_y = np.array([protocol._label(p) for p in test_paths], np.int32)
    x_test = gather(test_paths, test_y)
    x_test_mirrored = features(test_paths, test_y, mirrored=True) if tta else None
    p_test = p_dog(x_test, x_test_mirrored, tta)
    split = protocol.test_split_sha(cfg)
    row.update({"way": way, "test": protocol.scores(test_y, p_test), "test_tta": bool(tta), "test_split": split,
                "reads_before": protocol.test_reads(split, log), "reread_reason": reread,
                "feature_s": round(features.seconds, 1), "benchmark": "transfer_protocol",
                "predictions": protocol.save_predictions(ident, test_y, p_test, Path(log).parent / "predictions").name})
    protocol.append(log, row)
    return row


_pct = protocol.interval_text


def _mean_sd(values: list) -> str:
    return protocol.mean_sd_text(values, digits=2)


def design_table(rows: list, folder: Path = protocol.PREDICTIONS) -> str:
    """The design step, visible: every candidate on the enlarged validation set, its cost, its paired test
    against the chosen one (:func:`paired_with_chosen`, predictions read from ``folder``), and the one chosen.

    ``rows``: one profile's rows of ``--out``. Markdown; a line saying so when there is no design run.
    """
    found = candidates(rows)
    if not found:
        return "No design runs recorded yet."
    pick = chosen(rows)
    design = [r for r in rows if r.get("kind") == "design"]
    paired = paired_with_chosen(rows, folder)
    lines = ["| image | way | test-time augmentation | seeds | enlarged validation, mean ± sd "
             "| first seed (95%) | log loss, mean | seconds (features + head + fine-tuning, first seed) "
             "| against the chosen, first seed: only the chosen right / only this right, McNemar p | chosen |",
             "|---" * 10 + "|"]
    for (side, way, tta), scores in sorted(found.items()):
        first = next(r for r in design if r["image"][0] == side)
        cost = first["feature_s"] + first["head_s"] + (first["finetune_s"] if way == "finetune" else 0)
        lines.append(f"| {side}×{side} | {'fine-tuned top' if way == 'finetune' else 'head alone'} | "
                     f"{'on' if tta else 'off'} | {len(scores)} | {_mean_sd([s['accuracy'] for s in scores])} | "
                     f"{_pct(scores[0])} | {statistics.mean(s['log_loss'] for s in scores):.4f} | {cost:,.0f} | "
                     f"{_paired(paired.get((side, way, tta)))} | {'**yes**' if (side, way, tta) == pick else ''} |")
    notes = sorted({r.get("valid_note", "") for r in design} - {""})
    return "\n".join(lines + ["", "Rule (`transfer_protocol.chosen`): the highest mean accuracy on the enlarged "
                              "validation set, a tie broken by the lower log loss; only the chosen candidate is "
                              f"trained with `--final`. Candidates: {len(found)}. Enlarged validation set: "
                              + "; ".join(notes) + "."])


def _paired(test: dict | None) -> str:
    return f"{test['only_a']} / {test['only_b']}, p = {test['p_value']:.2g}" if test else ""


def finals_table(rows: list) -> str:
    """Every final run of one profile: its one test read, the reads of the same photos before it, and the seeds'
    mean ± sd. Markdown; a line saying so when there is none."""
    finals = [r for r in rows if r.get("kind") == "final"]
    if not finals:
        return "No final run recorded yet."
    lines = ["| run | seed | test accuracy (95%) | log loss | TTA | reads of these test photos before "
             "| reason for a reread | seconds (features + head + fine-tuning) | commit | date |", "|---" * 10 + "|"]
    for r in finals:
        lines.append(f"| `{r['run_id']}` | {r['seed']} | {_pct(r['test'])} | {r['test']['log_loss']:.4f} | "
                     f"{'yes' if r['test_tta'] else 'no'} | {r['reads_before']} | {r.get('reread_reason') or ''} | "
                     f"{r['feature_s'] + r['head_s'] + r['finetune_s']:,.0f} | {r['commit']} | {r['date']} |")
    return "\n".join(lines + ["", f"Test accuracy: {_mean_sd([r['test']['accuracy'] for r in finals])}."])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="full")
    parser.add_argument("--sizes", type=int, nargs="+", default=[224], help="image sides to try (design runs)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--extra", type=int, default=1000, help="photos per class added to valid for scoring")
    parser.add_argument("--final", action="store_true",
                        help="train the candidate chosen from --out's design rows on the whole training split "
                             "and read the test split once (logged)")
    parser.add_argument("--reread", default=None, help="with --final: why a run already read is read again")
    parser.add_argument("--final-log", type=Path, default=protocol.FINAL_LOG,
                        help="the log of test reads (predictions go to predictions/ beside it)")
    parser.add_argument("--out", type=Path, default=None, help="append each run's row to this JSON-lines file")
    args = parser.parse_args(argv)
    if args.final and not (args.out and args.out.exists()):
        parser.error("--final picks its candidate from the design rows in --out: run the design first")

    cfg = config.get_profile(args.profile)
    plan = devices.configure()
    print(f"profile {cfg.name}, {BACKBONE}, {config.describe_hardware()}, policy {plan.policy}", flush=True)
    choice = chosen([r for r in protocol.read_log(args.out) if r.get("profile") == cfg.name]) if args.final else None
    if args.final:
        if choice is None:
            parser.error(f"no design rows of {cfg.name} in {args.out}: run the design first")
        print(f"chosen on the enlarged validation set: {choice[0]} px, {choice[1]}, "
              f"test-time augmentation {'on' if choice[2] else 'off'}", flush=True)
    for seed in args.seeds:
        for side in ([choice[0]] if args.final else args.sizes):
            try:
                row = run(cfg, side, seed=seed, final=args.final, choice=choice, extra_per_class=args.extra,
                          reread=args.reread, log=args.final_log, progress=lambda s: print(s, flush=True))
            except protocol.RereadRefused as error:
                print(f"refused: {error}", file=sys.stderr)
                return 2
            if args.final:
                scored = row["test"]
                print(f"  {row['run_id']}: test {scored['accuracy']:.2%} ({scored['low']:.1%}–{scored['high']:.1%}, "
                      f"n = {scored['n']:,}), log loss {scored['log_loss']:.4f}; reads of these photos before: "
                      f"{row['reads_before']}", flush=True)
            else:
                for way in WAYS:
                    for tta in ("plain", "tta"):
                        s = row["valid"][way][tta]
                        print(f"  {row['run_id']} {way:8s} {tta:5s}: enlarged validation {s['accuracy']:.2%} "
                              f"({s['low']:.1%}–{s['high']:.1%}, n = {s['n']:,}), log loss {s['log_loss']:.4f}",
                              flush=True)
            print(f"  seconds: features {row['feature_s']:.0f}, head {row['head_s']:.0f}, "
                  f"fine-tuning {row['finetune_s']:.0f}", flush=True)
            if args.out:
                protocol.append(args.out, row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
