"""Profiles, paths and seeds: the one place every notebook and test reads.

A *profile* scales the whole course without changing any notebook:

========  ==========================  ===========================================
profile   for                         images used (per class: train/valid/test)
========  ==========================  ===========================================
smoke     CI, nbval, quick checks     40 / 16 / 16, one epoch
sample    learners on a CPU laptop    1,000 / 500 / 500 (the classic 2,000-image
                                      training subset)
full      a GPU, or a patient CPU     all the rest / 500 / 500
========  ==========================  ===========================================

Choose one with the environment variable ``DOGSCATS_PROFILE`` (default
``sample``). Nothing here runs at import time: :func:`current` reads the
environment when it is called.

Every ``DOGSCATS_*`` variable (profile, data and results folders, seed, archive,
devices, ...) is declared in :mod:`utils.settings`, with its type, default and
meaning; the README's table of them is generated from there. ``KERAS_BACKEND``
(tensorflow | jax | torch) is Keras 3's own switch (default tensorflow).
"""

from __future__ import annotations

import dataclasses
import os
import platform
from pathlib import Path

from utils import settings

#: Class names in label order: alphabetical, so ``cats`` = 0 and ``dogs`` = 1,
#: and a sigmoid output is P(dog), Kaggle's ``label``.
CLASS_NAMES = ("cats", "dogs")
#: The labelled splits of the prepared data, in the order the course uses them.
SPLITS = ("train", "valid", "test")

#: Names of the profiles, smallest first (the choices of ``DOGSCATS_PROFILE``).
PROFILE_NAMES = settings.declared("DOGSCATS_PROFILE").choices

#: The project's root folder (the one holding ``utils/``).
PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: The seed when ``DOGSCATS_SEED`` is unset.
DEFAULT_SEED = settings.declared("DOGSCATS_SEED").default

@dataclasses.dataclass(frozen=True)
class Profile:
    """Everything a notebook needs to know about the chosen profile.

    Attributes
    ----------
    name : str
        ``"smoke"``, ``"sample"`` or ``"full"``.
    train_per_class, valid_per_class, test_per_class : int or None
        Images of each class in each split; ``None`` means "all that are left".
    epochs : dict of str to int
        Epochs for each kind of training: ``mlp``, ``cnn``, ``cnn_aug``,
        ``cnn_bn`` (notebook 04's batch-normalised network), ``vgg16_head``,
        ``vgg16_finetune``.
    batch_size : int
        Images per batch.
    image_size : tuple of int
        ``(height, width)`` in pixels of the from-scratch CNNs' inputs
        (notebooks 03 and 04): 64×64 under ``sample``, where a 2-core CPU
        trains them fastest per minute of accuracy (``benchmarks/cnn_recipes.py``),
        128×128 under ``full``. The pretrained networks of 05 and 06 choose
        their own (``utils.vgg16.vgg_image_size``, ``utils.transfer``).
    test1_limit : int or None
        How many unlabelled Kaggle ``test1`` images to predict (``None``: all,
        as a real submission needs).
    seed : int
        Seed for splits, shuffles and weight initialisation.
    data_dir : pathlib.Path
        Root of downloaded and prepared data (git-ignored).
    results_dir : pathlib.Path
        Root of all results; this profile's live under ``results_dir / name``.
    archive : pathlib.Path or None
        ``DOGSCATS_ARCHIVE`` if set.
    """

    name: str
    train_per_class: int | None
    valid_per_class: int
    test_per_class: int
    epochs: dict
    batch_size: int
    image_size: tuple
    test1_limit: int | None
    seed: int = DEFAULT_SEED
    data_dir: Path = PROJECT_ROOT / "data"
    results_dir: Path = PROJECT_ROOT / "results"
    archive: Path | None = None

    # -- derived paths -------------------------------------------------------
    @property
    def dataset_dir(self) -> Path:
        """Root of the prepared split: ``data/dogscats`` (holds the full split)."""
        return self.data_dir / "dogscats"

    @property
    def split_dir(self) -> Path:
        """Folder holding this profile's ``train/valid/test/test1`` folders.

        ``data/dogscats`` for ``full``, ``data/dogscats/sample`` and
        ``data/dogscats/smoke`` for the others (each a subset of the full split,
        so no image changes split between profiles).
        """
        if self.name == "full":
            return self.dataset_dir
        return self.dataset_dir / self.name

    @property
    def profile_results_dir(self) -> Path:
        """``results/<profile>``: records, models, figures, executed notebooks.

        One folder per profile, so switching profile never mixes results.
        """
        return self.results_dir / self.name

    @property
    def models_dir(self) -> Path:
        """``results/<profile>/models``: saved ``<model_id>.keras`` files."""
        return self.profile_results_dir / "models"

    @property
    def logs_dir(self) -> Path:
        """``results/<profile>/logs``: TensorBoard logs, one folder per model id
        (``make tensorboard`` opens them)."""
        return self.profile_results_dir / "logs"

    @property
    def figures_dir(self) -> Path:
        """``results/<profile>/figures``: saved figures."""
        return self.profile_results_dir / "figures"

    @property
    def submissions_dir(self) -> Path:
        """``results/<profile>/submissions``: Kaggle CSV files."""
        return self.profile_results_dir / "submissions"

    @property
    def cache_dir(self) -> Path:
        """``data/cache/<profile>``: arrays cached by :func:`utils.loading.load_arrays`."""
        return self.data_dir / "cache" / self.name


