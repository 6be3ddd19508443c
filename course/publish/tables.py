"""Tables for people: the site's results, rounded and labelled, built from the result records.

:func:`utils.comparisons.comparison_table` keeps every field of every record, for
code and for notebook 07. A reader of the site needs less: which model, on
what photos, how accurate (with its 95% interval), how well calibrated and how
long it trained. :func:`results_html` shows that, with the units in the headers
and each model's full record one click away.
"""

from __future__ import annotations

import html
import math

from utils import comparisons

#: The site's results columns: header (with its unit) and what the cell says.
COLUMNS = ("model", "image size (px)", "train photos", "epochs", "test accuracy (95% interval)",
           "test log loss", "train time (s)", "parameters")


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def percent_interval(accuracy, low=None, high=None) -> str:
    """``"87.2% (85.0–89.1)"``: an accuracy and its interval, fractions written as percent.

    Parameters
    ----------
    accuracy : float or None
        Fraction in [0, 1].
    low, high : float or None
        The interval's bounds, fractions; left out when unknown (NaN or None).

    Returns
    -------
    str
        ``"—"`` when the accuracy is unknown.

    Raises
    ------
    ValueError
        If a value lies outside [0, 1] (a percentage passed by mistake).
    """
    if _missing(accuracy):
        return "—"
    for value in (accuracy, low, high):
        if not _missing(value) and not 0 <= value <= 1:
            raise ValueError(f"accuracies are fractions in [0, 1], got {value!r}")
    text = f"{accuracy:.1%}"
    if not _missing(low) and not _missing(high):
        text += f" ({low * 100:.1f}–{high * 100:.1f})"
    return text


def whole(value) -> str:
    """A count or a duration in seconds, rounded, with thousands separated: ``"1,450"``."""
    return "—" if _missing(value) else f"{round(float(value)):,}"


def image_size(value) -> str:
    """``[150, 150]`` → ``"150×150"`` (:func:`utils.comparisons.image_size_text`); a missing value (None, NaN) → ``"—"``."""
    return "—" if _missing(value) else comparisons.image_size_text(value)


def results_rows(records) -> list[dict]:
    """One row per record, in teaching order: :data:`COLUMNS` as readable text, plus ``model_id``."""
    rows = []
    for record in sorted(records, key=lambda r: comparisons.model_order(r["model_id"])):
        low, high = comparisons.accuracy_interval(record)
        loss = record.get("test_log_loss")
        rows.append({
            "model_id": record["model_id"],
            "model": record["model_id"],
            "image size (px)": image_size(record.get("image_size")),
            "train photos": whole(record.get("train_count")),
            "epochs": whole(record.get("epochs")),
            "test accuracy (95% interval)": percent_interval(record.get("test_accuracy"), low, high),
            "test log loss": "—" if _missing(loss) else f"{loss:.2f}",
            "train time (s)": whole(record.get("train_seconds")),
            "parameters": whole(record.get("params")),
        })
    return rows


def results_html(records, record_href=lambda model_id: f"records/{model_id}.json") -> str:
    """The site's results table as HTML: each model's name links to its full record."""
    if not records:
        return ""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = []
    for row in results_rows(records):
        cells = [f'<td><a href="{html.escape(record_href(row["model_id"]))}">{html.escape(row["model"])}</a></td>']
        cells += [f'<td class="number">{html.escape(row[c])}</td>' for c in COLUMNS[1:]]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="table-box"><table class="results"><thead><tr>{head}</tr></thead>\n<tbody>\n'
            + "\n".join(body) + "\n</tbody></table></div>")
