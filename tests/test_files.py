"""A write that fails or is killed leaves the old file, folder or model whole and no temporary behind."""

import stat

import pytest

from utils import files


def test_atomic_write_replaces_whole_file_and_is_world_readable(tmp_path):
    path = tmp_path / "deep" / "record.json"
    files.atomic_write(path, "first")
    files.atomic_write(path, b"second")
    assert path.read_text() == "second"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in path.parent.iterdir()) == ["record.json"]


@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError])
def test_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path, error):
    path = tmp_path / "results.csv"
    path.write_text("old, complete")
    with pytest.raises(error):
        with files.atomic_open(path, "w") as handle:
            handle.write("new, half")
            raise error("interrupted")
    assert path.read_text() == "old, complete"
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]


def test_read_modes_are_refused(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        with files.atomic_open(tmp_path / "x", "r"):
            pass


def test_atomic_open_syncs_the_file_before_the_rename(tmp_path, monkeypatch):
    import os

    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1])
    files.atomic_write(tmp_path / "record.json", "{}")
    assert events[:2] == ["fsync", "replace"], "the content is on disk before the name points to it"
    assert events[2:] == ["fsync"], "and the folder after the rename"


def test_checkpoint_does_nothing_unless_asked(monkeypatch):
    monkeypatch.delenv(files.KILL_VARIABLE, raising=False)
    files.checkpoint("swap")
    monkeypatch.setenv(files.KILL_VARIABLE, "other-step")
    files.checkpoint("swap")


def test_checkpoint_kills_at_the_named_step_and_count(monkeypatch):
    killed = []
    monkeypatch.setattr(files.os, "kill", lambda pid, sig: killed.append(sig))
    monkeypatch.setattr(files, "_calls", {})
    monkeypatch.setenv(files.KILL_VARIABLE, "write-image@3")
    for _ in range(5):
        files.checkpoint("write-image")
    assert len(killed) == 1


def _complete(folder, text):
    folder.mkdir(parents=True)
    (folder / "prepare.json").write_text(text)
    return folder


def test_swap_folder_replaces_and_removes_the_old_one(tmp_path):
    final = _complete(tmp_path / "dogscats", "old")
    build = _complete(tmp_path / ".tmp-dogscats-1", "new")
    files.swap_folder(build, final)
    assert (final / "prepare.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dogscats"]


@pytest.mark.parametrize("left", [
    {"final": None, "old": "old", "build": "new"},         # killed between the renames
    {"final": None, "old": "old", "build": None},          # ... with no complete build
    {"final": None, "old": "old", "build": "incomplete"},  # ... and a half-built one
    {"final": "new", "old": "old", "build": None},         # killed before deleting the old one
    {"final": "old", "old": None, "build": "incomplete"},  # killed while building
])
def test_recover_folder_puts_back_the_last_complete_folder_and_never_deletes_it(tmp_path, left):
    final = tmp_path / "dogscats"
    if left["final"]:
        _complete(final, left["final"])
    if left["old"]:
        _complete(tmp_path / ".old-dogscats-123", left["old"])
    if left["build"] == "incomplete":
        (tmp_path / ".tmp-dogscats-x").mkdir()
    elif left["build"]:
        _complete(tmp_path / ".tmp-dogscats-x", left["build"])
    said = files.recover_folder(final, "prepare.json")
    expected = left["final"] or (left["build"] if left["build"] != "incomplete" and left["build"]
                                 else left["old"])
    assert (final / "prepare.json").read_text() == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dogscats"]
    assert bool(said) == (left["final"] is None)


def test_save_model_is_atomic(tmp_path, monkeypatch):
    class Model:
        def __init__(self, payload):
            self.payload = payload

        def save(self, path, overwrite=True):
            assert str(path).endswith(".keras")
            with open(path, "wb") as handle:
                handle.write(self.payload)
                if self.payload == b"broken":
                    raise OSError("disk full")

    path = tmp_path / "models" / "cnn.keras"
    files.save_model(Model(b"v1"), path)
    with pytest.raises(OSError):
        files.save_model(Model(b"broken"), path)
    assert path.read_bytes() == b"v1"
    assert [p.name for p in path.parent.iterdir()] == ["cnn.keras"]


def test_remove_stale_temporaries_only_touches_hidden_temporaries(tmp_path):
    for name in (".record.json.abc.tmp", ".cnn.x1.tmp.keras", "record.json", ".lock"):
        (tmp_path / name).write_text("x")
    assert files.remove_stale_temporaries(tmp_path) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "record.json"]


def test_best_model_checkpoint_saves_only_improvements_atomically(tmp_path, monkeypatch):
    import keras
    import numpy as np

    saved = []
    real_save = files.save_model
    monkeypatch.setattr(files, "save_model", lambda model, path: (saved.append(path),
                                                                  real_save(model, path))[1])
    path = tmp_path / "models" / "tiny.keras"
    callback = files.best_model_checkpoint(path, monitor="loss", mode="min")
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    for value in (0.5, 0.7, 0.4, float("nan"), 0.4):
        callback.set_model(model)
        callback.on_epoch_end(0, {"loss": value})
    assert len(saved) == 2, "saved at 0.5 and 0.4 only"
    reloaded = keras.models.load_model(path)
    x = np.ones((1, 2), np.float32)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [p.name for p in path.parent.iterdir()] == ["tiny.keras"]
    with pytest.raises(ValueError, match="mode"):
        files.best_model_checkpoint(path, mode="best")