_PROFILES = {
    "smoke": dict(
        train_per_class=40,
        valid_per_class=16,
        test_per_class=16,
        epochs=dict(mlp=1, cnn=1, cnn_aug=1, cnn_bn=1, vgg16_head=1, vgg16_finetune=1),
        batch_size=16,
        image_size=(64, 64),
        test1_limit=24,
    ),
    "sample": dict(
        train_per_class=1000,
        valid_per_class=500,
        test_per_class=500,
        epochs=dict(mlp=10, cnn=20, cnn_aug=100, cnn_bn=70, vgg16_head=3, vgg16_finetune=3),
        batch_size=32,
        image_size=(64, 64),
        test1_limit=500,
    ),
    "full": dict(
        train_per_class=None,
        valid_per_class=500,
        test_per_class=500,
        epochs=dict(mlp=20, cnn=30, cnn_aug=60, cnn_bn=30, vgg16_head=3, vgg16_finetune=4),
        batch_size=64,
        image_size=(128, 128),
        test1_limit=None,
    ),
}


def _resolve(path: Path) -> Path:
    """A path from the environment: relative to the working folder, else to the project.

    Notebooks run with ``notebooks/`` as their working folder while a learner types
    paths relative to the project (``DOGSCATS_ARCHIVE=../shared/... make course``).
    """
    path = Path(path).expanduser()
    if path.is_absolute() or path.exists():
        return path.resolve()
    from_root = (PROJECT_ROOT / path).resolve()
    return from_root if from_root.exists() else path.resolve()


def get_profile(name: str, **overrides) -> Profile:
    """Build the profile called ``name`` with paths taken from the environment.

    Parameters
    ----------
    name : str
        One of :data:`PROFILE_NAMES`.
    **overrides
        Any :class:`Profile` field, e.g. ``data_dir=tmp_path`` in a test.

    Raises
    ------
    ValueError
        If ``name`` is not a profile, or a ``DOGSCATS_*`` variable it reads
        (data, results, archive, seed, devices) has a bad value
        (:func:`utils.settings.read`).
    """
    if name not in _PROFILES:
        raise ValueError(
            f"Unknown profile {name!r}: set DOGSCATS_PROFILE to one of "
            f"{', '.join(PROFILE_NAMES)}."
        )
    data_dir = settings.read("DOGSCATS_DATA")
    results_dir = settings.read("DOGSCATS_RESULTS")
    archive = settings.read("DOGSCATS_ARCHIVE")
    fields = dict(_PROFILES[name])
    fields["epochs"] = dict(fields["epochs"])
    fields.update(
        name=name,
        seed=settings.read("DOGSCATS_SEED"),
        data_dir=data_dir.resolve() if data_dir else PROJECT_ROOT / "data",
        results_dir=results_dir.resolve() if results_dir else PROJECT_ROOT / "results",
        archive=_resolve(archive) if archive else None,
    )
    if settings.read("DOGSCATS_DEVICES") == "all":
        from . import devices   # one batch per device: the global batch grows with them

        fields["batch_size"] = devices.scale_batch_size(fields["batch_size"])
    fields.update(overrides)
    return Profile(**fields)


def current(**overrides) -> Profile:
    """The profile named by ``DOGSCATS_PROFILE`` (default ``sample``).

    Raises
    ------
    ValueError
        If ``DOGSCATS_PROFILE`` names no profile (or another setting is bad:
        :func:`get_profile`).
    """
    return get_profile(settings.read("DOGSCATS_PROFILE"), **overrides)


