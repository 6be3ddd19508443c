"""Result records: one JSON file per trained model, ``results/<profile>/<model_id>.json``.

Every training notebook saves one with :func:`save_record`; notebook 07 reads
them all back with :func:`load_records` and never anything else. The tables
and paired tests made from records are :mod:`utils.comparisons`'s.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import subprocess
from pathlib import Path

from utils import config, files

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


def test_split_fingerprint(cfg: config.Profile) -> dict:
    """What makes two records' test photos the same photos, as hashes (empty before notebook 01 ran).

    Returns
    -------
    dict
        ``test_files_sha256``: SHA-256 (hex) of the test split's file names,
        ``class/file`` sorted, one per line (the order the test batches and
        so the records' ``test_y_true`` / ``test_p_dog`` follow);
        ``manifest_sha256``: SHA-256 of the prepared split's ``manifest.csv``,
        which holds every image's own SHA-256. Either is left out when its
        file or folder is missing.
    """
    fingerprint = {}
    test_dir = cfg.split_dir / "test"
    if test_dir.is_dir():
        names = sorted(p.relative_to(test_dir).as_posix() for p in test_dir.rglob("*") if p.is_file())
        fingerprint["test_files_sha256"] = hashlib.sha256("\n".join(names).encode("utf-8")).hexdigest()
    manifest = cfg.dataset_dir / "manifest.csv"
    if manifest.is_file():
        fingerprint["manifest_sha256"] = hashlib.sha256(manifest.read_bytes()).hexdigest()
    return fingerprint


def different_test_photos(a: dict, b: dict) -> str | None:
    """Why two records were not scored on the same test photos, or None when they were.

    Compared: the labels in order (``test_y_true``), then each fingerprint
    hash that both records hold (:func:`test_split_fingerprint`): same labels
    on other photos (500 cats then 500 dogs, say) are caught by the hashes.
    """
    if not a.get("test_y_true") or not b.get("test_y_true"):
        return "no per-photo predictions in a record"
    if a["test_y_true"] != b["test_y_true"]:
        return "not the same test photos (their labels differ)"
    for key, what in (("test_files_sha256", "test file lists"), ("manifest_sha256", "prepared splits")):
        if a.get(key) and b.get(key) and a[key] != b[key]:
            return f"not the same test photos (their {what} differ: {key})"
    return None


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

    Adds ``profile``, ``seed``, the test split's fingerprint
    (:func:`test_split_fingerprint`), ``versions``, ``hardware``, ``commit``
    and ``created`` (UTC, ISO 8601).

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
        **test_split_fingerprint(cfg),
        **fields,
        "versions": config.versions(),
        "hardware": config.hardware(),
        "commit": git_commit(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    path = cfg.profile_results_dir / f"{model_id}.json"
    with files.atomic_open(path, "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2, default=_to_json)
        handle.write("\n")
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
