"""Predict cat or dog for one photo of your own: a path, a URL or bytes.

The photo goes through the same steps as the training images
(:func:`utils.loading.get_batches` / :func:`utils.loading.load_image`): decoded to
RGB, resized bilinearly to the model's input size without keeping the aspect
ratio, float32 in [0, 255]; the model does its own scaling inside.
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from utils import config, devices, evaluate, images

#: Largest download or file accepted, in bytes.
MAX_BYTES = 50 * 1024 * 1024

#: Seconds to wait for a URL: for each answer of the server, and for the whole download.
URL_TIMEOUT = 20.0

#: A photo at least twice this size (width, height) is decoded at a reduced
#: scale when it is a JPEG (a 100-megapixel photo then costs a few MB); the
#: model sees a 128 x 128 or 224 x 224 image anyway.
DECODE_REDUCE_TO = (1024, 1024)


def read_source(source) -> bytes:
    """The bytes of an image given as a path, an ``http(s)`` URL or bytes.

    Raises
    ------
    FileNotFoundError
        If a path does not exist.
    ConnectionError
        If a URL cannot be fetched (offline, server error); the message says
        to download the photo and pass its path instead.
    ValueError
        If the content is empty or larger than :data:`MAX_BYTES`.
    TypeError
        If ``source`` is none of the above.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        content = bytes(source)
        where = "the bytes given"
    elif isinstance(source, str) and source.lower().startswith(("http://", "https://")):
        content = _download(source)
        where = source
    elif isinstance(source, (str, Path)):
        path = Path(source).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"no image file at {path}")
        if path.stat().st_size > MAX_BYTES:
            raise ValueError(f"{path} is larger than {MAX_BYTES // 2**20} MB: not a photo?")
        content = path.read_bytes()
        where = str(path)
    else:
        raise TypeError("source must be a file path, an http(s) URL or bytes, "
                        f"not {type(source).__name__}")
    if not content:
        raise ValueError(f"{where} is empty (0 bytes): not an image")
    if len(content) > MAX_BYTES:
        raise ValueError(f"{where} is larger than {MAX_BYTES // 2**20} MB: not a photo?")
    return content


