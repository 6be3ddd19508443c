"""utils.kerascache: the one place that says where Keras keeps settings and downloads."""

from __future__ import annotations

from pathlib import Path

from course.run import state as runstate
from utils import kerascache


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


def test_publishing_reads_versions_without_starting_keras(tmp_path):
    """make slides/site must not import Keras (TensorFlow prints start-up warnings)."""
    import subprocess
    import sys

    code = ("import sys; from utils import config; from course.run import state as runstate; runstate.environment_versions(); "
            "config.versions(); print('keras' in sys.modules, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KERAS_BACKEND": "jax"},
                         cwd=str(Path(__file__).resolve().parent.parent))
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_the_configured_backend_follows_keras_rules(tmp_path):
    assert kerascache.configured_backend({"KERAS_BACKEND": "torch"}) == "torch"
    assert kerascache.configured_backend({"KERAS_HOME": str(tmp_path)}) == "tensorflow"
    (tmp_path / "keras.json").write_text('{"backend": "jax"}')
    assert kerascache.configured_backend({"KERAS_HOME": str(tmp_path)}) == "jax"
