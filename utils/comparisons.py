"""Comparing result records: the course's models, their tables, intervals and paired tests.

What notebooks 02 to 07 show of the records :mod:`utils.results` saves and reads:
:func:`record_table` after a model is trained, :func:`comparison_table` and
:func:`paired_tests` across models (notebook 07), :func:`anchors_table` for the
published figures beside ours, and :func:`missing_models` for what a run lacks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from utils import anchors, config, results

if TYPE_CHECKING:                       # the return types only: pandas is imported where a table is made
    import pandas


#: The models of the course, in teaching order, and the notebook that trains each.
#: ``mlp_unscaled`` is the "forgot to scale" demonstration of 02 and is not
#: expected to have a record.
MODEL_NOTEBOOKS = {
    "mlp_pixels": "02",
    "mlp_unscaled": "02",
    "cnn_small": "03",
    "cnn_plain": "04",
    "cnn_aug": "04",
    "cnn_bn": "04",
    "vgg16_features": "06",
    "vgg16_frozen_aug": "06",
    "vgg16_finetune": "06",
    "efficientnet_lite0_features": "06",
    "efficientnet_lite0_frozen_aug": "06",
    "efficientnet_lite0_finetune": "06",
}

#: A transfer model trained on EfficientNet-Lite0 stands in for its VGG16 twin
#: (notebook 06 uses Lite0 when VGG16's weights are absent).
ALTERNATIVES = {
    "vgg16_features": ("efficientnet_lite0_features",),
    "vgg16_frozen_aug": ("efficientnet_lite0_frozen_aug",),
    "vgg16_finetune": ("efficientnet_lite0_finetune",),
}

#: The from-scratch CNNs the transfer models are tested against, photo by photo.
BASELINES = ("cnn_small", "cnn_plain", "cnn_aug", "cnn_bn")

#: The transfer models of notebook 06, either backbone.
TRANSFER_MODELS = tuple(m for m, nb in MODEL_NOTEBOOKS.items() if nb == "06")

#: Models every complete run of the course produces a record for.
EXPECTED_MODELS = ("mlp_pixels", "cnn_small", "cnn_plain", "cnn_aug", "cnn_bn",
                   "vgg16_features", "vgg16_frozen_aug", "vgg16_finetune")

#: Columns of :func:`comparison_table`, in order, and the record field each comes from.
TABLE_COLUMNS = {
    "model": "model_id",
    "profile": "profile",
    "image size": "image_size",
    "train images": "train_count",
    "epochs": "epochs",
    "parameters": "params",
    "seconds per epoch": "seconds_per_epoch",
    "train seconds": "train_seconds",
    "feature seconds": "feature_seconds",
    "images per second": "images_per_second",
    "test accuracy": "test_accuracy",
    "95% interval low": None,
    "95% interval high": None,
    "test log loss": "test_log_loss",
    "weights used": "weights",
    "backbone": "backbone",
    "made by": "provenance",
}

#: The ``made by`` column: a record's ``provenance`` kind (:mod:`utils.prerequisites`), or its notebook.
MADE_BY = {"reference": "reference run (copied)", "short recipe": "short recipe (stand-in)"}

def image_size_text(value) -> str | None:
    """A record's ``image_size`` as text: ``[128, 128]`` -> ``"128×128"``; anything else as text, ``None`` kept."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)) and len(value) == 2:
        return f"{value[0]}×{value[1]}"
    return str(value)


