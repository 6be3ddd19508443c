"""Run the whole course headless: ``make course`` (``python -m course.run.runner``).

What it does, in order:

1. **Checks the data** with ``data.check_available(cfg)``. When no prepared
   data and no raw source exist it prints how to get the data and exits with
   status 2 before executing anything.
2. **Executes** ``notebooks/NN_*.ipynb`` in number order with nbclient (kernel
   ``python3`` of the current Python environment, working directory
   ``notebooks/``, a per-cell timeout), showing which notebook, which cell and
   the elapsed time.
3. **Reports** each notebook as

   - ``ok``: every cell ran;
   - ``skipped``: a cell raised :class:`utils.errors.LessonSkipped` (its message
     starts with :data:`utils.errors.SKIP_MARKER`), e.g. VGG16 without the
     ImageNet weights; the reason, which says what to do, is shown and the run
     goes on;
   - ``failed``: a cell raised another error, or timed out, or the kernel died;
     the failing cell's number and the error are shown;
   - ``not run``: a notebook that every later one depends on (00 setup,
     01 data preparation: :data:`PREREQUISITES`) failed, so the rest were not
     started. A failure in any *other* notebook does not stop the run: each
     later notebook trains or loads what it needs itself, and 07 lists what
     is missing.

   The exit status is 0 when nothing failed (skips included), 1 when a notebook
   failed, 2 when the data is missing, 130 when interrupted.
4. **Writes instructor copies**: each executed notebook (``.ipynb``, with its
   outputs, also for a failed or skipped one up to the cell that stopped it)
   and its HTML to ``results/<profile>/notebooks/``, plus ``index.html`` linking
   them with the status table and the results table of notebook 07. Every file
   is written to a temporary name and then renamed, so an interrupted run
   leaves no half-written output.
5. **Resumes**: a notebook is not executed again when its *key* is the one of
   its last ok (or skipped) run and its executed copy is still there. The key
   is a SHA-256 over the notebook file, every ``utils/*.py`` (the runner lives
   in :mod:`course`, so changing it re-runs nothing), the profile's
   settings, the data manifest (``data/dogscats/manifest.csv``, for 01 and
   later; 01's key is taken after it ran, so the manifest it writes does not
   make it run again, and a deleted one does) and the keys of all earlier
   notebooks (so a change in 03 re-runs 04-07 too). A *skipped* notebook is
   also tried again when the files in Keras' download cache
   (``~/.keras/models``) or ``DOGSCATS_VGG16_WEIGHTS`` change, e.g. once the
   ImageNet weights are installed.
   The summary says why a notebook runs again. ``--force`` / ``FORCE=1`` executes
   everything. The state lives in ``results/<profile>/notebooks/state.json``:
   one per profile, so switching profile never mixes runs.

Usage::

    python -m course.run.runner [--profile smoke|sample|full] [--force] [--only 03 07]
                           [--timeout SECONDS]

The logic is testable without Jupyter: :func:`run_course` takes the function
that executes one notebook (``executor``), the data check and the HTML
exporter as arguments.

Executing one notebook is :mod:`course.run.execute`; the summary and ``index.html``
are :mod:`course.run.report`; resume keys and the lock are :mod:`course.run.state`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from typing import Callable

from utils import config
from utils.files import atomic_write, remove_stale_temporaries
from course.run.execute import (  # noqa: F401  (re-exported: the runner's public names)
    FAILED, INTERRUPTED, KERNEL_ARGUMENTS, NOT_RUN, OK, QUIET_KERNEL_ENV, SKIPPED, Outcome,
    _notebook_json, clean_skip_outputs, export_html, nbclient_executor, outcome_of_error,
    quiet_kernel_environment)
from course.run.progress import Progress, epoch_of  # noqa: F401  (re-exported)
from course.run.report import (  # noqa: F401  (re-exported)
    NotebookResult, _all_results, exit_status, format_summary, write_index_page)
from course.run.state import (  # noqa: F401  (re-exported: the runner's public names)
    DATA_NOTEBOOK, INPUT_NAMES, STATE_FILE, ProfileLock, RunInProgressError, changed_inputs,
    environment_versions, fingerprint, keras_backend_name, keras_weights_listing, key_of,
    load_state, save_state, weights_digest)
from course.run.state import now as _now

#: Notebooks every later one depends on: when one fails, the run stops there.
PREREQUISITES = ("00", "01")

#: Default seconds a single cell may run, per profile (``None``: no limit).
CELL_TIMEOUT = {"smoke": 900, "sample": 3 * 3600, "full": None}


# -- helpers --------------------------------------------------------------------

def find_notebooks(folder: Path, only=None) -> list[Path]:
    """``NN_*.ipynb`` in ``folder``, in number order; ``only``: numbers to keep.

    Raises
    ------
    ValueError
        If ``only`` names a number no notebook has.
    """
    found = sorted(p for p in Path(folder).glob("[0-9][0-9]_*.ipynb") if p.is_file())
    if only:
        wanted = {str(n).zfill(2) for n in only}
        known = {p.name[:2] for p in found}
        unknown = sorted(wanted - known)
        if unknown:
            raise ValueError(f"no notebook numbered {', '.join(unknown)} in {folder}")
        found = [p for p in found if p.name[:2] in wanted]
    return found



# -- the course -------------------------------------------------------------------

def run_course(cfg: config.Profile, *, notebooks_dir: Path | None = None, only=None,
               force: bool = False, executor: Callable = nbclient_executor,
               html_exporter: Callable = export_html, timeout: int | None = None,
               project_root: Path = config.PROJECT_ROOT, progress: Progress | None = None,
               write_index: bool = True) -> list[NotebookResult]:
    """Execute the course's notebooks in order and write their copies (see module docstring).

    Parameters
    ----------
    cfg : utils.config.Profile
        The profile; outputs go to ``cfg.profile_results_dir / "notebooks"``.
    notebooks_dir : pathlib.Path, optional
        Default ``<project_root>/notebooks``; also the kernels' working directory.
    only : iterable of str, optional
        Notebook numbers to run (``["03", "07"]``); others are left as they are.
    force : bool
        Execute even notebooks whose inputs did not change.
    executor : callable(path, *, cwd, timeout, progress, log_path) -> Outcome
        Executes one notebook (default :func:`nbclient_executor`); the kernel's
        own messages go to ``results/<profile>/notebooks/logs/NN_name.log``.
    html_exporter : callable(notebook) -> str
        Default :func:`export_html`.
    timeout : int, optional
        Seconds per cell (default :data:`CELL_TIMEOUT` of the profile).

    Returns
    -------
    list of NotebookResult
        One per notebook considered, in order.

    Raises
    ------
    KeyboardInterrupt
        Passed on after the state of the notebooks already finished is saved;
        the interrupted notebook leaves no output.
    RunInProgressError
        If another run holds the same profile's outputs.
    ValueError
        If ``only`` names a number no notebook has.
    """
    out_dir = cfg.profile_results_dir / "notebooks"
    find_notebooks(Path(notebooks_dir or Path(project_root) / "notebooks"), only)  # check --only first
    with ProfileLock(out_dir):
        # what a killed run may have left: hidden temporaries of atomic writes (never read)
        for folder in (out_dir, cfg.profile_results_dir, cfg.models_dir):
            remove_stale_temporaries(folder)
        return _run_locked(cfg, notebooks_dir=notebooks_dir, only=only, force=force,
                           executor=executor, html_exporter=html_exporter, timeout=timeout,
                           project_root=project_root, progress=progress, write_index=write_index)


def _reusable(previous: dict, weights: str) -> bool:
    """Whether a last run may stand: ok, or skipped while Keras' weights cache is what it was then."""
    return previous.get("status") == OK or (previous.get("status") == SKIPPED
                                            and previous.get("weights") == weights)


