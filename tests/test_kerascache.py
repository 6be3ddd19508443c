"""utils.kerascache: the one place that says where Keras keeps settings and downloads."""

from __future__ import annotations

from pathlib import Path

from utils import kerascache, runstate


def test_keras_home_and_models_follow_the_environment(tmp_path):
    assert kerascache.home({"KERAS_HOME": str(tmp_path)}) == tmp_path
    assert kerascache.models_dir({"KERAS_HOME": str(tmp_path)}) == tmp_path / "models"
    assert kerascache.home({}) == Path.home() / ".keras"
    assert kerascache.models_dirs({}) == [Path.home() / ".keras" / "models", Path("/tmp/.keras/models")]
    assert kerascache.models_dirs({"KERAS_HOME": "/tmp/.keras"}) == [Path("/tmp/.keras/models")]


def test_the_runner_reads_the_same_places(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "vgg16.h5").write_bytes(b"12345")
    assert f"{tmp_path / 'models' / 'vgg16.h5'}:5" in runstate.keras_weights_listing()
    (tmp_path / "keras.json").write_text('{"backend": "jax"}')
    assert runstate.keras_backend_name() == "jax"
