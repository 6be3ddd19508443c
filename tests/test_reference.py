"""The README's measured tables come from the committed reference records (course/tools/reference.py)."""

from __future__ import annotations

import json

import pytest

from course.tools import reference
from utils import config, stats

ROOT = config.PROJECT_ROOT


def test_readme_tables_agree_with_the_committed_reference_records():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    expected = reference.render_readme(text, reference.generated_sections())
    assert expected == text, "run `python course/tools/reference.py readme` and commit README.md"


def _run(tmp_path, profile="sample", statuses=None, record_profile=None):
    """A fake finished make course run: state.json and two records."""
    results = tmp_path / "results" / profile
    (results / "notebooks").mkdir(parents=True)
    statuses = statuses or {"02_mlp.ipynb": ("ok", 200.0), "03_cnn.ipynb": ("ok", 540.0)}
    state = {"profile": profile, "notebooks": {name: {"key": "k", "status": status, "seconds": seconds}
                                               for name, (status, seconds) in statuses.items()}}
    (results / "notebooks" / "state.json").write_text(json.dumps(state), encoding="utf-8")
    for model_id, accuracy, notebook in (("mlp_pixels", 0.640, "02_mlp"), ("cnn_small", 0.755, "03_cnn")):
        record = {"model_id": model_id, "profile": record_profile or profile, "notebook": notebook,
                  "test_accuracy": accuracy, "test_count": 1000, "test_log_loss": 0.5,
                  "epochs": 30, "best_epoch": 21, "seconds_per_epoch": 8.5, "params": 213153,
                  "commit": "abc1234", "hardware": {"cpu": "Test CPU", "cpu_cores": 2, "gpus": []},
                  "versions": {"keras": "3.0", "keras backend": "jax"}}
        (results / f"{model_id}.json").write_text(json.dumps(record), encoding="utf-8")
    return results


def test_a_saved_run_gives_tables_with_its_own_figures_and_intervals(tmp_path):
    saved = reference.save_reference(_run(tmp_path), "sample", reference_dir=tmp_path / "reference")
    assert (saved / "run.json").is_file() and len(list((saved / "records").glob("*.json"))) == 2
    sections = reference.generated_sections(tmp_path / "reference")
    low, high = stats.wilson_interval(755, 1000)
    assert f"75.5% ({low:.1%}–{high:.1%})" in sections["results"]
    assert "| `cnn_small` | 03 |" in sections["results"] and "30 (21)" in sections["results"]
    assert "| `03_cnn` | 9.0 min |" in sections["times"]
    assert "**12.3 min**" in sections["times"]          # 200 s + 540 s
    assert "commit `abc1234`" in sections["times"] and "backend jax" in sections["times"]


def test_a_partial_run_is_marked_so_its_sum_is_not_read_as_the_course_time(tmp_path):
    reference.save_reference(_run(tmp_path / "a"), "sample", reference_dir=tmp_path / "reference")
    reference.save_reference(_run(tmp_path / "b", profile="full", statuses={"03_cnn.ipynb": ("ok", 900.0)}),
                             "full", reference_dir=tmp_path / "reference")
    times = reference.generated_sections(tmp_path / "reference")["times"]
    assert "| `02_mlp` | 3.3 min | – |" in times
    assert "| **all** | **12.3 min** | **15.0 min** (1 of 2 notebooks) |" in times
    assert "not the whole course's time" in times


def test_an_unfinished_run_or_a_mixed_profile_is_no_reference(tmp_path):
    failed = _run(tmp_path / "a", statuses={"02_mlp.ipynb": ("failed", 10.0)})
    with pytest.raises(ValueError, match="did not finish"):
        reference.save_reference(failed, "sample", reference_dir=tmp_path / "reference")
    mixed = _run(tmp_path / "b", record_profile="smoke")
    with pytest.raises(ValueError, match="profile 'smoke'"):
        reference.save_reference(mixed, "sample", reference_dir=tmp_path / "reference")
    assert not (tmp_path / "reference").exists()


def test_a_readme_without_markers_is_refused_and_a_stale_one_is_rewritten():
    with pytest.raises(ValueError, match="reference:times"):
        reference.render_readme("# README\n", {"times": "x"})
    stale = "a\n<!-- reference:times -->\n| old | 82.0% |\n<!-- /reference:times -->\nb\n"
    assert reference.render_readme(stale, {"times": "| new |"}) == \
        "a\n<!-- reference:times -->\n| new |\n<!-- /reference:times -->\nb\n"
