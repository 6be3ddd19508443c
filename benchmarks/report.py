"""benchmarks/README.md's peers tables and plots, generated from the committed JSON-lines files.

Usage (from the repository root)::

    .venv/bin/python benchmarks/report.py            # write the tables into benchmarks/README.md, and the plots
    .venv/bin/python benchmarks/report.py --check    # exit 1 when the README's tables are stale

Reads ``benchmarks/peers_<profile>.jsonl`` (every run of ``peers.py``, design and
final, with every epoch's clock) and ``benchmarks/final_reads.jsonl`` (each test
read). Nothing here is typed by hand: each figure is computed from those rows.

- ``runs``: each run's clock and its score on the enlarged validation set.
- ``budgets``: accuracy on ``valid`` (Keras' own, every epoch) of the weights a run
  would have kept had it stopped at each budget of wall-clock minutes (validation
  included) or of training TFLOP: the epoch of lowest validation loss so far. Read off
  each run's epochs, so it holds for the published schedules, which do not depend on
  the budget. Mean ± standard deviation over seeds; "not converged" below two epochs.
- ``finals``: every test read, with how many reads of the same photos came before it,
  the mean ± standard deviation of each recipe over seeds, and McNemar's exact test
  of single models (same seed, same test photos; converged runs only).
"""

from __future__ import annotations

import argparse
import functools
import math
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import numpy as np  # noqa: E402

import protocol  # noqa: E402  (benchmarks/ is on sys.path)

README = ROOT / "benchmarks" / "README.md"
#: The peers' published figures, with their sources: validation curves by epoch, or one test figure.
PUBLISHED = ROOT / "benchmarks" / "published_curves.json"
PREFIX = "peers"
PROFILES = ("sample", "full")
#: The profiles of ``transfer_protocol.py``'s tables (under ``sample``, ``finetune_mirrors.py`` answers the design
#: question on validation; issue 33's transfer target is a ``full`` figure).
TRANSFER_PROFILES = ("full",)
#: Wall-clock budgets (minutes) and training-FLOP budgets (TFLOP, 10^12) of the ``budgets`` tables.
MINUTES = (5, 20, 80)
TFLOPS = (5, 25, 125, 500)


def runs_file(profile: str) -> Path:
    """``benchmarks/peers_<profile>.jsonl``."""
    return ROOT / "benchmarks" / f"peers_{profile}.jsonl"


_pct = protocol.interval_text
_mean_sd = protocol.mean_sd_text


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _label(row: dict) -> str:
    image = f"{row['image'][0]}×{row['image'][1]}"
    blocks = f", {len(row['widths'])} blocks" if row.get("widths") else ""
    plan = ("published schedule" if row["schedule"] == "published"
            else f"schedule fitted to {_duration(row['budget_s'])}")
    return f"`{row['recipe']}` {image}{blocks}, {plan}"


contended = protocol.contended


def _complete(row: dict) -> list:
    """Per recorded epoch, whether it was complete (:func:`protocol.completed_epochs`)."""
    return protocol.completed_epochs(row["history"], row["train_photos"])


def _converged(row: dict) -> bool:
    """Two complete epochs or more. Rows written before ``epochs_complete`` existed counted an epoch a budget
    cut short as an epoch; their history says which it was. Test-read rows keep no history, only ``converged``."""
    if row.get("history"):
        return sum(_complete(row)) >= protocol.CONVERGED_EPOCHS
    return row["converged"]


def _diverged(row: dict) -> int | None:
    """The epoch a run's loss turned NaN (:func:`protocol.diverged_epoch`), from its row or its history."""
    if row.get("diverged_epoch") is not None:
        return row["diverged_epoch"]
    return protocol.diverged_epoch(row.get("history") or [])


def _diverged_text(row: dict) -> str:
    epoch = _diverged(row)
    text = f", **diverged**: loss NaN from epoch {epoch}" if epoch else ""
    first = row.get("rerun_of")
    if first:                                       # protocol.DIVERGED_RERUNS: its first run diverged
        text += f", rerun: its first run's loss NaN from epoch {first['diverged_epoch']}"
    elif row.get("rerun_of_diverged"):
        text += ", rerun: its first run's loss turned NaN"
    return text


