"""benchmarks/protocol.py, peers.py and report.py: design on validation only, one logged test read, generated tables."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import keras
import numpy as np
import pytest

from benchmarks import peers, report   # benchmarks/ is a namespace package on pytest's pythonpath
from utils import config, loading

# the module peers.py and report.py import (as `protocol`, benchmarks/ on sys.path): one RereadRefused
protocol = peers.protocol

TENSORFLOW_ONLY = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                     reason="the benchmarks' figures are TensorFlow's; one backend trains them here")


def test_the_readme_tables_are_generated_from_the_committed_files():
    text = report.README.read_text(encoding="utf-8")
    assert report.render_readme(text) == text, "run `.venv/bin/python benchmarks/report.py` and commit the README"
    assert report.main(["--check"]) == 0


def test_the_committed_test_reads_are_counted_and_never_repeated_without_a_reason():
    rows = protocol.read_log(protocol.FINAL_LOG)
    seen = {}
    for row in rows:
        assert row["kind"] == "final" and 0 <= row["test"]["accuracy"] <= 1
        assert row["reads_before"] == sum(1 for earlier in seen.values() for r in earlier
                                          if r["test_split"] == row["test_split"])
        if row["run_id"] in seen:
            assert row.get("reread_reason"), f"{row['run_id']} read twice without a reason"
        seen.setdefault(row["run_id"], []).append(row)
        saved = np.load(protocol.FINAL_LOG.parent / "predictions" / row["predictions"])
        assert len(saved["y_true"]) == row["test"]["n"]
        correct = (saved["p_dog"].astype(np.float64) > 0.5) == saved["y_true"]
        assert abs(correct.mean() - row["test"]["accuracy"]) < 2e-3, "the kept predictions give the logged figure"


@pytest.mark.parametrize("profile", ["smoke", "full"])
def test_design_photos_never_hold_a_test_photo_and_full_trains_without_the_carved_ones(prepared_smoke, profile):
    cfg = config.get_profile(profile, data_dir=prepared_smoke.data_dir, results_dir=prepared_smoke.results_dir)
    photos = protocol.design_photos(cfg, 50)
    train, (enlarged, labels) = set(photos["train"][0]), photos["enlarged"]
    test = set(protocol._split_paths("test", cfg))
    valid = set(protocol._split_paths("valid", cfg))
    assert not (train | set(enlarged)) & test
    assert not train & set(enlarged)
    assert valid <= set(enlarged) and len(enlarged) == len(valid) + 100
    assert labels.tolist() == [config.CLASS_NAMES.index(Path(p).parent.name) for p in enlarged]
    if profile == "full":
        assert len(train) == len(protocol._split_paths("train", cfg)) - 100
        assert "carved" in photos["note"]
    else:
        assert train == set(protocol._split_paths("train", cfg))


def test_photo_batches_refuses_mismatched_or_empty_inputs():
    with pytest.raises(ValueError, match="as many photos as labels"):
        protocol.photo_batches([], [], (32, 32), 4)
    with pytest.raises(ValueError, match="as many photos as labels"):
        protocol.photo_batches(["a.jpg"], [0, 1], (32, 32), 4)


@TENSORFLOW_ONLY
def test_a_design_run_reads_no_test_photo_and_a_final_run_reads_them_once(prepared_smoke, tmp_path, monkeypatch):
    cfg = prepared_smoke
    real = loading.get_batches

    def no_test(split, *args, **kwargs):
        if split == "test":
            raise AssertionError("a design run read the test split")
        return real(split, *args, **kwargs)

    monkeypatch.setattr(loading, "get_batches", no_test)
    log = tmp_path / "final_reads.jsonl"
    row = peers.run_recipe("course", cfg, seed=1, budget=5, extra_per_class=10, peak=100.0, log=log)
    assert row["kind"] == "design" and not any(key.startswith("test") for key in row)
    assert row["valid"]["n"] == 2 * cfg.valid_per_class + 20 and not log.exists()
    kept = np.load(log.parent / "predictions" / row["predictions"])    # for pairing design candidates
    assert len(kept["valid_tta"]) == row["valid"]["n"] and "p_dog" not in kept
    assert row["history"] and all(e["valid_s"] <= e["wall_s"] for e in row["history"])
    assert row["train_s"] + row["valid_s"] == pytest.approx(row["wall_s"], abs=0.2)

    monkeypatch.setattr(loading, "get_batches", real)
    first = peers.run_recipe("course", cfg, seed=1, budget=5, final=True, extra_per_class=10, peak=100.0, log=log)
    assert first["test"]["n"] == 2 * cfg.test_per_class and first["reads_before"] == 0
    with pytest.raises(protocol.RereadRefused, match="read once"):
        peers.run_recipe("course", cfg, seed=1, budget=5, final=True, extra_per_class=10, log=log)
    again = peers.run_recipe("course", cfg, seed=1, budget=5, final=True, extra_per_class=10, log=log,
                             reread="a test of the log")
    assert again["reads_before"] == 1
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["reread_reason"] for r in logged] == [None, "a test of the log"]
    assert (log.parent / "predictions" / logged[0]["predictions"]).stat().st_size < 4096


def _diverging_first(monkeypatch, attempts):
    """Compile the first ``attempts`` runs at a learning rate of 1e30 (their loss turns NaN), later ones as usual."""
    real, calls = peers.compile_recipe, []

    def compile_recipe(model, recipe, *args, **kwargs):
        real(model, recipe, *args, **kwargs)
        calls.append(model)
        if len(calls) <= attempts:
            model.compile(optimizer=keras.optimizers.SGD(1e30), loss="binary_crossentropy", metrics=["accuracy"])

    monkeypatch.setattr(peers, "compile_recipe", compile_recipe)
    return calls


@TENSORFLOW_ONLY   # and PyTorch's binary cross-entropy raises on a NaN probability before any callback sees it
def test_a_run_whose_loss_turns_nan_is_rerun_once_before_the_test_read(prepared_smoke, tmp_path, monkeypatch):
    log = tmp_path / "final_reads.jsonl"
    calls = _diverging_first(monkeypatch, attempts=1)
    row = peers.run_recipe("course", prepared_smoke, seed=1, budget=5, final=True, extra_per_class=10, log=log)
    assert len(calls) == 2                                  # trained twice, then read once
    assert row["rerun_of"]["diverged_epoch"] == 1 and row["rerun_of"]["history"]
    assert row["diverged_epoch"] is None and all(np.isfinite(e["val_loss"]) for e in row["history"])
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(logged) == 1 and logged[0]["rerun_of_diverged"] is True and "rerun_of" not in logged[0]


@TENSORFLOW_ONLY
def test_a_run_that_diverges_again_on_its_rerun_is_not_scored_when_no_epoch_was_finite(
        prepared_smoke, tmp_path, monkeypatch):
    log = tmp_path / "final_reads.jsonl"
    calls = _diverging_first(monkeypatch, attempts=2)
    with pytest.raises(RuntimeError, match="not finite from epoch 1, in each of 2 runs"):
        peers.run_recipe("course", prepared_smoke, seed=1, budget=5, final=True, extra_per_class=10, log=log)
    assert len(calls) == 2 and not log.exists()            # no third run, no test read


def _history(*epochs):
    return [{"epoch": i + 1, "wall_s": wall, "valid_s": 1.0, "images": 100 * (i + 1), "val_loss": loss,
             "val_accuracy": accuracy} for i, (wall, loss, accuracy) in enumerate(epochs)]


def test_kept_at_takes_the_lowest_validation_loss_within_the_budget():
    history = _history((100, 0.6, 0.70), (200, 0.4, 0.80), (400, 0.5, 0.85))
    assert report.kept_at(history, minutes=1) is None
    assert report.kept_at(history, minutes=2)["val_accuracy"] == 0.70
    within = report.kept_at(history, minutes=5)
    assert within["val_accuracy"] == 0.80 and within["epochs_done"] == 2 and not within["ended"]
    assert report.kept_at(history, minutes=60)["ended"]
    # FLOPs: 100 images × 10 GFLOP = 1 TFLOP an epoch
    assert report.kept_at(history, tflop=2.5, gflop_per_image=10.0)["epoch"] == 2


def _final(recipe, seed, p_dog, y_true, folder, converged=True):
    run_id = f"sample-{recipe}-seed{seed}"
    protocol.save_predictions(run_id, y_true, p_dog, folder)
    correct = int(((np.asarray(p_dog) > 0.5) == y_true).sum())
    return {"kind": "final", "run_id": run_id, "profile": "sample", "recipe": recipe, "image": [64, 64],
            "widths": None, "schedule": "published", "budget_s": None, "epochs": 5, "kept_epoch": 4,
            "converged": converged, "seed": seed, "test_split": "abc", "predictions": f"{run_id}.npz",
            "test": {"n": len(y_true), "accuracy": correct / len(y_true), "low": 0.0, "high": 1.0, "log_loss": 0.5},
            "test_tta": False, "reads_before": 0, "commit": "abc1234", "date": "2026-12-06"}


def test_an_epoch_cut_short_by_a_budget_is_not_counted_as_an_epoch():
    # 100 training photos an epoch; the third epoch was stopped by the budget after 30 images (one batch of 32)
    history = _history((100, 0.6, 0.70), (200, 0.5, 0.75), (230, 0.45, 0.76))
    history[2]["images"] = 230
    assert protocol.completed_epochs(history, 100) == [True, True, False]
    row = {"recipe": "kerasio_xception", "image": [180, 180], "widths": None, "schedule": "published",
           "budget_s": 230, "gflop_per_image": 1.0, "history": history, "train_photos": 100, "batch_size": 32,
           "epochs": 3, "epochs_planned": 25, "kept_epoch": 3, "converged": True, "seed": 1, "kind": "design",
           "train_s": 200.0, "valid_s": 30.0, "images_per_s": 1.0, "commit": "abc"}
    assert "| 2 and 1 batch of 25 (3) |" in report.runs_table([row])
    one_and_a_bit = {**row, "history": history[:1] + [{**history[2], "images": 130}]}
    assert "1 and 1 batch of 25 (3), not converged" in report.runs_table([one_and_a_bit])
    # the run's budget stopped it: later budgets say so instead of "run ended"
    late = report.kept_at(history, minutes=60, train_photos=100, planned=25)
    assert late["stopped"] and not late["ended"] and late["epochs_done"] == 2
    assert report.kept_at(history[:2], minutes=60, train_photos=100, planned=2)["ended"]
    cells = report.budgets_table([row]).splitlines()[-1]
    assert "stopped by its budget at 4 min" in cells and "run ended" not in cells


def test_a_run_whose_loss_turned_nan_is_labelled_diverged_in_the_runs_and_the_test_reads():
    history = _history((100, 0.6, 0.70), (200, 0.5, 0.75), (300, float("nan"), 0.5))
    assert protocol.diverged_epoch(history) == 3 and protocol.diverged_epoch(history[:2]) is None
    assert protocol.diverged_epoch([{**history[0], "loss": float("inf")}]) == 1
    row = {"recipe": "course", "image": [128, 128], "widths": [32, 64], "schedule": "published", "budget_s": None,
           "gflop_per_image": 1.0, "history": history, "train_photos": 100, "batch_size": 32, "epochs": 3,
           "epochs_planned": 3, "kept_epoch": 2, "converged": True, "seed": 44, "kind": "final", "train_s": 300.0,
           "valid_s": 3.0, "images_per_s": 1.0, "commit": "abc"}
    assert "3 of 3 (2), **diverged**: loss NaN from epoch 3" in report.runs_table([row])
    assert "diverged" not in report.runs_table([{**row, "history": history[:2], "epochs": 2}])
    read = {key: row[key] for key in ("recipe", "image", "widths", "schedule", "budget_s", "seed", "kind",
                                      "epochs", "kept_epoch", "commit")}
    read.update({"profile": "full", "test": {"n": 10, "accuracy": 0.7, "low": 0.4, "high": 0.9, "log_loss": 0.6},
                 "test_tta": True, "reads_before": 0, "date": "d", "diverged_epoch": 3, "converged": True})
    fine = {**read, "seed": 42, "diverged_epoch": None, "test": {**read["test"], "accuracy": 0.95}}
    table = report.finals_table([fine, read])
    assert "| 3 (2), **diverged**: loss NaN from epoch 3 |" in table and "| 3 (2) | 95.0%" in table
    assert "1 of 2 seeds diverged (loss NaN)" in table and "seed 44" in table
    assert "test accuracy 82.5% ± 17.7% (2 seeds); 1 of 2" in table and "later read" not in table
    rerun = {**read, "diverged_epoch": None, "reads_before": 1, "reread_reason": "its first run diverged",
             "rerun_of_diverged": False, "test": {**read["test"], "accuracy": 0.93}}
    table = report.finals_table([fine, read, rerun])
    assert "test accuracy 82.5% ± 17.7% (2 seeds); 1 of 2 seeds diverged" in table     # first reads count
    assert "with the later read of seed 44 in its place (the reason is in the table): 94.0% ± 1.4% (2 seeds)" in table
    assert "| its first run diverged |" in table
    assert "Of these" not in table                  # no seed ran from the start on other kernels
    capped = [{**read, "seed": seed, "diverged_epoch": None, "onednn_max_cpu_isa": "AVX512_CORE_BF16",
               "test": {**read["test"], "accuracy": accuracy}} for seed, accuracy in ((45, 0.96), (46, 0.94))]
    table = report.finals_table([fine, read, rerun, *capped])
    assert "test accuracy 88.8% ± 12.5% (4 seeds)" in table                     # every first read, still
    assert ("Of these, seeds run from the start with oneDNN's kernels up to AVX512_CORE_BF16 (45, 46), "
            "first reads: 95.0% ± 1.4% (2 seeds)") in table
    assert "| `course` 128×128, 2 blocks, published schedule (full), oneDNN up to AVX512_CORE_BF16 | 45 |" in table
    all_capped = report.finals_table(capped)
    assert "Of these" not in all_capped and "95.0% ± 1.4% (2 seeds)" in all_capped
    runs = report.runs_table([{**row, "rerun_of": {"diverged_epoch": 6, "history": history}}])
    assert "rerun: its first run's loss NaN from epoch 6" in runs


def test_pairings_test_single_models_of_one_seed_and_skip_runs_not_converged(tmp_path):
    y = np.array([0, 1] * 20)
    right = y.astype(float) * 0.8 + 0.1
    wrong = 1 - right
    rows = [_final("course", 1, right, y, tmp_path), _final("dlwp2_ch8", 1, wrong, y, tmp_path),
            _final("kerasio_xception", 1, wrong, y, tmp_path, converged=False),
            _final("dlwp2_ch8", 2, wrong, y, tmp_path),
            {**_final("kerasio_xception", 1, wrong, y, tmp_path), "profile": "full"}]   # other training photos
    lines = report.pairings(rows, folder=tmp_path)
    assert len(lines) == 1 and "single models (seed 1)" in lines[0]
    assert "right alone on 40 photos" in lines[0] and "on 0;" in lines[0]
    assert float(lines[0].rsplit("p = ", 1)[1]) < 1e-10
    assert "not converged" not in report.budgets_table([]) and report.pairings([], folder=tmp_path)[0].startswith(
        "- No paired test")


def test_budgets_table_marks_runs_under_two_epochs_not_converged():
    row = {"recipe": "kerasio_xception", "image": [180, 180], "widths": None, "schedule": "published",
           "budget_s": None, "gflop_per_image": 14.7, "history": _history((400, 0.69, 0.5))}
    table = report.budgets_table([row])
    assert table.count("not converged") == len(report.MINUTES) + len(report.TFLOPS)


def test_budgets_table_counts_a_seed_run_again_once_by_its_latest_run_and_says_so():
    row = {"recipe": "course", "image": [128, 128], "widths": [32, 64], "schedule": "published", "budget_s": None,
           "gflop_per_image": 1.0, "kind": "final", "train_photos": 100, "epochs_planned": 3}
    runs = [{**row, "seed": 42, "date": "a", "history": _history((60, 0.5, 0.90), (120, 0.4, 0.92), (180, 0.3, 0.94))},
            {**row, "seed": 44, "date": "b", "history": _history((60, 0.5, 0.80), (120, float("nan"), 0.5),
                                                                  (180, float("nan"), 0.5))},
            {**row, "seed": 44, "date": "c", "history": _history((60, 0.5, 0.88), (120, 0.4, 0.90), (180, 0.3, 0.92))}]
    table = report.budgets_table(runs)
    line = next(line for line in table.splitlines() if line.startswith("| `course`"))
    assert "| 2 |" in line and "93.0% ± 1.4% (2 seeds), run ended" in line
    assert "seed 44 ran more than once; its latest run is the one counted here" in table
    assert "more than once" not in report.budgets_table(runs[:2])


def test_a_fitted_schedule_warms_up_to_the_published_rate_then_decays_to_zero():
    schedule = peers.warmup_cosine(1e-3, epochs=10, steps_per_epoch=20)
    rate = lambda step: float(keras.ops.convert_to_numpy(schedule(step)))  # noqa: E731
    assert rate(0) == pytest.approx(0.0, abs=1e-9)
    assert rate(40) == pytest.approx(1e-3, rel=1e-4)          # two epochs of warm-up
    assert rate(120) < 1e-3 and rate(199) < 1e-5


def test_a_recipe_too_deep_for_the_size_asked_is_skipped_with_its_reason(capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise ValueError("Computed output size would be zero or negative.\nmore")

    monkeypatch.setattr(peers, "run_recipe", refuse)
    monkeypatch.setattr(peers, "matmul_peak_gflops", lambda: 100.0)
    assert peers.main(["--profile", "smoke", "--recipes", "dlwp2_ch8", "--sizes", "64"]) == 0
    assert "skipped: dlwp2_ch8 cannot train at 64×64 (Computed output size would be zero" in capsys.readouterr().out
    with pytest.raises(ValueError):                    # at its own size, an error is an error
        peers.main(["--profile", "smoke", "--recipes", "dlwp2_ch8"])


def test_provenance_counts_tables_inside_markers_as_generated_and_the_rest_as_typed():
    text = "\n".join(["## `a.py`: one", "| x |", "|---|", "", "<!-- a:one -->", "| y |", "|---|",
                      "<!-- /a:one -->", "## `b.py`: two", "text only", "## `c.py`: three", "| z |", "", "| w |"])
    table = report.provenance(text)
    assert "| `a.py`: one | 1 | 1 |" in table and "| `c.py`: three | 0 | 2 |" in table
    assert "`b.py`" not in table


def test_contention_is_the_cpu_other_processes_used_during_the_run_where_recorded(tmp_path, monkeypatch):
    monkeypatch.setattr(protocol.os, "cpu_count", lambda: 2)
    # 100 s on 2 cores: the machine was busy 150 core-seconds, this run used 100 of them
    assert protocol.others_cpu([0.0, 1000.0, 10.0], [100.0, 1150.0, 110.0]) == 0.25
    assert protocol.others_cpu([0.0, 1000.0, 10.0], [100.0, 1090.0, 110.0]) == 0.0   # never below 0
    assert protocol.others_cpu(None, [1.0, 2.0, 3.0]) is None
    # too short to measure (one 1/100 s tick over 1 ms read 32 cores' worth on CI), and never above 1
    assert protocol.others_cpu([0.0, 1000.0, 10.0], [0.001, 1000.01, 10.0]) is None
    assert protocol.others_cpu([0.0, 1000.0, 10.0], [2.0, 1010.0, 10.0]) == 1.0
    machine = "CPU only (2 cores: AMD EPYC)"
    # a queue's next run reads its predecessor's load at the start; what others used during it decides
    assert not protocol.contended({"machine": machine, "load": 1.9, "others_cpu": 0.02})
    assert protocol.contended({"machine": machine, "load": 0.1, "others_cpu": 0.6})
    log = tmp_path / "rows.jsonl"
    start = protocol.cpu_snapshot()
    start[0] -= 2.0                                      # as if the run had started 2 s ago
    protocol.append(log, {"x": 1, "cpu_start": start})
    protocol.append(log, {"x": 2, "cpu_start": protocol.cpu_snapshot()})   # a run of no time: unmeasured
    first, second = protocol.read_log(log)
    assert "cpu_start" not in first and isinstance(first["others_cpu"], float) and 0.0 <= first["others_cpu"] <= 1.0
    assert "cpu_start" not in second and second["others_cpu"] is None


def test_a_run_started_on_a_loaded_machine_is_marked_contended():
    assert report.contended({"machine": "CPU only (2 cores: AMD EPYC)", "load": 1.5})
    assert not report.contended({"machine": "CPU only (2 cores: AMD EPYC)", "load": 0.4})
    assert not report.contended({"machine": "GPU: H100 + 16 CPU cores", "load": None})


def test_the_course_recipe_is_notebook_04s_exported_cells_not_a_copy(prepared_smoke):
    from utils import lessons

    model, recipe = peers.course(prepared_smoke)
    size, widths = lessons.cnn_bn_shape(prepared_smoke.image_size, len(protocol.training_photos(prepared_smoke)[0]))
    assert tuple(model.inputs[0].shape[1:3]) == size and recipe["widths"] == list(widths)
    assert recipe["compile"] is lessons.compile_cnn_bn
    peers.compile_recipe(model, recipe, epochs=10, steps_per_epoch=20, fitted=False)
    assert isinstance(model.optimizer, keras.optimizers.AdamW)
    schedule = model.optimizer.get_config()["learning_rate"]["config"]   # notebook 04's: warm-up, then cosine
    assert schedule["warmup_target"] == pytest.approx(2e-3) and schedule["warmup_steps"] == 40
    assert schedule["decay_steps"] == 10 * 20 - 40 and model.optimizer.weight_decay == pytest.approx(0.05)
    # notebook 04's shape rule: few photos → 64×64, four blocks; many → the profile's size, a fifth block
    assert lessons.cnn_bn_shape((128, 128), 2000) == ((64, 64), (32, 64, 128, 256))
    assert lessons.cnn_bn_shape((128, 128), 8000) == ((128, 128), (32, 64, 128, 256, 512))
    assert lessons.cnn_bn_shape((64, 64), 8000) == ((64, 64), (32, 64, 128, 256))


def test_train_models_refuses_a_second_read_of_the_same_run_before_training(tmp_path, monkeypatch, capsys):
    from benchmarks import train_models

    cfg = config.get_profile("smoke")
    args = argparse.Namespace(mlp_optimizer="adagrad", cnn_epochs=None, patience=0)
    ident = train_models.run_id(cfg, "cnn_small", args)
    assert ident != train_models.run_id(cfg, "mlp_pixels", args)
    log = tmp_path / "reads.jsonl"
    protocol.append(log, {"run_id": ident, "test_split": "x"})
    monkeypatch.setattr(train_models, "train_cnn", lambda *a, **k: pytest.fail("trained before refusing"))
    assert train_models.main(["--profile", "smoke", "--models", "cnn_small", "--final-log", str(log)]) == 2
    assert "already read the test split" in capsys.readouterr().err
    assert len(protocol.read_log(log)) == 1


def test_the_design_step_picks_the_shape_best_on_enlarged_validation_and_shows_every_candidate(tmp_path):
    def design(side, blocks, seed, tta, kind="design"):
        score = {"accuracy": tta - 0.01, "low": tta - 0.03, "high": tta + 0.01, "log_loss": 0.3, "n": 2000}
        return {"kind": kind, "recipe": "course", "schedule": "published", "image": [side, side],
                "widths": [32, 64, 128, 256, 512][:blocks], "seed": seed, "epochs_planned": 30,
                "valid": score, "valid_tta": {**score, "accuracy": tta}}

    rows = [design(128, 5, 42, 0.93), design(96, 5, 42, 0.95), design(96, 5, 43, 0.90),
            design(64, 4, 42, 0.99, kind="final")]       # a final run is no design candidate
    assert report.chosen(rows) == "128×128, 5 blocks (32-64-128-256-512)"   # means: 93% against 92.5%
    table = report.design_table(rows)
    assert table.count("**yes**") == 1 and "Candidates: 2." in table and "64×64" not in table
    assert report.chosen([]) is None and "No design runs" in report.design_table([])
    assert "McNemar" in table and "p = " not in table            # no predictions kept: no paired test

    y = np.array([0] * 10 + [1] * 10)
    chosen_p, other_p = y.astype(float), y.astype(float)
    chosen_p[[0, 1]] = 1 - y[[0, 1]]                              # the chosen one wrong on 2 photos
    other_p[[2, 3, 4, 5]] = 1 - y[[2, 3, 4, 5]]                   # the other on 4 others
    for row, p_dog in ((rows[0], chosen_p), (rows[1], other_p)):
        row["predictions"] = protocol.save_predictions(f"{row['image'][0]}-design", y, None, tmp_path,
                                                       valid=p_dog, valid_tta=p_dog).name
    line = next(line for line in report.design_table(rows, folder=tmp_path).splitlines() if "96×96" in line)
    assert "| 4 / 2, p = 0.69 |" in line, line


def _transfer_design(side, seed, **scores):
    """A design row of transfer_protocol.py: scores maps "head_plain" etc. to (accuracy, log loss)."""
    valid = {way: {tta: {"n": 2000, "accuracy": scores[f"{way}_{tta}"][0], "low": 0.0, "high": 1.0,
                         "log_loss": scores[f"{way}_{tta}"][1]} for tta in ("plain", "tta")}
             for way in ("head", "finetune")}
    return {"kind": "design", "image": [side, side], "seed": seed, "valid": valid, "feature_s": 100.0,
            "head_s": 10.0, "finetune_s": 200.0, "valid_note": "valid + 1,000 carved"}


def test_the_transfer_rule_takes_the_best_mean_accuracy_over_seeds_and_breaks_a_tie_by_log_loss():
    from benchmarks import transfer_protocol

    same = dict(head_plain=(0.97, 0.08), head_tta=(0.975, 0.07), finetune_plain=(0.98, 0.06))
    rows = [_transfer_design(224, 42, finetune_tta=(0.985, 0.05), **same),
            _transfer_design(224, 43, finetune_tta=(0.975, 0.05), **same),     # mean 0.980: behind 288's
            _transfer_design(288, 42, finetune_tta=(0.982, 0.04), **same),
            {"kind": "final", "image": [288, 288]}]                            # final rows are no candidates
    assert transfer_protocol.chosen(rows) == (288, "finetune", True)
    assert len(transfer_protocol.candidates(rows)[(224, "finetune", True)]) == 2
    tie = [_transfer_design(224, 42, finetune_tta=(0.98, 0.05), **same)]     # 0.98 twice: the lower log loss
    assert transfer_protocol.chosen(tie) == (224, "finetune", True)
    assert transfer_protocol.chosen([]) is None
    table = transfer_protocol.design_table(rows)
    chosen_lines = [line for line in table.splitlines() if "**yes**" in line]
    assert len(chosen_lines) == 1 and chosen_lines[0].startswith("| 288×288 | fine-tuned top | on |")
    assert "98.00% ± 0.71% (2 seeds)" in table


@TENSORFLOW_ONLY
def test_a_transfer_design_run_opens_no_test_photo_and_its_final_run_reads_the_chosen_one_once(
        prepared_smoke, tmp_path, monkeypatch):
    from benchmarks import transfer_protocol

    cfg, log, folder = prepared_smoke, tmp_path / "final_reads.jsonl", tmp_path / "transfer"
    test_photos = set(protocol._split_paths("test", cfg))
    real, opened = transfer_protocol.protocol.photo_batches, []

    def watched(paths, *args, **kwargs):
        opened.extend(map(str, paths))
        return real(paths, *args, **kwargs)

    monkeypatch.setattr(transfer_protocol.protocol, "photo_batches", watched)
    quiet = dict(extra_per_class=5, log=log, folder=folder, progress=lambda line: None)
    row = transfer_protocol.run(cfg, 32, seed=1, **quiet)
    assert row["kind"] == "design" and not any(key.startswith("test") for key in row) and not log.exists()
    assert opened and not set(opened) & test_photos
    assert row["valid"]["finetune"]["tta"]["n"] == 2 * cfg.valid_per_class + 10
    choice = transfer_protocol.chosen([row])
    paired = transfer_protocol.paired_with_chosen([row], tmp_path / "predictions")
    assert len(paired) == 3 and choice not in paired, "each other candidate, paired on the same validation photos"
    assert all(t["count"] == row["valid"]["head"]["plain"]["n"] for t in paired.values())
    tta_self = paired[(32, choice[1], not choice[2])]                         # the same model, TTA toggled
    assert tta_self["accuracy_a"] == pytest.approx(row["valid"][choice[1]]["tta" if choice[2] else "plain"]["accuracy"])

    opened.clear()
    final = transfer_protocol.run(cfg, 32, seed=1, final=True, choice=choice, **quiet)
    assert final["test"]["n"] == 2 * cfg.test_per_class and final["reads_before"] == 0
    assert set(opened) <= test_photos, "the training and validation features come from the design run's cache"
    assert final["way"] == choice[1] and final["test_tta"] == choice[2]
    with pytest.raises(transfer_protocol.protocol.RereadRefused, match="read once"):
        transfer_protocol.run(cfg, 32, seed=1, final=True, choice=choice, **quiet)
    with pytest.raises(ValueError, match="chosen candidate"):
        transfer_protocol.run(cfg, 64, seed=2, final=True, choice=choice, **quiet)
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(logged) == 1 and logged[0]["benchmark"] == "transfer_protocol"
    assert (log.parent / "predictions" / logged[0]["predictions"]).stat().st_size < 4096


@TENSORFLOW_ONLY
def test_transfer_features_are_computed_once_and_a_truncated_file_is_computed_again(prepared_smoke, tmp_path):
    from benchmarks import transfer_protocol

    bottom = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Rescaling(1 / 255, name="tiny_preprocessing"),
                               keras.layers.Conv2D(2, 3)], name="tiny_bottom")      # raw images in
    paths, labels = transfer_protocol.protocol.training_photos(prepared_smoke)
    features = transfer_protocol.Features(bottom, 16, 2, tmp_path)
    first = features(paths[:4], labels[:4])
    assert first.shape == (4, 14, 14, 2) and len(list(tmp_path.glob("*.npy"))) == 1
    spent = features.seconds
    assert np.array_equal(features(paths[:4], labels[:4]), first) and features.seconds == spent, "loaded, not computed"
    assert features(paths[:4], labels[:4], mirrored=True).shape == first.shape and len(list(tmp_path.glob("*.npy"))) == 2
    kept = min(tmp_path.glob("*.npy"), key=lambda f: f.stat().st_mtime)
    kept.write_bytes(kept.read_bytes()[:100])                  # cut short, as by a full disk
    spent = features.seconds
    assert np.array_equal(features(paths[:4], labels[:4]), first) and features.seconds > spent
    assert not list(tmp_path.glob("*.partial.npy"))


def test_a_run_with_onednn_capped_below_the_cpu_says_so_in_its_row_and_the_runs_table(monkeypatch):
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert "onednn_max_cpu_isa" not in protocol.stamp()
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")      # AMX left out
    assert protocol.stamp()["onednn_max_cpu_isa"] == "AVX512_CORE_BF16"
    row = {"recipe": "course", "image": [128, 128], "widths": [32, 64], "schedule": "published", "budget_s": None,
           "gflop_per_image": 1.0, "history": _history((100, 0.6, 0.7), (200, 0.5, 0.8)), "train_photos": 100,
           "batch_size": 32, "epochs": 2, "epochs_planned": 2, "kept_epoch": 2, "converged": True, "seed": 44,
           "kind": "final", "train_s": 200.0, "valid_s": 2.0, "images_per_s": 1.0, "commit": "abc",
           "of_peak": 0.5, "matmul_peak_gflops": 200.0, "precision": "mixed_bfloat16",
           "onednn_max_cpu_isa": "AVX512_CORE_BF16"}
    assert "(mixed_bfloat16: not a float32 figure) (oneDNN kernels up to AVX512_CORE_BF16)" in report.runs_table([row])


def test_saved_predictions_are_never_replaced_a_reread_gets_its_own_file(tmp_path):
    first = protocol.save_predictions("run", [0, 1], [0.2, 0.9], tmp_path)
    second = protocol.save_predictions("run", [0, 1], [0.7, 0.1], tmp_path)
    assert (first.name, second.name) == ("run.npz", "run-2.npz")
    assert np.load(first)["p_dog"][0] == np.float16(0.2) and np.load(second)["p_dog"][0] == np.float16(0.7)
