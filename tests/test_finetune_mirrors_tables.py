"""benchmarks/finetune_mirrors.py makes its README table from the rows it writes with ``--out`` (synthetic rows)."""

from __future__ import annotations

import json

import pytest

from benchmarks import finetune_mirrors   # benchmarks/ is a namespace package on pytest's pythonpath

RUN = {"benchmark": "finetune_mirrors", "profile": "sample",
       "command": "benchmarks/finetune_mirrors.py --out benchmarks/finetune_mirrors_sample.jsonl",
       "commit": "fa43deb", "machine": "CPU only (2 cores: AMD EPYC 9B14)", "backend": "tensorflow",
       "date": "2026-12-06 10:00", "load": 0.4, "versions": {"keras": "3.15.1", "tensorflow": "2.21.0"},
       "train_photos": 2000, "valid_count": 1000, "extra_photos": 2000, "extra_per_class": 1000,
       "enlarged_valid_count": 3000}


def _row(way, correct, log_loss, epochs=0, seconds=0.0, **others):
    return {**RUN, "way": way, "run": way, "finetune_epochs": epochs, "finetune_seconds": seconds,
            "enlarged_valid_correct": correct, "enlarged_valid_accuracy": correct / 3000,
            "enlarged_valid_log_loss": log_loss, **others}


def _rows():
    first = [_row("head", 2955, 0.0457),
             _row("photos", 2966, 0.0332, 4, 113.2),
             _row("mirrors_same_steps", 2959, 0.0361, 2, 80.4),
             _row("mirrors_same_epochs", 2965, 0.0365, 4, 156.0)]
    later = {"date": "2026-12-07 09:00", "commit": "abc1234", "load": 2.5}
    second = [_row("photos", 2970, 0.0300, 4, 120.0, **later), _row("head", 2940, 0.0500, **later)]
    return first + second


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_each_run_gets_its_table_with_the_best_in_bold():
    first, second = finetune_mirrors.markdown(_rows()).split("| fine-tuning |")[1:]
    assert "| none (the head alone) | 98.50% (98.0%–98.9%) | 2,955 of 3,000 | 0.0457 |  |" in first
    assert "| the photos, 4 epochs (06's recipe) | **98.87%** (98.4%–99.2%) | 2,966 of 3,000 | **0.0332** | 113 |" \
        in first
    assert ("| photos + mirror images, 2 epochs (the same steps) | 98.63% (98.2%–99.0%) | 2,959 of 3,000 | 0.0361 "
            "| 80 |") in first
    assert ("| photos + mirror images, 4 epochs (twice the steps) | 98.83% (98.4%–99.2%) | 2,965 of 3,000 | 0.0365 "
            "| 156 |") in first
    # the second run's rows are in its own table, in the ways' order, its best in bold
    assert second.index("none (the head alone)") < second.index("the photos, 4 epochs")
    assert "| the photos, 4 epochs (06's recipe) | **99.00%** (98.6%–99.3%) | 2,970 of 3,000 | **0.0300** | 120 |" \
        in second


def test_the_headline_counts_photos_within_one_run():
    first, second = finetune_mirrors.markdown(_rows()).split("| fine-tuning |")[1:]
    assert ("On the 3,000 photos of the enlarged validation set, the photos, 4 epochs (06's recipe) scored 98.87% "
            "against 98.50% for the head alone: +0.37 points, +11 photos.") in first
    assert ("Against 06's recipe: photos + mirror images, 2 epochs (the same steps) 98.63% (-7 photos); "
            "photos + mirror images, 4 epochs (twice the steps) 98.83% (-1 photo).") in first
    assert "+1.00 points, +30 photos." in second and "Against 06's recipe" not in second


def test_the_caption_says_where_when_and_how_and_marks_a_loaded_start():
    first, second = finetune_mirrors.markdown(_rows()).split("| fine-tuning |")[1:]
    for part in ("`sample`, 2,000 training photos (+ their mirror images)",
                 "enlarged validation set of 3,000 photos (1,000 `valid` + 2,000 labelled photos the profile does not "
                 "use), the test split not read", "CPU only (2 cores: AMD EPYC 9B14)",
                 "TensorFlow 2.21.0, Keras 3.15.1",
                 "commit fa43deb, 2026-12-06 10:00 UTC, load average 0.4 at start;",
                 "`.venv/bin/python benchmarks/finetune_mirrors.py --out benchmarks/finetune_mirrors_sample.jsonl`"):
        assert part in first, part
    assert "contended" not in first
    assert "commit abc1234, 2026-12-07 09:00 UTC, load average 2.5 at start (contended" in second


def test_a_stale_block_is_rewritten_and_missing_markers_refused(tmp_path):
    path = _write(tmp_path / "mirrors.jsonl", _rows())
    stale = "a\n<!-- finetune_mirrors:sample -->\n| old |\n<!-- /finetune_mirrors:sample -->\nb\n"
    fresh = finetune_mirrors.render_readme(stale, path)
    assert "| old |" not in fresh and fresh.startswith("a\n<!-- finetune_mirrors:sample -->\n| fine-tuning |")
    assert "**98.87%**" in fresh and finetune_mirrors.render_readme(fresh, path) == fresh
    with pytest.raises(ValueError, match="finetune_mirrors:sample"):
        finetune_mirrors.render_readme("# README\n", path)


def test_check_fails_on_a_stale_readme_and_readme_fixes_it(tmp_path, monkeypatch, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("x\n<!-- finetune_mirrors:sample -->\n| old |\n<!-- /finetune_mirrors:sample -->\n",
                      encoding="utf-8")
    monkeypatch.setattr(finetune_mirrors, "README", readme)
    monkeypatch.setattr(finetune_mirrors, "COMMITTED", _write(tmp_path / "mirrors.jsonl", _rows()))
    assert finetune_mirrors.main(["--readme", "--check"]) == 1
    assert "| old |" in readme.read_text(encoding="utf-8")
    assert finetune_mirrors.main(["--readme"]) == 0
    assert "+11 photos" in readme.read_text(encoding="utf-8")
    assert finetune_mirrors.main(["--readme", "--check"]) == 0
    capsys.readouterr()
    assert finetune_mirrors.main(["--table", str(finetune_mirrors.COMMITTED)]) == 0
    assert "2,970 of 3,000" in capsys.readouterr().out
