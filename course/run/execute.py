"""Executing one notebook for ``make course``: nbclient in this environment's kernel.

:func:`nbclient_executor` runs a notebook in a fresh ``python3`` kernel of the
current Python (ipykernel's own kernel spec, plus :data:`KERNEL_ARGUMENTS`),
reports each cell and Keras' epoch lines to a progress callable, and returns
an :class:`Outcome`: :data:`OK`, :data:`FAILED` (with the cell and the error)
or :data:`SKIPPED` (a :class:`utils.errors.LessonSkipped`, with its reason).
Ctrl-C sets :data:`INTERRUPTED`. :func:`export_html` renders the executed copy.
"""

from __future__ import annotations

import asyncio
import atexit
import dataclasses
import os
import signal
import threading
from pathlib import Path
from typing import Callable

from utils import errors, settings
from course.run.progress import epoch_of

OK, FAILED, SKIPPED, NOT_RUN = "ok", "failed", "skipped", "not run"

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
        The skip reason (message without :data:`utils.errors.SKIP_MARKER`).
    """

    notebook: object
    status: str
    cell: int | None = None
    error: str | None = None
    reason: str | None = None



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
    """Classify a cell's error as a skip (:data:`errors.SKIP_MARKER`) or a failure."""
    evalue = (evalue or "").strip()
    if evalue.startswith(errors.SKIP_MARKER):
        return Outcome(notebook, SKIPPED, cell=cell, reason=evalue[len(errors.SKIP_MARKER):].strip())
    first_line = evalue.splitlines()[0] if evalue else ""
    return Outcome(notebook, FAILED, cell=cell, error=f"{ename or 'Error'}: {first_line}".rstrip(": "))


def clean_skip_outputs(notebook) -> int:
    """Show a skip as its message alone in the executed notebook (and so in its HTML).

    The traceback of an error output whose value starts with
    :data:`utils.errors.SKIP_MARKER` (a :class:`utils.errors.LessonSkipped`) is
    replaced by the one line ``LessonSkipped: <reason>``: the chained errors
    behind it (socket errors of a failed download...) say nothing the reason
    does not. Returns how many outputs were cleaned.
    """
    cleaned = 0
    for cell in getattr(notebook, "cells", []):
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            if output.get("output_type") == "error" and \
                    str(output.get("evalue", "")).startswith(errors.SKIP_MARKER):
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
    """Set :data:`QUIET_KERNEL_ENV` and the settings' headless values (:func:`utils.settings.apply_headless`) where unset; return what was set."""
    environ = os.environ if environ is None else environ
    added = {k: v for k, v in QUIET_KERNEL_ENV.items() if k not in environ}
    environ.update(added)
    added.update(settings.apply_headless(environ))   # the course's own: no TensorBoard server (03), ...
    return added


def _watching_client(notebook, *, cwd: Path, timeout: int | None,
                     progress: Callable[[int, int], None]):
    """An nbclient client that reports each code cell and Keras epoch to ``progress``.

    Returns
    -------
    (nbclient.NotebookClient, dict)
        The client, and ``{"index": i}``: the index of the cell running now
        (None before the first).
    """
    from nbclient import NotebookClient

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
    return client, current


def _outcome_of_execution_error(error: Exception, notebook, cell: int | None, timeout: int | None,
                                log_path: Path | None) -> Outcome | None:
    """What an error nbclient raised means: a skip or failure in ``cell``; None for another error."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

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
    return None


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

    notebook = nbformat.read(path, as_version=4)
    client, current = _watching_client(notebook, cwd=cwd, timeout=timeout, progress=progress)
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
        outcome = _outcome_of_execution_error(error, notebook, cell, timeout, log_path)
        if outcome is None:
            raise
        return outcome
    finally:
        if log is not None:
            log.close()
        signal.signal(signal.SIGINT, handler)  # nbclient leaves its own behind
    if INTERRUPTED.is_set():
        raise KeyboardInterrupt
    return Outcome(notebook, OK)


# -- the course -------------------------------------------------------------------
