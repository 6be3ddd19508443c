"""benchmarks/train_models.py: the --out rows it writes, and the README table generated from them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks import train_models   # benchmarks/ is a namespace package on pytest's pythonpath
from utils import config, stats

MACHINE = "CPU only (2 cores: AMD EPYC)"


def _row(model, invocation="2026-12-07 10:00:00", profile="sample", **changes):
    """A synthetic --out row (the fields out_row writes)."""
    mlp = model == "mlp_pixels"
    correct, n = (640, 1000) if mlp else (742, 1000)
    low, high = stats.wilson_interval(correct, n)
    row = {"benchmark": "train_models", "profile": profile, "model": model,
           "recipe": "notebook 02's `build_mlp` on 32×32 pixels, Adagrad, learning rate 0.01" if mlp else
           "notebook 03's recipe: AdamW, weight decay 0.5, cosine decay from 0.001 to 0, no early stopping",
           "image_size": [32, 32] if mlp else [64, 64], "train_count": 2000, "valid_count": 1000, "test_count": n,
           "epochs": 10 if mlp else 20, "best_epoch": 7 if mlp else 18, "params": 100, "train_seconds": 30.4 if mlp
           else 1234.5, "seconds_per_epoch": 1.5 if mlp else 6.0, "images_per_second": 900.0,
           "valid_accuracy": 0.62 if mlp else 0.731, "test_accuracy": correct / n, "test_log_loss": 0.648,
           "valid_log_loss": 0.65, "test": {"n": n, "accuracy": correct / n, "low": low, "high": high,
                                           "log_loss": 0.648 if mlp else 0.5841},
           "optimizer": "Adagrad, learning rate 0.01", "learning_rate": None, "patience": None,
           "precision": "float32", "seed": 42, "benchmark_wall_seconds": 40.0, "invocation": invocation,
           "command": "benchmarks/train_models.py --profile sample --out x.jsonl",
           "versions": {"keras": "3.12.0", "tensorflow": "2.21.0"}, "run_id": f"{profile}-{model}-seed42",
           "test_split": "0251cdce51d0", "reads_before": 5 if mlp else 6, "reread_reason": None,
           "commit": "abc1234", "machine": MACHINE, "backend": "tensorflow",
           "date": invocation[:16], "load": 0.4 if mlp else 1.6}
    return {**row, **changes}


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_the_table_holds_each_models_figures_its_interval_and_its_earlier_reads():
    text = train_models.markdown([_row("mlp_pixels"), _row("cnn_small")])
    lines = text.splitlines()
    assert lines[0].startswith("| profile | model | recipe | train / valid / test | image | epochs run (best kept) |")
    assert ("| sample | `mlp_pixels` | notebook 02's `build_mlp` on 32×32 pixels, Adagrad, learning rate 0.01 "
            "| 2,000 / 1,000 / 1,000 | 32×32 | 10 (7) | 1.5 | 30 | 62.0% | 64.0% (61.0%–66.9%) | 0.648 | 5 |") in lines
    # load 1.6 on 2 cores is above half of them: contended, in the row and in the caption
    assert ("| sample | `cnn_small` | notebook 03's recipe: AdamW, weight decay 0.5, cosine decay from 0.001 to 0, "
            "no early stopping | 2,000 / 1,000 / 1,000 | 64×64 | 20 (18) | 6.0 (contended) | 1,234 | 73.1% "
            "| 74.2% (71.4%–76.8%) | 0.584 | 6 |") in lines
    assert ("`sample`: run of 2026-12-07 10:00 UTC, commit abc1234, CPU only (2 cores: AMD EPYC), tensorflow "
            "(keras 3.12.0, tensorflow 2.21.0), float32, seed 42; load average at each model's start "
            "0.4 (`mlp_pixels`), 1.6 (`cnn_small`), contended; "
            "`benchmarks/train_models.py --profile sample --out x.jsonl`.") in lines
    # the headline compares the two models of the same run: 74.2 - 64.0 points, 6.0 / 1.5 s per epoch
    assert ("Under `sample`, `cnn_small` scored 10.2 points above `mlp_pixels` on the same 1,000 test photos in "
            "this run (74.2% and 64.0%); its epochs took 4.0× as long (64×64 photos against 32×32).") in lines


def test_each_profile_shows_its_latest_run_only_and_a_lone_model_has_no_headline():
    old = [_row("mlp_pixels", "2026-12-01 09:00:00", test_count=999), _row("cnn_small", "2026-12-01 09:00:00")]
    new = [_row("mlp_pixels", "2026-12-07 10:00:00", seconds_per_epoch=2.0)]
    full = [_row("cnn_small", "2026-12-02 08:00:00", profile="full", train_count=8000)]
    text = train_models.markdown(full + new + old)
    body = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line][1:]
    assert [line.split(" | ")[:2] for line in body] == [["| sample", "`mlp_pixels`"], ["| full", "`cnn_small`"]]
    assert "| 2,000 / 1,000 / 1,000 | 32×32 | 10 (7) | 2.0 |" in body[0]
    assert "| 8,000 / 1,000 / 1,000 |" in body[1]
    assert "999" not in text and "2026-12-01" not in text and "Under `" not in text
    assert [run[0]["invocation"] for run in train_models.latest_runs(old + new + full)] == [
        "2026-12-07 10:00:00", "2026-12-02 08:00:00"]


def test_out_row_carries_the_interval_the_reads_and_the_recipe():
    cfg = config.get_profile("smoke")
    fields = {key: 1 for key in train_models.FIGURES}
    fields.update(test_count=1000, test_accuracy=0.742, test_log_loss=0.5841, valid_accuracy=0.73,
                  optimizer="AdamW, weight decay 0.5", learning_rate="cosine decay from 0.001 to 0", patience=4,
                  precision="float32", benchmark_wall_seconds=12.5, test_p_dog=[0.5] * 1000)
    run = {"invocation": "2026-12-07 10:00:00", "command": "c", "versions": {"keras": "3"}, "run_id": "r",
           "test_split": "s", "reads_before": 3, "reread_reason": None}
    started = {"commit": "abc", "machine": MACHINE, "backend": "tensorflow", "date": "d", "load": 0.1}
    row = train_models.out_row(cfg, "cnn_small", fields, run, started)
    assert row["test"]["n"] == 1000 and row["test"]["accuracy"] == pytest.approx(0.742)
    assert (row["test"]["low"], row["test"]["high"]) == pytest.approx(stats.wilson_interval(742, 1000))
    assert row["test"]["low"] == pytest.approx(0.714, abs=5e-4) and row["test"]["high"] == pytest.approx(0.768, abs=5e-4)
    assert row["reads_before"] == 3 and row["seed"] == cfg.seed and row["profile"] == "smoke"
    assert row["recipe"] == ("notebook 03's recipe: AdamW, weight decay 0.5, cosine decay from 0.001 to 0, "
                             "early stopping after 4 epochs without a better one")
    assert "test_p_dog" not in row                                 # the predictions stay in the record
    assert set(train_models.FIGURES) | set(run) | set(started) <= set(row)


def test_main_appends_the_rows_the_table_needs(tmp_path, monkeypatch, capsys):
    def fake(model_id):
        def train(*args, **kwargs):
            return {"image_size": [32, 32], "train_count": 20, "valid_count": 10, "test_count": 10, "epochs": 2,
                    "best_epoch": 1, "params": 5, "train_seconds": 1.0, "seconds_per_epoch": 0.5,
                    "images_per_second": 40.0, "valid_accuracy": 0.6, "valid_log_loss": 0.7,
                    "test_accuracy": 0.7 if model_id == "mlp_pixels" else 0.9, "test_log_loss": 0.6,
                    "optimizer": "Adagrad, learning rate 0.01", "precision": "float32",
                    "test_y_true": [0, 1] * 5, "test_p_dog": [0.2, 0.8] * 5}
        return train

    monkeypatch.setattr(train_models, "train_mlp", fake("mlp_pixels"))
    monkeypatch.setattr(train_models, "train_cnn", fake("cnn_small"))
    monkeypatch.setattr(train_models.data, "require_prepared", lambda cfg: None)
    monkeypatch.setattr(train_models.protocol, "test_split_sha", lambda cfg: "split")
    log, out = tmp_path / "reads.jsonl", tmp_path / "out.jsonl"
    _write(log, [{"run_id": "older", "test_split": "split"}])
    assert train_models.main(["--profile", "smoke", "--no-save", "--quiet", "--final-log", str(log),
                              "--out", str(out)]) == 0
    rows = train_models.read_rows(out)
    assert [r["model"] for r in rows] == ["mlp_pixels", "cnn_small"]
    assert [r["reads_before"] for r in rows] == [1, 2]             # the older read, then the MLP's
    assert len({r["invocation"] for r in rows}) == 1 and rows[0]["command"].endswith(f"--out {out}")
    assert rows[1]["test"]["accuracy"] == pytest.approx(0.9) and rows[1]["test"]["high"] < 1
    assert [r["test"]["low"] for r in train_models.read_rows(log)[1:]] == pytest.approx(
        [stats.wilson_interval(7, 10)[0], stats.wilson_interval(9, 10)[0]])
    text = train_models.markdown(rows)
    assert "| smoke | `mlp_pixels` |" in text and "20.0 points above `mlp_pixels`" in text
    for read in train_models.read_rows(log)[1:]:                  # each read keeps its predictions for pairing
        kept = np.load(tmp_path / "predictions" / read["predictions"])
        assert list(kept["y_true"]) == [0, 1] * 5 and len(kept["p_dog"]) == 10


def test_a_stale_block_is_rewritten_missing_markers_refused_and_check_fails(tmp_path, monkeypatch):
    committed = _write(tmp_path / "rows.jsonl", [_row("mlp_pixels"), _row("cnn_small")])
    stale = "a\n<!-- train_models:sample -->\n| old |\n<!-- /train_models:sample -->\nb\n"
    fresh = train_models.render_readme(stale, committed)
    assert "| old |" not in fresh and "64.0% (61.0%–66.9%)" in fresh
    assert train_models.render_readme(fresh, committed) == fresh
    with pytest.raises(ValueError, match="train_models:sample"):
        train_models.render_readme("# README\n", committed)

    readme = tmp_path / "README.md"
    readme.write_text(stale, encoding="utf-8")
    monkeypatch.setattr(train_models, "README", readme)
    monkeypatch.setattr(train_models, "COMMITTED", committed)
    assert train_models.main(["--readme", "--check"]) == 1
    assert readme.read_text(encoding="utf-8") == stale
    assert train_models.main(["--readme"]) == 0 and train_models.main(["--readme", "--check"]) == 0
    assert readme.read_text(encoding="utf-8") == fresh
