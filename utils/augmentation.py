"""Data augmentation: the seed tutorials' ``ImageDataGenerator`` settings in Keras 3.

- :data:`SEED_SETTINGS`: the seeds' ``ImageDataGenerator`` arguments (notebook
  04 translates them to Keras 3 layers in a markdown table);
- :func:`augmentation`: the seeded stack of Keras layers that notebook 04 writes
  out in a cell (a test checks the two agree) and notebook 06 reuses;
- :func:`random_affine`, :func:`augment_dataset`: the same transforms composed
  into *one* affine resampling per image, as ``ImageDataGenerator`` did, on
  whole batches in the ``tf.data`` pipeline;
- :func:`pillow_augment`: the seeds' way, one image at a time with Pillow (the
  baseline of 04's "written to disk once" and of ``benchmarks/``).

Sources: Keras 1 ``keras/preprocessing/image.py`` (shear angle in radians),
``keras_preprocessing.image.ImageDataGenerator`` (Keras 2.2+; shear in
degrees), Keras 3.15 ``keras/src/layers/preprocessing/image_preprocessing/``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from utils import loading

#: The seed tutorials' ``ImageDataGenerator`` arguments (seeds 000 and 003,
#: also Deep Learning with Python, 1st ed., listing 5.11).
SEED_SETTINGS = dict(
    rotation_range=40,
    width_shift_range=0.2,
    height_shift_range=0.2,
    shear_range=0.2,
    zoom_range=0.2,
    horizontal_flip=True,
    fill_mode="nearest",
)

#: Notebook 04's "mild" strength (half the seeds' rotation, shift and shear), in
#: :func:`augment_dataset`'s arguments: what validation chose there under
#: ``sample``, and what the benchmarks train with. 04 writes the same values in
#: its ``STRENGTHS`` cell (``tests/test_lesson_models.py`` checks that they agree).
MILD_SETTINGS = dict(rotation=20, shift=0.1, shear=0.1, zoom=0.2, flip=True)

#: ``fill_mode`` values the Keras 3 layers accept (TensorFlow backend).
FILL_MODES = ("reflect", "wrap", "constant", "nearest")

def _check_number(name, value, low, high, *, high_inclusive=True):
    """Raise ValueError unless ``value`` is a real number in [low, high] (or [low, high))."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number, not {value!r}")
    inside = low <= value <= high if high_inclusive else low <= value < high
    if not inside:
        bracket = "]" if high_inclusive else ")"
        raise ValueError(f"{name} must lie in [{low}, {high}{bracket}, not {value!r}")
    return float(value)


def _check_settings(rotation, shift, shear, zoom, flip, fill_mode, *, seed=None,
                    require_any=True):
    """Validate the settings shared by :func:`augmentation`, :func:`random_affine` and
    :func:`augment_dataset`; return them as a dict of keyword arguments.

    Raises ValueError if ``seed`` is not an int or None, a setting is out of
    range, ``fill_mode`` is unknown, or (with ``require_any``) every transform
    is switched off.
    """
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise ValueError(f"seed must be an int or None, not {seed!r}")
    settings = dict(
        rotation=_check_number("rotation (degrees)", rotation, 0, 180),
        shift=_check_number("shift (fraction of the image)", shift, 0, 1, high_inclusive=False),
        shear=_check_number("shear (fraction)", shear, 0, 1),
        zoom=_check_number("zoom (fraction)", zoom, 0, 1, high_inclusive=False),
    )
    if not isinstance(flip, (bool, np.bool_)):
        raise ValueError(f"flip must be True or False, not {flip!r}")
    settings["flip"] = bool(flip)
    if fill_mode not in FILL_MODES:
        raise ValueError(f"fill_mode must be one of {', '.join(FILL_MODES)}, not {fill_mode!r}")
    if require_any and not any(settings.values()):
        raise ValueError("every transform is switched off: nothing to augment "
                         "(set rotation, shift, shear, zoom or flip)")
    settings["fill_mode"] = fill_mode
    return settings


