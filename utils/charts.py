"""Charts of numbers: training curves, confusion matrix, trade-offs, image sizes, log loss.

The same conventions as :mod:`utils.plots` (whose helpers it uses): functions
take an optional ``ax`` where they draw one panel, return the
:class:`matplotlib.figure.Figure`, never call ``show()`` and save only when
given a path; class names, never 0/1; mistakes in
:data:`utils.plots.MISTAKE_COLOUR`.
"""

from __future__ import annotations

import math

import numpy as np

from utils.plots import MISTAKE_COLOUR, _finish, _pyplot

#: Figure sizes of charts, in inches.
CURVES_SIZE = (10, 4)
CONFUSION_SIZE = (5, 5)


def plot_tradeoffs(table, profile=None, figsize=CURVES_SIZE, path=None):
    """Test accuracy against training time and against parameters, one point per model.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`utils.comparisons.comparison_table` (columns ``model``,
        ``seconds per epoch``, ``epochs``, ``parameters``, ``test accuracy``).
    profile : str, optional
        Named in the title.
    figsize : tuple of float
    path : str or pathlib.Path, optional
        Also save the figure there.

    Returns
    -------
    matplotlib.figure.Figure
        Two panels; log-scaled x axes; accuracy from 0.5 (chance, lower if a
        model scored below it) to 1, each point with its Wilson 95% interval
        (columns ``95% interval low`` / ``high``, when the table has them) as a
        vertical bar; training time is seconds per epoch × epochs, plus the
        ``feature seconds`` of a head trained on features computed once (the
        pass of the frozen base that its training needed). A model lacking a
        figure is left out of that panel; an empty table gives empty panels
        that say so.
    """
    import pandas as pd

    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=figsize)

    def column(name):
        return pd.to_numeric(table.get(name, pd.Series(np.nan, index=table.index)), errors="coerce")

    accuracy = column("test accuracy")
    seconds = column("seconds per epoch") * column("epochs") + column("feature seconds").fillna(0.0)
    params = column("parameters")
    ci_low, ci_high = column("95% interval low"), column("95% interval high")
    for ax, x, label in ((left, seconds, "training time (s, log scale)"),
                         (right, params, "parameters (log scale)")):
        shown = 0
        for index in range(len(table)):
            xv, yv = x.iloc[index], accuracy.iloc[index]
            if pd.isna(xv) or pd.isna(yv) or xv <= 0:
                continue
            if pd.notna(ci_low.iloc[index]) and pd.notna(ci_high.iloc[index]):
                ax.errorbar([xv], [yv], yerr=[[yv - ci_low.iloc[index]], [ci_high.iloc[index] - yv]], fmt="o",
                            markersize=6, capsize=3)
            else:
                ax.scatter([xv], [yv], s=40)
            ax.annotate(str(table["model"].iloc[index]), (xv, yv), textcoords="offset points",
                        xytext=(5, 4), fontsize=8)
            shown += 1
        if shown:
            from matplotlib.ticker import FuncFormatter, NullFormatter

            ax.set_xscale("log")
            values = x[(x > 0) & accuracy.notna()]
            low, high = float(values.min()), float(values.max())  # whole decades at both ends
            ax.set_xlim(10 ** math.floor(math.log10(low) - 0.05), 10 ** math.ceil(math.log10(high) + 0.05))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        else:
            ax.text(0.5, 0.75, "no records with these figures yet", ha="center",
                    transform=ax.transAxes)
        ax.set_xlabel(label)
        ax.set_ylabel("test accuracy")
        lowest = accuracy.min() if accuracy.notna().any() else 0.5
        ax.set_ylim(0.5 if lowest >= 0.5 else float(lowest) - 0.05, 1.0)  # chance at the bottom
        ax.grid(True, alpha=0.3)
    left.set_title("accuracy vs training time")
    right.set_title("accuracy vs size")
    return _finish(fig, "Every model on the same test split" + (f" ({profile})" if profile else ""), path)


# -- training curves, confusion matrix, predictions, feature maps (notebooks 02, 03) --

#: Colours of the models in a comparison of learning curves, in order.
SERIES_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown",
                  "tab:pink", "tab:gray", "tab:olive", "tab:cyan")


def _history_dict(history) -> dict:
    """``{"loss": [...], "accuracy": [...], ...}`` of a Keras History or a plain dict."""
    values = getattr(history, "history", history)
    if not isinstance(values, dict):
        raise ValueError(f"expected a keras History or a dict of per-epoch lists, not {type(history).__name__}")
    return values


def _is_single_history(history) -> bool:
    """True for one History/dict of lists; False for a dict of name → History/dict."""
    if hasattr(history, "history"):
        return True
    if not isinstance(history, dict) or not history:
        raise ValueError("no history to plot: pass a keras History, a dict of per-epoch lists, "
                         "or a dict of name → History")
    first = next(iter(history.values()))
    return not (hasattr(first, "history") or isinstance(first, dict))


