"""Preparing the data keeps every valid photo, quarantines broken ones and lets no photo leak across splits."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from utils import audit, config, data, loading, sources, splitting

from .conftest import image_bytes


def tmp_cfg(tmp_path, name="smoke", **overrides):
    """A profile whose data and results live under tmp_path."""
    return config.get_profile(name, data_dir=tmp_path / "data", results_dir=tmp_path / "results",
                              archive=None, **overrides)


def tree_digest(folder: Path) -> dict:
    """{relative path: (sha256, mtime)} of every file, to prove a source was left alone."""
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def kaggle_folder(root: Path, make_image, n_per_class=12, start_seed=0) -> Path:
    """An extracted Kaggle-style train/ folder of distinct random images."""
    for i in range(n_per_class):
        make_image(root / "train" / f"cat.{i}.jpg", seed=start_seed + i)
        make_image(root / "train" / f"dog.{i}.jpg", seed=start_seed + 1000 + i)
    return root


# --------------------------------------------------------------------------- check_image
@pytest.mark.parametrize("kind, ok, conversion, reason", [
    ("rgb_jpeg", True, False, ""),
    ("gray_jpeg", True, True, ""),
    ("cmyk_jpeg", True, True, ""),
    ("png_named_jpg", True, True, ""),
    ("gif_named_jpg", True, True, ""),
    ("rgba_png", True, True, ""),
    ("zero_bytes", False, False, "empty file"),
    ("truncated_jpeg", False, False, "truncated"),
    ("text_named_jpg", False, False, "not an image"),
])
def test_check_image_sorts_good_from_bad(tmp_path, kind, ok, conversion, reason):
    path = tmp_path / "x.jpg"
    content = {
        "rgb_jpeg": lambda: image_bytes(),
        "gray_jpeg": lambda: image_bytes(mode="L"),
        "cmyk_jpeg": lambda: image_bytes(mode="CMYK"),
        "png_named_jpg": lambda: image_bytes(fmt="PNG"),
        "gif_named_jpg": lambda: image_bytes(fmt="GIF"),
        "rgba_png": lambda: image_bytes(mode="RGBA", fmt="PNG"),
        "zero_bytes": lambda: b"",
        "truncated_jpeg": lambda: image_bytes(size=(200, 200))[:2000],
        "text_named_jpg": lambda: b"this is a cat, honestly\n" * 20,
    }[kind]()
    path.write_bytes(content)
    check = audit.check_image(path)
    assert check.ok is ok
    assert check.needs_conversion is conversion
    assert reason in check.reason
    if content:
        assert check.sha256 == hashlib.sha256(content).hexdigest()


def test_check_image_missing_file_is_reported_not_raised(tmp_path):
    check = audit.check_image(tmp_path / "nope.jpg")
    assert not check.ok and "unreadable" in check.reason


# --------------------------------------------------------------------------- archives
def test_empty_and_non_zip_archives_are_clear_errors(tmp_path):
    empty = tmp_path / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    with pytest.raises(data.DataError, match="holds no files"):
        sources.safe_extract(empty, tmp_path / "out")
    fake = tmp_path / "train.zip"
    fake.write_text("not a zip")
    with pytest.raises(data.DataError, match="not a readable zip"):
        sources.safe_extract(fake, tmp_path / "out2")
    cfg = tmp_cfg(tmp_path)
    with pytest.raises(data.DataError, match="not a zip archive or a folder"):
        data.prepare(cfg, source=fake, progress=False)


def test_prepare_refuses_hostile_archive_and_writes_nothing(tmp_path):
    archive = tmp_path / "train.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for i in range(5):
            handle.writestr(f"train/cat.{i}.jpg", image_bytes(seed=i))
        handle.writestr("../../evil.jpg", image_bytes(seed=9))
    cfg = tmp_cfg(tmp_path)
    with pytest.raises(sources.UnsafeArchiveError):
        data.prepare(cfg, source=archive, progress=False)
    assert not cfg.dataset_dir.exists()
    assert not list(tmp_path.rglob("evil.jpg"))
    assert not list(cfg.data_dir.glob(".tmp-*")), "scratch folders must be cleaned up"


def test_kaggle_zip_of_zips_is_read_without_touching_it(tmp_path):
    inner_train, inner_test = tmp_path / "train.zip", tmp_path / "test1.zip"
    with zipfile.ZipFile(inner_train, "w") as handle:
        for i in range(10):
            handle.writestr(f"train/cat.{i}.jpg", image_bytes(seed=i))
            handle.writestr(f"train/dog.{i}.jpg", image_bytes(seed=100 + i))
    with zipfile.ZipFile(inner_test, "w") as handle:
        for i in (1, 2, 10, 3):
            handle.writestr(f"test1/{i}.jpg", image_bytes(seed=500 + i))
    outer = tmp_path / "source" / "dogs-vs-cats.zip"
    outer.parent.mkdir()
    with zipfile.ZipFile(outer, "w") as handle:
        handle.write(inner_train, "train.zip")
        handle.write(inner_test, "test1.zip")
        handle.writestr("sampleSubmission.csv", "id,label\n")
    before = tree_digest(outer.parent)
    cfg = tmp_cfg(tmp_path)
    report = data.prepare(cfg, source=outer, progress=False)
    assert tree_digest(outer.parent) == before, "the raw archive must never be modified or moved"
    assert report.counts["full"]["test1"]["unlabelled"] == 4
    ids = sorted(int(p.stem) for p in (cfg.dataset_dir / "test1").glob("*.jpg"))
    assert ids == [1, 2, 3, 10]
    manifest = pd.read_csv(cfg.dataset_dir / "manifest.csv", keep_default_na=False)
    assert (manifest["split"] != "test1").sum() == 20
    assert manifest["source"].str.startswith("dogs-vs-cats.zip:train.zip:").sum() == 20


# --------------------------------------------------------------------------- prepare
def test_petimages_with_broken_files_quarantines_each_and_loses_no_valid_image(tmp_path, make_image):
    source = tmp_path / "PetImages"
    valid = []
    for i in range(10):
        valid.append(make_image(source / "Cat" / f"{i}.jpg", seed=i))
        valid.append(make_image(source / "Dog" / f"{i}.jpg", seed=100 + i))
    valid.append(make_image(source / "Cat" / "gray.jpg", mode="L", seed=200))
    valid.append(make_image(source / "Dog" / "cmyk.jpg", mode="CMYK", seed=201))
    valid.append(make_image(source / "Dog" / "really_png.jpg", fmt="PNG", seed=202))
    valid.append(make_image(source / "Cat" / "really_gif.jpg", fmt="GIF", seed=203))
    broken = {
        "Cat/truncated.jpg": image_bytes(size=(300, 300), seed=300)[:1500],
        "Dog/empty.jpg": b"",
        "Dog/notes.jpg": b"not an image at all\n",
        "Cat/Thumbs.db": b"\x00\x01thumbs",
    }
    for name, content in broken.items():
        (source / name).write_bytes(content)
    before = tree_digest(source)

    cfg = tmp_cfg(tmp_path)
    report = data.prepare(cfg, source=source, progress=False)

    assert tree_digest(source) == before, "the learner's folder must stay untouched"
    reasons = {row["origin"]: row["reason"] for row in report.quarantined}
    assert set(reasons) == set(broken), reasons
    assert "truncated" in reasons["Cat/truncated.jpg"]
    assert "empty" in reasons["Dog/empty.jpg"]
    assert "not an image" in reasons["Dog/notes.jpg"]
    listed = data.read_csv_rows(cfg.dataset_dir / "quarantine.csv")
    assert {row["origin"] for row in listed} == set(broken)
    for row in listed:
        assert (cfg.dataset_dir / row["file"]).is_file(), "quarantined files are kept, not dropped"
    manifest = pd.read_csv(cfg.dataset_dir / "manifest.csv", keep_default_na=False)
    assert len(manifest) == len(valid), "no valid image may be lost"
    assert manifest["converted"].sum() == 4
    assert sorted(manifest["class"].unique()) == ["cats", "dogs"]
    # every image in the split decodes as 3-channel RGB JPEG
    from PIL import Image
    for relative in manifest["file"]:
        with Image.open(cfg.dataset_dir / relative) as image:
            assert image.format == "JPEG" and image.mode == "RGB"


def test_names_without_a_label_are_reported(tmp_path, make_image):
    source = kaggle_folder(tmp_path / "src", make_image, n_per_class=6)
    make_image(source / "train" / "holiday_photo.jpg", seed=77)
    cfg = tmp_cfg(tmp_path)
    report = data.prepare(cfg, source=source / "train", progress=False)
    reasons = {row["origin"]: row["reason"] for row in report.quarantined}
    assert "no label" in reasons["holiday_photo.jpg"]


def test_split_is_deterministic_disjoint_and_nested(tmp_path, make_image):
    source = kaggle_folder(tmp_path / "src", make_image, n_per_class=60)
    one = data.prepare(tmp_cfg(tmp_path / "a"), source=source, progress=False)
    two = data.prepare(tmp_cfg(tmp_path / "b"), source=source, progress=False)
    m1 = pd.read_csv(one.dataset_dir / "manifest.csv")
    m2 = pd.read_csv(two.dataset_dir / "manifest.csv")
    pd.testing.assert_frame_equal(m1, m2)
    assert one.counts["full"]["test"] == {"cats": 6, "dogs": 6}
    assert one.counts["full"]["valid"] == {"cats": 6, "dogs": 6}
    assert one.counts["full"]["train"] == {"cats": 48, "dogs": 48}
    assert audit.find_leaks(audit.file_hashes(one.dataset_dir)).empty
    # the smoke subset takes images of the full split, each in the same split
    smoke = audit.file_hashes(one.dataset_dir / "smoke")
    full = audit.file_hashes(one.dataset_dir).set_index("sha256")
    assert len(smoke) > 0
    assert (full.loc[smoke["sha256"], "split"].to_numpy() == smoke["split"].to_numpy()).all()
    # another seed gives another split
    other = data.prepare(tmp_cfg(tmp_path / "c", seed=7), source=source, progress=False)
    m3 = pd.read_csv(other.dataset_dir / "manifest.csv")
    assert set(m3[m3.split == "test"]["sha256"]) != set(m1[m1.split == "test"]["sha256"])


def test_duplicates_stay_in_one_split_and_cross_label_copies_are_quarantined(tmp_path, make_image):
    source = kaggle_folder(tmp_path / "src", make_image, n_per_class=30)
    twin = source / "train" / "cat.100.jpg"
    twin.write_bytes((source / "train" / "cat.3.jpg").read_bytes())
    (source / "train" / "dog.100.jpg").write_bytes((source / "train" / "cat.4.jpg").read_bytes())
    cfg = tmp_cfg(tmp_path)
    report = data.prepare(cfg, source=source, progress=False)
    assert ["train/cat.3.jpg", "train/cat.100.jpg"] in report.duplicates
    manifest = pd.read_csv(cfg.dataset_dir / "manifest.csv")
    pair = manifest[manifest["source"].isin(["train/cat.3.jpg", "train/cat.100.jpg"])]
    assert len(pair) == 2 and pair["split"].nunique() == 1
    conflicted = {row["origin"] for row in report.quarantined}
    assert conflicted == {"train/cat.4.jpg", "train/dog.100.jpg"}
    assert audit.find_leaks(manifest).empty


def test_find_leaks_reports_content_in_two_splits():
    hashes = pd.DataFrame({"file": ["a", "b", "c"], "split": ["train", "test", "train"],
                           "sha256": ["x", "x", "y"]})
    leaks = audit.find_leaks(hashes)
    assert list(leaks["sha256"]) == ["x"] and list(leaks["splits"]) == ["test+train"]


def test_second_run_is_a_no_op_and_a_changed_source_rebuilds(tmp_path, make_image):
    source = kaggle_folder(tmp_path / "src", make_image, n_per_class=10)
    cfg = tmp_cfg(tmp_path)
    first = data.prepare(cfg, source=source, progress=False)
    assert not first.reused
    stamp = (cfg.dataset_dir / "manifest.csv").stat().st_mtime_ns
    second = data.prepare(cfg, source=source, progress=False)
    assert second.reused and second.counts == first.counts
    assert (cfg.dataset_dir / "manifest.csv").stat().st_mtime_ns == stamp
    make_image(source / "train" / "cat.50.jpg", seed=999)
    third = data.prepare(cfg, source=source, progress=False)
    assert not third.reused
    assert sum(third.counts["full"][s]["cats"] for s in data.SPLITS) == 11


def test_interrupted_split_leaves_previous_split_intact(tmp_path, make_image, monkeypatch):
    source = kaggle_folder(tmp_path / "src", make_image, n_per_class=10)
    cfg = tmp_cfg(tmp_path)
    with monkeypatch.context() as patch:
        calls = {"n": 0}
        real_write = splitting._write_image

        def failing_write(*args):
            calls["n"] += 1
            if calls["n"] > 5:
                raise KeyboardInterrupt("simulated Ctrl-C")
            real_write(*args)

        patch.setattr(splitting, "_write_image", failing_write)
        with pytest.raises(KeyboardInterrupt):
            data.prepare(cfg, source=source, progress=False)
    assert not cfg.dataset_dir.exists(), "a half-built split must never appear"
    assert not data.is_prepared(cfg)

    data.prepare(cfg, source=source, progress=False)
    before = tree_digest(cfg.dataset_dir)
    make_image(source / "train" / "dog.99.jpg", seed=4242)
    # a crashed earlier run's scratch folder is cleaned on the next run
    (cfg.data_dir / ".tmp-dogscats-crashed").mkdir()
    with monkeypatch.context() as patch:
        patch.setattr(splitting, "_write_image", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
        with pytest.raises(OSError):
            data.prepare(cfg, source=source, progress=False)
    assert tree_digest(cfg.dataset_dir) == before
    assert not list(cfg.data_dir.glob(".tmp-*"))


def test_too_few_images_is_a_clear_error(tmp_path, make_image):
    source = tmp_path / "src" / "train"
    for i in range(5):
        make_image(source / f"cat.{i}.jpg", seed=i)
    make_image(source / "dog.1.jpg", seed=50)
    with pytest.raises(data.DataError, match="at least 3 of each class"):
        data.prepare(tmp_cfg(tmp_path), source=source, progress=False)


# --------------------------------------------------------------------------- sources
def test_no_data_anywhere_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv("KAGGLE_USERNAME", raising=False)
    monkeypatch.delenv("KAGGLE_KEY", raising=False)
    monkeypatch.delenv("KAGGLE_API_TOKEN", raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "no-kaggle"))
    cfg = tmp_cfg(tmp_path)
    with pytest.raises(data.DataNotFoundError) as error:
        data.check_available(cfg)
    assert "DOGSCATS_ARCHIVE" in str(error.value) and "kaggle.json" in str(error.value)
    with pytest.raises(data.DataNotFoundError):
        data.prepare(cfg, progress=False)
    with pytest.raises(data.DataNotPreparedError, match="01_data_preparation"):
        data.require_prepared(cfg)


# --------------------------------------------------------------------------- loading
@pytest.mark.real_data
def test_bad_arguments_to_loaders(prepared_smoke):
    with pytest.raises(ValueError, match="split"):
        loading.get_batches("training", (32, 32), cfg=prepared_smoke)
    with pytest.raises(ValueError, match="image_size"):
        loading.get_batches("train", (0, 32), cfg=prepared_smoke)
    with pytest.raises(ValueError, match="image_size"):
        loading.load_arrays("train", "big", cfg=prepared_smoke)
    with pytest.raises(ValueError, match="batch_size"):
        loading.get_batches("train", (32, 32), batch_size=0, cfg=prepared_smoke)


@pytest.mark.real_data
def test_get_batches_shapes_labels_and_order(prepared_smoke):
    dataset = loading.get_batches("valid", (40, 48), batch_size=8, cfg=prepared_smoke)
    assert dataset.class_names == ["cats", "dogs"]
    images, labels = next(iter(dataset))
    assert images.shape == (8, 40, 48, 3) and images.dtype.name == "float32"
    assert labels.shape == (8, 1) and labels.dtype.name == "float32"
    assert 0.0 <= float(images.numpy().min()) and float(images.numpy().max()) <= 255.0
    x, y = loading.load_arrays("valid", (40, 48), cfg=prepared_smoke)
    counts = audit.count_images(prepared_smoke)["valid"]
    assert x.shape == (counts["cats"] + counts["dogs"], 40, 48, 3) and x.dtype == np.float32
    assert y.dtype == np.int32 and y.sum() == counts["dogs"]
    # labels follow the folders: cats = 0, dogs = 1
    expected = np.array([0 if Path(p).parent.name == "cats" else 1 for p in dataset.file_paths])
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_allclose(x[0], images.numpy()[0])
    np.testing.assert_allclose(loading.load_image(dataset.file_paths[0], (40, 48)), x[0])


@pytest.mark.real_data
def test_cached_shuffled_batches_cover_every_image_each_epoch(prepared_smoke):
    dataset = loading.get_batches("train", (16, 16), batch_size=16, cfg=prepared_smoke, cache=True)
    epochs = [np.concatenate([labels.numpy().ravel() for _, labels in dataset]) for _ in range(2)]
    n = sum(audit.count_images(prepared_smoke)["train"].values())
    assert all(len(e) == n for e in epochs)
    assert not np.array_equal(epochs[0], epochs[1]), "training batches are reshuffled every epoch"


@pytest.mark.real_data
def test_load_arrays_uses_its_disk_cache(prepared_smoke):
    first = loading.load_arrays("test", (20, 20), cfg=prepared_smoke)
    cached = list(prepared_smoke.cache_dir.glob("test_20x20_*.npz"))
    assert len(cached) == 1
    second = loading.load_arrays("test", (20, 20), cfg=prepared_smoke)
    np.testing.assert_array_equal(first[0], second[0])


@pytest.mark.real_data
def test_every_pipeline_runs_with_the_autotuner_off(prepared_smoke):
    """tf.data's autotuner stalled fit for seconds per epoch (benchmarks/data_autotune.py)."""
    from utils import lessons

    train = loading.get_batches("train", (16, 16), batch_size=8, cfg=prepared_smoke, cache=True)
    unlabelled, _ = loading.get_unlabelled((16, 16), batch_size=8, cfg=prepared_smoke)
    pipelines = {
        "get_batches": loading.get_batches("valid", (16, 16), batch_size=8, cfg=prepared_smoke),
        "get_batches(cache=True)": train,
        "augment_dataset": lessons.augment_dataset(train, seed=1),
        "get_unlabelled": unlabelled,
        "array_batches": loading.array_batches(np.zeros((3, 2)), np.zeros(3), batch_size=2),
    }
    for name, dataset in pipelines.items():
        assert dataset.options().autotune.enabled is False, name


