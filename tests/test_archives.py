"""utils.archives refuses hostile zips (bombs, deep nesting, lying headers, unsafe names); real archives pass."""

from __future__ import annotations

import struct
import zipfile

import pytest

from utils import archives, config, data, sources

from .conftest import image_bytes

ZEROS = 20 * 2**20  # 20 MB of zeros deflate to about 20 kB: a ratio near 1,000


def _zip(path, members: dict, compression=zipfile.ZIP_DEFLATED):
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=compression) as handle:
        for name, content in members.items():
            handle.writestr(name, content)
    return path


def _nothing_written(dest):
    return not dest.exists() or not any(p.is_file() for p in dest.rglob("*"))


def test_zip_bomb_is_refused_before_writing_and_names_its_limit(tmp_path):
    bomb = _zip(tmp_path / "train.zip", {"train/cat.1.jpg": image_bytes(),
                                         "train/zeros.bin": b"\0" * ZEROS})
    assert bomb.stat().st_size < 100_000
    dest = tmp_path / "out"
    with pytest.raises(sources.UnsafeArchiveError) as error:
        sources.safe_extract(bomb, dest)
    message = str(error.value)
    assert "max_ratio" in message and "DOGSCATS_MAX_COMPRESSION_RATIO" in message
    assert "zeros.bin" in message
    assert _nothing_written(dest)


def test_many_small_compressible_members_are_caught_by_the_archive_ratio(tmp_path):
    # each member under the 1 MB floor, the archive as a whole a bomb
    bomb = _zip(tmp_path / "many.zip", {f"z/{i}.bin": b"\0" * 900_000 for i in range(30)})
    with pytest.raises(sources.UnsafeArchiveError, match="expands .* times"):
        sources.safe_extract(bomb, tmp_path / "out")
    assert _nothing_written(tmp_path / "out")


def test_a_limit_is_raised_by_its_environment_variable_or_keyword(tmp_path, monkeypatch):
    bomb = _zip(tmp_path / "train.zip", {"zeros.bin": b"\0" * (2 * 2**20)})
    with pytest.raises(sources.UnsafeArchiveError):
        sources.safe_extract(bomb, tmp_path / "a")
    monkeypatch.setenv("DOGSCATS_MAX_COMPRESSION_RATIO", "5000")
    assert len(sources.safe_extract(bomb, tmp_path / "b")) == 1
    monkeypatch.delenv("DOGSCATS_MAX_COMPRESSION_RATIO")
    limits = archives.ArchiveLimits(max_ratio=5000)
    assert len(sources.safe_extract(bomb, tmp_path / "c", limits=limits)) == 1
    assert (tmp_path / "c" / "zeros.bin").stat().st_size == 2 * 2**20


@pytest.mark.parametrize("text", ["0", "-5", "lots", "nan"])
def test_a_bad_limit_variable_is_a_clear_error(monkeypatch, text):
    monkeypatch.setenv("DOGSCATS_MAX_ARCHIVE_MEMBERS", text)
    with pytest.raises(ValueError, match="DOGSCATS_MAX_ARCHIVE_MEMBERS must be a positive number"):
        archives.ArchiveLimits.from_env()


def test_total_size_and_member_count_are_capped(tmp_path):
    archive = _zip(tmp_path / "train.zip", {f"train/cat.{i}.jpg": image_bytes(seed=i)
                                            for i in range(6)}, zipfile.ZIP_STORED)
    total = sum(len(image_bytes(seed=i)) for i in range(6))
    with pytest.raises(sources.UnsafeArchiveError, match="max_members.*DOGSCATS_MAX_ARCHIVE_MEMBERS"
                       "|6 files"):
        sources.safe_extract(archive, tmp_path / "a", limits=archives.ArchiveLimits(max_members=5))
    with pytest.raises(sources.UnsafeArchiveError, match="DOGSCATS_MAX_ARCHIVE_BYTES"):
        sources.safe_extract(archive, tmp_path / "b",
                             limits=archives.ArchiveLimits(max_bytes=total - 1))
    assert _nothing_written(tmp_path / "a") and _nothing_written(tmp_path / "b")
    assert len(sources.safe_extract(archive, tmp_path / "c",
                                    limits=archives.ArchiveLimits(max_members=6, max_bytes=total))) == 6


def _nest(tmp_path, depth: int):
    """A zip holding a zip ... ``depth`` archives deep, the innermost with 4 cats and 4 dogs."""
    members = {f"train/{label}.{i}.jpg": image_bytes(seed=10 * i + (label == "dog"))
               for label in ("cat", "dog") for i in range(4)}
    path = _zip(tmp_path / "level1.zip", members)
    for level in range(2, depth + 1):
        path = _zip(tmp_path / f"level{level}.zip", {path.name: path.read_bytes()})
    return path


def test_archives_nested_too_deep_are_refused(tmp_path):
    ok = sources.collect([_nest(tmp_path / "a", 3)], tmp_path / "work-a")
    assert len(ok) == 8
    with pytest.raises(sources.UnsafeArchiveError, match="nested 4 deep.*DOGSCATS_MAX_ARCHIVE_DEPTH"):
        sources.collect([_nest(tmp_path / "b", 4)], tmp_path / "work-b")
    deep = sources.collect([_nest(tmp_path / "c", 4)], tmp_path / "work-c",
                           limits=archives.ArchiveLimits(max_depth=4))
    assert len(deep) == 8


