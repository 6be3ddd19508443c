"""Metrics, error views and record fields are right, use one decision threshold and leave the inputs unchanged."""

from __future__ import annotations

import math

import numpy as np
import pytest

from utils import evaluate

Y = np.array([0, 0, 0, 1, 1, 1])
P = np.array([0.1, 0.6, 0.95, 0.8, 0.4, 0.5], dtype=np.float32)
#            ok   wrong wrong  ok  wrong wrong(0.5 is "cat")


def test_metrics_accuracy_log_loss_and_confusion_matrix():
    found = evaluate.metrics(Y, P)
    assert found["accuracy"] == pytest.approx(2 / 6)
    expected = -np.mean([math.log(0.9), math.log(0.4), math.log(0.05), math.log(0.8),
                         math.log(0.4), math.log(0.5)])
    assert found["log_loss"] == pytest.approx(expected, rel=1e-5)
    np.testing.assert_array_equal(found["confusion_matrix"], [[1, 2], [2, 1]])
    assert set(found["report"]) >= {"cats", "dogs", "accuracy", "macro avg"}
    assert found["report"]["dogs"]["support"] == 3
    assert found["y_true"].dtype == np.int64 and found["p_dog"].dtype == np.float32
    assert found["count"] == 6


def test_metrics_accepts_column_vectors_and_does_not_change_inputs():
    p = P.reshape(-1, 1).copy()
    evaluate.metrics(Y.reshape(-1, 1).astype("float32"), p)
    np.testing.assert_array_equal(p.reshape(-1), P)


@pytest.mark.parametrize("y, p, message", [
    ([0, 1], [0.5], "labels"),
    ([], [], "empty"),
    ([0, 2], [0.1, 0.2], "0 \\(cat\\) and 1"),
    ([0, 1], [0.1, 1.2], "probabilities"),
    ([0, 1], [0.1, float("nan")], "probabilities"),
])
def test_metrics_rejects_bad_inputs(y, p, message):
    with pytest.raises(ValueError, match=message):
        evaluate.metrics(y, p)


def test_evaluate_a_model_on_arrays_and_on_a_shuffled_dataset():
    import keras
    import tensorflow as tf

    # a "model" that answers the mean brightness: bright images are dogs
    inputs = keras.Input((4, 4, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255)(inputs))
    outputs = keras.layers.Lambda(lambda t: keras.ops.mean(t, axis=-1, keepdims=True))(x)
    model = keras.Model(inputs, outputs)
    y = np.array([0, 1] * 10)
    images = np.where(y[:, None, None, None] == 1, 230.0, 20.0) * np.ones((20, 4, 4, 3))
    images = images.astype("float32")
    found = evaluate.evaluate(model, (images, y))
    assert found["accuracy"] == 1.0
    dataset = tf.data.Dataset.from_tensor_slices((images, y[:, None].astype("float32")))
    dataset = dataset.shuffle(20, seed=1).batch(6)
    found = evaluate.evaluate(model, dataset)
    assert found["accuracy"] == 1.0 and found["count"] == 20


def test_test_time_augmentation_averages_the_photo_and_its_mirror_image():
    import keras
    import tensorflow as tf

    # a "model" that answers the brightness of the left column only: mirroring changes its answer
    inputs = keras.Input((4, 4, 3))
    outputs = keras.layers.Lambda(
        lambda t: keras.ops.mean(t[:, :, :1, :] / 255, axis=(1, 2, 3))[:, None])(inputs)
    model = keras.Model(inputs, outputs)
    images = np.zeros((5, 4, 4, 3), np.float32)
    images[:, :, 0] = 255.0                       # left column white: P(dog) = 1 seen as it is
    images[:2, :, 3] = 51.0                       # the first two: right column 0.2 bright
    y = np.array([1, 1, 0, 0, 1])
    plain = evaluate.evaluate(model, (images, y), tta=False)
    flipped = evaluate.evaluate(model, (images, y), tta=True)
    np.testing.assert_allclose(plain["p_dog"], 1.0)
    np.testing.assert_allclose(flipped["p_dog"], [0.6, 0.6, 0.5, 0.5, 0.5], atol=1e-6)
    assert flipped["tta"] and not plain["tta"]
    dataset = tf.data.Dataset.from_tensor_slices((images, y[:, None].astype("float32"))).batch(2)
    np.testing.assert_allclose(evaluate.evaluate(model, dataset, tta=True)["p_dog"], flipped["p_dog"])
    assert images[0, 0, 0, 0] == 255.0, "the caller's images are not changed"


def test_most_confident_errors_orders_by_confidence():
    np.testing.assert_array_equal(evaluate.most_confident_errors(Y, P, n=3), [2, 1, 4])
    assert evaluate.most_confident_errors([0, 1], [0.1, 0.9], n=5).size == 0
    with pytest.raises(ValueError, match="positive integer"):
        evaluate.most_confident_errors(Y, P, n=0)