def _epochs_run(row: dict) -> str:
    """``"5"``, or ``"5 and 3 batches"`` when a budget cut the last epoch short."""
    if not row.get("history"):
        return str(row["epochs"])
    complete = _complete(row)
    text = str(sum(complete))
    if complete and not complete[-1]:
        history = row["history"]
        images = history[-1]["images"] - (history[-2]["images"] if len(history) > 1 else 0)
        batches = math.ceil(images / row["batch_size"])
        text += f" and {batches} batch{'es' if batches != 1 else ''}"
    return text


def runs_table(rows: list) -> str:
    """One line per run: its clock, FLOPs, share of the matmul peak and enlarged-validation accuracy."""
    lines = ["| run | kind | seed | epochs (kept) | training s | validation s | images/s | GFLOP / training image "
             "| of float32 matmul peak | enlarged validation (95%) | with TTA | load at start | commit |",
             "|---" * 13 + "|"]
    for row in rows:
        epochs = f"{_epochs_run(row)} of {row['epochs_planned']} ({row['kept_epoch']})"
        if not _converged(row):
            epochs += ", not converged"
        epochs += _diverged_text(row)
        peak = f"{row['of_peak']:.0%} of {row['matmul_peak_gflops']:.0f}" if row.get("of_peak") else ""
        if peak and contended(row):
            peak += " (contended)"
        if peak and row.get("precision", "float32") != "float32":
            peak += f" ({row['precision']}: not a float32 figure)"
        if row.get("onednn_max_cpu_isa"):
            peak += f" (oneDNN kernels up to {row['onednn_max_cpu_isa']})"
        lines.append(f"| {_label(row)} | {row['kind']} | {row['seed']} | {epochs} | {row['train_s']:,.0f} | "
                     f"{row['valid_s']:,.0f} | {row['images_per_s']:.1f} | {row['gflop_per_image']:.2f} | {peak} | "
                     f"{_pct(row.get('valid'))} | {_pct(row.get('valid_tta'))} | {row.get('load', '')} | "
                     f"{row['commit']} |")
    notes = sorted({row.get("valid_note", "") for row in rows} - {""})
    return "\n".join(lines) + ("\n\nEnlarged validation set: " + "; ".join(notes) + "." if notes else "")


def _shape(row: dict) -> str:
    image = f"{row['image'][0]}×{row['image'][1]}"
    return image + (f", {len(row['widths'])} blocks ({'-'.join(map(str, row['widths']))})" if row.get("widths") else "")


def design_candidates(rows: list, recipe: str = "course") -> dict:
    """One recipe's design runs at its published schedule, by shape (image, blocks): {shape: [rows]}."""
    out = {}
    for row in rows:
        if row["kind"] == "design" and row["recipe"] == recipe and row["schedule"] == "published":
            out.setdefault(_shape(row), []).append(row)
    return out


def chosen(rows: list, recipe: str = "course") -> str | None:
    """The rule every design choice here follows: the shape with the highest mean accuracy on the enlarged
    validation set, scored as the recipe is scored (with test-time augmentation for the course's). None: no run."""
    candidates = design_candidates(rows, recipe)
    if not candidates:
        return None
    key = "valid_tta" if recipe == "course" else "valid"
    return max(candidates, key=lambda shape: statistics.mean(r[key]["accuracy"] for r in candidates[shape]))


def design_table(rows: list, recipe: str = "course", folder: Path | None = None) -> str:
    """The design step, visible: every candidate shape on the enlarged validation set, its paired test against
    the chosen one (TTA predictions of the chosen shape's first seed, from ``folder``), and the one chosen."""
    candidates = design_candidates(rows, recipe)
    if not candidates:
        return f"No design runs of `{recipe}` recorded yet."
    pick = chosen(rows, recipe)
    folder = folder or protocol.PREDICTIONS
    first = candidates[pick][0]
    lines = ["| candidate | seeds | epochs | enlarged validation, mean ± sd | with TTA, mean ± sd "
             "| first seed's TTA interval (95%) | log loss (TTA) | against the chosen, with TTA, same seed: "
             "only the chosen right / only this right, McNemar p | chosen |", "|---" * 9 + "|"]
    for shape, runs in candidates.items():
        twin = next((r for r in runs if r["seed"] == first["seed"]), None)
        test = (protocol.paired(folder, (first["predictions"], "valid_tta"), (twin["predictions"], "valid_tta"))
                if shape != pick and twin and first.get("predictions") and twin.get("predictions") else None)
        versus = f"{test['only_a']} / {test['only_b']}, p = {test['p_value']:.2g}" if test else ""
        lines.append(f"| `{recipe}` {shape} | {', '.join(str(r['seed']) for r in runs)} | "
                     f"{runs[0]['epochs_planned']} | {_mean_sd([r['valid']['accuracy'] for r in runs])} | "
                     f"{_mean_sd([r['valid_tta']['accuracy'] for r in runs])} | {_pct(runs[0]['valid_tta'])} | "
                     f"{statistics.mean(r['valid_tta']['log_loss'] for r in runs):.3f} | {versus} | "
                     f"{'**yes**' if shape == pick else ''} |")
    return "\n".join(lines + ["", f"Rule: the highest mean accuracy with test-time augmentation on the enlarged "
                              f"validation set (`report.chosen`); only the chosen shape is trained with `--final` "
                              f"and reads the test split. Candidates: {len(candidates)}. Design runs recorded before "
                              f"their predictions were kept have no paired test."])