def augmentation(seed=None, rotation=40.0, shift=0.2, shear=0.2, zoom=0.2,
                 flip=True, fill_mode="nearest", name="augmentation"):
    """Build the seeds' augmentation as a seeded stack of Keras 3 layers.

    The defaults are :data:`SEED_SETTINGS` translated (see :func:`mapping_table`).
    A setting of 0 (or ``flip=False``) leaves its layer out, so
    ``augmentation(rotation=40, shift=0, shear=0, zoom=0, flip=False)`` only
    rotates.

    Parameters
    ----------
    seed : int or None, default None
        Seed of the random draws; layer ``i`` gets ``seed + i``. The same seed
        gives the same sequence of augmented images in a fresh augmenter.
        ``None``: different every run.
    rotation : float, default 40
        Largest rotation in **degrees**, in [0, 180]; each image turns by an angle
        drawn uniformly from [-rotation, +rotation] (``RandomRotation`` with
        ``factor = rotation / 360``).
    shift : float, default 0.2
        Largest shift as a fraction of the height and of the width, in [0, 1).
    shear : float, default 0.2
        Largest horizontal shear as a fraction, in [0, 1]: a row ``y`` pixels
        from the top moves sideways by up to ``shear · y`` pixels (0.2 ≈ the
        seeds' 0.2-radian shear angle).
    zoom : float, default 0.2
        Zoom drawn per axis from [1 - zoom, 1 + zoom], in [0, 1).
    flip : bool, default True
        Mirror left-right with probability 0.5.
    fill_mode : {"nearest", "reflect", "wrap", "constant"}, default "nearest"
        How pixels moved in from outside the image are filled (``constant``
        fills with 0, black).
    name : str, default "augmentation"
        Name of the returned model.

    Returns
    -------
    keras.Sequential
        Maps images ``(batch, h, w, 3)`` (or ``(h, w, 3)``), float32 in [0, 255],
        to the same shape: a random transform per image with ``training=True``,
        the identity with ``training=False`` (as in ``predict``/``evaluate``).
        Called directly *without* ``training`` it augments (Keras 3's default).

    Raises
    ------
    ValueError
        If a setting is not a number in its range, ``flip`` is not a bool,
        ``fill_mode`` is unknown, ``seed`` is not an int or None, or every
        transform is switched off.

    """
    settings = _check_settings(rotation, shift, shear, zoom, flip, fill_mode, seed=seed)
    rotation, shift, shear, zoom = (settings[k] for k in ("rotation", "shift", "shear", "zoom"))

    import keras

    offsets = iter(range(10))

    def next_seed():
        offset = next(offsets)
        return None if seed is None else int(seed) + offset

    layers = []
    if rotation:
        layers.append(keras.layers.RandomRotation(
            rotation / 360.0, fill_mode=fill_mode, seed=next_seed(), name="rotation"))
    if shift:
        layers.append(keras.layers.RandomTranslation(
            height_factor=shift, width_factor=shift, fill_mode=fill_mode,
            seed=next_seed(), name="shift"))
    if shear:
        layers.append(keras.layers.RandomShear(
            x_factor=shear, y_factor=0.0, fill_mode=fill_mode, seed=next_seed(),
            name="shear"))
    if zoom:
        layers.append(keras.layers.RandomZoom(
            height_factor=zoom, width_factor=zoom, fill_mode=fill_mode,
            seed=next_seed(), name="zoom"))
    if flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=next_seed(), name="flip"))
    return keras.Sequential(layers, name=name)


