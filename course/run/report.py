"""What ``make course`` reports: the summary table, the exit status and ``index.html``.

The instructor index page is a jinja2 template (:data:`INDEX_TEMPLATE`,
autoescaped) filled with the status of each notebook, the results table of
notebook 07 and the published anchors.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from utils import config
from utils.files import atomic_write
from course.run.execute import FAILED, NOT_RUN, OK, SKIPPED
from course.run.state import now as _now


@dataclasses.dataclass
class NotebookResult:
    """One line of the summary."""

    name: str
    status: str
    seconds: float = 0.0
    cached: bool = False
    cell: int | None = None
    error: str | None = None
    reason: str | None = None
    ipynb: Path | None = None
    html: Path | None = None

    def note(self) -> str:
        """Short text for the summary's last column."""
        if self.status == FAILED:
            where = f"cell {self.cell}: " if self.cell else ""
            return f"{where}{self.error or 'error'}"
        if self.status == SKIPPED:
            return self.reason or ""
        if self.status == NOT_RUN:
            return self.reason or ""
        return "unchanged since the last run (FORCE=1 to re-run)" if self.cached else ""


def _all_results(every, results, state, out_dir) -> list[NotebookResult]:
    """This run's results plus the last known state of notebooks not run now (``--only``)."""
    by_name = {r.name: r for r in results}
    merged = []
    for path in every:
        name = path.stem
        if name in by_name:
            merged.append(by_name[name])
        elif name in state:
            entry = state[name]
            ipynb, page = out_dir / f"{name}.ipynb", out_dir / f"{name}.html"
            merged.append(NotebookResult(name, entry.get("status", OK), entry.get("seconds", 0.0),
                                         cached=True, reason=entry.get("reason"),
                                         ipynb=ipynb if ipynb.is_file() else None,
                                         html=page if page.is_file() else None))
    return merged


#: The instructor index page (jinja2, autoescaped): ``profile``, ``written``,
#: ``rows`` (:class:`NotebookResult`), ``records_html``, ``anchors_html`` (tables
#: pandas rendered, marked safe).
INDEX_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Dogs vs. Cats with Keras · executed course ({{ profile }})</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; padding: 0 1em; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border-bottom: 1px solid #ddd; padding: .3em .7em; text-align: left; }
tr.failed td, tr.not-run td { color: #b00; } tr.skipped td { color: #a60; }
</style></head><body>
<h1>Dogs vs. Cats with Keras · executed notebooks</h1>
<p>Profile <b>{{ profile }}</b> · page written {{ written }} by
<code>make course</code>. Each notebook ran top to bottom; open the HTML to present it.</p>
<table><tr><th>notebook</th><th>status</th><th>seconds</th><th>files</th><th>note</th></tr>
{% for r in rows %}<tr class="{{ r.status | replace(' ', '-') }}"><td>
{%- if r.html %}<a href="{{ r.html.name }}">{{ r.name }}</a>{% else %}{{ r.name }}{% endif %}</td>
<td>{{ r.status }}</td><td>{{ '%.0f' | format(r.seconds) }}</td><td>
{%- if r.html %}<a href="{{ r.html.name }}">HTML</a>{% endif %}
{%- if r.html and r.ipynb %} · {% endif %}
{%- if r.ipynb %}<a href="{{ r.ipynb.name }}">notebook</a>{% endif %}</td><td>{{ r.note() }}</td></tr>
{% endfor %}</table>
<h2>Our results ({{ profile }} profile)</h2>
{{ records_html }}
<h2>Published figures (anchors: theirs, not ours)</h2>
{{ anchors_html }}
</body></html>
"""


def write_index_page(cfg: config.Profile, results: list[NotebookResult], out_dir: Path) -> Path:
    """``index.html``: a link to each executed notebook, its status, and the results table.

    Parameters
    ----------
    cfg : utils.config.Profile
        Its records (``results.load_records_report``) fill the results table.
    results : list of NotebookResult
        One row each, in order.
    out_dir : pathlib.Path
        Where the executed notebooks are; the page is written there atomically.

    Returns
    -------
    pathlib.Path
        ``out_dir / "index.html"``.
    """
    import jinja2

    from utils import comparisons, results as records_module

    records, _skipped = records_module.load_records_report(cfg)
    if records:
        table = comparisons.comparison_table(records).to_html(
            index=False, na_rep="—", float_format=lambda x: f"{x:.3f}", border=0)
    else:
        table = "<p>No result records yet: the training notebooks write them.</p>"
    anchors = comparisons.anchors_table().to_html(index=False, na_rep="—", border=0)
    template = jinja2.Environment(autoescape=True).from_string(INDEX_TEMPLATE)
    page = template.render(profile=cfg.name, written=_now(), rows=results,
                           records_html=_markup(table),
                           anchors_html=_markup(anchors))
    return atomic_write(Path(out_dir) / "index.html", page)


def _markup(text: str):
    """HTML that the template must not escape (tables pandas rendered)."""
    from markupsafe import Markup

    return Markup(text)


def format_summary(results: list[NotebookResult], out_dir: Path, total_seconds: float) -> str:
    """The table printed at the end of a run."""
    width = max([len(r.name) for r in results] + [8])
    lines = ["", f"{'notebook':<{width}}  {'status':<8}  {'seconds':>7}  note"]
    indent = " " * (width + 21)
    for r in results:
        seconds = f"{r.seconds:.0f}" + ("*" if r.cached else "")
        note = ("\n" + indent).join(r.note().splitlines())  # a skip's how-to keeps its lines
        lines.append(f"{r.name:<{width}}  {r.status:<8}  {seconds:>7}  {note}")
    counts = {s: sum(r.status == s for r in results) for s in (OK, SKIPPED, FAILED, NOT_RUN)}
    lines.append("")
    if any(r.cached for r in results):
        lines.append("* not executed again: time of the last run")
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items() if n)
                 + f" · {total_seconds:.0f} s in all")
    lines.append(f"Executed notebooks and HTML: {out_dir}")
    lines.append(f"Index page: {out_dir / 'index.html'}")
    return "\n".join(lines)


def exit_status(results: list[NotebookResult]) -> int:
    """0 when nothing failed (skips are fine), 1 otherwise."""
    return 1 if any(r.status in (FAILED, NOT_RUN) for r in results) else 0

