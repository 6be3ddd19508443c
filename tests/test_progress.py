"""Progress bars: in a Jupyter kernel without ipywidgets, tqdm's text bar and no warning in the lesson."""

from __future__ import annotations

import sys
import types
import warnings

import pytest
import tqdm.notebook
import tqdm.std

from utils import progress


def _kernel(monkeypatch, ipywidgets: bool):
    """What tqdm.autonotebook sees inside a Jupyter kernel (nbval's, Colab's): with or without ipywidgets."""
    shell = type("ZMQInteractiveShell", (), {"config": {"IPKernelApp": {}}})()
    monkeypatch.setitem(sys.modules, "ipykernel.zmqshell", types.ModuleType("ipykernel.zmqshell"))
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))
    if not ipywidgets:
        monkeypatch.setattr(tqdm.notebook, "IProgress", None)
        monkeypatch.setitem(sys.modules, "ipywidgets", None)            # import ipywidgets -> ImportError
    else:
        monkeypatch.setitem(sys.modules, "ipywidgets", types.ModuleType("ipywidgets"))
    for name in ("tqdm.auto", "tqdm.autonotebook"):      # re-imported, so they look again
        monkeypatch.delitem(sys.modules, name, raising=False)


@pytest.fixture
def kernel_without_ipywidgets(monkeypatch):
    _kernel(monkeypatch, ipywidgets=False)


def test_plain_tqdm_auto_warns_there(kernel_without_ipywidgets):
    """The case bar() exists for: tqdm.auto prints "IProgress not found" into the output."""
    with pytest.warns(tqdm.std.TqdmWarning, match="IProgress not found"):
        __import__("tqdm.auto")


def test_bar_uses_the_text_bar_without_a_warning_or_tqdm_auto(kernel_without_ipywidgets):
    assert not progress.widget_possible()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with progress.bar(range(3), disable=True) as bar:
            assert list(bar) == [0, 1, 2]
    assert not isinstance(bar, tqdm.notebook.tqdm_notebook)
    assert "tqdm.auto" not in sys.modules, "bar() must not import tqdm.auto (its warning is not thread-safe to hide)"


def test_bar_draws_the_widget_where_a_kernel_has_ipywidgets(monkeypatch):
    _kernel(monkeypatch, ipywidgets=True)
    assert progress.widget_possible()
    drawn = []
    monkeypatch.setattr(tqdm.notebook, "tqdm", lambda iterable=None, **kwargs: drawn.append(kwargs) or iterable)
    assert list(progress.bar(range(2), desc="x")) == [0, 1] and drawn == [{"desc": "x"}]


def test_outside_a_kernel_the_text_bar(monkeypatch):
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: None))
    assert not progress.widget_possible()
    with progress.bar(range(2), disable=True) as bar:
        assert type(bar) is tqdm.std.tqdm