def _affine_for_pillow(width, height, angle, tx, ty, shear, zx, zy):
    """Pillow's AFFINE coefficients (output → input pixel) of the old generator's transform.

    The transform is built about the image centre, in the order of Keras 1's
    ``ImageDataGenerator.random_transform``: rotation, shift, shear, zoom
    (angle and shear in radians, shifts in pixels, zooms as factors).
    """
    rotate = np.array([[math.cos(angle), -math.sin(angle), 0],
                       [math.sin(angle), math.cos(angle), 0],
                       [0, 0, 1]])
    translate = np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
    shear_m = np.array([[1, -math.sin(shear), 0], [0, math.cos(shear), 0], [0, 0, 1]])
    zoom_m = np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]])
    matrix = rotate @ translate @ shear_m @ zoom_m
    cx, cy = width / 2.0, height / 2.0
    to_centre = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]])
    from_centre = np.array([[1, 0, cx], [0, 1, cy], [0, 0, 1]])
    matrix = from_centre @ matrix @ to_centre
    return matrix[:2].ravel()


def pillow_augment(image, rng, settings=None):
    """Augment one image in Python with Pillow, as the seeds' generator did.

    One random affine transform (rotation, shift, shear, zoom, about the
    centre), resampled once with bilinear interpolation, then a random
    left-right flip. "nearest" filling is obtained by padding the image with
    copies of its edge pixels before transforming.

    Parameters
    ----------
    image : numpy.ndarray, shape (h, w, 3), uint8 in [0, 255] or float in [0, 255]
        One image; it is not changed.
    rng : numpy.random.Generator
        Source of the random draws (``numpy.random.default_rng(seed)``).
    settings : dict, optional
        ``ImageDataGenerator``-style arguments, default :data:`SEED_SETTINGS`:
        ``rotation_range`` (degrees), ``width_shift_range`` and
        ``height_shift_range`` (fractions), ``shear_range`` (**radians**, as in
        Keras 1 which the seeds used), ``zoom_range`` (fraction) and
        ``horizontal_flip`` (bool). ``fill_mode`` must be ``"nearest"``.

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``image``
        A new augmented image (float input comes back rounded to whole values).

    Raises
    ------
    ValueError
        If ``image`` is not ``(h, w, 3)``, ``rng`` is not a
        :class:`numpy.random.Generator`, or ``settings`` has an unknown key or
        a fill mode other than "nearest".
    """
    from PIL import Image

    settings = dict(SEED_SETTINGS if settings is None else settings)
    unknown = set(settings) - set(SEED_SETTINGS)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}; known: {sorted(SEED_SETTINGS)}")
    if settings.get("fill_mode", "nearest") != "nearest":
        raise ValueError("pillow_augment only implements fill_mode='nearest'")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator "
                         f"(numpy.random.default_rng(seed)), not {type(rng).__name__}")
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[-1] != 3 or array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"image must have shape (h, w, 3), not {array.shape}")
    dtype = array.dtype
    pixels = array if dtype == np.uint8 else np.clip(np.rint(array), 0, 255).astype(np.uint8)
    height, width = pixels.shape[:2]

    angle = math.radians(rng.uniform(-1, 1) * settings.get("rotation_range", 0))
    tx = rng.uniform(-1, 1) * settings.get("width_shift_range", 0) * width
    ty = rng.uniform(-1, 1) * settings.get("height_shift_range", 0) * height
    shear = rng.uniform(-1, 1) * settings.get("shear_range", 0)
    zoom = settings.get("zoom_range", 0)
    zx, zy = rng.uniform(1 - zoom, 1 + zoom, size=2)
    flip = settings.get("horizontal_flip", False) and rng.uniform() < 0.5

    # pad with edge pixels (fill_mode="nearest"), one image size on every side
    padded = np.pad(pixels, ((height, height), (width, width), (0, 0)), mode="edge")
    coefficients = _affine_for_pillow(width, height, angle, tx, ty, shear, zx, zy)
    # shift output coordinates into the padded input's frame
    a, b, c, d, e, f = coefficients
    coefficients = (a, b, c + width, d, e, f + height)
    result = Image.fromarray(padded).transform(
        (width, height), Image.Transform.AFFINE, coefficients,
        resample=Image.Resampling.BILINEAR)
    if flip:
        result = result.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    out = np.asarray(result)
    return out.copy() if dtype == np.uint8 else out.astype(dtype)


