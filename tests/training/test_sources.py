"""Training from a catalog + an inventory (``glacierscale train --catalog --inventory --years``): the run's scene
selection and cubes on a simulated catalog served by rustac, labels rasterised from the inventory's outlines."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from affine import Affine

from glacierscale.classes import NODATA_CLASS
from glacierscale.cli import main
from glacierscale.simulate import SceneSet
from glacierscale.training.sources import GLACIER_LABEL, NOT_GLACIER_LABEL, CatalogSource, outline_labels, source_samples

RES, TILE = 20.0, 64  # 1.28 km units (a 1 km context margin around the 2.56 km simulated region)


def square(src_date: str) -> gpd.GeoDataFrame:
    """A 1 km square glacier at (1000-2000 m, 1000-2000 m) of a local metric CRS, dated ``src_date``."""
    return gpd.GeoDataFrame({"glacier_id": ["g1"], "src_date": [src_date]},
                            geometry=[shapely.box(1000, 1000, 2000, 2000)], crs="EPSG:32632")


def distance_to_edge(shape: tuple[int, int], res: float) -> tuple[np.ndarray, np.ndarray]:
    """Return (inside the square, distance of pixel centres to its boundary in m) on a 3 km grid."""
    y, x = np.mgrid[0:shape[0], 0:shape[1]]
    cx, cy = (x + 0.5) * res, 3000 - (y + 0.5) * res
    inside = (cx > 1000) & (cx < 2000) & (cy > 1000) & (cy < 2000)
    dx = np.maximum(np.maximum(1000 - cx, cx - 2000), 0)
    dy = np.maximum(np.maximum(1000 - cy, cy - 2000), 0)
    outside_d = np.hypot(dx, dy)
    inside_d = np.minimum.reduce([cx - 1000, 2000 - cx, cy - 1000, 2000 - cy])
    return inside, np.where(inside, inside_d, outside_d)


def test_outlines_label_glacier_and_older_outlines_lose_their_edges() -> None:
    shape, transform = (150, 150), Affine(RES, 0, 0, 0, -RES, 3000)
    inside, dist = distance_to_edge(shape, RES)
    source = CatalogSource(catalog="x", inventory="y", years=[2020], tolerance_years=2, edge_m_per_year=30)
    current = outline_labels(square("2019-08-20"), transform, shape, 2020, source)
    # within the tolerance every pixel is labelled: the outline's 1 km² is glacier, the rest not glacier
    # (background or water: an inventory does not say which)
    assert (current == GLACIER_LABEL).sum() * RES**2 / 1e6 == pytest.approx(1.0, abs=0.01)
    assert set(np.unique(current)) == {NOT_GLACIER_LABEL, GLACIER_LABEL}
    np.testing.assert_array_equal(current == GLACIER_LABEL, inside)
    # an outline 10 years older than the scene: 8 years past the tolerance × 30 m = 240 m masked each side
    old = outline_labels(square("20100815"), transform, shape, 2020, source)  # RGI 6 BgnDate form
    masked = old == NODATA_CLASS
    assert dist[masked].max() <= 240 + RES and dist[~masked].min() >= 240 - RES
    assert (old[~masked & inside] == GLACIER_LABEL).all() and (old[~masked & ~inside] == NOT_GLACIER_LABEL).all()
    # no readable date: the widest band
    undated = outline_labels(square("-9999999"), transform, shape, 2020, source)
    assert dist[undated == NODATA_CLASS].max() == pytest.approx(source.max_edge_m, abs=RES)


def test_train_from_a_served_simulated_catalog_with_inventory_labels(scene_set: SceneSet, tmp_path: Path,
                                                                     one_torch_thread: None) -> None:
    from glacierscale.model.checkpoint import load_checkpoint

    root = scene_set.root
    inventory = gpd.read_file(root / "inventory.gpkg")
    out = tmp_path / "ckpt"
    config = tmp_path / "train.yaml"
    config.write_text(f"""out: ckpt
workdir: work
tile_size: {TILE}
steps: 16
batch_size: 4
patch_size: 64
threads: 1
catalogs:
  - {{catalog: {root}, inventory: {root / "inventory.gpkg"}, years: "2021:2022"}}
