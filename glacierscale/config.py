"""Typed run configuration, loaded from YAML; every error names the field and the file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from glacierscale.errors import ConfigError

if TYPE_CHECKING:
    from glacierscale.infer.options import InferOptions

DEFAULT_CHECKPOINT = "default"
M = TypeVar("M", bound=BaseModel)


def parse_years(value: Any) -> list[int]:
    """Return a sorted list of years from ``2016:2020`` (inclusive), ``2016,2018``, an int or a list."""
    if isinstance(value, int):
        return [value]
    if isinstance(value, str):
        text = value.strip()
        try:
            if ":" in text:
                first, last = (int(p) for p in text.split(":", 1))
                if last < first:
                    raise ValueError(f"range {text!r} ends before it starts")
                return list(range(first, last + 1))
            return sorted({int(p) for p in text.split(",") if p.strip()})
        except ValueError as err:
            raise ValueError(f"years must look like 2016:2020 or 2016,2018, got {text!r} ({err})") from None
    if isinstance(value, list | tuple):
        return sorted({int(v) for v in value})
    raise ValueError(f"years must be a range string, an int or a list, got {type(value).__name__}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CatalogConfig(_Strict):
    """Where scenes come from: a catalog folder (served locally), a STAC API URL, or a provider name
    (``earth-search``, ``planetary-computer``: its URL and asset rules from catalogs/)."""

    url: str
    provider: str = "local"  # catalogs/<provider>.yaml: collections and asset keys per sensor

    @model_validator(mode="after")
    def _provider_by_name(self) -> CatalogConfig:
        named = "://" not in self.url and "/" not in self.url and not Path(self.url).exists()
        if named and self.provider == "local":
            return self.model_copy(update={"provider": self.url})
        return self


class SeasonConfig(_Strict):
    """The yearly time window (month-day) from which scenes are composited; end of ablation season."""

    start: str = "07-15"
    end: str = "09-30"
    south_start: str = "01-15"  # southern hemisphere units: mid-January to end of March
    south_end: str = "03-31"

    @field_validator("start", "end", "south_start", "south_end")
    @classmethod
    def _month_day(cls, v: str) -> str:
        parts = v.split("-")
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise ValueError(f"must be MM-DD, got {v!r}")
        month, day = int(parts[0]), int(parts[1])
        if not (1 <= month <= 12 and 1 <= day <= 31):
            raise ValueError(f"must be a valid MM-DD, got {v!r}")
        return v


class SelectionConfig(_Strict):
    """Scene ranking limits per work unit and window."""

    max_cloud_cover: float = Field(80.0, ge=0, le=100)
    max_scenes: int = Field(4, ge=1)


class GridConfig(_Strict):
    """The work-unit grid: pixel size, tile size in pixels, context margin around glaciers."""

    # the defaults are those of glacierscale.inventory.grid (10.24 km tiles of 10 m pixels, 1 km margin, 32 px
    # overlap); repeated here so reading a config does not import the geometry stack (a test keeps them equal)
    resolution: float = Field(10.0, gt=0)
    tile_size: int = Field(1024, ge=8)
    margin_m: float = Field(1000.0, ge=0)
    overlap_px: int = Field(32, ge=0, description="pixels read around each tile for context and blending")


class ModelConfig(_Strict):
    """Which checkpoint maps the cubes (``default`` is the shipped one)."""

    checkpoint: str = DEFAULT_CHECKPOINT


class InferConfig(_Strict):
    """Patch inference on Ray actors."""

    patch_size: int | None = Field(
        None, ge=32, description="inference window (px); default: the patch size the checkpoint was trained on")
    overlap: int | None = Field(None, ge=0, description="window overlap (px); default: a quarter of the window")
    batch_size: int = Field(8, ge=1)
    gpu_batch_size: int = Field(64, ge=1, description="patches per forward pass on a GPU (blended on the device)")
    num_actors: int = Field(1, ge=1)
    num_gpus: float = Field(0.0, ge=0)
    num_cpus: float = Field(1.0, gt=0)
    threads_per_actor: int = Field(1, ge=1)
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="bf16 autocast on a GPU and fp32 on a CPU (auto), or either everywhere")
    channels_last: bool = Field(False, description="channels-last memory format (measured: docs/model.md)")
    resources: dict[str, float] = Field(
        default_factory=dict, description="custom Ray resources an actor needs, e.g. {gpu_node: 1}: actors go only "
        "to nodes that offer them (ray_cluster.yaml / deploy/ give GPU workers that resource)")
    max_restarts: int = Field(3, ge=-1, description="restarts of a dead actor (-1: unlimited)")
    max_task_retries: int = Field(3, ge=-1, description="retries of an item whose actor died mid-call")
    compile: bool | Literal["auto"] = Field(
        "auto", description="torch.compile the network once per actor; auto: when each actor maps enough tiles "
        "to win back the compile time (docs/model.md)")
    map_under_clouds: bool = Field(
        False, description="pixels no clear optical scene saw are mapped from SAR + DEM (+ thermal) when the "
        "checkpoint was trained without optical data (optional_groups); counted per glacier as radar_fraction "
        "(docs/products.md); off: they stay nodata and are filled from other years at publish")

    flips: bool = Field(
        False, description="test-time augmentation: average the logits of each window and its three flips (4x the "
        "network's work; measured in docs/model.md); products get their own model hash")

    def options(self, tiles_per_actor: int = 0) -> InferOptions:
        """Return the inference options the actors apply to ``tiles_per_actor`` unit-years each."""
        from glacierscale.infer.options import InferOptions, compile_pays

        compile_ = compile_pays(tiles_per_actor) if self.compile == "auto" else bool(self.compile)
        return InferOptions(precision=self.precision, channels_last=self.channels_last, compile=compile_,
                            flips=self.flips)

    @model_validator(mode="after")
    def _overlap_fits(self) -> InferConfig:
        if self.overlap is not None and self.patch_size is not None and self.overlap * 2 >= self.patch_size:
            raise ValueError(f"overlap ({self.overlap}) must be less than half of patch_size ({self.patch_size})")
        return self


class StreamConfig(_Strict):
    """How the run streams (unit, year) items: in flight, batches, retries, the circuit breaker, placement."""

    max_in_flight: int = Field(0, ge=0, description="items in flight at once (0: 2 × the task slots beside the "
                               "actors, at least 2 per actor + 2)")
    batch_items: int = Field(32, ge=1, description="staged items per archive checkpoint (a commit on the run branch)")
    max_attempts: int = Field(3, ge=1, description="attempts per item for transient failures (HTTP 5xx/429, timeouts)")
    backoff_s: float = Field(1.0, ge=0, description="first retry delay; doubles per attempt")
    breaker_window: int = Field(20, ge=1, description="recent finished items the circuit breaker looks at")
    breaker_failed_share: float = Field(0.8, gt=0, le=1, description="stop when this share of the window failed")
    task_resources: dict[str, float] = Field(
        default_factory=dict, description="custom Ray resources select/cube/reduce tasks need, e.g. {cpu_node: 0.01}")
    task_cpus: float = Field(0.5, gt=0, description="CPUs reserved per select/cube/reduce task")
    keep_selections: bool = Field(False, description="keep a published run's scene selections, so the next run "
                                  "reuses them instead of searching the catalog again (a frozen catalog)")


class CleanupConfig(_Strict):
    """The OBIA-style clean-up of each mapped tile before areas are measured (docs/products.md; 0 turns a step off)."""

    min_object_km2: float = Field(0.01, ge=0, description="ice objects smaller than this are removed (the RGI's "
                                  "smallest mapped glacier)")
    opening_m: float = Field(0.0, ge=0, description="morphological opening radius: removes thin ice slivers and "
                             "steep snow streaks narrower than about twice this")
    closing_m: float = Field(0.0, ge=0, description="morphological closing radius: joins ice split by a line of "
                             "misread pixels")
    fill_holes_km2: float = Field(0.0, ge=0, description="holes in the ice smaller than this become ice "
                                  "(bigger ones are nunataks)")
    remove_isolated_debris: bool = Field(False, description="debris-covered ice that touches no clean ice is "
                                         "removed (debris on its own looks like rock to every sensor)")
    steep_snow_slope_deg: float = Field(0.0, ge=0, le=90, description="clean ice on slopes this steep or more "
                                        "that is thinner than steep_snow_width_m is removed (avalanche snow on rock "
                                        "walls); 0 = off; needs the DEM in the cube")
    steep_snow_width_m: float = Field(60.0, ge=0, description="width below which steep clean ice counts as a snow "
                                      "streak (steep_snow_slope_deg)")


class ReduceConfig(_Strict):
    """How a published run turns mapped pixels into glacier-year areas (docs/products.md)."""

    cleanup: CleanupConfig = CleanupConfig()
    candidates: bool = Field(True, description="mapped ice beyond every outline's attribution buffer is kept as "
                             "candidate glaciers (ids cand-G…, docs/products.md) instead of being dropped")
    candidate_min_km2: float = Field(0.01, ge=0, description="smallest candidate object (km², over the tile and "
                                     "its overlap); smaller unattributed ice is only counted per tile")

    min_observed_fraction: float = Field(
        0.5, ge=0, le=1, description="glacier-years observed below this share of their outline are flagged "
        "(glaciers/change_excluded) and left out of change rates; their area is still estimated")
    temporal_filter: bool = Field(True, description="a pixel read as rock between two years of ice (or the reverse) "
                                  "takes its neighbours' class unless its own probability is strong evidence")
    strong_evidence: float = Field(0.98, gt=0.5, le=1, description="probability at which one year's reading "
                                   "stands against both neighbouring years (temporal filter)")
    error_correlation_px: float = Field(3.0, ge=1, description="side (px) of the blocks within which model errors "
                                        "are correlated; scales the model term of area_unc_km2")


class RunConfig(_Strict):
    """Everything ``glacierscale run`` needs; flags on the command line override these fields."""

    name: str = "glacierscale-run"
    catalog: CatalogConfig
    inventory: str
    regions: list[str] = Field(default_factory=list, description="RGI region codes (01, 11-01); empty = all glaciers")
    plan: str | None = Field(None, description="GeoParquet plan from `glacierscale plan`; else planned from the inventory")
    years: list[int]
    archive: str
    cube_store: str | None = Field(None, description="Zarr cube store; default <archive>/../cubes")
    season: SeasonConfig = SeasonConfig()
    selection: SelectionConfig = SelectionConfig()
    grid: GridConfig = GridConfig()
    model: ModelConfig = ModelConfig()
    infer: InferConfig = InferConfig()
    stream: StreamConfig = StreamConfig()
    reduce: ReduceConfig = ReduceConfig()
    state_dir: str | None = Field(None, description="run ledger and scene selections; default <archive>/../state")
    ray_address: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _retired_fields(cls, data: Any) -> Any:
        # ``mode: local|cluster`` was never read (ray_address decides); old configs that have it still load
        if isinstance(data, dict) and "mode" in data:
            import warnings

            data = {k: v for k, v in data.items() if k != "mode"}
            warnings.warn("run config field 'mode' is retired and ignored: set ray_address (or RAY_ADDRESS) "
                          "to run on a cluster", FutureWarning, stacklevel=2)
        return data

    @field_validator("years", mode="before")
    @classmethod
    def _years(cls, v: Any) -> list[int]:
        years = parse_years(v)
        if not years:
            raise ValueError("at least one year is needed")
        bad = [y for y in years if not 1972 <= y <= 2100]
        if bad:  # YAML reads an unquoted 2021:22 as the base-60 number 121282
            raise ValueError(f"years {bad} are outside 1972-2100 (quote ranges in YAML: years: '2016:2020')")
        return years

    @field_validator("regions", mode="before")
    @classmethod
    def _regions(cls, v: Any) -> list[str]:
        from glacierscale.inventory.regions import parse_region_codes

        try:
            return list(parse_region_codes(v if isinstance(v, str | list | tuple) or v is None else str(v)))
        except ConfigError as err:
            raise ValueError(str(err)) from None

    def resolved_state_dir(self) -> str:
        """Return where ledgers and selections live: ``state`` beside the archive (``<archive>-state`` on S3)."""
        if self.state_dir:
            return self.state_dir
        if "://" in self.archive:
            return self.archive.rstrip("/") + "-state"
        return str(Path(self.archive).resolve().parent / "state")

    def resolved_cube_store(self) -> str:
        """Return the cube store location, defaulting to a ``cubes`` folder beside the archive."""
        if self.cube_store:
            return self.cube_store
        if "://" in self.archive:
            return self.archive.rstrip("/") + "-cubes"
        return str(Path(self.archive).resolve().parent / "cubes")


def _format_validation(err: ValidationError, source: str) -> str:
    lines = [f"invalid configuration in {source}:"]
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown field"
        elif e["type"] == "missing":
            msg = "field required"
        lines.append(f"  {field}: {msg}")
    return "\n".join(lines)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; raise ConfigError naming the file if it is missing or not a mapping."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} does not exist")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {p} is not valid YAML: {err}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {p} must hold a mapping of fields, got {type(data).__name__}")
    return data


def build_model(model: type[M], data: dict[str, Any], source: str) -> M:
    """Validate a mapping into ``model``; ConfigError names each bad field and the source."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_validation(err, source)) from None


