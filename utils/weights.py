"""VGG16's ImageNet weight files: where they are looked for, how they are downloaded and loaded.

Looked for, in this order:

1. ``DOGSCATS_VGG16_WEIGHTS``: the path of a Keras VGG16 ``.h5`` weights file
   (either file of :data:`WEIGHTS_FILES`), or a folder holding one;
2. the Keras cache, ``$KERAS_HOME/models`` (default ``~/.keras/models``), where
   ``keras.applications.VGG16(weights="imagenet")`` keeps its download;
3. the normal Keras download (``keras.utils.get_file`` with the file's hash).

When none works, :func:`load_imagenet_weights` raises
:class:`WeightsUnavailableError` (a :class:`utils.errors.LessonSkipped`), whose
message says which file is needed, where to get it and where to put it.
Notebooks 05-06 then run on EfficientNet-Lite0 instead
(:func:`utils.transfer.choose_backbone`); nothing ever runs with random weights.

Source: ``keras.applications.vgg16`` (file names, URLs, hashes).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras

from utils import errors, kerascache, settings

WEIGHTS_ENV = "DOGSCATS_VGG16_WEIGHTS"


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


class WeightsUnavailableError(errors.LessonSkipped):
    """VGG16's ImageNet weights are not on this machine.

    The message says which file is needed, where to get it and where to put it;
    ``make course`` reports the notebook as skipped with it.
    """


def keras_cache_dir() -> Path:
    """The Keras cache of downloaded models (:func:`utils.kerascache.models_dir`)."""
    return kerascache.models_dir()


def _cache_dirs() -> list[Path]:
    """Folders where Keras may have cached a download (:func:`utils.kerascache.models_dirs`)."""
    return kerascache.models_dirs()


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
    path = settings.read(WEIGHTS_ENV)
    if path is not None:
        named = str(path)
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

    Works for ``keras.applications.VGG16`` and for :func:`utils.lessons.build_vgg16` (notebook 05)
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