def _cached_result(name: str, previous: dict, ipynb_out: Path, html_out: Path) -> NotebookResult:
    """The last run's result, reported again for a notebook that is not executed again."""
    return NotebookResult(name, previous["status"], previous.get("seconds", 0.0),
                          cached=True, cell=previous.get("cell"),
                          reason=previous.get("reason"), ipynb=ipynb_out,
                          html=html_out if html_out.is_file() else None)


def _why_run(previous: dict, before: dict, key: str, force: bool, reusable: bool) -> str:
    """Why a notebook is executed (again), as the progress line says it."""
    if force:
        return "forced"
    if previous.get("status") not in (OK, SKIPPED):
        return "first run" if not previous else f"last run {previous.get('status', 'unfinished')}"
    if previous.get("key") != key:
        return "changed: " + (", ".join(changed_inputs(previous, before)) or "inputs")
    if not reusable:
        return "skipped before; Keras' weights cache changed"
    return "its executed copy is missing"


def _execute(executor: Callable, path: Path, **kwargs) -> Outcome:
    """``executor(path, **kwargs)``; an executor that breaks (e.g. no kernel) is a failed outcome.

    Raises
    ------
    KeyboardInterrupt
        When the run was interrupted, during the notebook or as it ended.
    """
    try:
        outcome = executor(path, **kwargs)
    except KeyboardInterrupt:
        raise
    except Exception as error:  # the executor itself broke (e.g. no kernel)
        if INTERRUPTED.is_set():
            raise KeyboardInterrupt from error
        outcome = Outcome(None, FAILED, error=f"{type(error).__name__}: {error}")
    if INTERRUPTED.is_set():
        raise KeyboardInterrupt
    return outcome