def build_run_config(data: dict[str, Any], source: str = "<flags>") -> RunConfig:
    """Validate a mapping into a RunConfig; ConfigError names each bad field and the source."""
    return build_model(RunConfig, data, source)


def load_run_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Load CONFIG (optional) and apply command-line overrides (None values are ignored)."""
    data: dict[str, Any] = load_yaml(path) if path else {}
    given = {k for k, v in (overrides or {}).items() if v is not None}  # flags given on the command line
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key == "catalog":
            cat = dict(data.get("catalog") or {})
            cat["url"] = value
            data["catalog"] = cat
        elif "." in key:  # a nested field, e.g. infer.map_under_clouds
            section, field = key.split(".", 1)
            data[section] = {**dict(data.get(section) or {}), field: value}
        else:
            data[key] = value
    source = str(path) if path else "command-line flags"
    if path and overrides and any(v is not None for v in overrides.values()):
        source += " (with command-line overrides)"
    # relative paths in a config file are relative to that file
    if path:
        base = Path(path).resolve().parent
        for key in ("inventory", "archive", "cube_store", "plan", "state_dir"):
            v = data.get(key)
            if isinstance(v, str) and "://" not in v and not Path(v).is_absolute() and key not in given:
                data[key] = str(base / v)
        catalog = data.get("catalog")
        if isinstance(catalog, dict) and isinstance(catalog.get("url"), str) and "catalog" not in given:
            u = catalog["url"]
            if "://" not in u and not Path(u).is_absolute() and not _is_provider_name(u, base):
                catalog["url"] = str(base / u)
    return build_run_config(data, source)


def _is_provider_name(url: str, base: Path) -> bool:
    """Return whether ``url`` names a provider (catalogs/<url>.yaml) rather than a folder beside the config."""
    from glacierscale.catalog.provider import provider_names  # the provider module imports this one

    return "/" not in url and url in provider_names() and not (base / url).exists()


def dump_run_config(cfg: RunConfig, path: str | Path) -> None:
    """Write a RunConfig as YAML that ``load_run_config`` reads back unchanged."""
    Path(path).write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
