"""The course's own Keras layers: one base for the preprocessing layers, and their registration.

VGG16 and EfficientNet-Lite0 each want their own preprocessing of raw RGB
images in [0, 255] (:func:`utils.vgg16.preprocess`,
:func:`utils.efficientnet_lite.preprocess`). Inside a model that step is a
layer without weights: a subclass of :class:`ImagePreprocessing` that names its
function. Each subclass is registered with Keras under its own name
(``dogscats>VggPreprocessing``, ``dogscats>LitePreprocessing``), the name a
saved ``.keras`` file refers to; :func:`register_all` defines them all,
and :func:`utils.predict.load_model` calls it before loading.
"""

from __future__ import annotations

import keras


class ImagePreprocessing(keras.layers.Layer):
    """A weightless layer that applies ``preprocess``, a function of the images alone.

    Subclasses set ``preprocess = staticmethod(function)``; the output has the
    input's shape.
    """

    preprocess = None

    def call(self, inputs):
        return type(self).preprocess(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


def register_all() -> None:
    """Register every layer the course defines with Keras, so that saved models holding one load.

    Importing :mod:`utils.vgg16` and :mod:`utils.efficientnet_lite` defines
    (and so registers) ``VggPreprocessing`` and ``LitePreprocessing``.
    """
    from utils import efficientnet_lite, vgg16  # noqa: F401
