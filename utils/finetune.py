"""Reusing a pretrained base (VGG16 or EfficientNet-Lite0) for Dogs vs. Cats: a new
P(dog) head, features computed once, the base cut into a frozen bottom and a top to
fine-tune, the freezing itself, and fast.ai's "7 lines" helper.

Notebook 06 writes the head and the freezing in its cells first; these are the
tested builders it (and notebook 07) reuse afterwards. Each step works on either
backbone: it picks the preprocessing of the backbone it finds in the model
(:func:`utils.transfer.backbone_of`).

Sources: F. Chollet, *Deep Learning with Python*, ch. 5 (feature extraction,
fine-tuning); fast.ai courses v1, ``vgg16.py`` (``Vgg16.finetune``).
"""

from __future__ import annotations

import time

import keras
import numpy as np

from utils import config, lessons, transfer, vgg16
from utils.progress import bar as progress_bar

def _preprocessing_for(model):
    """The preprocessing layer of the backbone ``model`` is built on (VGG16 or EfficientNet-Lite0)."""
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
        From :func:`utils.vgg16.vgg16_base` or :func:`utils.transfer.load_base`. With ``include_top=True`` its ImageNet
        ``predictions`` layer is dropped and fc1/fc2 are kept (fast.ai's
        ``Vgg16.finetune``): ``head`` is then ignored.
    head : {"dense", "pool"}, default "dense"
        ``"dense"``: Flatten → Dense(units, relu) → Dropout; ``"pool"``:
        GlobalAveragePooling2D → Dropout (fewer parameters).
    augmentation : keras.Layer, optional
        E.g. ``lessons.build_augmenter(seed=...)`` (notebook 04); active only in training.
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
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), not {dropout!r}")
    head_stack = lessons.head_layers(head, units=units, dropout=dropout)   # notebook 06's cell; checks head
    has_top = any(layer.name == "predictions" for layer in base.layers)
    if has_top:   # fast.ai's way: keep fc1 and fc2, replace only the 1000-way softmax
        base = keras.Model(base.inputs, base.get_layer("fc2").output, name=base.name + "_fc2")
        head_stack = [layer for layer in head_stack if layer.name in ("head_dropout", "p_dog")]
    base.trainable = trainable_base
    inputs = keras.Input(shape=tuple(base.input_shape[1:]), name="image")
    x = inputs
    if augmentation is not None:
        x = augmentation(x)
    x = _preprocessing_for(base)(x)
    x = base(x, training=False)
    for layer in head_stack:
        x = layer(x)
    outputs = x
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
    return keras.Sequential([keras.Input(shape=tuple(feature_shape)),
                             *lessons.head_layers(head, units=units, dropout=dropout)], name=name)


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
        From :func:`utils.vgg16.vgg16_base` (takes preprocessed images), or a model built
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
        batches = progress_bar(dataset, desc="features", unit="batch")
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
        From :func:`utils.vgg16.vgg16_base` (``include_top=False``) or
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



class DogsCatsVgg16:
    """fast.ai's ``Vgg16`` class in Keras 3: get batches, replace the head, fit.

    Example (the seed's "7 lines")::

        vgg = finetune.DogsCatsVgg16(cfg)          # VGG16 + ImageNet weights
        train_ds = vgg.get_batches("train")
        valid_ds = vgg.get_batches("valid")
        vgg.finetune()                             # 1000 classes → one sigmoid, P(dog)
        history = vgg.fit(train_ds, valid_ds, epochs=1)

    Parameters
    ----------
    cfg : utils.config.Profile, optional
    image_size : tuple of int, optional
        ``(height, width)``; default :func:`utils.vgg16.vgg_image_size`.
    download : bool, default True
        Passed to :func:`utils.vgg16.vgg16_base`.
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
        self.image_size = tuple(image_size or vgg16.vgg_image_size(self.cfg))
        self.backbone = backbone
        if backbone == "vgg16":
            self.base = vgg16.vgg16_base(include_top=False, input_shape=(*self.image_size, 3),
                                   cfg=self.cfg, download=download)
        else:
            self.base = transfer.load_base(backbone, input_shape=(*self.image_size, 3), cfg=self.cfg)
        self.weights_source = self.base.weights_source
        self.model = None

    def get_batches(self, split: str, shuffle=None, batch_size=None):
        """``loading.get_batches`` at this model's image size."""
        from utils import loading

        return loading.get_batches(split, self.image_size, batch_size=batch_size,
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