def seed_everything(cfg: Profile) -> int:
    """Seed Python, NumPy and the Keras backend from ``cfg.seed``; return it.

    Call it in the cell that builds a model, so every run starts from the same
    weights and the same shuffles. Under ``smoke`` (the profile of the tests and
    their golden notebooks) TensorFlow's op determinism is switched on too, so a
    training run repeats to the last digit on the same machine; it is left off
    for ``sample`` and ``full``, where it would cost speed. The JAX and PyTorch
    backends have no such switch (see ``tests/golden/README.md``).
    """
    import keras

    keras.utils.set_random_seed(cfg.seed)
    if cfg.name == "smoke" and backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    return cfg.seed


def versions() -> dict:
    """Versions of Python and of the libraries the course relies on.

    Returns
    -------
    dict of str to str
        ``{"python": "3.11.7", "keras backend": "jax", "tensorflow": ..., "keras": ...,
        "jax": ..., "torch": ..., ...}``; a library that is missing reads ``"not installed"``.
    """
    from importlib import metadata

    found = {"python": platform.python_version(), "keras backend": backend()}
    for package in ("tensorflow", "keras", "jax", "torch", "numpy", "pandas", "scikit-learn",
                    "matplotlib", "pillow"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            # tensorflow-cpu installs as another distribution name
            try:
                found[package] = metadata.version(package + "-cpu")
            except metadata.PackageNotFoundError:
                found[package] = "not installed"
    return found


def backend() -> str:
    """The Keras backend in use: ``"tensorflow"``, ``"jax"`` or ``"torch"``.

    Keras reads ``KERAS_BACKEND`` (else ``~/.keras/keras.json``) once, when it is
    first imported: set it before the first ``import keras`` (in a notebook:
    before starting Jupyter, or in its first cell). Where Keras is not imported
    yet, this decides as Keras will (:func:`utils.kerascache.configured_backend`)
    without importing it, so that asking costs no TensorFlow start-up.
    """
    import sys

    if "keras" not in sys.modules:
        from utils import kerascache

        return kerascache.configured_backend()
    import keras

    return keras.backend.backend()


def hardware() -> dict:
    """What this run computes on.

    Returns
    -------
    dict
        ``{"cpu": str, "cpu_cores": int, "gpus": list of str, "platform": str}``;
        ``gpus`` as the active Keras backend sees them.
    """
    from . import devices

    gpus = devices.accelerators()
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cpu_cores": cores, "gpus": gpus, "platform": platform.platform()}


def describe_hardware(info: dict | None = None) -> str:
    """One line such as ``"CPU (2 cores: Intel Xeon ...)"`` or ``"GPU: ..."``."""
    info = info or hardware()
    if info["gpus"]:
        return f"GPU: {', '.join(info['gpus'])} + {info['cpu_cores']} CPU cores"
    return f"CPU only ({info['cpu_cores']} cores: {info['cpu']})"


def report(cfg: Profile) -> None:
    """Print the profile, library versions, backend, CPU/GPU, devices, data folder and seed.

    Every notebook's setup cell calls it, so an executed notebook always says
    what it ran on. It only reports: it changes no setting. Where training runs
    and in which precision (``DOGSCATS_DEVICES``, ``DOGSCATS_MIXED_PRECISION``)
    is applied by :func:`utils.devices.configure`, which the setup cell calls
    first; before that call the line says what is requested.

    Raises
    ------
    ValueError
        If ``DOGSCATS_DEVICES`` or ``DOGSCATS_MIXED_PRECISION`` has a bad value.
    """
    found = versions()
    print(f"Profile     : {cfg.name}  (set DOGSCATS_PROFILE=smoke|sample|full to change)")
    sizes = "/".join(
        "all" if n is None else str(n)
        for n in (cfg.train_per_class, cfg.valid_per_class, cfg.test_per_class)
    )
    print(f"Images      : {sizes} per class (train/valid/test)")
    print(f"Python      : {found['python']}   Keras: {found['keras']}   "
          f"NumPy: {found['numpy']}   TensorFlow: {found['tensorflow']}")
    print(f"Backend     : {found['keras backend']}  (set KERAS_BACKEND=tensorflow|jax|torch "
          "before starting Jupyter to change)")
    print(f"Hardware    : {describe_hardware()}")
    from . import devices

    print(f"Devices     : {devices.describe_current()}")
    prepared = (cfg.split_dir / "train").is_dir()
    print(f"Data folder : {cfg.split_dir}  ({'prepared' if prepared else 'not prepared yet: run 01_data_preparation'})")
    print(f"Results     : {cfg.profile_results_dir}")
    print(f"Seed        : {cfg.seed}")