def kept_at(history: list, *, minutes: float | None = None, tflop: float | None = None,
            gflop_per_image: float = 0.0, train_photos: int | None = None,
            planned: int | None = None) -> dict | None:
    """The epoch a run keeps (lowest ``val_loss``) among those ended within a budget; None if none did.

    ``minutes`` counts wall-clock time, validation included; ``tflop`` training FLOPs
    (images trained × ``gflop_per_image`` / 10^3). Besides the kept epoch's fields, returns
    ``epochs_done`` (complete epochs within the budget: one cut short by the run's own budget,
    :func:`protocol.completed_epochs` with ``train_photos``, is not counted), ``ended`` (the
    run had finished all its ``planned`` epochs within the budget) and ``stopped`` (every
    recorded epoch is within the budget, yet the run stopped short of ``planned``: its own
    budget cut it, so later budgets show where it stopped, not where it would have got).
    """
    done = [e for e in history
            if (minutes is None or e["wall_s"] <= 60 * minutes)
            and (tflop is None or e["images"] * gflop_per_image / 1e3 <= tflop)]
    if not done:
        return None
    complete = protocol.completed_epochs(history, train_photos) if train_photos else [True] * len(history)
    best = min(done, key=lambda e: e["val_loss"] if math.isfinite(e["val_loss"]) else math.inf)
    all_in = len(done) == len(history)
    finished = planned is None or sum(complete) >= planned
    return {**best, "epochs_done": sum(complete[:len(done)]), "ended": all_in and finished,
            "stopped": all_in and not finished}


def budgets_table(rows: list) -> str:
    """Validation accuracy at each budget, per recipe and kind of run: mean ± sd over seeds of the published-schedule
    runs (design runs train on fewer photos under ``full``, so they are never pooled with final runs). A seed run
    more than once (a diverged run trained again) counts once, by its latest run, and a note under the table
    says which."""
    published = [row for row in rows if row["schedule"] == "published"]
    groups, notes = {}, []
    for row in published:           # design and final runs apart: same seed, other training photos
        group = groups.setdefault(f"{_label(row)}, {row.get('kind', 'design')} runs", {})
        group.setdefault(row.get("seed"), []).append(row)
    for label, by_seed in groups.items():   # a seed run again (protocol.DIVERGED_RERUNS): its latest run counts
        again = sorted(seed for seed, runs in by_seed.items() if len(runs) > 1)
        if again:
            notes.append(f"{label}: seed {', '.join(map(str, again))} ran more than once; its latest run is "
                         "the one counted here.")
        groups[label] = [max(runs, key=lambda row: row.get("date") or "") for runs in by_seed.values()]
    head = ([f"{m} min" for m in MINUTES] + [f"{t} TFLOP" for t in TFLOPS])
    lines = ["| recipe | runs | " + " | ".join(head) + " |", "|---" * (2 + len(head)) + "|"]
    for label, group in groups.items():
        cells = []
        for kind, marks in (("minutes", MINUTES), ("tflop", TFLOPS)):
            for mark in marks:
                kept = [kept_at(row["history"], gflop_per_image=row["gflop_per_image"],
                                train_photos=row.get("train_photos"), planned=row.get("epochs_planned"),
                                **{kind: mark}) for row in group]
                if any(k is None or k["epochs_done"] < protocol.CONVERGED_EPOCHS for k in kept):
                    cells.append("not converged")
                    continue
                cell = _mean_sd([k["val_accuracy"] for k in kept])
                if all(k["ended"] for k in kept):
                    cell += ", run ended"
                elif any(k["stopped"] for k in kept):
                    stop = max(row["history"][-1]["wall_s"] for row in group) / 60
                    cell += f", stopped by its budget at {stop:.0f} min"
                cells.append(cell)
        lines.append(f"| {label} | {len(group)} | " + " | ".join(cells) + " |")
    return "\n".join(lines + ([""] + notes if notes else []))


