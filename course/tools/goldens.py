"""Golden executed notebooks: nbval compares what the lessons print with a committed run.

The notebooks learners open stay without outputs. A ``smoke`` run of every lesson and
solution is kept, executed, under ``tests/golden/smoke/<name>.ipynb`` (figures left out:
nbval does not compare images), and ``make test``'s TensorFlow pass runs nbval, without
``--nbval-lax``, on notebooks *composed* from two sources:

- the cells of ``notebooks/`` as they are now (what runs is always the current lesson);
- the outputs of the golden, matched by cell id.

A code cell whose source differs from the golden's fails the composition with
"update the golden" (a golden never tests stale code). Cells whose output cannot
repeat (training logs, timings) are listed with a one-line reason each in
``tests/golden/ignore.toml``; composing tags them ``nbval-ignore-output``, so the
notebooks in ``notebooks/`` carry no test markers. ``tests/golden/sanitize.cfg``
masks what varies inside compared outputs (timings, temporary paths, addresses...).

Usage::

    python -m course.tools.goldens update [--only 03 ...]  # execute under smoke, rewrite goldens
    python -m course.tools.goldens compose OUT            # OUT/notebooks/... for nbval
    python -m course.tools.goldens summary                # compared/ignored cells per notebook
    python -m course.tools.goldens prepare                # the smoke split, as the unit tests make it
    python -m course.tools.goldens records RESULTS_DIR    # records vs reference/<profile>/records

``update`` runs in temporary data and results folders (never the project's), in
course order (lessons 00 to 07, then the solutions), in the same kind of kernel
nbval starts (``--nbval-current-env``), and prints a diff of the outputs against
the previous golden (``nbdiff`` from nbdime when it is installed).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import difflib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from course.tools import shared_photos  # noqa: E402
from utils import settings  # noqa: E402

NOTEBOOKS_DIR = ROOT / "notebooks"
GOLDEN_DIR = ROOT / "tests" / "golden"
PROFILE = "smoke"
IGNORE_FILE = GOLDEN_DIR / "ignore.toml"
SANITIZE_FILE = GOLDEN_DIR / "sanitize.cfg"
IGNORE_TAG = "nbval-ignore-output"
#: Output data nbval does not compare (without --nbval-nbdime): not stored in goldens.
UNCOMPARED_MIMES = ("image/png", "image/jpeg", "image/svg+xml")
#: Record fields that must equal the reference run's (timings and scores may vary).
STABLE_RECORD_FIELDS = ("model_id", "profile", "seed", "notebook", "image_size", "params",
                        "train_count", "valid_count", "test_count", "epochs", "backend",
                        "precision", "weights", "test_y_true")


class StaleGoldenError(ValueError):
    """A notebook's cells no longer match its golden: regenerate it on purpose."""


def course_notebooks(notebooks_dir: Path = NOTEBOOKS_DIR) -> list[Path]:
    """Lessons 00→07, then their solutions: the order the goldens are made and checked in."""
    return sorted(notebooks_dir.glob("[0-9][0-9]_*.ipynb")) + \
        sorted((notebooks_dir / "solutions").glob("[0-9][0-9]_*.ipynb"))


def golden_path(notebook: Path, golden_dir: Path = GOLDEN_DIR) -> Path:
    return golden_dir / PROFILE / notebook.name


def update_command(notebook: Path) -> str:
    return f"python -m course.tools.goldens update --only {notebook.stem}"


def load_ignore(path: Path = IGNORE_FILE) -> dict:
    """``{notebook stem: {cell id: reason}}`` from ``tests/golden/ignore.toml``."""
    if not path.is_file():
        return {}
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        import tomli as tomllib
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _read(path: Path):
    import nbformat

    return nbformat.read(path, as_version=4)


