"""Grad-CAM: where in the photo a convolutional network looked.

Method: R. R. Selvaraju, M. Cogswell, A. Das, R. Vedantam, D. Parikh, D. Batra,
"Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
Localization", ICCV 2017 (arXiv:1610.02391). For a class score ``y`` and the
``K`` feature maps ``A^k`` of a convolutional layer, each map's weight is the
average gradient ``α_k = mean_ij ∂y/∂A^k_ij``; the heatmap is
``ReLU(Σ_k α_k A^k)``, here scaled to [0, 1].

Our models end in one sigmoid unit, P(dog). The class score used is the
*logit* before the sigmoid (``z`` for "dog", ``-z`` for "cat"), as the paper
uses the score before the softmax: the gradient of a saturated probability
(P(dog) = 0.9999) vanishes, the logit's does not.
"""

from __future__ import annotations

import warnings

import numpy as np

from utils import lessons


def _walk(layer, path=()):
    """Every layer inside ``layer`` (depth first, in order), with the models containing it."""
    for child in getattr(layer, "layers", []) or []:
        yield child, path + (layer,)
        yield from _walk(child, path + (layer,))


#: The coarsest map Grad-CAM reads by default, in cells a side: a heatmap of 2×2 or 4×4 cells
#: (the last convolution of a small CNN on 64×64 photos) cannot say *where* in the photo.
MIN_GRID = 12


def _grid(layer):
    """The side of ``layer``'s output map in cells (its smaller one), or None when unknown."""
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):
        return None
    sides = [side for side in shape[1:3] if side is not None]
    return min(sides) if len(sides) == 2 else None


def find_layer(model, layer_name=None, min_grid=None):
    """The layer Grad-CAM reads: ``layer_name``, or the last ``Conv2D`` (nested models included).

    With ``min_grid`` (e.g. :data:`MIN_GRID`), the last ``Conv2D`` whose map
    is at least that many cells a side: a small CNN's last map on 64×64
    photos is 4×4, too coarse to say where it looked. When no convolution's
    map is that large, the last ``Conv2D`` is used.

    Raises
    ------
    ValueError
        If no layer has that name, or the model has no ``Conv2D`` layer.
    """
    import keras

    layers = [layer for layer, _ in _walk(model)]
    if layer_name is not None:
        for layer in layers:
            if layer.name == layer_name:
                return layer
        raise ValueError(f"no layer named {layer_name!r} in model {model.name!r}; "
                         f"its layers: {', '.join(layer.name for layer in layers)}")
    convs = [layer for layer in layers if isinstance(layer, keras.layers.Conv2D)]
    if not convs:
        raise ValueError(f"model {model.name!r} has no Conv2D layer: Grad-CAM needs one")
    fine = [layer for layer in convs if (_grid(layer) or 0) >= (min_grid or 0)]
    return fine[-1] if fine else convs[-1]


def _output_layer(model):
    """The last layer of the model (descending into a nested model that ends it)."""
    layer = model
    while getattr(layer, "layers", None):
        layer = layer.layers[-1]
    return layer


class _Hook:
    """Temporarily make ``target`` record (or replace) its output and the final sigmoid linear.

    While ``inject`` is None, ``target`` runs as usual and its output is kept in
    ``captured``; once ``inject`` is set, ``target`` returns ``inject`` instead,
    so the rest of the model becomes a function of the feature maps alone, whose
    gradient every backend can take (the two-model split of *Deep Learning with
    Python*, 3rd ed., ch. 10, done without rebuilding the model).
    """

    def __init__(self, target, last):
        import keras

        self.target, self.last = target, last
        self.captured = None
        self.inject = None
        self.swap = getattr(last, "activation", None) is keras.activations.sigmoid
        self.original_call = target.call

    def __enter__(self):
        import keras

        original = self.original_call

        def recording_call(*args, **kwargs):
            if self.inject is not None:
                return self.inject
            output = original(*args, **kwargs)
            self.captured = output
            return output

        object.__setattr__(self.target, "call", recording_call)
        if self.swap:
            object.__setattr__(self.last, "activation", keras.activations.linear)
        return self

    def __exit__(self, *exc):
        import keras

        object.__delattr__(self.target, "call")
        if self.swap:
            object.__setattr__(self.last, "activation", keras.activations.sigmoid)
        return False