def plot_history(history, title=None, fine_tune_epoch=None, figsize=CURVES_SIZE, path=None,
                 loss_scale="linear"):
    """Accuracy and loss per epoch, side by side: training dashed, validation solid.

    Parameters
    ----------
    history : keras.callbacks.History, dict, or dict of str to either
        One run (a History, or ``{"accuracy": [...], "val_accuracy": [...],
        "loss": [...], "val_loss": [...]}``), or several runs to compare as
        ``{"adam": history, "sgd": history}`` (one colour each). Missing keys
        (e.g. no validation) are skipped.
    title : str, optional
        Figure title, e.g. ``"CNN · learning curves (sample)"``.
    fine_tune_epoch : int, optional
        Epochs trained before fine-tuning began: a vertical dotted line is
        drawn between epoch ``fine_tune_epoch`` and the next.
    figsize : tuple of float, default (10, 4)
    path : str or pathlib.Path, optional
        Also save the figure there (PNG).
    loss_scale : {"linear", "log"}, default "linear"
        Scale of the loss axis; "log" when one run's loss dwarfs the others'
        (e.g. an MLP on unscaled pixels).

    Returns
    -------
    matplotlib.figure.Figure
        Two panels: "accuracy" (from 0.5, chance, to 1; lower only if a curve
        goes below 0.5) and "log loss" (from 0 on a linear scale), x axis
        "epoch" starting at 1.

    Raises
    ------
    ValueError
        If ``history`` is empty or holds neither accuracy nor loss values, or
        ``loss_scale`` is neither "linear" nor "log".
    """
    if loss_scale not in ("linear", "log"):
        raise ValueError(f"loss_scale must be 'linear' or 'log', not {loss_scale!r}")
    runs = {"": history} if _is_single_history(history) else dict(history)
    plt = _pyplot()
    fig, (acc_ax, loss_ax) = plt.subplots(1, 2, figsize=figsize)
    lowest_accuracy, plotted = 0.5, 0
    for index, (name, run) in enumerate(runs.items()):
        values = _history_dict(run)
        colour = SERIES_COLOURS[index % len(SERIES_COLOURS)]
        for ax, metric in ((acc_ax, "accuracy"), (loss_ax, "loss")):
            for prefix, style, label in (("", "--", "training"), ("val_", "-", "validation")):
                series = values.get(prefix + metric)
                if series is None or len(series) == 0:
                    continue
                series = np.asarray(series, dtype=float)
                epochs = np.arange(1, len(series) + 1)
                ax.plot(epochs, series, linestyle=style, color=colour, marker=".",
                        label=f"{name} · {label}" if name else label)
                plotted += 1
                if metric == "accuracy" and np.isfinite(series).any():
                    lowest_accuracy = min(lowest_accuracy, float(np.nanmin(series)))
    if plotted == 0:
        plt.close(fig)
        raise ValueError("the history holds no accuracy or loss values")
    acc_ax.set_ylim(max(0.0, np.floor(lowest_accuracy * 20) / 20), 1.0)
    acc_ax.set_ylabel("accuracy")
    if loss_scale == "log":
        loss_ax.set_yscale("log")
    else:
        loss_ax.set_ylim(bottom=0)
    loss_ax.set_ylabel("log loss" if loss_scale == "linear" else "log loss (log scale)")
    for ax in (acc_ax, loss_ax):
        ax.set_xlabel("epoch")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        if fine_tune_epoch is not None:
            ax.axvline(fine_tune_epoch + 0.5, color="black", linestyle=":", label="fine-tuning starts")
        ax.legend(fontsize=8)
    acc_ax.set_title("accuracy")
    loss_ax.set_title("loss")
    return _finish(fig, title, path)


