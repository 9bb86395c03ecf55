"""Run configuration: year parsing, YAML loading, error messages that name the file and the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from glacierscale.config import dump_run_config, load_run_config, parse_years
from glacierscale.errors import ConfigError

MINIMAL = {
    "catalog": {"url": "https://earth-search.aws.element84.com/v1", "provider": "earth-search"},
    "inventory": "/data/rgi.gpkg",
    "years": "2016:2020",
    "archive": "/data/archive",
}


def write_yaml(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def with_fields(**changes: object) -> dict[str, object]:
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in MINIMAL.items()}
    data.update(changes)
    return data


# --- parse_years -------------------------------------------------------------------------------------


def test_parse_years_inclusive_range() -> None:
    assert parse_years("2016:2020") == [2016, 2017, 2018, 2019, 2020]


def test_parse_years_list_is_sorted_and_deduplicated() -> None:
    assert parse_years("2018,2016") == [2016, 2018]
    assert parse_years("2018, 2016,2018") == [2016, 2018]
    assert parse_years([2020, 2017, 2020]) == [2017, 2020]
    assert parse_years(2021) == [2021]


def test_parse_years_single_year_range() -> None:
    assert parse_years("2019:2019") == [2019]


@pytest.mark.parametrize("text", ["2020:2016", "2016:abc", "twenty", "2016-2020"])
def test_parse_years_rejects_bad_text_and_quotes_it(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        parse_years(text)


def test_parse_years_reversed_range_says_so() -> None:
    with pytest.raises(ValueError, match="ends before it starts"):
        parse_years("2020:2016")


# --- load_run_config: a valid file ------------------------------------------------------------------------


def test_minimal_config_loads_with_defaults(tmp_path: Path) -> None:
    cfg = load_run_config(write_yaml(tmp_path / "run.yaml", MINIMAL))
    assert cfg.years == [2016, 2017, 2018, 2019, 2020]
    assert cfg.catalog.provider == "earth-search"
    assert (cfg.infer.patch_size, cfg.infer.overlap) == (None, None)  # the checkpoint's training patch size
    assert (cfg.season.start, cfg.season.end) == ("07-15", "09-30")
    assert cfg.resolved_cube_store() == "/data/cubes"


def test_dumped_config_reads_back_unchanged(tmp_path: Path) -> None:
    cfg = load_run_config(write_yaml(tmp_path / "run.yaml", with_fields(infer={"overlap": 16, "patch_size": 64})))
    dump_run_config(cfg, tmp_path / "again.yaml")
    assert load_run_config(tmp_path / "again.yaml") == cfg


def test_overrides_replace_file_values(tmp_path: Path) -> None:
    cfg = load_run_config(write_yaml(tmp_path / "run.yaml", MINIMAL), {"years": "2021,2019", "catalog": "http://x/stac",
                                                                         "archive": None})
    assert cfg.years == [2019, 2021]
    assert cfg.catalog.url == "http://x/stac"
    assert cfg.catalog.provider == "earth-search"  # the rest of the catalog section is kept
    assert cfg.archive == "/data/archive"  # None means "flag not given"


def test_a_nested_flag_sets_its_field_and_keeps_the_section(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "run.yaml", {**MINIMAL, "infer": {"num_actors": 2}})
    cfg = load_run_config(path, {"infer.map_under_clouds": True})
    assert cfg.infer.map_under_clouds and cfg.infer.num_actors == 2
    assert not load_run_config(path, {"infer.map_under_clouds": None}).infer.map_under_clouds  # flag not given


# --- relative paths -----------------------------------------------------------------------------------------


def test_relative_paths_are_relative_to_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf_dir = tmp_path / "project" / "configs"
    path = write_yaml(conf_dir / "run.yaml", with_fields(
        catalog={"url": "../catalog"}, inventory="inv/rgi.gpkg", archive="../out/archive", cube_store="cubes"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the working directory must not matter
    cfg = load_run_config(Path("..") / "project" / "configs" / "run.yaml")
    base = conf_dir.resolve()
    assert Path(cfg.inventory) == base / "inv" / "rgi.gpkg"
    assert Path(cfg.archive).resolve() == (tmp_path / "project" / "out" / "archive").resolve()
    assert Path(cfg.catalog.url).resolve() == (tmp_path / "project" / "catalog").resolve()
    assert Path(cfg.cube_store or "") == base / "cubes"
    assert path.parent.resolve() == base


def test_urls_and_absolute_paths_are_left_alone(tmp_path: Path) -> None:
    cfg = load_run_config(write_yaml(tmp_path / "run.yaml", with_fields(
        archive="s3://bucket/archive", inventory="/abs/rgi.gpkg")))
    assert cfg.archive == "s3://bucket/archive"
    assert cfg.inventory == "/abs/rgi.gpkg"
    assert cfg.catalog.url == "https://earth-search.aws.element84.com/v1"
    assert cfg.resolved_cube_store() == "s3://bucket/archive-cubes"


def test_paths_given_as_flags_are_not_rebased_on_the_config_folder(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "conf" / "run.yaml", with_fields(inventory="rgi.gpkg"))
    cfg = load_run_config(path, {"inventory": "from-flag.gpkg", "catalog": "local-cat"})
    assert cfg.inventory == "from-flag.gpkg"
    assert cfg.catalog.url == "local-cat"


# --- errors name the file and the dotted field ----------------------------------------------------------


def _error_of(tmp_path: Path, data: object) -> tuple[Path, str]:
    path = write_yaml(tmp_path / "bad.yaml", data)
    with pytest.raises(ConfigError) as info:
        load_run_config(path)
    return path, str(info.value)


def test_unknown_nested_field(tmp_path: Path) -> None:
    path, msg = _error_of(tmp_path, with_fields(infer={"overlapp": 16}))
    assert str(path) in msg
    assert "infer.overlapp: unknown field" in msg


def test_unknown_top_level_field(tmp_path: Path) -> None:
    path, msg = _error_of(tmp_path, with_fields(yeras="2016:2020"))
    assert str(path) in msg
    assert "yeras: unknown field" in msg


def test_wrong_type_names_the_dotted_field(tmp_path: Path) -> None:
    path, msg = _error_of(tmp_path, with_fields(infer={"overlap": "a lot"}))
    assert str(path) in msg
    assert "infer.overlap:" in msg
    assert "integer" in msg


def test_out_of_range_value_names_the_dotted_field(tmp_path: Path) -> None:
    path, msg = _error_of(tmp_path, with_fields(selection={"max_cloud_cover": 140}))
    assert str(path) in msg
    assert "selection.max_cloud_cover:" in msg


def test_missing_fields_are_all_listed(tmp_path: Path) -> None:
    data = with_fields(catalog={"provider": "local"})
    del data["archive"]
    path, msg = _error_of(tmp_path, data)
    assert str(path) in msg
    assert "archive: field required" in msg
    assert "catalog.url: field required" in msg


def test_bad_year_range_in_a_file(tmp_path: Path) -> None:
    path, msg = _error_of(tmp_path, with_fields(years="2020:2016"))
    assert str(path) in msg and "years:" in msg and "ends before it starts" in msg


def test_empty_year_list_is_refused(tmp_path: Path) -> None:
    _, msg = _error_of(tmp_path, with_fields(years=[]))
    assert "years:" in msg and "at least one year" in msg


def test_bad_season_date(tmp_path: Path) -> None:
    _, msg = _error_of(tmp_path, with_fields(season={"start": "13-01"}))
    assert "season.start:" in msg and "MM-DD" in msg


@pytest.mark.parametrize(("patch_size", "overlap"), [(128, 64), (128, 100), (64, 32)])
def test_overlap_of_half_a_patch_or_more_is_rejected(tmp_path: Path, patch_size: int, overlap: int) -> None:
    path, msg = _error_of(tmp_path, with_fields(infer={"patch_size": patch_size, "overlap": overlap}))
    assert str(path) in msg
    assert "infer:" in msg
    assert f"overlap ({overlap}) must be less than half of patch_size ({patch_size})" in msg


def test_overlap_just_below_half_a_patch_is_accepted(tmp_path: Path) -> None:
    cfg = load_run_config(write_yaml(tmp_path / "run.yaml", with_fields(infer={"patch_size": 128, "overlap": 63})))
    assert cfg.infer.overlap == 63


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("catalog: {url: [unclosed\nyears: 2016\n")
    with pytest.raises(ConfigError, match=re.escape(f"config file {path} is not valid YAML")):
        load_run_config(path)


@pytest.mark.parametrize(("text", "kind"), [("- 2016\n- 2017\n", "list"), ("just a sentence\n", "str"), ("42\n", "int")])
def test_non_mapping_yaml_names_the_file(tmp_path: Path, text: str, kind: str) -> None:
    path = tmp_path / "list.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(f"config file {path} must hold a mapping of fields, got {kind}")):
        load_run_config(path)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=re.escape(f"config file {path} does not exist")):
        load_run_config(path)


def test_config_error_is_also_a_value_error(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "bad.yaml", with_fields(ray_address=["not", "an", "address"]))
    with pytest.raises(ValueError, match="ray_address:"):
        load_run_config(path)


def test_an_old_config_with_mode_still_loads_with_a_deprecation_message(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "old.yaml", with_fields(mode="cluster"))
    with pytest.warns(FutureWarning, match="run config field 'mode' is retired and ignored: set ray_address"):
        cfg = load_run_config(path)
    assert "mode" not in cfg.model_dump()


# --- YAML as people type it --------------------------------------------------------------------------------


def test_unquoted_year_range_and_list_in_yaml(tmp_path: Path) -> None:
    base = "catalog: {url: catalog}\ninventory: rgi.gpkg\narchive: archive\n"
    path = tmp_path / "run.yaml"
    path.write_text(base + "years: 2016:2020\n")
    assert load_run_config(path).years == [2016, 2017, 2018, 2019, 2020]
    path.write_text(base + "years: 2020,2016\n")
    assert load_run_config(path).years == [2016, 2020]
    path.write_text(base + "years: [2022, 2021]\n")
    assert load_run_config(path).years == [2021, 2022]


def test_abbreviated_year_range_is_not_silently_a_huge_year(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("catalog: {url: catalog}\ninventory: rgi.gpkg\narchive: archive\nyears: 2021:22\n")
    with pytest.raises(ConfigError, match="years"):
        load_run_config(path)


def test_a_provider_name_in_a_config_file_stays_a_provider_name(tmp_path: Path) -> None:
    cfg = load_run_config(write_yaml(tmp_path / "conf" / "run.yaml", with_fields(catalog={"url": "earth-search"})))
    assert cfg.catalog.url == "earth-search"
    assert cfg.catalog.provider == "earth-search"


def test_a_folder_beside_the_config_wins_over_a_provider_of_the_same_name(tmp_path: Path) -> None:
    (tmp_path / "conf" / "earth-search").mkdir(parents=True)
    cfg = load_run_config(write_yaml(tmp_path / "conf" / "run.yaml", with_fields(catalog={"url": "earth-search"})))
    assert Path(cfg.catalog.url) == (tmp_path / "conf" / "earth-search").resolve()
    assert cfg.catalog.provider == "local"
