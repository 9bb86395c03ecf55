"""Area change between consecutive usable glacier-years: rate ± uncertainty and a signal-to-noise flag.

A glacier-year is usable when it has an area and its ``change_excluded`` is empty (observed fraction at least
``reduce.min_observed_fraction`` when the run published it; a different threshold can be given here). Unusable
years are skipped, never read as change: the change runs from the last usable year to the next one and names
the years it skipped. The uncertainty of a change is the two years' ``area_unc_km2`` added in quadrature (the
errors of two maps treated as independent, the conservative choice); ``snr`` = |change| / uncertainty and
``significant`` when it is at least 1.96 (the change is outside the 95 % interval of no change).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SIGNIFICANT_SNR = 1.96
COLUMNS = ["glacier_id", "from_year", "to_year", "from_area_km2", "to_area_km2", "change_km2", "change_unc_km2",
           "rate_km2_per_yr", "rate_unc_km2_per_yr", "rel_change_pct_per_yr", "snr", "significant", "skipped_years"]


def usable(rows: pd.DataFrame, min_observed_fraction: float | None = None) -> pd.Series:
    """Return which glacier-year rows enter change rates."""
    has_area = rows["area_km2"].notna()
    if min_observed_fraction is not None:
        seen = rows["observed_fraction"].fillna(0.0)
        return has_area & (seen > 0) & (seen >= min_observed_fraction)  # a gap never enters a change
    excluded = rows["change_excluded"].fillna("") if "change_excluded" in rows else pd.Series("", index=rows.index)
    return has_area & (excluded == "")


def change_rates(rows: pd.DataFrame, min_observed_fraction: float | None = None) -> pd.DataFrame:
    """Return one row per glacier and pair of consecutive usable years of the glacier table ``rows``."""
    ok = usable(rows, min_observed_fraction)
    out = []
    for gid, g in rows.assign(_ok=ok).sort_values(["glacier_id", "year"]).groupby("glacier_id", sort=True):
        good = g[g["_ok"]]
        years = g["year"].astype(int).tolist()
        for (_, a), (_, b) in zip(good.iloc[:-1].iterrows(), good.iloc[1:].iterrows(), strict=True):
            y0, y1 = int(a["year"]), int(b["year"])
            dt = y1 - y0
            change = float(b["area_km2"] - a["area_km2"])
            unc = float(np.hypot(a["area_unc_km2"], b["area_unc_km2"]))
            snr = abs(change) / unc if unc > 0 else float("inf")
            out.append({"glacier_id": gid, "from_year": y0, "to_year": y1, "from_area_km2": float(a["area_km2"]),
                        "to_area_km2": float(b["area_km2"]), "change_km2": change, "change_unc_km2": unc,
                        "rate_km2_per_yr": change / dt, "rate_unc_km2_per_yr": unc / dt,
                        "rel_change_pct_per_yr": 100.0 * change / dt / float(a["area_km2"]) if a["area_km2"] else np.nan,
                        "snr": snr, "significant": bool(snr >= SIGNIFICANT_SNR),
                        "skipped_years": ",".join(str(y) for y in years if y0 < y < y1)})
    return pd.DataFrame(out, columns=COLUMNS)
