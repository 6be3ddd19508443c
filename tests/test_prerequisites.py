"""A notebook opened first gets the split and its earlier records (utils.prerequisites)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from utils import comparisons, config, prerequisites, references, results


@pytest.fixture
def empty_smoke(tmp_path):
    """A smoke cfg with nothing prepared and no records (no data needed)."""
    return config.get_profile("smoke", data_dir=tmp_path / "data", results_dir=tmp_path / "results")


def test_reference_copies_each_missing_record_with_its_provenance(empty_smoke, capsys):
    how = prerequisites.ensure_records(empty_smoke, ["mlp_pixels", "cnn_aug"], missing="reference")
    assert how == {"mlp_pixels": "reference", "cnn_aug": "reference"}
    reference = {r["model_id"]: r for r in references.load_reference_run("smoke")["records"]}
    for model_id in how:
        copied = json.loads((empty_smoke.profile_results_dir / f"{model_id}.json").read_text())
        assert copied["provenance"]["kind"] == "reference"
        assert copied["provenance"]["source"] == f"reference/smoke/records/{model_id}.json"
        assert copied["test_p_dog"] == reference[model_id]["test_p_dog"]
    table = comparisons.comparison_table(results.load_records(empty_smoke))
    assert set(table["made by"]) == {"reference run (copied)"}
    assert "copied the reference run's record" in capsys.readouterr().out


def test_a_vgg16_id_is_filled_by_its_lite0_twin_from_the_reference(empty_smoke):
    how = prerequisites.ensure_records(empty_smoke, ["vgg16_finetune"], missing="reference")
    assert how == {"efficientnet_lite0_finetune": "reference"}


def test_records_already_there_are_never_overwritten(empty_smoke, capsys):
    path = results.save_record(empty_smoke, "mlp_pixels", test_accuracy=0.123)
    how = prerequisites.ensure_records(empty_smoke, ["mlp_pixels"], missing="train")
    assert how == {"mlp_pixels": "here"}
    assert json.loads(path.read_text())["test_accuracy"] == 0.123
    assert "Already here: mlp_pixels" in capsys.readouterr().out


def test_a_reference_record_from_other_test_photos_is_not_copied(empty_smoke, capsys):
    split = empty_smoke.split_dir / "test" / "cats"
    split.mkdir(parents=True)
    (split / "not-the-reference-photo.jpg").write_bytes(b"x")
    assert prerequisites.copy_reference_record(empty_smoke, "cnn_small") is None
    assert "scored on other test photos" in capsys.readouterr().out
    assert not (empty_smoke.profile_results_dir / "cnn_small.json").exists()


def test_unknown_choice_and_unmakeable_model(empty_smoke, capsys):
    with pytest.raises(ValueError, match="reference"):
        prerequisites.ensure_records(empty_smoke, ["mlp_pixels"], missing="download")
    no_reference = dataclasses.replace(empty_smoke, name="sample")
    how = prerequisites.ensure_records(no_reference, ["mlp_unscaled"], missing="reference")
    assert how == {"mlp_unscaled": "none"}
    assert "run 02_mlp.ipynb" in capsys.readouterr().out


def test_the_switch_is_a_declared_setting():
    assert prerequisites.missing_choice({}) == "reference"
    assert prerequisites.missing_choice({"DOGSCATS_MISSING": " Train "}) == "train"
    with pytest.raises(ValueError, match="DOGSCATS_MISSING"):
        prerequisites.missing_choice({"DOGSCATS_MISSING": "guess"})


def test_ensure_prepared_says_the_split_is_there(prepared_smoke, capsys):
    prerequisites.ensure_prepared(prepared_smoke)
    assert "The prepared split is here" in capsys.readouterr().out


@pytest.mark.real_data
def test_ensure_prepared_prepares_a_missing_split(real_archive, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DOGSCATS_ARCHIVE", str(real_archive))
    cfg = config.get_profile("smoke", data_dir=tmp_path / "data", results_dir=tmp_path / "results")
    prerequisites.ensure_prepared(cfg)
    out = capsys.readouterr().out
    assert "preparing it now" in out and "Prepared" in out
    assert (cfg.split_dir / "train" / "cats").is_dir()


@pytest.mark.real_data
@pytest.mark.slow
def test_train_makes_a_labelled_stand_in_and_a_needed_model(prepared_smoke, tmp_path, capsys):
    cfg = dataclasses.replace(prepared_smoke, results_dir=tmp_path / "results")
    how = prerequisites.ensure_records(cfg, ["mlp_pixels"], models=["cnn_small"], missing="train")
    assert how == {"cnn_small": "short recipe", "mlp_pixels": "short recipe"}
    for model_id in how:
        record = json.loads((cfg.profile_results_dir / f"{model_id}.json").read_text())
        assert record["provenance"]["kind"] == "short recipe"
        assert record["recipe"].startswith("short recipe (1 epoch(s)")
        assert record["test_files_sha256"] == results.test_split_fingerprint(cfg)["test_files_sha256"]
    assert (cfg.models_dir / "cnn_small.keras").is_file()
    # reference mode still trains a model the notebook loads: a reference run commits no model files
    how = prerequisites.ensure_records(cfg, ["cnn_plain"], models=["cnn_aug"], missing="reference")
    assert how == {"cnn_aug": "short recipe", "cnn_plain": "reference"}


def _layer_classes(model) -> set:
    """Class names of every layer in ``model``, nested models included."""
    found = set()
    for layer in model.layers:
        found.add(type(layer).__name__)
        if hasattr(layer, "layers"):
            found |= _layer_classes(layer)
    return found


def test_the_frozen_aug_stand_in_trains_behind_augmentation_and_is_saved_without_it(prepared_smoke, tmp_path, capsys):
    import keras

    from utils import augmentation

    cfg = dataclasses.replace(prepared_smoke, results_dir=tmp_path / "results")
    record = json.loads(prerequisites.train_short(cfg, "efficientnet_lite0_frozen_aug").read_text())
    assert record["augmentation"] == dict(augmentation.LIGHT_SETTINGS)
    assert "trained now with the short recipe" in capsys.readouterr().out
    saved = keras.models.load_model(cfg.models_dir / "efficientnet_lite0_frozen_aug.keras")
    assert not any(name.startswith("Random") for name in _layer_classes(saved)), "06 saves (b) without augmentation"
