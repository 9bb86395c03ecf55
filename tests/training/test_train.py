"""``glacierscale train`` in one process: config, region split, checkpoint with groups, calibration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glacierscale.errors import CheckpointError, ConfigError
from glacierscale.training.train import load_train_config, region_spec, train

CONFIG = """
out: ckpt
workdir: work
years: [2022]
tile_size: 128
steps: 12
batch_size: 4
patch_size: 64
threads: 1
sensor_dropout: {sar: 0.3, thermal: 0.3, dem: 0.1}
regions:
  - {name: a, seed: 11}
  - {name: b, seed: 12}
  - {name: real, seed: 5, physics: full, dem: dem.tif, outlines: [2016=rgi.shp], sensors: [s2, dem],
     center_lon: 10.76, center_lat: 46.8}
validation: [b]
"""


def test_config_paths_and_region_specs(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "train.yaml"
    path.parent.mkdir()
    path.write_text(CONFIG)
    cfg = load_train_config(path)
    assert cfg.out == str(tmp_path / "cfg" / "ckpt") and cfg.workers == 1
    real = region_spec(cfg.regions[2], cfg)
    assert real.dem == str(tmp_path / "cfg" / "dem.tif")
    assert real.outlines == (f"2016={tmp_path / 'cfg' / 'rgi.shp'}",)
    assert real.physics == "full" and real.window_m == 2560 and real.grid_m == 2560
    assert region_spec(cfg.regions[0], cfg).size_px == 256 and region_spec(cfg.regions[0], cfg).dem is None
    path.write_text(CONFIG.replace("validation: [b]", "validation: [nowhere]"))
    with pytest.raises(ConfigError, match=r"validation names unknown regions \['nowhere'\]"):
        load_train_config(path)
    # a classic region cannot honour a debris probability (once a silent no-op in a training config)
    path.write_text(CONFIG.replace("{name: a, seed: 11}", "{name: a, seed: 11, debris_probability: 0.4}"))
    with pytest.raises(ConfigError, match=r"region a: debris_probability 0.4 needs physics: full"):
        load_train_config(path)
    # the brightness randomisation's gain range: a wider one is read, a reversed one refused by name
    path.write_text(CONFIG + "brightness_gain: [0.55, 1.6]\n")
    assert load_train_config(path).brightness_gain == (0.55, 1.6)
    path.write_text(CONFIG + "brightness_gain: [1.3, 0.7]\n")
    with pytest.raises(ConfigError, match=r"brightness_gain: \[1.3, 0.7\] is not a range of positive gains"):
        load_train_config(path)
    path.write_text(CONFIG + "haze: [0.05, -0.08]\n")
    with pytest.raises(ConfigError, match=r"haze: \[0.05, -0.08\] is not a range of offsets"):
        load_train_config(path)
    # brightness-consistency pairs: at most half the batch (each pair is an original and its copy)
    path.write_text(CONFIG + "consistency_pairs: 2\n")
    assert load_train_config(path).consistency_pairs == 2
    path.write_text(CONFIG + "batch_size: 2\nconsistency_pairs: 2\n")
    with pytest.raises(ConfigError, match=r"consistency_pairs: 2 is more than half the batch \(batch_size 2\)"):
        load_train_config(path)
    path.write_text(CONFIG + "blind_debris: background\n")
    assert load_train_config(path).blind_debris == "background"
    path.write_text(CONFIG + "blind_debris: rock\n")
    with pytest.raises(ConfigError, match="blind_debris"):
        load_train_config(path)


def test_train_in_one_process_writes_a_fusion_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text(CONFIG.split("  - {name: real")[0] + "validation: [b]\n")
    summary = train(load_train_config(path), progress=False)
    assert summary["regions"] == {"train": ["a"], "validation": ["b"]}
    assert set(summary["validation_iou"]["by_region"]) == {"b"}
    config = json.loads((tmp_path / "ckpt" / "config.json").read_text())
    assert set(config["groups"]) >= {"optical", "sar", "dem"}
    assert config["optional_groups"] == ["dem", "sar", "thermal"]
    assert config["architecture"]["groups"]["optical"] == [0, 1, 2, 3, 4, 5]
    assert config["calibration"]["scenes"] == ["b"] and config["calibration"]["temperature"] > 0
    # the record keeps the region definitions that made the checkpoint, and the split beside them
    assert [r["name"] for r in config["training"]["regions"]] == ["a", "b"]
    assert config["training"]["split"] == {"train": ["a"], "validation": ["b"]}
    assert (tmp_path / "ckpt" / "training-curve.png").is_file()
    cached = list((tmp_path / "work" / "a").glob("cubes-*.npz"))
    assert len(cached) == 1  # a second run reads the cubes from the training cache


def test_labels_are_nodata_only_where_optical_data_is_missing(scene_set: object) -> None:
    import numpy as np

    from glacierscale.training.data import scene_samples

    samples = scene_samples(scene_set.root, [2021], 20.0, 128)  # type: ignore[attr-defined]
    assert samples
    for s in samples:
        optical_ok = np.isfinite(s.data[:6]).all(axis=0)
        np.testing.assert_array_equal(s.labels == 255, ~optical_ok)
        assert (s.labels[optical_ok] <= 2).all()  # a gap in coherence or the DEM leaves the pixel labelled


def test_groups_select_the_bands_a_model_reads(tmp_path: Path) -> None:
    import numpy as np

    from glacierscale.training.data import Sample
    from glacierscale.training.train import group_problem, only_groups

    bands = ("B02", "B03", "B04", "B08", "B11", "B12", "VV", "VH", "COH", "LST", "ELEV", "SLOPE", "ASPECT")
    data = np.arange(len(bands), dtype=np.float32)[:, None, None] * np.ones((1, 4, 4), np.float32)
    sample = Sample("r", 2022, data, np.zeros((4, 4), np.uint8), bands)
    optical = only_groups(sample, ["optical"])
    assert optical.bands == bands[:6] and optical.data[:, 0, 0].tolist() == [0, 1, 2, 3, 4, 5]
    with_dem = only_groups(sample, ["optical", "dem"])
    assert with_dem.bands == (*bands[:6], "ELEV", "SLOPE", "ASPECT") and with_dem.data[-1, 0, 0] == 12
    assert only_groups(sample, ["optical", "sar", "thermal", "dem"]) is sample
    assert group_problem(["optical"]) == ""
    assert "unknown ['radar']" in group_problem(["optical", "radar"])
    assert "optical included" in group_problem(["sar"])
    path = tmp_path / "train.yaml"
    path.write_text(CONFIG + "groups: [sar, dem]\n")
    with pytest.raises(ConfigError, match=r"groups \['sar', 'dem'\]: choose from optical, sar, thermal, dem"):
        load_train_config(path)


def test_init_fine_tunes_from_a_checkpoint_and_refuses_one_that_does_not_fit(tmp_path: Path) -> None:
    import torch

    from glacierscale.model.checkpoint import load_checkpoint

    small = CONFIG.split("  - {name: real")[0] + "validation: [b]\n"
    (tmp_path / "first.yaml").write_text(small)
    train(load_train_config(tmp_path / "first.yaml"), progress=False)
    first = load_checkpoint(tmp_path / "ckpt")
    # lr 0: the fine-tuned weights are the starting weights, so they were loaded (not drawn afresh)
    (tmp_path / "tune.yaml").write_text(small.replace("out: ckpt", "out: tuned\ninit: ckpt\nlr: 0.0")
                                        .replace("patch_size: 64", "patch_size: 96"))
    summary = train(load_train_config(tmp_path / "tune.yaml"), progress=False)
    tuned = load_checkpoint(tmp_path / "tuned")
    assert summary["init_model_hash"] == first.model_hash
    assert json.loads((tmp_path / "tuned" / "config.json").read_text())["training"]["init_model_hash"] == first.model_hash
    assert tuned.patch_size == 96 and tuned.mean.tolist() == first.mean.tolist()
    for (name, a), (_, b) in zip(first.model.named_parameters(), tuned.model.named_parameters(), strict=True):
        assert torch.equal(a, b), name
    # a checkpoint of another width, or one that reads elevation differently, is refused before training
    (tmp_path / "wide.yaml").write_text(small.replace("out: ckpt", "out: wide\ninit: ckpt\nstem_width: 16"))
    with pytest.raises(ConfigError, match=r"init: .*ckpt: its model .* is not this config's \(stem_width 16"):
        train(load_train_config(tmp_path / "wide.yaml"), progress=False)
    (tmp_path / "rel.yaml").write_text(small.replace("out: ckpt", "out: rel\ninit: ckpt\nrelative_elevation: true"))
    with pytest.raises(ConfigError, match=r"it reads absolute elevation and this config sets relative_elevation: true"):
        train(load_train_config(tmp_path / "rel.yaml"), progress=False)
    assert not (tmp_path / "wide").exists() and not (tmp_path / "rel").exists()
    # data from a catalog without SAR is put on the checkpoint's bands (SAR missing, as modality dropout trained);
    # a band it does not read, or an optical band it cannot do without, is refused
    import numpy as np

    from glacierscale.training.data import Sample
    from glacierscale.training.finetune import onto_bands_of

    cfg = load_train_config(tmp_path / "tune.yaml")
    no_sar = tuple(b for b in first.bands if b not in ("VV", "VH", "COH"))
    data = np.ones((len(no_sar), 8, 8), np.float32)
    (aligned,) = onto_bands_of(str(cfg.init), first, [Sample("r", 2022, data, np.zeros((8, 8), np.uint8), no_sar)])
    assert aligned.bands == tuple(first.bands) and np.isnan(aligned.data[first.bands.index("VV")]).all()
    assert (aligned.data[first.bands.index("B11")] == 1).all()
    extra = Sample("r", 2022, np.ones((len(no_sar) + 1, 8, 8), np.float32), np.zeros((8, 8), np.uint8),
                   (*no_sar, "NDVI"))
    with pytest.raises(ConfigError, match=r"the training data has bands \['NDVI'\] that it does not read"):
        onto_bands_of(str(cfg.init), first, [extra])
    no_swir = tuple(b for b in no_sar if b != "B11")
    with pytest.raises(ConfigError, match=r"the training data lacks \['B11'\], which it cannot do without"):
        onto_bands_of(str(cfg.init), first, [Sample("r", 2022, data[1:], np.zeros((8, 8), np.uint8), no_swir)])
    (tmp_path / "gone.yaml").write_text(small.replace("out: ckpt", "out: gone\ninit: nowhere"))
    with pytest.raises(CheckpointError, match=r"nowhere does not exist"):
        train(load_train_config(tmp_path / "gone.yaml"), progress=False)
