"""What ``make course`` left for publishing, read back for the slides and the site.

``make course`` (:mod:`course.run.runner`) writes each executed notebook to
``results/<profile>/notebooks/NN_name.ipynb`` and its state (status, key,
inputs) to ``state.json`` there; training notebooks write result records.
This module reads them and answers what a published page must say: the
lesson's title and summary, its status, and the profile, commit and hardware
it was executed with. It writes nothing.
"""

from __future__ import annotations

import copy
import dataclasses
import html
import re
from pathlib import Path

from course.run import runner
from utils import comparisons, config, errors, results as records_module

_HEADING = re.compile(r"^#\s+(.+)$", re.M)
_HARDWARE = re.compile(r"^Hardware\s*:\s*(.+?)\s*$", re.M)


@dataclasses.dataclass
class Lesson:
    """One lesson notebook and its last run under a profile.

    Attributes
    ----------
    name : str
        File stem, e.g. ``"03_cnn"``; pages are ``<name>.html``.
    title : str
        Text of the notebook's ``#`` heading (``"03 · A convolutional network from scratch"``).
    summary : str
        The first paragraph after the title (markdown source).
    source : pathlib.Path
        The notebook in ``notebooks/``.
    executed : pathlib.Path or None
        Its executed copy, None when ``make course`` has not run it.
    status : str
        ``ok``, ``skipped``, ``failed`` (:mod:`course.run.runner`) or ``not run``.
    reason : str or None
        Why it was skipped.
    finished : str or None
        When its run ended (UTC, ISO 8601).
    solutions : pathlib.Path or None
        ``notebooks/solutions/NN_*.ipynb`` (executed copy preferred), if any.
    """

    name: str
    title: str
    summary: str
    source: Path
    executed: Path | None
    status: str
    reason: str | None = None
    finished: str | None = None
    solutions: Path | None = None
    inputs: dict | None = None


def notebooks_dir() -> Path:
    """``notebooks/`` of the project: the lessons' sources."""
    return config.PROJECT_ROOT / "notebooks"


def executed_dir(cfg: config.Profile) -> Path:
    """``results/<profile>/notebooks``: where ``make course`` writes executed notebooks."""
    return cfg.profile_results_dir / "notebooks"


def _title_and_summary(path: Path) -> tuple[str, str]:
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        match = _HEADING.search(cell.source)
        if match:
            rest = cell.source[match.end():].strip()
            paragraph = rest.split("\n\n")[0].strip() if rest else ""
            return match.group(1).strip(), paragraph
    return path.stem, ""


def _solutions_for(name: str, cfg: config.Profile, source_dir: Path) -> Path | None:
    number = name[:2]
    folder = source_dir / "solutions"
    sources = sorted(folder.glob(f"{number}_*.ipynb")) if folder.is_dir() else []
    if not sources:
        return None
    for candidate in (executed_dir(cfg) / "solutions" / sources[0].name, executed_dir(cfg) / sources[0].name):
        if candidate.is_file():
            return candidate
    return sources[0]


def lessons(cfg: config.Profile, source_dir: Path | None = None) -> list[Lesson]:
    """Every ``notebooks/NN_*.ipynb`` in order, with what its last run under ``cfg`` left.

    ``source_dir`` replaces ``notebooks/`` (tests).

    Raises
    ------
    FileNotFoundError
        If no lesson was executed under this profile yet (run ``make course``).
    """
    out_dir = executed_dir(cfg)
    source_dir = Path(source_dir) if source_dir else notebooks_dir()
    state = runner.load_state(out_dir / runner.STATE_FILE, cfg.name)
    found = []
    for path in runner.find_notebooks(source_dir):
        executed = out_dir / path.name
        entry = state.get(path.stem, {})
        title, summary = _title_and_summary(path)
        status = entry.get("status") or (runner.OK if executed.is_file() else runner.NOT_RUN)
        found.append(Lesson(path.stem, title, summary, path, executed if executed.is_file() else None,
                            status, entry.get("reason"), entry.get("finished"),
                            _solutions_for(path.stem, cfg, source_dir), entry.get("inputs")))
    if not any(lesson.executed for lesson in found):
        raise FileNotFoundError(f"no executed notebook in {out_dir}: run `make course` "
                                f"(DOGSCATS_PROFILE={cfg.name}) first")
    return found


