"""What a notebook needs from the notebooks before it, got here when it was opened first.

On Colab and Kaggle every notebook gets a runtime of its own, and in a clone a
learner may open 06 before 02. Such a notebook lacks two things:

- **the prepared split** (notebook 01): :func:`ensure_prepared` prepares it, or
  finds it already there (preparing is idempotent: :func:`utils.data.prepare`);
- **the records and saved models of earlier notebooks**: :func:`ensure_records`
  gets each missing one in one of two ways, chosen by one switch,
  ``DOGSCATS_MISSING`` (the notebook's cell shows it):

  ``reference`` (default)
      copy the committed record of the course's reference run
      (``reference/<profile>/records/``, :mod:`utils.references`): seconds, and
      the figures are those the README shows. Only a record scored on this
      machine's test photos is copied (a paired test needs the same photos);
      otherwise, and where the notebook needs a saved model (Grad-CAM in 07, say:
      a record is not a model), the short recipe below trains it.
  ``train``
      train the missing model now with a **short recipe** (:data:`SHORT_EPOCHS`
      epochs, the lesson's network and optimizer), saved with its record; the
      record says so in ``recipe``, and every table shows it. Minutes under
      ``sample``, and weaker than the lesson's model: it stands in, it does not
      reproduce the lesson.

Every model it fills in is printed with where it came from. Nothing is ever
overwritten: a record or model the learner made is always kept.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from utils import comparisons, config, data, files, references, results, settings

#: The switch's values (``DOGSCATS_MISSING``).
MISSING_CHOICES = settings.declared("DOGSCATS_MISSING").choices

#: Epochs of the short recipe, at most (the profile's own budget when smaller).
SHORT_EPOCHS = 5

#: The models the short recipe can train, and the notebook whose lesson it shortens.
SHORT_RECIPES = {
    "mlp_pixels": "02_mlp",
    "cnn_small": "03_cnn",
    "cnn_plain": "04_data_augmentation",
    "cnn_aug": "04_data_augmentation",
    "cnn_bn": "04_data_augmentation",
    "efficientnet_lite0_features": "06_vgg16_finetuning",
    "efficientnet_lite0_frozen_aug": "06_vgg16_finetuning",
    "efficientnet_lite0_finetune": "06_vgg16_finetuning",
}


def ensure_prepared(cfg: config.Profile | None = None) -> None:
    """Prepare the split when notebook 01 has not run here; say which it was.

    Prints one line when the split is there; otherwise prepares it
    (:func:`utils.data.prepare`: the photos found by the platform cell,
    ``DOGSCATS_ARCHIVE``, ``data/`` or the Kaggle API) and prints its report,
    with the seconds it took on this machine.

    Raises
    ------
    utils.sources.DataNotFoundError
        No photos anywhere; the message says how to get them.
    """
    cfg = cfg or config.current()
    if data.is_prepared(cfg):
        print(f"The prepared split is here (notebook 01 made it): {cfg.split_dir}")
        return
    print("The prepared split is missing (notebook 01 has not run here): preparing it now, once; "
          "later notebooks reuse it.")
    report = data.prepare(cfg)
    print(report.summary())


def missing_choice(environ=None) -> str:
    """The switch: ``"reference"`` or ``"train"``, from ``DOGSCATS_MISSING`` (default ``"reference"``)."""
    return settings.read("DOGSCATS_MISSING", environ)


def _candidates(model_id: str) -> tuple:
    """``model_id`` and the ids that stand in for it (Lite0's transfer models for VGG16's)."""
    return (model_id, *comparisons.ALTERNATIVES.get(model_id, ()))


def _model_path(cfg, model_id: str) -> Path:
    return cfg.models_dir / f"{model_id}.keras"


def ensure_records(cfg: config.Profile, model_ids, *, models=(), missing: str | None = None) -> dict:
    """Make sure ``cfg``'s profile has a record of each of ``model_ids`` and a saved model of each of ``models``.

    Parameters
    ----------
    cfg : utils.config.Profile
    model_ids : iterable of str
        Records the notebook reads (e.g. ``["mlp_pixels"]``); a VGG16 transfer
        id is also satisfied by its EfficientNet-Lite0 twin (:data:`utils.comparisons.ALTERNATIVES`).
    models : iterable of str, default ()
        Models whose ``.keras`` file the notebook loads; a missing one is
        trained with the short recipe whatever ``missing`` says (a reference
        run commits records, not models).
    missing : {"reference", "train"}, optional
        How to fill in a missing record; default :func:`missing_choice`.

    Returns
    -------
    dict
        ``model_id -> how``: ``"here"`` (already there: the learner's, or filled in before), ``"reference"``
        (copied), ``"short recipe"`` (trained now) or ``"none"`` (neither
        possible: the printed line says which notebook makes it).

    Raises
    ------
    ValueError
        If ``missing`` is not one of :data:`MISSING_CHOICES`.
    """
    missing = missing or missing_choice()
    if missing not in MISSING_CHOICES:
        raise ValueError(f"missing must be one of {MISSING_CHOICES}, not {missing!r}")
    have = {record["model_id"] for record in results.load_records(cfg)}
    how = {}
    for model_id in models:
        found = [m for m in _candidates(model_id) if m in have and _model_path(cfg, m).is_file()]
        if found:
            how[found[0]] = "here"
            continue
        _stand_in(cfg, model_id, "no saved model", have, how)
    for model_id in model_ids:
        found = [m for m in _candidates(model_id) if m in have]
        if found:
            how.setdefault(found[0], "here")
            continue
        if missing == "reference" and (copied := copy_reference_record(cfg, model_id)):
            how[copied] = "reference"
            have.add(copied)
            continue
        _stand_in(cfg, model_id, "no record, no reference record", have, how)
    here = [model_id for model_id, way in how.items() if way == "here"]
    if here:
        print(f"Already here: {', '.join(here)}")
    return how


def _stand_in(cfg, model_id: str, lacking: str, have: set, how: dict) -> None:
    """Train the short recipe of ``model_id`` (or its stand-in id) into ``have``/``how``, or say none exists."""
    trainable = next((m for m in _candidates(model_id) if m in SHORT_RECIPES), None)
    if trainable is None:
        print(f"{model_id}: {lacking}, and no short recipe makes one: run {comparisons.notebook_for(model_id)}")
        how[model_id] = "none"
        return
    train_short(cfg, trainable)
    have.add(trainable)
    how[trainable] = "short recipe"


def copy_reference_record(cfg: config.Profile, model_id: str) -> str | None:
    """Copy the committed reference record of ``model_id`` (or a stand-in) into ``cfg``'s results.

    The copy gains ``provenance``: where it came from, the reference run's
    commit and date. Only a record scored on this machine's test photos is
    copied (same test file list and split manifest: :func:`utils.results.different_test_photos`):
    a paired test needs the same photos, and other raw photos (the 25,000 of
    Kaggle's download, say) make another split.

    Returns
    -------
    str or None
        The model id copied; None when the reference run has none, or scored
        other test photos (said in a printed line).
    """
    folder = references.reference_folder(cfg.name) / "records"
    for candidate in _candidates(model_id):
        source = folder / f"{candidate}.json"
        if not source.is_file():
            continue
        record = json.loads(source.read_text(encoding="utf-8"))
        here = {**results.test_split_fingerprint(cfg), "test_y_true": record.get("test_y_true")}
        reason = results.different_test_photos(record, here)
        if reason is not None:
            print(f"{candidate}: the reference run's record was scored on other test photos than this "
                  f"machine's split ({reason}): paired tests need the same photos, so it is not copied")
            return None
        run = references.load_run_info(cfg.name)               # run.json only: the records are not read again
        record["provenance"] = {"kind": "reference", "source": f"reference/{cfg.name}/records/{candidate}.json",
                                "reference_commit": run.get("commit"), "reference_saved": run.get("saved")}
        path = cfg.profile_results_dir / f"{candidate}.json"
        with files.atomic_open(path, "w", encoding="utf-8") as handle:
            json.dump(record, handle, indent=2)
            handle.write("\n")
        print(f"{candidate}: copied the reference run's record (reference/{cfg.name}, {run.get('saved', '?')[:10]}, "
              f"test accuracy {record.get('test_accuracy', float('nan')):.1%})")
        return candidate
    return None


def short_epochs(cfg: config.Profile, key: str) -> int:
    """The short recipe's epochs: :data:`SHORT_EPOCHS`, or the profile's ``cfg.epochs[key]`` if fewer."""
    return max(1, min(SHORT_EPOCHS, cfg.epochs.get(key, SHORT_EPOCHS)))


def train_short(cfg: config.Profile, model_id: str) -> Path:
    """Train ``model_id`` with its short recipe, save the model and its record; return the record's path.

    The record's ``recipe`` says it was the short recipe, how many epochs,
    and that the lesson's notebook trains the real one.

    Raises
    ------
    KeyError
        If ``model_id`` has no short recipe (:data:`SHORT_RECIPES`).
    """
    from utils import transfer

    notebook = SHORT_RECIPES[model_id]
    if model_id.startswith(transfer.efficientnet_lite.NAME):
        fields, model = _train_transfer(cfg, model_id)
    elif model_id == "mlp_pixels":
        fields, model = train_mlp(cfg, short_epochs(cfg, "mlp"))
    else:
        fields, model = train_cnn(cfg, model_id, short_epochs(cfg, "cnn_bn" if model_id == "cnn_bn" else "cnn"))
    files.save_model(model, _model_path(cfg, model_id))
    fields["recipe"] = (f"short recipe ({fields['epochs']} epoch(s), utils/prerequisites.py), a stand-in: "
                        f"{notebook} trains the lesson's model")
    fields["provenance"] = {"kind": "short recipe", "source": "utils/prerequisites.py"}
    path = results.save_record(cfg, model_id, **fields)
    epochs = f"{fields['epochs']} epoch" + ("s" if fields["epochs"] != 1 else "")
    print(f"{model_id}: trained now with the short recipe ({epochs}, "
          f"{fields['train_seconds']:.0f} s): validation accuracy {fields['valid_accuracy']:.1%}; "
          f"{notebook} trains the lesson's model")
    return path


def _fit_and_score(cfg, model, model_id, train, valid, test, epochs, *, notebook="utils/prerequisites.py",
                   patience=0, verbose=None, **extra):
    """Train with the best validation epoch kept (early stopping after ``patience`` epochs without
    a better one, when given), score on test; return (record fields, model)."""
    import keras

    from utils import evaluate, training

    cfg.models_dir.mkdir(parents=True, exist_ok=True)
    best = keras.callbacks.ModelCheckpoint(_model_path(cfg, model_id), monitor="val_accuracy", mode="max",
                                           save_best_only=True)
    callbacks = [best] + ([keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=patience)]
                          if patience else [])
    _, timing = training.fit(model, train, valid, epochs=epochs, cfg=cfg, callbacks=callbacks, model_id=model_id,
                             tensorboard=False, **({} if verbose is None else {"verbose": verbose}))
    model.load_weights(best.filepath)
    found = evaluate.evaluate(model, test)
    counts = {split: _count(dataset) for split, dataset in (("train", train), ("valid", valid), ("test", test))}
    fields = evaluate.record_fields(model, found, timing, notebook=notebook,
                                    train_count=counts["train"], valid_count=counts["valid"],
                                    test_count=counts["test"], **extra)
    return fields, model


def _count(dataset) -> int:
    if isinstance(dataset, tuple):
        return len(dataset[0])
    return len(dataset.file_paths)


def train_mlp(cfg, epochs: int, optimizer: str = "adagrad", **fit) -> tuple:
    """Train ``mlp_pixels`` as notebook 02 does (32×32 pixels scaled to [0, 1], ``lessons.build_mlp``,
    one of 02's ``lessons.OPTIMIZERS``), ``epochs`` epochs, the best validation epoch kept; score it on test.

    ``fit``: ``notebook`` (the record's author, default this module), ``patience``, ``verbose``.
    Returns (record fields, model). The short recipe and ``benchmarks/train_models.py`` call it.
    """
    import numpy as np

    from utils import lessons, loading

    image_size = (32, 32)
    train, valid, test = (loading.load_arrays(split, image_size, cfg) for split in ("train", "valid", "test"))
    config.seed_everything(cfg)
    model = lessons.build_mlp(image_size)
    made = lessons.OPTIMIZERS[optimizer]()
    model.compile(optimizer=made, loss="binary_crossentropy", metrics=["accuracy"])
    return _fit_and_score(cfg, model, "mlp_pixels", train, valid, test, epochs, image_size=image_size,
                          optimizer=f"{type(made).__name__}, learning rate {float(np.asarray(made.learning_rate)):g}",
                          **fit)


def train_cnn(cfg, model_id: str, epochs: int, **fit) -> tuple:
    """Train ``model_id`` (``cnn_small``, ``cnn_plain``, ``cnn_aug`` or ``cnn_bn``) for ``epochs`` epochs.

    ``cnn_small``'s recipe is notebook 03's (``lessons.compile_cnn_small``: AdamW, weight decay 0.5,
    cosine rate over all ``epochs``); ``cnn_bn`` gets AdamW at 0.001 with weight decay 0.05;
    ``cnn_aug`` and ``cnn_bn`` train on ``lessons.augment_dataset`` at the light strength. The
    best validation epoch is kept and scored on test. ``fit``: ``notebook``, ``patience``, ``verbose``.
    Returns (record fields, model).
    """
    import keras

    from utils import augmentation, lessons, loading

    image_size = tuple(cfg.image_size)
    train = loading.get_batches("train", image_size, cfg=cfg, cache=True)
    valid = loading.get_batches("valid", image_size, cfg=cfg, cache=True)
    test = loading.get_batches("test", image_size, cfg=cfg)
    steps = math.ceil(len(train.file_paths) / cfg.batch_size)
    config.seed_everything(cfg)
    extra = {"image_size": image_size}
    if model_id == "cnn_bn":
        model = lessons.build_cnn_bn(image_size)
        model.compile(optimizer=keras.optimizers.AdamW(1e-3, weight_decay=0.05), loss="binary_crossentropy",
                      metrics=["accuracy"])
    else:
        model = lessons.compile_cnn_small(lessons.build_cnn_small(image_size, name=model_id), epochs, steps)
        extra.update(optimizer="AdamW, weight decay 0.5", learning_rate="cosine decay from 0.001 to 0")
    fit_train = train
    if model_id in ("cnn_aug", "cnn_bn"):
        strength = dict(augmentation.LIGHT_SETTINGS)
        fit_train = lessons.augment_dataset(train, seed=cfg.seed, **strength)
        extra["augmentation"] = strength
    fields, model = _fit_and_score(cfg, model, model_id, fit_train, valid, test, epochs, **extra, **fit)
    fields["train_count"] = len(train.file_paths)
    return fields, model


def _train_transfer(cfg, model_id):
    import keras

    from utils import augmentation, finetune, lessons, loading, transfer

    backbone = transfer.efficientnet_lite.NAME
    side = min(transfer.image_size_candidates(backbone, cfg))
    image_size = (side, side)
    base = transfer.load_base(backbone, input_shape=(side, side, 3), cfg=cfg)
    head = transfer.HEADS[backbone]
    extra = {"image_size": image_size, "backbone": backbone, "head": head, "weights": "imagenet"}
    augmenter = None
    if model_id.endswith("_frozen_aug"):   # 06 (b): the frozen base behind augmentation layers, light strength
        extra["augmentation"] = dict(augmentation.LIGHT_SETTINGS)
        augmenter = lessons.build_augmenter(seed=cfg.seed, **extra["augmentation"])
    config.seed_everything(cfg)
    model = finetune.build_classifier(base, head=head, augmentation=augmenter, name=model_id)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
    train = loading.get_batches("train", image_size, cfg=cfg, cache=True)
    valid = loading.get_batches("valid", image_size, cfg=cfg, shuffle=False, cache=True)
    test = loading.get_batches("test", image_size, cfg=cfg)
    epochs = short_epochs(cfg, "vgg16_head")
    fields, model = _fit_and_score(cfg, model, model_id, train, valid, test, epochs, **extra)
    if augmenter is not None:               # saved without its augmentation layers, as 06 saves (b)
        model = finetune.inference_model(model, name=model_id)
    if model_id.endswith("_finetune"):   # then one epoch with the base's top unfrozen, at a small rate
        transfer.set_trainable_top(base, transfer.SPLIT_AT[backbone])
        model.compile(optimizer=keras.optimizers.Adam(1e-5), loss="binary_crossentropy", metrics=["accuracy"])
        head_fields = fields
        fields, model = _fit_and_score(cfg, model, model_id, train, valid, test, 1, **extra)
        fields["epochs"] += head_fields["epochs"]
        fields["train_seconds"] += head_fields["train_seconds"]
    return fields, model
