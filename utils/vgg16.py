"""VGG16 for Dogs vs. Cats: ImageNet weights (offline-aware), preprocessing,
VGG16 rebuilt from blocks, a new P(dog) head, feature extraction and a small
fast.ai-style helper.

The course's design puts this in ``utils.models``; it lives in its own module
because ``models.py`` holds the MLP and CNN builders.

ImageNet weights are looked for, in this order:

1. ``DOGSCATS_VGG16_WEIGHTS``: the path of a Keras VGG16 ``.h5`` weights file
   (either file of :data:`WEIGHTS_FILES`), or a folder holding one;
2. the Keras cache, ``$KERAS_HOME/models`` (default ``~/.keras/models``), where
   ``keras.applications.VGG16(weights="imagenet")`` keeps its download;
3. the normal Keras download (needs internet access).

When none works, :func:`vgg16_base` raises :class:`WeightsUnavailableError`
(a :class:`utils.config.LessonSkipped`), whose message says which file is
needed, where to get it and where to put it. Notebooks 05–06 then run on
EfficientNet-Lite0 instead (:func:`utils.transfer.choose_backbone`); nothing
ever runs with random weights.

The transfer-learning steps here (:func:`build_classifier`,
:func:`extract_features`, :func:`split_base`, :func:`attach_head`,
:func:`inference_model`) work on either backbone: each picks the
preprocessing of the backbone it finds in the model.

Sources: K. Simonyan and A. Zisserman, "Very Deep Convolutional Networks for
Large-Scale Image Recognition", ICLR 2015 (arXiv:1409.1556);
``keras.applications.vgg16`` (layer names, weight files, preprocessing);
fast.ai courses v1, ``vgg16.py`` (the ``Vgg16`` class, ``ConvBlock``/``FCBlock``).
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import keras
import numpy as np

from utils import config
from utils import efficientnet_lite  # noqa: F401  registers LitePreprocessing, so saved Lite0 models load

#: Environment variable naming a VGG16 weights file (or a folder holding one).
WEIGHTS_ENV = "DOGSCATS_VGG16_WEIGHTS"

#: Per-channel mean of ImageNet's training images, in **BGR** order, on the
#: [0, 255] scale (the "caffe" preprocessing VGG16 was trained with).
IMAGENET_MEAN_BGR = (103.939, 116.779, 123.68)

#: VGG16's input size when the ImageNet classifier (fc1, fc2, predictions) is kept.
TOP_INPUT_SHAPE = (224, 224, 3)

#: Parameters of the complete VGG16 (with its 1000-class head).
VGG16_PARAMS = 138_357_544

#: VGG16's convolutional blocks as ``(n_layers, filters)``: 13 conv layers.
VGG16_BLOCKS = ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))

#: ImageNet class indices that are dog breeds (151 Chihuahua … 268 Mexican hairless)
#: and domestic cats (281 tabby … 285 Egyptian cat).
IMAGENET_DOG_CLASSES = tuple(range(151, 269))
IMAGENET_CAT_CLASSES = tuple(range(281, 286))

#: What the ``weights`` field of a results record says.
WEIGHTS_IMAGENET = "imagenet"


@dataclasses.dataclass(frozen=True)
class WeightsFile:
    """One of Keras's VGG16 weight files.

    Attributes
    ----------
    name : str
        File name, as Keras caches it.
    url : str
        Where Keras downloads it from.
    md5 : str
        Its MD5 hash (as checked by ``keras.utils.get_file``).
    megabytes : int
        Approximate size in MB.
    include_top : bool
        Whether it holds the ImageNet classifier (fc1, fc2, predictions).
    """

    name: str
    url: str
    md5: str
    megabytes: int
    include_top: bool


_URL_ROOT = "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"

#: Keras's VGG16 ImageNet weight files: ``"top"`` (whole network, needed for
#: ImageNet predictions) and ``"notop"`` (convolutional base only).
WEIGHTS_FILES = {
    "top": WeightsFile(
        name="vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        url=_URL_ROOT + "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
        md5="64373286793e3c8b2b4e3219cbf3544b",
        megabytes=553,
        include_top=True,
    ),
    "notop": WeightsFile(
        name="vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        url=_URL_ROOT + "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        md5="6d6bbae143d832006294945121d1f1fc",
        megabytes=59,
        include_top=False,
    ),
}

#: ImageNet's class names, as ``keras.applications.vgg16.decode_predictions`` gets them.
CLASS_INDEX_FILE = WeightsFile(
    name="imagenet_class_index.json",
    url="https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json",
    md5="c2c37ea517e94d9795004a39431a14cb",
    megabytes=1,
    include_top=False,
)


class WeightsUnavailableError(config.LessonSkipped):
    """VGG16's ImageNet weights (or class names) are not on this machine.

    The message says which file is needed, where to get it and where to put it;
    ``make course`` reports the notebook as skipped with it.
    """


def keras_cache_dir() -> Path:
    """The Keras cache of downloaded models: ``$KERAS_HOME/models`` or ``~/.keras/models``."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def _cache_dirs() -> list[Path]:
    """Folders where Keras may have cached a download (it uses /tmp/.keras when home is read-only)."""
    return [keras_cache_dir(), Path("/tmp/.keras/models")]