def hardware_of(notebook) -> str | None:
    """The ``Hardware    : ...`` line :func:`utils.config.report` printed in the notebook's outputs."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                match = _HARDWARE.search(output.get("text", ""))
                if match:
                    return match.group(1)
    return None


def _changed_since(lesson: Lesson, cfg: config.Profile) -> bool:
    """Whether the notebook or ``utils`` differ from the inputs its run recorded."""
    try:
        now = runner.fingerprint(lesson.source, cfg, earlier="", project_root=config.PROJECT_ROOT)
    except (OSError, TypeError, ValueError):  # the runner's key changed shape: say nothing
        return False
    return any(key in lesson.inputs and now.get(key) != lesson.inputs[key] for key in ("notebook", "utils"))


def run_facts(lesson: Lesson, notebook, cfg: config.Profile, records: list[dict]) -> dict:
    """Profile, commit and hardware a lesson's page was executed with.

    The commit is the one in the lesson's own result records when it wrote
    any; otherwise the project's current commit, marked as changed when the
    notebook or ``utils`` differ from what was executed (the run's recorded
    inputs, :func:`course.run.runner.fingerprint`). Hardware is what the notebook
    itself reported, else its records'.

    Returns
    -------
    dict
        ``{"profile": str, "commit": str, "hardware": str, "finished": str}``.
    """
    own = [r for r in records if comparisons.MODEL_NOTEBOOKS.get(r["model_id"]) == lesson.name[:2]]
    commit = next((r["commit"] for r in own if r.get("commit")), None)
    if commit is None:
        commit = records_module.git_commit() or "unknown"
        if lesson.inputs and _changed_since(lesson, cfg):
            commit += " (changed since: run make course again)"
    hardware = hardware_of(notebook) if notebook is not None else None
    if hardware is None and own and isinstance(own[0].get("hardware"), dict):
        hardware = config.describe_hardware(own[0]["hardware"])
    return {"profile": cfg.name, "commit": commit, "hardware": hardware or "unknown",
            "finished": lesson.finished or "unknown"}


def skip_notice_html(reason: str) -> str:
    """The box a skipped lesson shows instead of its error's traceback."""
    lines = "<br>".join(html.escape(line) for line in reason.strip().splitlines())
    return f'<div class="lesson-skipped"><strong>Lesson skipped.</strong> {lines}</div>'


def figure_alt(cell, output) -> str:
    """Alternative text of a figure: its own text form, unless that is Matplotlib's
    ``<Figure size ...>``, and the code line that drew it."""
    plain = output.get("data", {}).get("text/plain", "")
    plain = "".join(plain) if isinstance(plain, list) else plain
    lines = [line.strip() for line in cell.get("source", "").splitlines()
             if line.strip() and not line.strip().startswith("#")]
    drawn = next((line for line in lines if "plot" in line or "show" in line), lines[-1] if lines else "")
    text = "" if not plain or plain.startswith("<Figure") else plain.strip() + "; "
    return f"{text}figure drawn by {drawn[:120]}".strip()


#: The header cells ``course/tools/notebook_header.py`` puts under every title.
PLATFORM_BADGES_ID, PLATFORM_SETUP_ID = "platform-badges", "platform-setup"
_BADGE = re.compile(r"\[!\[(Open In [^\]]+)\]\([^)]*\)\]\(([^)]+)\)")


def _offline_header(cell):
    """The badges cell with plain links instead of badge images fetched from the network."""
    if cell.get("id") != PLATFORM_BADGES_ID:
        return cell
    links = [f"[{label.replace('In', 'in')}]({url})" for label, url in _BADGE.findall(cell.source)]
    cell.source = "Run this lesson yourself: " + " · ".join(links) if links else ""
    return cell


def for_publishing(notebook):
    """A copy of an executed notebook whose skip errors show their message, not a traceback.

    Figures also get their alternative text (:func:`figure_alt`). The platform cell
    (a no-op outside Colab and Kaggle) is left out, and the Colab/Kaggle badges become
    plain links, so a page loads nothing from the network.

    A cell that raised :class:`utils.errors.LessonSkipped` (its error value
    starts with :data:`utils.errors.SKIP_MARKER`) gets, instead of the
    error output, an HTML box with the reason. Other errors are kept as they
    are: a failed lesson must show its failure.
    """
    notebook = copy.deepcopy(notebook)
    notebook.cells = [_offline_header(cell) for cell in notebook.cells
                      if cell.get("id") != PLATFORM_SETUP_ID]
    for cell in notebook.cells:
        outputs = cell.get("outputs", [])
        for i, output in enumerate(outputs):
            if {"image/png", "image/jpeg"} & set(output.get("data", {})):
                output.setdefault("metadata", {})["course_alt"] = figure_alt(cell, output)
            value = (output.get("evalue") or "").strip()
            if output.get("output_type") == "error" and value.startswith(errors.SKIP_MARKER):
                reason = value[len(errors.SKIP_MARKER):]
                outputs[i] = {"output_type": "display_data", "metadata": {},
                              "data": {"text/html": skip_notice_html(reason),
                                       "text/plain": "Lesson skipped: " + reason}}
    return notebook
