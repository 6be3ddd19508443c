"""A full disk is named as such at every write, the space is checked before preparing, a cut-short zip is called damaged."""

from __future__ import annotations

import errno
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from utils import archives, config, data, disk, files, results, splitting
from utils.errors import DamagedArchiveError, DataError, DiskFullError

from .conftest import image_bytes


def _cfg(root: Path):
    return config.get_profile("smoke", data_dir=root / "data", results_dir=root / "results",
                              archive=None)


def _train_zip(path: Path, n: int = 6) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as handle:
        for i in range(n):
            handle.writestr(f"train/cat.{i}.jpg", image_bytes(seed=i))
            handle.writestr(f"train/dog.{i}.jpg", image_bytes(seed=100 + i))
    return path


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _left_behind(cfg) -> list:
    """What a failed prepare left in the data folder, besides its lock file."""
    if not cfg.data_dir.exists():
        return []
    return sorted(p.name for p in cfg.data_dir.iterdir() if p.name != data.PREPARE_LOCK)


# --------------------------------------------------------------------------- space checked first
def test_preparation_needs_counts_nested_archives_from_their_directories(tmp_path):
    inner = _train_zip(tmp_path / "parts" / "train.zip")
    outer = tmp_path / "dogs-vs-cats.zip"
    with zipfile.ZipFile(outer, "w") as handle:
        handle.write(inner, "train.zip")
    with zipfile.ZipFile(inner) as handle:
        photos = sum(info.file_size for info in handle.infolist())
    assert disk.archive_sizes(outer) == (inner.stat().st_size + photos, photos)
    assert disk.preparation_needs([outer]) == inner.stat().st_size + 2 * photos + disk.MARGIN_BYTES
    assert disk.archive_sizes(tmp_path / "missing.zip") == (0, 0)


def test_the_space_check_refuses_a_folder_with_too_little_free_before_writing(tmp_path, monkeypatch):
    source = _train_zip(tmp_path / "train.zip")
    cfg = _cfg(tmp_path)
    need = disk.preparation_needs([source])
    monkeypatch.setattr(disk, "free_bytes", lambda folder: need - 1)
    with pytest.raises(DiskFullError) as error:
        data.prepare(cfg, source=source, progress=False)
    assert str(error.value) == (
        f"Preparing the photos of train.zip needs about {disk.format_size(need)} in {cfg.data_dir}, "
        f"{disk.format_size(need - 1)} free: free space or set DOGSCATS_DATA to a larger disk. "
        "Nothing was written.")
    assert error.value.needed_bytes == need and _left_behind(cfg) == []
    monkeypatch.setattr(disk, "free_bytes", lambda folder: need)
    assert data.prepare(cfg, source=source, progress=False).counts["full"]


def test_the_space_check_reads_the_real_archive_and_free_space(real_archive, small_disk):
    folder = small_disk(40 * 1024)  # the issue's 40 MB file system
    cfg = _cfg(folder)
    with pytest.raises(DiskFullError, match=r"needs about \d.* in .*, \d+ MB free: free space or "
                                            "set DOGSCATS_DATA to a larger disk"):
        data.prepare(cfg, source=real_archive, progress=False)
    assert _left_behind(cfg) == []


def test_format_size_and_free_bytes_of_a_folder_not_yet_made(tmp_path):
    assert [disk.format_size(n) for n in (1_234_567_890, 45_000_000, 2_000, None)] == \
        ["1.2 GB", "45 MB", "2 kB", "?"]
    assert disk.free_bytes(tmp_path / "not" / "yet") == shutil.disk_usage(tmp_path).free