def _h5_layer_names(path: Path) -> list[str]:
    """Names of the layers stored in a Keras (legacy) ``.h5`` weights file."""
    import h5py

    with h5py.File(path, "r") as handle:
        group = handle["model_weights"] if "model_weights" in handle else handle
        names = group.attrs.get("layer_names")
        if names is None:
            names = list(group.keys())
    return [n.decode("utf8") if isinstance(n, bytes) else str(n) for n in names]


def _file_has_top(path: Path) -> bool:
    try:
        return "predictions" in _h5_layer_names(path)
    except Exception:  # not an h5 file: let loading report it
        return False


def locate_weights(include_top: bool = False) -> Path | None:
    """Find a VGG16 ImageNet weights file on this machine, without any download.

    Parameters
    ----------
    include_top : bool, default False
        True when the ImageNet classifier is needed (only the ``"top"`` file
        has it); False for the convolutional base (either file will do).

    Returns
    -------
    pathlib.Path or None
        The file found, or None.

    Raises
    ------
    WeightsUnavailableError
        If ``DOGSCATS_VGG16_WEIGHTS`` is set but names no usable file (missing,
        or a base-only file when the classifier is needed).
    """
    wanted = [WEIGHTS_FILES["top"]] if include_top else [WEIGHTS_FILES["notop"], WEIGHTS_FILES["top"]]
    named = os.environ.get(WEIGHTS_ENV, "").strip()
    if named:
        path = Path(named).expanduser()
        if path.is_dir():
            for file in wanted:
                if (path / file.name).is_file():
                    return path / file.name
            raise WeightsUnavailableError(_missing_message(include_top, f"{WEIGHTS_ENV}={named} is a folder without {wanted[0].name}"))
        if not path.is_file():
            raise WeightsUnavailableError(_missing_message(include_top, f"{WEIGHTS_ENV}={named} does not exist"))
        if include_top and not _file_has_top(path):
            raise WeightsUnavailableError(_missing_message(
                include_top, f"{WEIGHTS_ENV}={named} holds no ImageNet classifier (it is the 'notop' file?)"))
        return path
    for folder in _cache_dirs():
        for file in wanted:
            if (folder / file.name).is_file():
                return folder / file.name
    return None


def download_weights(include_top: bool = False) -> Path:
    """Download a weights file into the Keras cache, as ``VGG16(weights="imagenet")`` does.

    Returns
    -------
    pathlib.Path
        The downloaded (hash-checked) file.

    Raises
    ------
    Exception
        Whatever ``keras.utils.get_file`` raises when offline.
    """
    file = WEIGHTS_FILES["top" if include_top else "notop"]
    return Path(keras.utils.get_file(file.name, file.url, cache_subdir="models", file_hash=file.md5))