def _download(url: str) -> bytes:
    """The bytes at ``url``, within :data:`URL_TIMEOUT` seconds and :data:`MAX_BYTES`."""
    request = urllib.request.Request(url, headers={"User-Agent": "dogscats-course/1.0"})
    advice = "Offline? Save the photo in my_photos/ and pass its path instead."
    deadline = time.monotonic() + URL_TIMEOUT
    chunks, size = [], 0
    try:
        with urllib.request.urlopen(request, timeout=URL_TIMEOUT) as response:
            read = getattr(response, "read1", response.read)  # what has arrived, not 64 kB
            while chunk := read(1 << 16):
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_BYTES:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the download took more than {URL_TIMEOUT:g} s")
    except (TimeoutError, socket.timeout) as error:
        raise ConnectionError(f"could not download {url}: no complete answer within "
                              f"{URL_TIMEOUT:g} s ({error or 'timed out'}). {advice}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise ConnectionError(f"could not download {url}: {reason}. {advice}") from None
    return b"".join(chunks)


def decode_image(content: bytes) -> np.ndarray:
    """Decode image bytes to an upright RGB array, as the data preparation does.

    :func:`utils.images.decode`, the decoder of :func:`utils.data.prepare`:
    JPEG, PNG, WebP, GIF (first frame), BMP, MPO (a phone's two-frame JPEG:
    its first frame); grayscale, palette, CMYK; transparency put on a white
    background; EXIF orientation applied. HEIC is read only when the optional
    ``pillow-heif`` is installed, otherwise the error says how to convert it.
    A JPEG larger than twice :data:`DECODE_REDUCE_TO` is decoded at a reduced
    scale (no 100-megapixel array in memory); other formats over
    :data:`utils.images.MAX_PIXELS` are refused. A plain upright RGB JPEG of
    ordinary size is decoded by TensorFlow, exactly as the training images are.

    Returns
    -------
    numpy.ndarray, shape (h, w, 3), uint8

    Raises
    ------
    ValueError
        (:class:`utils.images.ImageDecodeError`) If the bytes are not an image,
        are truncated or corrupt, too large, or in an unsupported format; the
        message says which.
    """
    decoded = images.decode(content, reduce_to=DECODE_REDUCE_TO)
    if decoded.plain and not decoded.reduced:
        return _decode_like_training(content)
    array = np.asarray(decoded.image, dtype=np.uint8)
    if array.ndim != 3 or array.shape[0] < 1 or array.shape[1] < 1:
        raise images.ImageDecodeError("the image has no pixels")
    return array


def _decode_like_training(content: bytes) -> np.ndarray:
    """TensorFlow's JPEG decoder, as ``image_dataset_from_directory`` uses."""
    tf = devices.tensorflow()    # its GPUs hidden on the JAX and PyTorch backends

    try:
        image = tf.image.decode_image(content, channels=3, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as error:
        raise ValueError(f"corrupt JPEG: {error.message}") from None
    return image.numpy().astype(np.uint8)


def model_image_size(model) -> tuple[int, int]:
    """``(height, width)`` of a Keras model's input.

    Raises
    ------
    ValueError
        If the model's input is not ``(batch, h, w, 3)`` with known h and w.
    """
    shape = model.input_shape
    if isinstance(shape, list):
        shape = shape[0]
    if len(shape) != 4 or shape[1] is None or shape[2] is None:
        raise ValueError(f"cannot tell the image size from the model's input shape {shape}; "
                         "pass image_size=(height, width)")
    return int(shape[1]), int(shape[2])


def prepare_image(source, image_size) -> np.ndarray:
    """Load ``source`` and resize it as the training images are.

    Parameters
    ----------
    source : str, pathlib.Path or bytes
        A file path, an ``http(s)`` URL or the file's bytes.
    image_size : tuple of int
        ``(height, width)`` in pixels.

    Returns
    -------
    numpy.ndarray, shape (height, width, 3), float32 in [0, 255]
        Bilinear resize, aspect ratio not kept (``tf.image.resize``, as
        :func:`utils.loading.load_image`).
    """
    tf = devices.tensorflow()    # its GPUs hidden on the JAX and PyTorch backends

    height, width = images.check_size(image_size)
    array = decode_image(read_source(source))
    resized = tf.image.resize(array, (height, width), method="bilinear")
    return resized.numpy().astype(np.float32)


def predict_image(model, source, class_names=config.CLASS_NAMES, image_size=None) -> dict:
    """Cat or dog for one photo.

    Parameters
    ----------
    model : keras.Model
        Takes ``(batch, h, w, 3)`` float32 in [0, 255], returns ``(batch, 1)`` P(dog).
    source : str, pathlib.Path or bytes
        A file path, an ``http(s)`` URL (fetched with :mod:`urllib`) or the
        file's bytes. JPEG, PNG, WebP, GIF (first frame), BMP; grayscale,
        RGBA, CMYK; EXIF orientation applied.
    class_names : sequence of two str, default ``("cats", "dogs")``
        Names for output 0 and 1 (the datasets' ``class_names``).
    image_size : tuple of int, optional
        ``(height, width)``; default: the model's input size.

    Returns
    -------
    dict
        ``label`` (the class name), ``p_dog`` (float in [0, 1], P(class 1)),
        ``probability`` (float in [0.5, 1], of ``label``) and ``image``
        (the model's input, ``(h, w, 3)`` float32 in [0, 255], to show or
        explain with Grad-CAM).

    Raises
    ------
    ValueError
        Bad or unsupported image file, or a model whose output is not one
        probability per image.
    FileNotFoundError, ConnectionError
        A missing file, or a URL that cannot be fetched.
    """
    if len(class_names) != 2:
        raise ValueError(f"class_names must name two classes, not {class_names!r}")
    size = tuple(image_size) if image_size is not None else model_image_size(model)
    image = prepare_image(source, size)
    import warnings

    import keras

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=INPUT_STRUCTURE_WARNING)
        # convert_to_numpy, not np.asarray: a PyTorch output may still require grad
        output = keras.ops.convert_to_numpy(model(image[None], training=False))
    if output.shape != (1, 1):
        raise ValueError(f"expected the model to return one P(dog) per image, got shape {output.shape}")
    p_dog = float(output[0, 0])
    if not 0.0 <= p_dog <= 1.0:
        raise ValueError(f"the model's output {p_dog} is not a probability (sigmoid expected)")
    index = int(evaluate.predicted_labels([p_dog])[0])  # the course's one threshold
    return {"label": class_names[index], "p_dog": p_dog,
            "probability": p_dog if index else 1.0 - p_dog, "image": image}


#: Keras warns about this when a model saved with ``inputs=[x]`` gets one array;
#: the call is right, so the warning only adds noise.
INPUT_STRUCTURE_WARNING = "The structure of `inputs` doesn't match the expected structure"


def predict_p_dog(model, images, batch_size: int = 32) -> np.ndarray:
    """P(dog) of a batch of images, in order.

    Parameters
    ----------
    model : keras.Model
        Takes ``(batch, h, w, 3)`` float32 in [0, 255], returns ``(batch, 1)``.
    images : array-like, shape (n, h, w, 3)
        float in [0, 255], the model's input size.
    batch_size : int, default 32

    Returns
    -------
    numpy.ndarray, shape (n,), float32 in [0, 1]

    Raises
    ------
    ValueError
        If ``images`` is not ``(n, h, w, 3)`` or the model does not return one
        value per image.
    """
    import warnings

    array = np.asarray(images, dtype=np.float32)
    if array.ndim != 4 or array.shape[-1] != 3:
        raise ValueError(f"images must be (n, h, w, 3), not {array.shape}")
    if len(array) == 0:
        return np.zeros(0, np.float32)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=INPUT_STRUCTURE_WARNING)
        output = np.asarray(model.predict(array, batch_size=batch_size, verbose=0))
    if output.shape != (len(array), 1):
        raise ValueError(f"expected one P(dog) per image, got shape {output.shape}")
    return output[:, 0].astype(np.float32)


