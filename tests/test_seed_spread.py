"""benchmarks/seed_spread.py: the committed runs the notebooks read, and the README tables made from them."""

from __future__ import annotations

import json

import pytest

from benchmarks import seed_spread   # benchmarks/ is a namespace package on pytest's pythonpath


def test_the_readme_tables_are_generated_from_the_committed_runs():
    text = seed_spread.README.read_text(encoding="utf-8")
    assert seed_spread.render_readme(text) == text, \
        "run `.venv/bin/python benchmarks/seed_spread.py --readme` and commit benchmarks/README.md"
    assert seed_spread.main(["--readme", "--check"]) == 0


def test_every_comparison_the_notebooks_read_has_three_seeds_on_validation():
    rows = [json.loads(line) for line in seed_spread.COMMITTED.read_text(encoding="utf-8").splitlines() if line.strip()]
    for comparison in seed_spread.COMPARISONS.values():
        chosen = [row for row in rows if row["comparison"] == comparison]
        assert len({row["seed"] for row in chosen}) >= 3, f"{comparison}: fewer than 3 seeds committed"
        assert {row["profile"] for row in chosen} == {"sample"}
        runs = [row for row in chosen if "gain" not in row]
        assert runs and all(0 <= row["valid_accuracy"] <= 1 and row["valid_count"] > 0 for row in runs)
        assert not any(key.startswith("test") for row in chosen for key in row), "the spread reads validation only"
        assert all(0 <= row["p_value"] <= 1 for row in chosen if "p_value" in row)
        assert {row["model"] for row in chosen if "gain" in row}, f"{comparison}: no gains committed"


def _row(comparison, seed, model, **fields):
    return {"benchmark": "seed_spread", "comparison": comparison, "profile": "sample", "commit": "abc1234",
            "machine": "test", "epochs": 20, "seed": seed, "model": model, **fields}


def test_markdown_gives_each_comparison_its_table_and_each_gain_its_spread(tmp_path):
    three = seed_spread.COMPARISONS["03"]
    rows = [_row(three, seed, name, valid_accuracy=accuracy, valid_count=1000)
            for seed, pairs in ((1, (("cnn_small", 0.70), ("seed002_cnn", 0.60))), (2, (("cnn_small", 0.72), ("seed002_cnn", 0.66))))
            for name, accuracy in pairs]
    rows += [_row(three, 1, "seed002_cnn − cnn_small", gain=-0.10, p_value=0.001),
             _row(three, 2, "seed002_cnn − cnn_small", gain=-0.06, p_value=0.02),
             _row(seed_spread.COMPARISONS["04"], 1, "cnn_plain", valid_accuracy=0.5, valid_count=10, strength="light")]
    path = tmp_path / "spread.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    text = seed_spread.markdown(path)
    assert text.index("**03: cnn_small vs the seeds' networks**") < text.index("**04: cnn_plain vs cnn_aug**")
    assert "| 1 | 70.0% | 60.0% | -10.0 (0.001) |" in text and "| 2 | 72.0% | 66.0% | -6.0 (0.02) |" in text
    assert "seed002_cnn − cnn_small over 2 seeds: mean -8.0 points, standard deviation 2.8, range -10.0 to -6.0" in text


def test_a_stale_readme_block_is_rewritten_and_a_missing_one_refused(tmp_path):
    stale = "a\n<!-- seed_spread:sample -->\n| old |\n<!-- /seed_spread:sample -->\nb\n"
    fresh = seed_spread.render_readme(stale)
    assert "| old |" not in fresh and seed_spread.render_readme(fresh) == fresh
    with pytest.raises(ValueError, match="seed_spread:sample"):
        seed_spread.render_readme("# README\n")
