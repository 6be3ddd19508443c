"""The arithmetic of a convolution layer, which notebook 03 first works out by hand.

:func:`conv_output_size` gives the side of a convolution's or pooling's output,
:func:`conv2d_params` the trainable parameters of a ``Conv2D`` layer; notebook
03 computes both in a cell, then checks its models against them. Also here:
:func:`is_integer`, the rule for "an integer" both use to check their arguments.

Pure Python: nothing here imports Keras or NumPy.
"""

from __future__ import annotations


def is_integer(value) -> bool:
    """True for a Python ``int`` or a NumPy integer (``numpy.int64(3)``); False for ``bool``.

    ``True`` is an ``int`` in Python, but an image side or a filter count of
    ``True`` is a bug, so it is refused. NumPy integers are recognised by their
    type name and ``__index__``, without importing NumPy.
    """
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return type(value).__name__.startswith(("int", "uint")) and hasattr(value, "__index__")


def conv_output_size(n: int, f: int, p: int = 0, s: int = 1) -> int:
    """Side of a convolution's (or pooling's) output: ``(N − F + 2P) / S + 1``.

    Parameters
    ----------
    n : int
        Side of the input in pixels (height or width), ≥ 1.
    f : int
        Side of the filter (kernel or pooling window), 1 ≤ f ≤ n + 2p.
    p : int, default 0
        Zero padding added on each side (Keras ``padding="valid"`` is 0;
        ``"same"`` with stride 1 is ``(f - 1) / 2``).
    s : int, default 1
        Stride, ≥ 1.

    Returns
    -------
    int
        Side of the output in pixels.

    Raises
    ------
    ValueError
        If an argument is not an integer or out of range, or if the filter does
        not tile the input exactly (``(N − F + 2P)`` not divisible by ``S``).
        Keras would silently drop the last rows; the formula says the
        hyper-parameters do not fit.

    Notes
    -----
    Source: CS231n, "Convolutional Neural Networks: Architectures, Convolution
    / Pooling Layers", section "Spatial arrangement".

    Examples
    --------
    >>> conv_output_size(32, 3)          # 3×3 'valid' convolution
    30
    >>> conv_output_size(32, 3, p=1)     # 'same' padding keeps the size
    32
    >>> conv_output_size(30, 2, s=2)     # 2×2 max-pooling halves it
    15
    """
    for name, value in (("n", n), ("f", f), ("p", p), ("s", s)):
        if not is_integer(value):
            raise ValueError(f"{name} must be an integer, not {value!r}")
    n, f, p, s = int(n), int(f), int(p), int(s)
    if n < 1:
        raise ValueError(f"input size n must be at least 1, not {n}")
    if f < 1:
        raise ValueError(f"filter size f must be at least 1, not {f}")
    if p < 0:
        raise ValueError(f"padding p must be 0 or more, not {p}")
    if s < 1:
        raise ValueError(f"stride s must be at least 1, not {s}")
    span = n - f + 2 * p
    if span < 0:
        raise ValueError(f"a {f}×{f} filter does not fit in {n} pixels with padding {p}")
    if span % s:
        raise ValueError(
            f"(N − F + 2P)/S + 1 = ({n} − {f} + 2·{p})/{s} + 1 = {span / s + 1:g} is not "
            "an integer: the filter does not tile the input with this stride"
        )
    return span // s + 1


def conv2d_params(kernel_size, in_channels: int, filters: int, use_bias: bool = True) -> int:
    """Trainable parameters of a ``Conv2D`` layer: ``k_h·k_w·C_in·filters (+ filters)``.

    Parameters
    ----------
    kernel_size : int or tuple of two int
        Side of a square kernel, or ``(height, width)``.
    in_channels : int
        Channels of the input (3 for RGB images, else the previous layer's filters).
    filters : int
        Number of filters (output channels).
    use_bias : bool, default True
        Whether each filter has a bias.

    Returns
    -------
    int
        E.g. ``conv2d_params(3, 3, 32) == 3·3·3·32 + 32 == 896``.

    Raises
    ------
    ValueError
        If a size is not a positive integer.
    """
    sizes = (kernel_size, kernel_size) if not isinstance(kernel_size, (tuple, list)) else tuple(kernel_size)
    if len(sizes) != 2:
        raise ValueError(f"kernel_size must be an int or (height, width), not {kernel_size!r}")
    for name, value in (("kernel height", sizes[0]), ("kernel width", sizes[1]),
                        ("in_channels", in_channels), ("filters", filters)):
        if not is_integer(value) or value < 1:
            raise ValueError(f"{name} must be a positive integer, not {value!r}")
    weights = int(sizes[0]) * int(sizes[1]) * int(in_channels) * int(filters)
    return weights + (int(filters) if use_bias else 0)