def _source(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


# -- composing: current cells, golden outputs ----------------------------------------

def compose_notebook(notebook: Path, golden_dir: Path = GOLDEN_DIR, ignore: dict | None = None,
                     allow_stale: bool = False):
    """The notebook nbval runs: ``notebook``'s cells with its golden's outputs.

    Raises
    ------
    StaleGoldenError
        If the golden is missing, or a code cell is new or its source changed
        since the golden was made (unless ``allow_stale``: then the cell keeps
        the old outputs, which the selftest uses to show nbval catching a change).
    """
    golden_file = golden_path(notebook, golden_dir)
    if not golden_file.is_file():
        raise StaleGoldenError(f"{notebook.name} has no golden ({golden_file.relative_to(ROOT) if golden_file.is_relative_to(ROOT) else golden_file}): "
                               f"update the golden: {update_command(notebook)}")
    current, golden = _read(notebook), _read(golden_file)
    golden_cells = {cell.get("id"): cell for cell in golden.cells if cell.cell_type == "code"}
    ignored = (load_ignore() if ignore is None else ignore).get(notebook.stem, {})
    composed = copy.deepcopy(current)
    stale = []
    for cell in composed.cells:
        if cell.cell_type != "code":
            continue
        reference = golden_cells.get(cell.get("id"))
        if reference is None or _source(reference) != _source(cell):
            stale.append(cell.get("id"))
            if not allow_stale:
                continue
        cell.outputs = copy.deepcopy(reference.outputs) if reference is not None else []
        # nbval refuses outputs of a cell that was never run ("Unrun reference cell")
        cell.execution_count = (reference.execution_count if reference is not None else None) or 1
        if cell.get("id") in ignored:
            tags = cell.setdefault("metadata", {}).setdefault("tags", [])
            if IGNORE_TAG not in tags:
                tags.append(IGNORE_TAG)
    if stale and not allow_stale:
        raise StaleGoldenError(f"{notebook.name}: cell(s) {', '.join(map(str, stale))} changed since "
                               f"the golden was made; update the golden: {update_command(notebook)}")
    return composed


def compose(out: Path, notebooks_dir: Path = NOTEBOOKS_DIR, golden_dir: Path = GOLDEN_DIR,
            only: list[str] | None = None, allow_stale: bool = False) -> list[Path]:
    """Write every composed notebook under ``out/notebooks/`` (solutions in ``solutions/``).

    All stale notebooks are reported together in one :class:`StaleGoldenError`.
    """
    import nbformat

    written, errors = [], []
    for notebook in course_notebooks(notebooks_dir):
        if only and not _selected(notebook, only):
            continue
        try:
            composed = compose_notebook(notebook, golden_dir, allow_stale=allow_stale)
        except StaleGoldenError as error:
            errors.append(str(error))
            continue
        target = Path(out) / "notebooks" / notebook.relative_to(notebooks_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(composed, target)
        written.append(target)
    kernel_config_dir(out)
    if errors:
        raise StaleGoldenError("\n".join(errors))
    return written


def summary(notebooks_dir: Path = NOTEBOOKS_DIR, ignore: dict | None = None) -> list[tuple]:
    """``[(notebook name, code cells, compared, ignored), ...]`` in course order."""
    ignore = load_ignore() if ignore is None else ignore
    rows = []
    for notebook in course_notebooks(notebooks_dir):
        ids = [c.get("id") for c in _read(notebook).cells if c.cell_type == "code"]
        ignored = sum(i in ignore.get(notebook.stem, {}) for i in ids)
        rows.append((notebook.stem, len(ids), len(ids) - ignored, ignored))
    return rows


def summary_lines(rows=None) -> list[str]:
    rows = summary() if rows is None else rows
    lines = [f"{'notebook':<40} {'code':>5} {'compared':>9} {'ignored':>8}"]
    for name, code, compared, ignored in rows:
        lines.append(f"{name:<40} {code:>5} {compared:>9} {ignored:>8}")
    code = sum(r[1] for r in rows)
    ignored = sum(r[3] for r in rows)
    lines.append(f"{'all':<40} {code:>5} {code - ignored:>9} {ignored:>8}"
                 f"   ignored share {ignored / max(code, 1):.0%}")
    return lines


# -- records against the reference ----------------------------------------------------

def compare_records(results_dir: Path, profile: str = PROFILE, reference_dir: Path | None = None,
                    fields=STABLE_RECORD_FIELDS) -> list[str]:
    """Differences between a run's records and ``reference/<profile>/records`` (empty: none).

    Only :data:`STABLE_RECORD_FIELDS` are compared, and only those the reference
    record has; a record the reference has but the run lacks is not reported
    (a partial run), an extra one is.
    """
    reference_dir = Path(reference_dir or ROOT / "reference") / profile / "records"
    problems = []
    for path in sorted(Path(results_dir).glob("*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict) or "model_id" not in record:
            continue
        reference_file = reference_dir / path.name
        if not reference_file.is_file():
            problems.append(f"{path.name}: no reference record in {reference_dir}")
            continue
        reference = json.loads(reference_file.read_text(encoding="utf-8"))
        for field in fields:
            if field in reference and record.get(field) != reference[field]:
                shown = lambda v: json.dumps(v)[:60]  # noqa: E731
                problems.append(f"{path.stem} ({record.get('notebook')}): {field} is "
                                f"{shown(record.get(field))}, the reference has {shown(reference[field])}")
    return problems


# -- executing the goldens --------------------------------------------------------------

def _selected(notebook: Path, only: list[str]) -> bool:
    return any(notebook.stem == o or notebook.stem.startswith(o.rstrip("_") + "_")
               or notebook.stem[:2] == o for o in only)


def _needed(notebooks: list[Path], only: list[str] | None) -> list[Path]:
    """What to execute for ``only``: every notebook up to the last one chosen, in course order.

    ``make test`` runs them all in that order, and a notebook's output depends on the ones
    before it: its first data cell reports the earlier records as found, or copies them from
    the reference run when they are missing (03 after 02: "Already here: mlp_pixels").
    A golden made without them would expect the copy and fail in ``make test``.
    """
    if not only:
        return notebooks
    last = max((index for index, nb in enumerate(notebooks) if _selected(nb, only)), default=-1)
    return notebooks[:last + 1]


#: The kernels' IPython config: what C/C++ libraries print (TensorFlow's start-up lines,
#: with timestamps and process ids) goes to the terminal, not into the outputs nbval
#: compares, as under ``make course`` (course/run/execute.py's KERNEL_ARGUMENTS).
#: The kernel nbval and ``update`` start: C-level start-up logs stay out of the outputs, and
#: matplotlib draws off screen (``Agg``) whatever the caller's ``MPLBACKEND`` (CI exports
#: ``Agg``, a desktop may not): nbval does not compare figures, so goldens and test runs
#: both hold none, and a plotting cell cannot differ by how it was displayed.
KERNEL_CONFIG = ("# course/tools/goldens.py\n"
                 "import os\n"
                 "os.environ['MPLBACKEND'] = 'Agg'\n"
                 "c.IPKernelApp.capture_fd_output = False\n")


def kernel_config_dir(folder: Path) -> Path:
    """Write an ``IPYTHONDIR`` under ``folder`` holding :data:`KERNEL_CONFIG`; return it."""
    target = Path(folder) / "ipython"
    (target / "profile_default").mkdir(parents=True, exist_ok=True)
    (target / "profile_default" / "ipython_kernel_config.py").write_text(KERNEL_CONFIG, encoding="utf-8")
    return target


def smoke_environment(tmp: Path) -> dict:
    """The variables ``make test`` sets for its notebooks (see the Makefile's ``in_test_dirs``)."""
    env = dict(os.environ)
    env["IPYTHONDIR"] = str(kernel_config_dir(tmp))
    env.update({"DOGSCATS_PROFILE": PROFILE, "DOGSCATS_DATA": str(tmp / "data"),
                "DOGSCATS_RESULTS": str(tmp / "results"), "DOGSCATS_TEST_DATA": str(tmp / "data"),
                "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))})
    settings.apply_headless(env)   # as make course's kernels: no TensorBoard server (03)
    if not settings.is_set("DOGSCATS_ARCHIVE", env):   # as make test: the shared photos, whatever the shell holds
        found = shared_photos.real_archive()
        if found is not None:
            env["DOGSCATS_ARCHIVE"] = str(found)
    return env


@contextlib.contextmanager
def _environment(env: dict):
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def prepare_test_data(env: dict) -> None:
    """Prepare the smoke split as ``make test``'s unit tests do before the notebooks run."""
    code = ("from course.tools.shared_photos import real_archive; from utils import config, data; "
            "cfg = config.get_profile('smoke'); data.prepare(cfg, source=real_archive(), progress=False)")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)


def _nbval_like_client():
    """nbclient's ``NotebookClient`` executing every cell as nbval does: ``store_history=False``.

    nbval runs cells outside IPython's history, so a trailing ``;`` does not silence a cell's
    last value there (IPython looks for the ``;`` in the history); the goldens are made the
    same way, or every ``plots.plots(...);`` cell would differ by one ``<Figure ...>`` line.
    """
    from nbclient import NotebookClient

    class NbvalLikeClient(NotebookClient):
        async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history=False)

    return NbvalLikeClient


def execute_notebook(path: Path, env: dict, timeout: int = 900):
    """Run one notebook in nbval's own kind of kernel (``--nbval-current-env``), as nbval runs it."""
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbval.kernel import CURRENT_ENV_KERNEL_NAME, NbvalKernelspecManager

    notebook = nbformat.read(path, as_version=4)
    with _environment(env):
        manager = KernelManager(kernel_name=CURRENT_ENV_KERNEL_NAME,
                                kernel_spec_manager=NbvalKernelspecManager())
        client = _nbval_like_client()(notebook, km=manager, timeout=timeout, allow_errors=False,
                                record_timing=False, resources={"metadata": {"path": str(path.parent)}})
        try:
            client.execute()
        finally:  # nbclient leaves a kernel it was handed running
            if manager.has_kernel:
                manager.shutdown_kernel(now=True)
    return notebook


def clean_golden(notebook):
    """Leave out what nbval never compares (figures) and per-run metadata, for readable diffs."""
    for cell in notebook.cells:
        cell.get("metadata", {}).pop("execution", None)
        for output in cell.get("outputs", []):
            for mime in UNCOMPARED_MIMES:
                output.get("data", {}).pop(mime, None)
            output.pop("metadata", None) if output.get("output_type") != "stream" else None
            if output.get("output_type") in ("display_data", "execute_result"):
                output["metadata"] = {}
    return notebook


def _output_text(cell) -> list[str]:
    lines = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            lines += output.get("text", "").splitlines()
        elif output.get("output_type") == "error":
            lines.append(f"{output.get('ename')}: {output.get('evalue')}")
        else:
            lines += output.get("data", {}).get("text/plain", "").splitlines()
    return lines


def sanitisers(path: Path = SANITIZE_FILE) -> list[tuple]:
    """``(compiled regex, replacement)`` of each section of nbval's sanitiser file, in order."""
    import configparser
    import re

    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path, encoding="utf-8")
    return [(re.compile(parser[section]["regex"]), parser[section]["replace"]) for section in parser.sections()]


def _sanitised(lines: list[str], rules: list[tuple]) -> list[str]:
    text = "\n".join(lines)
    for pattern, replacement in rules:
        text = pattern.sub(replacement, text)
    return text.splitlines()


def describe_changes(old_path: Path, new_notebook) -> list[str]:
    """Cell by cell: which sources and sanitised outputs differ from the previous golden (a unified diff).

    Outputs pass through the sanitiser nbval uses (``tests/golden/sanitize.cfg``) first, so
    the diff shows what the comparison will see, not a new temporary path or timing.
    """
    rules = sanitisers()
    if not old_path.is_file():
        return [f"{old_path.name}: new golden"]
    old = {c.get("id"): c for c in _read(old_path).cells if c.cell_type == "code"}
    lines = []
    for cell in new_notebook.cells:
        if cell.cell_type != "code":
            continue
        before = old.get(cell.get("id"))
        if before is None:
            lines.append(f"{old_path.stem} · cell {cell.get('id')}: new cell")
            continue
        if _source(before) != _source(cell):
            lines.append(f"{old_path.stem} · cell {cell.get('id')}: source changed")
        diff = list(difflib.unified_diff(_sanitised(_output_text(before), rules),
                                         _sanitised(_output_text(cell), rules), "golden", "now",
                                         lineterm="", n=0))
        if diff:
            lines.append(f"{old_path.stem} · cell {cell.get('id')}: output changed")
            lines += ["    " + line for line in diff[2:]]
    return lines


def nbdime_diff(old: Path, new: Path) -> str | None:
    """``nbdiff`` of two notebooks (outputs and sources), or None without nbdime or when it fails.

    nbdime takes either only "show" flags or only "ignore" flags: mixing them
    (``--outputs --ignore-details``) makes it exit with an error and print nothing,
    which read as "unchanged".
    """
    nbdiff = shutil.which("nbdiff") or (Path(sys.executable).parent / "nbdiff")
    if not Path(nbdiff).exists():
        return None
    done = subprocess.run([str(nbdiff), "--sources", "--outputs", "--no-color",
                           str(old), str(new)], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


def update(only: list[str] | None = None, golden_dir: Path = GOLDEN_DIR,
           notebooks_dir: Path = NOTEBOOKS_DIR) -> int:
    """Execute the notebooks under smoke in temporary folders and rewrite their goldens."""
    import nbformat

    notebooks = _needed(course_notebooks(notebooks_dir), only)
    (golden_dir / PROFILE).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dogscats-goldens.") as tmp:
        env = smoke_environment(Path(tmp))
        print(f"goldens: smoke run in {tmp} (deleted at the end)", flush=True)
        prepare_test_data(env)
        for notebook in notebooks:
            print(f"goldens: executing {notebook.relative_to(notebooks_dir)}", flush=True)
            executed = clean_golden(execute_notebook(notebook, env))
            if only and not _selected(notebook, only):
                continue
            target = golden_path(notebook, golden_dir)
            with tempfile.TemporaryDirectory() as scratch:
                new = Path(scratch) / target.name
                nbformat.write(executed, new)
                shown = nbdime_diff(target, new) if target.is_file() else None
                if shown is None:
                    shown = "\n".join(describe_changes(target, executed))
                if shown.strip():
                    print(shown, flush=True)
                else:
                    print(f"goldens: {target.name} unchanged", flush=True)
                shutil.copyfile(new, target)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course.tools.goldens", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("update", help="execute the notebooks under smoke and rewrite the goldens")
    up.add_argument("--only", nargs="+", metavar="NN", help="only these notebooks (03, 03_cnn_solutions...)")
    co = commands.add_parser("compose", help="write the notebooks nbval runs into OUT/notebooks/")
    co.add_argument("out", type=Path)
    co.add_argument("--only", nargs="+", metavar="NN")
    co.add_argument("--allow-stale", action="store_true",
                    help="keep a changed cell's old outputs instead of failing (regress-selftest)")
    commands.add_parser("summary", help="compared and ignored code cells per notebook")
    commands.add_parser("prepare", help="prepare the smoke split into DOGSCATS_DATA, as the unit tests do")
    rec = commands.add_parser("records", help="compare a run's records with reference/<profile>/records")
    rec.add_argument("results_dir", type=Path)
    rec.add_argument("--profile", default=PROFILE)
    args = parser.parse_args(argv)
    if args.command == "update":
        return update(args.only)
    if args.command == "compose":
        try:
            written = compose(args.out, only=args.only, allow_stale=args.allow_stale)
        except StaleGoldenError as error:
            print(error, file=sys.stderr)
            return 1
        print(f"goldens: {len(written)} notebooks composed in {args.out / 'notebooks'}; "
              f"run nbval with IPYTHONDIR={args.out / 'ipython'}")
        return 0
    if args.command == "prepare":
        prepare_test_data(dict(os.environ))
        return 0
    if args.command == "summary":
        print("\n".join(summary_lines()))
        return 0
    problems = compare_records(args.results_dir, args.profile)
    for problem in problems:
        print(f"records: {problem}", file=sys.stderr)
    print(f"records: {'differ from' if problems else 'agree with'} reference/{args.profile}/records "
          f"on {', '.join(STABLE_RECORD_FIELDS)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
