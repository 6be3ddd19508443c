"""Progress bars: tqdm's notebook widget where Jupyter can draw it, its text bar elsewhere.

``tqdm.auto`` picks the widget bar in a notebook, but where ``ipywidgets`` is
missing (a bare ``pip install jupyter``, nbval's kernel) it warns
("IProgress not found") into the lesson's output and falls back to the text
bar anyway. :func:`bar` makes the same choice itself, so ``tqdm.auto`` is never
imported and nothing warns. (Silencing the warning around the import is not
enough: ``warnings.catch_warnings`` is not thread-safe, and a kernel running
TensorFlow's threads let it through now and then.)
"""

from __future__ import annotations


def widget_possible() -> bool:
    """Whether tqdm's widget bar can draw: an IPython kernel (Jupyter, Colab, Kaggle) with ipywidgets."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or "IPKernelApp" not in shell.config:
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def bar(iterable=None, **kwargs):
    """A ``tqdm`` progress bar: the widget in Jupyter with ipywidgets, text otherwise.

    Parameters
    ----------
    iterable : iterable, optional
        What to iterate over; leave it out and call ``.update(n)`` yourself.
    **kwargs
        tqdm's own (``total``, ``desc``, ``unit``, ``disable``...).

    Returns
    -------
    tqdm.tqdm
    """
    if widget_possible():
        from tqdm.notebook import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm(iterable, **kwargs)
