"""Every figure the notebooks show.

Conventions (see STYLE.md): functions take an optional ``ax`` where they draw
one panel, return the :class:`matplotlib.figure.Figure`, never call ``show()``
and save only when given a path. Class names, never 0/1, in titles; mistakes
always in :data:`MISTAKE_COLOUR`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

#: Figure sizes used across the course, in inches.
CURVES_SIZE = (10, 4)
GRID_SIZE = (8, 8)
CONFUSION_SIZE = (5, 5)

#: Colour of a wrong prediction, everywhere.
MISTAKE_COLOUR = "tab:red"
#: Colour of a right prediction, everywhere.
CORRECT_COLOUR = "tab:green"


def _pyplot():
    """Import pyplot lazily, so importing ``utils.plots`` changes no backend."""
    import matplotlib.pyplot as plt

    return plt


def to_display(images) -> np.ndarray:
    """Return images as ``uint8`` in [0, 255] for ``imshow``, leaving the input unchanged.

    Parameters
    ----------
    images : array-like, shape (n, h, w, 3) or (h, w, 3) or (n, h, w) / (h, w)
        ``uint8`` in [0, 255], or float in [0, 255] or in [0, 1] (detected: a
        float array whose maximum is at most 1 is taken as [0, 1]). Tensors are
        accepted.

    Returns
    -------
    numpy.ndarray, uint8, same shape
        A new array.

    Raises
    ------
    ValueError
        If the array is empty or holds NaN or infinite values.
    """
    array = np.asarray(images)
    if array.size == 0:
        raise ValueError("no images to show: the array is empty")
    if array.dtype == np.uint8:
        return array.copy()
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise ValueError("images hold NaN or infinite values")
    if array.max() <= 1.0 and array.min() >= 0.0:
        array = array * 255.0
    return np.clip(np.rint(array), 0, 255).astype(np.uint8)


def plots(images, titles=None, rows=None, figsize=GRID_SIZE, title_colours=None,
          suptitle=None, path=None):
    """Show images in a grid, each with an optional title (fast.ai's ``plots``).

    Parameters
    ----------
    images : array-like, shape (n, h, w, 3) or (n, h, w), or a list of such images
        ``uint8`` in [0, 255], or float in [0, 255] or [0, 1]; images may differ
        in size when given as a list.
    titles : sequence of str, optional
        One per image, e.g. ``"true: dog · predicted: cat (P(dog) = 0.31)"``.
    rows : int, optional
        Rows of the grid (default: a near-square grid).
    figsize : tuple of float, default (8, 8)
        Figure size in inches.
    title_colours : sequence of str, optional
        One colour per title (e.g. :data:`MISTAKE_COLOUR` for errors).
    suptitle : str, optional
        Title of the whole figure.
    path : str or pathlib.Path, optional
        Also save the figure there (PNG), creating folders as needed.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If there are no images, or ``titles``/``title_colours`` do not have one
        entry per image, or ``rows`` is not a positive integer.
    """
    if isinstance(images, (list, tuple)):
        batch = [to_display(image) for image in images]
    else:
        array = np.asarray(images)
        if array.ndim in (2, 3) and not (array.ndim == 3 and array.shape[-1] > 4):
            # a single image (h, w) or (h, w, c)
            array = array[None]
        batch = list(to_display(array)) if array.size else []
    n = len(batch)
    if n == 0:
        raise ValueError("no images to show")
    if titles is not None and len(titles) != n:
        raise ValueError(f"{len(titles)} titles for {n} images")
    if title_colours is not None and len(title_colours) != n:
        raise ValueError(f"{len(title_colours)} title colours for {n} images")
    if rows is None:
        rows = max(1, int(math.floor(math.sqrt(n))))
    if not isinstance(rows, (int, np.integer)) or rows < 1:
        raise ValueError(f"rows must be a positive integer, not {rows!r}")
    cols = int(math.ceil(n / rows))
    plt = _pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=figsize, squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= n:
            continue
        image = batch[index]
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
        if titles is not None:
            colour = title_colours[index] if title_colours is not None else "black"
            ax.set_title(titles[index], fontsize=9, color=colour)
    return _finish(fig, suptitle, path)


def _finish(fig, suptitle, path):
    """Title the figure (if ``suptitle``), lay it out, save it (if ``path``), return it."""
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


def save_figure(fig, path) -> Path:
    """Save ``fig`` as a PNG at ``path`` (folders created), return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path


def plot_augmentations(image, augmenter, n=8, title=None, rows=None, figsize=GRID_SIZE,
                       path=None):
    """Show one image, then ``n`` randomly augmented versions of it.

    Parameters
    ----------
    image : array-like, shape (h, w, 3)
        ``uint8`` or float in [0, 255] (float in [0, 1] is shown as such).
    augmenter : callable
        A Keras layer or model such as :func:`utils.augmentation.augmentation`;
        called once as ``augmenter(batch, training=True)`` on ``n`` copies of
        ``image`` (float32, shape (n, h, w, 3)), so each copy gets its own
        random transform.
    n : int, default 8
        Number of augmented versions.
    title : str, optional
        Title of the figure, e.g. ``"rotated cat (rotation ±40°)"``.
    rows : int, optional
        Rows of the grid (default: near-square).
    figsize : tuple of float, default (8, 8)
    path : str or pathlib.Path, optional
        Also save the figure there (PNG).

    Returns
    -------
    matplotlib.figure.Figure
        ``n + 1`` images: the original first (titled "original"), then
        "augmented 1" ... "augmented n".

    Raises
    ------
    ValueError
        If ``image`` is not ``(h, w, 3)``, ``n`` is not a positive integer, or
        the augmenter returns a batch of another length.
    """
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ValueError(f"image must have shape (h, w, 3), not {array.shape}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, not {n!r}")
    batch = np.repeat(array[None].astype(np.float32), n, axis=0)
    augmented = np.asarray(augmenter(batch, training=True))
    if augmented.shape[0] != n:
        raise ValueError(f"the augmenter returned {augmented.shape[0]} images for {n}")
    images = [array] + list(augmented)
    titles = ["original"] + [f"augmented {i}" for i in range(1, n + 1)]
    return plots(images, titles=titles, rows=rows, figsize=figsize, suptitle=title, path=path)


def plot_gradcam(model, images, labels=None, layer_name=None, class_names=("cats", "dogs"),
                 alpha=0.4, rows=None, figsize=GRID_SIZE, suptitle=None, path=None):
    """Grad-CAM heatmaps (Selvaraju et al. 2017) over images, with prediction titles.

    Parameters
    ----------
    model : keras.Model
        Takes ``(batch, h, w, 3)`` float32 in [0, 255], returns ``(batch, 1)`` P(dog).
    images : array-like, shape (n, h, w, 3)
        float in [0, 255], the model's input size.
    labels : array-like of int, shape (n,), optional
        True classes (0 cat, 1 dog); titles then say "true: … · predicted: …"
        and mistakes are drawn in :data:`MISTAKE_COLOUR`.
    layer_name : str, optional
        Convolutional layer to explain (default: the last ``Conv2D``).
    class_names : pair of str
        Plural class names as in ``config.CLASS_NAMES``; titles use the singular.
    alpha : float in [0, 1]
        Weight of the heatmap colour over the photo.
    rows, figsize, suptitle, path
        As :func:`plots`.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        No images, or ``labels`` not one per image (and see
        :func:`utils.gradcam.gradcam_heatmap`).
    """
    from utils import gradcam

    batch = np.asarray(images, dtype=np.float32)
    if batch.ndim == 3:
        batch = batch[None]
    if batch.ndim != 4 or batch.shape[0] == 0:
        raise ValueError(f"images must be (n, h, w, 3) with n > 0, not {np.shape(images)}")
    if labels is not None and len(labels) != len(batch):
        raise ValueError(f"{len(labels)} labels for {len(batch)} images")
    from utils import predict

    names = [name[:-1] if name.endswith("s") else name for name in class_names]
    p_dog = predict.predict_p_dog(model, batch)
    shown, titles, colours = [], [], []
    for index, image in enumerate(batch):
        heatmap = gradcam.gradcam_heatmap(model, image, layer_name=layer_name)
        shown.append(gradcam.overlay(image, heatmap, alpha=alpha))
        predicted = int(p_dog[index] >= 0.5)
        text = f"predicted: {names[predicted]} (P(dog) = {p_dog[index]:.2f})"
        colour = "black"
        if labels is not None:
            truth = int(labels[index])
            text = f"true: {names[truth]} · " + text
            colour = CORRECT_COLOUR if truth == predicted else MISTAKE_COLOUR
        titles.append(text.replace(" · ", "\n"))
        colours.append(colour)
    fig = plots(shown, titles=titles, rows=rows, figsize=figsize, title_colours=colours)
    if suptitle:  # leave room above the two-line titles
        fig.suptitle(suptitle)
        fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / fig.get_figheight()))
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_tradeoffs(table, profile=None, figsize=CURVES_SIZE, path=None):
    """Test accuracy against training time and against parameters, one point per model.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`utils.results.comparison_table` (columns ``model``,
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
        model scored below it) to 1; training time is seconds per epoch × epochs. A model
        lacking a figure is left out of that panel; an empty table gives empty
        panels that say so.
    """
    import pandas as pd

    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=figsize)
    accuracy = pd.to_numeric(table.get("test accuracy", pd.Series(dtype=float)), errors="coerce")
    seconds = (pd.to_numeric(table.get("seconds per epoch", pd.Series(dtype=float)), errors="coerce")
               * pd.to_numeric(table.get("epochs", pd.Series(dtype=float)), errors="coerce"))
    params = pd.to_numeric(table.get("parameters", pd.Series(dtype=float)), errors="coerce")
    for ax, x, label in ((left, seconds, "training time (s, log scale)"),
                         (right, params, "parameters (log scale)")):
        shown = 0
        for index in range(len(table)):
            xv, yv = x.iloc[index], accuracy.iloc[index]
            if pd.isna(xv) or pd.isna(yv) or xv <= 0:
                continue
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


