"""What glacierscale reads from a STAC item: sensor, grid, and per band the asset, scale, offset, nodata.

Works on plain item dictionaries (any STAC version, Earth Search v0/v1, Planetary Computer, USGS, local),
so it never depends on pystac keeping or dropping fields such as ``proj:epsg``. The cube stage takes its
scale/offset/nodata from here, item by item.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from glacierscale.catalog.provider import Provider, SensorDef, load_provider, provider_names
from glacierscale.errors import InputError
from glacierscale.redact import redact

S2_OFFSET_BASELINE = "04.00"  # from this processing baseline on, L2A carries BOA_ADD_OFFSET = -1000


@dataclass(frozen=True)
class BandRead:
    """How one glacierscale band is read from one item."""

    asset: str
    href: str
    epsg: int | None
    transform: list[float] | None
    shape: list[int] | None
    resolution: float | None
    scale: float
    offset: float
    nodata: float | None
    dtype: str | None


@dataclass(frozen=True)
class ParsedItem:
    """An item as glacierscale sees it; ``reason`` says why it cannot go into a cube (None = usable)."""

    id: str
    collection: str | None
    provider: str
    sensor: str
    datetime: str | None
    epsg: int | None
    bands: dict[str, BandRead] = field(default_factory=dict)
    reason: str | None = None

    @property
    def usable(self) -> bool:
        return self.reason is None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["usable"] = self.usable
        return d


def epsg_of(props: dict[str, Any]) -> int | None:
    """Return the EPSG code from ``proj:epsg`` or ``proj:code`` (projection extension v1 and v2)."""
    if props.get("proj:epsg") is not None:
        return int(props["proj:epsg"])
    code = props.get("proj:code")
    if isinstance(code, str):
        m = re.fullmatch(r"EPSG:(\d+)", code.strip(), flags=re.IGNORECASE)
        if m:
            return int(m.group(1))
    return None


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _baseline(props: dict[str, Any]) -> str | None:
    b = props.get("s2:processing_baseline")
    if b:
        return str(b)
    pid = str(props.get("sentinel:product_id") or props.get("s2:product_uri") or "")
    m = re.search(r"_N(\d{2})(\d{2})_", pid)
    return f"{m.group(1)}.{m.group(2)}" if m else None


def band_read(item: dict[str, Any], sdef: SensorDef, asset_key: str) -> BandRead:
    """Return how one asset is read; the item's raster:bands win over the provider's product rules."""
    props = item.get("properties", {})
    a = item["assets"][asset_key]
    rb = (a.get("raster:bands") or [{}])[0]
    offset = rb.get("offset")
    if offset is None:
        offset = sdef.offset
        if sdef.baseline_offset is not None and (_baseline(props) or "00.00") >= S2_OFFSET_BASELINE:
            offset = sdef.baseline_offset
    transform = _first(a.get("proj:transform"), props.get("proj:transform"))
    shape = _first(a.get("proj:shape"), props.get("proj:shape"))
    nodata = _first(rb.get("nodata"), sdef.nodata)
    res = _first(rb.get("spatial_resolution"), a.get("gsd"), abs(transform[0]) if transform else None)
    return BandRead(
        asset=asset_key, href=a["href"], epsg=_first(epsg_of(a), epsg_of(props)),
        transform=[float(v) for v in transform[:6]] if transform else None,
        shape=[int(v) for v in shape] if shape else None, resolution=float(res) if res is not None else None,
        scale=float(_first(rb.get("scale"), sdef.scale)), offset=float(offset),
        nodata=None if nodata is None or nodata == "nan" else float(nodata), dtype=rb.get("data_type"),
    )


def _match(item: dict[str, Any], provider: Provider) -> tuple[str, SensorDef] | None:
    coll = item.get("collection")
    for name, sdef in provider.sensors.items():
        if coll and coll in sdef.collections():
            return name, sdef
    if not coll:  # e.g. stactools examples: match by asset keys
        keys = set(item.get("assets", {}))
        for name, sdef in provider.sensors.items():
            if set(sdef.bands.values()) <= keys:
                return name, sdef
    return None


def _guess_provider(item: dict[str, Any]) -> list[str]:
    """Return provider names to try, those whose hosts appear in the item's links first."""
    hrefs = " ".join(str(link.get("href", "")) for link in item.get("links", []))
    names = provider_names()
    scored = []
    for name in names:
        hosts = load_provider(name).hosts
        best = max((len(h) for h in hosts if h in hrefs), default=0)
        scored.append((-best, name == "local", name))
    return [n for _, _, n in sorted(scored)]


