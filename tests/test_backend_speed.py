"""benchmarks/README.md's backend speed table comes from the committed benchmarks/backend_speed_cpu.jsonl."""

from __future__ import annotations

import json
import statistics

import pytest

from benchmarks import backend_speed   # benchmarks/ is a namespace package on pytest's pythonpath


def test_readme_table_agrees_with_the_committed_figures():
    text = backend_speed.README.read_text(encoding="utf-8")
    assert backend_speed.render_readme(text) == text, \
        "run `.venv/bin/python benchmarks/backend_speed.py --readme` and commit benchmarks/README.md"
    assert backend_speed.main(["--readme", "--check"]) == 0


def test_committed_rows_are_complete_and_their_ratios_are_their_medians():
    rows = backend_speed.read_rows(backend_speed.COMMITTED)
    assert {r["backend"] for r in rows} >= {"tensorflow", "jax"}
    assert any(r["backend"] == "jax" and not r["fixes"] for r in rows), "the figure before the fixes"
    for row in rows:
        for field in ("versions", "model", "image_size", "batch_size", "images", "cpu_count", "cpu", "date",
                      "commit", "fix", "fixes", "fast_max_pool_gradient", "xla_flags", "seconds_per_epoch_all"):
            assert field in row, field
        assert row["fix"] is (row["fixes"] == list(backend_speed.FIXES))
        if row["backend"] == "jax":
            assert ("--xla_cpu_experimental_ynn_fusion_type" in row["xla_flags"]) is ("xla_flag" in row["fixes"])
        assert row["seconds_per_epoch_median"] == pytest.approx(statistics.median(row["seconds_per_epoch_all"]),
                                                                abs=1e-3)
        assert row["fast_max_pool_gradient"] is (row["backend"] == "jax" and "max_pool_gradient" in row["fixes"])
        base = [r for r in rows if (r["model"], r["input"], r["backend"], r["date"])
                == (row["model"], row["input"], "tensorflow", row["date"])]
        assert len(base) == 1
        assert row["tensorflow_ratio"] == pytest.approx(
            row["seconds_per_epoch_median"] / base[0]["seconds_per_epoch_median"], abs=0.006)


def test_a_stale_table_is_rewritten_and_missing_markers_refused(tmp_path):
    row = {"model": "cnn_small", "input": "arrays", "image_size": [64, 64], "batch_size": 32, "images": 10,
           "versions": {"keras": "3", "tensorflow": "2.21.0", "jaxlib": "0.10.2"}, "fix": True,
           "fixes": list(backend_speed.FIXES), "fast_max_pool_gradient": False, "xla_flags": "",
           "seconds_per_epoch_median": 1.0, "seconds_per_epoch_all": [1.0],
           "tensorflow_ratio": 1.0, "backend": "tensorflow", "date": "2026-12-05T00:00:00+00:00", "commit": "abc",
           "cpu_count": 2, "cpu": "AMD EPYC", "rounds": 1, "epochs_per_round": 1, "load_average": [0.5, 1.0]}
    slow = {**row, "backend": "jax", "fix": False, "fixes": [], "seconds_per_epoch_median": 5.3,
            "seconds_per_epoch_all": [5.3],
            "tensorflow_ratio": 5.3}
    path = tmp_path / "figures.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (row, slow)) + "\n", encoding="utf-8")
    stale = "a\n<!-- backend_speed:cpu -->\n| old |\n<!-- /backend_speed:cpu -->\nb\n"
    fresh = backend_speed.render_readme(stale, path)
    assert "| old |" not in fresh and backend_speed.render_readme(fresh, path) == fresh
    assert "| jax 0.10.2, without `utils.jax_cpu` | 5.30 (5.30) | 5.30 (5.30) |" in fresh
    assert "| tensorflow 2.21.0 | 1.00 (1.00) | 1 (baseline) |" in fresh
    with pytest.raises(ValueError, match="backend_speed:cpu"):
        backend_speed.render_readme("# README\n", path)


def test_backends_take_turns_in_every_round():
    both, pooling = backend_speed.FIXES, ("max_pool_gradient",)
    runs = backend_speed.plan(["cnn_small", "mlp"], None, ["tensorflow", "jax", "torch"])
    assert runs[:5] == [("cnn_small", "arrays", "tensorflow", both), ("cnn_small", "arrays", "jax", both),
                        ("cnn_small", "arrays", "jax", pooling), ("cnn_small", "arrays", "jax", ()),
                        ("cnn_small", "arrays", "torch", both)]
    assert [r[2:] for r in runs if r[:2] == ("cnn_small", "tf.data")] == [
        ("tensorflow", both), ("jax", both), ("jax", ()), ("torch", both)]
    assert [r[2:] for r in runs if r[0] == "mlp"] == [("tensorflow", both), ("jax", both), ("torch", both)]
    assert backend_speed.plan(["cnn_small"], ["arrays"], ["jax"], variants=False) == [
        ("cnn_small", "arrays", "jax", both)]