def test_array_batches_batch_shuffle_and_refuse_bad_input():
    x = np.arange(10, dtype=np.float32).reshape(10, 1) * np.ones((1, 3), np.float32)   # row i is i
    y = np.arange(10) % 2
    plain = [(bx.numpy(), by.numpy()) for bx, by in loading.array_batches(x, y, batch_size=4)]
    assert [len(bx) for bx, _ in plain] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([bx for bx, _ in plain]), x)          # in order, nothing lost
    np.testing.assert_array_equal(np.concatenate([by for _, by in plain]), y)
    shuffled = loading.array_batches(x, y, batch_size=4, shuffle=True, seed=3)
    epochs = [np.concatenate([bx.numpy()[:, 0] for bx, _ in shuffled]) for _ in range(2)]
    for rows in epochs:
        assert sorted(rows) == list(range(10))                                            # every row once per epoch
    assert not np.array_equal(epochs[0], epochs[1]), "reshuffled every epoch"
    pairs = np.concatenate([np.stack([bx.numpy()[:, 0], by.numpy()], 1) for bx, by in shuffled])
    np.testing.assert_array_equal(pairs[:, 1], pairs[:, 0] % 2)                           # labels stay with their rows
    with pytest.raises(ValueError, match="same length"):
        loading.array_batches(x, y[:5], batch_size=4)
    with pytest.raises(ValueError, match="same length"):
        loading.array_batches(x[:0], y[:0], batch_size=4)
    with pytest.raises(ValueError, match="batch_size"):
        loading.array_batches(x, y, batch_size=0)


