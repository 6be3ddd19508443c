"""The lessons run under ``DOGSCATS_MIXED_PRECISION=1`` too: mixed bfloat16 on a CPU that has it.

nbval runs every notebook in float32, the default. The switch is documented for
learners whose CPU multiplies bfloat16 natively (:mod:`utils.mixed_precision`), and a
first ``sample`` run with it broke three lessons on dtypes alone: an exact
comparison with float32 images (04), bfloat16 features handed to scikit-learn
(06) and a Grad-CAM by hand summed in bfloat16 (07). This test executes those
three lessons under the switch (04 trains two CNNs, 06 the transfer models, 07
explains them), on the real ``smoke`` photos, and checks that every record says
which policy trained it. 02 and 03 ran clean under it; they are left out to
keep CI short.

Skipped where the switch would select float32 anyway: no native bfloat16, or a
backend other than TensorFlow.
"""

from __future__ import annotations

import os

import pytest

from course.run import execute as runexec
from utils import config, devices, mixed_precision, results

LESSONS = ("04_data_augmentation", "06_vgg16_finetuning", "07_results")   # 02 and 03 ran clean in the first sample run

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        mixed_precision.policy(devices.backend(), False, mixed_precision.native_bfloat16()) != "mixed_bfloat16",
                       reason="DOGSCATS_MIXED_PRECISION=1 selects mixed_bfloat16 only on a CPU with native "
                              "bfloat16 under TensorFlow"),
]


def test_the_lessons_run_under_mixed_bfloat16(prepared_smoke, tmp_path, monkeypatch):
    if devices.accelerators():
        pytest.skip("a GPU would select mixed_float16")
    monkeypatch.setenv("DOGSCATS_PROFILE", "smoke")
    monkeypatch.setenv("DOGSCATS_DATA", str(prepared_smoke.data_dir))
    monkeypatch.setenv("DOGSCATS_RESULTS", str(tmp_path))
    monkeypatch.setenv("DOGSCATS_MIXED_PRECISION", "1")
    for variable, value in runexec.QUIET_KERNEL_ENV.items():
        monkeypatch.setenv(variable, os.environ.get(variable, value))
    for lesson in LESSONS:
        outcome = runexec.nbclient_executor(config.PROJECT_ROOT / "notebooks" / f"{lesson}.ipynb",
                                            cwd=config.PROJECT_ROOT / "notebooks", timeout=900,
                                            progress=lambda *_: None, log_path=tmp_path / f"{lesson}.log")
        assert outcome.status == runexec.OK, f"{lesson}, cell {outcome.cell}: {outcome.error}"
    records = results.load_records(config.get_profile("smoke", results_dir=tmp_path))
    trained = {record["model_id"]: record.get("precision") for record in records
               if not record.get("provenance")}   # not those prerequisites copied from the reference run
    assert {"cnn_aug", "cnn_bn"} <= set(trained), sorted(trained)
    assert any(model_id.endswith("_finetune") for model_id in trained), sorted(trained)
    assert set(trained.values()) == {"mixed_bfloat16"}, trained
