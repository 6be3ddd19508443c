"""The README's measured tables, generated from committed reference records.

A figure of the course's own runs is never typed into the README: ``make course``
writes records (``results/<profile>/*.json``, one per trained model) and a run state
(``results/<profile>/notebooks/state.json``: each notebook's status and seconds).
This tool keeps a copy of one complete run per profile under ``reference/<profile>/``,
in git, and writes the README's tables from those copies:

    python -m course.tools.reference save --profile smoke   # after `DOGSCATS_PROFILE=smoke make course`
    python -m course.tools.reference readme                 # rewrite the README's generated tables
    python -m course.tools.reference readme --check         # exit 1 when the README disagrees

``save`` copies the records and writes ``reference/<profile>/run.json`` (the
notebooks' status and seconds, with commit, profile, hardware, versions and date).
An optional ``note`` in ``run.json`` (e.g. which notebooks a partial re-run carried
over from an earlier reference) is printed after the run's description.
``readme`` replaces what stands between ``<!-- reference:NAME -->`` and
``<!-- /reference:NAME -->`` in README.md for NAME in ``times``, ``results``,
``anchors``; ``tests/test_reference.py`` fails when they differ from what this
tool would write. Published figures come from ``utils.anchors.ANCHORS``, each
with its source and whether it is a validation or a test figure.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from utils import anchors, config, references, stats  # noqa: E402

REFERENCE_DIR = ROOT / "reference"
README = ROOT / "README.md"
SECTIONS = ("times", "results", "anchors")


def _profiles(reference_dir: Path) -> list[str]:
    return references.reference_profiles(reference_dir)


def load_reference(profile: str, reference_dir: Path = REFERENCE_DIR) -> dict:
    """One profile's reference run: ``{"run": dict, "records": list of dict}`` (:func:`utils.references.load_reference_run`).

    Raises
    ------
    FileNotFoundError
        If ``reference/<profile>/run.json`` is missing.
    """
    return references.load_reference_run(profile, reference_dir)


def save_reference(results_dir: Path, profile: str, reference_dir: Path = REFERENCE_DIR) -> Path:
    """Copy one finished ``make course`` run into ``reference/<profile>/``.

    Parameters
    ----------
    results_dir : Path
        The run's ``results/<profile>/`` folder (records and ``notebooks/state.json``).
    profile : str
        The profile it ran under; every record must carry the same ``profile``.

    Returns
    -------
    Path
        ``reference/<profile>/``, replaced as a whole.

    Raises
    ------
    ValueError
        If the run state is missing, a notebook did not finish (status other than
        ``ok`` or ``skipped``), or a record belongs to another profile.
    """
    results_dir = Path(results_dir)
    state_path = results_dir / "notebooks" / "state.json"
    if not state_path.is_file():
        raise ValueError(f"no run state at {state_path}: run `DOGSCATS_PROFILE={profile} make course` first")
    state = json.loads(state_path.read_text(encoding="utf-8"))
    if state.get("profile") != profile:
        raise ValueError(f"{state_path} is the state of profile {state.get('profile')!r}, not {profile!r}")
    notebooks = {name: {"status": entry.get("status"), "seconds": entry.get("seconds")}
                 for name, entry in sorted(state.get("notebooks", {}).items())}
    unfinished = [name for name, entry in notebooks.items() if entry["status"] not in ("ok", "skipped")]
    if unfinished:
        raise ValueError(f"these notebooks did not finish, so the run is no reference: {unfinished}")
    records = []
    for path in sorted(results_dir.glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or "model_id" not in record:
            continue
        if record.get("profile") != profile:
            raise ValueError(f"{path.name} is a record of profile {record.get('profile')!r}")
        records.append((path.name, record))
    first = records[0][1] if records else {}
    run = {
        "profile": profile,
        # every commit the records were made at (one, unless the run was resumed after a commit)
        "commit": ", ".join(dict.fromkeys(str(r.get("commit")) for _, r in records if r.get("commit")))
        or None,
        "hardware": first.get("hardware") or config.hardware(),
        "versions": first.get("versions") or config.versions(),
        "saved": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "notebooks": notebooks,
    }
    target = reference_dir / profile
    if target.exists():
        shutil.rmtree(target)
    (target / "records").mkdir(parents=True)
    for name, record in records:
        (target / "records" / name).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    (target / "run.json").write_text(json.dumps(run, indent=2) + "\n", encoding="utf-8")
    return target


def _seconds_text(seconds) -> str:
    if seconds is None:
        return "–"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _where(run: dict) -> str:
    hardware = run.get("hardware") or {}
    cpu = f"{hardware.get('cpu_cores', '?')} CPU cores ({hardware.get('cpu', '?')})"
    gpus = hardware.get("gpus") or []
    versions = run.get("versions") or {}
    backend = versions.get("keras backend")
    keras = versions.get("keras")
    what = ", ".join(x for x in (f"Keras {keras}" if keras else None,
                                 f"backend {backend}" if backend else None) if x)
    commits = run.get("commit") or "unknown"
    return (f"`{run['profile']}`: {'commits' if ',' in commits else 'commit'} `{commits}`, "
            f"{'GPU ' + ', '.join(gpus) + ' + ' if gpus else ''}{cpu}"
            + (f", {what}" if what else "") + f", saved {str(run.get('saved', ''))[:10]}"
            + (f" ({run['note']})" if run.get("note") else ""))


def times_table(references: dict) -> str:
    """Markdown: seconds per notebook (rows) and profile (columns), from the run states."""
    if not references:
        return "_No reference run is committed yet._"
    profiles = list(references)
    names = sorted({name for ref in references.values() for name in ref["run"]["notebooks"]})
    lines = ["| notebook | " + " | ".join(f"`{p}`" for p in profiles) + " |",
             "|---|" + "---|" * len(profiles)]
    for name in names:
        cells = []
        for p in profiles:
            entry = references[p]["run"]["notebooks"].get(name)
            if entry is None:
                cells.append("–")
            elif entry["status"] != "ok":
                cells.append(entry["status"])
            else:
                cells.append(_seconds_text(entry["seconds"]))
        lines.append(f"| `{Path(name).stem}` | " + " | ".join(cells) + " |")
    totals = []
    for p in profiles:
        run = references[p]["run"]["notebooks"]
        total = f"**{_seconds_text(sum(e['seconds'] or 0 for e in run.values()))}**"
        # a partial run's sum is not the course's time: say how many notebooks it covers
        totals.append(total if len(run) == len(names) else f"{total} ({len(run)} of {len(names)} notebooks)")
    lines.append("| **all** | " + " | ".join(totals) + " |")
    lines.append("")
    if any(name not in ref["run"]["notebooks"] for ref in references.values() for name in names):
        lines.append("`–`: the notebook was not part of that profile's reference run, "
                     "so that column's sum is not the whole course's time.")
        lines.append("")
    lines += [f"- {_where(references[p]['run'])}" for p in profiles]
    return "\n".join(lines)


def _accuracy_text(record: dict) -> str:
    accuracy, count = record.get("test_accuracy"), record.get("test_count")
    if accuracy is None:
        return "–"
    if count:
        low, high = stats.wilson_interval(round(accuracy * count), int(count))
        return f"{accuracy:.1%} ({low:.1%}–{high:.1%})"
    return f"{accuracy:.1%}"


def _number_text(value, fmt) -> str:
    return "–" if value is None else format(value, fmt)


def _epochs_text(record: dict) -> str:
    epochs, best = record.get("epochs"), record.get("best_epoch")
    if epochs is None:
        return "–"
    return f"{epochs}" + (f" ({best})" if best is not None else "")


def results_table(references: dict) -> str:
    """Markdown: one table per profile, a row per model record (test figures, 95% Wilson interval)."""
    if not references:
        return "_No reference run is committed yet._"
    blocks = []
    for profile, ref in references.items():
        lines = [f"**`{profile}`** ({_where(ref['run'])})" + (
            " — under `smoke` the figures only show that everything ran; they mean nothing."
            if profile == "smoke" else ""), "",
            "| model | notebook | test accuracy (95% interval) | test log loss | epochs (best) | s / epoch | parameters |",
            "|---|---|---|---|---|---|---|"]
        for record in sorted(ref["records"], key=lambda r: (str(r.get("notebook", "")), r["model_id"])):
            notebook = Path(str(record.get("notebook") or "")).stem[:2] or "–"
            lines.append(" | ".join([
                f"| `{record['model_id']}`", notebook, _accuracy_text(record),
                _number_text(record.get("test_log_loss"), ".3f"),
                _epochs_text(record),
                _number_text(record.get("seconds_per_epoch"), ".1f"),
                _number_text(record.get("params"), ",d") if isinstance(record.get("params"), int) else "–",
            ]) + " |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def anchors_table() -> str:
    """Markdown: the published figures of ``utils.anchors.ANCHORS``, as published."""
    lines = ["| source | setup | reported (as published) | split |", "|---|---|---|---|"]
    for anchor in anchors.ANCHORS:
        lines.append(f"| {anchor['source']} | {anchor['setup']} | {anchor['reported']} | "
                     f"{anchor.get('split') or 'not stated'} |")
    return "\n".join(lines)


def generated_sections(reference_dir: Path = REFERENCE_DIR) -> dict:
    """The text of every generated README section, by name."""
    references = {p: load_reference(p, reference_dir) for p in _profiles(reference_dir)}
    return {"times": times_table(references), "results": results_table(references),
            "anchors": anchors_table()}


def render_readme(text: str, sections: dict, prefix: str = "reference") -> str:
    """``text`` with each ``<!-- PREFIX:NAME -->…<!-- /PREFIX:NAME -->`` block filled.

    Parameters
    ----------
    prefix : str, default "reference"
        The markers' tool: ``reference`` here, ``settings`` for
        :mod:`course.tools.settings_table`.

    Raises
    ------
    ValueError
        If a section's markers are missing from ``text``.
    """
    for name, body in sections.items():
        marker = re.escape(f"{prefix}:{name}")
        pattern = re.compile(rf"(<!-- {marker} -->\n)(?:.*?\n)?(<!-- /{marker} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"README.md lacks the markers <!-- {prefix}:{name} --> … "
                             f"<!-- /{prefix}:{name} -->")
        text = pattern.sub(lambda m: m.group(1) + body.rstrip("\n") + "\n" + m.group(2), text)
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    save = sub.add_parser("save", help="copy a finished make course run into reference/<profile>/")
    save.add_argument("--profile", default=None, help="default: DOGSCATS_PROFILE or sample")
    save.add_argument("--results", default=None, help="the run's results/<profile>/ folder")
    readme = sub.add_parser("readme", help="rewrite the README's generated tables")
    readme.add_argument("--check", action="store_true", help="only check; exit 1 when they differ")
    args = parser.parse_args(argv)
    if args.command == "save":
        cfg = config.get_profile(args.profile) if args.profile else config.current()
        results_dir = Path(args.results) if args.results else cfg.profile_results_dir
        print(f"saved {save_reference(results_dir, cfg.name)}")
        args = parser.parse_args(["readme"])
    from course.tools.readme import update_readme

    return update_readme(README, lambda text: render_readme(text, generated_sections()), args.check,
                         "python -m course.tools.reference readme", "generated tables differ from reference/")


if __name__ == "__main__":
    sys.exit(main())