def fitted_table(rows: list) -> str:
    """Enlarged-validation accuracy of the runs whose schedules were fitted to a budget: mean ± sd over seeds."""
    fitted = [row for row in rows if row["schedule"] == "fitted" and row.get("valid")]
    if not fitted:
        return "No runs with schedules fitted to a budget recorded yet."
    groups = {}
    for row in fitted:
        groups.setdefault((row["budget_s"], row["recipe"], tuple(row["image"])), []).append(row)
    lines = ["| budget | recipe | image | runs | epochs planned | enlarged validation | with TTA |", "|---" * 7 + "|"]
    for (budget, recipe, image), group in sorted(groups.items(), key=lambda item: (item[0][0], item[0][1])):
        if not all(_converged(row) for row in group):
            plain = tta = "not converged"
        else:
            plain = _mean_sd([row["valid"]["accuracy"] for row in group])
            tta = _mean_sd([row["valid_tta"]["accuracy"] for row in group])
        planned = sorted({row["epochs_planned"] for row in group})
        lines.append(f"| {_duration(budget)} | `{recipe}` | {image[0]}×{image[1]} | {len(group)} | "
                     f"{', '.join(map(str, planned))} | {plain} | {tta} |")
    return "\n".join(lines)


def finals_table(finals: list) -> str:
    """Every test read: score, reads of the same photos before it, and the seeds' mean ± sd per recipe."""
    lines = ["| run | seed | epochs (kept) | test accuracy (95%) | log loss | TTA | reads of these test photos before "
             "| reason for a reread | commit | date |", "|---" * 10 + "|"]
    for row in finals:
        kernels = f", oneDNN up to {row['onednn_max_cpu_isa']}" if row.get("onednn_max_cpu_isa") else ""
        lines.append(f"| {_label(row)} ({row['profile']}){kernels} | {row['seed']} | {row['epochs']} ({row['kept_epoch']})"
                     f"{_diverged_text(row)} | "
                     f"{_pct(row['test'])} | {row['test']['log_loss']:.3f} | {'yes' if row['test_tta'] else 'no'} | "
                     f"{row['reads_before']} | {row.get('reread_reason') or ''} | {row['commit']} | {row['date']} |")
    groups = {}
    for row in finals:
        groups.setdefault(f"{_label(row)} ({row['profile']})", []).append(row)
    summary = []
    for label, group in groups.items():
        first, last = {}, {}                        # each seed's first read, and its latest
        for row in group:
            first.setdefault(row["seed"], row)
            last[row["seed"]] = row
        firsts = list(first.values())
        line = f"- {label}: test accuracy {_mean_sd([row['test']['accuracy'] for row in firsts])}"
        diverged = [row for row in firsts if _diverged(row)]
        if diverged:
            line += (f"; {len(diverged)} of {len(firsts)} seeds diverged (loss NaN), each scored with the weights "
                     f"of its best epoch before: seed " + ", ".join(str(row["seed"]) for row in diverged))
        reread = sorted(seed for seed in last if last[seed] is not first[seed])
        if reread:
            line += (f". Each seed's first read counts above; with the later read of seed "
                     f"{', '.join(map(str, reread))} in its place (the reason is in the table): "
                     f"{_mean_sd([row['test']['accuracy'] for row in last.values()])}")
        line += _by_kernels(firsts)
        summary.append(line)
    return "\n".join(lines + [""] + summary + [""] + pairings(finals))