def _singular(class_name) -> str:
    """``"cats"`` → ``"cat"``: class folders are plural, one image is singular."""
    name = str(class_name)
    return name[:-1] if name.endswith("s") and len(name) > 1 else name


def prediction_title(y_true, p_dog, class_names=("cats", "dogs")) -> str:
    """``"true: dog · predicted: cat (P(dog) = 0.31)"`` for one image (threshold 0.5)."""
    predicted = int(float(p_dog) > 0.5)
    return (f"true: {_singular(class_names[int(y_true)])} · predicted: "
            f"{_singular(class_names[predicted])} (P({_singular(class_names[1])}) = {float(p_dog):.2f})")


def plot_predictions(images, y_true, p_dog, class_names=("cats", "dogs"), rows=None,
                     figsize=GRID_SIZE, suptitle=None, path=None):
    """Images titled with true and predicted class and P(dog); mistakes in red.

    Parameters
    ----------
    images : array-like, shape (n, h, w, 3)
        ``uint8`` or float in [0, 255] (or [0, 1]).
    y_true : array-like, shape (n,), int 0 (cat) or 1 (dog)
    p_dog : array-like, shape (n,), float in [0, 1]
        Predicted P(dog); the prediction is "dog" when ``p_dog > 0.5``.
    class_names : sequence of two str, default ("cats", "dogs")
    rows : int, optional
    figsize : tuple of float, default (8, 8)
    suptitle : str, optional
        e.g. ``"CNN · most confident mistakes (sample)"``.
    path : str or pathlib.Path, optional

    Returns
    -------
    matplotlib.figure.Figure
        Titles like ``"true: dog · predicted: cat (P(dog) = 0.31)"`` (on two
        lines, the probability second), in
        :data:`MISTAKE_COLOUR` when wrong, :data:`CORRECT_COLOUR` when right.

    Raises
    ------
    ValueError
        If lengths differ, labels are not 0/1 or probabilities not in [0, 1].
    """
    y = np.asarray(y_true).reshape(-1)
    p = np.asarray(p_dog, dtype=float).reshape(-1)
    n = len(images)
    if n == 0:
        raise ValueError("no images to show")
    if y.shape[0] != n or p.shape[0] != n:
        raise ValueError(f"{n} images but {y.shape[0]} labels and {p.shape[0]} probabilities")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true must hold only 0 and 1")
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError("p_dog must be probabilities in [0, 1]")
    # two lines, so titles of neighbouring images in a 3-wide grid do not overlap
    titles = [prediction_title(t, q, class_names).replace(" (P(", "\n(P(", 1) for t, q in zip(y, p)]
    colours = [CORRECT_COLOUR if int(q > 0.5) == int(t) else MISTAKE_COLOUR for t, q in zip(y, p)]
    return plots(images, titles=titles, rows=rows, figsize=figsize, title_colours=colours,
                 suptitle=suptitle, path=path)


