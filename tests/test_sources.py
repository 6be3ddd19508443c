"""The raw photos are found where a learner puts them and extracted safely; missing ones give a clear error."""

from __future__ import annotations

import stat
import zipfile

import pytest

from utils import config, sources

from .conftest import image_bytes


def tmp_cfg(tmp_path):
    return config.get_profile("smoke", data_dir=tmp_path / "data", results_dir=tmp_path / "results",
                              archive=None)


def test_safe_extract_refuses_parent_and_absolute_members_before_writing(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("train/cat.1.jpg", image_bytes())
        handle.writestr("../evil.jpg", image_bytes(seed=1))
        handle.writestr("/abs.jpg", image_bytes(seed=2))
    dest = tmp_path / "out" / "x"
    with pytest.raises(sources.UnsafeArchiveError) as error:
        sources.safe_extract(archive, dest)
    assert "../evil.jpg" in str(error.value) and "/abs.jpg" in str(error.value)
    assert not dest.exists(), "nothing may be extracted from a hostile archive"
    assert not (tmp_path / "out" / "evil.jpg").exists()
    assert not (tmp_path / "evil.jpg").exists()


def test_safe_extract_refuses_symbolic_links(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        info = zipfile.ZipInfo("train/cat.1.jpg")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        handle.writestr(info, "/etc/passwd")
    with pytest.raises(sources.UnsafeArchiveError, match="symbolic link"):
        sources.safe_extract(archive, tmp_path / "out")


def test_archive_variable_pointing_nowhere_is_named(tmp_path):
    cfg = config.get_profile("smoke", data_dir=tmp_path, archive=tmp_path / "missing.zip")
    with pytest.raises(sources.DataNotFoundError, match="DOGSCATS_ARCHIVE points to"):
        sources.find_source(cfg)


def test_files_dropped_under_data_downloads_are_found(tmp_path):
    cfg = tmp_cfg(tmp_path)
    (cfg.data_dir / "downloads").mkdir(parents=True)
    archive = cfg.data_dir / "downloads" / "dogs-vs-cats.zip"
    archive.write_bytes(b"")
    assert sources.find_source(cfg) == [archive]


def test_kaggle_without_credentials_is_a_clear_error(tmp_path, monkeypatch):
    for name in ("KAGGLE_USERNAME", "KAGGLE_KEY", "KAGGLE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "none"))
    with pytest.raises(sources.DataNotFoundError, match="kaggle.json"):
        sources.download_from_kaggle(tmp_cfg(tmp_path), progress=False)


def test_the_redux_archive_is_read_like_the_2013_one(tmp_path):
    """Redux (the competition the course downloads and submits to) ships test.zip, not test1.zip."""
    inner_train, inner_test = tmp_path / "train.zip", tmp_path / "test.zip"
    with zipfile.ZipFile(inner_train, "w") as handle:
        handle.writestr("train/cat.1.jpg", image_bytes())
        handle.writestr("train/dog.2.jpg", image_bytes(seed=1))
    with zipfile.ZipFile(inner_test, "w") as handle:
        handle.writestr("test/7.jpg", image_bytes(seed=2))
    outer = tmp_path / f"{sources.KAGGLE_COMPETITION}.zip"
    with zipfile.ZipFile(outer, "w") as handle:
        handle.write(inner_train, "train.zip")
        handle.write(inner_test, "test.zip")
        handle.writestr("sample_submission.csv", "id,label\n7,0.5\n")
    items = sources.collect([outer], tmp_path / "work")
    labels = sorted((item.name, item.label) for item in items if item.label)
    assert labels == [("7.jpg", "test1"), ("cat.1.jpg", "cats"), ("dog.2.jpg", "dogs")]
    cfg = tmp_cfg(tmp_path)
    (cfg.data_dir / "downloads").mkdir(parents=True)
    dropped = cfg.data_dir / "downloads" / outer.name
    dropped.write_bytes(outer.read_bytes())
    assert sources.find_source(cfg) == [dropped]


def test_download_and_submission_name_one_competition():
    from utils import cloud

    assert cloud.COMPETITION == sources.KAGGLE_COMPETITION == "dogs-vs-cats-redux-kernels-edition"
    assert sources.KAGGLE_COMPETITION in sources.how_to_get_data(config.get_profile("smoke"))
