"""Shared, tested helpers for the Dogs vs. Cats with Keras course.

The notebooks import modules (``from utils import config, loading, plots``) and
call ``module.name``. One line a module, by job; higher ones import lower ones,
never the reverse.

Settings and files
    settings           every ``DOGSCATS_*`` variable declared once (type, default, meaning); ``read``
    config             profiles (smoke/sample/full), paths, seeds, ``CLASS_NAMES``, ``SPLITS``
    errors             the course's errors: ``LessonSkipped``; the data flow's (``DataError``, ``DiskFullError``...)
    disk               free space, the space check before preparing, "disk full" named as such
    files              atomic writes (``atomic_open``, fsync before rename), atomic ``model.save``
    kerascache         ``$KERAS_HOME`` and Keras' model download caches, computed once
    pyproject          ``pyproject.toml`` read with tomllib (tomli on Python 3.10)
    devices            where training runs (one device, every GPU, several machines); applies the precision
    mixed_precision    the policy ``DOGSCATS_MIXED_PRECISION=1`` asks for: float16 on a GPU, bfloat16 on some CPUs
    jax_cpu            the JAX backend on a CPU: convolutions out of YNNPACK, a fast max-pooling gradient
    dependencies       what the notebooks need installed (pyproject's), pip for what a platform lacks
    cloud              Colab/Kaggle first cell: Drive, what is missing installed, the photos found
    progress           progress bars: tqdm's widget in Jupyter, its text bar elsewhere, never a warning

Data: raw photos → checked split → batches
    archives           safe zip extraction (names, sizes, ratios, nesting)
    sources            where the raw photos come from: a path, ``data/``, the Kaggle API
    images             the one image decoder (MPO, transparency, EXIF, HEIC advice); ``check_size``
    audit              can a file enter the split (``check_image``); hashes, leaks, counts on disk
    splitting          assign identical photos to one split and write folders, subsets, CSVs
    data               ``prepare`` (locked, atomic, resumable), ``is_prepared``, ``read_manifest``
    prerequisites      a notebook opened first: the split prepared, earlier records copied or trained short
    loading            ``get_batches``, ``load_arrays``, ``load_image``, ``get_unlabelled``

Models and training
    conv_arithmetic    a convolution's output size and parameter count, worked out in 03
    lessons            GENERATED from the notebooks' ``#@save`` cells: the MLP (02), the CNNs (03),
                       the augmenter, ``random_affine``/``augment_dataset`` and ``cnn_bn`` (04),
                       VGG16's blocks (05), the transfer head (06), the Grad-CAM gradient (07); never edited by hand
    augmentation       the seeds' augmentation settings, their checks, the seeds' Pillow way
    training           ``fit``: the learner's callbacks, epoch timing, TensorBoard logs
    vgg16              VGG16, the lesson's reference: ImageNet weights, preprocessing, ``compare_models``
    weights            VGG16's ImageNet weight files: lookup, download (offline-aware), loading
    finetune           a new head on a pretrained base, features computed once, splitting, freezing
    transfer           which pretrained backbone 05–06 use; backbone-neutral transfer steps
    efficientnet_lite  EfficientNet-Lite0 in Keras 3 (the CPU-friendly backbone)
    custom_layers      every Keras layer the course defines (VGG16's, Lite0's preprocessing), registered
    registration       those layers known to Keras once ``utils`` is imported, so saved models load
    lite0_weights      Lite0's ImageNet weights: the registry's PyTorch file to a cached Keras file
    torch_weights      read a PyTorch ``state_dict`` into NumPy, with or without torch

Measuring and showing
    evaluate           predictions, metrics, the one decision threshold (``predicted_labels``), errors
    stats              Wilson intervals, exact McNemar: is one model really better?
    claims             a lesson asserts its own point under sample and full (printed under smoke)
    results            one JSON record per trained model: save, read back, the test split's fingerprint
    comparisons        the course's models; record and comparison tables, intervals, paired tests
    references         the committed reference runs (reference/<profile>/): which exist, reading one
    anchors            published figures (theirs, never ours), each with source and split
    predict            cat or dog for one photo (path, URL, bytes); ``load_model`` (RandomShear fix)
    submission         Kaggle submission CSV, clipped probabilities
    gradcam            Grad-CAM heatmaps: where a CNN looked
    plots              figures of images: grids, predictions, augmentations, Grad-CAM, feature maps
    charts             charts of numbers: curves, confusion matrix, trade-offs, sizes, log loss

The runner, publishing and the maintainers' tools are the package :mod:`course`,
which imports ``utils`` and is never imported by it.
"""

__version__ = "0.1.0"

# Plain keras.models.load_model knows the course's layers in any Python that imported utils;
# Keras itself is not imported here (utils.registration).
from utils import registration as _registration  # noqa: E402

_registration.install()
