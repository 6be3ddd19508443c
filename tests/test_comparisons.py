"""Comparing records: the tables, intervals and paired tests of :mod:`utils.comparisons`, and the anchors beside them."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

from tests.test_results import FIELDS
from utils import anchors as anchors_module
from utils import comparisons, config, results


def test_comparison_table_columns_order_and_units():
    records = [
        {"model_id": "vgg16_finetune", "profile": "smoke", "test_accuracy": 0.5, "weights": "imagenet",
         "backbone": "vgg16"},
        {**FIELDS, "params": 12345, "images_per_second": 8.0, "model_id": "cnn_small", "profile": "smoke"},
        {"model_id": "mlp_pixels", "profile": "smoke", "image_size": [32, 32], "params": 2_655_361},
        {"model_id": "my_experiment", "profile": "smoke"},
    ]
    table = comparisons.comparison_table(records)
    assert list(table.columns) == list(comparisons.TABLE_COLUMNS)
    assert list(table["model"]) == ["mlp_pixels", "cnn_small", "vgg16_finetune", "my_experiment"]
    row = table.set_index("model").loc["cnn_small"]
    assert row["image size"] == "64×64" and row["parameters"] == 12345
    assert row["test accuracy"] == 0.625 and row["weights used"] == "random init"
    assert math.isnan(table.set_index("model").loc["mlp_pixels", "test accuracy"])
    assert str(table["parameters"].dtype) == "Int64"
    assert table.set_index("model").loc["vgg16_finetune", "backbone"] == "vgg16"
    assert pd.isna(table.set_index("model").loc["cnn_small", "backbone"])          # trained from scratch


def test_comparison_table_mixed_profiles_and_empty():
    records = [{"model_id": "cnn_small", "profile": "sample"}, {"model_id": "cnn_small", "profile": "full"}]
    table = comparisons.comparison_table(records)
    assert list(table["profile"]) == ["full", "sample"]
    empty = comparisons.comparison_table([])
    assert empty.empty and list(empty.columns) == list(comparisons.TABLE_COLUMNS)
    with pytest.raises(ValueError, match="not a result record"):
        comparisons.comparison_table([{"profile": "smoke"}])
    with pytest.raises(ValueError, match="not a result record"):
        comparisons.comparison_table(["cnn_small"])


def test_bad_numbers_become_nan_not_errors():
    table = comparisons.comparison_table([{"model_id": "cnn_small", "profile": "smoke",
                                       "test_accuracy": "n/a", "epochs": True, "params": None}])
    assert math.isnan(table.loc[0, "test accuracy"])


def test_model_order_is_teaching_order_with_unknown_ids_last_by_name():
    ids = ["zz_mine", "efficientnet_lite0_finetune", "cnn_bn", "aa_mine", "mlp_pixels", "cnn_small"]
    assert sorted(ids, key=comparisons.model_order) == [
        "mlp_pixels", "cnn_small", "cnn_bn", "efficientnet_lite0_finetune", "aa_mine", "zz_mine"]


def test_image_size_is_one_rule_for_the_records_table_and_the_published_pages():
    from course.publish import tables

    assert comparisons.image_size_text([128, 96]) == "128×96" and comparisons.image_size_text(None) is None
    assert comparisons.image_size_text("224") == "224"
    assert tables.image_size((150, 150)) == "150×150"
    assert tables.image_size(None) == tables.image_size(float("nan")) == "—"       # a missing value shows as a dash


def test_missing_models_names_the_notebook():
    missing = comparisons.missing_models([{"model_id": "cnn_small"}, {"model_id": "vgg16_features"}])
    assert list(missing["model"]) == ["mlp_pixels", "cnn_plain", "cnn_aug", "cnn_bn", "vgg16_frozen_aug",
                                      "vgg16_finetune"]
    made_by = dict(zip(missing["model"], missing["made by"]))
    assert made_by["mlp_pixels"].startswith("02_") and made_by["cnn_aug"].startswith("04_")
    assert made_by["cnn_bn"].startswith("04_")
    assert made_by["vgg16_finetune"].startswith("06_")
    assert comparisons.missing_models([{"model_id": m} for m in comparisons.EXPECTED_MODELS]).empty
    assert len(comparisons.missing_models([])) == len(comparisons.EXPECTED_MODELS)


def test_anchors_are_theirs_with_sources():
    anchors = comparisons.anchors_table()
    assert list(anchors.columns) == ["source", "setup", "model", "reported", "accuracy", "split"]
    assert anchors["source"].str.len().min() > 5
    assert anchors["accuracy"].dropna().between(0.5, 1.0).all()


@pytest.mark.parametrize("anchor", anchors_module.ANCHORS, ids=lambda a: f"{a['source'][:30]}·{a['model']}")
def test_each_anchor_agrees_with_its_own_published_text(anchor):
    """The number and the split typed in ``accuracy``/``split`` match the text quoted from the source.

    A figure quoted as "~82% validation" cannot sit in the table as a test figure,
    nor as 0.28; a test figure must say "test" in what was quoted.
    """
    reported = anchor["reported"]
    assert anchor["split"] in anchors_module.SPLITS + (None,)
    if anchor["split"] == "test":
        assert "test" in reported
    elif anchor["split"] == "validation":
        assert "val" in reported and "test" not in reported
    if anchor["accuracy"] is not None:
        figures = [float(f) / 100 for f in re.findall(r"(\d+(?:\.\d+)?)%", reported)]
        figures += [float(f) for f in re.findall(r"\b0\.\d+", reported)]
        assert any(abs(f - anchor["accuracy"]) < 1e-9 for f in figures), (reported, anchor["accuracy"])


def test_deep_learning_with_python_figures_are_validation_but_the_fine_tuned_one():
    """1st ed., ch. 5: the curves' ~71/82/90/96% are validation figures; only 96.8% was a test score."""
    table = comparisons.anchors_table()
    dlwp = table[table["source"].str.contains("1st ed.")]
    assert len(dlwp) == 5
    assert set(dlwp.loc[dlwp["split"] == "test", "accuracy"]) == {0.968}


