"""Builders of the course's from-scratch models, for reuse after a notebook has shown them.

Notebook 02 writes its MLP layer by layer in a cell, notebook 03 its CNNs and
notebook 04 its batch-normalised ``cnn_bn``; :func:`build_mlp`, :func:`build_cnn`
and :func:`build_bn_cnn` build the same networks (tests assert the cells' models
equal them) for later notebooks, the benchmarks and the tests.
Every model follows the course's conventions:

- input: raw images, ``(batch, height, width, 3)`` float32 in [0, 255];
  the model rescales them itself (a ``Rescaling(1/255)`` layer), so the same
  batches from :func:`utils.loading.get_batches` feed every model;
- output: one sigmoid unit, shape ``(batch, 1)``, P(dog) (``cats`` = 0, ``dogs`` = 1);
- ``name`` = the model id (``mlp_pixels``, ``cnn_small``...).

The arithmetic of a convolution layer (output sizes, parameter counts) is in
:mod:`utils.conv_arithmetic`.

Nothing runs at import time: Keras is imported when a builder is called.
"""

from __future__ import annotations

from utils.conv_arithmetic import is_integer

#: Optimizers accepted by name, and their learning rate when none is given:
#: Keras' own defaults (Adam, RMSprop 0.001; SGD 0.01, with momentum 0.9 as in
#: the seeds) except Adagrad, which runs at 0.01 here where Keras' default is
#: 0.001 (Keras 3 ``keras.optimizers.Adagrad``): at 0.001 Adagrad's shrinking
#: steps leave the MLP of notebook 02 barely trained in 20 epochs.
OPTIMIZERS = {
    "adam": 1e-3,
    "rmsprop": 1e-3,
    "sgd": 1e-2,
    "adagrad": 1e-2,
}

#: CNN variants :func:`build_cnn` knows.
CNN_VARIANTS = ("seed", "improved")

#: Filters of :func:`build_bn_cnn`'s four blocks (notebook 04's ``cnn_bn``).
BN_CNN_WIDTHS = (32, 64, 128, 256)


def _check_image_size(image_size) -> tuple[int, int]:
    """Validate ``(height, width)`` and return it as a tuple of ints."""
    try:
        height, width = image_size
    except (TypeError, ValueError):
        raise ValueError(f"image_size must be (height, width), not {image_size!r}") from None
    for value in (height, width):
        if not is_integer(value) or value < 1:
            raise ValueError(f"image_size must hold two positive integers, not {image_size!r}")
    return int(height), int(width)