def _write_copies(outcome: Outcome, result: NotebookResult, ipynb_out: Path, html_out: Path,
                  html_exporter: Callable, progress: Progress, label: str) -> None:
    """Write the executed notebook and its HTML, and note them in ``result``.

    An HTML problem is reported and does not hide the run's status.
    """
    if outcome.notebook is None:
        return
    atomic_write(ipynb_out, _notebook_json(outcome.notebook))
    result.ipynb = ipynb_out
    try:
        atomic_write(html_out, html_exporter(outcome.notebook))
        result.html = html_out
    except Exception as error:  # an HTML problem must not hide the run's status
        progress.done(f"{label}: could not write HTML: {error}")


def _record_run(state: dict, name: str, outcome: Outcome, seconds: float, before: dict,
                after: dict, key: str) -> str:
    """Store the run in ``state``; return the key the later notebooks chain.

    Only an ok or skipped run whose code did not change while it ran can be
    reused; any other run gets a key no later fingerprint matches.
    """
    same_code = all(after[k] == before[k] for k in ("notebook", "utils", "profile"))
    if outcome.status in (OK, SKIPPED) and same_code:
        key = key_of(after)
        state[name] = {"key": key, "status": outcome.status, "seconds": seconds,
                       "cell": outcome.cell, "reason": outcome.reason,
                       "finished": _now(), "inputs": after, "weights": weights_digest()}
        return key
    # not reusable (failed, or the code changed while it ran), but it did take this long
    state[name] = {"status": outcome.status, "seconds": seconds, "inputs": before,
                   "finished": _now()}
    return key_of({"failed": key})


def _run_locked(cfg, *, notebooks_dir, only, force, executor, html_exporter, timeout,
                project_root, progress, write_index) -> list[NotebookResult]:
    notebooks_dir = Path(notebooks_dir or Path(project_root) / "notebooks")
    out_dir = cfg.profile_results_dir / "notebooks"
    state_path = out_dir / STATE_FILE
    state = load_state(state_path, cfg.name)
    timeout = CELL_TIMEOUT.get(cfg.name) if timeout is None else timeout
    progress = progress or Progress()
    every = find_notebooks(notebooks_dir)
    selected = {p.name for p in find_notebooks(notebooks_dir, only)}
    results: list[NotebookResult] = []
    earlier = ""          # chain of the keys of the notebooks before this one
    blocked_by = None     # a failed prerequisite
    try:
        for position, path in enumerate(every, start=1):
            name = path.stem
            previous = state.get(name, {})
            if path.name not in selected:
                # its last key already chains the ones before it
                earlier = previous.get("key") or key_of({"never run": earlier})
                continue
            label = f"[{position}/{len(every)}] {name}"
            ipynb_out, html_out = out_dir / f"{name}.ipynb", out_dir / f"{name}.html"
            if blocked_by is not None:
                result = NotebookResult(name, NOT_RUN, reason=f"{blocked_by} failed; fix it first")
                progress.done(f"{label}: not run ({blocked_by} failed)")
                results.append(result)
                continue
            before = fingerprint(path, cfg, earlier, project_root)
            key = key_of(before)
            reusable = _reusable(previous, weights_digest())
            if (not force and previous.get("key") == key and reusable and ipynb_out.is_file()):
                result = _cached_result(name, previous, ipynb_out, html_out)
                progress.done(f"{label}: {result.status}, unchanged (not executed again)")
                results.append(result)
                earlier = key
                continue

            progress.start(f"{label} ({_why_run(previous, before, key, force, reusable)})")
            progress.label = label
            started = time.monotonic()
            outcome = _execute(executor, path, cwd=notebooks_dir, timeout=timeout, progress=progress.cell,
                               log_path=out_dir / "logs" / f"{name}.log")
            seconds = round(time.monotonic() - started, 1)
            result = NotebookResult(name, outcome.status, seconds, cell=outcome.cell,
                                    error=outcome.error, reason=outcome.reason)
            _write_copies(outcome, result, ipynb_out, html_out, html_exporter, progress, label)
            after = fingerprint(path, cfg, earlier, project_root)
            earlier = _record_run(state, name, outcome, seconds, before, after, key)
            save_state(state_path, cfg.name, state)
            progress.done(f"{label}: {result.status} in {seconds:.0f} s"
                          + (f" · {result.note()}" if result.note() else ""))
            results.append(result)
            if result.status == FAILED and name[:2] in PREREQUISITES:
                blocked_by = name
    finally:
        progress.stop()
        if write_index and results:
            try:
                write_index_page(cfg, _all_results(every, results, state, out_dir), out_dir)
            except Exception as error:  # never let the index hide the real outcome
                progress.done(f"could not write index.html: {error}")
    return results