def _missing_message(include_top: bool, reason: str) -> str:
    file = WEIGHTS_FILES["top" if include_top else "notop"]
    extra = "" if include_top else f" (the whole-network file {WEIGHTS_FILES['top'].name} works too)"
    return (
        f"VGG16's ImageNet weights are needed and could not be found or downloaded ({reason}).\n"
        f"  Which file: {file.name} (about {file.megabytes} MB){extra}.\n"
        f"  Where to get it: {file.url}\n"
        f"  Where to put it: {keras_cache_dir()}/ (the Keras cache), or anywhere and set "
        f"{WEIGHTS_ENV}=/path/to/{file.name}\n"
        f"  Then re-run this notebook. (Without them, notebooks 05-06 run on EfficientNet-Lite0, "
        f"whose weights come with pip: DOGSCATS_BACKBONE=efficientnet_lite0.)"
    )


def _load_h5(model, path: Path) -> None:
    """Load a legacy Keras ``.h5`` weights file into ``model`` by layer name."""
    names = set(_h5_layer_names(path))
    missing = [layer.name for layer in model.layers if layer.weights and layer.name not in names]
    if missing:
        raise ValueError(f"{path} holds no weights for layers {missing}")
    model.load_weights(path, by_name=True)


def load_imagenet_weights(model, include_top: bool | None = None, *, download: bool = True) -> Path:
    """Load VGG16's ImageNet weights into ``model`` (matched by layer name).

    Works for ``keras.applications.VGG16`` and for :func:`build_vgg16_from_blocks`
    (same layer names).

    Parameters
    ----------
    model : keras.Model
        A VGG16 with Keras's layer names (``block1_conv1`` … ``predictions``).
    include_top : bool, optional
        Whether the model has the ImageNet classifier (default: detected).
    download : bool, default True
        Try the Keras download when no file is found locally.

    Returns
    -------
    pathlib.Path
        The weights file used.

    Raises
    ------
    WeightsUnavailableError
        If no file is found and the download fails (or is not allowed).
    """
    if include_top is None:
        include_top = any(layer.name == "predictions" for layer in model.layers)
    path = locate_weights(include_top)
    if path is None:
        if not download:
            raise WeightsUnavailableError(_missing_message(include_top, "not in the Keras cache, downloads off"))
        try:
            path = download_weights(include_top)
        except Exception as error:  # offline: URL errors, DNS failures, hash mismatch...
            raise WeightsUnavailableError(
                _missing_message(include_top, f"download failed: {str(error)[-200:]}")
            ) from error
    _load_h5(model, path)
    return path


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
    path = load_imagenet_weights(model, include_top, download=download)
    model.weights_source = WEIGHTS_IMAGENET
    model.weights_path = str(path)
    model.backbone = "vgg16"
    return model


# -- preprocessing ------------------------------------------------------------