def _check_dropout(rate):
    """Return ``rate`` if it is a fraction in [0, 1); raise ValueError otherwise."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
        raise ValueError(f"dropout must be a fraction in [0, 1), not {rate!r}")
    return rate


def make_optimizer(optimizer="adam", learning_rate=None):
    """A fresh Keras optimizer from its name (or return an optimizer object as is).

    Parameters
    ----------
    optimizer : str or keras.optimizers.Optimizer, default "adam"
        ``"adam"``, ``"rmsprop"``, ``"sgd"`` (momentum 0.9) or ``"adagrad"``;
        case does not matter.
    learning_rate : float, optional
        Default: :data:`OPTIMIZERS` (Keras' defaults, but 0.01 for Adagrad). Under
        ``DOGSCATS_DEVICES=all`` it is multiplied by the number of replicas
        (:func:`utils.devices.scale_learning_rate`), as the global batch is.

    Returns
    -------
    keras.optimizers.Optimizer
        A new optimizer (an optimizer holds state, so never share one between
        models).

    Raises
    ------
    ValueError
        If the name is unknown or the learning rate is not positive.
    """
    import keras

    if not isinstance(optimizer, str):
        if learning_rate is not None:
            raise ValueError("give learning_rate only with an optimizer name, not an optimizer object")
        return optimizer
    name = optimizer.lower()
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
    rate = OPTIMIZERS[name] if learning_rate is None else learning_rate
    if not rate > 0:
        raise ValueError(f"learning_rate must be positive, not {learning_rate!r}")
    from . import devices

    if devices.requested_devices() == "all":
        rate = devices.scale_learning_rate(rate)
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=rate)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=rate)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate=rate, momentum=0.9)
    return keras.optimizers.Adagrad(learning_rate=rate)


def compile_binary(model, optimizer="adam", learning_rate=None):
    """Compile ``model`` for cat-vs-dog: binary cross-entropy, accuracy; return it.

    Parameters
    ----------
    model : keras.Model
        Ends in one sigmoid unit.
    optimizer, learning_rate
        See :func:`make_optimizer`.

    Returns
    -------
    keras.Model
        The same model, compiled.
    """
    model.compile(
        optimizer=make_optimizer(optimizer, learning_rate),
        loss="binary_crossentropy",
        metrics=["accuracy"],
    )
    return model


def build_mlp(image_size=(32, 32), hidden_units=(768, 384), normalise=True, compile=True,
              optimizer="adam", learning_rate=None, mean=None, std=None, dropout=0.0,
              flip=False, seed=None, name=None):
    """A multi-layer perceptron on raw pixels (seed 001): Flatten → Dense … → sigmoid.

    Parameters
    ----------
    image_size : tuple of int, default (32, 32)
        ``(height, width)`` of the input images in pixels.
    hidden_units : sequence of int, default (768, 384)
        Units of each hidden ``Dense`` layer (ReLU), as in the seed.
    normalise : bool, default True
        Start with ``Rescaling(1/255)`` so pixels enter in [0, 1]. ``False``
        feeds raw [0, 255] values (the seed's first version), to show why
        scaling matters; the model is then called ``mlp_unscaled``.
    compile : bool, default True
        Compile with :func:`compile_binary`.
    optimizer, learning_rate
        See :func:`make_optimizer`; used only when ``compile`` is true.
    mean, std : array-like of 3 floats, optional
        Per-channel (R, G, B) mean and standard deviation of the *training*
        pixels, in [0, 255] units. Given together, the model *standardises*
        its input, ``(x − mean) / std`` (a ``Normalization`` layer, in place of
        ``Rescaling``), so every input is centred on 0 with unit spread; the
        default name is then ``mlp_standardised``. Compute them on the training
        split only (``x_train.mean(axis=(0, 1, 2))``), never on test images.
    dropout : float, default 0.0
        Dropout rate after each hidden layer, in [0, 1).
    flip : bool, default False
        Mirror each training image left-right with probability 0.5
        (``RandomFlip``; active only in training, see notebook 04).
    seed : int, optional
        Seed of the flip and dropout layers.
    name : str, optional
        Model name (the model id); default ``mlp_pixels``, ``mlp_unscaled`` or
        ``mlp_standardised`` as above.

    Returns
    -------
    keras.Model
        Input ``(batch, h, w, 3)`` float32 in [0, 255], output ``(batch, 1)``
        = P(dog). With (32, 32) and (768, 384): 3,073·768 + 769·384 + 385 =
        2,655,745 trainable parameters (standardising, dropout and flipping add
        none).

    Raises
    ------
    ValueError
        If ``image_size`` or ``hidden_units`` is not made of positive integers,
        only one of ``mean`` and ``std`` is given, either is not 3 finite
        numbers (``std`` > 0), ``dropout`` is outside [0, 1) or ``flip`` is not
        a bool.
    """
    import keras
    import numpy as np
    from keras import layers

    height, width = _check_image_size(image_size)
    units = tuple(hidden_units)
    if not units or any(not is_integer(u) or u < 1
                        for u in units):
        raise ValueError(f"hidden_units must be one or more positive integers, not {hidden_units!r}")
    if (mean is None) != (std is None):
        raise ValueError("give both mean and std (per-channel, from the training images), or neither")
    standardise = mean is not None
    if standardise:
        mean, std = (np.asarray(v, dtype="float64").reshape(-1) for v in (mean, std))
        if mean.shape != (3,) or std.shape != (3,):
            raise ValueError(f"mean and std must hold 3 numbers (R, G, B), not {mean.size} and {std.size}")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std > 0)):
            raise ValueError("mean must be finite and std finite and positive")
    _check_dropout(dropout)
    if not isinstance(flip, bool):
        raise ValueError(f"flip must be True or False, not {flip!r}")
    if name is None:
        name = "mlp_standardised" if standardise else "mlp_pixels" if normalise else "mlp_unscaled"
    inputs = keras.Input(shape=(height, width, 3), name="image")
    x = inputs
    if flip:
        x = layers.RandomFlip("horizontal", seed=seed, name="flip")(x)
    if standardise:
        x = layers.Normalization(mean=mean, variance=std ** 2, name="standardise")(x)
    elif normalise:
        x = layers.Rescaling(1.0 / 255, name="rescale")(x)
    x = layers.Flatten(name="flatten")(x)
    for index, n_units in enumerate(units, start=1):
        x = layers.Dense(int(n_units), activation="relu", name=f"dense_{index}")(x)
        if dropout:
            x = layers.Dropout(dropout, seed=seed, name=f"dropout_{index}")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="p_dog", dtype="float32")(x)
    model = keras.Model(inputs, outputs, name=name)
    if compile:
        compile_binary(model, optimizer, learning_rate)
    return model


def build_cnn(image_size, variant="improved", dropout=None, compile=True, optimizer="adam",
              learning_rate=None, augmentation=None, name="cnn_small"):
    """A small convolutional network trained from scratch: ``cnn_small`` (03, 04) or ``cnn_seed``.

    Parameters
    ----------
    image_size : tuple of int
        ``(height, width)`` of the input images in pixels; at least 22×22
        (``"seed"``) or 46×46 (``"improved"``).
    variant : {"seed", "improved"}, default "improved"
        ``"seed"``: the small CNN of the Keras blog post "Building powerful
        image classification models using very little data" (F. Chollet,
        2016) in Keras 3: three blocks of ``Conv2D(32/32/64, 3×3, relu,
        'valid')`` + ``MaxPooling2D(2)``, then ``Flatten → Dense 64 relu →
        Dropout → Dense 1 sigmoid`` (model id ``cnn_seed``). It is not seed
        000's network (four conv layers, 32-32-64-64, and ``Dense(1024)`` at
        60×60). Its Flatten layer is large, so most parameters sit in the
        first Dense layer.

        ``"improved"``: the same recipe with a fourth block (32, 32, 64, 64
        filters), so the maps reaching ``Flatten`` are about 4× smaller (6×6×64
        at 128×128 instead of 14×14×64): the ``Dense`` layer, where the seed
        network keeps 97% of its parameters and memorises, shrinks by 5×, for
        almost no extra computation. Notebook 03 writes it layer by layer in
        a cell (``tests/test_models.py`` checks the two agree); notebook 04
        reuses it for ``cnn_aug``.
    dropout : float, optional
        Dropout rate after the ``Dense(64)`` layer (default 0.5, as in the seeds).
    compile : bool, default True
        Compile with :func:`compile_binary`.
    optimizer, learning_rate
        See :func:`make_optimizer`.
    augmentation : keras.layers.Layer, optional
        Placed right after the input (before rescaling): e.g. notebook 04's
        random flips/rotations. Augmentation layers are active only in training.
    name : str, default "cnn_small"
        The model id (``cnn_aug`` when built with augmentation in notebook 04).

    Returns
    -------
    keras.Model
        Input ``(batch, h, w, 3)`` float32 in [0, 255]; output ``(batch, 1)`` = P(dog).
        Layers are named (``conv_1``, ``pool_1``, ``conv_2`` ...) so notebooks
        can pick them, e.g. for feature maps.

    Raises
    ------
    ValueError
        If ``variant`` is unknown, ``dropout`` is outside [0, 1), or the image
        is too small for the network's pooling.
    """
    import keras
    from keras import layers

    height, width = _check_image_size(image_size)
    if variant not in CNN_VARIANTS:
        raise ValueError(f"unknown CNN variant {variant!r}: choose one of {', '.join(CNN_VARIANTS)}")
    rate = 0.5 if dropout is None else _check_dropout(dropout)
    minimum = 22 if variant == "seed" else 46   # every block's output at least 1×1
    if min(height, width) < minimum:
        raise ValueError(f"the {variant!r} CNN needs images of at least {minimum}×{minimum} pixels, "
                         f"not {height}×{width}")

    inputs = keras.Input(shape=(height, width, 3), name="image")
    x = inputs
    if augmentation is not None:
        x = augmentation(x)
    x = layers.Rescaling(1.0 / 255, name="rescale")(x)
    block_filters = (32, 32, 64) if variant == "seed" else (32, 32, 64, 64)
    for index, filters in enumerate(block_filters, start=1):
        x = layers.Conv2D(filters, 3, activation="relu", name=f"conv_{index}")(x)
        x = layers.MaxPooling2D(2, name=f"pool_{index}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(64, activation="relu", name="dense")(x)
    x = layers.Dropout(rate, name="dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="p_dog", dtype="float32")(x)
    model = keras.Model(inputs, outputs, name=name)
    if compile:
        compile_binary(model, optimizer, learning_rate)
    return model


def build_bn_cnn(image_size, widths=BN_CNN_WIDTHS, dropout=0.3, name="cnn_bn"):
    """Notebook 04's ``cnn_bn``: batch normalisation after every convolution, global average pooling.

    Four blocks of ``Conv2D(w, 3×3, 'valid', no bias) → BatchNormalization →
    ReLU → MaxPooling2D(2)``, then ``GlobalAveragePooling2D → Dropout →
    Dense(1, sigmoid)``. Batch normalisation (Ioffe & Szegedy, 2015) rescales
    each layer's outputs over the batch, so a larger learning rate trains
    stably (the layer's own shift replaces the convolution's bias); global
    average pooling (Lin et al., 2014, "Network in network", section 3.2)
    replaces ``Flatten → Dense(64)``, the layer where ``cnn_small`` keeps most
    of its parameters. Notebook 04 writes it layer by layer in a cell
    (``tests/test_lesson_models.py`` checks the two agree).

    Parameters
    ----------
    image_size : tuple of int
        ``(height, width)`` in pixels; at least 3·2^blocks − 2 a side (46×46 for
        four blocks, 94×94 for five), so the last block's map is not empty.
    widths : sequence of four or more int, default :data:`BN_CNN_WIDTHS`
        Filters of the convolutions, one block each. A fifth block (e.g. 512)
        lets each output unit see about 94×94 pixels instead of 46×46; notebook
        04 adds one under ``full`` (5,000 training photos or more, photos of
        94×94 or more).
    dropout : float, default 0.3
        Rate of the ``Dropout`` before the output unit.
    name : str, default "cnn_bn"

    Returns
    -------
    keras.Model
        Input ``(batch, h, w, 3)`` float32 in [0, 255]; output ``(batch, 1)`` = P(dog),
        float32. Uncompiled: notebook 04 compiles it with its own schedule.

    Raises
    ------
    ValueError
        If ``widths`` is not four or more positive integers, ``dropout`` is
        outside [0, 1), or the image is too small for the blocks.
    """
    import keras
    from keras import layers

    height, width = _check_image_size(image_size)
    widths = tuple(widths)
    if len(widths) < 4 or not all(is_integer(w) and w > 0 for w in widths):
        raise ValueError(f"widths must be four or more positive integers, not {widths!r}")
    rate = _check_dropout(dropout)
    smallest = 3 * 2 ** len(widths) - 2     # each block: a valid 3×3 convolution (−2), then pooling (÷2)
    if min(height, width) < smallest:
        raise ValueError(f"cnn_bn with {len(widths)} blocks needs images of at least {smallest}×{smallest} "
                         f"pixels, not {height}×{width}")
    inputs = keras.Input(shape=(height, width, 3), name="image")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    for index, filters in enumerate(widths, start=1):
        x = layers.Conv2D(int(filters), 3, use_bias=False, name=f"conv_{index}")(x)
        x = layers.BatchNormalization(name=f"bn_{index}")(x)
        x = layers.Activation("relu", name=f"relu_{index}")(x)
        x = layers.MaxPooling2D(2, name=f"pool_{index}")(x)
    x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    x = layers.Dropout(rate, name="dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="p_dog", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)
