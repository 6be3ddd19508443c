"""benchmarks/README.md's tables of the timing and first-model benchmarks agree with their committed JSON lines.

Each script renders its block(s) from its ``COMMITTED`` file (``--readme``); the generators
themselves are tested on synthetic rows in ``tests/test_<script>_tables.py``.
"""

from __future__ import annotations

import pytest

# benchmarks/ is a namespace package on pytest's pythonpath
from benchmarks import (affine_keras_ops, augmentation_pipeline, data_autotune, divergence, finetune_mirrors,
                        precision, step_efficiency, train_models, vgg16_speed)

SCRIPTS = (train_models, vgg16_speed, augmentation_pipeline, data_autotune, precision, finetune_mirrors,
           affine_keras_ops, divergence, step_efficiency)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda script: script.__name__.rsplit(".", 1)[-1])
def test_the_readme_tables_are_generated_from_the_committed_rows(script):
    name = script.__name__.rsplit(".", 1)[-1]
    assert script.COMMITTED.exists(), f"{script.COMMITTED.name} is not committed"
    rows = script.read_rows(script.COMMITTED)
    assert rows and all("commit" in row and "machine" in row for row in rows)
    text = script.README.read_text(encoding="utf-8")
    assert f"<!-- {script.PREFIX}:" in text
    assert script.render_readme(text, script.COMMITTED) == text, \
        f"run `.venv/bin/python benchmarks/{name}.py --readme` and commit benchmarks/README.md"
    assert script.main(["--readme", "--check"]) == 0


def test_affine_keras_ops_table_gives_each_runs_ratio_and_marks_a_loaded_machine(tmp_path, monkeypatch):
    row = {"benchmark": "affine_keras_ops", "profile": "smoke", "images": 64, "image_size": [64, 64], "repeats": 3,
           "largest_difference_pixel_values": 0.0, "mean_difference_pixel_values": 0.0,
           "share_of_pixels_differing_by_over_1": 0.0, "course_images_per_s": 7000.0,
           "keras_ops_images_per_s": 6300.0, "commit": "abc1234", "machine": "CPU only (2 cores: Intel Xeon)",
           "backend": "tensorflow", "date": "2026-12-06 16:00", "load": 0.3}
    table = affine_keras_ops.markdown([row, {**row, "load": 3.1, "keras_ops_images_per_s": 3500.0}])
    lines = table.splitlines()
    assert "| 7,000 | 6,300 | 0.90 |" in lines[2] and "(contended)" not in lines[2]
    assert "| 0.50 |" in lines[3] and "3.1 (contended)" in lines[3]
    committed = tmp_path / "rows.jsonl"
    affine_keras_ops.protocol.append(committed, row)
    stale = "# x\n<!-- affine_keras_ops:runs -->\nold\n<!-- /affine_keras_ops:runs -->\n"
    readme = tmp_path / "README.md"
    readme.write_text(stale, encoding="utf-8")
    monkeypatch.setattr(affine_keras_ops, "README", readme)
    monkeypatch.setattr(affine_keras_ops, "COMMITTED", committed)
    assert affine_keras_ops.main(["--readme", "--check"]) == 1
    assert affine_keras_ops.main(["--readme"]) == 0 and "| 7,000 |" in readme.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="markers"):
        affine_keras_ops.render_readme("# no markers\n", committed)