def test_plot_tradeoffs_with_and_without_figures(tmp_path):
    import matplotlib.pyplot as plt

    from utils import charts

    table = comparisons.comparison_table([
        {**FIELDS, "params": 12345, "images_per_second": 8.0, "model_id": "cnn_small", "profile": "smoke",
         "test_accuracy": 0.4},
        {"model_id": "mlp_pixels", "profile": "smoke"},
    ])
    fig = charts.plot_tradeoffs(table, profile="smoke", path=tmp_path / "t.png")
    left, right = fig.axes[:2]
    assert left.get_ylim()[0] < 0.4, "a score below chance stays visible"
    assert [t.get_text() for t in left.texts] == ["cnn_small"]
    assert (tmp_path / "t.png").is_file()
    empty = charts.plot_tradeoffs(comparisons.comparison_table([]))
    assert "no records" in empty.axes[0].texts[0].get_text()
    plt.close("all")


def _predictions(model_id, y, right):
    """A record whose per-photo P(dog) is right exactly where ``right`` is True."""
    p = [float(t) if ok else 1.0 - float(t) for t, ok in zip(y, right)]
    p = [0.9 if v == 1.0 else 0.1 for v in p]
    return {"model_id": model_id, "profile": "sample", "test_y_true": list(y), "test_p_dog": p,
            "test_accuracy": sum(right) / len(right), "test_count": len(y)}


def test_interval_from_predictions_or_from_counts():
    from utils import stats

    y = [0, 1] * 50
    record = _predictions("cnn_small", y, [True] * 90 + [False] * 10)
    table = comparisons.comparison_table([record, {"model_id": "mlp_pixels", "profile": "sample",
                                               "test_accuracy": 0.9, "test_count": 100},
                                      {"model_id": "cnn_aug", "profile": "sample", "test_accuracy": 0.9}])
    rows = table.set_index("model")
    want = stats.wilson_interval(90, 100)
    assert (rows.loc["cnn_small", "95% interval low"], rows.loc["cnn_small", "95% interval high"]) == pytest.approx(want)
    assert rows.loc["mlp_pixels", "95% interval low"] == pytest.approx(want[0])
    assert math.isnan(rows.loc["cnn_aug", "95% interval low"])          # no count: no interval