def affine_transforms(count, height, width, seed, rotation=40.0, shift=0.2, shear=0.2,
                      zoom=0.2, flip=True):
    """Random affine transforms, one per image, as ``ImageDataGenerator`` composed them.

    Each transform is rotation · shift · shear · zoom about the image centre (the
    order of Keras 1's ``ImageDataGenerator.random_transform``), followed by a
    left-right mirror with probability 0.5 when ``flip``: all five in *one*
    matrix, so an image is resampled once.

    Parameters
    ----------
    count : int or scalar int tensor
        Number of transforms (images in the batch).
    height, width : int or scalar tensor
        Image size in pixels.
    seed : tensor or sequence of two ints
        Seed of TensorFlow's *stateless* random ops, shape ``(2,)``: the same
        seed gives the same transforms.
    rotation, shift, shear, zoom, flip
        As in :func:`augmentation`: degrees; fractions of the size; shear as
        the sine of the shear angle (0.2 ≈ the seeds' 0.2 rad); zoom drawn per
        axis from [1 − zoom, 1 + zoom]; mirror or not.

    Returns
    -------
    tf.Tensor, shape (count, 8), float32
        Rows ``[a0, a1, a2, b0, b1, b2, 0, 0]`` mapping an *output* pixel
        ``(x, y)`` to the *input* point ``(a0·x + a1·y + a2, b0·x + b1·y + b2)``:
        the format of ``tf.raw_ops.ImageProjectiveTransformV3`` and
        ``keras.ops.image.affine_transform``.
    """
    import tensorflow as tf

    height = tf.cast(height, tf.float32)
    width = tf.cast(width, tf.float32)
    draws = tf.random.stateless_uniform([7, count], seed=tf.cast(seed, tf.int64), minval=-1.0,
                                        maxval=1.0)
    angle = draws[0] * math.radians(rotation)
    tx, ty = draws[1] * shift * width, draws[2] * shift * height
    shear_angle = tf.asin(draws[3] * shear)          # rows move by shear · y
    zx, zy = 1.0 + zoom * draws[4], 1.0 + zoom * draws[5]
    cos, sin = tf.cos(angle), tf.sin(angle)
    # [[a0 a1 t0] [b0 b1 t1]] = rotation · translation · shear · zoom (output → input)
    a0 = cos * zx
    a1 = (-cos * tf.sin(shear_angle) - sin * tf.cos(shear_angle)) * zy
    b0 = sin * zx
    b1 = (-sin * tf.sin(shear_angle) + cos * tf.cos(shear_angle)) * zy
    t0 = cos * tx - sin * ty
    t1 = sin * tx + cos * ty
    # about the centre: p_in = A·(p_out − c) + t + c
    cx, cy = (width - 1.0) / 2.0, (height - 1.0) / 2.0
    a2 = t0 + cx - a0 * cx - a1 * cy
    b2 = t1 + cy - b0 * cx - b1 * cy
    if flip:
        # mirror the output: x → (width − 1) − x, folded into the same matrix
        mirror = draws[6] < 0.0
        a2 = tf.where(mirror, a0 * (width - 1.0) + a2, a2)
        b2 = tf.where(mirror, b0 * (width - 1.0) + b2, b2)
        a0 = tf.where(mirror, -a0, a0)
        b0 = tf.where(mirror, -b0, b0)
    zeros = tf.zeros_like(a0)
    return tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)


