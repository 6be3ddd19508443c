"""benchmarks/vgg16_speed.py makes its README tables from the rows it writes with ``--out`` (synthetic rows here)."""

from __future__ import annotations

import json

import pytest

from benchmarks import vgg16_speed   # benchmarks/ is a namespace package on pytest's pythonpath

STAMP = {"commit": "abc1234", "machine": "CPU only (2 cores: AMD EPYC)", "backend": "tensorflow",
         "date": "2026-05-01 10:00", "load": 0.4, "versions": {"keras": "3.15.1", "tensorflow": "2.21.0"}}
COMMON = {"benchmark": "vgg16_speed", "batch_size": 32, "timed_batches": 4}
#: best, median, idle images per second at 128×128
SPEEDS = {"features": (10.4, 6.2, 30.6), "blocks 1-4": (9.6, 8.2, 34.9), "block 5": (81.0, 55.0, 323.0),
          "frozen+aug step": (7.5, 5.8, 28.6), "fine-tune step (cached)": (43.4, 36.4, 115.0),
          "fine-tune step (end to end)": (6.6, 4.8, 23.0)}
PARTS = {"punchline": 1.7, "blocks 1-4 once": 1.9, "(a)": 0.2, "(b)": 5.1, "(c)": 0.7, "submission": 0.4}


def run_rows(stamp=STAMP, scale=1.0):
    rows = []
    for size, factor in ((64, 3.0), (128, 1.0)):
        for work, (best, median, idle) in SPEEDS.items():
            rows.append({**COMMON, "image_size": size, "work": work, "best_images_per_s": best * factor * scale,
                         "median_images_per_s": median * factor * scale, "idle_images_per_s": idle * factor * scale,
                         **stamp})
    for size in (64, 128):
        for profile, train in (("sample", 2000), ("full", 8000)):
            minutes = {"best": 35.0, "median": 47.0, "idle": sum(PARTS.values())}
            row = {**COMMON, "image_size": size, "estimate": "notebook 06", "profile": profile,
                   "notebook_image_size": 128,
                   "images": {"train": train, "valid": 1000, "test": 1000, "test1": 500},
                   "epochs": {"vgg16_head": 3, "vgg16_finetune": 2},
                   "counts": f"{train}/1000/1000 + 500 test1 (prepared data); epochs head 3, fine-tune 2", **stamp}
            for label, total in minutes.items():
                factor = (3 if profile == "full" else 1) / (3 if size == 64 else 1)
                row[f"{label}_minutes"] = total * factor
                row[f"{label}_parts_minutes"] = {k: v * factor for k, v in PARTS.items()}
            rows.append(row)
    return rows


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_speed_table_holds_the_latest_runs_figures_and_its_ratio():
    old = run_rows({**STAMP, "date": "2026-04-01 09:00", "commit": "0ld0ld0"}, scale=0.5)
    table = vgg16_speed.speed_table(old + run_rows())
    assert "| work (notebook 06) | 64×64 | 128×128 (sample, full) |" in table
    assert "| VGG16 base, forward (features) | 31.2 / 18.6 / 91.8 | 10.4 / 6.2 / 30.6 |" in table
    assert "| block 5, forward on cached features | 243 / 165 / 969 | 81.0 / 55.0 / 323 |" in table
    assert "0ld0ld0" not in table and "5.2 / 3.1" not in table          # the older run is not shown
    assert "commit abc1234, 2026-05-01 10:00 UTC; load average 0.4 at the start." in table
    assert "contended" not in table and "keras 3.15.1, tensorflow 2.21.0" in table
    assert "`.venv/bin/python benchmarks/vgg16_speed.py --sizes 64 128 --batch-size 32 --batches 4`" in table
    # 115 / 23.0 images/s, same run, at the notebook's size
    assert "At 128×128 a fine-tuning step from raw images with augmentation ran at 23.0 images/s against 115 " \
           "on the cached block-4 features (idle-machine estimates): 5.0× slower." in table


def test_minutes_table_where_the_time_goes_and_the_reading():
    table = vgg16_speed.minutes_table(run_rows())
    assert "| profile (training images) | image size | best batches | median batches | idle 2-core estimate |" in table
    assert "| sample (2,000) | 128×128 (notebook 06's) | 35 min | 47 min | 10 min |" in table
    assert "| full (8,000) | 128×128 (notebook 06's) | 105 min | 141 min | 30 min |" in table
    assert "| sample (2,000) | 64×64 | 12 min | 16 min | 3.3 min |" in table
    assert table.index("| sample (2,000) | 64×64") < table.index("| full (8,000) | 64×64")
    assert ("punchline 1.7, blocks 1–4 once 1.9, (a) 0.2, (b) frozen base + augmentation 5.1, "
            "(c) fine-tuning on cached features 0.7, `test1` predictions 0.4; "
            "(b) frozen base + augmentation is the largest part, 51% of 10 min.") in table
    assert "should take about 10 min on 2 idle cores of this machine, and 35–47 min at the best and median" in table
    assert "sample 2,000/1,000/1,000 + 500 `test1`, head 3 and fine-tune 2 epochs (prepared split)" in table
    assert "counted here with 8,000 training images" in table and "23,000" in table


def test_a_loaded_machine_is_marked_contended():
    text = vgg16_speed.markdown(run_rows({**STAMP, "load": 3.6}))
    assert "load average 3.6 at the start: **contended**" in text
    assert "| best batches (contended) | median batches (contended) |" in text
    assert "as measured (contended)." in text


def test_a_stale_block_is_rewritten_and_missing_markers_refused(tmp_path):
    path = write(tmp_path / "vgg.jsonl", run_rows())
    stale = ("a\n<!-- vgg16_speed:speeds -->\n| old |\n<!-- /vgg16_speed:speeds -->\nb\n"
             "<!-- vgg16_speed:minutes -->\n<!-- /vgg16_speed:minutes -->\nc\n")
    fresh = vgg16_speed.render_readme(stale, path)
    assert "| old |" not in fresh and vgg16_speed.render_readme(fresh, path) == fresh
    assert "| VGG16 base, forward (features) |" in fresh and "| sample (2,000) | 128×128" in fresh
    assert fresh.index("| VGG16 base") < fresh.index("\nb\n") < fresh.index("| sample (2,000)")
    with pytest.raises(ValueError, match="vgg16_speed:minutes"):
        vgg16_speed.render_readme("# README\n<!-- vgg16_speed:speeds -->\n<!-- /vgg16_speed:speeds -->\n", path)


def test_check_exits_1_on_a_stale_readme_and_readme_rewrites_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(vgg16_speed, "COMMITTED", write(tmp_path / "vgg.jsonl", run_rows()))
    readme = tmp_path / "README.md"
    readme.write_text("<!-- vgg16_speed:speeds -->\n| old |\n<!-- /vgg16_speed:speeds -->\n"
                      "<!-- vgg16_speed:minutes -->\n<!-- /vgg16_speed:minutes -->\n", encoding="utf-8")
    monkeypatch.setattr(vgg16_speed, "README", readme)
    assert vgg16_speed.main(["--readme", "--check"]) == 1
    assert vgg16_speed.main(["--readme"]) == 0
    assert "| old |" not in readme.read_text(encoding="utf-8")
    assert vgg16_speed.main(["--readme", "--check"]) == 0
    assert vgg16_speed.main(["--table", str(vgg16_speed.COMMITTED)]) == 0
    assert "| sample (2,000) | 128×128 (notebook 06's) | 35 min |" in capsys.readouterr().out
