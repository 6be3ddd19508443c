"""utils.files: atomic writes."""

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
