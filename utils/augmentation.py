"""Data augmentation: the seed tutorials' ``ImageDataGenerator`` settings in Keras 3.

- :data:`SEED_SETTINGS`: the seeds' ``ImageDataGenerator`` arguments (notebook
  04 translates them to Keras 3 layers in a markdown table);
- :data:`MILD_SETTINGS`: the benchmarks' strength; :data:`LIGHT_SETTINGS`: notebook 04's lighter one;
- :func:`check_settings`: the one validation of rotation, shift, shear, zoom,
  flip and fill mode;
- :func:`pillow_augment`: the seeds' way, one image at a time with Pillow (the
  baseline of 04's "written to disk once" and of ``benchmarks/``).

The augmentation that trains is the lesson, so notebook 04 writes it in its
cells: ``build_augmenter`` (a seeded stack of Keras layers), ``random_affine``
and ``augment_dataset`` (one affine resampling per image in ``tf.data``); they
reach later notebooks through :mod:`utils.lessons`, generated from those cells.

Sources: Keras 1 ``keras/preprocessing/image.py`` (shear angle in radians),
``keras_preprocessing.image.ImageDataGenerator`` (Keras 2.2+; shear in
degrees), Keras 3.15 ``keras/src/layers/preprocessing/image_preprocessing/``.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

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

#: The "mild" strength (half the seeds' rotation, shift and shear), in
#: ``lessons.augment_dataset``'s arguments: what the benchmarks train with.
MILD_SETTINGS = dict(rotation=20, shift=0.1, shear=0.1, zoom=0.2, flip=True)

#: Notebook 04's "light" strength: mirror, shift and zoom by up to a tenth, no
#: rotation or shear (close to Deep Learning with Python, 2nd ed., ch. 8, which
#: flips, turns by up to ±36° and zooms by up to 20%). One of the two strengths
#: 04's ``STRENGTHS`` cell compares on validation, the seeds' settings the other.
LIGHT_SETTINGS = dict(rotation=0, shift=0.1, shear=0, zoom=0.1, flip=True)

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


def check_settings(rotation, shift, shear, zoom, flip, fill_mode, *, seed=None,
                   require_any=True):
    """Validate augmentation settings; return them as a dict of keyword arguments.

    Shared by notebook 04's ``build_augmenter``, ``random_affine`` and
    ``augment_dataset`` (in :mod:`utils.lessons`, exported from 04's cells).

    Parameters
    ----------
    rotation : float
        Largest rotation in degrees, in [0, 180].
    shift : float
        Largest shift as a fraction of the height and width, in [0, 1).
    shear : float
        Largest shear as a fraction (sine of the shear angle), in [0, 1].
    zoom : float
        Zoom drawn per axis from [1 - zoom, 1 + zoom], zoom in [0, 1).
    flip : bool
        Mirror left-right with probability 0.5.
    fill_mode : {"reflect", "wrap", "constant", "nearest"}
    seed : int or None, keyword-only
    require_any : bool, default True
        Refuse settings that switch every transform off.

    Returns
    -------
    dict
        ``rotation``, ``shift``, ``shear``, ``zoom`` (float), ``flip`` (bool), ``fill_mode`` (str).

    Raises
    ------
    ValueError
        If ``seed`` is not an int or None, a setting is out of range,
        ``fill_mode`` is unknown, or (with ``require_any``) every transform is off.
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