def test_paired_tests_on_the_same_photos():
    y = [0, 1] * 50
    records = [
        _predictions("cnn_small", y, [True] * 80 + [False] * 20),
        _predictions("cnn_aug", y, [True] * 85 + [False] * 15),
        _predictions("efficientnet_lite0_finetune", y, [True] * 99 + [False]),
        {"model_id": "efficientnet_lite0_features", "profile": "sample", "test_accuracy": 0.97},
    ]
    table = comparisons.paired_tests(records)
    assert list(zip(table["model"], table["against"])) == [("efficientnet_lite0_finetune", "cnn_small"),
                                                          ("efficientnet_lite0_finetune", "cnn_aug")]
    first = table.iloc[0]
    assert (first["only model right"], first["only baseline right"]) == (19, 0)
    assert first["p value"] < 1e-4 and first["model accuracy"] == 0.99
    assert [(m, b) for m, b, _ in table.attrs["left_out"]] == [("efficientnet_lite0_features", "cnn_small"),
                                                              ("efficientnet_lite0_features", "cnn_aug")]
    other_photos = _predictions("cnn_small", [1, 0] * 50, [True] * 100)
    mismatched = comparisons.paired_tests([other_photos, records[2]])
    assert mismatched.empty and "same test photos" in mismatched.attrs["left_out"][0][2]


def test_a_lite0_model_stands_in_for_its_vgg16_twin():
    present = [{"model_id": m} for m in ("mlp_pixels", "cnn_small", "cnn_plain", "cnn_aug", "cnn_bn",
                                         "efficientnet_lite0_features",
                                         "efficientnet_lite0_frozen_aug", "efficientnet_lite0_finetune")]
    assert comparisons.missing_models(present).empty
    assert comparisons.notebook_for("efficientnet_lite0_finetune").startswith("06_")


def test_same_labels_on_other_photos_are_not_paired():
    """500 cats then 500 dogs in two splits: the labels agree, the file-list hash does not."""
    y = [0] * 50 + [1] * 50
    model = dict(_predictions("efficientnet_lite0_finetune", y, [True] * 100), test_files_sha256="a" * 64)
    baseline = dict(_predictions("cnn_aug", y, [True] * 80 + [False] * 20), test_files_sha256="b" * 64)
    assert "test file lists differ" in results.different_test_photos(model, baseline)
    table = comparisons.paired_tests([model, baseline])
    assert table.empty and "test file lists differ" in table.attrs["left_out"][0][2]
    baseline["test_files_sha256"] = "a" * 64
    assert results.different_test_photos(model, baseline) is None
    assert len(comparisons.paired_tests([model, baseline])) == 1


def test_record_table_is_short_and_readable(tmp_path):
    cfg = config.get_profile("smoke", results_dir=tmp_path / "results", data_dir=tmp_path / "data")
    y = [0, 1] * 10
    fields = {k: v for k, v in _predictions("cnn_small", y, [True] * 15 + [False] * 5).items()
              if k not in ("model_id", "profile")}
    results.save_record(cfg, "cnn_small", **fields, epochs=3, params=1234, seconds_per_epoch=2.345,
                        test_log_loss=0.5)
    styled = comparisons.record_table(cfg, ["mlp_pixels", "cnn_small"])     # no mlp record: left out
    assert list(styled.data.index) == ["cnn_small"]
    assert list(styled.data.columns) == list(comparisons.SHORT_COLUMNS[1:])
    html = styled.to_html()
    assert "75.0%" in html and "1,234" in html and "2.3" in html and "test_p_dog" not in html


def test_plot_tradeoffs_counts_the_features_pass_and_draws_intervals():
    import matplotlib.pyplot as plt

    from utils import charts

    head = {"model_id": "efficientnet_lite0_features", "profile": "sample", "seconds_per_epoch": 1.0, "epochs": 5,
            "feature_seconds": 95.0, "params": 1281, "test_accuracy": 0.9, "test_count": 1000}
    fig = charts.plot_tradeoffs(comparisons.comparison_table([head]))
    left = fig.axes[0]
    (x, y), = left.lines[0].get_xydata()[:1]
    assert x == 100.0 and y == 0.9                     # 5 epochs × 1 s + the 95 s features pass
    bars = [c for c in left.collections if c.get_segments()]
    (low, high), = [(seg[0][1], seg[1][1]) for seg in bars[0].get_segments()]
    assert low < 0.9 < high and abs(low - 0.88) < 0.01   # Wilson 95% on 1,000 photos
    plt.close("all")
