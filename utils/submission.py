"""Kaggle submissions: clipped probabilities, a checked ``id,label`` CSV, and why clipping pays.

Kaggle's "Dogs vs. Cats Redux: Kernels Edition" scores a submission by log
loss (binary cross-entropy) of ``label`` = P(dog)::

    log loss = -1/n · Σ [ y·ln(p) + (1 - y)·ln(1 - p) ]

One confident mistake (p = 1e-7 for a dog) costs -ln(1e-7) ≈ 16.1; clipping
p to [0.02, 0.98] caps it at -ln(0.02) ≈ 3.9, while a right answer given
0.98 instead of 1 only costs -ln(0.98) ≈ 0.02.

Source: Kaggle, "Dogs vs. Cats Redux: Kernels Edition", Evaluation page;
fast.ai courses v1, lesson 2 (clipping the submission).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from utils import files

#: Default clipping bound: probabilities are kept in [EPS, 1 - EPS].
DEFAULT_EPS = 0.02


def _as_probabilities(p_dog, what: str = "p_dog") -> np.ndarray:
    """A float64 copy of ``p_dog`` as a flat array, checked to be finite and in [0, 1]."""
    array = np.asarray(p_dog, dtype=np.float64)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{what} must have shape (n,) or (n, 1), not {np.shape(p_dog)}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what} holds NaN or infinite values")
    if array.size and (array.min() < 0.0 or array.max() > 1.0):
        raise ValueError(f"{what} must lie in [0, 1]; found values in [{array.min():g}, {array.max():g}]")
    return array


def _check_eps(eps) -> float:
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating)) or not 0.0 < eps < 0.5:
        raise ValueError(f"eps must be a number in (0, 0.5), not {eps!r}")
    return float(eps)


def clip_probabilities(p_dog, eps=DEFAULT_EPS):
    """Keep predicted P(dog) away from 0 and 1 before writing a submission.

    Parameters
    ----------
    p_dog : numpy.ndarray, shape (n,) or (n, 1), float in [0, 1]
        Probability that each image shows a dog.
    eps : float, default 0.02
        Result lies in [eps, 1 - eps].

    Returns
    -------
    numpy.ndarray, shape (n,), float32
        A clipped copy; the input is unchanged.

    Raises
    ------
    ValueError
        If eps is outside (0, 0.5) or p_dog has values outside [0, 1] (or NaN).

    Notes
    -----
    One confident mistake costs -ln(1e-7) ≈ 16.1 in log loss, -ln(0.02) ≈ 3.9
    after clipping. Metric: Kaggle "Dogs vs. Cats Redux", Evaluation page.
    """
    eps = _check_eps(eps)
    return np.clip(_as_probabilities(p_dog), eps, 1.0 - eps).astype(np.float32)


def log_loss(y_true, p_dog, floor: float = 1e-15) -> float:
    """Mean binary log loss (natural log) of P(dog) against labels 0 = cat, 1 = dog.

    :func:`sklearn.metrics.log_loss` on probabilities kept in [floor, 1 - floor].

    Parameters
    ----------
    y_true : array-like, shape (n,), 0 or 1
    p_dog : array-like, shape (n,) or (n, 1), float in [0, 1]
    floor : float, default 1e-15
        Probabilities are kept in [floor, 1 - floor] so a certain mistake
        costs -ln(1e-15) ≈ 34.5 instead of infinity (as scikit-learn does).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If lengths differ, labels are not 0/1, or there are no examples.
    """
    y = np.asarray(y_true).reshape(-1)
    p = _as_probabilities(p_dog)
    if len(y) != len(p):
        raise ValueError(f"{len(y)} labels for {len(p)} probabilities")
    if len(y) == 0:
        raise ValueError("no examples")
    if not np.all(np.isin(y, (0, 1))):
        raise ValueError("labels must be 0 (cat) or 1 (dog)")
    from sklearn.metrics import log_loss as sklearn_log_loss

    p = np.clip(p.astype(np.float64), floor, 1.0 - floor)
    return float(sklearn_log_loss(y, p, labels=[0, 1]))


def write_submission(ids, p_dog, path, eps=DEFAULT_EPS) -> Path:
    """Write a Kaggle submission ``id,label`` (label = clipped P(dog)), atomically.

    Parameters
    ----------
    ids : array-like of int, shape (n,)
        Kaggle ids (``N`` of ``test1/N.jpg``), each once; positive integers.
    p_dog : array-like, shape (n,) or (n, 1), float in [0, 1]
        P(dog) of each image, in the order of ``ids``.
    path : str or pathlib.Path
        The CSV to write (folders created). Written to a temporary file in the
        same folder, then renamed: an interrupted write leaves no half file.
    eps : float or None, default 0.02
        Clip labels to [eps, 1 - eps] (:func:`clip_probabilities`); None: no clipping.

    Returns
    -------
    pathlib.Path
        The file written: header ``id,label``, one row per image, ids as
        integers in ascending order, labels with 6 decimals.

    Raises
    ------
    ValueError
        Lengths differ, no rows, an id repeated, not a positive integer, or
        ``p_dog`` holding NaN or values outside [0, 1].
    """
    id_array = np.asarray(ids)
    if id_array.ndim != 1:
        raise ValueError(f"ids must have shape (n,), not {id_array.shape}")
    probabilities = _as_probabilities(p_dog)
    if len(id_array) != len(probabilities):
        raise ValueError(f"{len(id_array)} ids for {len(probabilities)} probabilities")
    if len(id_array) == 0:
        raise ValueError("nothing to write: no ids")
    as_int = []
    for value in id_array.tolist():
        if isinstance(value, bool) or not float(value).is_integer() or int(value) < 1:
            raise ValueError(f"ids must be positive integers, found {value!r}")
        as_int.append(int(value))
    as_int = np.asarray(as_int, dtype=np.int64)
    unique, counts = np.unique(as_int, return_counts=True)
    if np.any(counts > 1):
        raise ValueError(f"duplicate ids: {unique[counts > 1][:10].tolist()}")
    if eps is not None:
        probabilities = clip_probabilities(probabilities, eps).astype(np.float64)
    order = np.argsort(as_int, kind="stable")
    path = Path(path)
    with files.atomic_open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "label"])
        for index in order:
            writer.writerow([int(as_int[index]), f"{probabilities[index]:.6f}"])
    return path


def clipping_table(y_true, p_dog, eps_values=(None, 0.005, 0.01, 0.02, 0.05)):
    """Log loss of the same predictions clipped at several bounds.

    Returns
    -------
    list of dict
        ``{"eps": eps or 0, "log_loss": float}`` per bound (None: unclipped).
    """
    rows = []
    for eps in eps_values:
        p = _as_probabilities(p_dog) if eps is None else clip_probabilities(p_dog, eps)
        rows.append({"eps": 0.0 if eps is None else float(eps), "log_loss": log_loss(y_true, p)})
    return rows


def worst_case_log_loss(eps=DEFAULT_EPS) -> float:
    """The most one image can cost after clipping at ``eps``: ``-ln(eps)``."""
    return -math.log(_check_eps(eps))