def _by_kernels(firsts: list) -> str:
    """Where some seeds' first reads ran with oneDNN's kernels capped (``onednn_max_cpu_isa``), their figure apart.

    Seeds started on capped kernels (AMX off, say) after a fault on the uncapped ones are a set of their
    own, fixed before any of them ran: their first reads give the figure on those kernels, no reread in it.
    """
    capped = {}
    for row in firsts:
        if row.get("onednn_max_cpu_isa"):
            capped.setdefault(row["onednn_max_cpu_isa"], []).append(row)
    if not capped or len({row.get("onednn_max_cpu_isa") for row in firsts}) == 1:
        return ""                                   # every seed on the same kernels: the line above says it all
    parts = []
    for isa, rows in capped.items():
        diverged = [row["seed"] for row in rows if _diverged(row)]
        parts.append(f"seeds run from the start with oneDNN's kernels up to {isa} ("
                     f"{', '.join(str(row['seed']) for row in rows)}), first reads: "
                     f"{_mean_sd([row['test']['accuracy'] for row in rows])}"
                     + (f", seed {', '.join(map(str, diverged))} diverged" if diverged else ""))
    return ". Of these, " + "; ".join(parts)


def pairings(finals: list, folder: Path | None = None) -> list:
    """McNemar's exact test between final runs of different recipes with the same seed, profile and test photos.

    The same profile: ``sample`` and ``full`` share their test photos but not their training photos, and a
    comparison changes one thing at a time.
    """
    from utils import evaluate, stats

    folder = folder or protocol.FINAL_LOG.parent / "predictions"
    out = []
    for i, a in enumerate(finals):
        for b in finals[i + 1:]:
            if (a["recipe"] == b["recipe"] or a["seed"] != b["seed"] or a["test_split"] != b["test_split"]
                    or a["profile"] != b["profile"] or not (_converged(a) and _converged(b))):
                continue
            pa, pb = np.load(folder / a["predictions"]), np.load(folder / b["predictions"])
            test = stats.mcnemar_exact(pa["y_true"], evaluate.predicted_labels(pa["p_dog"]),
                                       evaluate.predicted_labels(pb["p_dog"]))
            out.append(f"- McNemar's exact test, single models (seed {a['seed']}): {_label(a)} right alone on "
                       f"{test['only_a']} photos, {_label(b)} on {test['only_b']}; p = {test['p_value']:.3g}")
    return out or ["- No paired test yet: no two converged final runs of different recipes share a seed."]


def _batch_size(row: dict) -> int:
    """A run's batch size (rows written before the field: the recipe's published one, as peers.py used)."""
    return row.get("batch_size") or _published()[row["recipe"]]["batch_size"]


@functools.lru_cache(maxsize=1)
def _published() -> dict:
    """``published_curves.json``, read once per process."""
    import json

    return json.loads(PUBLISHED.read_text(encoding="utf-8"))


def published_table() -> str:
    """The peers' published figures, from ``published_curves.json``, each with its source and kind."""
    lines = ["| recipe | kind | figure | photos | steps per epoch (batch) | source |", "|---" * 6 + "|"]
    for recipe, entry in _published().items():
        if "val_accuracy_by_epoch" in entry:
            curve = entry["val_accuracy_by_epoch"]
            figure = (f"{curve[-1]:.1%} after {len(curve)} epochs; first above 60%: epoch "
                      f"{next(i + 1 for i, v in enumerate(curve) if v > 0.6)}; best {max(curve):.1%}")
        else:
            figure = f"{entry['test_accuracy']:.1%}"
        lines.append(f"| `{recipe}` | {entry['kind']} | {figure} | {entry['photos']} | "
                     f"{entry['steps_per_epoch']} ({entry['batch_size']}) | {entry['source']} |")
    return "\n".join(lines)


def sections() -> dict:
    """The README's blocks, by name, from the committed files (a profile without runs says so)."""
    out, finals_run = {}, {}
    for profile in PROFILES:
        rows = protocol.read_log(runs_file(profile))
        finals_run.update({(row["run_id"], row.get("date")): row for row in rows if row["kind"] == "final"})
        out[f"runs:{profile}"] = runs_table(rows) if rows else f"No `{profile}` runs recorded yet."
        out[f"budgets:{profile}"] = budgets_table(rows) if rows else f"No `{profile}` runs recorded yet."
        out[f"fitted:{profile}"] = fitted_table(rows)
        out[f"design:{profile}"] = design_table(rows)
    reads = protocol.read_log(protocol.FINAL_LOG)
    finals = [row for row in reads if row.get("benchmark", "peers") == "peers"]
    finals = [{**row, "diverged_epoch": _diverged(finals_run.get((row["run_id"], row.get("date")), row))}
              for row in finals]                    # a run read twice has two rows: told apart by their start
    out["finals"] = finals_table(finals) if finals else "No test reads recorded yet."
    others = len(reads) - len(finals)
    if others:                                      # e.g. train_models.py's records: counted in "reads before"
        out["finals"] += f"\n\n{others} more test reads by other benchmarks are in `final_reads.jsonl`."
    out["published"] = published_table()
    import cnn_recipes   # noqa: PLC0415  (benchmarks/ is on sys.path)
    import transfer_protocol   # noqa: PLC0415

    for profile in TRANSFER_PROFILES:
        rows = protocol.read_log(ROOT / "benchmarks" / f"transfer_{profile}.jsonl")
        out[f"transfer:design:{profile}"] = transfer_protocol.design_table(rows)
        out[f"transfer:finals:{profile}"] = transfer_protocol.finals_table(rows)

    out["cnn_recipes:sample"] = cnn_recipes.markdown_table(ROOT / "benchmarks" / "cnn_recipes_sample.jsonl")
    return out


