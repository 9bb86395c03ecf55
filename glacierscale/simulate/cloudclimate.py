"""Cloud climate per region: the distribution of a scene's cloud fraction over the ablation season.

``RegionSpec(cloud_climate=...)`` picks one of :data:`CLIMATES` for every optical and thermal scene of a
full-physics region (Sentinel-2, Landsat). A scene is near-clear (cover 0-5 %) with probability
``clear_share``; otherwise its cover is ``clip(Beta(a, b) * scale, 0, cap)``. ``"mountain"`` is the
simulator's historical draw (one beta variate, no near-clear draw), so scenes simulated before cloud climates
existed are reproduced byte for byte. ``"auto"`` looks the region's centre up in :data:`MARITIME_BOXES` and
:data:`CONTINENTAL_BOXES` (maritime first), else "mountain".

Sources of the numbers (PHYSICS.md section 6; docs/simulator.md "Cloud climate"):

- maritime: Svalbard, two stations 1980-89 (April-September): fewer than 10 % of overpasses cloud-free,
  ≤ 3 oktas (≤ 37.5 % cover) 29-32 % of the time, August-September best (Marshall, Rees & Dowdeswell 1994,
  Ann. Glaciol.); Aavatsmark Glacier (NW Spitsbergen), all 868 Landsat 8 scenes 2013-2020: about 20 % with
  the glacier front fully visible (≤ 5 % cloud), about 60 % with more than 95 % cloud (Nowak & Czarnecki 2023,
  Przegląd Geograficzny 95(2), doi:10.7163/PrzG.2023.2.1). Chosen: 15 % near-clear (between the two), a
  quarter of scenes ≤ 37.5 %, a fifth > 95 %, mean 0.62 [derived].
- mountain: a Swiss Landsat/Sentinel-2 archive 1984-2021 had 57.9 % raw cloud fraction, 54.6 % in JJA and
  61.3 % in SON (Swiss snow time series, Sci. Data 2025, doi:10.1038/s41597-025-04961-6); 40-70 % per scene
  over mountain glaciers in the ablation season, mean 0.45 [derived] (the simulator default since its start).
- continental: MODIS cloud detection over Xinjiang, 2009: 101 cloud-covered days a year in the mountains, 69 on
  the plains (Zhang et al. 2011, Arid Zone Research 28(4)), i.e. about 28 % of days cloudy in the driest
  glacierised mountains of high Asia. Chosen: 30 % near-clear, mean 0.21, never above 85 % [derived].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CLIMATES", "CLOUD_CLIMATES", "CloudClimate", "auto_climate", "cloud_climate", "scene_cover"]

NEAR_CLEAR = 0.05  # a near-clear scene's cover is uniform in 0..5 % (Nowak & Czarnecki's "fully visible")


@dataclass(frozen=True)
class CloudClimate:
    """A per-scene cloud-fraction distribution: near-clear with ``clear_share``, else Beta(a, b) × scale ≤ cap."""

    name: str
    clear_share: float
    a: float
    b: float
    scale: float
    cap: float
    mean: float  # of the mixture, measured on 400,000 draws (documented; tests check it)
    source: str


CLIMATES: dict[str, CloudClimate] = {
    "mountain": CloudClimate("mountain", 0.0, 2.0, 2.0, 0.9, 0.85, 0.45,
                             "Swiss archive 58 % raw cloud fraction (Sci. Data 2025); 40-70 % typical [derived]"),
    "maritime": CloudClimate("maritime", 0.15, 1.6, 0.6, 1.0, 0.98, 0.62,
                             "Svalbard: < 10 % of overpasses cloud-free (Marshall 1994); Aavatsmark Landsat 8: "
                             "~20 % clear, ~60 % > 95 % cloud (Nowak & Czarnecki 2023) [derived]"),
    "continental": CloudClimate("continental", 0.30, 1.6, 3.2, 0.85, 0.85, 0.21,
                                "Xinjiang mountains: 101 cloudy days a year from MODIS (Zhang et al. 2011) "
                                "[derived]"),
}
CLOUD_CLIMATES = (*CLIMATES, "auto")  # what RegionSpec.cloud_climate and --cloud-climate accept

# (W, S, E, N) in degrees. Maritime: windward coasts poleward of ~40° and the North Atlantic / Arctic islands,
# where onshore westerlies (south-westerlies in the Arctic) keep glaciers under cloud.
MARITIME_BOXES: dict[str, tuple[float, float, float, float]] = {
    "Gulf of Alaska and south-east Alaska": (-170.0, 55.0, -130.0, 62.0),
    "British Columbia coast": (-137.0, 48.0, -124.0, 58.0),
    "Patagonian Andes": (-76.0, -56.0, -71.5, -40.0),
    "New Zealand Southern Alps and Fiordland": (166.0, -47.5, 172.0, -40.0),
    "western and northern Norway": (4.0, 58.0, 16.0, 70.5),
    "Iceland": (-25.0, 63.0, -13.0, 67.0),
    "Svalbard": (10.0, 76.0, 35.0, 81.0),
    "South Georgia": (-39.0, -55.0, -35.0, -53.5),
}
# Continental: the dry interior of high Asia (Karakoram, Pamir, Kunlun, Tien Shan, Qilian; north of the
# monsoon's reach) and the dry Andes of the Arid Diagonal.
CONTINENTAL_BOXES: dict[str, tuple[float, float, float, float]] = {
    "interior high Asia": (70.0, 34.5, 105.0, 45.0),
    "dry Andes": (-72.0, -35.0, -66.0, -18.0),
}


def _inside(lon: float, lat: float, box: tuple[float, float, float, float]) -> bool:
    w, s, e, n = box
    return w <= lon <= e and s <= lat <= n


def auto_climate(lon: float, lat: float) -> str:
    """Return the cloud climate of a place: "maritime", "continental" or "mountain" (see the boxes above)."""
    if any(_inside(lon, lat, box) for box in MARITIME_BOXES.values()):
        return "maritime"
    if any(_inside(lon, lat, box) for box in CONTINENTAL_BOXES.values()):
        return "continental"
    return "mountain"


def cloud_climate(name: str, lon: float, lat: float) -> CloudClimate:
    """Return the climate ``name`` ("auto": the one of (lon, lat))."""
    if name == "auto":
        name = auto_climate(lon, lat)
    try:
        return CLIMATES[name]
    except KeyError:
        raise ValueError(f"no cloud climate {name!r}: choose from {', '.join(CLOUD_CLIMATES)}") from None


def scene_cover(rng: np.random.Generator, climate: CloudClimate) -> float:
    """Return one scene's cloud fraction drawn from ``climate``."""
    # no near-clear draw when the share is 0: "mountain" keeps the simulator's historical rng stream
    if climate.clear_share > 0 and rng.random() < climate.clear_share:
        return float(rng.uniform(0.0, NEAR_CLEAR))
    return float(np.clip(rng.beta(climate.a, climate.b) * climate.scale, 0, climate.cap))
