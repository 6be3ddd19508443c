"""Run the whole course headless: ``make course`` (``python -m utils.runner``).

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
   - ``skipped``: a cell raised :class:`utils.config.LessonSkipped` (its message
     starts with :data:`utils.config.SKIP_MARKER`), e.g. VGG16 without the
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
   is a SHA-256 over the notebook file, every ``utils/*.py`` (but this
   ``runner.py``, which no notebook imports), the profile's
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

    python -m utils.runner [--profile smoke|sample|full] [--force] [--only 03 07]
                           [--timeout SECONDS]

The logic is testable without Jupyter: :func:`run_course` takes the function
that executes one notebook (``executor``), the data check and the HTML
exporter as arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import dataclasses
import html
import json
import os
import sys
import signal
import threading
import time
from pathlib import Path
from typing import Callable

from utils import config
from utils.files import atomic_write, remove_stale_temporaries
from utils.runprogress import Progress, epoch_of  # noqa: F401  (re-exported)
from utils.runstate import (  # noqa: F401  (re-exported: the runner's public names)
    DATA_NOTEBOOK, INPUT_NAMES, STATE_FILE, ProfileLock, RunInProgressError, changed_inputs,
    environment_versions, fingerprint, keras_backend_name, keras_weights_listing, key_of,
    load_state, save_state, weights_digest)
from utils.runstate import now as _now

OK, FAILED, SKIPPED, NOT_RUN = "ok", "failed", "skipped", "not run"

#: Notebooks every later one depends on: when one fails, the run stops there.
PREREQUISITES = ("00", "01")

#: Default seconds a single cell may run, per profile (``None``: no limit).
CELL_TIMEOUT = {"smoke": 900, "sample": 3 * 3600, "full": None}

#: Set by :func:`main`'s Ctrl-C handler: whatever error an interrupted
#: notebook then ends with, the run stops as interrupted, not as failed.
INTERRUPTED = threading.Event()


@dataclasses.dataclass
class Outcome:
    """What executing one notebook gave (returned by an *executor*).

    Attributes
    ----------
    notebook : nbformat.NotebookNode or None
        The executed notebook with its outputs (up to the failing cell), or
        None when nothing could be executed (e.g. the kernel did not start).
    status : str
        :data:`OK`, :data:`FAILED` or :data:`SKIPPED`.
    cell : int or None
        1-based position (among all cells) of the cell that failed or skipped.
    error : str or None
        ``"ValueError: ..."`` for a failure.
    reason : str or None
        The skip reason (message without :data:`utils.config.SKIP_MARKER`).
    """

    notebook: object
    status: str
    cell: int | None = None
    error: str | None = None
    reason: str | None = None


@dataclasses.dataclass
class NotebookResult:
    """One line of the summary."""

    name: str
    status: str
    seconds: float = 0.0
    cached: bool = False
    cell: int | None = None
    error: str | None = None
    reason: str | None = None
    ipynb: Path | None = None
    html: Path | None = None

    def note(self) -> str:
        """Short text for the summary's last column."""
        if self.status == FAILED:
            where = f"cell {self.cell}: " if self.cell else ""
            return f"{where}{self.error or 'error'}"
        if self.status == SKIPPED:
            return self.reason or ""
        if self.status == NOT_RUN:
            return self.reason or ""
        return "unchanged since the last run (FORCE=1 to re-run)" if self.cached else ""


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


