"""Result records: one JSON file per trained model, ``results/<profile>/<model_id>.json``.

Every training notebook saves one with :func:`save_record`; notebook 07 reads
them all back with :func:`load_records` and never anything else.
"""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import tempfile
from pathlib import Path

from utils import config

#: Fields every record has (others may be added freely).
REQUIRED_FIELDS = ("model_id", "profile")


def git_commit() -> str | None:
    """The current git commit of the project (short hash), or None outside git."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=config.PROJECT_ROOT,
            capture_output=True, text=True, timeout=10, check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def save_record(cfg: config.Profile, model_id: str, **fields) -> Path:
    """Write ``results/<profile>/<model_id>.json`` atomically and return its path.

    Parameters
    ----------
    cfg : utils.config.Profile
        The profile the model was trained under.
    model_id : str
        ``family_variant``, e.g. ``"cnn_small"``; letters, digits and ``_`` only.
    **fields
        Figures of the run: ``image_size``, ``train_count``, ``epochs``,
        ``params``, ``train_seconds``, ``seconds_per_epoch``,
        ``images_per_second``, ``test_accuracy`` (fraction in [0, 1]),
        ``test_log_loss``, ``weights``... NumPy scalars are converted.

    Adds ``profile``, ``seed``, ``versions``, ``hardware``, ``commit`` and
    ``created`` (UTC, ISO 8601).

    Raises
    ------
    ValueError
        If ``model_id`` is empty or holds characters other than letters,
        digits and ``_``.
    """
    if not model_id or not model_id.replace("_", "").isalnum():
        raise ValueError(f"model_id must be letters, digits and '_', not {model_id!r}")
    record = {
        "model_id": model_id,
        "profile": cfg.name,
        "seed": cfg.seed,
        **fields,
        "versions": config.versions(),
        "hardware": config.hardware(),
        "commit": git_commit(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    folder = cfg.profile_results_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{model_id}.json"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{model_id}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(record, handle, indent=2, default=_to_json)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _to_json(value):
    """Convert NumPy scalars/arrays and paths for :func:`json.dump`."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def load_records(cfg: config.Profile) -> list[dict]:
    """Every valid record of ``cfg``'s profile, sorted by ``model_id``.

    Files that are not valid JSON, lack :data:`REQUIRED_FIELDS` or belong to
    another profile are left out (see :func:`load_records_report` for why).
    """
    return load_records_report(cfg)[0]


def load_records_report(cfg: config.Profile) -> tuple[list[dict], list[tuple[str, str]]]:
    """Like :func:`load_records`, but also return ``(file name, reason)`` of each skipped file."""
    records, skipped = [], []
    folder = cfg.profile_results_dir
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            skipped.append((path.name, f"not valid JSON: {error}"))
            continue
        if not isinstance(record, dict) or any(key not in record for key in REQUIRED_FIELDS):
            skipped.append((path.name, f"missing one of {REQUIRED_FIELDS}"))
            continue
        if record["profile"] != cfg.name:
            skipped.append((path.name, f"profile {record['profile']!r}, not {cfg.name!r}"))
            continue
        records.append(record)
    return sorted(records, key=lambda r: r["model_id"]), skipped
