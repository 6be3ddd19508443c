"""Two fixes for the JAX backend on a CPU, where XLA:CPU made the course's CNNs 3-5x slower than TensorFlow.

Issue 34, item 9: under ``sample``, notebook 03's ``cnn_small`` (64×64 inputs, batch
32) trained at 7.6 s an epoch on JAX against 1.4 s on TensorFlow, on the same 2
cores. A profile of its training step (``jax.profiler`` with
``--xla_cpu_enable_xprof_traceme=true``, jaxlib 0.10.2) found two causes, each
fixed here; :func:`utils.devices.configure`, which every notebook calls first,
applies both on the JAX backend. ``benchmarks/backend_speed.py`` measures them.

1. The first convolution runs in YNNPACK
   ``configure_xla`` keeps convolutions out of XLA:CPU's YNNPACK fusions
   (:data:`XLA_FLAG`). jaxlib 0.10.2 started sending them there by default; for
   ``cnn_small``'s first layer (3 input channels, 62×62 outputs) that took
   20–27 ms of a 96 ms step, and the step fell to 57–63 ms with XLA's own
   convolutions. XLA reads ``XLA_FLAGS`` when JAX opens its first backend, which
   ``import keras`` does not do: the flag is set before that, only for the jaxlib
   versions known to have it (:data:`XLA_FLAG_JAXLIB`: an unknown flag stops XLA),
   and never over a ``--xla_cpu_experimental_ynn_fusion_type`` of the user's.
   Other flags tried changed nothing measurable or made it slower:
   ``--xla_cpu_use_thunk_runtime=false``, ``--xla_cpu_use_onednn=true``,
   ``--xla_cpu_use_xnnpack=true``, ``--xla_cpu_experimental_onednn_custom_call=true``,
   ``--xla_cpu_multi_thread_eigen=false``; so did ``steps_per_execution=8``.

2. The gradient of max pooling, element by element
   Keras' JAX backend pools with ``lax.reduce_window``, whose gradient XLA:CPU
   computes with ``select_and_scatter_add`` and a pairwise ``reduce_window``
   over values and indices: 55 ms of a 132–152 ms step of ``cnn_small``, 75–91 ms
   for the first pooling's gradient alone in isolation, against 2 ms for the
   same gradient written with reshapes (5–8 ms with a cumulative sum where the
   loop below keeps a running mask). :func:`install` replaces the backend's
   ``max_pool`` for the windows every course model uses, *tiled* ones
   (``strides == pool_size``, ``"valid"`` padding, or ``"same"`` where each side
   divides evenly, which pads nothing): the forward pass is Keras' own
   ``reduce_window`` (the same outputs, bit for bit), and the gradient goes, in
   each window, to its first maximum in row-major order, as
   ``select_and_scatter_add`` and TensorFlow's ``MaxPoolGrad`` send it: the
   same gradients, computed with reshapes, comparisons and a running "seen" mask,
   which XLA vectorises. Overlapping windows keep Keras' implementation.
   Installed when JAX has no accelerator; forward-mode differentiation
   (``jax.jvp``) of a tiled max pool is not available while it is (a
   ``jax.custom_vjp``); Keras' training never uses it.

Nothing here changes TensorFlow or PyTorch.
"""

from __future__ import annotations

import functools
import math
import os
import re

#: Keeps convolutions out of XLA:CPU's YNNPACK fusions (the ``-`` removes one type from the default list).
XLA_FLAG = "--xla_cpu_experimental_ynn_fusion_type=-individual_convolution"
_FLAG_NAME = XLA_FLAG.split("=", 1)[0]
#: jaxlib versions that send convolutions to YNNPACK and know the flag: from 0.10.2 (the first to
#: fuse by default), below 0.12 (0.11.0 and 0.11.2 have it too; a later one may not).
XLA_FLAG_JAXLIB = ((0, 10, 2), (0, 12))

_original = None


def _version_tuple(text: str) -> tuple:
    """``"0.10.2"`` → ``(0, 10, 2)``; a suffix (``"0.11.0rc1"``, ``"0.4.35.dev"``) ends the numbers."""
    match = re.match(r"\d+(?:\.\d+)*", str(text).strip())
    return tuple(int(n) for n in match.group(0).split(".")[:3]) if match else ()


def needs_xla_flag(jaxlib_version: str) -> bool:
    """Whether :data:`XLA_FLAG` applies to this jaxlib version (:data:`XLA_FLAG_JAXLIB`)."""
    low, high = XLA_FLAG_JAXLIB
    return low <= _version_tuple(jaxlib_version) < high


def backend_started() -> bool:
    """Whether JAX has opened its backends (after which ``XLA_FLAGS`` is read no more)."""
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):   # another jax layout: assume the worst
        return True


def configure_xla(environ=None, jaxlib_version: str | None = None) -> str:
    """Add :data:`XLA_FLAG` to ``XLA_FLAGS`` of ``environ`` (default ``os.environ``); say what happened.

    Call it before JAX opens its backends (:func:`utils.devices.configure` does).

    Returns
    -------
    str
        ``"set"``; ``"set, too late"`` when JAX had already opened its backends
        (the flag then only reaches processes started from this one);
        ``"user's own"`` when ``XLA_FLAGS`` already names the flag;
        ``"not this jaxlib"`` outside :data:`XLA_FLAG_JAXLIB` (nothing to change,
        or a flag XLA might not know).
    """
    environ = os.environ if environ is None else environ
    if jaxlib_version is None:
        import jaxlib.version

        jaxlib_version = jaxlib.version.__version__
    if not needs_xla_flag(jaxlib_version):
        return "not this jaxlib"
    flags = environ.get("XLA_FLAGS", "")
    if any(flag.split("=", 1)[0] == _FLAG_NAME for flag in flags.split()):
        return "user's own"
    environ["XLA_FLAGS"] = f"{flags} {XLA_FLAG}".strip()
    return "set, too late" if backend_started() else "set"


