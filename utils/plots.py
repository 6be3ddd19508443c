"""Figures of images: grids, predictions, augmentations, Grad-CAM.

Feature maps are drawn by notebook 03 itself, in the cell that teaches them.

Charts of numbers (training curves, confusion matrix...) are in
:mod:`utils.charts`. Conventions: functions take an optional ``ax`` where they draw
one panel, return the :class:`matplotlib.figure.Figure`, never call ``show()``
and save only when given a path. Class names, never 0/1, in titles; mistakes
always in :data:`MISTAKE_COLOUR`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

#: Size of a grid of images, in inches (charts' sizes are in :mod:`utils.charts`).
GRID_SIZE = (8, 8)

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
    from utils import evaluate, gradcam

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
    predicted_all = evaluate.predicted_labels(p_dog)
    shown, titles, colours = [], [], []
    for index, image in enumerate(batch):
        heatmap = gradcam.gradcam_heatmap(model, image, layer_name=layer_name)
        shown.append(gradcam.overlay(image, heatmap, alpha=alpha))
        predicted = int(predicted_all[index])
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


def _singular(class_name) -> str:
    """``"cats"`` → ``"cat"``: class folders are plural, one image is singular."""
    name = str(class_name)
    return name[:-1] if name.endswith("s") and len(name) > 1 else name


def prediction_title(y_true, p_dog, class_names=("cats", "dogs")) -> str:
    """``"true: dog · predicted: cat (P(dog) = 0.31)"`` for one image.

    The predicted class is :func:`utils.evaluate.predicted_labels`'s (the course's one threshold).
    """
    from utils import evaluate

    predicted = int(evaluate.predicted_labels([float(p_dog)])[0])
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
        Predicted P(dog); the predicted class is :func:`utils.evaluate.predicted_labels`'s.
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
    from utils import evaluate

    predicted = evaluate.predicted_labels(p)
    colours = [CORRECT_COLOUR if int(q) == int(t) else MISTAKE_COLOUR for t, q in zip(y, predicted)]
    return plots(images, titles=titles, rows=rows, figsize=figsize, title_colours=colours,
                 suptitle=suptitle, path=path)