def gradcam_heatmap(model, image, layer_name=None, class_index=None) -> np.ndarray:
    """Grad-CAM heatmap of one image (Selvaraju et al. 2017), on any Keras 3 backend.

    Parameters
    ----------
    model : keras.Model
        Takes ``(batch, h, w, 3)`` float32 in [0, 255] and returns ``(batch, 1)``
        P(dog) (a Sequential CNN with a ``Rescaling`` layer, or a classifier with
        a nested VGG16 base: both work).
    image : array-like, shape (h, w, 3) or (1, h, w, 3)
        float in [0, 255], the model's input size.
    layer_name : str, optional
        Convolutional layer to explain (default: the last ``Conv2D``, searched
        inside nested models too, e.g. ``block5_conv3`` of VGG16); see
        :func:`find_layer` to pick one by its grid.
    class_index : {None, 0, 1}
        Class to explain: 0 cat, 1 dog, None the predicted class.

    Returns
    -------
    numpy.ndarray, shape (h', w'), float32 in [0, 1]
        ``(h', w')`` is the chosen layer's spatial size; 1 marks where the
        evidence for the class is strongest. All zeros when no location
        supports the class.

    Raises
    ------
    ValueError
        Bad image shape, unknown layer, a model without Conv2D, a class index
        other than 0/1, or an output that is not ``(1, 1)``.
    """
    from keras import ops

    array = np.asarray(image, dtype=np.float32)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[0] != 1 or array.shape[-1] != 3:
        raise ValueError(f"image must be (h, w, 3) or (1, h, w, 3), not {np.shape(image)}")
    if class_index not in (None, 0, 1):
        raise ValueError(f"class_index must be None, 0 (cat) or 1 (dog), not {class_index!r}")
    target = find_layer(model, layer_name)
    last = _output_layer(model)
    inputs = ops.convert_to_tensor(array)
    with _Hook(target, last) as hook, warnings.catch_warnings():
        # a model saved with inputs=[x] warns about getting one array: harmless
        warnings.filterwarnings("ignore", message="The structure of `inputs`")
        output = model(inputs, training=False)
        if hook.captured is None:
            raise ValueError(f"layer {target.name!r} was not used when the model ran")
        if tuple(output.shape) != (1, 1):
            raise ValueError(f"expected one output per image, got shape {tuple(output.shape)}")
        first = output[0, 0] if hook.swap else _logit(output[0, 0])
        if class_index is None:
            class_index = int(float(ops.convert_to_numpy(first)) >= 0.0)
        sign = 1.0 if class_index == 1 else -1.0

        def score(feature_maps):
            hook.inject = feature_maps
            out = model(inputs, training=False)[0, 0]
            return sign * (out if hook.swap else _logit(out))

        feature_maps = hook.captured
        _, gradients = lessons.value_and_grad(score, feature_maps)   # notebook 07's cell
    if gradients is None:
        raise ValueError(f"the output does not depend on layer {target.name!r}")
    maps = ops.convert_to_numpy(feature_maps).astype(np.float32)
    weights = ops.convert_to_numpy(gradients).astype(np.float32).mean(axis=(1, 2))  # (1, K): α_k
    cam = np.maximum((maps * weights[:, None, None, :]).sum(axis=-1)[0], 0.0).astype(np.float32)
    peak = float(cam.max())
    return cam / peak if peak > 0 else np.zeros_like(cam)


def _logit(p):
    """log(p / (1 - p)), for models whose last layer is not a sigmoid Dense/Activation."""
    from keras import ops

    p = ops.clip(p, 1e-7, 1 - 1e-7)
    return ops.log(p) - ops.log1p(-p)


def overlay(image, heatmap, alpha=0.4, colormap="jet") -> np.ndarray:
    """The heatmap, resized to the image (bilinear) and coloured, blended over it.

    Parameters
    ----------
    image : array-like, shape (h, w, 3), float in [0, 255] or uint8
    heatmap : array-like, shape (h', w'), float in [0, 1]
    alpha : float in [0, 1]
        Weight of the heatmap's colour.

    Returns
    -------
    numpy.ndarray, shape (h, w, 3), uint8
    """
    import matplotlib
    from keras import ops

    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], not {alpha}")
    image = np.asarray(image, dtype=np.float32)
    heat = np.asarray(heatmap, dtype=np.float32)
    if image.ndim != 3 or heat.ndim != 2:
        raise ValueError(f"image (h, w, 3) and heatmap (h', w') expected, not {image.shape}, {heat.shape}")
    big = ops.convert_to_numpy(ops.image.resize(heat[..., None], image.shape[:2],
                                                interpolation="bilinear"))[..., 0]
    colours = matplotlib.colormaps[colormap](np.clip(big, 0, 1))[..., :3] * 255.0
    blended = (1 - alpha) * image + alpha * colours
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)