def test_nested_archives_share_one_budget(tmp_path):
    inner = {f"inner{k}.zip": _zip(tmp_path / f"i{k}.zip", {f"train/cat.{k}{i}.jpg": image_bytes(seed=i)
                                                           for i in range(3)}).read_bytes()
             for k in range(2)}
    outer = _zip(tmp_path / "outer.zip", inner)
    # 2 inner zips + 3 + 3 images = 8 files: each archive alone is under 7, all of them not
    with pytest.raises(sources.UnsafeArchiveError, match="with the archives before it, 8"):
        sources.collect([outer], tmp_path / "work", limits=archives.ArchiveLimits(max_members=7))


def _lie_about_size(path, name: str, declared: int):
    """Rewrite the uncompressed size of ``name`` in its local and central headers."""
    content = bytearray(path.read_bytes())
    encoded = name.encode()
    for signature, offset_size, offset_name in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        start = 0
        while (start := content.find(signature, start)) >= 0:
            if content[start + offset_name:start + offset_name + len(encoded)] == encoded:
                content[start + offset_size:start + offset_size + 4] = struct.pack("<I", declared)
            start += 4
    path.write_bytes(bytes(content))


def test_a_header_that_lies_about_the_size_is_caught_while_streaming(tmp_path):
    archive = _zip(tmp_path / "liar.zip", {"train/cat.1.jpg": image_bytes(),
                                           "train/big.bin": b"\0" * (3 * 2**20)})
    _lie_about_size(archive, "train/big.bin", 1000)  # passes the ratio check on paper
    with zipfile.ZipFile(archive) as handle:
        assert handle.getinfo("train/big.bin").file_size == 1000
    dest = tmp_path / "out"
    # stopped at the declared size: refused, or its CRC fails (damaged: download it again)
    with pytest.raises((sources.UnsafeArchiveError, sources.DamagedArchiveError),
                       match="big.bin.*(header|declares|fails its check)"):
        sources.safe_extract(archive, dest)
    written = [p for p in dest.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in written) <= len(image_bytes()) + 1000


@pytest.mark.parametrize("name,why", [
    ("..\\..\\evil.jpg", "'..' in path"),
    ("train\\..\\..\\evil.jpg", "'..' in path"),
    ("C:evil.jpg", "drive letter"),
    ("C:\\Windows\\evil.jpg", "drive letter"),
    ("\\\\server\\share\\evil.jpg", "absolute path"),
    ("/etc/evil.jpg", "absolute path"),
])
def test_windows_style_escapes_are_refused_with_nothing_written(tmp_path, name, why):
    archive = _zip(tmp_path / "evil.zip", {"train/cat.1.jpg": image_bytes(), name: image_bytes(seed=1)})
    dest = tmp_path / "deep" / "out"
    with pytest.raises(sources.UnsafeArchiveError) as error:
        sources.safe_extract(archive, dest)
    assert why in str(error.value)
    assert not dest.exists()
    assert not list(tmp_path.rglob("evil.jpg"))


def test_names_differing_only_in_case_are_both_kept(tmp_path):
    archive = _zip(tmp_path / "case.zip", {"PetImages/Cat/1.jpg": image_bytes(seed=1),
                                           "PetImages/cat/1.jpg": image_bytes(seed=2),
                                           "PetImages/Dog/1.jpg": image_bytes(seed=3)})
    written = sources.safe_extract(archive, tmp_path / "out")
    contents = sorted(p.read_bytes() for p in written)
    assert contents == sorted(image_bytes(seed=s) for s in (1, 2, 3)), "no member overwrote another"
    items = sources.collect([archive], tmp_path / "work")
    assert sorted(item.label for item in items) == ["cats", "cats", "dogs"]


def test_a_file_and_a_folder_with_the_same_name_are_refused(tmp_path):
    archive = _zip(tmp_path / "clash.zip", {"train/cats": b"x", "Train/Cats/cat.1.jpg": image_bytes()})
    with pytest.raises(sources.UnsafeArchiveError, match="share this name"):
        sources.safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_prepare_refuses_a_bomb_and_leaves_no_trace(tmp_path):
    archive = _zip(tmp_path / "train.zip", {**{f"train/cat.{i}.jpg": image_bytes(seed=i) for i in range(4)},
                                            **{f"train/dog.{i}.jpg": image_bytes(seed=9 + i) for i in range(4)},
                                            "train/zeros.bin": b"\0" * ZEROS})
    cfg = config.get_profile("smoke", data_dir=tmp_path / "data", results_dir=tmp_path / "results",
                             archive=None)
    with pytest.raises(sources.UnsafeArchiveError, match="max_ratio"):
        data.prepare(cfg, source=archive, progress=False)
    assert not cfg.dataset_dir.exists()
    assert not list(cfg.data_dir.glob(".tmp-*"))


@pytest.mark.real_data
def test_the_real_archives_pass_the_default_limits(real_archive):
    """Kaggle's zips as the course finds them: their central directories fit the defaults."""
    zips = [real_archive] if real_archive.is_file() else sorted(real_archive.rglob("*.zip"))
    budget = archives.Budget(archives.ArchiveLimits())
    for path in zips:
        with zipfile.ZipFile(path) as handle:
            members = [info for info in handle.infolist() if not info.is_dir()]
            archives._check_names(path, members)
            archives._check_sizes(path, members, budget)
            budget.members += len(members)
            budget.bytes += sum(info.file_size for info in members)
    assert budget.members >= 10_000