def _number(value):
    """A number from a record field, or NaN when it is missing or not numeric."""
    if isinstance(value, bool) or value is None:
        return float("nan")
    if isinstance(value, (int, float)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def model_order(model_id: str) -> tuple:
    """Sort key that puts a model id in teaching order (:data:`MODEL_NOTEBOOKS`' order), unknown ids last by name.

    ``sorted(ids, key=model_order)``: ``["cnn_bn", "mlp_pixels", "zzz"]`` → ``["mlp_pixels", "cnn_bn", "zzz"]``.
    """
    order = list(MODEL_NOTEBOOKS)
    return (order.index(model_id) if model_id in order else len(order), model_id)


def accuracy_interval(record: dict, confidence: float = 0.95) -> tuple:
    """Wilson interval of a record's test accuracy: ``(low, high)``, NaN when it cannot be told.

    Uses the per-photo predictions (``test_y_true``, ``test_p_dog``) when the
    record has them, else ``test_accuracy`` × ``test_count`` (rounded to
    whole photos). See :func:`utils.stats.wilson_interval`.
    """
    from utils import evaluate, stats

    y, p = record.get("test_y_true"), record.get("test_p_dog")
    if isinstance(y, list) and isinstance(p, list) and y and len(y) == len(p):
        result = stats.accuracy_interval(y, evaluate.predicted_labels(p), confidence)
        return result["low"], result["high"]
    accuracy, count = _number(record.get("test_accuracy")), _number(record.get("test_count"))
    if np.isnan(accuracy) or np.isnan(count) or count < 1 or not 0 <= accuracy <= 1:
        return float("nan"), float("nan")
    return stats.wilson_interval(int(round(accuracy * count)), int(count), confidence)


def paired_tests(records, baselines=BASELINES, models=TRANSFER_MODELS) -> "pandas.DataFrame":
    """McNemar's exact test of each transfer model against each from-scratch CNN, on the same test photos.

    Parameters
    ----------
    records : iterable of dict
        Result records of one profile; only those with per-photo predictions
        (``test_y_true``, ``test_p_dog``) take part.
    baselines : sequence of str, default :data:`BASELINES`
    models : sequence of str, default :data:`TRANSFER_MODELS`

    Returns
    -------
    pandas.DataFrame
        One row per (model, baseline) pair found: ``model``, ``against``,
        ``photos``, ``model accuracy``, ``baseline accuracy``, ``only model
        right``, ``only baseline right``, ``p value`` (two-sided, exact),
        ``p value (Holm)`` (adjusted over every row: :func:`utils.stats.holm`).
        Pairs whose records hold no predictions, or predictions for different
        photos (other labels or counts), are left out and listed in the
        table's ``attrs["left_out"]``.
    """
    import pandas as pd

    from utils import evaluate, stats

    by_id = {r.get("model_id"): r for r in records if isinstance(r, dict)}
    rows, left_out = [], []
    for model_id in models:
        for baseline in baselines:
            a, b = by_id.get(model_id), by_id.get(baseline)
            if a is None or b is None:
                continue
            ya = a.get("test_y_true")
            reason = results.different_test_photos(a, b)
            if reason is None and not (a.get("test_p_dog") and b.get("test_p_dog")):
                reason = "no per-photo predictions in a record"
            if reason is not None:
                left_out.append((model_id, baseline, reason))
                continue
            test = stats.mcnemar_exact(ya, evaluate.predicted_labels(a["test_p_dog"]),
                                       evaluate.predicted_labels(b["test_p_dog"]))
            rows.append({"model": model_id, "against": baseline, "photos": test["count"],
                         "model accuracy": test["accuracy_a"], "baseline accuracy": test["accuracy_b"],
                         "only model right": test["only_a"], "only baseline right": test["only_b"],
                         "p value": test["p_value"]})
    table = pd.DataFrame(rows, columns=["model", "against", "photos", "model accuracy", "baseline accuracy",
                                        "only model right", "only baseline right", "p value"])
    # several tests on the same photos: Holm's correction over all of them (stats.holm)
    table["p value (Holm)"] = stats.holm(table["p value"]) if len(table) else []
    table.attrs["left_out"] = left_out
    return table


#: The columns of :func:`record_table`: what a reader needs of a record at a glance.
SHORT_COLUMNS = ("model", "test accuracy", "95% interval low", "95% interval high", "test log loss", "epochs",
                 "parameters", "seconds per epoch")


def record_table(cfg: config.Profile, model_ids) -> "pandas.io.formats.style.Styler":
    """The records of ``model_ids`` under ``cfg``'s profile as a short table, one row each.

    Percentages with one decimal, log loss with three, seconds with one:
    what a notebook shows after writing a record (the record itself, with its
    per-photo predictions and history, stays in ``results/<profile>/``).
    Models without a record are left out.

    Returns
    -------
    pandas.io.formats.style.Styler
        Indexed by ``model``, columns :data:`SHORT_COLUMNS` (but ``model``).
    """
    by_id = {record["model_id"]: record for record in results.load_records(cfg)}
    table = comparison_table([by_id[m] for m in model_ids if m in by_id])
    percent = "{:.1%}"
    return table[list(SHORT_COLUMNS)].set_index("model").style.format(
        {"test accuracy": percent, "95% interval low": percent, "95% interval high": percent,
         "test log loss": "{:.3f}", "epochs": "{:.0f}", "parameters": "{:,.0f}", "seconds per epoch": "{:.1f}"},
        na_rep="–")


def comparison_table(records) -> "pandas.DataFrame":
    """Every model side by side, one row per record, in teaching order.

    Parameters
    ----------
    records : iterable of dict
        Result records, e.g. from :func:`utils.results.load_records` (records of several
        profiles may be mixed: the ``profile`` column tells them apart, and
        rows are ordered by model then profile).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TABLE_COLUMNS` (``model``, ``profile``, ``image size``
        as ``"h×w"``, ``train images``, ``epochs``, ``parameters``,
        ``seconds per epoch`` (s), ``train seconds`` (the whole training),
        ``feature seconds`` (features computed once, transfer models only),
        ``images per second``, ``test accuracy``
        (fraction in [0, 1]), ``95% interval low`` and ``high`` (Wilson, see
        :func:`accuracy_interval`), ``test log loss`` (nats), ``weights used``,
        ``backbone`` (the pretrained network, None for models trained from scratch)),
        ``made by`` (``its notebook``, or :data:`MADE_BY`'s words for a record that
        :mod:`utils.prerequisites` filled in for a notebook opened first).
        A field a record lacks reads NaN (numbers) or None (text). Empty
        records give an empty table with the same columns.

    Raises
    ------
    ValueError
        If a record is not a dict or has no ``model_id``.
    """
    import pandas as pd

    rows = []
    for record in records:
        if not isinstance(record, dict) or "model_id" not in record:
            raise ValueError(f"not a result record (a dict with a model_id): {record!r:.80}")
        low, high = accuracy_interval(record)
        rows.append({
            "model": record["model_id"],
            "profile": record.get("profile"),
            "image size": image_size_text(record.get("image_size")),
            "train images": _number(record.get("train_count")),
            "epochs": _number(record.get("epochs")),
            "parameters": _number(record.get("params")),
            "seconds per epoch": _number(record.get("seconds_per_epoch")),
            "train seconds": _number(record.get("train_seconds")),
            "feature seconds": _number(record.get("feature_seconds")),
            "images per second": _number(record.get("images_per_second")),
            "test accuracy": _number(record.get("test_accuracy")),
            "95% interval low": low,
            "95% interval high": high,
            "test log loss": _number(record.get("test_log_loss")),
            "weights used": record.get("weights"),
            "backbone": record.get("backbone"),
            "made by": MADE_BY.get((record.get("provenance") or {}).get("kind"), "its notebook"),
        })
    rows.sort(key=lambda row: (model_order(row["model"]), str(row["profile"])))
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    for column in ("train images", "epochs", "parameters"):
        numbers = pd.to_numeric(table[column], errors="coerce")
        whole = bool((numbers.dropna() % 1 == 0).all())
        table[column] = numbers.astype("Int64") if whole else numbers
    return table


def anchors_table() -> "pandas.DataFrame":
    """The published figures of :data:`utils.anchors.ANCHORS` as a table (theirs, not ours).

    Returns
    -------
    pandas.DataFrame
        Columns ``source``, ``setup``, ``model``, ``reported`` (as published),
        ``accuracy`` (fraction, NaN where only a bound or range is published) and
        ``split`` (``"validation"`` or ``"test"``: which split the source scored;
        ``"not stated"`` when it does not say).
    """
    import pandas as pd

    columns = ["source", "setup", "model", "reported", "accuracy", "split"]
    table = pd.DataFrame(list(anchors.ANCHORS), columns=columns)
    table["accuracy"] = pd.to_numeric(table["accuracy"], errors="coerce")
    table["split"] = table["split"].fillna("not stated")
    return table


def notebook_for(model_id: str) -> str:
    """The notebook file that trains ``model_id``, e.g. ``"03_cnn.ipynb"``.

    Looks in ``notebooks/`` for ``NN_*.ipynb``; answers ``"NN_….ipynb"`` when
    no such file exists yet, and ``"?"`` for an unknown model.
    """
    number = MODEL_NOTEBOOKS.get(model_id)
    if number is None:
        return "?"
    found = sorted((config.PROJECT_ROOT / "notebooks").glob(f"{number}_*.ipynb"))
    return found[0].name if found else f"{number}_….ipynb"


def missing_models(records, expected=EXPECTED_MODELS) -> "pandas.DataFrame":
    """Which expected models have no record, and which notebook makes each.

    Parameters
    ----------
    records : iterable of dict
        Result records (only their ``model_id`` is read).
    expected : sequence of str, default :data:`EXPECTED_MODELS`

    Returns
    -------
    pandas.DataFrame
        Columns ``model`` and ``made by`` (a notebook file name), one row per
        missing model in teaching order; empty when nothing is missing. A
        VGG16 model counts as present when its EfficientNet-Lite0 twin
        (:data:`ALTERNATIVES`) has a record.
    """
    import pandas as pd

    present = {record.get("model_id") for record in records if isinstance(record, dict)}
    rows = [{"model": model_id, "made by": notebook_for(model_id)}
            for model_id in expected
            if model_id not in present and not present.intersection(ALTERNATIVES.get(model_id, ()))]
    return pd.DataFrame(rows, columns=["model", "made by"])
