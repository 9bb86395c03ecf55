"""Per-glacier attributes the archive keeps: inventory ids, a representative point, region, terminus type."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd

from glacierscale.inventory.readers import GLIMS_ID

ATTRIBUTE_COLUMNS = ("glacier_id", "rgi_id", "glims_id", "lon", "lat", "region", "terminus_type")
RGI_ID = re.compile(r"^RGI\d", re.IGNORECASE)
# RGI 6 TermType / RGI 7 term_type codes (RGI 7.0 technical note, table 5)
TERMINUS = {0: "land", 1: "marine", 2: "lake", 3: "shelf", 9: "unknown"}


def _column(gdf: gpd.GeoDataFrame, *names: str) -> pd.Series | None:
    lower = {str(c).lower(): c for c in gdf.columns}
    for n in names:
        if n.lower() in lower:
            return gdf[lower[n.lower()]]
    return None


def _terminus(values: pd.Series | None, n: int) -> list[str]:
    if values is None:
        return [""] * n
    out = []
    for v in values.tolist():
        try:
            out.append(TERMINUS.get(int(v), "unknown"))
        except (TypeError, ValueError):
            out.append(str(v) if v is not None and v == v else "")
    return out


def glacier_attributes(inventory: gpd.GeoDataFrame) -> pd.DataFrame:
    """Return one row per glacier id (duplicates dissolved to one row), sorted by id, with
    ``ATTRIBUTE_COLUMNS``; ids absent from the inventory are empty strings."""
    ids = inventory["glacier_id"].astype(str)
    points = inventory.to_crs("EPSG:4326").geometry.representative_point()
    rgi = _column(inventory, "rgi_id", "RGIId", "rgiid")
    glims = _column(inventory, "glims_id", "GLIMSId", "glac_id")
    df = pd.DataFrame({
        "glacier_id": ids.to_numpy(),
        "rgi_id": (rgi.astype(str).to_numpy() if rgi is not None
                   else np.where(ids.str.match(RGI_ID.pattern, case=False), ids, "")),
        "glims_id": (glims.astype(str).to_numpy() if glims is not None
                     else np.where(ids.str.match(GLIMS_ID.pattern), ids, "")),
        "lon": points.x.to_numpy(), "lat": points.y.to_numpy(),
        "region": (inventory["o1region"].astype(str).to_numpy() if "o1region" in inventory else ""),
        "terminus_type": _terminus(_column(inventory, "terminus_type", "term_type", "TermType"), len(inventory)),
    })
    return df.drop_duplicates("glacier_id").sort_values("glacier_id").reset_index(drop=True)