def installed() -> bool:
    """Whether :func:`install` replaced Keras' JAX ``max_pool`` in this process."""
    return _original is not None


def install() -> bool:
    """Route Keras' JAX ``max_pool`` through :func:`max_pool`; idempotent. True once installed.

    Only imports ``keras.src.backend.jax.nn`` (JAX itself): call it under the
    JAX backend.
    """
    global _original
    if _original is None:
        from keras.src.backend.jax import nn

        _original = nn.max_pool
        nn.max_pool = max_pool
    return True


def uninstall() -> None:
    """Put Keras' own JAX ``max_pool`` back (benchmarks and tests)."""
    global _original
    if _original is not None:
        from keras.src.backend.jax import nn

        nn.max_pool = _original
        _original = None


def tiled_window(shape, pool_size, strides=None, padding="valid", data_format=None):
    """The window of a tiled max pool of an input of ``shape``, or None when it is not one.

    Returns
    -------
    tuple or None
        ``(window, channels_last)``: ``window`` the pooled size along each spatial
        axis.
    """
    from keras.src import backend

    channels_last = backend.standardize_data_format(data_format) == "channels_last"
    spatial = tuple(shape[1:-1] if channels_last else shape[2:])
    size = (pool_size,) * len(spatial) if isinstance(pool_size, int) else tuple(pool_size)
    step = size if strides is None else ((strides,) * len(spatial) if isinstance(strides, int) else tuple(strides))
    if len(size) != len(spatial) or step != size or any(not isinstance(d, int) for d in spatial):
        return None
    if str(padding).lower() == "same" and any(d % p for d, p in zip(spatial, size)):
        return None
    if str(padding).lower() not in ("same", "valid") or any(d < p for d, p in zip(spatial, size)):
        return None
    return tuple(int(p) for p in size), channels_last


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """Keras' JAX ``max_pool``, with the fast gradient for tiled windows (:func:`tiled_window`)."""
    import jax.numpy as jnp

    inputs = jnp.asarray(inputs)
    tiled = tiled_window(inputs.shape, pool_size, strides, padding, data_format)
    if tiled is None:
        return _keras_max_pool(inputs, pool_size, strides, padding, data_format)
    return _tiled_max_pool(inputs, *tiled)


def _keras_max_pool(*args):
    if _original is not None:
        return _original(*args)
    from keras.src.backend.jax import nn

    return nn.max_pool(*args)


def _reduce(inputs, window, channels_last):
    import jax.numpy as jnp
    from jax import lax

    dims = (1, *window, 1) if channels_last else (1, 1, *window)
    return lax.reduce_window(inputs, -jnp.inf, lax.max, dims, dims, "VALID")


@functools.lru_cache(maxsize=None)
def _tiled_function():
    import jax

    @functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
    def pool(inputs, window, channels_last):
        return _reduce(inputs, window, channels_last)

    def forward(inputs, window, channels_last):
        outputs = _reduce(inputs, window, channels_last)
        return outputs, (inputs, outputs)

    def backward(window, channels_last, saved, grad):
        return (_first_max_gradient(*saved, grad, window, channels_last),)

    pool.defvjp(forward, backward)
    return pool


def _tiled_max_pool(inputs, window, channels_last):
    return _tiled_function()(inputs, window, channels_last)


def _first_max_gradient(inputs, outputs, grad, window, channels_last):
    """d(outputs)/d(inputs)·grad: each window's gradient to its first maximum (row-major order)."""
    import jax.numpy as jnp

    first_axis = 1 if channels_last else 2
    n = len(window)
    spatial = inputs.shape[first_axis:first_axis + n]
    pooled = tuple(d // p for d, p in zip(spatial, window))
    # crop what "valid" pooling drops, then split each spatial axis into (pooled, window)
    cropped = inputs[(slice(None),) * first_axis + tuple(slice(0, o * p) for o, p in zip(pooled, window))]
    split = [a for o, p in zip(pooled, window) for a in (o, p)]
    head, tail = inputs.shape[:first_axis], inputs.shape[first_axis + n:]
    tiles = cropped.reshape(*head, *split, *tail)
    window_axes = [first_axis + 2 * i + 1 for i in range(n)]
    kept_axes = [a for a in range(tiles.ndim) if a not in window_axes]
    order = kept_axes + window_axes
    # outputs' shape is that of the kept axes: one maximum per tile
    at_max = jnp.transpose(tiles, order).reshape(*outputs.shape, math.prod(window)) == outputs[..., None]
    first, seen = [], jnp.zeros(outputs.shape, bool)
    for k in range(math.prod(window)):       # a handful: 4 for 2×2 windows, unrolled into one loop fusion
        first.append(at_max[..., k] & ~seen)
        seen = seen | at_max[..., k]
    first = jnp.stack(first, axis=-1)
    spread = jnp.where(first, grad[..., None], jnp.zeros((), grad.dtype))
    spread = jnp.transpose(spread.reshape(*outputs.shape, *window), _inverse(order)).reshape(cropped.shape)
    pad = [(0, 0)] * inputs.ndim
    for i, (d, o, p) in enumerate(zip(spatial, pooled, window)):
        pad[first_axis + i] = (0, d - o * p)
    return jnp.pad(spread, pad).astype(inputs.dtype)


def _inverse(order):
    inverse = [0] * len(order)
    for position, axis in enumerate(order):
        inverse[axis] = position
    return inverse