def preprocess(images):
    """VGG16's preprocessing: RGB → BGR, then subtract ImageNet's mean per channel.

    Parameters
    ----------
    images : numpy.ndarray or tensor, shape (..., 3), float in [0, 255], RGB
        E.g. a batch ``(b, h, w, 3)`` from ``data.get_batches``.

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


@keras.saving.register_keras_serializable(package="dogscats")
class VggPreprocessing(keras.layers.Layer):
    """:func:`preprocess` as a Keras layer: raw RGB in [0, 255] in, VGG16's BGR, mean-centred out.

    Registered with Keras, so a saved model holding it loads with
    ``keras.models.load_model`` once ``utils.vgg16`` is imported.
    """

    def call(self, inputs):
        return preprocess(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


def preprocessing_layer(name: str = "vgg_preprocessing") -> VggPreprocessing:
    """A :class:`VggPreprocessing` layer, for use inside models (they take raw images)."""
    return VggPreprocessing(name=name)


# -- VGG16 from blocks --------------------------------------------------------

def conv_block(n_layers: int, filters: int, block: int) -> list:
    """One VGG block: ``n_layers`` 3×3 convolutions (ReLU, "same" padding), then 2×2 max pooling.

    The seed's ``ConvBlock`` added ``ZeroPadding2D((1, 1))`` before each
    unpadded convolution (Keras 1, channels first); ``padding="same"`` is the
    same computation. Layer names follow ``keras.applications``
    (``block{block}_conv{i}``, ``block{block}_pool``), so its weights load.

    Parameters
    ----------
    n_layers : int
        Convolutions in the block (2 or 3 in VGG16).
    filters : int
        Filters of each convolution.
    block : int
        Block number, 1-based (names the layers).

    Returns
    -------
    list of keras.layers.Layer
        ``n_layers`` Conv2D and one MaxPooling2D, to add to a ``keras.Sequential``.

    Raises
    ------
    ValueError
        If an argument is not a positive integer.
    """
    for label, value in (("n_layers", n_layers), ("filters", filters), ("block", block)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{label} must be a positive integer, not {value!r}")
    layers = [
        keras.layers.Conv2D(filters, (3, 3), activation="relu", padding="same",
                            name=f"block{block}_conv{i}")
        for i in range(1, n_layers + 1)
    ]
    layers.append(keras.layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{block}_pool"))
    return layers


def fc_block(units: int, name: str, dropout: float = 0.0) -> list:
    """One fully connected block: ``Dense(units, relu)``, optionally followed by ``Dropout``.

    The seed's ``FCBlock`` used ``Dense(4096, relu)`` + ``Dropout(0.5)``;
    ``keras.applications.VGG16`` has no dropout (the default here). Dropout
    holds no weights, so the same weight files load either way.

    Parameters
    ----------
    units : int
        Units of the Dense layer (4096 in VGG16).
    name : str
        Name of the Dense layer (``"fc1"``, ``"fc2"`` in ``keras.applications``).
    dropout : float, default 0.0
        Dropout rate in [0, 1); 0 adds no Dropout layer.

    Returns
    -------
    list of keras.layers.Layer

    Raises
    ------
    ValueError
        If ``units`` is not a positive integer or ``dropout`` is outside [0, 1).
    """
    if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units < 1:
        raise ValueError(f"units must be a positive integer, not {units!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), not {dropout!r}")
    layers = [keras.layers.Dense(units, activation="relu", name=name)]
    if dropout:
        layers.append(keras.layers.Dropout(dropout, name=f"{name}_dropout"))
    return layers


def build_vgg16_from_blocks(include_top: bool = True, input_shape=TOP_INPUT_SHAPE,
                            classes: int = 1000, fc_dropout: float = 0.0,
                            name: str = "vgg16_from_blocks"):
    """VGG16 written out as five :func:`conv_block` and two :func:`fc_block`.

    Channels-last Keras 3, with ``keras.applications.VGG16``'s layer names and
    order, so the same weights load (:func:`load_imagenet_weights`).

    Parameters
    ----------
    include_top : bool, default True
        Add Flatten, fc1, fc2 and the ``classes``-way softmax ``predictions``.
    input_shape : tuple of int, default (224, 224, 3)
    classes : int, default 1000
    fc_dropout : float, default 0.0
        Dropout after fc1 and fc2 (the seed used 0.5).
    name : str

    Returns
    -------
    keras.Sequential
        Uncompiled; takes preprocessed images. 138,357,544 parameters with the
        top and 1000 classes.
    """
    layers = [keras.Input(shape=tuple(input_shape))]
    for block, (n_layers, filters) in enumerate(VGG16_BLOCKS, start=1):
        layers += conv_block(n_layers, filters, block=block)
    if include_top:
        layers.append(keras.layers.Flatten(name="flatten"))
        layers += fc_block(4096, name="fc1", dropout=fc_dropout)
        layers += fc_block(4096, name="fc2", dropout=fc_dropout)
        layers.append(keras.layers.Dense(classes, activation="softmax", name="predictions"))
    return keras.Sequential(layers, name=name)


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

def decode_top_classes(probabilities, top: int = 3, cfg=None):
    """ImageNet's top classes for each image, named offline: see :func:`utils.transfer.decode_top_classes`.

    Parameters
    ----------
    probabilities : array-like, shape (n, 1000), float in [0, 1]
        VGG16's (or any ImageNet classifier's) softmax output.
    top : int, default 3
    cfg : utils.config.Profile, optional
        Unused (kept for callers that pass it).

    Returns
    -------
    list of list of (str, float)
        For each image, ``top`` pairs (class name, probability), most likely first.

    Raises
    ------
    ValueError
        If ``probabilities`` is not (n, 1000).
    """
    from utils import transfer

    return [[(name, p) for _, name, p in row] for row in transfer.decode_top_classes(probabilities, top)]


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

def _preprocessing_for(model):
    """The preprocessing layer of the backbone ``model`` is built on (VGG16 or EfficientNet-Lite0)."""
    from utils import transfer

    return transfer.preprocessing_layer(transfer.backbone_of(model))


def build_classifier(base, head: str = "dense", *, augmentation=None, units: int = 256,
                     dropout: float = 0.5, trainable_base: bool = False, name: str = "vgg16_classifier"):
    """Replace a pretrained network's 1000-class head with one sigmoid unit, P(dog).

    The model takes raw RGB images in [0, 255] and does its own preprocessing
    (the backbone's: VGG16's or EfficientNet-Lite0's):
    ``Input → [augmentation] → preprocessing → base → head → Dense(1, sigmoid)``.

    Parameters
    ----------
    base : keras.Model
        From :func:`vgg16_base` or :func:`utils.transfer.load_base`. With ``include_top=True`` its ImageNet
        ``predictions`` layer is dropped and fc1/fc2 are kept (fast.ai's
        ``Vgg16.finetune``): ``head`` is then ignored.
    head : {"dense", "pool"}, default "dense"
        ``"dense"``: Flatten → Dense(units, relu) → Dropout; ``"pool"``:
        GlobalAveragePooling2D → Dropout (fewer parameters).
    augmentation : keras.Layer, optional
        E.g. ``augmentation.augmentation(seed=...)``; active only in training.
    units : int, default 256
    dropout : float, default 0.5
    trainable_base : bool, default False
        Sets ``base.trainable`` (freeze it to train the head only).
    name : str
        The model's name (a model id, e.g. ``"vgg16_frozen_aug"``).

    Returns
    -------
    keras.Model
        Uncompiled; output shape ``(batch, 1)``, P(dog). Attribute
        ``weights_source`` copied from ``base``.

    Raises
    ------
    ValueError
        If ``head`` is unknown or ``dropout`` outside [0, 1).
    """
    if head not in ("dense", "pool"):
        raise ValueError(f"head must be 'dense' or 'pool', not {head!r}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), not {dropout!r}")
    has_top = any(layer.name == "predictions" for layer in base.layers)
    if has_top:
        base = keras.Model(base.inputs, base.get_layer("fc2").output, name=base.name + "_fc2")
    base.trainable = trainable_base
    inputs = keras.Input(shape=tuple(base.input_shape[1:]), name="image")
    x = inputs
    if augmentation is not None:
        x = augmentation(x)
    x = _preprocessing_for(base)(x)
    x = base(x, training=False)
    if not has_top:
        if head == "dense":
            x = keras.layers.Flatten(name="flatten")(x)
            x = keras.layers.Dense(units, activation="relu", name="head_dense")(x)
        else:
            x = keras.layers.GlobalAveragePooling2D(name="head_pool")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="p_dog")(x)
    model = keras.Model(inputs, outputs, name=name)
    model.weights_source = getattr(base, "weights_source", None)
    return model


def build_feature_head(feature_shape, units: int = 256, dropout: float = 0.5,
                       name: str = "vgg16_features_head", head: str = "dense"):
    """The head trained on precomputed features (feature extraction).

    Parameters
    ----------
    feature_shape : tuple of int
        Shape of one feature map, e.g. ``(4, 4, 512)`` for VGG16 at 128×128.
    units : int, default 256
    dropout : float, default 0.5
    name : str
    head : {"dense", "pool"}, default "dense"
        As in :func:`build_classifier`: ``"pool"`` averages each feature map
        (GlobalAveragePooling2D) instead of a dense layer.

    Returns
    -------
    keras.Model
        Uncompiled: Flatten → Dense(units, relu) → Dropout → Dense(1, sigmoid),
        or GlobalAveragePooling2D → Dropout → Dense(1, sigmoid).

    Raises
    ------
    ValueError
        If ``head`` is unknown.
    """
    if head == "dense":
        middle = [keras.layers.Flatten(name="flatten"),
                  keras.layers.Dense(units, activation="relu", name="head_dense")]
    elif head == "pool":
        middle = [keras.layers.GlobalAveragePooling2D(name="head_pool")]
    else:
        raise ValueError(f"head must be 'dense' or 'pool', not {head!r}")
    return keras.Sequential([
        keras.Input(shape=tuple(feature_shape)), *middle,
        keras.layers.Dropout(dropout, name="head_dropout"),
        keras.layers.Dense(1, activation="sigmoid", name="p_dog"),
    ], name=name)


def feature_extractor(base, name: str = "vgg16_feature_extractor"):
    """``Input(raw images) → the backbone's preprocessing → base``: raw images in, features out."""
    inputs = keras.Input(shape=tuple(base.input_shape[1:]), name="image")
    outputs = base(_preprocessing_for(base)(inputs), training=False)
    return keras.Model(inputs, outputs, name=name)


def extract_features(base, dataset, progress: bool = False):
    """Run VGG16's convolutional base once over a dataset.

    Parameters
    ----------
    base : keras.Model
        From :func:`vgg16_base` (takes preprocessed images), or a model built
        by :func:`feature_extractor` (takes raw images: detected by its
        preprocessing layer).
    dataset : tf.data.Dataset or iterable
        Batches of ``(images, labels)`` or of images only; images float32
        ``(b, h, w, 3)`` in [0, 255].
    progress : bool, default False
        Show a tqdm progress bar.

    Returns
    -------
    features : numpy.ndarray, shape (n, h', w', 512), float32
        E.g. (n, 4, 4, 512) for 128×128 images (h' = h // 32).
    labels : numpy.ndarray, shape (n,), int32, or None
        0 = cat, 1 = dog; None for an unlabelled dataset.
    seconds : float
        Wall time taken.
    """
    has_preprocessing = any(layer.name.endswith("_preprocessing") for layer in base.layers)
    extractor = base if has_preprocessing else feature_extractor(base)
    features, labels = [], []
    start = time.perf_counter()
    batches = dataset
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(dataset, desc="features", unit="batch")
    for batch in batches:
        if isinstance(batch, (tuple, list)):
            images, y = batch[0], batch[1]
            labels.append(np.asarray(y).reshape(-1).astype(np.int32))
        else:
            images = batch
        features.append(np.asarray(extractor.predict_on_batch(np.asarray(images)), dtype=np.float32))
    seconds = time.perf_counter() - start
    if not features:
        raise ValueError("the dataset is empty")
    return np.concatenate(features), (np.concatenate(labels) if labels else None), seconds


def split_base(base, at: str = "block4_pool"):
    """Cut a pretrained base in two: the frozen bottom and the top layers to fine-tune.

    The bottom's output never changes while only the top trains, so it can be
    computed once (:func:`extract_features`) and the top trained on it: the
    same computation as training the whole network with a frozen bottom, for
    a fraction of the cost (without augmentation, which would change it).

    Parameters
    ----------
    base : keras.Model
        From :func:`vgg16_base` (``include_top=False``) or
        :func:`utils.transfer.load_base`. Networks with branches (the residual
        additions of EfficientNet-Lite0) are cut too, provided nothing after
        ``at`` reads a tensor from before it.
    at : str, default "block4_pool"
        The last layer of the bottom (see :data:`utils.transfer.SPLIT_AT`).

    Returns
    -------
    bottom : keras.Model
        Preprocessed images → output of ``at`` (e.g. (8, 8, 512) for VGG16 at 128×128).
    top : keras.Model
        Output of ``at`` → the base's output (VGG16's block 5 by default). Its
        layers *are* the base's layers: training ``top`` changes ``base``.

    Raises
    ------
    ValueError
        If ``at`` names no layer of ``base``, or its last layer, or a point the
        graph cannot be cut at.
    """
    names = [layer.name for layer in base.layers]
    if at not in names or names.index(at) == len(names) - 1:
        raise ValueError(f"cannot split {base.name} at {at!r}: pick one of {names[1:-1]}")
    cut = base.get_layer(at).output
    bottom = keras.Model(base.inputs, cut, name=f"{base.name}_to_{at}")
    try:
        after = keras.Model(cut, base.outputs[0], name=f"{base.name}_after_{at}_layers")
    except Exception as error:        # a later layer reads a tensor from before the cut
        raise ValueError(f"cannot split {base.name} at {at!r}: {error}") from error
    inputs = keras.Input(shape=tuple(cut.shape[1:]), name=f"{at}_features")
    return bottom, keras.Model(inputs, after(inputs), name=f"{base.name}_after_{at}")


def attach_head(top, classifier, name: str = "vgg16_top_and_head"):
    """``top`` (from :func:`split_base`) followed by the head of a :func:`build_classifier` model.

    The layers are shared, not copied: training the result trains
    ``classifier`` too, so the classifier (raw images in) is the fine-tuned model.

    Returns
    -------
    keras.Model
        Features of the split layer in, P(dog) ``(batch, 1)`` out. Uncompiled.
    """
    # the base is the last nested model (an augmentation Sequential may come before it)
    nested = [i for i, layer in enumerate(classifier.layers) if isinstance(layer, keras.Model)]
    index = nested[-1] if nested else None
    if index is None:
        raise ValueError(f"{classifier.name} holds no VGG16 base: build it with build_classifier")
    x = top.outputs[0]
    for layer in classifier.layers[index + 1:]:
        x = layer(x)
    return keras.Model(top.inputs, x, name=name)


def inference_model(classifier, name: str | None = None):
    """The same model without its augmentation layers, for saving and predicting.

    Augmentation is inactive at inference anyway; leaving it out of the saved
    file also avoids a Keras 3 bug: a saved ``RandomShear`` cannot be loaded
    back (``keras.models.load_model`` rejects the factor range it wrote).

    Parameters
    ----------
    classifier : keras.Model
        From :func:`build_classifier`, augmentation or not.
    name : str, optional
        The new model's name (default: the classifier's).

    Returns
    -------
    keras.Model
        Raw images in [0, 255] in, P(dog) out; shares every layer (and so
        every weight) with ``classifier``.
    """
    nested = [i for i, layer in enumerate(classifier.layers) if isinstance(layer, keras.Model)]
    if not nested:
        raise ValueError(f"{classifier.name} holds no VGG16 base: build it with build_classifier")
    base_index = nested[-1]
    inputs = keras.Input(shape=tuple(classifier.input_shape[1:]), name="image")
    x = inputs
    for index, layer in enumerate(classifier.layers):
        if index == 0 or (index in nested and index != base_index):
            continue                       # the input layer, and augmentation Sequentials
        x = layer(x)
    return keras.Model(inputs, x, name=name or classifier.name)


def set_trainable_blocks(base, blocks=(5,)) -> int:
    """Unfreeze the convolutional blocks ``blocks`` of ``base``, freeze the rest.

    Recompile every model using ``base`` afterwards: Keras reads ``trainable``
    when a model is compiled.

    Returns
    -------
    int
        Number of trainable parameters of ``base`` afterwards.
    """
    prefixes = tuple(f"block{b}_" for b in blocks)
    base.trainable = True
    for layer in base.layers:
        layer.trainable = layer.name.startswith(prefixes)
    return int(sum(np.prod(w.shape) for w in base.trainable_weights))


def vgg_image_size(cfg=None) -> tuple:
    """Image size ``(height, width)`` of the VGG16 notebooks under a profile.

    ``smoke`` uses 64×64 (fast: it only checks the code); ``sample``
    and ``full`` use ``cfg.image_size`` (128×128), not VGG16's native
    224×224: VGG16's cost grows with the pixel count, and 128×128 costs about
    a third (see ``benchmarks/vgg16_speed.py``). Change it here to trade
    time for accuracy.
    """
    cfg = cfg or config.current()
    if cfg.name == "smoke":
        return (64, 64)
    return tuple(cfg.image_size)


# -- the "7 lines" helper -----------------------------------------------------

class DogsCatsVgg16:
    """fast.ai's ``Vgg16`` class in Keras 3: get batches, replace the head, fit.

    Example (the seed's "7 lines")::

        vgg = vgg16.DogsCatsVgg16(cfg)             # VGG16 + ImageNet weights
        train_ds = vgg.get_batches("train")
        valid_ds = vgg.get_batches("valid")
        vgg.finetune()                             # 1000 classes → one sigmoid, P(dog)
        history = vgg.fit(train_ds, valid_ds, epochs=1)

    Parameters
    ----------
    cfg : utils.config.Profile, optional
    image_size : tuple of int, optional
        ``(height, width)``; default :func:`vgg_image_size`.
    download : bool, default True
        Passed to :func:`vgg16_base`.
    backbone : str, default "vgg16"
        ``"efficientnet_lite0"`` runs the same lines on EfficientNet-Lite0
        (:func:`utils.transfer.load_base`; its head is then pooled).

    Attributes
    ----------
    base : keras.Model
        The pretrained convolutional base (ImageNet weights).
    model : keras.Model or None
        The classifier, once :meth:`finetune` has run.
    weights_source : str
    backbone : str
    """

    def __init__(self, cfg=None, image_size=None, download: bool = True, backbone: str = "vgg16"):
        self.cfg = cfg or config.current()
        self.image_size = tuple(image_size or vgg_image_size(self.cfg))
        self.backbone = backbone
        if backbone == "vgg16":
            self.base = vgg16_base(include_top=False, input_shape=(*self.image_size, 3),
                                   cfg=self.cfg, download=download)
        else:
            from utils import transfer

            self.base = transfer.load_base(backbone, input_shape=(*self.image_size, 3), cfg=self.cfg)
        self.weights_source = self.base.weights_source
        self.model = None

    def get_batches(self, split: str, shuffle=None, batch_size=None):
        """``data.get_batches`` at this model's image size."""
        from utils import data

        return data.get_batches(split, self.image_size, batch_size=batch_size,
                                shuffle=shuffle, cfg=self.cfg)

    def finetune(self, learning_rate: float = 1e-3, name: str = "vgg16_punchline"):
        """Freeze the base, replace the 1000-class head by P(dog), compile (Adam, binary cross-entropy)."""
        head = "dense" if self.backbone == "vgg16" else "pool"
        self.model = build_classifier(self.base, head=head, name=name)
        self.model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                           loss="binary_crossentropy", metrics=["accuracy"])
        return self.model

    def fit(self, train_ds, valid_ds, epochs: int = 1, verbose: int = 2):
        """Train the new head; returns the Keras ``History``."""
        if self.model is None:
            self.finetune()
        return self.model.fit(train_ds, validation_data=valid_ds, epochs=epochs, verbose=verbose,
                              shuffle=False)  # the dataset shuffles itself
