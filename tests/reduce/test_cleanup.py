"""OBIA-style clean-up steps: each one on its own, nodata untouched."""

from __future__ import annotations

import numpy as np
import pytest

from glacierscale.reduce.cleanup import CleanupOptions, clean

RES = 20.0
OFF = CleanupOptions(min_object_km2=0.0)


def _glacier() -> np.ndarray:
    c = np.zeros((60, 60), np.uint8)
    c[10:50, 10:40] = 1
    c[40:50, 10:40] = 2  # a debris-covered tongue joined to the clean ice
    return c


def test_minimum_mapping_unit_drops_specks_and_keeps_glaciers() -> None:
    c = _glacier()
    c[2:6, 50:55] = 1  # 20 px = 0.008 km² < 0.01 km²
    out = clean(c, RES, CleanupOptions(min_object_km2=0.01))
    assert (out[2:6, 50:55] == 0).all() and (out[10:50, 10:40] == c[10:50, 10:40]).all()


def test_holes_below_the_size_are_filled_with_the_class_around_them_nunataks_stay() -> None:
    c = _glacier()
    c[20:22, 20:22] = 0  # 4 px crevasse shadow
    c[25:35, 25:35] = 0  # 100 px = 0.04 km² nunatak
    out = clean(c, RES, CleanupOptions(min_object_km2=0.0, fill_holes_km2=0.01))
    assert (out[20:22, 20:22] == 1).all() and (out[25:35, 25:35] == 0).all()
    assert (clean(c, RES, OFF)[20:22, 20:22] == 0).all()


def test_isolated_debris_is_removed_and_a_connected_tongue_kept() -> None:
    c = _glacier()
    c[52:58, 45:58] = 2  # a moraine read as debris, touching no clean ice
    out = clean(c, RES, CleanupOptions(min_object_km2=0.0, remove_isolated_debris=True))
    assert (out[52:58, 45:58] == 0).all() and (out[40:50, 10:40] == 2).all()


def test_opening_and_closing_in_metres() -> None:
    c = _glacier()
    c[28, 40:55] = 1  # a one-pixel spur (a cloud edge read as ice)
    c[10:50, 24] = 0  # a one-pixel crack across the glacier
    opened = clean(c, RES, CleanupOptions(min_object_km2=0.0, opening_m=20.0))
    assert (opened[28, 41:55] == 0).all()
    closed = clean(c, RES, CleanupOptions(min_object_km2=0.0, closing_m=20.0))
    assert (closed[12:48, 24] > 0).all()


def test_nodata_is_never_turned_into_ice_or_rock() -> None:
    c = _glacier()
    c[20:30, 20:30] = 255
    out = clean(c, RES, CleanupOptions(min_object_km2=0.01, closing_m=40.0, fill_holes_km2=0.1,
                                       remove_isolated_debris=True))
    assert (out[20:30, 20:30] == 255).all()


def test_negative_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="closing_m must be ≥ 0"):
        CleanupOptions(closing_m=-1.0)


def _run_config(cleanup: dict[str, object]) -> object:
    from glacierscale.config import build_run_config

    return build_run_config({"catalog": {"url": "earth-search"}, "inventory": "rgi.gpkg", "years": [2021],
                              "archive": "a", "reduce": {"cleanup": cleanup}}, "run.yaml")


def test_the_run_config_sets_the_steps_the_reducer_applies() -> None:
    from glacierscale.catalog.provider import load_provider
    from glacierscale.pipeline.stages import default_stages

    cfg = _run_config({"fill_holes_km2": 0.01, "remove_isolated_debris": True})
    stages = default_stages(cfg, "http://127.0.0.1:1", load_provider("earth-search"), "ckpt",
                            run_id="r", tiles_per_actor=1)
    steps = CleanupOptions(**stages.reduce.keywords["cleanup"])
    c = _glacier()
    c[20:22, 20:22] = 0
    assert steps == CleanupOptions(min_object_km2=0.01, fill_holes_km2=0.01, remove_isolated_debris=True)
    assert (clean(c, RES, steps)[20:22, 20:22] == 1).all()


def test_a_negative_clean_up_size_in_the_config_is_an_error_naming_the_field() -> None:
    from glacierscale.errors import ConfigError

    with pytest.raises(ConfigError, match=r"reduce\.cleanup\.opening_m"):
        _run_config({"opening_m": -20})


def test_water_keeps_its_class_and_never_becomes_background() -> None:
    from glacierscale.reduce.cleanup import CleanupOptions, clean

    classes = np.zeros((40, 40), np.uint8)
    classes[5:20, 5:20] = 1  # a glacier
    classes[20:30, 5:25] = 3  # the lake it calves into
    classes[35:38, 35:38] = 3  # a pond far from it
    classes[0, :] = 255
    out = clean(classes, 20.0, CleanupOptions(min_object_km2=0.01))
    assert (out[20:30, 5:25] == 3).all() and (out[35:38, 35:38] == 3).all()
    assert (out[5:20, 5:20] == 1).all() and (out[0] == 255).all()
    assert set(np.unique(out)) == {0, 1, 3, 255}


def test_thin_snow_streaks_on_steep_slopes_are_removed_wide_steep_ice_and_gentle_streaks_stay() -> None:
    c = _glacier()
    slope = np.full(c.shape, 25.0, np.float32)
    slope[:, 45:60] = 55.0  # a rock wall east of the glacier
    slope[10:50, 30:40] = 50.0  # the glacier's steep eastern part: an ice apron 200 m wide
    c[5:35, 48:50] = 1  # a 40 m wide avalanche streak down the wall
    c[52:58, 5:7] = 1  # a 40 m wide streak on gentle ground (a snow bank, not this step's business)
    steps = CleanupOptions(min_object_km2=0.0, steep_snow_slope_deg=45.0, steep_snow_width_m=60.0)
    out = clean(c, RES, steps, slope_deg=slope)
    assert (out[5:35, 48:50] == 0).all()  # the steep streak is gone
    assert (out[10:50, 10:40] == c[10:50, 10:40]).all()  # the glacier, its steep apron included, is untouched
    assert (out[52:58, 5:7] == 1).all()
    # unknown slope (255 from the actor, NaN) never removes anything; without a slope the step is skipped
    assert (clean(c, RES, steps, slope_deg=np.full(c.shape, 255, np.uint8))[5:35, 48:50] == 1).all()
    assert (clean(c, RES, steps)[5:35, 48:50] == 1).all()
    with pytest.raises(ValueError, match="steep_snow_slope_deg must be ≥ 0"):
        CleanupOptions(steep_snow_slope_deg=-1.0)


def test_the_actor_hands_the_cube_slope_to_the_reducer_as_whole_degrees() -> None:
    from glacierscale.infer.actors import slope_of

    data = np.stack([np.zeros((2, 2)), np.array([[12.4, 47.6], [np.nan, 95.0]])]).astype(np.float32)
    assert slope_of(data, ["B02", "SLOPE"]).tolist() == [[12, 48], [255, 90]]
    assert slope_of(data, ["B02", "B03"]) is None
