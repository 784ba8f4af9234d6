"""Demo housing sites with plan-capacity monitor fields, and civil-works projects that meet some of them.

The sites are those of ``geo.demo.registers`` (infill sites in the districts and
extensions outside the ring road) with the fields of a provincial Monitor
Plancapaciteit (``geo.housing_sites``): the demo's planning stages mapped to the
monitor's, dwelling types and price segments after the national targets
(Nationale Woon- en Bouwagenda 2022: two thirds affordable, of which 30 % social
rent), phasing from the start year, and inside/outside the built-up area.
The projects (``geo.projects``) are sewer and street works: one on the street
nearest each of the first sites with a phasing, in the year before building
starts (so ``projects-map`` has overlaps to flag), plus works elsewhere.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import RD_NEW
from geo.housing_sites import HARD_STATUSES, phasing_text

MUNICIPALITY_NAME = "Eschveld"
#: The demo's planning stages -> the monitor's (a site under construction has an irrevocable plan).
STATUS_OF = {"in aanbouw": "onherroepelijk", "vastgesteld": "vastgesteld", "plan in voorbereiding": "in voorbereiding",
             "idee": "visie"}
#: Price segments (share of the dwellings): sociale huur, middelduur; the rest is duur.
SEGMENT_SHARES = (0.3, 0.4)
#: Share of ground-bound dwellings on an infill site and on an extension.
GRONDGEBONDEN_SHARE = {"inbreiding": 0.4, "uitbreiding": 0.8}
#: Dwellings completed per year of a site's phasing (the last year takes the rest).
DWELLINGS_PER_YEAR = 60
#: Works on the street next to a site: how far along the street from the site (m).
WORKS_REACH_M = 120.0
#: Sites that get works on their street.
SITES_WITH_WORKS = 2
#: Other works: name, kind, start, end, and which street kind they follow.
OTHER_WORKS = (("Groot onderhoud Ringweg", "reconstructie weg", "2031-03-01", "2031-10-31", "ring"),
               ("Vervanging riolering centrum", "riolering", "2026-04-01", "2026-12-15", "main"))


def housing_sites_frame(sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The registers' sites with the monitor fields (``geo.housing_sites``)."""
    status = [STATUS_OF[s] for s in sites["status"]]
    planned = sites["planned_dwellings"].to_numpy(dtype=int)
    social = np.floor(planned * SEGMENT_SHARES[0]).astype(int)
    middle = np.floor(planned * SEGMENT_SHARES[1]).astype(int)
    ground = np.array([round(n * GRONDGEBONDEN_SHARE[t]) for n, t in zip(planned, sites["type"], strict=True)])
    phasing: list[str | None] = []
    for n, start in zip(planned, sites["start_year"], strict=True):
        if pd.isna(start):
            phasing.append(None)
            continue
        years = max(1, int(np.ceil(n / DWELLINGS_PER_YEAR)))
        counts = [DWELLINGS_PER_YEAR] * (years - 1) + [int(n) - DWELLINGS_PER_YEAR * (years - 1)]
        phasing.append(phasing_text({int(start) + k: c for k, c in enumerate(counts)}))
    return gpd.GeoDataFrame(
        {
            "id": sites["id"], "name": sites["name"], "municipality": MUNICIPALITY_NAME, "status": status,
            "hard": [s in HARD_STATUSES for s in status], "planned_dwellings": planned,
            "dwellings_grondgebonden": ground, "dwellings_gestapeld": planned - ground,
            "sociale_huur": social, "middelduur": middle, "duur": planned - social - middle,
            "phasing": phasing, "inside_built_up": (sites["type"] == "inbreiding").to_numpy(),
        },
        geometry=sites.geometry.values, crs=RD_NEW,
    )


def projects_frame(sites: gpd.GeoDataFrame, lines: np.ndarray, kinds: np.ndarray) -> gpd.GeoDataFrame:
    """Civil works: on the street nearest the first phased sites (a year before they start), and elsewhere."""
    rows: list[tuple[str, str, str, str, shapely.Geometry]] = []
    tree = shapely.STRtree(lines)
    phased = sites[sites["phasing"].notna()].head(SITES_WITH_WORKS)
    for name, phasing, geom in zip(phased["name"], phased["phasing"], phased.geometry, strict=True):
        first = int(str(phasing).split(":", 1)[0])
        street = lines[tree.nearest(geom)]
        piece = shapely.intersection(street, geom.buffer(WORKS_REACH_M))
        rows.append((f"Riolering en bestrating {name}", "riolering", f"{first - 1}-09-01", f"{first}-03-31", piece))
    for name, kind, start, end, street_kind in OTHER_WORKS:
        chosen = lines[kinds == street_kind]
        if len(chosen):
            rows.append((name, kind, start, end, chosen[int(np.argmax(shapely.length(chosen)))]))
    return gpd.GeoDataFrame(
        {"id": [f"PR{i + 1:02d}" for i in range(len(rows))], "name": [r[0] for r in rows],
         "kind": [r[1] for r in rows], "start": [r[2] for r in rows], "end": [r[3] for r in rows]},
        geometry=[r[4] for r in rows], crs=RD_NEW,
    )