# --------------------------------------------------------------------------- disk full at every write
def test_disk_full_while_extracting_is_never_blamed_on_the_archive(tmp_path, monkeypatch):
    source = _train_zip(tmp_path / "train.zip")
    real_open = open

    class FullFile:
        def __init__(self, path, mode):
            self.handle = real_open(path, mode)

        def write(self, chunk):
            self.handle.write(chunk[:10])
            _no_space()

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

    monkeypatch.setattr(archives, "open", FullFile, raising=False)
    dest = tmp_path / "out"
    with pytest.raises(DiskFullError, match=f"^Disk full: extracting train.zip in {dest} stopped") as error:
        archives.safe_extract(source, dest)
    assert "download" not in str(error.value).lower() and "DOGSCATS_DATA" in str(error.value)
    assert not [p for p in dest.rglob("*") if p.is_file()], "no half-written member"


@pytest.mark.parametrize("site", ["extract", "split", "prepare.json"])
def test_disk_full_while_preparing_names_the_data_folder_and_leaves_nothing(tmp_path, monkeypatch, site):
    source = _train_zip(tmp_path / "train.zip")
    cfg = _cfg(tmp_path)
    if site == "extract":
        monkeypatch.setattr(archives, "_stream_member", _no_space)
    elif site == "split":
        monkeypatch.setattr(splitting.shutil, "copyfile", _no_space)
    else:
        monkeypatch.setattr(os, "fsync", _no_space)
    with pytest.raises(DiskFullError) as error:
        data.prepare(cfg, source=source, progress=False)
    message = str(error.value)
    assert message.startswith("Disk full: preparing the photos") and f" in {cfg.data_dir} stopped" in message
    assert "DOGSCATS_DATA" in message and "download" not in message.lower()
    assert _left_behind(cfg) == [] and not data.is_prepared(cfg)


def test_disk_full_while_saving_a_record(tmp_path, monkeypatch):
    cfg = _cfg(tmp_path)
    results.save_record(cfg, "cnn_small", test_accuracy=0.5)
    before = (cfg.profile_results_dir / "cnn_small.json").read_text()
    monkeypatch.setattr(os, "fsync", _no_space)
    with pytest.raises(DiskFullError, match=f"Disk full: writing cnn_small.json in {cfg.profile_results_dir}"):
        results.save_record(cfg, "cnn_small", test_accuracy=0.9)
    assert (cfg.profile_results_dir / "cnn_small.json").read_text() == before
    assert [p.name for p in cfg.profile_results_dir.iterdir()] == ["cnn_small.json"]


def test_disk_full_while_publishing_the_site_and_running_notebooks(tmp_path, monkeypatch):
    from course.publish import site
    from course.run import state

    monkeypatch.setattr(os, "fsync", _no_space)
    for module in (site, state):
        assert module.atomic_write is files.atomic_write, "they write through utils.files"
    with pytest.raises(DiskFullError, match="Disk full: writing index.html"):
        site.atomic_write(tmp_path / "site" / "index.html", "<html></html>")
    assert list((tmp_path / "site").iterdir()) == []


def test_the_issue_scenario_on_a_real_40_mb_disk(real_archive, small_disk, monkeypatch):
    """The pre-check switched off: extraction meets the real full disk and says so."""
    folder = small_disk(40 * 1024)
    cfg = _cfg(folder)
    monkeypatch.setattr(disk, "check_space", lambda paths, folder: 0)
    with pytest.raises(DiskFullError, match=f"^Disk full: preparing the photos \\(extracting "
                                            f"train.zip\\) in {cfg.data_dir} stopped"):
        data.prepare(cfg, source=real_archive, progress=False)
    assert _left_behind(cfg) == []


# --------------------------------------------------------------------------- damaged zips
def _real_train_zip(real_archive: Path) -> Path:
    found = [real_archive] if real_archive.is_file() else sorted(real_archive.rglob("train.zip"))
    if not found or not zipfile.is_zipfile(found[0]):
        pytest.skip("no train.zip among the real photos")
    return found[0]


