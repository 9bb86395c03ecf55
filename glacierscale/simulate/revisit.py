"""Realistic revisit: how many scenes each sensor delivers in a season, from the satellites in orbit that year.

``RegionSpec(revisit="real")`` asks :func:`scenes_per_season` for the scene count of every sensor and year
instead of the fixed ``s2_per_year``/``s1_per_year``/``landsat_per_year``. The dates are then drawn as
:func:`glacierscale.simulate.scene.acquisition_dates` draws them (distinct random days of the season).

Facts (launch and service dates, repeat cycles, swaths; ESA Sentinel-1 and Sentinel-2 mission pages and user
guides, USGS Landsat mission pages and the Landsat 7/8/9 data users handbooks; ``../shared/PHYSICS.md`` §2 for
Sentinel-1B and -1C):

- **Sentinel-2** (MSI, 290 km swath, 143 orbits in a 10-day repeat per satellite). 2A launched 23 Jun 2015,
  2B on 7 Mar 2017: a 10-day revisit with one satellite, 5 days with two at the equator. 2C, launched 5 Sep
  2024, replaced 2A in the constellation on 21 Jan 2025 (2A went on to an extended campaign, not counted).
- **Sentinel-1** (C-band SAR, IW mode, 12-day repeat per satellite). 1A was operational from Oct 2014; 1B
  from 26 Sep 2016 until its failure on 23 Dec 2021 (6-day repeat with both), so 2022–2024 is 1A alone
  (12 days); 1C, launched 5 Dec 2024, delivers data from 26 Mar 2025 (6 days again).
- **Landsat** (185 km swath, 233 WRS-2 paths in a 16-day repeat per satellite). Landsat 7 from 15 Apr 1999
  (SLC-off from 31 May 2003); Landsat 8 from 11 Apr 2013 (16 days); Landsat 9 from 31 Oct 2021 (8 days with
  both). Landsat 7 is counted only before Landsat 8: after that its SLC-off scenes (a fifth of every scene
  missing) are the ones a run would skip. Landsat 5 (to Nov 2011) and older missions are not modelled, so
  years before 1999 have no Landsat scenes.

Derivation. A satellite in service on ``d`` days of a season passes over a point ``d / repeat`` times at its
nominal repeat. Sentinel-2 and Landsat image all land on every pass, and adjacent ground tracks, ``40 075 km /
tracks`` apart at the equator, close in by ``cos(latitude)`` while the swath stays as wide: a point lies on
``swath / (spacing · cos lat)`` tracks on average (Sentinel-2: 1.04 at the equator, 1.5 at 46.8° N, 2.1 at
61° N; Landsat sidelap grows the same way, from 7 % at the equator to nearly 85 % at the highest latitudes).
Latitude is clamped at the 81.4° the sun-synchronous ground tracks turn at. Sentinel-1 acquires to a plan
(one geometry per repeat over most land), so it gets no such gain. Counts of all satellites of a sensor are
added, rounded half up and capped at one scene a day. For the 56-day northern season (1 Aug – 25 Sep) at the
procedural default 46.8° N:

====  ==========  ===========  =========  =========================================
year  Sentinel-2  Sentinel-1   Landsat    in orbit
====  ==========  ===========  =========  =========================================
2013  0           0            5          L8 (Landsat 7 before 11 Apr)
2016  8           5            5          S2A; S1A (S1B from 26 Sep); L8
2020  17          9            5          S2A+B; S1A+B; L8
2023  17          5            11         S2A+B; S1A; L8+L9
2025  17          9            11         S2B+C; S1A+C; L8+L9
====  ==========  ===========  =========  =========================================

The counts are clear-or-not acquisitions: clouds are drawn per scene as before. At 30° (Himalaya) two
Sentinel-2 satellites give 13 scenes, at 61° (Alaska) 24; from ~75° they approach one a day. Acquisition
plans beyond that (Sentinel-2's coverage limits south of 56° S, Sentinel-1's extra geometries over Europe)
are not modelled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

REVISITS = ("fixed", "real")
SEASON_DAYS = 56  # 1 Aug - 25 Sep (north) or 1 Feb - 28 Mar (south): the simulator's end-of-ablation window
EARTH_CIRCUMFERENCE_KM = 40_075.0
TURNING_LAT = 81.4  # highest latitude of a sun-synchronous ground track (inclination 98.6°)


@dataclass(frozen=True)
class Satellite:
    """One satellite's service in its constellation: from ``start`` until before ``end`` (None: still flying)."""

    name: str
    start: date
    end: date | None = None

    def serves(self, day: date) -> bool:
        """Return whether the satellite delivers scenes on ``day``."""
        return self.start <= day and (self.end is None or day < self.end)


