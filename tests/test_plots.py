"""Figures follow the style guide: class names in titles, validation solid, mistakes in one colour, inputs kept."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from utils import charts, plots  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# -- to_display and plots (written by the lead; tested here) ----------------------

def test_to_display_scales_unit_floats_and_keeps_input():
    unit = np.array([[[0.0, 0.5, 1.0]]], dtype=np.float32)
    shown = plots.to_display(unit)
    assert shown.dtype == np.uint8
    np.testing.assert_array_equal(shown, [[[0, 128, 255]]])
    assert unit[0, 0, 1] == 0.5
    np.testing.assert_array_equal(plots.to_display(np.array([[300.0, -2.0]])), [[255, 0]])


@pytest.mark.parametrize("bad", [np.zeros((0, 4, 4, 3)), np.array([[np.nan, 1.0]])])
def test_to_display_rejects_empty_or_nan(bad):
    with pytest.raises(ValueError):
        plots.to_display(bad)


def test_plots_grid_titles_and_save(tmp_path):
    images = np.random.default_rng(0).uniform(0, 255, (5, 8, 8, 3))
    fig = plots.plots(images, titles=[f"image {i}" for i in range(5)], rows=2,
                      path=tmp_path / "grid.png")
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 5
    assert shown[0].get_title() == "image 0"
    assert (tmp_path / "grid.png").stat().st_size > 0


@pytest.mark.parametrize("kwargs", [dict(titles=["a"]), dict(rows=0), dict(title_colours=["red"])])
def test_plots_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        plots.plots(np.zeros((3, 4, 4, 3)), **kwargs)


# -- plot_history ---------------------------------------------------------------

HISTORY = {"accuracy": [0.6, 0.7, 0.8], "val_accuracy": [0.55, 0.65, 0.7],
           "loss": [0.7, 0.6, 0.5], "val_loss": [0.72, 0.66, 0.62]}


def test_plot_history_single_run_dashed_training_solid_validation(tmp_path):
    fig = charts.plot_history(HISTORY, title="MLP (smoke)", path=tmp_path / "curves.png")
    acc_ax, loss_ax = fig.axes
    assert acc_ax.get_ylim() == (0.5, 1.0)
    assert acc_ax.get_ylabel() == "accuracy" and loss_ax.get_ylabel() == "log loss"
    assert acc_ax.get_xlabel() == "epoch"
    styles = {line.get_label(): line.get_linestyle() for line in acc_ax.get_lines()}
    assert styles == {"training": "--", "validation": "-"}
    np.testing.assert_array_equal(acc_ax.get_lines()[0].get_xdata(), [1, 2, 3])
    assert fig._suptitle.get_text() == "MLP (smoke)"
    assert (tmp_path / "curves.png").is_file()


def test_plot_history_compares_runs_and_marks_fine_tuning():
    class FakeHistory:
        history = HISTORY

    low = dict(HISTORY, accuracy=[0.42, 0.5, 0.6])
    fig = charts.plot_history({"adam": FakeHistory(), "sgd": low}, fine_tune_epoch=2)
    acc_ax = fig.axes[0]
    labels = [line.get_label() for line in acc_ax.get_lines()]
    assert "adam · training" in labels and "sgd · validation" in labels
    assert "fine-tuning starts" in labels
    assert acc_ax.get_ylim()[0] == pytest.approx(0.4)   # below chance: the axis extends


def test_plot_history_log_loss_scale():
    fig = charts.plot_history(HISTORY, loss_scale="log")
    assert fig.axes[1].get_yscale() == "log"
    with pytest.raises(ValueError, match="loss_scale"):
        charts.plot_history(HISTORY, loss_scale="sqrt")


@pytest.mark.parametrize("bad", [{}, {"precision": [0.1]}, [0.5, 0.6]])
def test_plot_history_rejects_empty_or_unknown(bad):
    with pytest.raises(ValueError):
        charts.plot_history(bad)


# -- plot_confusion_matrix ----------------------------------------------------------

def test_plot_confusion_matrix_annotates_counts():
    fig = charts.plot_confusion_matrix(np.array([[40, 10], [5, 45]]), ("cats", "dogs"), title="test")
    ax = fig.axes[0]
    texts = [text.get_text() for text in ax.texts]
    assert "40\n(80%)" in texts and "5\n(10%)" in texts
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cats", "dogs"]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"


@pytest.mark.parametrize("cm, names", [(np.zeros((2, 3)), ("a", "b")), (np.eye(2), ("a",)),
                                       (-np.eye(2), ("a", "b"))])
def test_plot_confusion_matrix_rejects_bad_input(cm, names):
    with pytest.raises(ValueError):
        charts.plot_confusion_matrix(cm, names)


# -- plot_predictions ---------------------------------------------------------------

def test_prediction_title_uses_class_names():
    assert plots.prediction_title(1, 0.31) == "true: dog · predicted: cat (P(dog) = 0.31)"
    assert plots.prediction_title(0, 0.2) == "true: cat · predicted: cat (P(dog) = 0.20)"


def test_plot_predictions_colours_mistakes():
    images = np.zeros((3, 8, 8, 3), np.uint8)
    fig = plots.plot_predictions(images, [1, 0, 0], [0.31, 0.2, 0.9])
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert titled[0].get_title() == "true: dog · predicted: cat\n(P(dog) = 0.31)"
    colours = [ax.title.get_color() for ax in titled]
    assert colours == [plots.MISTAKE_COLOUR, plots.CORRECT_COLOUR, plots.MISTAKE_COLOUR]


@pytest.mark.parametrize("y, p", [([0, 1], [0.1, 0.2, 0.3]), ([0, 2, 1], [0.1, 0.2, 0.3]),
                                  ([0, 1, 1], [0.1, 1.5, 0.3])])
def test_plot_predictions_rejects_bad_input(y, p):
    with pytest.raises(ValueError):
        plots.plot_predictions(np.zeros((3, 4, 4, 3)), y, p)

