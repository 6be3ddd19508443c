"""Settings come from one place: profiles, paths from the environment, checked seeds, the cores a run may use."""

from __future__ import annotations


import pytest

from utils import config, errors


def test_default_profile_is_sample(monkeypatch):
    monkeypatch.delenv("DOGSCATS_PROFILE", raising=False)
    assert config.current().name == "sample"


@pytest.mark.parametrize("name", config.PROFILE_NAMES)
def test_each_profile_has_its_own_data_and_results(monkeypatch, name):
    monkeypatch.setenv("DOGSCATS_PROFILE", name.upper())
    cfg = config.current()
    assert cfg.name == name
    assert cfg.profile_results_dir.name == name
    assert cfg.models_dir.parent == cfg.profile_results_dir
    assert cfg.split_dir == (cfg.dataset_dir if name == "full" else cfg.dataset_dir / name)
    assert set(cfg.epochs) == {"mlp", "cnn", "cnn_aug", "cnn_bn", "vgg16_head", "vgg16_finetune"}


def test_profiles_grow():
    smoke, sample, full = (config.get_profile(n) for n in config.PROFILE_NAMES)
    assert smoke.train_per_class < sample.train_per_class and full.train_per_class is None
    assert smoke.epochs["cnn"] <= sample.epochs["cnn"]


def test_unknown_profile_and_bad_seed_are_clear_errors(monkeypatch):
    monkeypatch.setenv("DOGSCATS_PROFILE", "tiny")
    with pytest.raises(ValueError, match="smoke, sample, full"):
        config.current()
    monkeypatch.setenv("DOGSCATS_PROFILE", "smoke")
    monkeypatch.setenv("DOGSCATS_SEED", "forty-two")
    with pytest.raises(ValueError, match="DOGSCATS_SEED"):
        config.current()


def test_paths_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DOGSCATS_DATA", str(tmp_path / "d"))
    monkeypatch.setenv("DOGSCATS_RESULTS", str(tmp_path / "r"))
    monkeypatch.setenv("DOGSCATS_ARCHIVE", str(tmp_path / "a.zip"))
    monkeypatch.setenv("DOGSCATS_SEED", "7")
    cfg = config.get_profile("smoke")
    assert (cfg.data_dir, cfg.results_dir, cfg.archive, cfg.seed) == (
        tmp_path / "d", tmp_path / "r", tmp_path / "a.zip", 7)


def test_overrides_and_immutability(tmp_path):
    cfg = config.get_profile("smoke", data_dir=tmp_path)
    assert cfg.data_dir == tmp_path
    with pytest.raises(AttributeError):
        cfg.name = "full"


def test_lesson_skipped_carries_the_marker():
    error = errors.LessonSkipped("needs ImageNet weights")
    assert str(error).startswith(errors.SKIP_MARKER) and error.reason == "needs ImageNet weights"


def test_report_says_what_it_runs_on(capsys, tmp_path):
    config.report(config.get_profile("smoke", data_dir=tmp_path))
    out = capsys.readouterr().out
    for needle in ("Profile     : smoke", "TensorFlow", "Keras", "Hardware", "not prepared yet", "Seed"):
        assert needle in out


def test_report_changes_no_setting(capsys, monkeypatch, tmp_path):
    """report only reports: DOGSCATS_MIXED_PRECISION=1 is applied by devices.configure, never by report."""
    import keras

    from utils import devices

    monkeypatch.setattr(devices, "_configured", None)
    monkeypatch.setenv("DOGSCATS_MIXED_PRECISION", "1")
    before = keras.mixed_precision.global_policy().name
    config.report(config.get_profile("smoke", data_dir=tmp_path))
    assert devices.configured() is None, "report configured the devices"
    assert keras.mixed_precision.global_policy().name == before
    assert "not configured yet" in capsys.readouterr().out


def test_versions_and_hardware():
    found = config.versions()
    assert found["keras"].startswith("3.")
    info = config.hardware()
    assert isinstance(info["gpus"], list)
    assert f"CPU only ({info['cpu_cores']} cores: " in config.describe_hardware({**info, "gpus": []})


def test_hardware_counts_the_cores_this_process_may_use(monkeypatch):
    """On a machine of 8 cores where the process is pinned to 3 (taskset, a container), 3 cores."""
    import os

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 2, 5}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert config.hardware()["cpu_cores"] == 3


def test_relative_archive_path_is_found_from_the_notebooks_folder(monkeypatch, tmp_path):
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    monkeypatch.setattr(config, "PROJECT_ROOT", tmp_path)
    (tmp_path / "archive.zip").write_bytes(b"")
    monkeypatch.setenv("DOGSCATS_ARCHIVE", "archive.zip")
    assert config.get_profile("smoke").archive == tmp_path / "archive.zip"