def load_saved_model(cfg: config.Profile, model_id: str):
    """Load ``cfg.models_dir / f"{model_id}.keras"``, or return None if it is not there.

    Loads with :func:`load_model` (the course's own layers known, the ``RandomShear`` fix).

    Raises
    ------
    ValueError
        If the file exists but cannot be loaded (the message names it).
    """
    path = cfg.models_dir / f"{model_id}.keras"
    if not path.is_file():
        return None
    try:
        return load_model(path)
    except Exception as error:  # corrupt file, unknown layer: say which file
        message = str(error).splitlines()[0] if str(error) else ""
        raise ValueError(f"could not load {path}: {type(error).__name__}: {message}") from None


def load_model(path, compile: bool = False):
    """``keras.models.load_model`` with the course's one workaround for the ``RandomShear`` bug.

    Use it (not ``keras.models.load_model``) wherever a saved model may hold
    augmentation layers: see :class:`_symmetric_shear_configs`.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``.keras`` file.
    compile : bool, default False
        Passed to Keras.

    Returns
    -------
    keras.Model

    Notes
    -----
    The course's own layers (VGG16's and Lite0's preprocessing) are known
    by the same rule as for plain ``keras.models.load_model`` after
    ``import utils``: :func:`utils.registration.register`, called here too so
    that a failed registration raises its cause.
    """
    import keras

    from utils import registration

    registration.register()
    with _symmetric_shear_configs():
        return keras.models.load_model(path, compile=compile)


class _symmetric_shear_configs:
    """Let ``RandomShear`` read back its own saved config while a model loads.

    Keras 3 (seen with 3.15) saves ``RandomShear(x_factor=0.2)`` as
    ``x_factor=[-0.2, 0.2]``, which its constructor then refuses ("should be a
    number ... in the range [0, 1.0]"), so a saved model with shear
    augmentation (``cnn_aug``) cannot be loaded. While loading, a symmetric
    range ``[-a, a]`` is given back as ``a``, the value it came from.
    """

    def __enter__(self):
        import keras

        self.layer = getattr(keras.layers, "RandomShear", None)
        if self.layer is None:
            return self
        self.original = self.layer.__dict__.get("from_config")
        original_from_config = self.layer.from_config

        def from_config(cls, config):
            config = dict(config)
            for key in ("x_factor", "y_factor"):
                value = config.get(key)
                if (isinstance(value, (list, tuple)) and len(value) == 2
                        and abs(float(value[0])) == abs(float(value[1]))):
                    config[key] = abs(float(value[1]))
            return original_from_config.__func__(cls, config)

        self.layer.from_config = classmethod(from_config)
        return self

    def __exit__(self, *exc):
        if self.layer is not None:
            if self.original is None:
                del self.layer.from_config
            else:
                self.layer.from_config = self.original
        return False
