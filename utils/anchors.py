"""Published Dogs vs. Cats figures: theirs, never ours, each with its source and split.

Notebook 07 shows them in their own table (:func:`utils.comparisons.anchors_table`),
apart from this course's records: their setups differ (image size, training
images, and above all *which* split was scored), so they are landmarks, not
competitors measured under the same rules.

Each anchor says whether its figure is a ``"validation"`` or a ``"test"`` figure.
Deep Learning with Python, 1st ed., ch. 5 reports its ~71/82/90/96% on the
validation split (read off its curves) and only the fine-tuned model's 96.8% on
a test split (printed by the book's companion notebook; the book's text says 97%). Kaggle's 2013 competition ranked by accuracy on Kaggle's test set;
its 2016 "Redux" edition (the one this course submits to) by log loss.
"""

from __future__ import annotations

#: Splits an anchor's figure may be measured on.
SPLITS = ("validation", "test")

_DLWP1 = "Chollet, Deep Learning with Python, 1st ed. (2017), ch. 5"

#: Published figures to compare against. ``accuracy`` is a fraction; ``None``
#: where the source gives a range or a bound only (see ``reported``); ``split``
#: is one of :data:`SPLITS` (``None`` when the source does not say).
ANCHORS = (
    dict(source="Seed 000 (course seed notebook)",
         setup="CNN, 60×60, 5,000 images + offline augmentation",
         model="CNN + augmentation", reported="76.8% (split not stated)", accuracy=0.768, split=None),
    dict(source="Seed 004 / fast.ai v1 (2017) lesson 1",
         setup="VGG16, last layer swapped, 224×224, 23,000 train, 1 epoch",
         model="VGG16 fine-tune", reported="val acc 0.982–0.9835", accuracy=0.982, split="validation"),
    dict(source=_DLWP1, setup="2,000 train, 150×150, small CNN", model="CNN",
         reported="~71% validation", accuracy=0.71, split="validation"),
    dict(source=_DLWP1, setup="2,000 train, 150×150, CNN + augmentation", model="CNN + augmentation",
         reported="~82% validation", accuracy=0.82, split="validation"),
    dict(source=_DLWP1, setup="2,000 train, 150×150, VGG16 features + dense head", model="VGG16 features",
         reported="~90% validation", accuracy=0.90, split="validation"),
    dict(source=_DLWP1, setup="2,000 train, 150×150, frozen VGG16 + augmentation", model="VGG16 frozen + aug",
         reported="~96% validation", accuracy=0.96, split="validation"),
    dict(source=_DLWP1, setup="2,000 train, 150×150, VGG16 fine-tuned", model="VGG16 fine-tune",
         reported="96.8% test (companion notebook; the text says 97%)", accuracy=0.968, split="test"),
    dict(source="Chollet, Deep Learning with Python, 2nd ed. (2021), ch. 8",
         setup="2,000 train, 180×180, CNN + augmentation", model="CNN + augmentation",
         reported="83.5% test", accuracy=0.835, split="test"),
    dict(source="keras-io, \"Image classification from scratch\" (F. Chollet)",
         setup="PetImages, 1,590 files without a JFIF header removed, 180×180, small Xception-like CNN, 25 epochs",
         model="small Xception-like CNN", reported="> 90% val", accuracy=None, split="validation"),
    dict(source="TensorFlow tutorial \"Transfer learning and fine-tuning\" (tensorflow.org)",
         setup="cats_vs_dogs filtered, 2,000 train, 160×160, MobileNetV2 (ImageNet): frozen base, then fine-tuned",
         model="MobileNetV2 frozen / fine-tune", reported="~96% / ~98% val", accuracy=None, split="validation"),
    dict(source="Kaggle Dogs vs. Cats (2013 competition, scored by accuracy), winner",
         setup="—", model="—", reported="98.9% test (Kaggle's leaderboard)", accuracy=0.989, split="test"),
)
