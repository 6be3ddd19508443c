"""Fine-tuning Lite0's top on the photos' cached features, or on the photos' and their mirror images'.

Usage (from the repository root)::

    .venv/bin/python benchmarks/finetune_mirrors.py                 # sample profile
    .venv/bin/python benchmarks/finetune_mirrors.py --profile smoke --extra 20   # a quick check

``--out FILE`` appends one JSON line per printed line (the head alone, then each fine-tuning),
with the commit, the machine, the backend and the date.

Why (issue 18: fine-tuning aims at 98.5% under ``sample``). Notebook 06
fine-tunes EfficientNet-Lite0's stages 6–7 on features of the bottom computed
once, so the training photos are never augmented there. A mirror image is the
cheapest augmentation that survives caching: one more pass of the bottom over
the training photos. Does training on both pay?

The script follows 06: Lite0 at 224×224 cut at ``stage5_out``; a pooling head
trained on the top's features (Adam 1e-3, 15 epochs, best validation epoch);
then the top and head fine-tuned at 1e-4, batch-norm layers frozen, best
validation epoch kept. Three fine-tunings from the same head:

- the photos, 4 epochs (06's recipe);
- photos + mirror images, 2 epochs (the same number of steps);
- photos + mirror images, 4 epochs (the same number of epochs, twice the steps).

Each is scored on an **enlarged validation set**: the ``valid`` split plus
``--extra`` labelled photos per class that the profile does not use (taken
from ``full``'s training split), so that a choice rests on more than the ~10
mistakes a 1,000-photo validation split leaves. The checkpoints are chosen on
``valid``, which is part of the enlarged set, the same way for all three. The
test split is not read.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

import protocol  # noqa: E402  (benchmarks/ is on sys.path)
from protocol import unused_photos  # noqa: E402
from utils import config  # noqa: E402

SIZE = (224, 224)
BACKBONE = "efficientnet_lite0"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="sample")
    parser.add_argument("--extra", type=int, default=1000, help="unused labelled photos per class added to valid")
    parser.add_argument("--out", type=Path, help="append one JSON line per fine-tuning here")
    args = parser.parse_args(argv)
    cfg = config.get_profile(args.profile)

    import keras
    import tensorflow as tf

    from utils import evaluate, finetune, loading, transfer

    base = transfer.load_base(BACKBONE, input_shape=(*SIZE, 3), cfg=cfg)
    bottom, top = finetune.split_base(base, at=transfer.SPLIT_AT[BACKBONE])
    base.trainable = False
    train = loading.get_batches("train", SIZE, shuffle=False, cfg=cfg)
    x_train, y_train = finetune.extract_features(bottom, train)[:2]
    x_mirror = finetune.extract_features(bottom, train.map(lambda x, y: (x[:, :, ::-1], y)))[0]
    x_valid, y_valid = finetune.extract_features(bottom, loading.get_batches("valid", SIZE, shuffle=False, cfg=cfg))[:2]
    paths, y_extra = unused_photos(cfg, args.extra)
    if paths:
        images = tf.data.Dataset.from_tensor_slices(np.stack([loading.load_image(p, SIZE) for p in paths])).batch(32)
        x_enlarged = np.concatenate([x_valid, finetune.extract_features(bottom, images)[0]])
        y_enlarged = np.concatenate([y_valid, y_extra])
    else:
        x_enlarged, y_enlarged = x_valid, y_valid
    print(f"{cfg.name}: {len(y_train):,} training photos (+ their mirror images), validation {len(y_valid):,}, "
          f"enlarged validation {len(y_enlarged):,}; {config.describe_hardware()}", flush=True)

    folder = cfg.profile_results_dir / "benchmarks"
    folder.mkdir(parents=True, exist_ok=True)

    def keep_best(name):
        return keras.callbacks.ModelCheckpoint(folder / f"finetune_mirrors_{name}.weights.h5", monitor="val_accuracy",
                                               mode="max", save_best_only=True, save_weights_only=True)

    keras.utils.set_random_seed(cfg.seed)
    pooled_train, pooled_valid = top.predict(x_train, verbose=0), top.predict(x_valid, verbose=0)
    head = finetune.build_feature_head(pooled_train.shape[1:], head="pool", name="head")
    head.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy", metrics=["accuracy"])
    best = keep_best("head")
    head.fit(pooled_train, y_train, validation_data=(pooled_valid, y_valid), epochs=15, batch_size=cfg.batch_size,
             verbose=0, callbacks=[best])
    head.load_weights(best.filepath)
    classifier = finetune.build_classifier(base, head="pool", name="classifier")
    for layer in head.layers:
        if layer.weights:
            classifier.get_layer(layer.name).set_weights(layer.get_weights())
    top_and_head = finetune.attach_head(top, classifier, name="top_and_head")
    transfer.set_trainable_top(base, transfer.SPLIT_AT[BACKBONE])
    start = top_and_head.get_weights()

    def report(name, seconds, epochs=0, photos=0):
        p = np.asarray(top_and_head.predict(x_enlarged, verbose=0), "float32")[:, 0]
        found = evaluate.metrics(y_enlarged, p)
        print(f"{name:42s} accuracy {found['accuracy']:.2%}  log loss {found['log_loss']:.4f}  {seconds:5.0f} s", flush=True)
        if args.out:
            protocol.append(args.out, {
                "benchmark": "finetune_mirrors", "profile": cfg.name, "run": name, "finetune_epochs": epochs,
                "finetune_examples": photos, "enlarged_valid_count": int(len(y_enlarged)),
                "enlarged_valid_accuracy": float(found["accuracy"]), "enlarged_valid_log_loss": float(found["log_loss"]),
                "finetune_seconds": seconds, **protocol.stamp()})

    report("head only (before fine-tuning)", 0)
    both_x, both_y = np.concatenate([x_train, x_mirror]), np.concatenate([y_train, y_train])
    for name, x, y, epochs in (("photos, 4 epochs (06's recipe)", x_train, y_train, 4),
                               ("photos + mirrors, 2 epochs (same steps)", both_x, both_y, 2),
                               ("photos + mirrors, 4 epochs", both_x, both_y, 4)):
        top_and_head.set_weights(start)
        keras.utils.set_random_seed(cfg.seed)
        top_and_head.compile(optimizer=keras.optimizers.Adam(1e-4), loss="binary_crossentropy", metrics=["accuracy"])
        best = keep_best("top")
        began = time.perf_counter()
        top_and_head.fit(x, y, validation_data=(x_valid, y_valid), epochs=epochs, batch_size=cfg.batch_size,
                         shuffle=True, verbose=0, callbacks=[best])
        seconds = time.perf_counter() - began
        top_and_head.load_weights(best.filepath)
        report(name, seconds, epochs, len(y))
    return 0


if __name__ == "__main__":
    sys.exit(main())
