"""benchmarks/augmentation_pipeline.py makes its README tables from the rows ``--out`` writes."""

from __future__ import annotations

import json

import pytest

from benchmarks import augmentation_pipeline as ap   # benchmarks/ is a namespace package on pytest's pythonpath

MARKERS = "<!-- augmentation_pipeline:sample -->\n{}\n<!-- /augmentation_pipeline:sample -->\n"


def _row(**changes) -> dict:
    row = {"benchmark": "augmentation_pipeline", "profile": "sample", "images": 512, "image_size": [128, 128],
           "batch_size": 32, "repeats": 3, "versions": {"tensorflow": "2.21.0", "keras": "3.13.0",
                                                          "numpy": "2.1.0", "pillow": "11.0.0"},
           "command": ".venv/bin/python benchmarks/augmentation_pipeline.py --profile sample --images 512 "
                      "--repeats 3 --pipeline --train",
           "augmentation_images_per_second": {ap.PILLOW: 900.0, ap.TF_DATA: 450.0, ap.IN_MODEL: 396.0,
                                              ap.AUGMENT_DATASET: 1800.0},
           "input_pipeline_files": 2000,
           "input_pipeline_images_per_second": {ap.SEEDS_WAY: 400.0, ap.CACHED_LAYERS: 420.0,
                                                ap.CACHED_AUGMENT: 1868.0},
           "train_steps": 16, "fit_images": 512,
           "fit_images_per_second": {"in model": 180.0, "tf.data": 100.0, "augment_dataset": 200.0, "none": 300.0},
           "commit": "abc1234", "machine": "CPU only (2 cores: AMD EPYC)", "backend": "tensorflow",
           "date": "2026-12-05 10:00", "load": 0.4}
    row.update(changes)
    return row


def _write(path, *rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_tables_hold_the_figures_and_ratios_of_the_run():
    text = ap.markdown([_row()])
    assert "| augmentation alone (512 images in memory) | images/s | × Pillow |" in text
    assert "| pillow (one image at a time) | 900 | 1.00 |" in text
    assert "| tf.data map (Keras layers) | 450 | 0.50 |" in text
    assert "| in model (Keras layers) | 396 | 0.44 |" in text
    assert "| tf.data, `augment_dataset` (one resampling) | **1,800** | **2.00** |" in text
    assert "| input pipeline, 2,000 `sample` train files → augmented batches | images/s | × seeds' way |" in text
    assert "| seeds' way: decode + resize + Pillow, per image, every epoch | 400 | 1.00 |" in text
    assert "| `get_batches(cache=True)` → Keras layers in `tf.data` | 420 | 1.05 |" in text
    assert "| `get_batches(cache=True)` → `augment_dataset` | **1,868** | **4.67** |" in text
    assert "| `fit` of the CNN (16 batches, 512 images) | images/s |" in text
    assert "| augmenter in the model | 180 |" in text and "| layers in `tf.data` | 100 |" in text
    assert "| `augment_dataset` in `tf.data` | 200 |" in text and "| no augmentation | **300** |" in text
    # the headline readings the prose used to type by hand
    assert "is met by the input pipeline notebook 04 trains with: 4.67×**" in text
    assert "`augment_dataset` is 2.00× Pillow; the Keras layer stack 0.44–0.50× Pillow." in text
    assert "gave 2.00× the images per second of the layers in `tf.data` and 1.11× those of" in text
    assert "no augmentation, 1.50× `augment_dataset`." in text
    # the caption: command, versions, machine, load, commit, date
    assert "`.venv/bin/python benchmarks/augmentation_pipeline.py --profile sample --images 512" in text
    assert "128×128, batch 32, best of 3 passes; TensorFlow 2.21.0, Keras 3.13.0" in text
    assert "Pillow 11.0.0; CPU only (2 cores: AMD EPYC), load average 0.4 at the start, commit abc1234, " \
           "2026-12-05 10:00 UTC." in text
    assert "contended" not in text


def test_the_latest_run_is_shown_and_a_missed_target_or_a_loaded_machine_said():
    old = _row(date="2026-11-01 09:00", commit="old0000")
    new = _row(date="2026-12-06 09:00", commit="new1111", load=3.5,
               input_pipeline_images_per_second={ap.SEEDS_WAY: 500.0, ap.CACHED_LAYERS: 500.0,
                                                 ap.CACHED_AUGMENT: 1000.0})
    text = ap.markdown([new, old])
    assert "new1111" in text and "old0000" not in text
    assert "load average 3.5 at the start (contended" in text
    assert "| `get_batches(cache=True)` → `augment_dataset` | **1,000** | **2.00** |" in text
    assert "is not met by the input pipeline notebook 04 trains with: 2.00×**" in text
    alone = ap.markdown([_row(input_pipeline_images_per_second=None, fit_images_per_second=None)])
    assert "Input pipelines: not measured in this run (`--pipeline`)." in alone
    assert "`fit` of the CNN: not measured in this run (`--train`)." in alone
    assert "target" not in alone and "| no augmentation |" not in alone


def test_a_stale_block_is_rewritten_and_missing_markers_refused(tmp_path):
    path = _write(tmp_path / "figures.jsonl", _row())
    stale = "# benchmarks\n" + MARKERS.format("| old | 917 |") + "after\n"
    fresh = ap.render_readme(stale, path)
    assert "| old | 917 |" not in fresh and fresh.startswith("# benchmarks\n") and fresh.endswith("after\n")
    assert "| tf.data, `augment_dataset` (one resampling) | **1,800** | **2.00** |" in fresh
    assert ap.render_readme(fresh, path) == fresh
    with pytest.raises(ValueError, match="augmentation_pipeline:sample"):
        ap.render_readme("# README\n", path)


def test_check_fails_on_a_stale_readme_and_readme_fixes_it(tmp_path, monkeypatch, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n" + MARKERS.format("| stale |"), encoding="utf-8")
    monkeypatch.setattr(ap, "README", readme)
    monkeypatch.setattr(ap, "COMMITTED", _write(tmp_path / "committed.jsonl", _row()))
    assert ap.main(["--readme", "--check"]) == 1
    assert "| stale |" in readme.read_text(encoding="utf-8")
    assert ap.main(["--readme"]) == 0
    assert "| pillow (one image at a time) | 900 | 1.00 |" in readme.read_text(encoding="utf-8")
    assert ap.main(["--readme", "--check"]) == 0
    capsys.readouterr()
    assert ap.main(["--table", str(tmp_path / "committed.jsonl")]) == 0
    assert "| in model (Keras layers) | 396 | 0.44 |" in capsys.readouterr().out
