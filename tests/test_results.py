"""Result records are saved and read back whole (bad or other profiles' ones left out, with a reason)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from utils import config, results


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "hardware", lambda: {"cpu": "test", "cpu_cores": 2, "gpus": [],
                                                     "platform": "test"})
    return config.get_profile("smoke", results_dir=tmp_path / "results")


FIELDS = dict(notebook="03_cnn", image_size=[64, 64], train_count=80, valid_count=32, test_count=32,
              epochs=1, params=np.int64(12_345), train_seconds=10.0, seconds_per_epoch=10.0,
              images_per_second=np.float32(8.0), test_accuracy=0.625, test_log_loss=0.66,
              weights="random init")


def test_save_and_load_round_trip(cfg):
    path = results.save_record(cfg, "cnn_small", **FIELDS)
    assert path == cfg.profile_results_dir / "cnn_small.json"
    [record] = results.load_records(cfg)
    assert record["model_id"] == "cnn_small" and record["profile"] == "smoke"
    assert record["params"] == 12_345 and record["images_per_second"] == 8.0
    assert "versions" in record and "created" in record
    assert not list(cfg.profile_results_dir.glob(".*.tmp"))


def test_save_record_refuses_bad_ids(cfg):
    for bad in ("", "cnn-small", "../x", "a b"):
        with pytest.raises(ValueError, match="model_id"):
            results.save_record(cfg, bad)


def test_no_folder_means_no_records(cfg):
    assert results.load_records(cfg) == []
    assert results.load_records_report(cfg) == ([], [])


def test_corrupt_incomplete_and_other_profiles_records_are_left_out_with_a_reason(cfg):
    results.save_record(cfg, "cnn_small", **FIELDS)
    folder = cfg.profile_results_dir
    (folder / "broken.json").write_text('{"model_id": "cnn_aug", "profile": ')
    (folder / "empty.json").write_text("")
    (folder / "list.json").write_text("[1, 2]")
    (folder / "no_profile.json").write_text(json.dumps({"model_id": "x"}))
    (folder / "latin.json").write_bytes(b"\xff\xfe\x00bad")
    (folder / "other.json").write_text(json.dumps({"model_id": "mlp_pixels", "profile": "full"}))
    records, skipped = results.load_records_report(cfg)
    assert [r["model_id"] for r in records] == ["cnn_small"]
    reasons = dict(skipped)
    assert set(reasons) == {"broken.json", "empty.json", "list.json", "no_profile.json",
                            "latin.json", "other.json"}
    assert "not valid JSON" in reasons["broken.json"]
    assert "'full'" in reasons["other.json"]


def test_profiles_never_mix(cfg, tmp_path):
    sample = config.get_profile("sample", results_dir=cfg.results_dir)
    results.save_record(cfg, "cnn_small", **FIELDS)
    results.save_record(sample, "cnn_small", **{**FIELDS, "test_accuracy": 0.8})
    assert results.load_records(cfg)[0]["test_accuracy"] == 0.625
    assert results.load_records(sample)[0]["test_accuracy"] == 0.8


def test_records_carry_the_test_split_fingerprint(tmp_path):
    from dataclasses import replace

    cfg = replace(config.get_profile("smoke"), data_dir=tmp_path / "data", results_dir=tmp_path / "results")
    for name in ("cats/cat.1.jpg", "dogs/dog.1.jpg"):
        (cfg.split_dir / "test" / name).parent.mkdir(parents=True, exist_ok=True)
        (cfg.split_dir / "test" / name).write_bytes(b"x")
    (cfg.dataset_dir / "manifest.csv").write_text("file,split\n", encoding="utf-8")
    first = json.loads(results.save_record(cfg, "cnn_small", test_accuracy=0.5).read_text())
    (cfg.split_dir / "test" / "dogs" / "dog.2.jpg").write_bytes(b"y")      # another photo in the test split
    second = json.loads(results.save_record(cfg, "cnn_aug", test_accuracy=0.5).read_text())
    assert len(first["test_files_sha256"]) == 64 and first["manifest_sha256"] == second["manifest_sha256"]
    assert first["test_files_sha256"] != second["test_files_sha256"]
