"""Progress bars: in a Jupyter kernel without ipywidgets, tqdm's text bar and no warning in the lesson."""

from __future__ import annotations

import sys
import types
import warnings

import pytest
import tqdm.notebook
import tqdm.std

from utils import progress


@pytest.fixture
def kernel_without_ipywidgets(monkeypatch):
    """What tqdm.autonotebook sees inside nbval's kernel or a bare Jupyter: a kernel, no IProgress."""
    shell = type("ZMQInteractiveShell", (), {})()
    monkeypatch.setitem(sys.modules, "ipykernel.zmqshell", types.ModuleType("ipykernel.zmqshell"))
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    monkeypatch.setattr(tqdm.notebook, "IProgress", None)
    for name in ("tqdm.auto", "tqdm.autonotebook"):      # re-imported, so they look again
        monkeypatch.delitem(sys.modules, name, raising=False)


def test_plain_tqdm_auto_warns_there(kernel_without_ipywidgets):
    """The case bar() exists for: tqdm.auto prints "IProgress not found" into the output."""
    with pytest.warns(tqdm.std.TqdmWarning, match="IProgress not found"):
        __import__("tqdm.auto")


def test_bar_uses_the_text_bar_without_a_warning(kernel_without_ipywidgets):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with progress.bar(range(3), disable=True) as bar:
            assert list(bar) == [0, 1, 2]
    assert not isinstance(bar, tqdm.notebook.tqdm_notebook)   # the text bar (tqdm.auto's asyncio subclass)