def test_load_image_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        loading.load_image(tmp_path / "none.jpg", (10, 10))
    bad = tmp_path / "bad.jpg"
    bad.write_text("text")
    with pytest.raises(ValueError, match="not an image"):
        loading.load_image(bad, (10, 10))


@pytest.mark.real_data
def test_unlabelled_ids_match_files(prepared_smoke):
    dataset, ids = loading.get_unlabelled((32, 32), batch_size=8, cfg=prepared_smoke)
    assert ids.dtype == np.int64 and len(ids) == prepared_smoke.test1_limit
    assert sorted(ids) == list(range(1, prepared_smoke.test1_limit + 1))
    assert sum(int(batch.shape[0]) for batch in dataset) == len(ids)


# --------------------------------------------------------------------------- real data
@pytest.mark.real_data
def test_real_split_counts_and_no_leakage(prepared_smoke):
    manifest = data.read_manifest(prepared_smoke)
    labelled = manifest[manifest["split"] != "test1"]
    quarantined = data.read_csv_rows(prepared_smoke.dataset_dir / "quarantine.csv")
    source_files = len(labelled) + len(quarantined)
    assert source_files >= 1000, "the real data set has thousands of labelled photos"
    assert labelled["class"].value_counts().min() >= 0.4 * len(labelled)
    assert audit.find_leaks(manifest).empty
    assert audit.find_leaks(audit.file_hashes(prepared_smoke.split_dir)).empty
    counts = audit.count_images(prepared_smoke)
    assert counts == {"train": {"cats": 40, "dogs": 40}, "valid": {"cats": 16, "dogs": 16},
                      "test": {"cats": 16, "dogs": 16}}
    sample = labelled[labelled["sample"] == 1]
    assert sample.groupby("split").size().to_dict()["train"] == 2000
    assert set(labelled[labelled["smoke"] == 1]["file"]) <= set(sample["file"])
