"""Measuring a trained model: metrics, the errors worth looking at, result records.

Conventions: ``y_true`` is ``int`` 0 (cat) or 1 (dog); ``p_dog`` is the model's
P(dog) in [0, 1]; an image is predicted a dog when ``p_dog > 0.5`` (the same
threshold as Keras' ``accuracy`` metric). Metrics come from scikit-learn.
"""

from __future__ import annotations

import numpy as np

from utils import config, devices

#: P(dog) above which an image is predicted a dog (Keras' binary accuracy uses ``>``).
THRESHOLD = 0.5


def predicted_labels(p_dog) -> np.ndarray:
    """Predicted class (0 cat, 1 dog) of each P(dog): the course's one decision rule.

    A photo is a dog when ``p_dog > THRESHOLD`` (0.5, as Keras' binary accuracy
    decides), so a photo at exactly 0.5 is a cat. The metrics, ``predict_image``,
    the plots' titles and the submission all call this function.

    Parameters
    ----------
    p_dog : array-like of float in [0, 1], any shape

    Returns
    -------
    numpy.ndarray, shape (n,), int64
        0 (cat) or 1 (dog), flattened.
    """
    return (np.asarray(p_dog, dtype=np.float64).reshape(-1) > THRESHOLD).astype(np.int64)


def _check_pair(y_true, p_dog):
    """Validate and return ``(y_true int64 (n,), p_dog float32 (n,))`` copies."""
    y = np.asarray(y_true).reshape(-1)
    p = np.asarray(p_dog, dtype=np.float32).reshape(-1)
    if y.shape != p.shape:
        raise ValueError(f"y_true has {y.shape[0]} labels but p_dog has {p.shape[0]} probabilities")
    if y.size == 0:
        raise ValueError("no predictions: y_true and p_dog are empty")
    if not np.all(np.isin(y, (0, 1))):
        raise ValueError("y_true must hold only 0 (cat) and 1 (dog)")
    if not np.all(np.isfinite(p)) or p.min() < 0 or p.max() > 1:
        raise ValueError("p_dog must be probabilities in [0, 1]")
    return y.astype(np.int64), p


def predict(model, dataset, batch_size=64, tta=False):
    """P(dog) of every image in ``dataset`` with its true label, in one pass.

    With ``tta=True`` (test-time augmentation), each image is also seen
    mirrored left to right and the two P(dog) are averaged: a horizontal flip
    is the one augmentation that never changes the answer for a photo of a cat
    or a dog, and the average of two views is steadier than either (Krizhevsky
    et al., 2012, section 4.1, averaged ten crops and their mirrors). It costs
    a second forward pass.

    Parameters
    ----------
    model : keras.Model
        Output ``(batch, 1)`` P(dog).
    dataset : tf.data.Dataset or tuple (x, y) of numpy arrays
        Batches of ``(images, labels)``; read once, so a shuffled dataset still
        pairs each label with its own prediction.
    batch_size : int, default 64
        For arrays only.
    tta : bool, default False
        Average P(dog) of each image and of its mirror image.

    Returns
    -------
    y_true : numpy.ndarray, int64 (n,)
    p_dog : numpy.ndarray, float32 (n,)

    Raises
    ------
    ValueError
        If the dataset is empty.
    """
    import keras

    def p_dog_of(images):
        p = keras.ops.convert_to_numpy(model.predict_on_batch(images)).reshape(-1)
        if tta:   # images are (batch, height, width, 3): axis 2 runs left to right
            mirrored = np.ascontiguousarray(images[:, :, ::-1])
            p = (p + keras.ops.convert_to_numpy(model.predict_on_batch(mirrored)).reshape(-1)) / 2
        return p

    if isinstance(dataset, (tuple, list)):
        x, y = dataset
        x = np.asarray(x)
        p = [p_dog_of(x[start:start + batch_size]) for start in range(0, len(x), batch_size)]
        y_true = np.asarray(y).reshape(-1)
        p_dog = np.concatenate(p) if p else np.zeros((0,), np.float32)
    else:
        labels, probabilities = [], []
        for images, batch_labels in dataset:
            probabilities.append(p_dog_of(np.asarray(images)))
            labels.append(np.asarray(batch_labels).reshape(-1))
        if not labels:
            raise ValueError("the dataset is empty")
        y_true, p_dog = np.concatenate(labels), np.concatenate(probabilities)
    if y_true.size == 0:
        raise ValueError("the dataset is empty")
    return np.rint(y_true).astype(np.int64), p_dog.astype(np.float32)