def feature_maps(model, image, layer_name) -> np.ndarray:
    """Output of layer ``layer_name`` of ``model`` for one image, shape (h, w, channels).

    Parameters
    ----------
    model : keras.Model
        A functional model (input → ... → ``layer_name``).
    image : array-like, shape (h, w, 3), float in [0, 255]
        One image as the model takes it (the model rescales it itself).
    layer_name : str
        e.g. ``"conv_1"``.

    Raises
    ------
    ValueError
        If the layer does not exist or does not output a ``(1, h, w, c)`` map.
    """
    import keras

    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        raise ValueError(f"model {model.name!r} has no layer {layer_name!r}; its layers: {', '.join(names)}")
    array = np.asarray(image, dtype=np.float32)
    if array.ndim != 3:
        raise ValueError(f"image must have shape (h, w, 3), not {array.shape}")
    probe = keras.Model(model.inputs, model.get_layer(layer_name).output)
    maps = np.asarray(probe(array[None], training=False))   # a direct call: no tf.function retracing
    if maps.ndim != 4:
        raise ValueError(f"layer {layer_name!r} outputs shape {maps.shape}, not a (1, h, w, c) feature map")
    return maps[0]


def plot_feature_maps(model, image, layer_name, n=16, rows=None, figsize=GRID_SIZE, title=None,
                      path=None):
    """The first ``n`` feature maps (channels) of one layer for one image.

    Parameters
    ----------
    model : keras.Model
        A functional model, e.g. ``models.build_cnn(...)``.
    image : array-like, shape (h, w, 3), float in [0, 255]
    layer_name : str
        e.g. ``"conv_1"`` (first layer) or ``"conv_3"`` (deeper).
    n : int, default 16
        At most this many channels (fewer if the layer has fewer).
    rows : int, optional
    figsize : tuple of float, default (8, 8)
    title : str, optional
        Default ``"<layer_name>: <h>×<w>×<c> feature maps"``.
    path : str or pathlib.Path, optional

    Returns
    -------
    matplotlib.figure.Figure
        One panel per channel ("channel 0", ...), each scaled to its own range
        (``viridis``: bright = strong activation).

    Raises
    ------
    ValueError
        If ``n`` is not a positive integer, or as :func:`feature_maps`.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, not {n!r}")
    maps = feature_maps(model, image, layer_name)
    count = min(int(n), maps.shape[-1])
    if rows is None:
        rows = max(1, int(math.floor(math.sqrt(count))))
    cols = int(math.ceil(count / rows))
    plt = _pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=figsize, squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index < count:
            ax.imshow(maps[..., index], cmap="viridis")
            ax.set_title(f"channel {index}", fontsize=8)
    height, width, channels = maps.shape
    return _finish(fig, title or f"{layer_name}: {height}×{width}×{channels} feature maps", path)


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
