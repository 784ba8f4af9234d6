"""A history for the demo's occupancy extract: registrations that ended, so vacancy has a duration.

``registers.occupancy_frame`` gives the registrations active when the extract was drawn
(``EXTRACT_DATE``), with no end. This adds, as a municipal BRP / trade-register extract
holds them, earlier registrations that ended: the previous occupants of some occupied
addresses (ending the day the current one starts) and the last occupant of most vacant
addresses, ended at a time drawn so that every PBL duration class occurs (``geo.vacancy``).
A share of vacant addresses keeps no history at all (never registered in the extract).
"""

from __future__ import annotations

from datetime import date, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.demo.base import Town
from geo.demo.registers import LATEST_SINCE

#: The day the synthetic extract was drawn (the last start of a registration); nothing ends after it.
EXTRACT_DATE = LATEST_SINCE
#: Share of occupied addresses whose previous occupant's registration is in the extract.
PREVIOUS_SHARE = 0.3
#: Share of vacant addresses without any registration in the extract (duration 'onbekend').
NEVER_REGISTERED_SHARE = 0.15
#: How long ago (days before EXTRACT_DATE) a vacant address's last registration ended: ranges and weights,
#: about half frictional (< 1 year), a third 1-3 years, the rest structural (> 3 years).
VACANT_FOR_DAYS: tuple[tuple[tuple[int, int], float], ...] = (
    ((0, 364), 0.5), ((366, 3 * 365), 0.3), ((3 * 365 + 2, 12 * 365), 0.2))
#: Length of the last registration of a now vacant address (days).
LAST_STAY_DAYS = (365, 20 * 365)


def with_history(town: Town, occupancy: pd.DataFrame, addresses: gpd.GeoDataFrame) -> pd.DataFrame:
    """``occupancy`` with an ``until`` column (empty: still registered) and the ended registrations added.

    Args:
        town: the demo town (its seeded generators).
        occupancy: active registrations (address_id, registration, since) as ISO text.
        addresses: the demo addresses (id, use, status).

    Returns:
        registrations sorted by address and start, ``since`` and ``until`` as ISO text.
    """
    rng = town.rng("occupancy-history")
    out = occupancy.assign(until="")
    rows: list[tuple[str, str, str, str]] = []
    first = occupancy.sort_values(["address_id", "since"], kind="stable").groupby("address_id").first()
    for aid, kind, since in zip(first.index, first["registration"], first["since"], strict=True):
        if rng.random() < PREVIOUS_SHARE:
            start = date.fromisoformat(since)
            stay = int(rng.integers(*LAST_STAY_DAYS))
            rows.append((str(aid), kind, (start - timedelta(stay)).isoformat(), start.isoformat()))
    in_use = addresses["status"].astype(str).str.startswith("Verblijfsobject in gebruik")
    vacant = addresses[in_use & ~addresses["id"].isin(occupancy["address_id"])]
    ranges = [r for r, _ in VACANT_FOR_DAYS]
    weights = np.array([w for _, w in VACANT_FOR_DAYS])
    for aid, use in zip(vacant["id"], vacant["use"], strict=True):
        if rng.random() < NEVER_REGISTERED_SHARE:
            continue
        lo, hi = ranges[int(rng.choice(len(ranges), p=weights))]
        end = EXTRACT_DATE - timedelta(int(rng.integers(lo, hi + 1)))
        start = end - timedelta(int(rng.integers(*LAST_STAY_DAYS)))
        kind = "resident" if "woonfunctie" in str(use).split(",") else "business"
        rows.append((str(aid), kind, start.isoformat(), end.isoformat()))
    ended = pd.DataFrame(rows, columns=["address_id", "registration", "since", "until"])
    both = pd.concat([out, ended], ignore_index=True)
    return both.sort_values(["address_id", "since", "until"], kind="stable").reset_index(drop=True)
