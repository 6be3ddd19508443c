"""A submission is written atomically as sorted ``id,label`` rows of clipped P(dog); clipping caps a mistake's cost."""

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from utils import charts, submission


def test_clip_probabilities_bounds_and_copy():
    p = np.array([0.0, 0.01, 0.5, 0.99, 1.0], dtype=np.float32)
    before = p.copy()
    clipped = submission.clip_probabilities(p, eps=0.02)
    np.testing.assert_allclose(clipped, [0.02, 0.02, 0.5, 0.98, 0.98], rtol=1e-6)
    assert clipped.dtype == np.float32 and clipped.shape == (5,)
    np.testing.assert_array_equal(p, before)          # the input is unchanged


def test_clip_probabilities_accepts_column_vector():
    assert submission.clip_probabilities(np.array([[0.0], [1.0]])).shape == (2,)


@pytest.mark.parametrize("eps", [0, 0.5, -0.1, 0.7, True, "0.02"])
def test_clip_probabilities_rejects_bad_eps(eps):
    with pytest.raises(ValueError, match="eps"):
        submission.clip_probabilities([0.5], eps=eps)


@pytest.mark.parametrize("bad", [[0.5, np.nan], [1.2], [-0.1], [[0.1, 0.2], [0.3, 0.4]]])
def test_clip_probabilities_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        submission.clip_probabilities(bad)


def test_clipping_caps_the_cost_of_a_confident_mistake():
    y = np.array([1, 0, 1, 1])
    p = np.array([1e-7, 0.01, 0.9, 0.99])           # two confident mistakes
    raw = submission.log_loss(y, p)
    clipped = submission.log_loss(y, submission.clip_probabilities(p))
    assert clipped < raw
    assert submission.worst_case_log_loss(0.02) == pytest.approx(-math.log(0.02))


def test_log_loss_values_floor_and_one_class():
    """Hand-computed values: a certain mistake costs -ln(1e-15), not infinity; one class is fine."""
    assert submission.log_loss([1, 0], [0.8, 0.4]) == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)
    assert submission.log_loss([1], [0.0]) == pytest.approx(-math.log(1e-15), rel=1e-6)
    assert submission.log_loss([0, 0], [0.1, 0.2], floor=0.15) == pytest.approx(
        -(math.log(0.85) + math.log(0.8)) / 2)


def test_log_loss_rejects_bad_labels_and_lengths():
    with pytest.raises(ValueError, match="labels"):
        submission.log_loss([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="2 labels for 3"):
        submission.log_loss([0, 1], [0.1, 0.2, 0.3])


def test_write_submission_format_order_and_clipping(tmp_path):
    ids = np.array([10, 2, 1, 33], dtype=np.int64)
    p_dog = np.array([[0.9], [0.0], [1.0], [0.25]], dtype=np.float32)
    path = submission.write_submission(ids, p_dog, tmp_path / "sub" / "vgg16_finetune_smoke.csv")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "id,label"
    assert lines[1:] == ["1,0.980000", "2,0.020000", "10,0.900000", "33,0.250000"]
    assert not list(path.parent.glob(".*.tmp"))     # no temporary file left behind


def test_write_submission_without_clipping(tmp_path):
    path = submission.write_submission([1, 2], [0.0, 1.0], tmp_path / "s.csv", eps=None)
    assert path.read_text().splitlines()[1:] == ["1,0.000000", "2,1.000000"]


@pytest.mark.parametrize("ids, p_dog, message", [
    ([1, 2, 2], [0.1, 0.2, 0.3], "duplicate"),
    ([1, 2], [0.1, 0.2, 0.3], "2 ids for 3"),
    ([1, 2], [0.1, np.nan], "NaN"),
    ([1, 2], [0.1, 1.5], "\\[0, 1\\]"),
    ([1, 0], [0.1, 0.2], "positive integers"),
    ([1, 2.5], [0.1, 0.2], "positive integers"),
    ([], [], "no ids"),
])
def test_write_submission_refuses_bad_input(tmp_path, ids, p_dog, message):
    path = tmp_path / "s.csv"
    with pytest.raises(ValueError, match=message):
        submission.write_submission(ids, p_dog, path)
    assert not path.exists()


def test_write_submission_replaces_atomically(tmp_path):
    path = tmp_path / "s.csv"
    submission.write_submission([1], [0.5], path)
    with pytest.raises(ValueError):
        submission.write_submission([1, 1], [0.5, 0.5], path)
    assert path.read_text().splitlines() == ["id,label", "1,0.500000"]  # old file intact


def test_clipping_table():
    rows = submission.clipping_table([1, 0], [1e-9, 0.5], eps_values=(None, 0.02))
    assert rows[0]["eps"] == 0 and rows[1]["eps"] == 0.02
    assert rows[1]["log_loss"] < rows[0]["log_loss"]


def test_plot_log_loss_clipping(tmp_path):
    fig = charts.plot_log_loss_clipping(eps=0.02, path=tmp_path / "clip.png")
    ax = fig.axes[0]
    assert ax.get_xlabel().startswith("predicted probability of the wrong answer")
    assert (tmp_path / "clip.png").stat().st_size > 0
    clipped = ax.lines[1].get_ydata()
    assert clipped.max() == pytest.approx(-math.log(0.02), rel=1e-6)
    with pytest.raises(ValueError):
        charts.plot_log_loss_clipping(eps=0.6)
    matplotlib.pyplot.close("all")
