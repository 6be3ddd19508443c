"""Progress bars: tqdm's notebook widget where Jupyter can draw it, its text bar elsewhere.

``tqdm.auto`` picks the widget bar in a notebook, but where ``ipywidgets`` is
missing (a bare ``pip install jupyter``, nbval's kernel) it warns
("IProgress not found") into the lesson's output and falls back to the text
bar anyway. :func:`bar` makes the same choice without the warning.
"""

from __future__ import annotations

import warnings


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
    from tqdm import TqdmWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TqdmWarning)   # "IProgress not found": the text bar is used
        from tqdm.auto import tqdm
    return tqdm(iterable, **kwargs)
