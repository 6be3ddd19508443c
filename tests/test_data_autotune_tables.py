"""benchmarks/data_autotune.py makes its README table from the rows it writes with ``--out`` (synthetic rows here)."""

from __future__ import annotations

import json

import pytest

from benchmarks import data_autotune   # benchmarks/ is a namespace package on pytest's pythonpath

STAMP = {"commit": "29cd963", "machine": "CPU only (2 cores: AMD EPYC)", "backend": "tensorflow",
         "date": "2026-05-01 10:00", "load": 0.5, "versions": {"keras": "3.15.1", "tensorflow": "2.21.0"}}


def row(workload, on, off, waited_on, waits_on, stamp=STAMP):
    return {"benchmark": "data_autotune", "profile": "sample", "workload": workload, "training_photos": 2000,
            "image_size": [64, 64], "epochs": 10, "stall_seconds": 1.0, "epochs_counted": 9,
            "autotune_on_seconds_per_epoch": on, "autotune_off_seconds_per_epoch": off,
            "autotune_on_epochs_waited": waited_on, "autotune_off_epochs_waited": 0,
            "autotune_on_first_batch_seconds": waits_on, "autotune_off_first_batch_seconds": [0.1] * 9,
            "on_over_off": on / off, **stamp}


def run_rows(stamp=STAMP):
    return [row("images", 7.67, 7.11, 4, [0.2, 2.4, 0.1, 3.1, 0.2, 4.6, 0.1, 2.0, 0.2], stamp),
            row("arrays", 8.48, 5.73, 5, [2.2, 0.1, 5.3, 2.6, 0.2, 3.0, 0.1, 2.1, 0.3], stamp)]


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_the_table_holds_the_latest_runs_figures_and_ratios():
    old = run_rows({**STAMP, "date": "2026-04-01 09:00", "commit": "0ld0ld0"})
    old[0]["autotune_on_seconds_per_epoch"] = 99.0
    text = data_autotune.markdown(old + run_rows())
    assert "| workload | autotuner | s / epoch | epochs that waited > 1 s | longest first batch, s |" in text
    assert "| images | on | 7.67 | 4 of 9 | 4.6 |" in text
    assert "| images | off | 7.11 | 0 of 9 | 0.1 |" in text
    assert "| arrays | on | 8.48 | 5 of 9 | 5.3 |" in text
    assert "| arrays | off | 5.73 | 0 of 9 | 0.1 |" in text
    assert "99.00" not in text and "0ld0ld0" not in text            # the older run is not shown
    assert ("With the autotuner on, epochs took 1.08× as long for images and 1.48× as long for arrays "
            "as with it off, in the same run") in text
    assert "`sample`: 2,000 training photos at 64×64, `cnn_bn`, 10 epochs per way" in text
    assert "(keras 3.15.1, tensorflow 2.21.0); CPU only (2 cores: AMD EPYC); commit 29cd963, 2026-05-01 10:00 UTC; " \
           "load average 0.5 at the start." in text
    assert "`.venv/bin/python benchmarks/data_autotune.py --profile sample --epochs 10`" in text
    assert "contended" not in text


def test_a_loaded_machine_is_marked_contended():
    assert "load average 1.7 at the start: **contended**" in data_autotune.markdown(run_rows({**STAMP, "load": 1.7}))


def test_a_stale_block_is_rewritten_and_missing_markers_refused(tmp_path):
    path = write(tmp_path / "autotune.jsonl", run_rows())
    stale = "a\n<!-- data_autotune:sample -->\n| old |\n<!-- /data_autotune:sample -->\nb\n"
    fresh = data_autotune.render_readme(stale, path)
    assert "| old |" not in fresh and data_autotune.render_readme(fresh, path) == fresh
    assert fresh.startswith("a\n<!-- data_autotune:sample -->\n| workload |") and fresh.endswith("-->\nb\n")
    with pytest.raises(ValueError, match="data_autotune:sample"):
        data_autotune.render_readme("# README\n", path)


def test_check_exits_1_on_a_stale_readme_and_readme_rewrites_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(data_autotune, "COMMITTED", write(tmp_path / "autotune.jsonl", run_rows()))
    readme = tmp_path / "README.md"
    readme.write_text("<!-- data_autotune:sample -->\n| old |\n<!-- /data_autotune:sample -->\n", encoding="utf-8")
    monkeypatch.setattr(data_autotune, "README", readme)
    assert data_autotune.main(["--readme", "--check"]) == 1
    assert data_autotune.main(["--readme"]) == 0
    assert "| arrays | on | 8.48 | 5 of 9 | 5.3 |" in readme.read_text(encoding="utf-8")
    assert data_autotune.main(["--readme", "--check"]) == 0
    assert data_autotune.main(["--table", str(data_autotune.COMMITTED)]) == 0
    assert "| images | on | 7.67 | 4 of 9 | 4.6 |" in capsys.readouterr().out


def test_summary_leaves_out_the_first_epoch_and_counts_waits_over_a_second():
    clock = type("Clock", (), {"epochs": [30.0, 7.0, 9.0], "first_batch": [25.0, 0.2, 2.5]})()
    assert data_autotune.summary(clock) == (8.0, 1, 2)
