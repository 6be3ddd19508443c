"""From the prepared folders to what a model reads: batches, arrays, one image.

:func:`get_batches` (``tf.data`` batches for ``model.fit``), :func:`load_arrays`
(a whole split in memory, cached on disk), :func:`load_image` (one file, read
exactly as the batches read it), :func:`get_unlabelled` (Kaggle's ``test1``
with its ids) and :func:`array_batches` (in-memory arrays as batches). Every
pipeline carries :func:`pipeline_options`. Every image is resized bilinearly
to ``(height, width)`` and kept in [0, 255]; 0 = cat, 1 = dog. TensorFlow
comes from :func:`utils.devices.tensorflow`, which keeps it off the GPU of a
JAX or PyTorch backend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from utils import config, devices, files, images, sources
from utils.data import require_prepared
from utils.sources import DataError

SPLITS = config.SPLITS


def pipeline_options():
    """The ``tf.data.Options`` of every course pipeline: tf.data's autotuner off.

    With the autotuner on (TensorFlow's default), ``model.fit`` on a 2-core CPU
    (TensorFlow 2.21, Keras 3.15) waited 2–5 s, the CPU idle, before the first
    batch of about half its epochs: 4 of 9 epochs of ``cnn_bn`` on 2,016 photos
    took 10 s instead of 5 s. With it off no epoch stalled, and ``AUTOTUNE``
    arguments fall back to fixed values (one parallel call per core).
    ``benchmarks/data_autotune.py`` measures both ways in one run.

    Returns
    -------
    tf.data.Options
        ``autotune.enabled = False``; apply with ``dataset.with_options(...)``.
    """
    tf = devices.tensorflow()    # its GPUs hidden on the JAX and PyTorch backends

    options = tf.data.Options()
    options.autotune.enabled = False
    return options


def array_batches(x, y, batch_size: int, shuffle: bool = False, seed: int | None = None):
    """In-memory arrays as a ``tf.data`` pipeline of ``(x, y)`` batches, with :func:`pipeline_options`.

    ``model.fit(x, y)`` builds such a pipeline itself, with the autotuner on;
    :func:`utils.training.fit` passes arrays through this function instead.

    Parameters
    ----------
    x : numpy.ndarray, shape (n, ...)
        Inputs, e.g. float32 ``(n, h, w, 3)`` images in [0, 255] or cached features.
    y : numpy.ndarray, shape (n,) or (n, 1)
        Labels, 0 = cat, 1 = dog.
    batch_size : int
        Rows per batch (the last batch may be smaller).
    shuffle : bool, default False
        Reshuffle the rows in every epoch.
    seed : int or None
        Shuffle seed (the same sequence of epochs for the same seed).

    Returns
    -------
    tf.data.Dataset
        Yields ``(x_batch, y_batch)`` with the arrays' dtypes.

    Raises
    ------
    ValueError
        If ``x`` and ``y`` differ in length, are empty, or ``batch_size`` is not a positive integer.
    """
    tf = devices.tensorflow()    # its GPUs hidden on the JAX and PyTorch backends

    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x and y must be non-empty and of the same length, not {len(x)} and {len(y)}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        dataset = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(int(batch_size)).prefetch(2).with_options(pipeline_options())


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")


def get_batches(split: str, image_size, batch_size: int | None = None, shuffle: bool | None = None,
                cfg: config.Profile | None = None, cache: bool = False):
    """Batches of one split of the prepared images, ready for ``model.fit``.

    Parameters
    ----------
    split : {"train", "valid", "test"}
    image_size : tuple of int
        ``(height, width)`` in pixels; images are resized bilinearly (aspect
        ratio not kept), as :func:`keras.utils.image_dataset_from_directory` does.
    batch_size : int, optional
        Default ``cfg.batch_size``.
    shuffle : bool, optional
        Default True for ``train`` only. Shuffled with ``cfg.seed``.
    cfg : utils.config.Profile, optional
        Default :func:`utils.config.current`.
    cache : bool, default False
        Keep decoded images in memory after the first epoch (n·h·w·3·4 bytes):
        much faster epochs where that fits; reshuffled every epoch.

    Returns
    -------
    tf.data.Dataset
        Yields ``(images, labels)``: images ``(batch, h, w, 3)`` float32 in [0, 255],
        labels ``(batch, 1)`` float32, 0 = cat, 1 = dog. Prefetched. Attributes
        ``class_names == ["cats", "dogs"]`` and ``file_paths`` (in unshuffled order).

    Raises
    ------
    ValueError
        Unknown split, bad image size or batch size.
    DataNotPreparedError
        If the split has not been prepared.
    """
    import keras

    tf = devices.tensorflow()    # its GPUs hidden on the JAX and PyTorch backends

    cfg = cfg or config.current()
    _check_split(split)
    image_size = images.check_size(image_size)
    batch_size = cfg.batch_size if batch_size is None else batch_size
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")
    shuffle = (split == "train") if shuffle is None else bool(shuffle)
    require_prepared(cfg)
    folder = cfg.split_dir / split
    common = dict(labels="inferred", label_mode="binary", class_names=list(config.CLASS_NAMES),
                  color_mode="rgb", image_size=image_size, interpolation="bilinear",
                  seed=cfg.seed, verbose=False)
    if cache:
        dataset = keras.utils.image_dataset_from_directory(folder, batch_size=None, shuffle=False,
                                                           **common)
        paths = list(dataset.file_paths)
        dataset = dataset.cache()
        if shuffle:
            dataset = dataset.shuffle(len(paths), seed=cfg.seed, reshuffle_each_iteration=True)
        dataset = dataset.batch(batch_size)
    else:
        dataset = keras.utils.image_dataset_from_directory(folder, batch_size=batch_size,
                                                           shuffle=shuffle, **common)
        paths = list(dataset.file_paths)
        if shuffle:  # report files in their sorted order, as for unshuffled data
            paths = sorted(paths, key=lambda p: (Path(p).parent.name, sources.natural_key(Path(p).name)))
    dataset = dataset.prefetch(tf.data.AUTOTUNE).with_options(pipeline_options())
    dataset.class_names = list(config.CLASS_NAMES)
    dataset.file_paths = paths
    return dataset


def load_image(path, image_size) -> np.ndarray:
    """Read one image exactly as :func:`get_batches` does.

    Parameters
    ----------
    path : str or pathlib.Path
    image_size : tuple of int
        ``(height, width)`` in pixels.

    Returns
    -------
    numpy.ndarray, shape (height, width, 3), float32 in [0, 255]

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it cannot be decoded as an image, or ``image_size`` is invalid.
    """
    tf = devices.tensorflow()    # its GPUs hidden on the JAX and PyTorch backends

    image_size = images.check_size(image_size)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no image at {path}")
    try:
        image = tf.image.decode_image(tf.io.read_file(str(path)), channels=3,
                                      expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as error:
        raise ValueError(f"{path} is not an image TensorFlow can decode: {error.message}") from None
    return tf.image.resize(image, image_size, method="bilinear").numpy().astype(np.float32)


def load_arrays(split: str, image_size, cfg: config.Profile | None = None):
    """A whole split in memory, for lessons that need arrays (e.g. the MLP).

    Cached on disk in ``data/cache/<profile>/`` as ``.npz``; the cache is
    rebuilt whenever the prepared split changes.

    Returns
    -------
    x : numpy.ndarray, shape (n, height, width, 3), float32 in [0, 255]
    y : numpy.ndarray, shape (n,), int32: 0 = cat, 1 = dog
        In the order of ``get_batches(split, image_size, shuffle=False).file_paths``.
    """
    cfg = cfg or config.current()
    _check_split(split)
    height, width = images.check_size(image_size)
    require_prepared(cfg)
    stamp = int((cfg.dataset_dir / "prepare.json").stat().st_mtime_ns)
    cache = cfg.cache_dir / f"{split}_{height}x{width}_{stamp}.npz"
    if cache.is_file():
        with np.load(cache) as stored:
            return stored["x"], stored["y"]
    dataset = get_batches(split, (height, width), batch_size=256, shuffle=False, cfg=cfg)
    xs, ys = [], []
    for batch, labels in dataset:
        xs.append(batch.numpy())
        ys.append(labels.numpy().reshape(-1).astype(np.int32))
    x = np.concatenate(xs) if xs else np.zeros((0, height, width, 3), np.float32)
    y = np.concatenate(ys) if ys else np.zeros((0,), np.int32)
    for old in cfg.cache_dir.glob(f"{split}_{height}x{width}_*.npz"):
        old.unlink(missing_ok=True)
    with files.atomic_open(cache, "wb") as handle:
        np.savez(handle, x=x, y=y)
    return x, y


def get_unlabelled(image_size, batch_size: int | None = None, cfg: config.Profile | None = None):
    """Kaggle's unlabelled ``test1`` images, for a submission, with their ids.

    Returns
    -------
    dataset : tf.data.Dataset
        Yields images only, ``(batch, h, w, 3)`` float32 in [0, 255], in a fixed order.
    ids : numpy.ndarray, shape (n,), int64
        The Kaggle id (``N`` of ``N.jpg``) of each image, in the dataset's order.

    Raises
    ------
    DataNotPreparedError
        If the split has not been prepared.
    DataError
        If the profile has no ``test1`` images.
    """
    import keras

    tf = devices.tensorflow()    # its GPUs hidden on the JAX and PyTorch backends

    cfg = cfg or config.current()
    image_size = images.check_size(image_size)
    require_prepared(cfg)
    folder = cfg.split_dir / "test1"
    if not folder.is_dir() or not any(folder.glob("*.jpg")):
        raise DataError(f"No unlabelled test1 images in {folder}: the source had no test1.zip.")
    dataset = keras.utils.image_dataset_from_directory(
        folder, labels=None, image_size=image_size, batch_size=batch_size or cfg.batch_size,
        shuffle=False, interpolation="bilinear", verbose=False)
    ids = np.array([int(Path(p).stem) for p in dataset.file_paths], dtype=np.int64)
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(pipeline_options()), ids
