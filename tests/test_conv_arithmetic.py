"""A convolution's output size and parameter count follow notebook 03's formulas; non-integer sizes are refused."""

from __future__ import annotations

import numpy as np
import pytest

from utils import conv_arithmetic


# -- is_integer -----------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    (3, True), (0, True), (-2, True), (np.int64(3), True), (np.uint8(7), True), (np.int32(-1), True),
    (True, False), (False, False), (3.0, False), (np.float32(3), False), ("3", False), (None, False),
])
def test_is_integer_accepts_python_and_numpy_integers_only(value, expected):
    assert conv_arithmetic.is_integer(value) is expected


# -- conv_output_size ---------------------------------------------------------

@pytest.mark.parametrize("n, f, p, s, expected", [
    (32, 3, 0, 1, 30),     # 'valid' 3×3
    (32, 3, 1, 1, 32),     # 'same' 3×3
    (30, 2, 0, 2, 15),     # 2×2 max-pooling
    (227, 11, 0, 4, 55),   # AlexNet's first layer
    (5, 5, 0, 1, 1),       # filter as large as the input
])
def test_conv_output_size_follows_the_formula(n, f, p, s, expected):
    assert conv_arithmetic.conv_output_size(n, f, p, s) == expected


def test_conv_output_size_accepts_numpy_integers():
    assert conv_arithmetic.conv_output_size(np.int64(32), np.int32(3)) == 30


@pytest.mark.parametrize("args, message", [
    ((31, 2, 0, 2), "not an integer"),     # (31 - 2)/2 + 1 = 15.5
    ((3, 5, 0, 1), "does not fit"),
    ((0, 3, 0, 1), "at least 1"),
    ((32, 0, 0, 1), "at least 1"),
    ((32, 3, -1, 1), "0 or more"),
    ((32, 3, 0, 0), "at least 1"),
    ((32.0, 3, 0, 1), "integer"),
    ((32, "3", 0, 1), "integer"),
    ((True, 3, 0, 1), "integer"),
])
def test_conv_output_size_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        conv_arithmetic.conv_output_size(*args)


# -- conv2d_params --------------------------------------------------------------

def test_conv2d_params_of_the_seeds_first_layer():
    assert conv_arithmetic.conv2d_params(3, 3, 32) == 3 * 3 * 3 * 32 + 32 == 896


def test_conv2d_params_rectangular_kernel_without_bias():
    assert conv_arithmetic.conv2d_params((3, 5), 16, 8, use_bias=False) == 3 * 5 * 16 * 8


@pytest.mark.parametrize("args", [(0, 3, 32), (3, 0, 32), (3, 3, -1), ((3, 3, 3), 3, 8), (3.5, 3, 8)])
def test_conv2d_params_rejects_bad_sizes(args):
    with pytest.raises(ValueError):
        conv_arithmetic.conv2d_params(*args)
