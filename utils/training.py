"""Training plumbing: ``model.fit`` with the learner's callbacks, timed and logged.

The callbacks that change training (``ModelCheckpoint``, ``EarlyStopping``, a
schedule) are written in the notebooks' cells (notebook 03 introduces them)
and passed to :func:`fit`, which only adds an epoch timer (for the results
records, :func:`utils.evaluate.record_fields`) and TensorBoard logs.
"""

from __future__ import annotations

import math
import shutil
import sys
import time
from pathlib import Path

from utils import loading
from utils.progress import bar as progress_bar

#: Verbosity of :func:`fit` in notebooks: ``"progress"``, one line per model
#: that moves with each epoch (Keras' own ``verbose=2`` prints a line per
#: epoch: 100 lines for a 100-epoch run, a flood in an executed notebook).
DEFAULT_VERBOSE = "progress"

#: The metrics the progress line shows, in this order, when the run logs them.
PROGRESS_METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")

#: The progress line: epochs done, time spent and left, the last epoch's metrics.
PROGRESS_FORMAT = "{desc}: epoch {n_fmt}/{total_fmt} [{elapsed}<{remaining}]{postfix}"


def _epoch_progress_class():
    """Define the Keras callback lazily, so importing this module imports no Keras."""
    import keras

    class EpochProgress(keras.callbacks.Callback):
        """One progress line for a whole run, updated at the end of each epoch.

        Shows ``model_id: epoch 7/20 [00:14<00:26] loss 0.52 · accuracy 0.74 ·
        val_loss 0.55 · val_accuracy 0.72``: a widget in Jupyter with
        ipywidgets, text (on standard output) elsewhere. It observes only.
        """

        def __init__(self, model_id, epochs):
            super().__init__()
            self.model_id, self.epochs, self.bar = model_id, epochs, None

        def on_train_begin(self, logs=None):
            self.bar = progress_bar(total=self.epochs, desc=self.model_id, unit="epoch", file=sys.stdout,
                                    mininterval=0, bar_format=PROGRESS_FORMAT)

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            shown = [f"{name} {float(logs[name]):.4g}" for name in PROGRESS_METRICS if name in logs]
            self.bar.set_postfix_str(" · ".join(shown), refresh=False)
            self.bar.update(1)

        def on_train_end(self, logs=None):
            if self.bar is not None:
                self.bar.close()

    return EpochProgress


def epoch_progress(model_id, epochs):
    """A new progress-line callback for a run of at most ``epochs`` epochs (see :func:`fit`)."""
    return _epoch_progress_class()(model_id, epochs)