def provenance(text: str) -> str:
    """Per ``##`` section of the README: how many of its tables are generated (inside a marked block) or typed.

    A table is a run of lines starting with ``|``; it is generated when it lies between
    ``<!-- NAME -->`` and ``<!-- /NAME -->`` markers, which a script fills and a test checks.
    """
    import re

    text = re.sub(r"<!-- peers:provenance -->.*?<!-- /peers:provenance -->", "", text, flags=re.S)
    rows, section, inside, in_table = [], None, 0, False
    counts = {}
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            counts.setdefault(section, [0, 0])
        elif re.match(r"<!-- /[\w:.-]+ -->", line):
            inside -= 1
        elif re.match(r"<!-- [\w:.-]+ -->", line):
            inside += 1
        table_line = line.startswith("|")
        if table_line and not in_table and section:
            counts[section][0 if inside > 0 else 1] += 1
        in_table = table_line
    for section, (generated, typed) in counts.items():
        if generated or typed:
            rows.append(f"| {section} | {generated} | {typed} |")
    return "\n".join(["| section | tables generated from committed files (tested) | tables typed by hand |",
                      "|---|---|---|", *rows])


def render_readme(text: str) -> str:
    """``text`` with each ``<!-- peers:NAME -->`` block filled from the files, then the provenance block."""
    from course.tools import reference

    text = reference.render_readme(text, sections(), prefix=PREFIX)
    return reference.render_readme(text, {"provenance": provenance(text)}, prefix=PREFIX)


def plot(profile: str, path: Path) -> Path | None:
    """Validation accuracy of the published-schedule runs against wall-clock minutes and training TFLOP."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [row for row in protocol.read_log(runs_file(profile)) if row["schedule"] == "published"]
    if not rows:
        return None
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.2), sharey=True)
    for row in rows:
        history = row["history"]
        label = f"{row['recipe']} (seed {row['seed']})"
        accuracy = [e["val_accuracy"] for e in history]
        axes[0].plot([e["wall_s"] / 60 for e in history], accuracy, label=label)
        axes[1].plot([e["images"] * row["gflop_per_image"] / 1e3 for e in history], accuracy, label=label)
        axes[2].plot([e["images"] / _batch_size(row) for e in history], accuracy, label=label)
    for recipe, entry in _published().items():
        if "val_accuracy_by_epoch" in entry:
            curve = entry["val_accuracy_by_epoch"]
            axes[2].plot([entry["steps_per_epoch"] * (i + 1) for i in range(len(curve))], curve, "k--",
                         label=f"{recipe}, published (validation, other photos)")
    axes[0].set(xlabel="wall-clock minutes (validation included)", ylabel="validation accuracy (valid, every epoch)",
                xscale="log")
    axes[1].set(xlabel="training TFLOP (3 × forward FLOPs × images)", xscale="log")
    axes[2].set(xlabel="optimizer steps (batches)", xscale="log")
    for axis in axes:
        axis.grid(alpha=0.3)
    axes[2].legend(fontsize=7)
    figure.suptitle(f"peers.py under {profile}: every epoch of each run ({rows[0]['machine']})")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the README, exit 1 when stale")
    args = parser.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    fresh = render_readme(text)
    if args.check:
        if fresh != text:
            print("benchmarks/README.md's peers tables are stale: run benchmarks/report.py")
            return 1
        return 0
    README.write_text(fresh, encoding="utf-8")
    for profile in PROFILES:
        written = plot(profile, ROOT / "benchmarks" / f"peers_{profile}.png")
        if written:
            print(f"wrote {written.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
