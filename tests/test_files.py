"""A write that fails, is killed or meets a full disk leaves the old file, folder or model whole and no temporary behind."""

import errno
import os
import signal
import stat

import pytest

from utils import files
from utils.errors import DiskFullError

from .conftest import killer


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


def test_checkpoint_is_a_no_op_in_production_whatever_the_environment(monkeypatch):
    killed = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: killed.append(sig))
    monkeypatch.setenv("DOGSCATS_KILL_AT", "swap")  # the old test hook's variable: ignored now
    for step in ("swap", "atomic-write", "extract"):
        files.checkpoint(step)
    assert killed == [], "production code never kills itself"


def test_the_crash_hook_kills_at_the_named_step_and_count(monkeypatch):
    killed = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: killed.append((pid, sig)))
    hook = killer("write-image@3")
    for n in range(1, 6):
        hook("check-image")
        hook("write-image")
        if n == 2:
            assert killed == [], "not before the third write-image"
    assert killed == [(os.getpid(), signal.SIGKILL)], "once, at the third"


def test_the_crash_hook_is_seen_by_atomic_writes_and_leaves_the_old_file(tmp_path, monkeypatch):
    class Killed(BaseException):
        pass

    def kill(pid, sig):
        raise Killed  # stands for SIGKILL, without ending pytest

    path = tmp_path / "record.json"
    path.write_text("old")
    monkeypatch.setattr(os, "kill", kill)
    monkeypatch.setattr(files, "checkpoint", killer("atomic-write"))
    with pytest.raises(Killed):
        files.atomic_write(path, "new")
    assert path.read_text() == "old"


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


# --------------------------------------------------------------------------- a full disk
def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


class _Model:
    """Stands for a Keras model being saved: writes half a file, then the disk fills."""

    def save(self, path, overwrite=True):
        assert str(path).endswith(".keras")
        with open(path, "wb") as handle:
            handle.write(b"half a model")
        _no_space()


def _write_record(path):
    with files.atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write("{")
        _no_space()


@pytest.mark.parametrize("write", [
    lambda path: files.atomic_write(path, "new"),   # notebooks, run state, site, slides
    _write_record,                                  # results records, submissions, caches
    lambda path: files.save_model(_Model(), path),  # saved models
], ids=["atomic_write", "atomic_open", "save_model"])
def test_a_full_disk_is_named_as_such_and_leaves_the_old_file(tmp_path, monkeypatch, write):
    path = tmp_path / "out" / "cnn_small.keras"
    path.parent.mkdir()
    path.write_bytes(b"old")
    monkeypatch.setattr(os, "fsync", _no_space)  # where the atomic_write case meets the full disk
    with pytest.raises(DiskFullError) as error:
        write(path)
    message = str(error.value)
    assert message.startswith("Disk full: writing cnn_small.keras in ") and str(path.parent) in message
    assert " free there" in message and "DOGSCATS_RESULTS" in message
    assert error.value.errno == errno.ENOSPC and error.value.folder == path.parent
    assert path.read_bytes() == b"old"
    assert [p.name for p in path.parent.iterdir()] == ["cnn_small.keras"], "no temporary left"


def test_a_quota_exceeded_is_named_too(tmp_path, monkeypatch):
    if not hasattr(errno, "EDQUOT"):
        pytest.skip("no EDQUOT on this system")
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.EDQUOT, "quota")))
    with pytest.raises(DiskFullError, match="^Quota exceeded: writing x.json"):
        files.atomic_write(tmp_path / "x.json", "{}")
    assert list(tmp_path.iterdir()) == []


def test_other_write_errors_pass_unchanged(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.EIO, "I/O")))
    with pytest.raises(OSError) as error:
        files.atomic_write(tmp_path / "x.json", "{}")
    assert not isinstance(error.value, DiskFullError) and error.value.errno == errno.EIO


def test_a_real_full_disk_gives_the_same_message(small_disk):
    folder = small_disk(64)
    (folder / "keep.json").write_text("old")
    with pytest.raises(DiskFullError, match=f"Disk full: writing keep.json in {folder}"):
        files.atomic_write(folder / "keep.json", b"x" * 200_000)
    assert (folder / "keep.json").read_text() == "old"
    assert [p.name for p in folder.iterdir()] == ["keep.json"]