""")
    assert main(["train", str(config)]) == 0
    # labels: the inventory's outlines on the cube grid (not the simulator's truth, which has clean and debris
    # classes and retreats between the years): glacier area as the inventory gives it, inside its footprint
    samples = source_samples(CatalogSource(name="catalog-1", catalog=str(root), inventory=str(root / "inventory.gpkg"),
                                           years=[2021, 2022]), tmp_path / "work", RES, TILE)
    assert {s.year for s in samples} == {2021, 2022}
    for s in samples:
        assert set(np.unique(s.labels)) <= {NOT_GLACIER_LABEL, GLACIER_LABEL, NODATA_CLASS}
        optical = np.isfinite(s.data[:6]).all(axis=0)
        np.testing.assert_array_equal(s.labels == NODATA_CLASS, ~optical)  # dated 2021: no edge masked in 2022
    # every labelled pixel agrees with the outlines rasterised on the unit grids the run plans (1 km margin)
    from rasterio.features import rasterize

    from glacierscale.inventory.units import plan_units, read_inventory

    units = {u.unit_id: u for u in plan_units(read_inventory(root / "inventory.gpkg"), RES, TILE, 1000.0, overlap_px=0)}
    assert set(units) >= {s.unit for s in samples}  # units beyond the simulated scenes have no sample
    glacier_px = 0
    for s in samples:
        unit = units[s.unit]
        transform = Affine(RES, 0, unit.bounds[0], 0, -RES, unit.bounds[3])
        inside = rasterize(inventory.to_crs(unit.epsg).geometry, out_shape=s.labels.shape, transform=transform) > 0
        known = s.labels != NODATA_CLASS
        np.testing.assert_array_equal(s.labels[known] == GLACIER_LABEL, inside[known])
        glacier_px += int((s.labels == GLACIER_LABEL).sum()) if s.year == 2021 else 0
    # most of the inventory's area is labelled (the rest lies under clouds or outside the simulated scenes)
    assert 0.8 < glacier_px * RES**2 / 1e6 / inventory.to_crs(inventory.estimate_utm_crs()).area.sum() * 1e6 <= 1.0
    # the training wrote a checkpoint that loads, on the grid it was trained on; the loss fell
    ckpt = load_checkpoint(out)
    assert ckpt.resolution_m == 20.0 and "B02" in ckpt.bands
    record = json.loads((out / "config.json").read_text())["training"]
    assert record["catalogs"][0]["inventory"] == str(root / "inventory.gpkg")
    assert record["split"]["train"] == ["catalog-1"]
    losses = np.loadtxt(out / "loss.csv", skiprows=1)
    assert len(losses) == 16 and losses[-4:].mean() < losses[:4].mean()
    # fine-tuning it on the same catalog (`--init`) starts from its weights, on the cached cubes
    assert main(["train", str(config), "--init", str(out), "--out", str(tmp_path / "tuned"), "--steps", "4"]) == 0
    tuned = json.loads((tmp_path / "tuned" / "config.json").read_text())["training"]
    assert tuned["init_model_hash"] == ckpt.model_hash and tuned["steps"] == 4


def test_bad_catalog_sources_name_the_input(scene_set: SceneSet, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    root = scene_set.root
    cases = [
        (["--inventory", str(tmp_path / "nowhere.gpkg"), "--years", "2021"], f"inventory {tmp_path / 'nowhere.gpkg'}"),
        (["--inventory", str(root / "inventory.gpkg"), "--years", "2030"],
         f"catalog {root}: no clear optical scene for any of the"),
    ]
    for flags, says in cases:
        code = main(["train", "--catalog", str(root), *flags, "--out", str(tmp_path / "ckpt"),
                     "--workdir", str(tmp_path / "work")])
        err = capsys.readouterr().err
        assert code == 2 and says in err and "Traceback" not in err
    assert main(["train", "--catalog", str(root), "--out", str(tmp_path / "ckpt")]) == 2
    assert "--catalog needs --inventory and --years as well" in capsys.readouterr().err


def test_outline_pixels_are_fitted_on_glacier_whether_clean_or_debris() -> None:
    import torch

    from glacierscale.training.steps import segmentation_loss

    def loss(scores: list[float], label: int) -> float:
        logits = torch.tensor(scores).view(1, 3, 1, 1).expand(1, 3, 4, 4).contiguous()
        return float(segmentation_loss(logits, torch.full((1, 4, 4), label, dtype=torch.int64)))

    clean, debris, background = [0.0, 6.0, 0.0], [0.0, 0.0, 6.0], [6.0, 0.0, 0.0]
    assert loss(clean, GLACIER_LABEL) == pytest.approx(loss(debris, GLACIER_LABEL), abs=1e-6)
    assert loss(clean, GLACIER_LABEL) < 0.05 and loss(background, GLACIER_LABEL) > 1.5
    assert loss(debris, 1) > 1.5  # a per-class label still tells clean from debris


def test_pixels_outside_outlines_are_fitted_on_background_or_water() -> None:
    import torch

    from glacierscale.training.steps import segmentation_loss

    def loss(scores: list[float], label: int) -> float:
        logits = torch.tensor(scores).view(1, 4, 1, 1).expand(1, 4, 4, 4).contiguous()
        return float(segmentation_loss(logits, torch.full((1, 4, 4), label, dtype=torch.int64)))

    background, water, clean = [6.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 6.0], [0.0, 6.0, 0.0, 0.0]
    # an inventory does not map lakes: outside every outline, water is as right as background
    assert loss(background, NOT_GLACIER_LABEL) == pytest.approx(loss(water, NOT_GLACIER_LABEL), abs=1e-6)
    assert loss(water, NOT_GLACIER_LABEL) < 0.1 and loss(clean, NOT_GLACIER_LABEL) > 1.5
    assert loss(water, 0) > 1.5 and loss(water, 3) < 0.1  # a per-class label still tells water from background


def test_config_catalog_sources_resolve_paths_and_need_some_data(tmp_path: Path) -> None:
    from glacierscale.errors import ConfigError
    from glacierscale.training.train import load_train_config

    path = tmp_path / "cfg" / "train.yaml"
    path.parent.mkdir()
    path.write_text("out: ckpt\ncatalogs:\n  - {catalog: sim, inventory: rgi.gpkg, years: '2019:2021'}\n"
                    "  - {name: es, catalog: earth-search, inventory: /data/rgi.zip, years: [2020]}\nvalidation: [es]\n")
    cfg = load_train_config(path)
    assert [(c.name, c.catalog, c.years) for c in cfg.catalogs] == [
        ("catalog-1", str(tmp_path / "cfg" / "sim"), [2019, 2020, 2021]), ("es", "earth-search", [2020])]
    assert cfg.catalogs[0].inventory == str(tmp_path / "cfg" / "rgi.gpkg") and cfg.regions == []
    path.write_text("out: ckpt\n")
    with pytest.raises(ConfigError, match="no training data: give regions"):
        load_train_config(path)