def test_a_cut_short_copy_of_the_real_train_zip_is_called_damaged(real_archive, tmp_path):
    original = _real_train_zip(real_archive)
    cut = tmp_path / "downloads" / "train.zip"
    cut.parent.mkdir()
    with open(original, "rb") as src, open(cut, "wb") as out:
        out.write(src.read(5 * 10**6))  # an interrupted download: 5 MB
    cfg = _cfg(tmp_path)
    expected = (f"{cut} is damaged or cut short (5 MB; its central directory is missing): "
                "download it again")
    for source in (cut, cut.parent):  # the file, or a folder holding it
        with pytest.raises(DamagedArchiveError) as error:
            data.prepare(cfg, source=source, progress=False)
        assert str(error.value).startswith(expected)
        assert _left_behind(cfg) == []
    with pytest.raises(DamagedArchiveError, match="damaged or cut short"):
        archives.safe_extract(cut, tmp_path / "out")


def test_a_member_failing_its_crc_is_called_damaged(tmp_path):
    source = _train_zip(tmp_path / "train.zip", n=3)
    content = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as handle:
        info = handle.getinfo("train/dog.1.jpg")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 100
    content[start] ^= 0xFF  # one flipped byte inside the stored photo
    source.write_bytes(bytes(content))
    dest = tmp_path / "out"
    with pytest.raises(DamagedArchiveError, match=r"train.zip is damaged or cut short \(\d+ kB; "
                                                  r"member 'train/dog.1.jpg' fails its check"):
        archives.safe_extract(source, dest)
    assert not (dest / "train" / "dog.1.jpg").exists()


def test_a_file_that_is_no_zip_at_all_is_still_called_so(tmp_path):
    fake = tmp_path / "train.zip"
    fake.write_text("<html>a login page, not the archive</html>")
    with pytest.raises(DataError, match="not a zip archive or a folder") as error:
        data.prepare(_cfg(tmp_path), source=fake, progress=False)
    assert not isinstance(error.value, DamagedArchiveError)
    assert not archives.looks_like_zip(fake) and archives.looks_like_zip(_train_zip(tmp_path / "a.zip"))


# --------------------------------------------------------------------------- what each profile needs
def test_each_profile_needs_comes_from_the_reference_runs(tmp_path, capsys):
    import json

    run = tmp_path / "reference" / "sample"
    (run / "records").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"commit": "abc1234", "hardware": {"cpu_cores": 2},
                                              "notebooks": {"02_mlp": {"seconds": 100.0},
                                                            "03_cnn": {"seconds": 200.0}}}))
    (run / "records" / "cnn_small.json").write_text(json.dumps({"params": 1_000_000}))
    rows = disk.reference_needs(tmp_path / "reference")
    assert [(r["profile"], r["seconds"], r["notebooks"], r["model_bytes"], r["partial"]) for r in rows] \
        == [("sample", 300.0, 2, 4_000_000, False)]
    source = _train_zip(tmp_path / "train.zip")
    disk.report_needs(_cfg(tmp_path), [source], reference_dir=tmp_path / "reference")
    shown = capsys.readouterr().out
    assert f"about {disk.format_size(disk.preparation_needs([source]))} in {tmp_path / 'data'}" in shown
    assert "sample:   5 min for 2 notebooks, models 4 MB (reference run abc1234, 2 CPU cores)" in shown
    assert disk.reference_needs(tmp_path / "nowhere") == []
    # a run that left out notebooks another profile's run has is partial, a note or none
    smoke = tmp_path / "reference" / "smoke"
    (smoke / "records").mkdir(parents=True)
    (smoke / "run.json").write_text(json.dumps({"notebooks": {"02_mlp": {"seconds": 9.0}, "03_cnn": {"seconds": 9.0},
                                                              "04_data_augmentation": {"seconds": 9.0}},
                                                "note": "started at one commit, saved at another"}))
    partial = {r["profile"]: r["partial"] for r in disk.reference_needs(tmp_path / "reference")}
    assert partial == {"smoke": False, "sample": True}