def _check_data(cfg):
    from utils import data

    data.check_available(cfg)


def _data_error_types():
    try:
        from utils import data
    except ImportError:
        return ()
    return tuple(t for t in (getattr(data, "DataNotFoundError", None),) if t)


def main(argv=None, *, executor: Callable = nbclient_executor, check_data: Callable | None = None,
         html_exporter: Callable = export_html, stream=None, notebooks_dir: Path | None = None) -> int:
    """Command line of ``make course``; returns the exit status (see module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m course.run.runner",
                                     description="Execute the course's notebooks headless.")
    parser.add_argument("--profile", choices=config.PROFILE_NAMES,
                        help="smoke | sample | full (default: DOGSCATS_PROFILE, else sample)")
    parser.add_argument("--force", action="store_true",
                        help="execute every notebook, even unchanged ones (also FORCE=1)")
    parser.add_argument("--only", nargs="+", metavar="NN", help="run only these notebook numbers")
    parser.add_argument("--timeout", type=int, default=None,
                        help="seconds one cell may run (default: per profile)")
    args = parser.parse_args(argv)
    stream = stream or sys.stdout
    if args.profile:
        os.environ["DOGSCATS_PROFILE"] = args.profile  # the kernels inherit it
    force = args.force or os.environ.get("FORCE", "").strip().lower() in ("1", "true", "yes")
    try:
        cfg = config.current()
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    quiet_kernel_environment()
    # the kernels run in notebooks/: let them import utils from the project
    root = str(config.PROJECT_ROOT)
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if root not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([root] + [p for p in paths if p])

    check = check_data or _check_data
    try:
        check(cfg)
    except Exception as error:
        if type(error).__name__ in ("DataNotFoundError",) or isinstance(error, _data_error_types()):
            print(f"No data for the course:\n{error}", file=sys.stderr)
            return 2
        raise
    out_dir = cfg.profile_results_dir / "notebooks"
    INTERRUPTED.clear()

    def on_ctrl_c(signum, frame):
        INTERRUPTED.set()
        raise KeyboardInterrupt

    previous_handler = signal.signal(signal.SIGINT, on_ctrl_c)
    print(f"Running the course under profile {cfg.name!r}"
          + (" (forced: every notebook executes)" if force else "")
          + f"; outputs in {out_dir}", file=stream)
    started = time.monotonic()
    try:
        results = run_course(cfg, notebooks_dir=notebooks_dir, only=args.only, force=force,
                             executor=executor,
                             html_exporter=html_exporter, timeout=args.timeout,
                             progress=Progress(stream))
    except (ValueError, RunInProgressError) as error:  # --only names no notebook; a run is on
        print(error, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nInterrupted: finished notebooks are kept; run again to resume.", file=stream)
        return 130
    finally:
        signal.signal(signal.SIGINT, previous_handler)
    print(format_summary(results, out_dir, time.monotonic() - started), file=stream)
    return exit_status(results)


if __name__ == "__main__":
    sys.exit(main())
