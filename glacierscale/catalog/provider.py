"""Provider definitions (catalogs/*.yaml): which collection and asset key serves each band of each sensor.

Adding a provider is adding a YAML file, not code. The cube stage reads bands through these definitions, so
simulated and real catalogs go through the same code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from glacierscale.config import load_yaml
from glacierscale.errors import ConfigError

# provider YAML ships in the package (glacierscale/catalogs: in a checkout, a link to the top-level catalogs/);
# the checkout's folder is the fallback for a tree where the link is missing
CATALOG_DIRS = list(dict.fromkeys(d.resolve() for d in (Path(__file__).resolve().parents[1] / "catalogs",
                                             Path(__file__).resolve().parents[2] / "catalogs") if d.is_dir())) \
    or [Path(__file__).resolve().parents[1] / "catalogs"]


Access = Literal["local-files", "anonymous-https", "requester-pays-s3", "planetary-computer-sas"]


class SensorDef(BaseModel):
    """How one sensor group is read from a provider.

    ``scale``/``offset``/``nodata`` apply when an item's ``raster:bands`` is silent (the item's own values
    win); ``baseline_offset`` is the Sentinel-2 L2A offset of processing baseline 04.00 and later, used
    when the item declares no offset. ``geometry: radar`` marks products whose pixels are not on a map
    grid (Sentinel-1 GRD): such items are refused for cube assembly.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    collection: str
    aliases: list[str] = []  # other collection ids with the same asset layout
    bands: dict[str, str]  # glacierscale band name -> STAC asset key
    mask_asset: str | None = None
    clear_scl: list[int] = []  # mask_asset is a class layer: these classes are clear
    cloud_bits: list[int] = []  # mask_asset is a bit field: these bits mark cloud / shadow
    to_db: list[str] = []
    scale: float = 1.0
    offset: float = 0.0
    baseline_offset: float | None = None
    nodata: float | None = None
    resampling: Literal["nearest", "bilinear", "cubic", "average"] = "bilinear"
    native_resolution: float = 10.0
    geometry: Literal["map", "radar"] = "map"
    access: Access | None = None  # overrides the provider's access for this sensor
    note: str | None = None

    def collections(self) -> list[str]:
        return [self.collection, *self.aliases]


class Provider(BaseModel):
    """A STAC provider: name, access rule and sensors."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    access: Access
    url: str | None = None
    hosts: list[str] = []  # link hosts that identify items of this provider
    token_url: str | None = None  # SAS token endpoint (planetary-computer-sas)
    sign_hosts: list[str] = [".blob.core.windows.net"]  # hrefs on these hosts are signed (planetary-computer-sas)
    read_timeout_s: float = Field(60.0, gt=0)  # a remote read that stalls this long fails (and is retried)
    sensors: dict[str, SensorDef]


def load_provider(name_or_path: str) -> Provider:
    """Return the provider defined in ``catalogs/<name>.yaml`` (or a YAML path)."""
    path = Path(name_or_path)
    if not path.suffix:
        candidates = [d / f"{name_or_path}.yaml" for d in CATALOG_DIRS]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise ConfigError(f"unknown catalog provider {name_or_path!r}: no {name_or_path}.yaml in "
                              + ", ".join(str(d) for d in CATALOG_DIRS))
        path = found
    try:
        return Provider.model_validate(load_yaml(path))
    except ValidationError as err:
        fields = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
        raise ConfigError(f"invalid provider definition in {path}: {fields}") from None


def provider_names() -> list[str]:
    """Return the names of every provider defined in catalogs/."""
    return sorted({p.stem for d in CATALOG_DIRS for p in d.glob("*.yaml")})
