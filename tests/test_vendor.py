"""course.publish.vendor: only the files pages load are unpacked, from a tarball in DOGSCATS_VENDOR."""

from __future__ import annotations

import io
import tarfile

import pytest

from course.publish import vendor


def _tarball(path, members):
    with tarfile.open(path, "w:gz") as archive:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


@pytest.fixture
def fake_reveal(tmp_path, monkeypatch):
    monkeypatch.setenv("DOGSCATS_VENDOR", str(tmp_path / "cache"))
    monkeypatch.setitem(vendor.PACKAGES, "reveal.js", ("9.9.9", ("dist/reveal.js", "plugin/notes/")))
    (tmp_path / "cache").mkdir()
    return tmp_path / "cache" / "reveal.js-9.9.9.tgz"


def test_install_copies_only_what_pages_load(fake_reveal, tmp_path):
    _tarball(fake_reveal, {"package/dist/reveal.js": "R", "package/plugin/notes/notes.js": "N",
                           "package/demo.html": "D", "package/../evil.js": "E"})
    folder = vendor.install("reveal.js", tmp_path / "out")
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == [".version", "dist/reveal.js", "plugin/notes/notes.js"]
    assert not (tmp_path / "evil.js").exists() and not (tmp_path / "out" / "evil.js").exists()
    assert (folder / "dist" / "reveal.js").read_text() == "R"


def test_a_tarball_lacking_a_file_is_refused(fake_reveal, tmp_path):
    _tarball(fake_reveal, {"package/dist/reveal.js": "R"})
    with pytest.raises(vendor.VendorError, match="plugin/notes/"):
        vendor.install("reveal.js", tmp_path / "out")


def test_without_npm_or_tarball_the_error_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("DOGSCATS_VENDOR", str(tmp_path / "empty"))
    monkeypatch.setenv("PATH", str(tmp_path))   # no npm on it
    with pytest.raises(vendor.VendorError, match="reveal.js-4.6.1.tgz"):
        vendor.tarball("reveal.js")