def test_error_views_keys_contents_and_determinism():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = rng.uniform(0, 1, 200).astype(np.float32)
    views = evaluate.error_views(y, p, n=4, seed=3)
    assert list(views) == ["random correct", "random incorrect", "most confident correct cats",
                           "most confident correct dogs", "most confident incorrect", "most uncertain"]
    predicted = (p > 0.5).astype(int)
    assert all(len(v) == 4 and v.dtype == np.int64 for v in views.values())
    assert (predicted[views["random correct"]] == y[views["random correct"]]).all()
    assert (predicted[views["random incorrect"]] != y[views["random incorrect"]]).all()
    assert (y[views["most confident correct cats"]] == 0).all()
    assert (y[views["most confident correct dogs"]] == 1).all()
    cat_confidence = 0.5 - p[views["most confident correct cats"]]
    assert (np.diff(cat_confidence) <= 0).all()
    uncertain = np.abs(p[views["most uncertain"]] - 0.5)
    assert uncertain.max() <= np.sort(np.abs(p - 0.5))[3] + 1e-7
    again = evaluate.error_views(y, p, n=4, seed=3)
    for key in views:
        np.testing.assert_array_equal(views[key], again[key])


def test_error_views_with_no_mistakes_gives_empty_views():
    views = evaluate.error_views([0, 1, 1], [0.2, 0.9, 0.7], n=2)
    assert views["random incorrect"].size == 0
    assert views["most confident incorrect"].size == 0
    np.testing.assert_array_equal(views["most confident correct dogs"], [1, 2])


def test_record_fields_builds_the_standard_fields():
    from utils import lessons

    model = lessons.build_mlp((8, 8))
    found = evaluate.metrics(Y, P)
    timing = dict(train_seconds=12.345, seconds_per_epoch=4.1, images_per_second=99.94,
                  epochs_run=3, best_epoch=2)
    fields = evaluate.record_fields(model, found, timing, notebook="02_mlp", image_size=(8, 8),
                                    train_count=10, valid_count=4, test_count=6,
                                    leaked_test_accuracy=0.97)
    assert fields["image_size"] == [8, 8]
    assert fields["params"] == model.count_params()
    assert fields["epochs"] == 3 and fields["best_epoch"] == 2
    assert fields["test_accuracy"] == pytest.approx(2 / 6)
    assert fields["weights"] == "random init"
    assert fields["leaked_test_accuracy"] == 0.97
    # the per-photo predictions travel with the record, for paired tests (utils.stats)
    assert fields["test_y_true"] == [int(v) for v in np.asarray(Y).reshape(-1)]
    assert fields["test_p_dog"] == pytest.approx([float(v) for v in np.asarray(P).reshape(-1)], abs=1e-6)
    assert all(isinstance(v, float) for v in fields["test_p_dog"])
    import keras

    assert fields["backend"] == keras.backend.backend() and fields["devices"] == 1
    with pytest.raises(ValueError, match="training.fit"):
        evaluate.record_fields(model, found, {}, notebook="x", image_size=(8, 8),
                               train_count=1, valid_count=1, test_count=1)
    with pytest.raises(ValueError, match="evaluate"):
        evaluate.record_fields(model, {}, timing, notebook="x", image_size=(8, 8),
                               train_count=1, valid_count=1, test_count=1)


def test_summary_line():
    line = evaluate.summary_line("cnn_small", dict(accuracy=0.784, log_loss=0.4567, count=1000))
    assert line == "cnn_small: test accuracy 78.4%, log loss 0.457 (1,000 images)"


def test_a_photo_at_exactly_one_half_gets_one_label_everywhere(tmp_path, monkeypatch):
    """The course's one threshold: metrics, predict_image and the plots agree at P(dog) = 0.5."""
    import keras
    from PIL import Image

    from utils import plots, predict

    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Flatten(),
                              keras.layers.Dense(1, activation="sigmoid", kernel_initializer="zeros",
                                                 bias_initializer="zeros")])
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (8, 8), (120, 80, 40)).save(photo)
    found = predict.predict_image(model, photo)
    assert found["p_dog"] == 0.5, "the model must output exactly 0.5 for this test to mean anything"
    expected = evaluate.predicted_labels([0.5])[0]
    assert found["label"] == ("cats", "dogs")[expected]
    as_cat = evaluate.metrics([0], [0.5])["accuracy"]
    assert as_cat == (1.0 if expected == 0 else 0.0), "the metrics use the same rule"
    assert plots.prediction_title(0, 0.5).split("predicted: ")[1].startswith(("cat", "dog")[expected])
    image = np.zeros((1, 8, 8, 3), np.float32)
    fig = plots.plot_predictions(image, [0], [0.5])
    colour = fig.axes[0].title.get_color()
    right = plots.CORRECT_COLOUR if expected == 0 else plots.MISTAKE_COLOUR
    import matplotlib.colors

    assert matplotlib.colors.same_color(colour, right), "the plots use the same rule"
    monkeypatch.setattr(evaluate, "THRESHOLD", 0.25)  # one place decides: move it, all follow
    assert predict.predict_image(model, photo)["label"] == "dogs"
    assert plots.prediction_title(0, 0.5).split("predicted: ")[1].startswith("dog")
    assert evaluate.metrics([1], [0.5])["accuracy"] == 1.0