@dataclass(frozen=True)
class Constellation:
    """A sensor's satellites and orbit geometry."""

    satellites: tuple[Satellite, ...]
    repeat_days: int  # one satellite's repeat cycle
    tracks: int  # ground tracks (relative orbits, WRS paths) in one repeat cycle
    swath_km: float
    sidelap: bool  # every pass images all land, so overlapping tracks add scenes at high latitude

    def passes(self, lat: float) -> float:
        """Return how many tracks see a point at ``lat`` per repeat cycle of one satellite (1 without sidelap)."""
        if not self.sidelap:
            return 1.0
        spacing = EARTH_CIRCUMFERENCE_KM / self.tracks * math.cos(math.radians(min(abs(lat), TURNING_LAT)))
        return max(1.0, self.swath_km / spacing)


CONSTELLATIONS: dict[str, Constellation] = {
    "s2": Constellation((Satellite("Sentinel-2A", date(2015, 6, 23), date(2025, 1, 21)),
                         Satellite("Sentinel-2B", date(2017, 3, 7)),
                         Satellite("Sentinel-2C", date(2025, 1, 21))), repeat_days=10, tracks=143, swath_km=290.0,
                        sidelap=True),
    "s1": Constellation((Satellite("Sentinel-1A", date(2014, 10, 1)),
                         Satellite("Sentinel-1B", date(2016, 9, 26), date(2021, 12, 23)),
                         Satellite("Sentinel-1C", date(2025, 3, 26))), repeat_days=12, tracks=175, swath_km=250.0,
                        sidelap=False),
    "landsat": Constellation((Satellite("Landsat 7", date(1999, 4, 15), date(2013, 4, 11)),
                              Satellite("Landsat 8", date(2013, 4, 11)),
                              Satellite("Landsat 9", date(2021, 10, 31))), repeat_days=16, tracks=233, swath_km=185.0,
                             sidelap=True),
}


def season_start(year: int, lat: float) -> date:
    """Return the first day of the simulator's season of ``year``: 1 Aug north of the equator, 1 Feb south of it."""
    return date(year, 8, 1) if lat >= 0 else date(year, 2, 1)


def _constellation(sensor: str) -> Constellation:
    if sensor not in CONSTELLATIONS:
        raise ValueError(f"no revisit model for sensor {sensor!r}: choose from {', '.join(CONSTELLATIONS)}")
    return CONSTELLATIONS[sensor]


def in_orbit(sensor: str, year: int, lat: float, season_days: int = SEASON_DAYS) -> tuple[str, ...]:
    """Return the satellites of ``sensor`` that deliver scenes on at least one day of the season of ``year``."""
    start = season_start(year, lat)
    days = [start + timedelta(days=d) for d in range(season_days)]
    return tuple(s.name for s in _constellation(sensor).satellites if any(s.serves(d) for d in days))


def scenes_per_season(sensor: str, year: int, lat: float, season_days: int = SEASON_DAYS) -> int:
    """Return the scenes ``sensor`` (``s2``, ``s1``, ``landsat``) delivers over a point at ``lat`` in the season
    of ``year`` that is ``season_days`` long, from the satellites in service then (0 when none is)."""
    con = _constellation(sensor)
    start = season_start(year, lat)
    days = [start + timedelta(days=d) for d in range(season_days)]
    expected = sum(sum(s.serves(d) for d in days) for s in con.satellites) / con.repeat_days * con.passes(lat)
    return min(season_days, math.floor(expected + 0.5))


def serves(sensor: str, when: datetime) -> bool:
    """Return whether any satellite of ``sensor`` delivers scenes on the day of ``when`` (explicit ``dates``)."""
    return any(s.serves(when.date()) for s in _constellation(sensor).satellites)