def metrics(y_true, p_dog, class_names=config.CLASS_NAMES) -> dict:
    """Accuracy, log loss, confusion matrix and per-class report of predictions.

    Parameters
    ----------
    y_true : array-like, shape (n,) or (n, 1)
        0 (cat) or 1 (dog).
    p_dog : array-like, shape (n,) or (n, 1)
        P(dog) in [0, 1].
    class_names : sequence of two str, default ("cats", "dogs")

    Returns
    -------
    dict
        ``accuracy`` (float, fraction in [0, 1]); ``log_loss`` (float, nats,
        natural log, probabilities clipped by scikit-learn to avoid log(0));
        ``confusion_matrix`` (numpy int64 (2, 2): rows true class, columns
        predicted class, in ``class_names`` order); ``report``
        (``sklearn.metrics.classification_report`` as a dict keyed by class
        name, plus ``accuracy``, ``macro avg``, ``weighted avg``); ``y_true``
        (int64 (n,)); ``p_dog`` (float32 (n,)); ``count`` (int).

    Raises
    ------
    ValueError
        If lengths differ, labels are not 0/1, or probabilities are outside [0, 1].
    """
    from sklearn import metrics as skm

    y, p = _check_pair(y_true, p_dog)
    names = list(class_names)
    if len(names) != 2:
        raise ValueError(f"class_names must name two classes, not {class_names!r}")
    predicted = predicted_labels(p)
    return {
        "accuracy": float(skm.accuracy_score(y, predicted)),
        "log_loss": float(skm.log_loss(y, p.astype(np.float64), labels=[0, 1])),
        "confusion_matrix": skm.confusion_matrix(y, predicted, labels=[0, 1]),
        "report": skm.classification_report(y, predicted, labels=[0, 1], target_names=names,
                                            output_dict=True, zero_division=0),
        "y_true": y,
        "p_dog": p,
        "count": int(y.size),
    }


def evaluate(model, dataset, class_names=config.CLASS_NAMES, tta=False) -> dict:
    """Predict ``dataset`` with ``model`` and measure it: see :func:`metrics`.

    Parameters
    ----------
    model : keras.Model
        Output ``(batch, 1)`` P(dog).
    dataset : tf.data.Dataset or tuple (x, y)
        E.g. ``loading.get_batches("test", image_size)``.
    class_names : sequence of two str, default ("cats", "dogs")
    tta : bool, default False
        Test-time augmentation: see :func:`predict`.

    Returns
    -------
    dict
        As :func:`metrics`: ``accuracy``, ``log_loss``, ``confusion_matrix``,
        ``report``, ``y_true``, ``p_dog``, ``count``; plus ``tta`` (bool).
    """
    y_true, p_dog = predict(model, dataset, tta=tta)
    return {**metrics(y_true, p_dog, class_names), "tta": bool(tta)}


def most_confident_errors(y_true, p_dog, n=8) -> np.ndarray:
    """Indices of the ``n`` wrong predictions the model was surest of, surest first.

    Parameters
    ----------
    y_true, p_dog : array-like, shape (n_images,)
        As in :func:`metrics`.
    n : int, default 8
        At most this many indices (fewer when there are fewer errors).

    Returns
    -------
    numpy.ndarray, int64 (≤ n,)
        Indices into ``y_true``; a cat with P(dog) = 0.99 comes before a dog with
        P(dog) = 0.2.

    Raises
    ------
    ValueError
        If ``n`` is not a positive integer, or as :func:`metrics`.
    """
    y, p = _check_pair(y_true, p_dog)
    _check_n(n)
    wrong = np.flatnonzero(predicted_labels(p) != y)
    confidence = np.abs(p[wrong].astype(np.float64) - 0.5)
    order = np.argsort(-confidence, kind="stable")
    return wrong[order][:n].astype(np.int64)


def _check_n(n):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, not {n!r}")


def error_views(y_true, p_dog, n=4, seed=config.DEFAULT_SEED,
                class_names=config.CLASS_NAMES) -> dict:
    """Index arrays of the images worth looking at (fast.ai lesson 1's views).

    Parameters
    ----------
    y_true, p_dog : array-like, shape (n_images,)
        As in :func:`metrics`.
    n : int, default 4
        At most this many images per view.
    seed : int, default 42
        Seed of the random views, so the same images show in every run.
    class_names : sequence of two str, default ("cats", "dogs")
        Used in the keys.

    Returns
    -------
    dict of str to numpy.ndarray int64 (≤ n,)
        Keys, in this order:

        - ``"random correct"``, ``"random incorrect"``: drawn without replacement;
        - ``"most confident correct cats"``, ``"most confident correct dogs"``:
          right predictions furthest from 0.5, per true class;
        - ``"most confident incorrect"``: as :func:`most_confident_errors`;
        - ``"most uncertain"``: P(dog) closest to 0.5, right or wrong.

        A view with no candidate is an empty array.

    Raises
    ------
    ValueError
        If ``n`` is not a positive integer, or as :func:`metrics`.
    """
    y, p = _check_pair(y_true, p_dog)
    _check_n(n)
    rng = np.random.default_rng(seed)
    correct_mask = predicted_labels(p) == y
    distance = np.abs(p.astype(np.float64) - 0.5)

    def random_pick(mask):
        candidates = np.flatnonzero(mask)
        if candidates.size == 0:
            return np.empty(0, dtype=np.int64)
        return np.sort(rng.choice(candidates, size=min(n, candidates.size), replace=False)).astype(np.int64)

    def most(mask, key):
        candidates = np.flatnonzero(mask)
        order = np.argsort(key[candidates], kind="stable")
        return candidates[order][:n].astype(np.int64)

    return {
        "random correct": random_pick(correct_mask),
        "random incorrect": random_pick(~correct_mask),
        f"most confident correct {class_names[0]}": most(correct_mask & (y == 0), -distance),
        f"most confident correct {class_names[1]}": most(correct_mask & (y == 1), -distance),
        "most confident incorrect": most_confident_errors(y, p, n),
        "most uncertain": most(np.ones_like(correct_mask), distance),
    }


