"""benchmarks/divergence.py's README table: a rerun beside the final runs it repeats, and where each diverged."""

from __future__ import annotations

import math

import pytest

from benchmarks import divergence   # benchmarks/ is a namespace package on pytest's pythonpath

RUN = {"profile": "full", "recipe": "course", "seed": 44, "image": [128, 128], "widths": [32, 64],
       "precision": "mixed_bfloat16", "machine": "CPU X", "train_photos": 8000}


def _epochs(*val_losses, peaks=None):
    return [{"epoch": i + 1, "val_loss": loss, "val_accuracy": 0.5 if math.isnan(loss) else 0.8, "loss": 0.5,
             **({"peaks": peaks} if peaks else {})} for i, loss in enumerate(val_losses)]


def test_the_table_shows_the_epochs_both_runs_agree_on_and_where_each_diverged():
    original = {**RUN, "kind": "final", "date": "d1", "commit": "aaa", "history": _epochs(0.9, 0.7, math.nan, math.nan)}
    other = {**original, "seed": 43}                        # another seed: not the run repeated
    rerun = {**RUN, "kind": "diagnosis", "date": "d2", "commit": "bbb", "epochs": 3, "clipnorm": None,
             "history": _epochs(0.9, 0.7, 0.6, peaks={"conv_1/kernel": 0.25, "bn_1/moving_variance": 98.0,
                                                       "bn_1/gamma": 9.0})}
    table = divergence.markdown([rerun], originals=[original, other])
    assert "| final run of d1 (aaa) | this rerun, d2 (bbb) | the rerun's weights |" in table
    assert "| 3 | 0.5000 / NaN / 50.0% | 0.5000 / 0.6000 / 80.0% | 0.25 / 98 |" in table
    assert "loss finite in all 3 epochs, the first run's validation loss to 4 decimals in epochs 1–2" in table
    assert "Final run of d1 (aaa): loss not finite from epoch 3" in table
    assert "This rerun, d2 (bbb): loss finite in all 3 epochs" in table and "Machine: CPU X." in table
    assert table.count("| final run of") == 1
    capped = divergence.markdown([rerun], originals=[original, {**original, "date": "d3",
                                                                 "onednn_max_cpu_isa": "AVX512_CORE_BF16"}])
    assert "| final run of d3 (aaa), oneDNN up to AVX512_CORE_BF16 |" in capped


def test_runs_that_differ_from_the_start_say_so_and_an_empty_file_is_named():
    original = {**RUN, "kind": "final", "date": "d1", "commit": "aaa", "history": _epochs(0.8)}
    rerun = {**RUN, "kind": "diagnosis", "date": "d2", "commit": "bbb", "epochs": 1, "clipnorm": 1.0,
             "history": _epochs(0.9)}
    table = divergence.markdown([rerun], originals=[original])
    assert "a different validation loss from epoch 1 on" in table and "gradients clipped to norm 1" in table
    assert divergence.markdown([], originals=[]) == "No diagnosis runs recorded yet."


def test_readme_check_fails_on_a_stale_block_and_write_fixes_it(tmp_path, monkeypatch):
    committed, originals, readme = tmp_path / "d.jsonl", tmp_path / "p.jsonl", tmp_path / "README.md"
    divergence.protocol.append(originals, {**RUN, "kind": "final", "date": "d1", "commit": "aaa",
                                           "history": _epochs(0.9, math.nan)})
    divergence.protocol.append(committed, {**RUN, "kind": "diagnosis", "date": "d2", "commit": "bbb", "epochs": 2,
                                           "clipnorm": None, "history": _epochs(0.9, 0.7)})
    readme.write_text("# x\n<!-- divergence:runs -->\nold\n<!-- /divergence:runs -->\n", encoding="utf-8")
    for name, value in (("README", readme), ("COMMITTED", committed), ("ORIGINALS", originals)):
        monkeypatch.setattr(divergence, name, value)
    assert divergence.main(["--readme", "--check"]) == 1
    assert divergence.main(["--readme"]) == 0 and "loss not finite from epoch 2" in readme.read_text(encoding="utf-8")
    assert divergence.main(["--readme", "--check"]) == 0
    with pytest.raises(ValueError):
        divergence.render_readme("# no markers\n", committed)