def export_html(notebook) -> str:
    """HTML of an executed notebook (nbconvert's ``lab`` template)."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(notebook)
    return body


def _notebook_json(notebook) -> str:
    import nbformat

    return nbformat.writes(notebook) + "\n"


# -- executing one notebook with nbclient ----------------------------------------

def _current_env_kernel_manager_class():
    """An AsyncKernelManager whose ``python3`` is this very Python (as nbval's current-env).

    A user-wide ``python3`` kernel spec could point at another Python; this one
    always runs the kernel with ``sys.executable``, with :data:`KERNEL_ARGUMENTS`. Passed to nbclient as its
    ``kernel_manager_class``, so nbclient owns the kernel and shuts it down
    after each notebook.
    """
    import ipykernel.kernelspec
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class CurrentEnvKernelSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            if kernel_name == "python3":
                spec = ipykernel.kernelspec.get_kernel_dict()
                spec["argv"] = list(spec["argv"]) + KERNEL_ARGUMENTS
                return self.kernel_spec_class(resource_dir=ipykernel.kernelspec.RESOURCES, **spec)
            return super().get_kernel_spec(kernel_name)

    class CurrentEnvKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _current_env_specs(self):
            return CurrentEnvKernelSpecs(data_dir=self.data_dir)

    return CurrentEnvKernelManager


def outcome_of_error(ename: str | None, evalue: str | None, cell: int | None,
                     notebook=None) -> Outcome:
    """Classify a cell's error as a skip (:data:`config.SKIP_MARKER`) or a failure."""
    evalue = (evalue or "").strip()
    if evalue.startswith(config.SKIP_MARKER):
        return Outcome(notebook, SKIPPED, cell=cell, reason=evalue[len(config.SKIP_MARKER):].strip())
    first_line = evalue.splitlines()[0] if evalue else ""
    return Outcome(notebook, FAILED, cell=cell, error=f"{ename or 'Error'}: {first_line}".rstrip(": "))


def clean_skip_outputs(notebook) -> int:
    """Show a skip as its message alone in the executed notebook (and so in its HTML).

    The traceback of an error output whose value starts with
    :data:`utils.config.SKIP_MARKER` (a :class:`utils.config.LessonSkipped`) is
    replaced by the one line ``LessonSkipped: <reason>``: the chained errors
    behind it (socket errors of a failed download...) say nothing the reason
    does not. Returns how many outputs were cleaned.
    """
    cleaned = 0
    for cell in getattr(notebook, "cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            if output.get("output_type") == "error" and \
                    str(output.get("evalue", "")).startswith(config.SKIP_MARKER):
                output["traceback"] = [f"{output.get('ename', 'LessonSkipped')}: {output['evalue']}"]
                cleaned += 1
    return cleaned


#: Extra arguments of the kernels ``make course`` starts: output written by C/C++
#: libraries straight to the process's stdout/stderr (TensorFlow's start-up logs:
#: oneDNN, CUDA, CPU instructions, which ``TF_CPP_MIN_LOG_LEVEL`` does not stop
#: since TensorFlow prints them before its logging starts) goes to the kernel's
#: log (``results/<profile>/notebooks/logs/``), not into the notebook. Python's
#: own output, warnings included, still shows in the notebook.
KERNEL_ARGUMENTS = ["--IPKernelApp.capture_fd_output=False"]

#: Environment set for the kernels ``make course`` starts (``make lab`` exports the
#: same): TensorFlow's C++ INFO/WARNING logs (later ones; see :data:`KERNEL_ARGUMENTS`
#: for those of its start-up) would print in red in the notebooks.
#: A value already in the environment wins, so ``TF_CPP_MIN_LOG_LEVEL=0 make course``
#: shows them again (the kernels' own logs: ``results/<profile>/notebooks/logs/``).
QUIET_KERNEL_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "GRPC_VERBOSITY": "ERROR",
                    "GLOG_minloglevel": "2"}


def quiet_kernel_environment(environ=None) -> dict:
    """Set :data:`QUIET_KERNEL_ENV` in ``environ`` (default ``os.environ``) where unset; return what was set."""
    environ = os.environ if environ is None else environ
    added = {k: v for k, v in QUIET_KERNEL_ENV.items() if k not in environ}
    environ.update(added)
    return added


def nbclient_executor(path: Path, *, cwd: Path, timeout: int | None,
                      progress: Callable[[int, int], None], log_path: Path | None = None) -> Outcome:
    """Execute one notebook with nbclient in a fresh ``python3`` kernel of this environment.

    Parameters
    ----------
    path : pathlib.Path
        The notebook.
    cwd : pathlib.Path
        The kernel's working directory.
    timeout : int or None
        Seconds one cell may run (None: no limit).
    progress : callable(cell_number, cell_count[, detail=str])
        Called as each code cell starts (1-based among code cells), and with
        ``detail="epoch 3/30"`` when the running cell prints Keras' ``Epoch 3/30``
        (only if the callable accepts ``detail``).
    log_path : pathlib.Path, optional
        Where the kernel process's own stdout/stderr go (TensorFlow's start-up
        messages, warnings); default: this process's. Cell outputs are in the
        notebook either way.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    notebook = nbformat.read(path, as_version=4)
    code_cells = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    current = {"index": None}

    def on_cell_start(cell, cell_index):
        current["index"] = cell_index
        if cell.cell_type == "code":
            progress(code_cells.index(cell_index) + 1, len(code_cells))

    def on_notebook_start(notebook):
        # nbclient answers Ctrl-C by shutting the kernel down, and the run would
        # then see a failure; do the same, but remember it was an interruption.
        def on_ctrl_c():
            INTERRUPTED.set()
            atexit.unregister(client._cleanup_kernel)
            client._async_cleanup_kernel_future = asyncio.ensure_future(client._async_cleanup_kernel())

        try:
            asyncio.get_event_loop().add_signal_handler(signal.SIGINT, on_ctrl_c)
        except (RuntimeError, NotImplementedError):  # not the main thread, or Windows
            pass

    def on_stream(text):
        epoch = epoch_of(text)
        if epoch and current["index"] in code_cells:
            try:
                progress(code_cells.index(current["index"]) + 1, len(code_cells), detail=epoch)
            except TypeError:  # a progress callable without ``detail``
                pass

    class WatchingClient(NotebookClient):
        """Also looks at each stream output as it arrives (for Keras' epoch lines)."""

        def output(self, outs, msg, display_id, cell_index):
            if msg.get("msg_type") == "stream":
                on_stream(msg.get("content", {}).get("text", ""))
            return super().output(outs, msg, display_id, cell_index)

    client = WatchingClient(notebook, kernel_manager_class=_current_env_kernel_manager_class(),
                            kernel_name="python3", timeout=timeout,
                            resources={"metadata": {"path": str(cwd)}},
                            on_cell_start=on_cell_start, on_notebook_start=on_notebook_start)
    handler = signal.getsignal(signal.SIGINT)
    log = None
    if log_path is not None:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        log = open(log_path, "w", encoding="utf-8")
    try:
        client.execute(**({"stdout": log, "stderr": log} if log is not None else {}))
    except Exception as error:
        if INTERRUPTED.is_set() or getattr(error, "ename", None) == "KeyboardInterrupt":
            raise KeyboardInterrupt from None  # Ctrl-C, seen by nbclient or by the kernel
        cell = None if current["index"] is None else current["index"] + 1
        if isinstance(error, CellExecutionError):
            outcome = outcome_of_error(error.ename, error.evalue, cell, notebook)
            if outcome.status == SKIPPED:
                clean_skip_outputs(notebook)
            return outcome
        if isinstance(error, CellTimeoutError):
            return Outcome(notebook, FAILED, cell=cell, error=f"timed out: the cell ran longer "
                           f"than {timeout} s (--timeout to change)")
        if isinstance(error, DeadKernelError):
            where = f"; its log: {log_path}" if log_path is not None else ""
            return Outcome(notebook, FAILED, cell=cell,
                           error=f"the kernel died (out of memory?): {error}{where}")
        raise
    finally:
        if log is not None:
            log.close()
        signal.signal(signal.SIGINT, handler)  # nbclient leaves its own behind
    if INTERRUPTED.is_set():
        raise KeyboardInterrupt
    return Outcome(notebook, OK)


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
            weights = weights_digest()
            reusable = (previous.get("status") == OK or (previous.get("status") == SKIPPED
                                                         and previous.get("weights") == weights))
            if (not force and previous.get("key") == key and reusable and ipynb_out.is_file()):
                result = NotebookResult(name, previous["status"], previous.get("seconds", 0.0),
                                        cached=True, cell=previous.get("cell"),
                                        reason=previous.get("reason"), ipynb=ipynb_out,
                                        html=html_out if html_out.is_file() else None)
                progress.done(f"{label}: {result.status}, unchanged (not executed again)")
                results.append(result)
                earlier = key
                continue

            if force:
                why = "forced"
            elif previous.get("status") not in (OK, SKIPPED):
                why = "first run" if not previous else f"last run {previous.get('status', 'unfinished')}"
            elif previous.get("key") != key:
                why = "changed: " + (", ".join(changed_inputs(previous, before)) or "inputs")
            elif not reusable:
                why = "skipped before; Keras' weights cache changed"
            else:
                why = "its executed copy is missing"
            progress.start(f"{label} ({why})")
            progress.label = label
            started = time.monotonic()
            try:
                outcome = executor(path, cwd=notebooks_dir, timeout=timeout, progress=progress.cell,
                                   log_path=out_dir / "logs" / f"{name}.log")
            except KeyboardInterrupt:
                raise
            except Exception as error:  # the executor itself broke (e.g. no kernel)
                if INTERRUPTED.is_set():
                    raise KeyboardInterrupt from error
                outcome = Outcome(None, FAILED, error=f"{type(error).__name__}: {error}")
            if INTERRUPTED.is_set():
                raise KeyboardInterrupt
            seconds = round(time.monotonic() - started, 1)
            result = NotebookResult(name, outcome.status, seconds, cell=outcome.cell,
                                    error=outcome.error, reason=outcome.reason)
            if outcome.notebook is not None:
                atomic_write(ipynb_out, _notebook_json(outcome.notebook))
                result.ipynb = ipynb_out
                try:
                    atomic_write(html_out, html_exporter(outcome.notebook))
                    result.html = html_out
                except Exception as error:  # an HTML problem must not hide the run's status
                    progress.done(f"{label}: could not write HTML: {error}")
            after = fingerprint(path, cfg, earlier, project_root)
            same_code = all(after[k] == before[k] for k in ("notebook", "utils", "profile"))
            if outcome.status in (OK, SKIPPED) and same_code:
                key = key_of(after)
                state[name] = {"key": key, "status": outcome.status, "seconds": seconds,
                               "cell": outcome.cell, "reason": outcome.reason,
                               "finished": _now(), "inputs": after, "weights": weights_digest()}
            else:
                key = key_of({"failed": key})
                state[name] = {"status": outcome.status, "inputs": before, "finished": _now()}
            save_state(state_path, cfg.name, state)
            earlier = key
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


def _all_results(every, results, state, out_dir) -> list[NotebookResult]:
    """This run's results plus the last known state of notebooks not run now (``--only``)."""
    by_name = {r.name: r for r in results}
    merged = []
    for path in every:
        name = path.stem
        if name in by_name:
            merged.append(by_name[name])
        elif name in state:
            entry = state[name]
            ipynb, page = out_dir / f"{name}.ipynb", out_dir / f"{name}.html"
            merged.append(NotebookResult(name, entry.get("status", OK), entry.get("seconds", 0.0),
                                         cached=True, reason=entry.get("reason"),
                                         ipynb=ipynb if ipynb.is_file() else None,
                                         html=page if page.is_file() else None))
    return merged


def write_index_page(cfg: config.Profile, results: list[NotebookResult], out_dir: Path) -> Path:
    """``index.html``: a link to each executed notebook, its status, and the results table."""
    from utils import results as records_module

    rows = []
    for r in results:
        links = []
        if r.html is not None:
            links.append(f'<a href="{html.escape(r.html.name)}">HTML</a>')
        if r.ipynb is not None:
            links.append(f'<a href="{html.escape(r.ipynb.name)}">notebook</a>')
        title = (f'<a href="{html.escape(r.html.name)}">{html.escape(r.name)}</a>'
                 if r.html is not None else html.escape(r.name))
        rows.append(f"<tr class='{r.status.replace(' ', '-')}'><td>{title}</td>"
                    f"<td>{html.escape(r.status)}</td><td>{r.seconds:.0f}</td>"
                    f"<td>{' · '.join(links)}</td><td>{html.escape(r.note())}</td></tr>")
    records, skipped = records_module.load_records_report(cfg)
    if records:
        table = records_module.comparison_table(records).to_html(
            index=False, na_rep="—", float_format=lambda x: f"{x:.3f}", border=0)
    else:
        table = "<p>No result records yet: the training notebooks write them.</p>"
    anchors = records_module.anchors_table().to_html(index=False, na_rep="—", border=0)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Dogs vs. Cats with Keras · executed course ({html.escape(cfg.name)})</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .3em .7em; text-align: left; }}
