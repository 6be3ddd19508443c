"""benchmarks/step_efficiency.py: cnn_bn's steps alone against the matmul peak, its table and its target sentence."""

from __future__ import annotations

import pytest

from benchmarks import step_efficiency
from utils import config

ROW = {"benchmark": "step_efficiency", "profile": "sample", "batch_size": 32, "recipe_batch": True, "images": 1024,
       "image_size": [64, 64], "widths": [32, 64, 128, 256], "epoch_s": [5.0, 5.1, 4.9], "images_per_s": 204.8, "images_per_s_best": 209.0,
       "gflop_per_image": 0.205, "gflops": 42.0, "peak_before": 200.0, "peak_after": 210.0, "of_peak": 0.2, "of_peak_best": 0.204,
       "precision": "float32", "commit": "abc1234", "machine": "CPU only (2 cores: Intel Xeon)",
       "backend": "tensorflow", "date": "2026-12-07 05:40", "load": 0.2}


def test_the_table_gives_each_batch_against_the_higher_peak_and_the_target_on_the_recipes_batch():
    larger = {**ROW, "batch_size": 128, "recipe_batch": False, "of_peak": 0.55, "load": 1.5}
    full = {**ROW, "profile": "full", "image_size": [128, 128], "widths": [32, 64, 128, 256, 512], "of_peak": 0.51}
    table = step_efficiency.markdown([ROW, larger, full])
    lines = table.splitlines()
    assert ("| sample | 64×64, 4 | 32 (the recipe's) | 204.8 (209.0) of 3 | 0.205 | 42.0 | 200.0 / 210.0 | 20% (20%) |"
            in lines[2])
    assert "| 128 |" in lines[3] and "1.5 (contended)" in lines[3]
    assert "| full | 128×128, 5 | 32 (the recipe's) |" in lines[4]
    # the target reads the recipe's batch only: batch 128's 55% does not count for sample
    assert "`sample` 20% (not met; fastest epoch 20%); `full` 51% (met; fastest epoch 20%)." in table
    assert step_efficiency.headline([larger]) == ""


def test_the_profiles_shape_is_notebook_04s():
    assert step_efficiency.shape(config.get_profile("sample")) == ((64, 64), (32, 64, 128, 256))
    assert step_efficiency.shape(config.get_profile("full")) == ((128, 128), (32, 64, 128, 256, 512))


def test_a_measurement_times_the_steps_after_a_warm_up_epoch():
    cfg = config.get_profile("smoke")
    figures = step_efficiency.measure(cfg, batch_size=8, images=16, epochs=2)
    assert len(figures["epoch_s"]) == 2 and all(s > 0 for s in figures["epoch_s"])
    assert 0 < figures["images_per_s"] <= figures["images_per_s_best"]
    assert figures["gflops"] == pytest.approx(figures["images_per_s"] * figures["gflop_per_image"])
    with pytest.raises(ValueError, match="at least one batch"):
        step_efficiency.measure(cfg, batch_size=32, images=16, epochs=1)