def _epoch_timer_class():
    """Define the Keras callback lazily, so importing this module imports no Keras."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        """Wall-clock seconds of each epoch, and of its validation pass.

        Attributes
        ----------
        epoch_seconds : list of float
            Seconds of each epoch: training batches + validation.
        validation_seconds : list of float
            Seconds of each epoch's validation pass (0 when there is none).
        """

        def __init__(self):
            super().__init__()
            self.epoch_seconds = []
            self.validation_seconds = []
            self._epoch_start = None
            self._test_start = None
            self._test_seconds = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch_start = time.perf_counter()
            self._test_seconds = 0.0

        def on_test_begin(self, logs=None):
            self._test_start = time.perf_counter()

        def on_test_end(self, logs=None):
            if self._test_start is not None:
                self._test_seconds += time.perf_counter() - self._test_start
                self._test_start = None

        def on_epoch_end(self, epoch, logs=None):
            self.epoch_seconds.append(time.perf_counter() - self._epoch_start)
            self.validation_seconds.append(self._test_seconds)

    return EpochTimer


def epoch_timer():
    """A new :class:`EpochTimer` callback (see :func:`fit`)."""
    return _epoch_timer_class()()


def tensorboard_callback(log_dir):
    """A ``keras.callbacks.TensorBoard`` writing to ``log_dir``, emptied first.

    Scalars (loss, accuracy and their ``val_`` twins) once per epoch, and the
    model's graph on the TensorFlow backend (JAX and PyTorch give none to
    TensorBoard). One folder per model id, rewritten by each run as the
    checkpoint is, so TensorBoard never shows two runs of one model on top of
    each other. Open them with ``make tensorboard``.

    Parameters
    ----------
    log_dir : str or pathlib.Path
        e.g. ``cfg.logs_dir / "cnn_small"``; holds ``train/`` and
        ``validation/`` event files afterwards.

    Returns
    -------
    keras.callbacks.TensorBoard
    """
    import keras

    log_dir = Path(log_dir)
    if log_dir.exists():
        shutil.rmtree(log_dir)
    log_dir.mkdir(parents=True)
    return keras.callbacks.TensorBoard(log_dir=str(log_dir), histogram_freq=0,
                                       write_graph=keras.backend.backend() == "tensorflow",
                                       update_freq="epoch")


def count_examples(data) -> int | None:
    """Number of examples in ``data`` without reading the images, if it can tell.

    Parameters
    ----------
    data : tf.data.Dataset or tuple (x, y) of arrays
        A dataset from :func:`utils.loading.get_batches` (which carries
        ``file_paths``) or in-memory arrays.

    Returns
    -------
    int or None
        ``len(data.file_paths)`` or ``len(x)``; None when unknown.
    """
    if isinstance(data, (tuple, list)):
        return len(data[0])
    paths = getattr(data, "file_paths", None)
    if paths is not None:
        return len(paths)
    return None


def _check_arguments(epochs, monitor, callbacks):
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, not {epochs!r}")
    if monitor not in ("val_accuracy", "val_loss", "accuracy", "loss"):
        raise ValueError(f"monitor must be val_accuracy, val_loss, accuracy or loss, not {monitor!r}")
    if isinstance(callbacks, (str, bytes)) or not hasattr(callbacks, "__iter__"):
        raise ValueError(f"callbacks must be a list of keras callbacks, not {callbacks!r}")


def fit(model, train_ds, valid_ds, *, epochs, cfg, callbacks=(), model_id=None,
        monitor="val_accuracy", verbose=DEFAULT_VERBOSE, batch_size=None, tensorboard=True):
    """``model.fit`` with the learner's callbacks, timing every epoch and logging to TensorBoard.

    This function adds no callback that changes training: checkpoints, early
    stopping and learning-rate schedules are the learner's, built in the
    notebook's cell and passed in ``callbacks`` (notebook 03 shows how). It
    adds two that observe: an epoch timer (for the results record) and,
    with ``tensorboard``, a ``keras.callbacks.TensorBoard`` writing to
    ``cfg.logs_dir / model_id`` (:func:`tensorboard_callback`); and
    ``keras.callbacks.TerminateOnNaN``, which stops the run at a batch whose
    loss is not finite: no later step can undo a NaN, so every epoch after it
    would only predict one class. Then one printed paragraph says which epoch
    and what to do (:func:`nan_advice`). The model holds
    the *last* epoch's weights afterwards, as after ``model.fit``; to keep the
    best epoch, pass a ``keras.callbacks.ModelCheckpoint`` and load its file back.

    Parameters
    ----------
    model : keras.Model
        A compiled model (loss and an ``accuracy`` metric).
    train_ds, valid_ds : tf.data.Dataset or tuple (x, y) of numpy arrays
        Batches of ``(images, labels)`` (as from :func:`utils.loading.get_batches`),
        or in-memory arrays: ``x`` float32 ``(n, h, w, 3)``, ``y`` ``(n,)`` or
        ``(n, 1)``, shuffled each epoch and cut in ``batch_size`` batches
        (:func:`utils.loading.array_batches`, with the course's ``tf.data`` options).
        ``valid_ds`` may be None only when ``monitor`` is ``accuracy`` or ``loss``.
    epochs : int
        The most epochs to run (keyword only), ≥ 1.
    cfg : utils.config.Profile
        Gives ``logs_dir`` and, for arrays, ``batch_size``.
    callbacks : sequence of keras.callbacks.Callback, default ()
        The learner's callbacks, passed to ``model.fit`` as they are.
    model_id : str, optional
        Name of the TensorBoard folder; default ``model.name``.
    monitor : {"val_accuracy", "val_loss", "accuracy", "loss"}, default "val_accuracy"
        Only for ``timing["best_epoch"]``: the epoch with the highest accuracy
        (or lowest loss). It changes nothing in training.
    verbose : "progress", int or "auto", default "progress"
        ``"progress"``: one line for the run, moved on at each epoch
        (:func:`epoch_progress`); otherwise passed to ``model.fit`` (2: one
        line per epoch; 0: silent).
    batch_size : int, optional
        For in-memory arrays only; default ``cfg.batch_size``.
    tensorboard : bool, default True
        Write TensorBoard logs to ``cfg.logs_dir / model_id``.

    Returns
    -------
    history : keras.callbacks.History
        ``history.history`` maps ``loss``, ``accuracy``, ``val_loss``,
        ``val_accuracy`` to one value per epoch run.
    timing : dict
        ``train_seconds`` (float, wall-clock seconds of the whole ``fit``),
        ``seconds_per_epoch`` (mean wall-clock seconds of one epoch, validation
        included), ``images_per_second`` (training images per second of
        training, validation excluded; None when the number of training images
        is unknown), ``epochs_run`` (int, fewer than ``epochs`` when a callback
        stopped training), ``best_epoch`` (int, 1-based, by ``monitor``),
        ``valid_accuracy`` and ``valid_log_loss`` (float at the best epoch, or
        None without a validation set),
        ``epoch_seconds`` (list), ``train_count`` (int or None), ``log_dir``
        (str or None: the TensorBoard folder).

    Raises
    ------
    ValueError
        If ``epochs``, ``monitor`` or ``callbacks`` is invalid, or ``model`` is
        not compiled, or ``valid_ds`` is None with a ``val_`` monitor.
    FloatingPointError
        On PyTorch only, when the loss turned NaN: its binary cross-entropy
        raises on a NaN probability before ``TerminateOnNaN`` sees the loss;
        the message is :func:`nan_advice`'s (the model keeps its weights of
        that step, which are no longer finite).
    """
    import keras

    _check_arguments(epochs, monitor, callbacks)
    if valid_ds is None and monitor.startswith("val_"):
        raise ValueError(f"monitor={monitor!r} needs a validation set; pass valid_ds")
    if not getattr(model, "compiled", False):
        raise ValueError("compile the model first (model.compile(optimizer, loss, metrics))")
    model_id = model_id or model.name
    mode = "min" if monitor.endswith("loss") else "max"

    timer = epoch_timer()
    all_callbacks = [timer, *callbacks, keras.callbacks.TerminateOnNaN()]
    log_dir = Path(cfg.logs_dir) / model_id if tensorboard else None
    if log_dir is not None:
        all_callbacks.append(tensorboard_callback(log_dir))

    if verbose == "progress":
        all_callbacks.append(epoch_progress(model_id, epochs))
        verbose = 0
    kwargs = dict(epochs=epochs, callbacks=all_callbacks, verbose=verbose, shuffle=False)  # datasets shuffle themselves
    batch_size = batch_size or cfg.batch_size
    if isinstance(train_ds, (tuple, list)):   # arrays: as model.fit would batch them, with the course's tf.data options
        kwargs["x"] = loading.array_batches(*train_ds, batch_size=batch_size, shuffle=True, seed=cfg.seed)
    else:
        kwargs["x"] = train_ds
    if isinstance(valid_ds, (tuple, list)):
        kwargs["validation_data"] = loading.array_batches(*valid_ds, batch_size=batch_size)
    elif valid_ds is not None:
        kwargs["validation_data"] = valid_ds

    start = time.perf_counter()
    try:
        history = model.fit(**kwargs)
    except RuntimeError as error:      # PyTorch: its binary cross-entropy raises on a NaN probability
        if keras.backend.backend() == "torch" and "between 0 and 1" in str(error):
            raise FloatingPointError(nan_advice(model_id, len(timer.epoch_seconds) + 1, raised=True)) from error
        raise
    train_seconds = time.perf_counter() - start

    nan_epoch = next((i + 1 for i, loss in enumerate(history.history.get("loss", [])) if not math.isfinite(loss)),
                     None)
    if nan_epoch is not None:
        print(nan_advice(model_id, nan_epoch))
    best_index = _best_index(history.history.get(monitor, []), mode)
    epochs_run = len(timer.epoch_seconds)
    train_count = count_examples(train_ds)
    training_only = [e - v for e, v in zip(timer.epoch_seconds, timer.validation_seconds)]
    images_per_second = None
    if train_count and sum(training_only) > 0:
        images_per_second = train_count * epochs_run / sum(training_only)
    timing = {
        "train_seconds": train_seconds,
        "seconds_per_epoch": sum(timer.epoch_seconds) / epochs_run if epochs_run else math.nan,
        "images_per_second": images_per_second,
        "epochs_run": epochs_run,
        "best_epoch": None if best_index is None else best_index + 1,
        "valid_accuracy": _at(history.history.get("val_accuracy"), best_index),
        "valid_log_loss": _at(history.history.get("val_loss"), best_index),
        "epoch_seconds": list(timer.epoch_seconds),
        "train_count": train_count,
        "log_dir": None if log_dir is None else str(log_dir),
    }
    return history, timing


def nan_advice(model_id: str, epoch: int, *, raised: bool = False) -> str:
    """What :func:`fit` says when ``model_id``'s training loss stopped being finite in ``epoch`` (1-based).

    ``raised``: the backend stopped the run with an error (PyTorch's binary
    cross-entropy on a NaN probability) rather than ``TerminateOnNaN``.
    """
    stopper = ("PyTorch's binary cross-entropy raised an error on the NaN probability" if raised
               else "keras.callbacks.TerminateOnNaN")
    return (f"{model_id}: the training loss became NaN in epoch {epoch}, so training stopped there "
            f"({stopper}): no later step can undo a NaN. A ModelCheckpoint you passed has "
            "kept the best epoch before it; load it back as usual. What to do: run the cell again. On a CPU with "
            "AMX and DOGSCATS_MIXED_PRECISION=1 this can be a fault of oneDNN's bfloat16 kernels, not of the "
            "recipe (benchmarks/README.md, the divergence of seed 44): set ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 "
            "before starting Python, or train in float32. If it happens again at the same epoch, the recipe "
            "itself diverges: lower the learning rate.")


def _at(values, index):
    """``values[index]`` as a float, or None when there is no such value."""
    if not values or index is None or index >= len(values):
        return None
    return float(values[index])


def _best_index(values, mode):
    """Index of the best value (first one on ties), None for an empty list."""
    best = None
    for index, value in enumerate(values):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if best is None or (value > values[best] if mode == "max" else value < values[best]):
            best = index
    return best


def format_timing(timing) -> str:
    """One line such as ``"12 epochs in 95 s (7.9 s/epoch, 310 images/s)"``."""
    rate = timing.get("images_per_second")
    rate_text = f", {rate:.0f} images/s" if rate else ""
    best = timing.get("best_epoch")
    best_text = f"; best epoch {best}" if best else ""
    return (f"{timing['epochs_run']} epochs in {timing['train_seconds']:.0f} s "
            f"({timing['seconds_per_epoch']:.1f} s/epoch{rate_text}){best_text}")