tr.failed td, tr.not-run td {{ color: #b00; }} tr.skipped td {{ color: #a60; }}
</style></head><body>
<h1>Dogs vs. Cats with Keras · executed notebooks</h1>
<p>Profile <b>{html.escape(cfg.name)}</b> · page written {html.escape(_now())} by
<code>make course</code>. Each notebook ran top to bottom; open the HTML to present it.</p>
<table><tr><th>notebook</th><th>status</th><th>seconds</th><th>files</th><th>note</th></tr>
{''.join(rows)}
</table>
<h2>Our results ({html.escape(cfg.name)} profile)</h2>
{table}
<h2>Published figures (anchors: theirs, not ours)</h2>
{anchors}
</body></html>
"""
    return atomic_write(Path(out_dir) / "index.html", page)


def format_summary(results: list[NotebookResult], out_dir: Path, total_seconds: float) -> str:
    """The table printed at the end of a run."""
    width = max([len(r.name) for r in results] + [8])
    lines = ["", f"{'notebook':<{width}}  {'status':<8}  {'seconds':>7}  note"]
    indent = " " * (width + 21)
    for r in results:
        seconds = f"{r.seconds:.0f}" + ("*" if r.cached else "")
        note = ("\n" + indent).join(r.note().splitlines())  # a skip's how-to keeps its lines
        lines.append(f"{r.name:<{width}}  {r.status:<8}  {seconds:>7}  {note}")
    counts = {s: sum(r.status == s for r in results) for s in (OK, SKIPPED, FAILED, NOT_RUN)}
    lines.append("")
    if any(r.cached for r in results):
        lines.append("* not executed again: time of the last run")
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items() if n)
                 + f" · {total_seconds:.0f} s in all")
    lines.append(f"Executed notebooks and HTML: {out_dir}")
    lines.append(f"Index page: {out_dir / 'index.html'}")
    return "\n".join(lines)


def exit_status(results: list[NotebookResult]) -> int:
    """0 when nothing failed (skips are fine), 1 otherwise."""
    return 1 if any(r.status in (FAILED, NOT_RUN) for r in results) else 0


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
    parser = argparse.ArgumentParser(prog="python -m utils.runner",
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
