"""Regression checks: the course against its reference run, and proof that the suite bites.

    python -m course.tools.regress run --profile sample   # `make regress`, before a release
    python -m course.tools.regress compare RESULTS_DIR --profile sample
    python -m course.tools.regress selftest [--only split-seed ...]   # `make regress-selftest`

``run`` executes the course (the lessons' claim cells, their ``assert`` lines,
included) under a profile in temporary data and results folders, then ``compare``s:
every record's stable fields (:data:`course.tools.goldens.STABLE_RECORD_FIELDS`)
must equal ``reference/<profile>/records``, and each model's test predictions are
paired with the reference run's by McNemar's exact test on the same photos: a
significantly lower accuracy (p < :data:`ALPHA`) fails.

``selftest`` plants five regressions (:data:`PLANTS`), each in a temporary copy of
the project, runs the notebooks that should notice through the golden comparison
(nbval on composed notebooks, stale cells kept with their old outputs) and the
records check, and reports, for each, what caught it and in which cell.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from course.tools import goldens  # noqa: E402

#: A drop in test accuracy counts when McNemar's two-sided p-value is below this.
ALPHA = 0.05


def compare_predictions(results_dir: Path, profile: str, reference_dir: Path | None = None,
                        alpha: float = ALPHA) -> list[str]:
    """Models whose test predictions are significantly worse than the reference run's.

    Each record's ``test_y_true`` and ``test_p_dog`` (P(dog) per test photo, in the
    test split's fixed order) are paired with the reference record's; the labels
    must be the same photos' (same ``test_y_true``), else the pairing is void and
    reported. Returns one line per problem (empty: none).
    """
    import numpy as np

    from utils import stats

    reference_dir = Path(reference_dir or ROOT / "reference") / profile / "records"
    problems = []
    for path in sorted(Path(results_dir).glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or "test_p_dog" not in record:
            continue
        reference_file = reference_dir / path.name
        if not reference_file.is_file():
            continue
        reference = json.loads(reference_file.read_text(encoding="utf-8"))
        if reference.get("test_y_true") != record.get("test_y_true"):
            problems.append(f"{path.stem}: the test photos differ from the reference run's; "
                            "predictions cannot be paired")
            continue
        y_true = np.asarray(record["test_y_true"])
        now = (np.asarray(record["test_p_dog"]) >= 0.5).astype(int)
        then = (np.asarray(reference["test_p_dog"]) >= 0.5).astype(int)
        test = stats.mcnemar_exact(y_true, then, now)
        if test["accuracy_b"] < test["accuracy_a"] and test["p_value"] < alpha:
            problems.append(f"{path.stem}: test accuracy {test['accuracy_b']:.1%}, reference "
                            f"{test['accuracy_a']:.1%} (McNemar p = {test['p_value']:.3g}, "
                            f"{test['only_a']} photos only the reference got right, {test['only_b']} only this run)")
    return problems


def compare(results_dir: Path, profile: str) -> int:
    problems = goldens.compare_records(results_dir, profile) + compare_predictions(results_dir, profile)
    for problem in problems:
        print(f"regress: {problem}", file=sys.stderr)
    print(f"regress: {len(problems)} problem(s) against reference/{profile}")
    return 1 if problems else 0


def run(profile: str) -> int:
    """The course under ``profile`` in temporary folders, then :func:`compare`."""
    with tempfile.TemporaryDirectory(prefix="dogscats-regress.") as tmp:
        env = dict(os.environ, DOGSCATS_PROFILE=profile, DOGSCATS_DATA=f"{tmp}/data",
                   DOGSCATS_RESULTS=f"{tmp}/results")
        done = subprocess.run([sys.executable, "-m", "course.run.runner", "--profile", profile],
                              cwd=ROOT, env=env)
        if done.returncode != 0:
            print("regress: a notebook failed (a claim cell's assert, or an error)", file=sys.stderr)
            return done.returncode
        return compare(Path(tmp) / "results" / profile, profile)


# -- the self-test: planted regressions -----------------------------------------------

@dataclasses.dataclass
class Plant:
    """One planted regression: replace ``old`` by ``new`` in ``file``, run ``notebooks``."""

    name: str
    file: str
    old: str
    new: str
    notebooks: tuple
    cell_id: str | None = None  # for a notebook: the cell whose source is changed


PLANTS = (
    Plant("split seed", "utils/splitting.py", "np.random.default_rng(seed + offset)",
          "np.random.default_rng(seed + offset + 1)", ("01",)),
    Plant("layer width", "notebooks/03_cnn.ipynb", "layers.Conv2D(32, 3", "layers.Conv2D(48, 3",
          ("03",)),
    Plant("ImageNet mean of the preprocessing", "utils/vgg16.py",
          "IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)",
          "IMAGENET_MEAN_BGR = (123.68, 116.779, 103.939)", ("05",)),
    Plant("quarantine rule", "utils/audit.py", "    if not content:\n",
          "    if len(content) < 1024:  # planted: a small photo quarantined as empty\n", ("01",)),
    Plant("augmentation default", "utils/augmentation.py", "    rotation_range=40,",
          "    rotation_range=30,", ("04",)),
)


def _copy_project(target: Path) -> None:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _apply(plant: Plant, project: Path) -> None:
    path = project / plant.file
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":  # notebook sources are JSON strings
        old, new = json.dumps(plant.old)[1:-1], json.dumps(plant.new)[1:-1]
    else:
        old, new = plant.old, plant.new
    if text.count(old) < 1:
        raise RuntimeError(f"selftest: {plant.name!r} cannot be planted: {plant.old!r} is not in {plant.file}")
    path.write_text(text.replace(old, new), encoding="utf-8")


def _failed_cells(output: str, composed_dir: Path) -> list[str]:
    """``notebook · cell id`` of each cell nbval reports as failed (``::Cell N``: Nth code cell)."""
    import nbformat

    found = []
    for notebook, number in re.findall(r"FAILED \S*?([0-9][0-9]_[a-z0-9_]+)\.ipynb::Cell (\d+)", output):
        path = next(composed_dir.rglob(f"{notebook}.ipynb"), None)
        cell_id = "?"
        if path is not None:
            code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
            if int(number) < len(code):
                cell_id = code[int(number)].get("id")
        found.append(f"{notebook} · cell {cell_id} (nbval Cell {number})")
    return list(dict.fromkeys(found))


def run_plant(plant: Plant, keep_output: Path | None = None) -> dict:
    """Plant one regression in a temporary copy; return what caught it."""
    with tempfile.TemporaryDirectory(prefix="dogscats-selftest.") as tmp:
        tmp = Path(tmp)
        project = tmp / "project"
        _copy_project(project)
        _apply(plant, project)
        env = goldens.smoke_environment(tmp)
        env["PYTHONPATH"] = str(project)
        python = [sys.executable]
        compose = subprocess.run(python + ["-m", "course.tools.goldens", "compose", str(tmp / "golden"),
                                           "--allow-stale", "--only", *plant.notebooks],
                                 cwd=project, env=env, capture_output=True, text=True)
        if compose.returncode != 0:
            return {"plant": plant.name, "caught": False, "by": [f"compose failed: {compose.stderr.strip()}"]}
        stale = subprocess.run(python + ["-m", "course.tools.goldens", "compose", str(tmp / "strict"),
                                         "--only", *plant.notebooks],
                               cwd=project, env=env, capture_output=True, text=True)
        subprocess.run(python + ["-m", "course.tools.goldens", "prepare"], cwd=project, env=env,
                       check=True, capture_output=True)
        nbval = subprocess.run(python + ["-m", "pytest", "-p", "no:cacheprovider", "--nbval",
                                         "--nbval-current-env", "--nbval-cell-timeout=900",
                                         "--nbval-sanitize-with", "tests/golden/sanitize.cfg",
                                         "--rootdir", str(project), "-q", str(tmp / "golden" / "notebooks")],
                               cwd=project, env=env, capture_output=True, text=True)
        records = subprocess.run(python + ["-m", "course.tools.goldens", "records",
                                           str(tmp / "results" / "smoke")],
                                 cwd=project, env=env, capture_output=True, text=True)
        if keep_output is not None:
            keep_output.write_text(nbval.stdout + nbval.stderr + records.stderr, encoding="utf-8")
        by = []
        if nbval.returncode != 0:
            cells = _failed_cells(nbval.stdout, tmp / "golden")
            by.append("nbval: " + ("; ".join(cells) if cells else nbval.stdout.strip().splitlines()[-1]))
        if records.returncode != 0:
            by += ["records: " + line.removeprefix("records: ") for line in records.stderr.splitlines()]
        if stale.returncode != 0:
            by.append("compose: " + stale.stderr.strip().splitlines()[-1])
        return {"plant": plant.name, "caught": nbval.returncode != 0 or records.returncode != 0, "by": by}


def selftest(only: list[str] | None = None) -> int:
    plants = [p for p in PLANTS if not only or any(o in p.name for o in only)]
    caught = 0
    for number, plant in enumerate(plants, 1):
        print(f"selftest {number}/{len(plants)}: planting '{plant.name}' in {plant.file}, "
              f"running notebook(s) {', '.join(plant.notebooks)}", flush=True)
        result = run_plant(plant)
        caught += result["caught"]
        print(f"  {'CAUGHT' if result['caught'] else 'MISSED'}: {plant.name}", flush=True)
        for line in result["by"]:
            print(f"    by {line}", flush=True)
    print(f"selftest: {caught} of {len(plants)} planted regressions caught")
    return 0 if caught == len(plants) else 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course.tools.regress", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    r = commands.add_parser("run", help="the course under a profile, then compare")
    r.add_argument("--profile", default="sample")
    c = commands.add_parser("compare", help="a run's records and predictions against the reference")
    c.add_argument("results_dir", type=Path)
    c.add_argument("--profile", default="sample")
    s = commands.add_parser("selftest", help="five planted regressions, each must be caught")
    s.add_argument("--only", nargs="+", help="plants whose name contains one of these words")
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args.profile)
    if args.command == "compare":
        return compare(args.results_dir, args.profile)
    return selftest(args.only)


if __name__ == "__main__":
    sys.exit(main())
