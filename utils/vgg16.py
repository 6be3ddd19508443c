"""VGG16, the lesson's reference: ImageNet's VGG16 with its weights, its
preprocessing, a layer-by-layer comparison, and ImageNet's cat and dog classes.

Notebook 05 writes ``conv_block``, ``fc_block`` and ``build_vgg16`` in its cells
(exported to :mod:`utils.lessons` by ``#@save``) and checks the result against
``keras.applications``' VGG16 with :func:`compare_models`; the weight files are found by
:mod:`utils.weights`; reusing a base with a new head is :mod:`utils.finetune`.

Sources: K. Simonyan and A. Zisserman, "Very Deep Convolutional Networks for
Large-Scale Image Recognition", ICLR 2015 (arXiv:1409.1556);
``keras.applications.vgg16`` (layer names, weight files, preprocessing);
fast.ai courses v1, ``vgg16.py`` (the ``Vgg16`` class, ``ConvBlock``/``FCBlock``).
"""

from __future__ import annotations

import keras
import numpy as np

from utils import config, custom_layers, weights

#: [0, 255] scale (the "caffe" preprocessing VGG16 was trained with).
IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)

#: VGG16's input size when the ImageNet classifier (fc1, fc2, predictions) is kept.
TOP_INPUT_SHAPE = (224, 224, 3)

#: Parameters of the complete VGG16 (with its 1000-class head).
VGG16_PARAMS = 138_357_544

#: ImageNet class indices that are dog breeds (151 Chihuahua … 268 Mexican hairless)
#: and domestic cats (281 tabby … 285 Egyptian cat).
IMAGENET_DOG_CLASSES = tuple(range(151, 269))
IMAGENET_CAT_CLASSES = tuple(range(281, 286))


def vgg16_base(include_top: bool = False, input_shape=(224, 224, 3), cfg=None, *,
               download: bool = True, name: str = "vgg16"):
    """VGG16 with ImageNet weights, as ``keras.applications.VGG16`` builds it.

    Parameters
    ----------
    include_top : bool, default False
        Keep the ImageNet classifier (fc1, fc2, 1000-way softmax). Then
        ``input_shape`` must be (224, 224, 3).
    input_shape : tuple of int, default (224, 224, 3)
        ``(height, width, 3)``; height and width at least 32 without the top.
    cfg : utils.config.Profile, optional
        Unused (kept for callers that pass it); no profile falls back to
        random weights.
    download : bool, default True
        Try the normal Keras download when no weights file is found locally.
    name : str, default "vgg16"
        The model's name.

    Returns
    -------
    keras.Model
        Takes **preprocessed** images (see :func:`preprocess`), shape
        ``(batch, *input_shape)``. Attributes: ``weights_source``
        (:data:`WEIGHTS_IMAGENET`), ``weights_path`` (the file used),
        ``backbone`` (``"vgg16"``).

    Raises
    ------
    WeightsUnavailableError
        When no weights file is found and the download fails.
    ValueError
        If ``include_top`` is asked with an input shape other than (224, 224, 3),
        or the input shape is too small.
    """
    input_shape = tuple(int(v) for v in input_shape)
    if len(input_shape) != 3 or input_shape[2] != 3:
        raise ValueError(f"input_shape must be (height, width, 3), not {input_shape}")
    if include_top and input_shape != TOP_INPUT_SHAPE:
        raise ValueError(f"with include_top=True VGG16 takes {TOP_INPUT_SHAPE} images, not {input_shape}")
    if min(input_shape[:2]) < 32:
        raise ValueError(f"VGG16 needs images of at least 32x32 pixels, not {input_shape[:2]}")
    model = keras.applications.VGG16(include_top=include_top, weights=None,
                                     input_shape=input_shape, name=name)
    path = weights.load_imagenet_weights(model, include_top, download=download)
    model.weights_source = weights.WEIGHTS_IMAGENET
    model.weights_path = str(path)
    model.backbone = "vgg16"
    return model


# -- preprocessing ------------------------------------------------------------