def count_params(model) -> int:
    """All parameters of ``model``, trainable or not (``model.count_params()``)."""
    return int(model.count_params())


def record_fields(model, results, timing, *, notebook, image_size, train_count, valid_count,
                  test_count, weights="random init", **extra) -> dict:
    """The standard fields of a result record, for :func:`utils.results.save_record`.

    Parameters
    ----------
    model : keras.Model
        The trained model (its parameters are counted).
    results : dict
        From :func:`evaluate` on the test set.
    timing : dict
        From :func:`utils.training.fit`.
    notebook : str
        e.g. ``"03_cnn"``.
    image_size : tuple of int
        ``(height, width)`` of the inputs.
    train_count, valid_count, test_count : int
        Images in each split (see :func:`utils.training.count_examples`).
    weights : str, default "random init"
        ``"random init"`` or ``"imagenet"``.
    **extra
        More fields, added as they are (e.g. ``leaked_test_accuracy``).

    Returns
    -------
    dict
        ``notebook``, ``image_size`` [h, w], ``train_count``, ``valid_count``,
        ``test_count``, ``epochs`` (epochs run), ``best_epoch``, ``params``,
        ``train_seconds``, ``seconds_per_epoch``, ``images_per_second``,
        ``valid_accuracy`` and ``valid_log_loss`` (at the best epoch, from
        :func:`utils.training.fit`'s timing; None without a validation set:
        what later choices, such as 07's model for your own photo, are made on),
        ``test_accuracy`` (fraction), ``test_log_loss``, ``weights``,
        ``test_y_true`` and ``test_p_dog`` (the label and P(dog), rounded to 6
        decimals, of every test photo in the test split's fixed order, so two
        records can be compared photo by photo: :func:`utils.stats.mcnemar_exact`),
        ``backend`` (the Keras backend that trained it: ``"tensorflow"``,
        ``"jax"`` or ``"torch"``), ``devices`` (replicas that shared each
        batch, :mod:`utils.devices`), ``precision`` (the dtype policy it
        trained under: ``"float32"``, ``"mixed_bfloat16"`` or
        ``"mixed_float16"``), ``test_time_augmentation`` (what
        :func:`evaluate` averaged, or None), then ``extra``.
        Use as ``results.save_record(cfg, model_id, **fields)``.

    Raises
    ------
    ValueError
        If ``results`` or ``timing`` lacks a needed key.
    """
    for key in ("accuracy", "log_loss"):
        if key not in results:
            raise ValueError(f"results must come from evaluate(): {key!r} is missing")
    for key in ("train_seconds", "seconds_per_epoch", "images_per_second", "epochs_run"):
        if key not in timing:
            raise ValueError(f"timing must come from training.fit(): {key!r} is missing")
    height, width = image_size
    fields = {
        "notebook": notebook,
        "image_size": [int(height), int(width)],
        "train_count": None if train_count is None else int(train_count),
        "valid_count": None if valid_count is None else int(valid_count),
        "test_count": None if test_count is None else int(test_count),
        "epochs": int(timing["epochs_run"]),
        "best_epoch": timing.get("best_epoch"),
        "params": count_params(model),
        "train_seconds": round(float(timing["train_seconds"]), 2),
        "seconds_per_epoch": round(float(timing["seconds_per_epoch"]), 2),
        "images_per_second": None if timing["images_per_second"] is None
        else round(float(timing["images_per_second"]), 1),
        "valid_accuracy": timing.get("valid_accuracy"),
        "valid_log_loss": timing.get("valid_log_loss"),
        "test_accuracy": float(results["accuracy"]),
        "test_log_loss": float(results["log_loss"]),
        "weights": weights,
        "backend": devices.backend(),
        "devices": devices.configure().replicas,
        "precision": devices.configure().policy,
        "test_time_augmentation": "horizontal flip, P(dog) averaged" if results.get("tta") else None,
    }
    if "y_true" in results and "p_dog" in results:
        fields["test_y_true"] = [int(v) for v in np.asarray(results["y_true"]).reshape(-1)]
        fields["test_p_dog"] = [round(float(v), 6) for v in np.asarray(results["p_dog"]).reshape(-1)]
    fields.update(extra)
    return fields


def summary_line(model_id, results, cfg=None) -> str:
    """``"cnn_small: test accuracy 78.4%, log loss 0.46 (1,000 images, sample)"``."""
    profile = f", {cfg.name}" if cfg is not None else ""
    return (f"{model_id}: test accuracy {results['accuracy']:.1%}, log loss "
            f"{results['log_loss']:.3f} ({results['count']:,} images{profile})")
