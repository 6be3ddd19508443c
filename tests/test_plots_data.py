"""Notebook 01's chart of image sizes draws two labelled histograms and refuses mismatched input."""

import numpy as np
import pytest

from utils import charts


def test_plot_image_sizes_draws_two_labelled_histograms():
    fig = charts.plot_image_sizes(np.array([200, 200, 500]), np.array([200, 375, 374]), title="sizes")
    assert len(fig.axes) == 2
    assert [ax.get_xlabel() for ax in fig.axes] == ["width (pixels)", "height (pixels)"]
    assert "median 200 px" in fig.axes[0].get_title()


def test_plot_image_sizes_rejects_mismatched_input():
    with pytest.raises(ValueError, match="as many widths as heights"):
        charts.plot_image_sizes([1, 2], [1])
    with pytest.raises(ValueError):
        charts.plot_image_sizes([], [])
