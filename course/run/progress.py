"""The progress line of ``make course``: notebook, cell, elapsed time, training epoch.

On a terminal the line is redrawn in place every :data:`TTY_INTERVAL` seconds
while a cell runs, so a ten-minute training cell shows its time going up (and
the epoch, from Keras' ``Epoch 3/30`` or ``utils.training``'s progress line). When the output is not a
terminal (a log file, CI), one line is printed per cell and, during a long
cell, one more every :data:`LOG_INTERVAL` seconds: a log that moves without
flooding.
"""

from __future__ import annotations

import re
import sys
import threading
import time

#: Seconds between redraws of the line on a terminal.
TTY_INTERVAL = 2.0
#: Seconds between "still running" lines in a log that is not a terminal.
LOG_INTERVAL = 60.0

#: Keras' ``Epoch 3/30`` line, or ``utils.training``'s progress line ``cnn_small: epoch 3/30 [...]``.
_EPOCH = re.compile(r"(?:([\w.-]+): )?[Ee]poch (\d+)/(\d+)")


def epoch_of(text: str) -> str | None:
    """``"epoch 3/30"`` (``"cnn_small epoch 3/30"`` from a progress line) from the last one in ``text``, else None."""
    found = _EPOCH.findall(text or "")
    if not found:
        return None
    model_id, done, total = found[-1]
    return f"{model_id + ' ' if model_id else ''}epoch {done}/{total}"


def format_seconds(seconds: float) -> str:
    """``"17 s"``, ``"3 min 05 s"``, ``"1 h 02 min"``."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class Progress:
    """Prints which notebook, which cell, the elapsed time and the epoch.

    Parameters
    ----------
    stream : file object, optional
        Default ``sys.stdout``. Redrawn in place when it is a terminal.
    interval : float, optional
        Seconds between updates while a cell runs; default :data:`TTY_INTERVAL`
        on a terminal, :data:`LOG_INTERVAL` otherwise.
    """

    def __init__(self, stream=None, interval: float | None = None):
        self.stream = stream or sys.stdout
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.interval = interval or (TTY_INTERVAL if self.tty else LOG_INTERVAL)
        self.started = self.cell_started = time.monotonic()
        self.label = ""
        self.where = ""
        self.detail = ""
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None

    # -- what the runner and the executor call ------------------------------------
    def start(self, label: str) -> None:
        """A notebook starts: print ``label: starting`` and keep the line moving."""
        self.stop()
        self.label = label
        self.started = self.cell_started = time.monotonic()
        self.where, self.detail = "starting", ""
        self._line(f"{label}: starting")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(self._stop,), daemon=True,
                                        name="course-progress")
        self._thread.start()

    def cell(self, number: int, count: int, detail: str | None = None) -> None:
        """Code cell ``number`` of ``count`` starts; or, with ``detail``, it reports progress."""
        if detail is not None:
            if detail != self.detail:
                self.detail = detail
                if self.tty:
                    self._line(self.status())
            return
        self.where, self.detail = f"cell {number}/{count}", ""
        self.cell_started = time.monotonic()
        self._line(self.status())

    def done(self, text: str) -> None:
        """A notebook ended (or was reused): stop the updates, print ``text`` on its own line."""
        self.stop()
        with self._write_lock:
            if self.tty:
                self.stream.write("\r\033[K")
            self.stream.write(text + "\n")
            self.stream.flush()

    def stop(self) -> None:
        """Stop the periodic updates (idempotent)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    # -- the line ----------------------------------------------------------------------
    def status(self, now: float | None = None) -> str:
        """``"[3/8] 03_cnn: cell 20/26 · 10 min 03 s (this cell 9 min 46 s) · epoch 3/30"``."""
        now = time.monotonic() if now is None else now
        text = f"{self.label}: {self.where} · {format_seconds(now - self.started)}"
        if self.where.startswith("cell") and now - self.cell_started >= 1:
            text += f" (this cell {format_seconds(now - self.cell_started)})"
        return text + (f" · {self.detail}" if self.detail else "")

    def _beat(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            self._line(self.status() if self.tty else self.status() + " · still running")

    def _line(self, text: str) -> None:
        with self._write_lock:
            if self.tty:
                self.stream.write("\r\033[K" + text)
            else:
                self.stream.write(text + "\n")
            self.stream.flush()
