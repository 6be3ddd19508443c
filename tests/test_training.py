"""training.fit times epochs, reports the best, adds no hidden callbacks and keeps the learner's own."""

from __future__ import annotations

import numpy as np
import pytest

from utils import config, lessons, training


@pytest.fixture
def cfg(tmp_path):
    return config.get_profile("smoke", results_dir=tmp_path / "results", data_dir=tmp_path / "data")


def _arrays(n=48, size=8, seed=0):
    """Images whose label is visible: dogs bright, cats dark."""
    rng = np.random.default_rng(seed)
    y = np.tile([0, 1], n // 2).astype("float32")
    x = rng.uniform(0, 100, (n, size, size, 3)).astype("float32") + 150 * y[:, None, None, None]
    return x, y


def _compiled(model, learning_rate):
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="binary_crossentropy", metrics=["accuracy"])
    return model


def _tiny_model():
    import keras

    keras.utils.set_random_seed(0)
    return _compiled(lessons.build_mlp((8, 8)), 0.01)


def test_fit_times_epochs_and_reports_the_best_epoch(cfg):
    model = _tiny_model()
    history, timing = training.fit(model, _arrays(), _arrays(seed=1), epochs=3, cfg=cfg,
                                   model_id="mlp_test", verbose=0)
    assert set(history.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert timing["epochs_run"] == 3 == len(timing["epoch_seconds"])
    assert timing["train_seconds"] > 0
    assert timing["seconds_per_epoch"] == pytest.approx(np.mean(timing["epoch_seconds"]))
    assert timing["train_count"] == 48
    assert timing["images_per_second"] > 0
    best = int(np.argmax(history.history["val_accuracy"])) + 1
    assert timing["best_epoch"] == best


def test_fit_builds_no_hidden_checkpoint_or_early_stopping(cfg, monkeypatch):
    import keras

    seen = []
    original = keras.Model.fit

    def spy(self, *args, **kwargs):
        seen.extend(kwargs["callbacks"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", spy)
    model = _tiny_model()
    mine = keras.callbacks.CSVLogger(str(cfg.profile_results_dir / "log.csv"))
    cfg.profile_results_dir.mkdir(parents=True, exist_ok=True)
    training.fit(model, _arrays(), _arrays(seed=1), epochs=2, cfg=cfg, callbacks=[mine], verbose=0)
    kinds = [type(c).__name__ for c in seen]
    assert mine in seen
    assert not {"ModelCheckpoint", "EarlyStopping", "LearningRateScheduler",
                "ReduceLROnPlateau"} & set(kinds), kinds
    assert not cfg.models_dir.exists() or not any(cfg.models_dir.iterdir()), "fit saves no model"


def test_fit_keeps_the_last_weights_and_the_learners_checkpoint_keeps_the_best(cfg):
    import keras

    model = _tiny_model()
    valid = _arrays(seed=1)
    cfg.models_dir.mkdir(parents=True, exist_ok=True)
    path = cfg.models_dir / "best.keras"
    checkpoint = keras.callbacks.ModelCheckpoint(path, monitor="val_loss", mode="min",
                                                 save_best_only=True)
    history, _ = training.fit(model, _arrays(), valid, epochs=4, cfg=cfg, callbacks=[checkpoint],
                              monitor="val_loss", verbose=0)
    last = model.evaluate(*valid, verbose=0)[0]
    assert last == pytest.approx(history.history["val_loss"][-1], rel=1e-3, abs=1e-4)
    model.load_weights(path)
    best = model.evaluate(*valid, verbose=0)[0]
    assert best == pytest.approx(min(history.history["val_loss"]), rel=1e-3, abs=1e-4)


def test_fit_passes_the_learners_early_stopping(cfg):
    import keras

    model = _compiled(lessons.build_mlp((8, 8)), 1e-9)   # learns nothing
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, min_delta=1e-3)
    _, timing = training.fit(model, _arrays(), _arrays(seed=1), epochs=20, cfg=cfg,
                             callbacks=[stop], model_id="stuck", monitor="val_loss", verbose=0)
    assert timing["epochs_run"] < 20


def test_fit_on_a_tf_dataset_counts_images_from_file_paths(cfg):
    import tensorflow as tf

    x, y = _arrays()
    dataset = tf.data.Dataset.from_tensor_slices((x, y[:, None])).batch(16)
    dataset.file_paths = [f"img{i}.jpg" for i in range(len(x))]
    _, timing = training.fit(_tiny_model(), dataset, dataset, epochs=1, cfg=cfg, verbose=0)
    assert timing["train_count"] == 48


@pytest.mark.parametrize("kwargs, message", [
    (dict(epochs=0), "epochs"),
    (dict(epochs=2.5), "epochs"),
    (dict(epochs=1, monitor="val_auc"), "monitor"),
    (dict(epochs=1, callbacks="early"), "callbacks"),
])
def test_fit_rejects_bad_arguments(cfg, kwargs, message):
    with pytest.raises(ValueError, match=message):
        training.fit(_tiny_model(), _arrays(), _arrays(), cfg=cfg, verbose=0, **kwargs)


def test_fit_needs_validation_data_for_a_val_monitor_and_a_compiled_model(cfg):
    with pytest.raises(ValueError, match="validation"):
        training.fit(_tiny_model(), _arrays(), None, epochs=1, cfg=cfg, verbose=0)
    uncompiled = lessons.build_mlp((8, 8))
    with pytest.raises(ValueError, match="compile"):
        training.fit(uncompiled, _arrays(), _arrays(), epochs=1, cfg=cfg, verbose=0)


def test_count_examples_and_format_timing():
    assert training.count_examples((np.zeros((7, 2)), np.zeros(7))) == 7
    assert training.count_examples(object()) is None
    line = training.format_timing(dict(epochs_run=3, train_seconds=30.0, seconds_per_epoch=10.0,
                                       images_per_second=200.0, best_epoch=2))
    assert line == "3 epochs in 30 s (10.0 s/epoch, 200 images/s); best epoch 2"


def _epoch_values(folder, tag):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    events = EventAccumulator(str(folder))
    events.Reload()
    return [float(tensor_util.make_ndarray(e.tensor_proto)) for e in events.Tensors(tag)]


def test_fit_writes_tensorboard_logs_per_model_and_replaces_them(cfg):
    pytest.importorskip("tensorboard")
    history, timing = training.fit(_tiny_model(), _arrays(), _arrays(seed=1), epochs=2, cfg=cfg,
                                   model_id="tb_test", verbose=0)
    log_dir = cfg.profile_results_dir / "logs" / "tb_test"
    assert timing["log_dir"] == str(log_dir)
    np.testing.assert_allclose(_epoch_values(log_dir / "train", "epoch_loss"), history.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(_epoch_values(log_dir / "validation", "epoch_accuracy"),
                               history.history["val_accuracy"], rtol=1e-5)
    training.fit(_tiny_model(), _arrays(), _arrays(seed=1), epochs=1, cfg=cfg, model_id="tb_test", verbose=0)
    assert len(_epoch_values(log_dir / "train", "epoch_loss")) == 1, "a new run replaces the old logs"
    _, timing = training.fit(_tiny_model(), _arrays(), None, epochs=1, cfg=cfg, model_id="no_tb",
                             monitor="loss", verbose=0, tensorboard=False)
    assert timing["log_dir"] is None and not (cfg.logs_dir / "no_tb").exists()


def test_fit_shows_one_progress_line_per_run_not_a_line_per_epoch(cfg, capsys):
    import keras

    model = _tiny_model()
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)   # stops after epoch 2
    history, _ = training.fit(model, _arrays(), _arrays(seed=1), epochs=5, cfg=cfg, callbacks=[stop],
                              model_id="mlp_progress", tensorboard=False)
    out = capsys.readouterr().out
    final = out.replace("\r", "\n").strip().splitlines()[-1]       # what a notebook shows at the end
    assert final.startswith("mlp_progress: epoch 2/5 [")            # a stopped run says how far it got
    last = history.history["val_accuracy"][-1]
    assert f"val_accuracy {last:.4g}" in final and "loss " in final
    assert out.count("\n") == 1 and "Epoch 1/5" not in out           # one line, no Keras per-epoch lines
    training.fit(_tiny_model(), _arrays(), _arrays(seed=1), epochs=2, cfg=cfg, verbose=0, tensorboard=False)
    assert capsys.readouterr().out == ""


def test_fit_stops_at_a_nan_loss_and_says_which_epoch_and_what_to_do(cfg, capsys):
    import keras

    keras.utils.set_random_seed(0)
    model = lessons.build_mlp((8, 8))
    model.compile(optimizer=keras.optimizers.SGD(1e30), loss="binary_crossentropy", metrics=["accuracy"])
    if keras.backend.backend() == "torch":      # its binary cross-entropy raises before any callback sees the loss
        with pytest.raises(FloatingPointError, match=r"the training loss became NaN in epoch \d+, so training "
                           r"stopped there \(PyTorch's binary cross-entropy.*lower the learning rate"):
            training.fit(model, _arrays(), _arrays(seed=1), epochs=5, cfg=cfg, verbose=0, tensorboard=False)
        return
    history, timing = training.fit(model, _arrays(), _arrays(seed=1), epochs=5, cfg=cfg, verbose=0,
                                   tensorboard=False)
    assert timing["epochs_run"] < 5 and not np.isfinite(history.history["loss"][-1])
    out = capsys.readouterr().out
    epoch = timing["epochs_run"]
    assert f"the training loss became NaN in epoch {epoch}, so training stopped there" in out
    assert "ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16" in out and "lower the learning rate" in out
    _, timing = training.fit(_tiny_model(), _arrays(), _arrays(seed=1), epochs=2, cfg=cfg, verbose=0,
                             tensorboard=False)
    assert timing["epochs_run"] == 2 and "NaN" not in capsys.readouterr().out