def parse_item(item: dict[str, Any], provider: str | Provider | None = None, *, probe: bool = False) -> ParsedItem:
    """Return what glacierscale would read from ``item``; InputError when no provider knows it.

    With ``probe``, bands whose item declares no projection get CRS, transform and shape from the
    asset's GeoTIFF header (one small read); otherwise such an item is reported as not usable.
    """
    if not isinstance(item, dict) or item.get("type") != "Feature" or "assets" not in item:
        raise InputError("not a STAC item: expected a GeoJSON Feature with assets")
    candidates = [provider] if provider is not None else _guess_provider(item)
    for cand in candidates:
        prov = load_provider(cand) if isinstance(cand, str) else cand
        found = _match(item, prov)
        if found:
            return _parse(item, prov, *found, probe=probe)
    known = ", ".join(str(c if isinstance(c, str) else c.name) for c in candidates)
    raise InputError(f"item {item.get('id')!r} (collection {item.get('collection')!r}) is not a collection "
                     f"glacierscale reads from {known}")


def _probe(b: BandRead, read_timeout_s: float) -> BandRead:
    """Return ``b`` with CRS, transform and shape read from the asset's header (within the provider's deadline)."""
    import rasterio

    from glacierscale.catalog.access import gdal_options

    try:
        with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR", **gdal_options("", read_timeout_s)), \
                rasterio.open(b.href) as src:
            epsg = src.crs.to_epsg() if src.crs else None
            return BandRead(**{**asdict(b), "epsg": epsg, "transform": list(src.transform)[:6],
                               "shape": [src.height, src.width], "resolution": float(src.res[0])})
    except rasterio.errors.RasterioIOError as err:
        reason = f"{err}"
    raise InputError(redact(f"asset {b.asset} ({b.href}) declares no projection and cannot be opened: {reason}"))


def _parse(item: dict[str, Any], prov: Provider, sensor: str, sdef: SensorDef, probe: bool = False) -> ParsedItem:
    props = item.get("properties", {})
    epsg = epsg_of(props)
    base = {"id": str(item.get("id")), "collection": item.get("collection"), "provider": prov.name,
            "sensor": sensor, "datetime": _first(props.get("datetime"), props.get("start_datetime")), "epsg": epsg}
    if sdef.geometry == "radar" or (sensor == "s1" and epsg == 4326):
        return ParsedItem(**base, reason=(
            f"{item.get('collection') or 'Sentinel-1 GRD'} pixels are in radar geometry: proj:epsg {epsg} only "
            "describes an approximate footprint grid, so stacking it would misplace every pixel; use a "
            "terrain-corrected product (Planetary Computer sentinel-1-rtc)"))
    missing = [k for k in sdef.bands.values() if k not in item["assets"]]
    if sdef.mask_asset and sdef.mask_asset not in item["assets"]:
        missing.append(sdef.mask_asset)
    if missing:
        return ParsedItem(**base, reason=f"assets {missing} missing (item has {sorted(item['assets'])})")
    bands = {name: band_read(item, sdef, key) for name, key in sdef.bands.items()}
    if sdef.mask_asset:
        bands["MASK"] = band_read(item, sdef, sdef.mask_asset)
    if probe:
        bands = {n: (_probe(b, prov.read_timeout_s) if b.epsg is None else b) for n, b in bands.items()}
    no_crs = [n for n, b in bands.items() if b.epsg is None]
    if no_crs:
        return ParsedItem(**base, bands=bands, reason=f"no projection (proj:epsg / proj:code) for bands {no_crs}")
    return ParsedItem(**{**base, "epsg": epsg or bands[next(iter(bands))].epsg}, bands=bands)
