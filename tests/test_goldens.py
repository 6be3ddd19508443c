"""The golden comparison bites: stale goldens refused, current cells composed with golden outputs, sanitiser and records check."""

from __future__ import annotations

import configparser
import json
import re

import nbformat
import pytest

from course.tools import goldens, regress
from utils import audit, config

ROOT = config.PROJECT_ROOT


def _notebook(tmp_path, sources: dict, name="03_cnn.ipynb", outputs=None):
    nb = nbformat.v4.new_notebook()
    for cell_id, source in sources.items():
        cell = nbformat.v4.new_code_cell(source)
        cell["id"] = cell_id
        cell.outputs = (outputs or {}).get(cell_id, [])
        nb.cells.append(cell)
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def _stream(text):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


@pytest.fixture
def lesson_and_golden(tmp_path):
    golden_dir = tmp_path / "golden"
    _notebook(golden_dir / "smoke", {"a": "print(1)", "b": "print(model.count_params())"},
              outputs={"a": [_stream("1\n")], "b": [_stream("82081\n")]})
    lesson = _notebook(tmp_path / "notebooks", {"a": "print(1)", "b": "print(model.count_params())"})
    return lesson, golden_dir


def test_composed_notebook_has_current_sources_and_golden_outputs(lesson_and_golden):
    lesson, golden_dir = lesson_and_golden
    composed = goldens.compose_notebook(lesson, golden_dir, ignore={"03_cnn": {"b": "training log"}})
    sources = [c.source for c in composed.cells]
    assert sources == ["print(1)", "print(model.count_params())"]
    assert composed.cells[0].outputs[0]["text"] == "1\n"
    assert composed.cells[1].outputs[0]["text"] == "82081\n"
    # an ignored cell is tagged for nbval, not commented in the lesson
    assert goldens.IGNORE_TAG in composed.cells[1].metadata["tags"]
    assert "tags" not in composed.cells[0].metadata


def test_changed_cell_source_fails_with_update_the_golden(lesson_and_golden, tmp_path):
    lesson, golden_dir = lesson_and_golden
    changed = _notebook(tmp_path / "notebooks", {"a": "print(2)", "b": "print(model.count_params())"})
    with pytest.raises(goldens.StaleGoldenError, match=r"update the golden: .*goldens update --only 03_cnn") \
            as error:
        goldens.compose_notebook(changed, golden_dir, ignore={})
    assert "cell(s) a changed" in str(error.value)
    # the selftest's escape hatch keeps the old outputs under the new source
    kept = goldens.compose_notebook(changed, golden_dir, ignore={}, allow_stale=True)
    assert kept.cells[0].source == "print(2)" and kept.cells[0].outputs[0]["text"] == "1\n"


def test_new_cell_or_missing_golden_fails(tmp_path, lesson_and_golden):
    _lesson, golden_dir = lesson_and_golden
    grown = _notebook(tmp_path / "notebooks", {"a": "print(1)", "b": "print(model.count_params())",
                                               "c": "print(3)"})
    with pytest.raises(goldens.StaleGoldenError, match="update the golden"):
        goldens.compose_notebook(grown, golden_dir, ignore={})
    other = _notebook(tmp_path / "notebooks", {"a": "x"}, name="04_data_augmentation.ipynb")
    with pytest.raises(goldens.StaleGoldenError, match="has no golden"):
        goldens.compose_notebook(other, golden_dir, ignore={})


def _sanitize(text: str) -> str:
    parser = configparser.ConfigParser()
    parser.read(goldens.SANITIZE_FILE, encoding="utf-8")
    for section in parser.sections():
        text = re.sub(parser[section]["regex"], parser[section]["replace"], text)
    return text


def test_sanitiser_masks_only_the_last_two_decimals_of_submission_rows():
    # 06 prints its submission's first rows: P(dog) to 6 decimals, whose 6th differs between CPUs' kernels
    golden, fresh = "id,label\n3,0.144721\n4,0.950000 \n", "id,label\n3,0.144720\n4,0.950000 \n"
    assert _sanitize(golden) == _sanitize(fresh) and "3,0.1447" in _sanitize(fresh)
    assert _sanitize("id,label\n3,0.154721\n") != _sanitize("id,label\n3,0.144721\n")   # the 4 first are compared
    assert _sanitize("accuracy 0.144721") == "accuracy 0.144721"                           # other numbers untouched


def test_sanitiser_masks_timings_and_temporary_paths():
    run_a = "Epoch 1/1 - 1.58 s/epoch, 54.5 images/s\nReused /tmp/dogscats-test.abc123/data/dogscats in 0.1 s"
    run_b = "Epoch 1/1 - 2.91 s/epoch, 31.0 images/s\nReused /tmp/dogscats-test.XyZ987/data/dogscats in 12.4 s"
    assert _sanitize(run_a) == _sanitize(run_b)
    assert "<PATH>" in _sanitize(run_a) and "<TIME>" in _sanitize(run_a)
    # a clone anywhere (CI checks out under a root of its own): any absolute path is masked
    here = "Raw data found : ['/work/shared/data/dogs-vs-cats']"
    there = "Raw data found : ['/check-7f3a/shared/data/dogs-vs-cats']"
    assert _sanitize(here) == _sanitize(there) == "Raw data found : ['<PATH>']"
    # the progress line of a training run: its times, not its epochs or metrics
    line_a = "cnn_small: epoch 3/3 [00:04<00:00] loss 0.6931 · val_accuracy 0.5"
    line_b = "cnn_small: epoch 3/3 [01:12<?] loss 0.6931 · val_accuracy 0.5"
    assert _sanitize(line_a) == _sanitize(line_b) and "epoch 3/3" in _sanitize(line_a)
    # ...but not a ratio, a fraction or a unit
    assert _sanitize("80/80 images, train / valid, 3 images/s") == "80/80 images, train / valid, <RATE>"
    # what must be compared survives: counts, shapes, parameter counts
    kept = "Total params: 82,081 (320.63 KB)\nimages: (16, 64, 64, 3) labels: (16, 1)\n80 images"
    assert _sanitize(kept) == kept.replace("320.63 KB", "320.63 KB")
    assert "82,081" in _sanitize(kept) and "(16, 64, 64, 3)" in _sanitize(kept)