def random_affine(images, seed, rotation=40.0, shift=0.2, shear=0.2, zoom=0.2, flip=True,
                  fill_mode="nearest"):
    """Augment a batch with ONE affine resampling per image (the old generator's way, batched).

    The five transforms of :func:`augmentation`, composed into one matrix per
    image (:func:`affine_transforms`) and applied by one TensorFlow op
    (``ImageProjectiveTransformV3``, bilinear): faster and sharper than a layer
    stack, which resamples once per layer. Shear about the centre, as in
    ``ImageDataGenerator``. ``keras.ops.image.affine_transform`` gives the same
    pixels as fast on TensorFlow (``benchmarks/affine_keras_ops.py``), but this runs
    inside ``tf.data``, where a ``keras.ops`` call would go to the JAX or PyTorch
    backend when that is the active one; so the input pipeline keeps the TensorFlow op.

    Parameters
    ----------
    images : tensor, shape (batch, height, width, channels), float32 or uint8
        E.g. a batch from :func:`utils.loading.get_batches`, float32 in [0, 255].
    seed : tensor or sequence of two ints, shape (2,)
        Stateless seed: the same seed gives the same transforms.
    rotation, shift, shear, zoom, flip
        See :func:`augmentation` (all five on by default, the seeds' settings).
    fill_mode : {"nearest", "reflect", "wrap", "constant"}, default "nearest"
        How pixels moved in from outside the image are filled.

    Returns
    -------
    tf.Tensor
        Same shape and dtype as ``images``.

    Raises
    ------
    ValueError
        If a setting is out of range or ``fill_mode`` is unknown, or ``images``
        is not a 4-D batch.
    """
    import tensorflow as tf

    settings = _check_settings(rotation, shift, shear, zoom, flip, fill_mode, require_any=False)
    fill_mode = settings.pop("fill_mode")
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4:
        raise ValueError(f"images must be a batch (batch, height, width, channels), "
                         f"not shape {tuple(images.shape)}")
    shape = tf.shape(images)
    transforms = affine_transforms(shape[0], shape[1], shape[2], seed, **settings)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms, output_shape=shape[1:3],
        fill_value=tf.constant(0.0, tf.float32), interpolation="BILINEAR",
        fill_mode=fill_mode.upper())


def augment_dataset(dataset, seed=None, rotation=40.0, shift=0.2, shear=0.2, zoom=0.2,
                    flip=True, fill_mode="nearest"):
    """Add :func:`random_affine` to a training ``tf.data`` pipeline of ``(images, labels)`` batches.

    Every epoch draws new transforms (``tf.data.Dataset.random`` with
    ``rerandomize_each_iteration=True`` gives each batch its own seed, different
    in every pass), and the same ``seed`` repeats the same sequence of epochs,
    even with the batches augmented in parallel.

    Parameters
    ----------
    dataset : tf.data.Dataset
        Yields ``(images, labels)`` with images ``(batch, h, w, 3)`` float32 in
        [0, 255], e.g. ``get_batches("train", ..., cache=True)``. Only ever
        augment the *training* data.
    seed : int or None
        ``None``: different every run.
    rotation, shift, shear, zoom, flip, fill_mode
        See :func:`random_affine`.

    Returns
    -------
    tf.data.Dataset
        The same batches, augmented, prefetched; ``class_names`` and
        ``file_paths`` are kept when ``dataset`` has them.

    Raises
    ------
    ValueError
        If a setting is out of range, ``seed`` is not an int or None, or every
        transform is switched off.
    """
    import tensorflow as tf

    settings = _check_settings(rotation, shift, shear, zoom, flip, fill_mode, seed=seed)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    augmented = (tf.data.Dataset.zip((dataset, seeds))
                 .map(lambda batch, pair: (random_affine(batch[0], pair, **settings), *batch[1:]),
                      num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                 .prefetch(tf.data.AUTOTUNE)
                 .with_options(loading.pipeline_options()))
    for attribute in ("class_names", "file_paths"):
        if hasattr(dataset, attribute):
            setattr(augmented, attribute, getattr(dataset, attribute))
    return augmented
