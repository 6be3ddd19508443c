"""benchmarks/precision.py makes its README tables from the rows it writes with ``--out`` (synthetic rows here)."""

from __future__ import annotations

import json

import pytest

from benchmarks import precision   # benchmarks/ is a namespace package on pytest's pythonpath

RUN = {"benchmark": "precision", "profile": "sample", "epochs": 3, "limit_s": 360, "native_bfloat16": True,
       "command": "benchmarks/precision.py --epochs 3 --out benchmarks/precision_cpu.jsonl",
       "versions": {"keras": "3.15.1", "tensorflow": "2.21.0"}, "commit": "ff80c33",
       "machine": "CPU only (2 cores: AMD EPYC 9B14)", "backend": "tensorflow", "date": "2026-12-06 10:00",
       "load": 0.3}
SIZES = {"mlp": [32, 32], "cnn_small": [128, 128], "cnn_bn": [64, 64], "lite0": [224, 224]}


def _row(workload, way, seconds, **others):
    row = {**RUN, "workload": workload, "way": way, "image_size": SIZES[workload], **others}
    if seconds is not None:
        row.update(images=2000, seconds_per_epoch=seconds, images_per_s=2000 / seconds)
    return row


def _rows():
    first = [_row("mlp", "float32", 0.93), _row("mlp", "mixed_bfloat16", 0.75), _row("mlp", "xla", 0.60),
             _row("cnn_small", "float32", 8.28), _row("cnn_small", "mixed_bfloat16", 4.52),
             _row("cnn_small", "xla", 17.70),
             _row("lite0", "float32", 24.49), _row("lite0", "mixed_bfloat16", 23.99),
             _row("lite0", "xla", None, stopped_after_s=361)]
    # a second run, later and loaded: its ratios divide its own rows only
    later = {"date": "2026-12-07 09:00", "commit": "abc1234", "load": 3.5}
    second = [_row("cnn_small", "float32", 20.0, **later), _row("cnn_small", "mixed_bfloat16", 5.0, **later),
              _row("cnn_small", "xla", None, error="XlaRuntimeError: boom", **later)]
    return first + second


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_each_run_gets_its_table_with_ratios_to_its_own_float32():
    text = precision.markdown(_rows())
    first, second = text.split("| workload |")[1:]
    assert "| 02 MLP, 32×32 arrays | 0.93 | 0.75 (1.24×) | 0.60 (1.55×) |" in first
    assert "| 03 `cnn_small`, 128×128 | 8.28 | 4.52 (1.83×) | 17.70 (0.47×) |" in first
    assert "| 06 Lite0 bottom, 224×224 (one pass) | 24.49 | 23.99 (1.02×) | stopped after 6 min |" in first
    assert "04 `cnn_bn`" not in first                                   # not measured: no row
    assert ("mixed_bfloat16 ran `cnn_small` 1.83× as fast as float32, `mlp` 1.24× and `lite0` 1.02×. "
            "XLA ran `mlp` 1.55× as fast as float32 and `cnn_small` 0.47×; `lite0` was stopped after 6 min.") in first
    assert "| 03 `cnn_small`, 128×128 | 20.00 | 5.00 (4.00×) | failed |" in second
    assert "mixed_bfloat16 ran `cnn_small` 4.00× as fast as float32. XLA: `cnn_small` failed." in second


def test_the_caption_says_where_when_and_how_and_marks_a_loaded_start():
    text = precision.markdown(_rows())
    first, second = text.split("| workload |")[1:]
    for part in ("`sample` (2,000 training photos), 3 epochs per way", "CPU only (2 cores: AMD EPYC 9B14)",
                 "native bfloat16: yes", "TensorFlow 2.21.0, Keras 3.15.1", "commit ff80c33, 2026-12-06 10:00 UTC",
                 "load average 0.3 at start;",
                 "`.venv/bin/python benchmarks/precision.py --epochs 3 --out benchmarks/precision_cpu.jsonl`"):
        assert part in first, part
    assert "contended" not in first
    assert "commit abc1234, 2026-12-07 09:00 UTC, load average 3.5 at start (contended" in second


def test_a_ratio_needs_float32_in_the_same_run():
    rows = [_row("cnn_bn", "mixed_bfloat16", 6.64)]
    assert precision.speedup(rows[0], rows) is None
    assert "| 04 `cnn_bn`, 64×64, augmented | 6.64 |" in precision.markdown(rows)
    both = [_row("cnn_bn", "float32", 8.51)] + rows
    assert precision.speedup(rows[0], both) == pytest.approx(8.51 / 6.64)


def test_a_stale_block_is_rewritten_and_missing_markers_refused(tmp_path):
    path = _write(tmp_path / "precision.jsonl", _rows())
    stale = "a\n<!-- precision:cpu -->\n| old |\n<!-- /precision:cpu -->\nb\n"
    fresh = precision.render_readme(stale, path)
    assert "| old |" not in fresh and fresh.startswith("a\n<!-- precision:cpu -->\n| workload |")
    assert "| 03 `cnn_small`, 128×128 | 8.28 | 4.52 (1.83×) | 17.70 (0.47×) |" in fresh
    assert precision.render_readme(fresh, path) == fresh
    with pytest.raises(ValueError, match="precision:cpu"):
        precision.render_readme("# README\n", path)


def test_check_fails_on_a_stale_readme_and_readme_fixes_it(tmp_path, monkeypatch, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("x\n<!-- precision:cpu -->\n| old |\n<!-- /precision:cpu -->\n", encoding="utf-8")
    monkeypatch.setattr(precision, "README", readme)
    monkeypatch.setattr(precision, "COMMITTED", _write(tmp_path / "precision.jsonl", _rows()))
    assert precision.main(["--readme", "--check"]) == 1
    assert "| old |" in readme.read_text(encoding="utf-8")
    assert precision.main(["--readme"]) == 0
    assert "4.52 (1.83×)" in readme.read_text(encoding="utf-8")
    assert precision.main(["--readme", "--check"]) == 0
    capsys.readouterr()
    assert precision.main(["--table", str(precision.COMMITTED)]) == 0
    assert "20.00 | 5.00 (4.00×) | failed |" in capsys.readouterr().out
