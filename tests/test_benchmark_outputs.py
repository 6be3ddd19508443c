"""The benchmark scripts append their measured rows as JSON lines with ``--out FILE`` (``protocol.append``)."""

from __future__ import annotations

import json

import pytest

# benchmarks/ is a namespace package on pytest's pythonpath
from benchmarks import (affine_keras_ops, augmentation_pipeline, data_autotune, finetune_mirrors, precision,
                        train_models, transfer_protocol, vgg16_speed)

SCRIPTS = (affine_keras_ops, augmentation_pipeline, data_autotune, finetune_mirrors, precision, train_models,
           transfer_protocol, vgg16_speed)
STAMP = {"commit", "machine", "backend", "date", "load", "others_cpu"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda script: script.__name__.rsplit(".", 1)[-1])
def test_every_script_takes_out_and_says_so_in_its_docstring(script, capsys):
    with pytest.raises(SystemExit) as stopped:
        script.main(["--help"])
    assert stopped.value.code == 0
    assert "--out OUT" in capsys.readouterr().out
    assert "``--out FILE``" in script.__doc__


@pytest.mark.slow
def test_vgg16_speed_appends_a_row_per_kind_of_work_and_per_estimate(tmp_path, capsys):
    out = tmp_path / "x.jsonl"
    vgg16_speed.main(["--sizes", "32", "--batch-size", "1", "--batches", "1", "--out", str(out)])
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    speeds = [row for row in rows if "work" in row]
    estimates = [row for row in rows if "estimate" in row]
    assert len(speeds) == 6 and len(estimates) == 2 and len(rows) == 8
    common = {"benchmark", "batch_size", "timed_batches", "image_size", "versions"} | STAMP
    for row in speeds:
        assert set(row) == common | {"work", "best_images_per_s", "median_images_per_s", "idle_images_per_s"}
        assert row["best_images_per_s"] > 0
    assert {row["profile"] for row in estimates} == {"sample", "full"}
    for row in estimates:
        assert set(row) == common | {"estimate", "profile", "counts", "notebook_image_size", "images", "epochs"} | {
            f"{label}_{what}" for label in ("best", "median", "idle") for what in ("minutes", "parts_minutes")}
        assert row["best_minutes"] > 0
    assert all(row["benchmark"] == "vgg16_speed" and row["image_size"] == 32 for row in rows)
    assert "features" in capsys.readouterr().out          # it still prints its figures
