"""Where training runs: one device, every GPU of the machine, or several machines.

Two switches (declared in :mod:`utils.settings`), read from the environment when
:func:`configure` is called; every notebook's setup cell calls it, before
:func:`utils.config.report`, which only reports what it set up:

=========================  ==================================================
``DOGSCATS_DEVICES``       ``one`` (default): Keras' own choice, one device.
                           ``all``: data parallelism over every visible
                           accelerator (or every CPU device, for tests):
                           ``keras.distribution.DataParallel`` on JAX,
                           ``tf.distribute.MirroredStrategy`` on TensorFlow.
                           With ``TF_CONFIG`` (TensorFlow) or
                           ``KERAS_DISTRIBUTION_JOB_ADDRESSES`` (JAX) set, the
                           multi-worker route instead:
                           ``MultiWorkerMirroredStrategy`` or
                           ``keras.distribution.initialize``.
``DOGSCATS_MIXED_PRECISION``  ``1``: ``mixed_float16`` on a GPU;
                           ``mixed_bfloat16`` on a CPU whose cores multiply
                           bfloat16 natively (``avx512_bf16`` or ``amx_bf16``
                           in ``/proc/cpuinfo``), TensorFlow backend only;
                           ignored (with a note) on other CPUs, where 16-bit
                           floats are emulated and slower. Default 0.
=========================  ==================================================

Batch size and learning rate: each device gets the profile's batch, so the
global batch is ``batch_size × replicas`` and the learning rate is multiplied
by ``replicas`` too, the "linear scaling rule" (Goyal et al., *Accurate,
Large Minibatch SGD*, 2017, arXiv:1706.02677), which TensorFlow's distributed
training guide and Keras' distribution guide both point to ("scale the batch
size by the number of replicas"). :func:`scale_batch_size` and
:func:`scale_learning_rate` are those two rules; PyTorch runs on one device here.

Which dtype policy ``DOGSCATS_MIXED_PRECISION=1`` sets on this machine is
:mod:`utils.mixed_precision`'s rule; :func:`configure` applies it.

TensorFlow is always here for the ``tf.data`` input pipelines
(:mod:`utils.loading`), whatever the Keras backend. On the JAX and PyTorch
backends it must not take the GPU: :func:`tensorflow` imports it for every
course module that uses it outside the backend, hiding its GPUs first
(:func:`hide_gpus_from_tensorflow`); :func:`configure` calls it too.

Sources: https://keras.io/guides/distribution/ (JAX) and
https://www.tensorflow.org/guide/distributed_training (TensorFlow).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import os
import warnings

from utils import mixed_precision, settings

#: Values of ``DOGSCATS_DEVICES``.
DEVICE_CHOICES = settings.declared("DOGSCATS_DEVICES").choices

_configured = None

#: Whether :func:`tensorflow` has applied :func:`hide_gpus_from_tensorflow` in this process.
_tensorflow_ready = False


@dataclasses.dataclass(frozen=True)
class Plan:
    """What :func:`configure` set up.

    Attributes
    ----------
    backend : str
        ``"tensorflow"``, ``"jax"`` or ``"torch"``.
    mode : str
        ``"one"``, ``"data_parallel"`` or ``"multi_worker"``.
    replicas : int
        Devices that each take a share of every batch (1 for ``one``).
    devices : tuple of str
        Their names.
    mixed_precision : bool
        Whether the global dtype policy is a mixed one.
    policy : str
        The global dtype policy: ``"float32"``, ``"mixed_float16"`` (GPU) or
        ``"mixed_bfloat16"`` (CPU with native bfloat16).
    """

    backend: str
    mode: str = "one"
    replicas: int = 1
    devices: tuple = ()
    mixed_precision: bool = False
    policy: str = "float32"

    def describe(self) -> str:
        """One line such as ``"data_parallel over 2 devices (jax), float32"``."""
        where = f"{self.mode} over {self.replicas} device{'s' if self.replicas != 1 else ''}"
        return f"{where} ({self.backend}), {self.policy}  (DOGSCATS_DEVICES=one|all, DOGSCATS_MIXED_PRECISION=0|1)"


def backend() -> str:
    """The active Keras backend: ``KERAS_BACKEND`` or ``~/.keras/keras.json`` (default tensorflow)."""
    import keras

    return keras.backend.backend()


def accelerators() -> list:
    """Names of the GPUs/TPUs the active backend sees (empty on a CPU-only machine).

    Returns
    -------
    list of str
    """
    name = backend()
    if name == "jax":
        import jax

        return [str(device) for device in jax.devices() if device.platform != "cpu"]
    if name == "torch":
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    import tensorflow as tf

    return [device.name for device in tf.config.list_physical_devices("GPU")]


def hide_gpus_from_tensorflow(tf=None) -> bool:
    """On the JAX and PyTorch backends, let TensorFlow see no GPU: ``tf.config.set_visible_devices([], "GPU")``.

    There TensorFlow only feeds ``tf.data`` pipelines, which run on the CPU;
    a TensorFlow that sees the GPU reserves nearly all of its memory as soon
    as it runs its first operation (its allocator's default), and the backend
    then runs out of memory. JAX's own guide to ``tf.data`` input pipelines
    does the same ("Ensure TF does not see GPU and grab all GPU memory").
    Call it before TensorFlow's first operation: :func:`tensorflow` does.

    Harmless elsewhere: on the TensorFlow backend nothing changes (the GPU is
    Keras'), and on a machine without a GPU there is nothing to hide.

    Parameters
    ----------
    tf : module, optional
        TensorFlow (imported when not given).

    Returns
    -------
    bool
        True when the call was made and TensorFlow accepted it; False on the
        TensorFlow backend, or when TensorFlow had already set up its devices.

    Warns
    -----
    RuntimeWarning
        When TensorFlow had already set up a GPU (some TensorFlow operation
        ran before any course module asked for it): it may hold GPU memory.
    """
    if backend() == "tensorflow":
        return False
    if tf is None:
        import tensorflow as tf
    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError as error:
        # TensorFlow fixes its visible devices when it first runs an operation and refuses any change
        # afterwards ("Visible devices cannot be modified after being initialized"). Too late to hide
        # the GPU then, but no reason to stop a lesson: say so instead. (Without a GPU the list is
        # already empty and TensorFlow accepts the same list again, so this never happens there.)
        warnings.warn(f"TensorFlow set up its GPU before it could be hidden from it ({error}); it may "
                      "hold GPU memory the Keras backend needs. Call utils.devices.configure() before "
                      "running TensorFlow yourself.", RuntimeWarning, stacklevel=2)
        return False
    return True


def tensorflow():
    """TensorFlow for ``tf.data`` and image decoding, its GPUs hidden on the JAX and PyTorch backends.

    The one way course modules import TensorFlow outside the Keras backend
    (:mod:`utils.loading`, :mod:`utils.predict`): the first call applies
    :func:`hide_gpus_from_tensorflow`, so it runs before the first ``tf.data``
    pipeline even when :func:`configure` was skipped. Later calls only return
    the module.

    Returns
    -------
    module
        ``tensorflow``.

    Raises
    ------
    ImportError
        If TensorFlow is not installed.
    """
    global _tensorflow_ready
    import tensorflow as tf

    if not _tensorflow_ready:
        hide_gpus_from_tensorflow(tf)
        _tensorflow_ready = True
    return tf


def requested_devices(environ=None) -> str:
    """``DOGSCATS_DEVICES`` of ``environ`` (default ``os.environ``): ``"one"`` or ``"all"``.

    Raises ValueError for any other value (:func:`utils.settings.read`).
    """
    return settings.read("DOGSCATS_DEVICES", environ)


def configured() -> Plan | None:
    """The :class:`Plan` :func:`configure` set up in this process, or None before its first call.

    Only looks: it imports nothing and changes nothing.
    """
    return _configured


def describe_current(environ=None) -> str:
    """One line on where training runs: the configured plan, or what is requested before it.

    Changes nothing (:func:`utils.config.report` prints it): before
    :func:`configure` has run, the line says what the switches ask for and that
    nothing is applied yet.

    Raises
    ------
    ValueError
        Bad switch values.
    """
    if _configured is not None:
        return _configured.describe()
    wanted = requested_devices(environ)
    mixed = "mixed precision" if mixed_precision.requested(environ) else "float32"
    return (f"not configured yet (DOGSCATS_DEVICES={wanted}, {mixed} requested): "
            "devices.configure() applies it")


def _multi_worker(environ) -> bool:
    return bool(environ.get("TF_CONFIG") or environ.get("KERAS_DISTRIBUTION_JOB_ADDRESSES"))


def _configure_tensorflow(multi_worker):
    import tensorflow as tf

    if multi_worker:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        mode = "multi_worker"
    else:
        gpus = tf.config.list_logical_devices("GPU")
        names = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.MirroredStrategy(names)
        mode = "data_parallel"
    # the default strategy for every model built and trained from now on
    tf.distribute.experimental_set_strategy(strategy)
    names = tuple(str(d) for d in getattr(strategy.extended, "worker_devices", ()))
    return mode, int(strategy.num_replicas_in_sync), names


def _configure_jax(multi_worker):
    import keras

    if multi_worker:
        # reads KERAS_DISTRIBUTION_JOB_ADDRESSES, _NUM_PROCESSES and _PROCESS_ID
        keras.distribution.initialize()
    all_devices = keras.distribution.list_devices()   # the default platform's: GPUs when there are
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=all_devices))
    return ("multi_worker" if multi_worker else "data_parallel"), len(all_devices), tuple(all_devices)


def configure(environ=None, force=False) -> Plan:
    """Apply ``DOGSCATS_DEVICES`` and ``DOGSCATS_MIXED_PRECISION``; call before building a model.

    Idempotent: the first call decides, later calls return the same
    :class:`Plan` (unless ``force``). With both switches at their defaults it
    changes nothing but the level of TensorFlow's Python logger (errors only:
    its retracing notes are not for learners), hides the GPUs from TensorFlow on
    the JAX and PyTorch backends (:func:`tensorflow`) and, on the JAX backend,
    applies :mod:`utils.jax_cpu`'s two fixes for XLA:CPU (convolutions kept out of
    YNNPACK, set before JAX opens its backends; without an accelerator, the same
    max-pooling gradient computed faster).

    Parameters
    ----------
    environ : mapping, optional
        Default ``os.environ``.
    force : bool, default False
        Decide again (tests).

    Returns
    -------
    Plan

    Raises
    ------
    ValueError
        Bad switch values, or ``all`` on the torch backend (not supported here:
        PyTorch's own ``DistributedDataParallel`` needs a launcher).
    """
    global _configured
    if _configured is not None and not force:
        return _configured
    # TensorFlow logs "N out of the last M calls ... triggered tf.function retracing" whenever a
    # lesson builds and fits several models in turn (each model traces its own train step): a
    # note on speed, not a fault, that would flood the lesson's output. Errors still show.
    if backend() == "tensorflow":
        import tensorflow as tf

        tf.get_logger().setLevel(logging.ERROR)   # get_logger first: in Jupyter it sets INFO itself
    environ = os.environ if environ is None else environ
    wanted = requested_devices(environ)
    mixed = mixed_precision.requested(environ)
    name = backend()
    if name != "tensorflow" and importlib.util.find_spec("tensorflow") is not None:
        tensorflow()                                 # tf.data's TensorFlow keeps off the backend's GPU
    if name == "jax":
        # XLA:CPU trained cnn_small 3-5x slower than TensorFlow (issue 34): its YNNPACK convolutions
        # (a flag, read when JAX opens its backends: before anything below opens them) and its
        # gradient of max pooling (the same gradient, computed faster); utils.jax_cpu says more
        from utils import jax_cpu

        jax_cpu.configure_xla()
    mode, replicas, names = "one", 1, ()
    if wanted == "all":
        if name == "tensorflow":
            mode, replicas, names = _configure_tensorflow(_multi_worker(environ))
        elif name == "jax":
            mode, replicas, names = _configure_jax(_multi_worker(environ))
        else:
            raise ValueError(f"DOGSCATS_DEVICES=all works on the jax and tensorflow backends, not {name!r}")
    if name == "jax" and not accelerators():     # after keras.distribution.initialize(), which comes first
        jax_cpu.install()
    policy = "float32"
    if mixed:
        policy = mixed_precision.policy(name, bool(accelerators()), mixed_precision.native_bfloat16())
    if mixed and policy == "float32":
        print("DOGSCATS_MIXED_PRECISION=1 ignored: no GPU, and this CPU has no native bfloat16 "
              "for the tensorflow backend (16-bit floats would be emulated, slower than float32)")
        mixed = False
    if mixed or (_configured is not None and _configured.mixed_precision):   # (forced again: undo the last)
        import keras

        keras.mixed_precision.set_global_policy(policy)
    _configured = Plan(backend=name, mode=mode, replicas=replicas, devices=names, mixed_precision=mixed,
                       policy=policy)
    return _configured


def scale_batch_size(batch_size: int, plan: Plan | None = None) -> int:
    """Global batch size: ``batch_size`` per replica × replicas.

    Raises
    ------
    ValueError
        If ``batch_size`` is not a positive integer.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, not {batch_size!r}")
    plan = plan or configure()
    return batch_size * plan.replicas


def scale_learning_rate(learning_rate: float, plan: Plan | None = None) -> float:
    """Learning rate for the global batch: ``learning_rate × replicas`` (Goyal et al. 2017).

    Raises
    ------
    ValueError
        If ``learning_rate`` is not positive.
    """
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive, not {learning_rate!r}")
    plan = plan or configure()
    return float(learning_rate) * plan.replicas