def plot_confusion_matrix(cm, class_names=("cats", "dogs"), title=None, ax=None,
                          figsize=CONFUSION_SIZE, path=None):
    """A confusion matrix with counts and row percentages in each cell.

    Parameters
    ----------
    cm : array-like, shape (k, k), int
        Rows are the true class, columns the predicted class
        (``evaluate.evaluate(...)["confusion_matrix"]``).
    class_names : sequence of k str, default ("cats", "dogs")
    title : str, optional
        e.g. ``"CNN · test set (sample)"``.
    ax : matplotlib.axes.Axes, optional
        Draw there instead of a new figure.
    figsize : tuple of float, default (5, 5)
    path : str or pathlib.Path, optional
        Also save the figure there (PNG).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``cm`` is not square, has negative entries, or does not match ``class_names``.
    """
    matrix = np.asarray(cm)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"a confusion matrix must be square, not shape {matrix.shape}")
    if len(class_names) != matrix.shape[0]:
        raise ValueError(f"{len(class_names)} class names for a {matrix.shape[0]}×{matrix.shape[0]} matrix")
    if (matrix < 0).any():
        raise ValueError("a confusion matrix holds counts, not negative numbers")
    plt = _pyplot()
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    else:
        fig = ax.figure
    ax.imshow(matrix, cmap="Blues", vmin=0)
    totals = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, totals, out=np.zeros(matrix.shape, float), where=totals > 0)
    threshold = matrix.max() / 2 if matrix.max() > 0 else 1
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(j, i, f"{matrix[i, j]:,}\n({share[i, j]:.0%})", ha="center", va="center",
                    color="white" if matrix[i, j] > threshold else "black")
    ticks = np.arange(len(class_names))
    ax.set_xticks(ticks, [str(name) for name in class_names])
    ax.set_yticks(ticks, [str(name) for name in class_names])
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if title:
        ax.set_title(title)
    return _finish(fig, None, path)



def plot_image_sizes(widths, heights, title=None, bins=40, figsize=CURVES_SIZE, path=None):
    """Histograms of image widths and heights, side by side (notebook 01).

    Parameters
    ----------
    widths, heights : array-like of int, shape (n,)
        Sizes in pixels, e.g. the ``width``/``height`` columns of the manifest.
    title : str, optional
        Title of the figure.
    bins : int, default 40
    path : str or pathlib.Path, optional
        Also save the figure there.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If the arrays are empty or of different lengths.
    """
    widths, heights = np.asarray(widths), np.asarray(heights)
    if widths.size == 0 or widths.shape != heights.shape:
        raise ValueError(f"need as many widths as heights, got {widths.shape} and {heights.shape}")
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=figsize)
    for ax, values, name in zip(axes, (widths, heights), ("width", "height")):
        ax.hist(values, bins=bins, color="tab:blue")
        ax.set_xlabel(f"{name} (pixels)")
        ax.set_ylabel("images")
        ax.set_title(f"{name}: median {np.median(values):.0f} px, range {values.min()}–{values.max()}")
    return _finish(fig, title, path)


def plot_log_loss_clipping(eps=0.02, title=None, ax=None, figsize=CURVES_SIZE, path=None):
    """Log loss of one wrong answer against its predicted probability, with clipping marked.

    A model that gives probability ``q`` to the wrong class (P(dog) = q for a
    cat) pays ``-ln(1 - q)``: harmless near 0.5, unbounded as ``q → 1``.
    Clipping predictions to [eps, 1 - eps] caps the cost at ``-ln(eps)``.

    Parameters
    ----------
    eps : float, default 0.02
        The clipping bound, in (0, 0.5).
    title : str, optional
    ax : matplotlib.axes.Axes, optional
        Draw there instead of in a new figure.
    figsize : tuple, default (10, 4)
    path : str or pathlib.Path, optional
        Also save the figure there.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If eps is outside (0, 0.5).

    Notes
    -----
    Metric: Kaggle "Dogs vs. Cats Redux", Evaluation page (log loss).
    """
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating)) or not 0 < eps < 0.5:
        raise ValueError(f"eps must be a number in (0, 0.5), not {eps!r}")
    plt = _pyplot()
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    else:
        fig = ax.figure
    q = 1.0 - np.logspace(-7, np.log10(0.999), 600)[::-1]      # dense near 1
    q = np.concatenate([np.linspace(0.0, q[0], 100, endpoint=False), q])
    cost = -np.log1p(-q)
    clipped = -np.log1p(-np.minimum(q, 1.0 - eps))
    ax.plot(q, cost, color=MISTAKE_COLOUR, label="unclipped: −ln(1 − q)")
    ax.plot(q, clipped, color="tab:blue", linestyle="--",
            label=f"clipped to [{eps:g}, {1 - eps:g}]: at most −ln({eps:g}) = {-np.log(eps):.1f}")
    ax.axvline(1.0 - eps, color="grey", linestyle=":", linewidth=1)
    ax.axhline(-np.log(eps), color="grey", linestyle=":", linewidth=1)
    ax.annotate(f"q = 1 − 1e-7 costs {-np.log(1e-7):.1f}", xy=(1.0, cost[-1]), xytext=(0.45, cost[-1] * 0.85),
                arrowprops=dict(arrowstyle="->", color="grey"), fontsize=9)
    ax.set_xlim(0, 1.0)
    ax.set_ylim(0, cost[-1] * 1.05)
    ax.set_xlabel("predicted probability of the wrong answer, q")
    ax.set_ylabel("log loss of that image")
    ax.set_title(title or f"Log loss of one wrong answer, unclipped and clipped to [{eps:g}, {1 - eps:g}]")
    ax.legend(loc="upper left", fontsize=9)
    return _finish(fig, None, path)
