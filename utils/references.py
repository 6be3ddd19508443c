"""The committed reference runs, ``reference/<profile>/``: which profiles have one, and reading one.

``python -m course.tools.reference save`` writes them (``run.json`` and ``records/*.json``);
00_setup (what each profile takes, :mod:`utils.disk`), the README's tables and the
instructors' pages read them through these functions; a notebook opened alone copies
one record (:func:`utils.prerequisites.copy_reference_record`).
"""

from __future__ import annotations

import json
from pathlib import Path

from utils import config


def reference_profiles(reference_dir: Path | None = None) -> list[str]:
    """Profiles with a committed reference run (``<profile>/run.json``), smallest first.

    ``reference_dir`` defaults to the project's ``reference/``; a missing folder has none.
    """
    folder = Path(reference_dir) if reference_dir else config.PROJECT_ROOT / "reference"
    found = [p.name for p in folder.iterdir() if (p / "run.json").is_file()] if folder.is_dir() else []
    order = config.PROFILE_NAMES
    return sorted(found, key=lambda name: (order.index(name) if name in order else len(order), name))


def reference_folder(profile: str, reference_dir: Path | None = None) -> Path:
    """``<reference_dir>/<profile>``, by default the project's ``reference/<profile>``: ``run.json`` and ``records/``."""
    return (Path(reference_dir) if reference_dir else config.PROJECT_ROOT / "reference") / profile


def load_run_info(profile: str, reference_dir: Path | None = None) -> dict:
    """One profile's ``run.json`` alone (commit, date, machine, timings), without its records.

    Raises
    ------
    FileNotFoundError
        If ``<reference_dir>/<profile>/run.json`` is missing.
    """
    return json.loads((reference_folder(profile, reference_dir) / "run.json").read_text(encoding="utf-8"))


def load_reference_run(profile: str, reference_dir: Path | None = None) -> dict:
    """One profile's committed reference run: ``{"run": dict, "records": list of dict}``.

    Written by ``python -m course.tools.reference save``; read by 00_setup (what each
    profile takes), the README's tables and the instructors' pages.

    Raises
    ------
    FileNotFoundError
        If ``<reference_dir>/<profile>/run.json`` is missing.
    """
    folder = reference_folder(profile, reference_dir)
    records = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((folder / "records").glob("*.json"))]
    return {"run": load_run_info(profile, reference_dir), "records": records}