def preprocess(images):
    """VGG16's preprocessing: RGB → BGR, then subtract ImageNet's mean per channel.

    Parameters
    ----------
    images : numpy.ndarray or tensor, shape (..., 3), float in [0, 255], RGB
        E.g. a batch ``(b, h, w, 3)`` from ``loading.get_batches``.

    Returns
    -------
    numpy.ndarray (for NumPy input) or tensor, float32, same shape
        BGR images centred on ImageNet's mean (roughly in [-124, 152]); the
        input is never modified.

    Raises
    ------
    ValueError
        If the last axis does not hold 3 channels.

    Notes
    -----
    VGG16 was trained in Caffe, which reads images as BGR, so the channels
    are *reversed* (RGB → BGR) before :data:`IMAGENET_MEAN_BGR` is subtracted;
    nothing is scaled. Equal to ``keras.applications.vgg16.preprocess_input``.
    """
    if isinstance(images, (np.ndarray, list, tuple)):
        array = np.asarray(images, dtype=np.float32)
        if array.ndim == 0 or array.shape[-1] != 3:
            raise ValueError(f"expected images with 3 channels on the last axis, got shape {array.shape}")
        bgr = array[..., ::-1]                                   # a reversed view: a copy follows
        return bgr - np.asarray(IMAGENET_MEAN_BGR, dtype=np.float32)
    from keras import ops

    tensor = ops.cast(images, "float32")
    if tensor.shape[-1] != 3:
        raise ValueError(f"expected images with 3 channels on the last axis, got shape {tensor.shape}")
    return ops.flip(tensor, axis=-1) - ops.convert_to_tensor(IMAGENET_MEAN_BGR, dtype="float32")


#: :func:`preprocess` as a Keras layer, defined (and registered) in :mod:`utils.custom_layers`:
#: a saved model holding it loads with plain ``keras.models.load_model`` after ``import utils``.
VggPreprocessing = custom_layers.VggPreprocessing


def preprocessing_layer(name: str = "vgg_preprocessing") -> VggPreprocessing:
    """A :class:`VggPreprocessing` layer, for use inside models (they take raw images)."""
    return VggPreprocessing(name=name)


# -- comparing two builds of a network -------------------------------------------

def compare_models(reference, candidate):
    """Layer-by-layer table of two models: names, output shapes, parameters.

    Layers without weights or outputs of interest (the input layer, dropout)
    are left out, so VGG16 from blocks lines up with ``keras.applications``.

    Returns
    -------
    pandas.DataFrame
        Columns ``layer``, ``reference shape``, ``candidate shape``,
        ``reference params``, ``candidate params``, ``same`` (bool).
    """
    import pandas as pd

    def rows(model):
        return [layer for layer in model.layers
                if type(layer).__name__ not in ("InputLayer", "Dropout")]

    left, right = rows(reference), rows(candidate)
    table = []
    for index in range(max(len(left), len(right))):
        a = left[index] if index < len(left) else None
        b = right[index] if index < len(right) else None
        a_shape = tuple(a.output.shape[1:]) if a is not None else None
        b_shape = tuple(b.output.shape[1:]) if b is not None else None
        a_params = a.count_params() if a is not None else None
        b_params = b.count_params() if b is not None else None
        table.append({
            "layer": a.name if a is not None else b.name,
            "reference shape": a_shape, "candidate shape": b_shape,
            "reference params": a_params, "candidate params": b_params,
            "same": a is not None and b is not None and a.name == b.name
            and a_shape == b_shape and a_params == b_params,
        })
    return pd.DataFrame(table)


# -- ImageNet predictions -----------------------------------------------------

def imagenet_cat_dog_probability(probabilities):
    """Add up ImageNet's cat and dog-breed classes: ``(P(cat classes), P(dog breeds))``.

    Parameters
    ----------
    probabilities : array-like, shape (n, 1000)

    Returns
    -------
    tuple of numpy.ndarray, each shape (n,), float32 in [0, 1]
        Sum over :data:`IMAGENET_CAT_CLASSES` and over :data:`IMAGENET_DOG_CLASSES`.
    """
    probs = np.asarray(probabilities, dtype=np.float32)
    if probs.ndim != 2 or probs.shape[1] != 1000:
        raise ValueError(f"expected ImageNet probabilities of shape (n, 1000), got {probs.shape}")
    return (probs[:, list(IMAGENET_CAT_CLASSES)].sum(axis=1),
            probs[:, list(IMAGENET_DOG_CLASSES)].sum(axis=1))


# -- a new head, features -----------------------------------------------------


#: VGG16's input size under ``sample`` and ``full`` (see :func:`vgg_image_size`).
VGG_IMAGE_SIZE = (128, 128)


def vgg_image_size(cfg=None) -> tuple:
    """Image size ``(height, width)`` of the VGG16 notebooks under a profile.

    ``smoke`` uses 64×64 (fast: it only checks the code); ``sample``
    and ``full`` use :data:`VGG_IMAGE_SIZE` (128×128), not VGG16's native
    224×224: VGG16's cost grows with the pixel count, and 128×128 costs about
    a third (see ``benchmarks/vgg16_speed.py``). It is not the profile's
    ``image_size``, which sizes the from-scratch CNNs (64×64 under ``sample``,
    where they train fastest per minute): at 64×64 VGG16's last block would see
    a 2×2 grid. Change :data:`VGG_IMAGE_SIZE` to trade time for accuracy.
    """
    cfg = cfg or config.current()
    if cfg.name == "smoke":
        return (64, 64)
    return VGG_IMAGE_SIZE

