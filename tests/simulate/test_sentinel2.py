"""Sentinel-2 scenes: sun position of the date, topographic illumination, clouds and shadows in the SCL."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy import ndimage
from sim_helpers import read_band, read_items

from glacierscale.simulate import Region, SceneSet
from glacierscale.simulate.physics import Surface, illumination
from glacierscale.simulate.surfaces import paint_full

S2 = "sentinel-2-l2a"


def reflectance(item: dict[str, Any], key: str) -> np.ndarray:
    band = item["assets"][key]["raster:bands"][0]
    return read_band(item["assets"][key]["href"]).astype(np.float64) * band["scale"] + band["offset"]


def by_date(scenes: SceneSet) -> dict[str, dict[str, Any]]:
    return {it["properties"]["datetime"][5:10]: it for it in read_items(scenes.root, S2)}


def test_sun_position_follows_the_date(full_scenes: SceneSet) -> None:
    items = by_date(full_scenes)
    # 46.8° N at 10:30 local solar time: sin(e) = sin φ sin δ + cos φ cos δ cos(22.5°) with the declination δ
    # of the date (+23.4° on 20 June, +5.4° on 8 September)
    for date, decl in (("06-20", 23.4), ("09-08", 5.4)):
        phi, d = np.radians(46.8), np.radians(decl)
        expected = np.degrees(np.arcsin(np.sin(phi) * np.sin(d) + np.cos(phi) * np.cos(d) * np.cos(np.radians(22.5))))
        props = items[date]["properties"]
        assert props["view:sun_elevation"] == pytest.approx(expected, abs=1.0), date
        assert 120 < props["view:sun_azimuth"] < 160, "mid-morning: the sun is in the south-east"
    elevations = [items[d]["properties"]["view:sun_elevation"] for d in sorted(items)]
    assert elevations == sorted(elevations, reverse=True), "the sun sinks from June to September"


def test_sun_facing_slopes_are_brighter(full_scenes: SceneSet, full_region: Region) -> None:
    item = by_date(full_scenes)["09-08"]
    p = item["properties"]
    cos_i = illumination(full_region.slope, full_region.aspect, p["view:sun_elevation"], p["view:sun_azimuth"])
    scl = np.kron(read_band(item["assets"]["scl"]["href"]), np.ones((2, 2), dtype=np.uint8))
    surf = paint_full(full_region, 2022, p["glacierscale:snow_line_m"], p["glacierscale:fresh_snow"])
    rock = np.isin(scl, (4, 5)) & ndimage.binary_erosion(surf == Surface.ROCK, iterations=2)
    nir = reflectance(item, "nir")
    lit, averted = rock & (cos_i > 0.9), rock & (cos_i > 0.1) & (cos_i < 0.4)
    assert min(lit.sum(), averted.sum()) > 500
    assert np.median(nir[lit]) > 1.8 * np.median(nir[averted])
    # cast and self shadow: the L2A "dark area" class, lit by the sky only
    assert (scl == 2).sum() > 1000
    assert np.median(nir[scl == 2]) < 0.5 * np.median(nir[lit])


def test_clouds_and_cloud_shadows_in_bands_and_scl(full_scenes: SceneSet) -> None:
    covers = []
    for item in read_items(full_scenes.root, S2):
        scl = read_band(item["assets"]["scl"]["href"])
        cover = item["properties"]["eo:cloud_cover"]
        covers.append(cover)
        # the item's cloud cover is the SCL's share of cloud (medium + high probability)
        assert cover == pytest.approx(100 * np.isin(scl, (8, 9)).mean(), abs=0.5), item["id"]
        blue, swir = reflectance(item, "blue")[::2, ::2], reflectance(item, "swir16")
        thick = scl == 9
        assert thick.sum() > 1000
        # water clouds: bright in the visible like snow, but bright at 1.6 µm too (snow is dark there)
        assert np.median(blue[thick]) > 0.6 and np.median(swir[thick]) > 0.25
        assert np.median(swir[scl == 11]) < 0.05
        # cloud shadows: only diffuse skylight, darker than sunlit bare ground although they fall on snow as
        # well as rock (0.8, was 0.6 before snow was calibrated to the real spectra: its NIR is 0.71-0.76 now,
        # 0.55 before, so shadowed snow weighs more in the shadow's median)
        nir = reflectance(item, "nir")[::2, ::2]
        assert (scl == 3).sum() > 1000
        assert np.median(nir[scl == 3]) < 0.8 * np.median(nir[scl == 5])
    assert 20 < np.mean(covers) < 80, "40-70 % is typical over mountain glaciers in the ablation season"