def test_records_check_flags_a_changed_parameter_count(tmp_path):
    reference = json.loads((ROOT / "reference" / "smoke" / "records" / "cnn_small.json").read_text())
    (tmp_path / "cnn_small.json").write_text(json.dumps(reference))
    assert goldens.compare_records(tmp_path, "smoke") == []
    changed = dict(reference, params=reference["params"] + 1, train_seconds=99.0)
    (tmp_path / "cnn_small.json").write_text(json.dumps(changed))
    problems = goldens.compare_records(tmp_path, "smoke")
    assert len(problems) == 1 and "params" in problems[0]   # timings may vary, parameters may not


def test_mcnemar_flags_a_significant_drop_only(tmp_path):
    reference = json.loads((ROOT / "reference" / "sample" / "records" / "cnn_small.json").read_text())
    (tmp_path / "cnn_small.json").write_text(json.dumps(reference))
    assert regress.compare_predictions(tmp_path, "sample") == []
    y_true = reference["test_y_true"]
    worse = [0.9 if y == 0 else 0.1 for y in y_true]  # every photo wrong
    (tmp_path / "cnn_small.json").write_text(json.dumps(dict(reference, test_p_dog=worse)))
    problems = regress.compare_predictions(tmp_path, "sample")
    assert len(problems) == 1 and "McNemar" in problems[0]


def test_every_ignored_cell_exists_and_says_why():
    ignore = goldens.load_ignore()
    notebooks = {nb.stem: nb for nb in goldens.course_notebooks()}
    for name, cells in ignore.items():
        assert name in notebooks, f"ignore.toml names {name}, which is no notebook"
        ids = {c.get("id") for c in nbformat.read(notebooks[name], as_version=4).cells
               if c.cell_type == "code"}
        for cell_id, reason in cells.items():
            assert cell_id in ids, f"ignore.toml: {name} has no code cell {cell_id}"
            assert reason.strip() and "\n" not in reason, f"{name} · {cell_id}: one line of reason"


def test_most_code_cells_are_compared():
    rows = goldens.summary()
    code = sum(r[1] for r in rows)
    ignored = sum(r[3] for r in rows)
    assert ignored / code <= 0.4, "\n".join(goldens.summary_lines(rows))


def test_every_notebook_has_a_current_golden(tmp_path):
    goldens.compose(tmp_path)  # raises "update the golden" for a stale or missing one
    assert len(list((tmp_path / "notebooks").rglob("*.ipynb"))) == len(goldens.course_notebooks())


def test_split_fingerprint_depends_on_content_split_and_class_not_order():
    import pandas as pd

    hashes = pd.DataFrame({"split": ["train", "test"], "class": ["cats", "dogs"], "sha256": ["a", "b"]})
    print_a = audit.split_fingerprint(hashes)
    assert print_a == audit.split_fingerprint(hashes.iloc[::-1])
    moved = hashes.assign(split=["test", "test"])
    assert audit.split_fingerprint(moved) != print_a
    with pytest.raises(KeyError):
        audit.split_fingerprint(hashes.drop(columns="class"))


def test_planted_regressions_apply_to_the_current_code():
    for plant in regress.PLANTS:
        text = (ROOT / plant.file).read_text(encoding="utf-8")
        old = json.dumps(plant.old)[1:-1] if plant.file.endswith(".ipynb") else plant.old
        assert old in text, f"selftest plant {plant.name!r} no longer applies to {plant.file}"


def _stored_outputs():
    for path in sorted((goldens.GOLDEN_DIR / goldens.PROFILE).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for output in cell.get("outputs", []):
                yield path.stem, cell.get("id"), output


def test_golden_outputs_are_clean():
    """No warning, traceback or stderr text in what a learner sees (ignored cells included)."""
    dirty = []
    for notebook, cell_id, output in _stored_outputs():
        text = output.get("text", "") if output.get("output_type") == "stream" else ""
        if output.get("output_type") == "error" or output.get("name") == "stderr" \
                or re.search(r"Warning\b|WARNING:", text):
            dirty.append(f"{notebook} · {cell_id}: {(text or output.get('ename', ''))[:120]!r}")
    assert not dirty, "outputs with warnings or errors:\n" + "\n".join(dirty)


def test_update_only_runs_every_notebook_before_the_chosen_ones_in_course_order():
    """A golden made without the notebooks before it would expect their records copied (make test has them)."""
    notebooks = goldens.course_notebooks(goldens.NOTEBOOKS_DIR)
    stems = [nb.stem for nb in notebooks]
    names = [nb.stem for nb in goldens._needed(notebooks, ["03", "06"])]   # each lesson with its solutions
    assert names == stems[:stems.index("06_vgg16_finetuning_solutions") + 1]
    assert [nb.stem for nb in goldens._needed(notebooks, None)] == [nb.stem for nb in notebooks]
    solutions = [nb.stem for nb in goldens._needed(notebooks, ["02_mlp_solutions"])]
    assert solutions[-1] == "02_mlp_solutions" and "07_results" in solutions   # solutions run after every lesson
