"""The benchmarks' protocol: design runs score validation photos only; a final run reads the test split once.

Every design choice in ``benchmarks/`` (recipe, image size, blocks, epochs, schedule)
is made on an **enlarged validation set**, never on the test split:

- under ``smoke`` and ``sample``: the profile's ``valid`` split plus labelled photos
  that the profile does not use at all (:func:`unused_photos`, taken from ``full``'s
  training split), so that a choice rests on more than the ~10 mistakes a
  1,000-photo split leaves;
- under ``full``, which uses every labelled photo: ``valid`` plus photos carved out
  of ``full``'s own training split (:func:`carved_photos`); a design run trains on
  the remaining training photos only.

A **final** run trains the frozen recipe on the profile's whole training split,
keeps its best validation epoch on ``valid``, and reads the test split once; it
appends one row to :data:`FINAL_LOG` with the commit, and the count of earlier
reads of the same test photos (:func:`test_reads`), which the README prints
beside every test figure. A second final read of the same run is refused unless
a reason is given.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from utils import config  # noqa: E402

#: The committed log of test-split reads, one JSON object a line (``--final`` appends to it).
FINAL_LOG = ROOT / "benchmarks" / "final_reads.jsonl"
#: Where a final run keeps its test predictions (small: float16 P(dog) and uint8 labels) for pairings.
PREDICTIONS = ROOT / "benchmarks" / "predictions"


class RereadRefused(RuntimeError):
    """A final run asked to read the test split again for a run already read."""


def commit() -> str:
    """Short hash of HEAD, with ``+ uncommitted`` when the running script, this module or ``utils/`` differ from it.

    Call it when a run starts: the code that runs is the code of that moment.
    """
    from utils import results

    script = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    paths = ["benchmarks/protocol.py", "utils"]
    if script and script.suffix == ".py" and ROOT in script.parents:
        paths.append(str(script.relative_to(ROOT)))
    try:
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *paths], cwd=ROOT, capture_output=True,
                               text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        dirty = ""
    return (results.git_commit() or "unknown") + (" + uncommitted" if dirty else "")


def stamp() -> dict:
    """What every row carries: commit, machine, backend, date (UTC) and the load average, taken when called.

    Where ``ONEDNN_MAX_CPU_ISA`` is set, the row holds it too (``onednn_max_cpu_isa``): the
    kernels oneDNN may use, AMX left out with ``AVX512_CORE_BF16``.

    A script calls it as a run starts, so that the commit is the code that ran. It also holds
    ``cpu_start`` (:func:`cpu_snapshot`), which :func:`append` turns into ``others_cpu``: the
    share of the machine that other processes used while the run went on.
    """
    import keras

    row = {"commit": commit(), "machine": config.describe_hardware(), "backend": keras.backend.backend(),
           "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
           "load": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
           "cpu_start": cpu_snapshot()}
    if os.environ.get("ONEDNN_MAX_CPU_ISA"):        # oneDNN's kernels capped below the CPU's best (e.g. no AMX)
        row["onednn_max_cpu_isa"] = os.environ["ONEDNN_MAX_CPU_ISA"]
    return row


def cpu_snapshot() -> list | None:
    """``[wall s, machine busy CPU s, this process's CPU s (its waited-for children included)]``, or None.

    Machine busy seconds are every core's non-idle time since boot (Linux ``/proc/stat``); None
    where that file cannot be read (other systems).
    """
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return None
    ticks = [int(value) for value in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)           # idle + iowait
    hertz = os.sysconf("SC_CLK_TCK")
    own = os.times()
    return [time.monotonic(), (sum(ticks[:8]) - idle) / hertz,
            own.user + own.system + own.children_user + own.children_system]


def others_cpu(start: list | None, end: list | None = None) -> float | None:
    """The share of the machine's cores (0 to 1) other processes kept busy between two :func:`cpu_snapshot`
    (``end``: now). None when either is missing or under :data:`MIN_MEASURED_S` passed.

    ``(machine busy s − this process's CPU s) / (wall s × cores)``: 0.5 on 2 cores is one core
    taken by another job for the whole run. Unlike the load average at the start, it does not
    count a run that ended just before this one (the previous step of a queue). Clipped to
    [0, 1]: the kernel counts CPU time in ticks (1/100 s), so a short span can read past either end.
    """
    end = end or cpu_snapshot()
    if not start or not end or end[0] - start[0] < MIN_MEASURED_S:
        return None
    busy, own = end[1] - start[1], end[2] - start[2]
    share = max(0.0, busy - own) / ((end[0] - start[0]) * (os.cpu_count() or 1))
    return round(min(1.0, share), 3)


#: Below this many wall seconds :func:`others_cpu` gives None: a few ticks of 1/100 s would be most of it.
MIN_MEASURED_S = 1.0


#: Above this share of the machine used by other processes (:func:`others_cpu`), a run is "contended".
CONTENDED_OTHERS_CPU = 0.25


def versions(*extra: str) -> dict:
    """The versions of Keras, TensorFlow, the Keras backend's library and ``extra`` (e.g. ``"numpy"``), those
    installed: ``{"keras": "3.15.1", "tensorflow": "2.21.0"}`` (:func:`utils.config.versions`' names)."""
    found = config.versions()
    wanted = ["keras", "tensorflow", found.get("keras backend", "tensorflow"), *extra]
    return {name: found[name] for name in dict.fromkeys(wanted)
            if found.get(name, "not installed") != "not installed"}


def latest_run(rows: list) -> list:
    """The rows of the latest run in ``rows``: those sharing the latest row's (date, commit, machine).

    A run stamps all its rows once, as it starts (:func:`stamp`), so these are the rows of one run.
    Raises ValueError when ``rows`` is empty.
    """
    if not rows:
        raise ValueError("no rows")
    last = max(rows, key=lambda r: r["date"])
    key = (last["date"], last["commit"], last["machine"])
    return [r for r in rows if (r["date"], r["commit"], r["machine"]) == key]


def runs(rows: list) -> list:
    """``rows`` grouped by run (same commit, start date, machine and profile), in file order: a list of lists."""
    groups = {}
    for row in rows:
        groups.setdefault((row.get("commit"), row.get("date"), row.get("machine"), row.get("profile")), []).append(row)
    return list(groups.values())


def contended(row: dict) -> bool:
    """Whether another job shared the machine during the run.

    Rows with ``others_cpu`` (:func:`append` adds it): other processes used more than
    :data:`CONTENDED_OTHERS_CPU` of the cores. Older rows: the load average at the start above half
    the cores (which also counts a run that had just ended, so it can mark a run of a queue
    contended that was not). Then the matmul peak measured at the start reads low and the share
    of it high, and seconds read long.
    """
    if row.get("others_cpu") is not None:
        return row["others_cpu"] > CONTENDED_OTHERS_CPU
    cores = re.search(r"(\d+) cores", row.get("machine", ""))
    return row.get("load") is not None and cores is not None and row["load"] > int(cores.group(1)) / 2


def _split_paths(split: str, cfg) -> list:
    """The photo files of one prepared split, ``cats`` then ``dogs``, sorted by name: listed, not opened.

    Raises :class:`utils.data.DataNotPreparedError` when the split is missing.
    """
    from utils import data

    data.require_prepared(cfg)
    return [str(p) for name in config.CLASS_NAMES
            for p in sorted((cfg.split_dir / split / name).iterdir()) if p.is_file() and not p.name.startswith(".")]


def _label(path) -> int:
    return config.CLASS_NAMES.index(Path(path).parent.name)


def unused_photos(cfg, per_class: int):
    """``per_class`` labelled photos per class that ``cfg``'s splits do not use: (paths, labels).

    Taken evenly spaced, in file-name order, from ``full``'s training split less the
    profile's own training photos (the profile's ``valid`` and ``test`` are subsets of
    ``full``'s, so they cannot be picked). Labels are int32, 0 for cats and 1 for dogs.
    Empty under ``full``, which uses every labelled photo, or when ``per_class`` <= 0.
    """
    if cfg.name == "full" or per_class <= 0:
        return [], np.zeros(0, np.int32)
    full = config.get_profile("full", data_dir=cfg.data_dir)
    used = {Path(p).name for split in ("train", "valid", "test") for p in _split_paths(split, cfg)}
    pool = [p for p in _split_paths("train", full) if Path(p).name not in used]
    return _evenly(pool, per_class)


def carved_photos(cfg, per_class: int):
    """``per_class`` photos per class carved out of ``cfg``'s own training split: (paths, labels).

    Evenly spaced in file-name order; a design run under ``full`` validates on them
    and trains on the rest (:func:`design_photos`).
    """
    return _evenly(_split_paths("train", cfg), per_class)


def _evenly(pool, per_class):
    picked = []
    for label, folder in enumerate(config.CLASS_NAMES):
        mine = sorted(p for p in pool if Path(p).parent.name == folder)
        picked += [(p, label) for p in mine[::max(1, len(mine) // max(per_class, 1))][:per_class]]
    return [p for p, _ in picked], np.array([label for _, label in picked], np.int32)


def training_photos(cfg):
    """The profile's whole training split, as a final run trains on it: (paths, labels int32)."""
    train = _split_paths("train", cfg)
    return train, np.array([_label(p) for p in train], np.int32)


def design_photos(cfg, extra_per_class: int = 1000) -> dict:
    """The photos of a design run: training photos, and the enlarged validation set.

    Parameters
    ----------
    cfg : utils.config.Profile
    extra_per_class : int
        Photos per class added to ``valid``: unused ones (``smoke``, ``sample``) or,
        under ``full``, carved out of the training split (at most 500 per class there).

    Returns
    -------
    dict
        ``train`` and ``enlarged``: each ``(paths, labels)``, labels int32 (0 cat, 1 dog);
        ``note``: one line saying where the extra photos come from. The test split is
        never among them.
    """
    train = _split_paths("train", cfg)
    valid = _split_paths("valid", cfg)
    if cfg.name == "full":
        extra, extra_y = carved_photos(cfg, min(extra_per_class, 500))
        carved = set(extra)
        train = [p for p in train if p not in carved]
        note = f"valid + {len(extra):,} photos carved out of full's training split (not trained on)"
    else:
        extra, extra_y = unused_photos(cfg, extra_per_class)
        note = f"valid + {len(extra):,} labelled photos the profile does not use"
    return {"train": (train, np.array([_label(p) for p in train], np.int32)),
            "enlarged": (valid + list(extra), np.concatenate([np.array([_label(p) for p in valid], np.int32),
                                                              extra_y]).astype(np.int32)),
            "note": note}


def photo_batches(paths, labels, image_size, batch_size: int, shuffle: bool = False, seed: int | None = None,
                  cache: bool = True):
    """Batches of the given photos, decoded and resized as :func:`utils.loading.get_batches` does.

    Returns a ``tf.data.Dataset`` of ``(images, labels)``: images ``(batch, h, w, 3)``
    float32 in [0, 255] (bilinear resize, aspect ratio not kept), labels ``(batch, 1)``
    float32. Raises ValueError when ``paths`` is empty or its length differs from ``labels``'.
    """
    from utils import devices, loading

    tf = devices.tensorflow()
    if len(paths) == 0 or len(paths) != len(labels):
        raise ValueError(f"need as many photos as labels, at least one: {len(paths)} and {len(labels)}")
    size = tuple(int(s) for s in image_size)

    def load(path, label):
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        image = tf.image.resize(image, size, method="bilinear")
        image.set_shape((*size, 3))
        return image, tf.reshape(tf.cast(label, tf.float32), (1,))

    dataset = tf.data.Dataset.from_tensor_slices(([str(p) for p in paths], np.asarray(labels, np.int32)))
    dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        dataset = dataset.cache()
    if shuffle:
        dataset = dataset.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE).with_options(loading.pipeline_options())


def scores(y_true, p_dog) -> dict:
    """Accuracy with its 95% Wilson interval and log loss of one set of predictions.

    ``y_true``: (n,) 0 (cat) or 1 (dog); ``p_dog``: (n,) P(dog) in [0, 1]. Returns ``n``,
    ``accuracy``, ``low``, ``high`` (fractions; the interval of :func:`utils.stats.accuracy_interval`)
    and ``log_loss`` (nats, probabilities clipped to [1e-7, 1 - 1e-7]).
    """
    from sklearn.metrics import log_loss

    from utils import evaluate, stats

    y_true, p_dog = np.asarray(y_true).reshape(-1), np.asarray(p_dog).reshape(-1)
    scored = stats.accuracy_interval(y_true, evaluate.predicted_labels(p_dog))
    return {"n": scored["count"], "accuracy": scored["accuracy"], "low": scored["low"], "high": scored["high"],
            "log_loss": float(log_loss(y_true, np.clip(p_dog, 1e-7, 1 - 1e-7), labels=[0, 1]))}


#: Below this many complete epochs a run is "not converged": no paired test, labelled in the tables.
CONVERGED_EPOCHS = 2


def completed_epochs(history: list, train_photos: int) -> list:
    """Whether each recorded epoch trained on every one of ``train_photos`` (False: cut short by a budget).

    ``history``: a run's epochs as ``peers.py`` records them, each with ``images``, the
    training images seen since the run began (cumulative). A budget stops a run after any
    batch, and Keras still ends that epoch (validation, ``on_epoch_end``), so the last
    recorded epoch may be partial: it is not an epoch in "epochs run" or in the two epochs a
    run needs to count as converged. Returns one bool per entry of ``history``.
    """
    done, before = [], 0
    for epoch in history:
        done.append(epoch["images"] - before >= train_photos)
        before = epoch["images"]
    return done


DIVERGED_RERUNS = 1
"""How many times a run whose loss turns non-finite is trained again, with its seed, before it is scored.

The rule looks at the training and validation loss only, never at a test figure, so it chooses
nothing on the test split. A recipe that diverges in its own dynamics diverges again (training
here is deterministic for a seed: ``benchmarks/divergence.py`` repeated the first five epochs of
the run that diverged to four decimals) and is scored as it is, labelled "diverged"; a fault
outside the recipe (a NaN once in a numeric kernel) is not repeated by the rerun.
"""


def diverged_epoch(history: list) -> int | None:
    """The first epoch whose validation loss (or training ``loss``, where recorded) is not finite, else None.

    A run whose loss turns NaN has diverged: every later epoch predicts one class (50% on a
    balanced split), and the weights it keeps are those of an epoch before the divergence.
    ``history``: a run's epochs as ``peers.py`` records them (``epoch``, ``val_loss``, optionally ``loss``).
    """
    import math

    for epoch in history:
        losses = [epoch.get("val_loss"), epoch.get("loss")]
        if any(value is not None and not math.isfinite(value) for value in losses):
            return epoch["epoch"]
    return None


def interval_text(score: dict | None) -> str:
    """``"91.2% (89.3%–92.9%)"``: a :func:`scores` dict's accuracy and 95% interval ("" for None)."""
    if not score:
        return ""
    return f"{score['accuracy']:.1%} ({score['low']:.1%}–{score['high']:.1%})"


def mean_sd_text(values, digits: int = 1) -> str:
    """``"86.8% ± 0.7% (3 seeds)"`` of fractions over seeds, ``digits`` decimals; None and non-finite values
    are left out ("" when none is left)."""
    import math
    import statistics

    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return ""
    if len(values) == 1:
        return f"{values[0]:.{digits}%} (1 seed)"
    return (f"{statistics.mean(values):.{digits}%} ± {statistics.stdev(values):.{digits}%} "
            f"({len(values)} seeds)")


def test_split_sha(cfg) -> str:
    """Which photos were read: the first 12 hex digits of the file-list hash of
    :func:`utils.results.test_split_fingerprint`."""
    from utils import results

    return results.test_split_fingerprint(cfg)["test_files_sha256"][:12]


def read_log(path: Path = FINAL_LOG) -> list:
    """The rows of a JSON-lines file ([] when it does not exist)."""
    if not Path(path).exists():
        return []
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def append(path: Path, row: dict) -> None:
    """Append one row to a JSON-lines file (created with its folder when missing).

    A row's ``cpu_start`` (from :func:`stamp`) is replaced by ``others_cpu`` (:func:`others_cpu`,
    from the start of the run to now).
    """
    if "cpu_start" in row:
        start = row["cpu_start"]
        row = {key: value for key, value in row.items() if key != "cpu_start"}
        row["others_cpu"] = others_cpu(start)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(row) + "\n")


def test_reads(split_sha: str, path: Path = FINAL_LOG) -> int:
    """How many final rows of ``path`` read the test photos ``split_sha`` names."""
    return sum(1 for row in read_log(path) if row.get("test_split") == split_sha)


def check_first_read(run_id: str, reason: str | None, path: Path = FINAL_LOG) -> None:
    """Raise :class:`RereadRefused` when ``run_id`` already has a final row and no ``reason`` is given."""
    if reason:
        return
    if any(row.get("run_id") == run_id for row in read_log(path)):
        raise RereadRefused(f"{run_id} has already read the test split (see {Path(path).name}); a frozen "
                            "recipe is read once. Pass --reread \"why\" to read it again, on the record.")


def save_predictions(run_id: str, y_true, p_dog, folder: Path = PREDICTIONS, **others) -> Path:
    """Labels (uint8) and P(dog) (float16) as ``folder/<run_id>.npz``, a few KB, for pairings.

    A final run saves its test predictions as ``p_dog``; a design run its enlarged-validation
    ones, each candidate's under its own name in ``others`` ((n,) arrays like ``p_dog``;
    ``p_dog`` may then be None). A file is never replaced: a run read again (a reread) is
    saved as ``<run_id>-2.npz``, ``-3``..., so each row's ``predictions`` keeps naming its own.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path, number = folder / f"{run_id}.npz", 1
    while path.exists():
        number += 1
        path = folder / f"{run_id}-{number}.npz"
    arrays = {key: np.asarray(p, np.float16).reshape(-1) for key, p in {"p_dog": p_dog, **others}.items()
              if p is not None}
    np.savez_compressed(path, y_true=np.asarray(y_true, np.uint8).reshape(-1), **arrays)
    return path


def paired(folder: Path, a: tuple, b: tuple) -> dict | None:
    """McNemar's exact test of two saved sets of predictions of the same photos (:func:`save_predictions`).

    ``a`` and ``b``: ``(file name, array name)`` in ``folder``. Returns
    :func:`utils.stats.mcnemar_exact`'s dict (A is ``a``), or None when the two files hold
    different photos (their labels differ).
    """
    from utils import evaluate, stats

    first, second = np.load(Path(folder) / a[0]), np.load(Path(folder) / b[0])
    if not np.array_equal(first["y_true"], second["y_true"]):
        return None
    return stats.mcnemar_exact(first["y_true"], evaluate.predicted_labels(first[a[1]].astype(np.float32)),
                               evaluate.predicted_labels(second[b[1]].astype(np.float32)))
