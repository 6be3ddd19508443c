"""Every Keras layer the course defines, registered with Keras when this module is imported.

VGG16 and EfficientNet-Lite0 each want their own preprocessing of raw RGB
images in [0, 255] (:func:`utils.vgg16.preprocess`,
:func:`utils.efficientnet_lite.preprocess`). Inside a model that step is a
layer without weights: a subclass of :class:`ImagePreprocessing`. Each is
registered with Keras under its own name (``dogscats>VggPreprocessing``,
``dogscats>LitePreprocessing``), the name a saved ``.keras`` file refers to,
so Keras can rebuild it in a Python that has imported this module.

This module is light on purpose: it imports Keras and nothing of the
networks' code; each layer imports its preprocessing function when it first
runs. :mod:`utils.registration` imports it as soon as Keras is imported in a
Python that imported :mod:`utils`, so plain ``keras.models.load_model`` knows
these layers after ``import utils``. A new layer of the course belongs here.
"""

from __future__ import annotations

import keras


class ImagePreprocessing(keras.layers.Layer):
    """A weightless layer that applies :meth:`preprocess`, a function of the images alone.

    Subclasses define ``preprocess(images)`` as a static method; the output
    has the input's shape.
    """

    @staticmethod
    def preprocess(images):
        raise NotImplementedError("a subclass names its preprocessing function")

    def call(self, inputs):
        return type(self).preprocess(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="dogscats")
class VggPreprocessing(ImagePreprocessing):
    """:func:`utils.vgg16.preprocess` as a layer: RGB in [0, 255] → VGG16's BGR, mean-centred.

    ``(batch, h, w, 3)`` → the same shape, float32. Build it with
    :func:`utils.vgg16.preprocessing_layer`.
    """

    @staticmethod
    def preprocess(images):
        from utils import vgg16

        return vgg16.preprocess(images)


@keras.saving.register_keras_serializable(package="dogscats")
class LitePreprocessing(ImagePreprocessing):
    """:func:`utils.efficientnet_lite.preprocess` as a layer: ``(x − 127) / 128``.

    ``(batch, h, w, 3)`` RGB in [0, 255] → the same shape, float32 in about
    [−1, 1]. Build it with :func:`utils.efficientnet_lite.preprocessing_layer`.
    """

    @staticmethod
    def preprocess(images):
        from utils import efficientnet_lite

        return efficientnet_lite.preprocess(images)
