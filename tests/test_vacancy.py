"""Vacancy (geo.vacancy, layers.vacancy): each rule by hand, occupancy checks, the public tables and a
re-identification test: from the public layer alone no single vacant address can be located.

The hand-built region (RD New, reference date 2025-06-15) has two buurten, West (x 200000-200150)
and Oost (x 200150-200300), and three CBS squares E2000N4500, E2001N4500 (cut by the buurt border at
x 200150) and E2002N4500:

* square E2000N4500 (all in West): 30 dwellings, 12 vacant;
* square E2001N4500: its West sliver holds 1 dwelling, vacant; its Oost part 20 dwellings, none vacant;
* square E2002N4500 (all in Oost): 25 dwellings (7 vacant) and 5 shops (1 vacant), one address out
  of use, one not yet in use.

Published as rounded counts without further protection, West (13 -> 15, so at least 13) minus
square E2000N4500 (12 -> 10, so at most 12) proves the sliver's one dwelling vacant: the
grid-versus-buurt difference attack. Oost's total (8 -> 10: at least 8) minus its dwellings
(7 -> 5: at most 7) proves a vacant shop among 5: the subtraction attack.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.optimize import Bounds, LinearConstraint, milp

from geo.errors import ConfigError, SourceError
from geo.io import read_vector_source
from geo.vacancy import IN_USE_STATUSES, LONG, MEDIUM, SHORT, UNKNOWN, use_group, vacancy_status
from layers import vacancy, vacancy_tables
from layers.extent import run_in_memory
from layers.vacancy_tables import COUNT_COLUMNS, DURATION_KEYS

REFERENCE = dt.date(2025, 6, 15)
CRS = "EPSG:28992"
X0, Y0 = 200_000.0, 450_000.0
IN_USE = IN_USE_STATUSES[0]


def _one(status: str = IN_USE, use: str = "woonfunctie", aid: str = "a") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"id": [aid], "building_id": ["p"], "use": [use], "status": [status]},
                            geometry=[shapely.Point(X0, Y0)], crs=CRS)


def _status(registrations: list[tuple[str, str, str | None]], status: str = IN_USE,
            reference: dt.date = REFERENCE, **kwargs: object) -> pd.Series:
    occ = pd.DataFrame([("a", r, s, u) for r, s, u in registrations],
                       columns=["address_id", "registration", "since", "until"])
    return vacancy_status(_one(status), occ, reference, **kwargs).iloc[0]  # type: ignore[arg-type]


# -- the rules, one by one -------------------------------------------------------------------------


def test_an_active_registration_of_any_kind_makes_an_address_occupied() -> None:
    for kind in ("resident", "business", "user"):
        row = _status([(kind, "2010-01-01", None)])
        assert not row["vacant"] and row["duration_class"] is None and pd.isna(row["vacant_since"])


def test_a_registration_that_ended_leaves_the_address_vacant_since_its_end() -> None:
    row = _status([("resident", "2010-01-01", "2024-09-01"), ("resident", "2005-01-01", "2012-01-01")])
    assert row["vacant"] and row["vacant_since"] == pd.Timestamp("2024-09-01")  # the last end
    assert row["duration_class"] == SHORT
    ends_on_reference = _status([("resident", "2010-01-01", REFERENCE.isoformat())])
    assert ends_on_reference["vacant"], "until is the first day without the registration"
    assert not _status([("resident", "2010-01-01", "2025-06-16")])["vacant"]


def test_a_registration_starting_after_the_reference_date_does_not_count() -> None:
    row = _status([("resident", "2010-01-01", "2023-01-10"), ("resident", "2025-07-01", None)])
    assert row["vacant"] and row["vacant_since"] == pd.Timestamp("2023-01-10") and row["duration_class"] == MEDIUM
    assert not _status([("resident", REFERENCE.isoformat(), None)])["vacant"], "one starting on the day counts"
    never = _status([("business", "2026-01-01", None)])
    assert never["vacant"] and pd.isna(never["vacant_since"]) and never["duration_class"] == UNKNOWN


def test_buiten_gebruik_is_counted_apart_and_not_as_vacant() -> None:
    for status in ("Verblijfsobject buiten gebruik", "buiten gebruik"):
        row = _status([], status=status)
        assert row["out_of_use"] and not row["vacant"] and row["duration_class"] is None
    formed = _status([], status="Verblijfsobject gevormd")
    assert not formed["vacant"] and not formed["out_of_use"]
    assert _status([], status="Verblijfsobject in gebruik (niet ingemeten)")["vacant"]


@pytest.mark.parametrize(("ended", "expected"), [
    ("2025-06-15", SHORT), ("2024-06-16", SHORT),   # less than one year
    ("2024-06-15", MEDIUM),                          # exactly one year: 1-3
    ("2022-06-15", MEDIUM),                          # exactly three years: still 1-3
    ("2022-06-14", LONG),                            # more than three years
])
def test_duration_class_boundaries(ended: str, expected: str) -> None:
    assert _status([("resident", "2000-01-01", ended)])["duration_class"] == expected


def test_duration_on_29_february() -> None:
    leap = dt.date(2024, 2, 29)  # one year before is 2023-02-28
    assert _status([("user", "2000-01-01", "2023-03-01")], reference=leap)["duration_class"] == SHORT
    assert _status([("user", "2000-01-01", "2023-02-28")], reference=leap)["duration_class"] == MEDIUM


def test_never_registered_is_unknown_unless_the_extract_reaches_back_three_years() -> None:
    assert _status([])["duration_class"] == UNKNOWN
    assert _status([], history_start=dt.date(2022, 6, 14))["duration_class"] == LONG
    assert _status([], history_start=dt.date(2022, 6, 15))["duration_class"] == UNKNOWN


def test_use_groups() -> None:
    assert use_group("winkelfunctie,woonfunctie") == "woonfunctie"
    assert use_group("kantoorfunctie,winkelfunctie") == "winkelfunctie"
    assert use_group("kantoorfunctie") == "kantoorfunctie"
    assert use_group("sportfunctie,industriefunctie") == "overig"
    assert use_group(None) == "overig"


# -- the occupancy source ----------------------------------------------------------------------------


@pytest.mark.parametrize(("row", "message"), [
    ("a2,owner,2010-01-01,", "unknown registration 'owner'"),
    ("a2,resident,2010-13-01,", "since '2010-13-01' is not a date"),
    ("a2,resident,2010-01-01,1.1.2020", "until '1.1.2020' is not a date"),
    ("a2,resident,2010-01-01,2009-12-31", "until 2009-12-31 is before since 2010-01-01"),
    ("a2,resident,,", "since is empty"),
])
def test_occupancy_errors_name_the_file_and_the_row(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "bewoning.csv"
    path.write_text(f"address_id,registration,since,until\na1,resident,2010-01-01,\n{row}\n")
    with pytest.raises(SourceError, match=message) as err:
        read_vector_source("occupancy", path, CRS)
    assert str(path) in str(err.value) and "row 2, line 3" in str(err.value)


def test_occupancy_from_a_geopackage_table(tmp_path: Path) -> None:
    path = tmp_path / "bewoning.gpkg"
    frame = pd.DataFrame({"address_id": ["a1", "a2"], "registration": ["resident", "Business"],
                          "since": ["2010-01-01", "2012-05-01"], "until": [None, "2020-01-01"]})
    gpd.GeoDataFrame(frame).to_file(path, layer="occupancy", driver="GPKG")
    occ = read_vector_source("occupancy", path, CRS)
    assert list(occ["registration"]) == ["resident", "business"]
    assert occ["until"].iloc[1] == pd.Timestamp("2020-01-01") and pd.isna(occ["until"].iloc[0])
    frame.loc[1, "registration"] = "eigenaar"
    gpd.GeoDataFrame(frame).to_file(path, layer="occupancy", driver="GPKG")
    with pytest.raises(SourceError, match=r"bewoning.gpkg, feature row 2: occupancy: unknown registration"):
        read_vector_source("occupancy", path, CRS)


def test_reference_date_is_checked_and_defaults_to_the_build_date() -> None:
    params = vacancy.LAYER.resolve_params({}, "layers.vacancy")
    assert params["reference_date"] == dt.datetime.now(dt.UTC).date().isoformat()
    assert vacancy.LAYER.resolve_params({"reference_date": dt.date(2025, 1, 1)}, "x")["reference_date"] == "2025-01-01"
    for bad in ("2025-02-30", "", None):  # an empty value would make the cache key depend on the day
        with pytest.raises(ConfigError, match=r"layers.vacancy.reference_date: '.*' is not a date"):
            vacancy.LAYER.resolve_params({"reference_date": bad}, "layers.vacancy")
    with pytest.raises(ConfigError, match="personal data and is always internal"):
        vacancy.ADDRESSES_LAYER.resolve_access({"access": "public"}, "layers.vacancy-addresses")


# -- the hand-built region ---------------------------------------------------------------------------


def _lattice(x0: float, x1: float, n: int) -> list[shapely.Point]:
    """``n`` distinct points in the strip x0..x1 (RD), 5 m apart, inside the region."""
    per_row = max(1, int((x1 - x0 - 4) // 5))
    return [shapely.Point(x0 + 2 + 5 * (k % per_row), Y0 + 2 + 5 * (k // per_row)) for k in range(n)]


#: (strip x0, x1, use, addresses, vacant) per group of addresses.
GROUPS = (
    (200_000, 200_100, "woonfunctie", 30, 12),  # square E2000N4500, in West
    (200_100, 200_150, "woonfunctie", 1, 1),    # the West sliver of E2001N4500
    (200_150, 200_200, "woonfunctie", 20, 0),   # the Oost part of E2001N4500
    (200_200, 200_300, "woonfunctie", 25, 7),   # square E2002N4500
    (200_200, 200_300, "winkelfunctie", 5, 1),
)
#: Ends of the vacant addresses' last registrations, cycling: <1, 1-3, 1-3, >3 years before REFERENCE.
ENDS = ("2025-01-01", "2023-06-01", "2024-02-01", "2019-09-01")


def hand_region() -> dict[str, pd.DataFrame]:
    """Addresses, occupancy and buurten of the hand-built region (module docstring)."""
    rows, occ = [], []
    k = 0
    for x0, x1, use, n, n_vacant in GROUPS:
        offset = 50 if use == "winkelfunctie" else 0  # shops on their own rows of the lattice
        for j, p in enumerate(_lattice(x0, x1, n)):
            aid = f"0001010000{k:06d}"
            rows.append((aid, use, IN_USE, shapely.Point(p.x, p.y + offset)))
            if j < n_vacant:
                occ.append((aid, "resident", "2001-01-01", ENDS[k % len(ENDS)]))
                if k % 5 == 0:
                    occ.append((aid, "resident", "2025-09-01", ""))  # moving in after the reference date
            else:
                occ.append((aid, "business" if use == "winkelfunctie" else "resident", "2001-01-01", ""))
            k += 1
    rows.append(("0001010000900001", "woonfunctie", "Verblijfsobject buiten gebruik", shapely.Point(200_290, Y0 + 95)))
    rows.append(("0001010000900002", "woonfunctie", "Verblijfsobject gevormd", shapely.Point(200_291, Y0 + 96)))
    addresses = gpd.GeoDataFrame(
        {"id": [r[0] for r in rows], "building_id": [f"00011000{i:08d}" for i in range(len(rows))],
         "use": [r[1] for r in rows], "status": [r[2] for r in rows]},
        geometry=[r[3] for r in rows], crs=CRS)
    occupancy = pd.DataFrame(occ, columns=["address_id", "registration", "since", "until"])
    buurten = gpd.GeoDataFrame({"code": ["BU00010001", "BU00010002"], "name": ["West", "Oost"]},
                               geometry=[shapely.box(X0, Y0, X0 + 150, Y0 + 100),
                                         shapely.box(X0 + 150, Y0, X0 + 300, Y0 + 100)], crs=CRS)
    return {"addresses": addresses, "occupancy": occupancy, "neighbourhoods": buurten}


BOUNDS = (X0, Y0, X0 + 300, Y0 + 100)
PARAMS = {"reference_date": REFERENCE.isoformat()}


@pytest.fixture(scope="module")
def region() -> dict[str, pd.DataFrame]:
    return hand_region()


@pytest.fixture(scope="module")
def public(region: dict[str, pd.DataFrame]) -> dict[str, gpd.GeoDataFrame]:
    return run_in_memory(vacancy.LAYER, region, BOUNDS, crs=CRS, params=PARAMS, name="Proefstad").vectors


def test_the_internal_output_lists_each_vacant_address(region: dict[str, pd.DataFrame]) -> None:
    out = run_in_memory(vacancy.ADDRESSES_LAYER, region, BOUNDS, crs=CRS, params=PARAMS).vectors["addresses"]
    assert len(out) == 12 + 1 + 7 + 1
    assert set(out.columns) >= {"id", "use", "use_group", "duration_class", "vacant_since", "buurt"}
    assert out["duration_class"].value_counts().to_dict() == {SHORT: 6, MEDIUM: 10, LONG: 5}
    sliver = out[out.geometry.x.between(200_100, 200_150)]
    assert list(sliver["buurt"]) == ["BU00010001"] and list(sliver["vacant_since"]) == [ENDS[30 % 4]]


def test_public_tables_hold_rounded_counts_and_no_address_ids(public: dict[str, gpd.GeoDataFrame],
                                                              region: dict[str, pd.DataFrame]) -> None:
    gm = public["gemeenten"].iloc[0]
    assert (gm["code"], gm["addresses_in_use"], gm["vacant"], gm["vacant_woonfunctie"]) == ("GM0001", 81, 20, 20)
    assert pd.isna(gm["vacant_winkelfunctie"]) and pd.isna(gm["vacant_winkelfunctie_pct"])  # 1 < 5
    assert gm["vacant_pct"] == round(20 / 81 * 100, 1)
    west = public["buurten"].set_index("code").loc["BU00010001"]
    assert west["vacant"] == 15 and west["addresses_in_use"] == 31  # 13, rounded to fives
    assert list(public["grid"]["code"]) == ["E2000N4500", "E2001N4500", "E2002N4500"]
    ids = set(region["addresses"]["id"])
    for frame in public.values():
        assert not {"id", "address_id", "building_id"} & set(frame.columns)
        values = {str(v) for col in frame.columns if col != "geometry" for v in frame[col]}
        assert not ids & values
        counts = frame[list(COUNT_COLUMNS)].to_numpy(dtype=float, na_value=np.nan)
        shown = counts[~np.isnan(counts)]
        assert (shown % 5 == 0).all() and (shown >= 5).all()
        for col in COUNT_COLUMNS:  # a suppressed count takes its share with it
            assert (frame[col].isna() <= frame[f"{col}_pct"].isna()).all(), col


# -- re-identification: an exact attacker holding the public layer and the open BAG ---------------------


def attacker_lower_bounds(public: dict[str, gpd.GeoDataFrame], addresses: gpd.GeoDataFrame,
                          groups: list[np.ndarray], min_count: int = 5, base: int = 5) -> list[int]:
    """Fewest vacant addresses an exact integer attacker can prove among each group of addresses.

    The attacker knows every address in use, its use group and its point (the open BAG), and every
    published cell of the public layer as an interval (a rounded ``v`` is ``v - 2 .. v + 2``, at
    least ``min_count`` and at most its addresses minus ``min_count``, as the rules say).
    Variables: one 0/1 per address and duration class.
    """
    in_use = addresses[addresses["status"].isin(IN_USE_STATUSES)].reset_index(drop=True)
    n, n_dur = len(in_use), len(DURATION_KEYS)
    groups_of = np.array([use_group(u) for u in in_use["use"]])
    rows, lo, hi = [], [], []
    one = np.zeros((n, n * n_dur))
    for a in range(n):
        one[a, a * n_dur:(a + 1) * n_dur] = 1
    for frame in public.values():
        for _, cell in frame.iterrows():
            inside = shapely.contains(cell.geometry, in_use.geometry.values) | shapely.touches(
                cell.geometry, in_use.geometry.values)
            for col in COUNT_COLUMNS:
                if pd.isna(cell[col]):
                    continue
                mask = np.zeros((n, n_dur), dtype=bool)
                chosen = inside.copy()
                if col.removeprefix("vacant_") in set(groups_of):
                    chosen &= groups_of == col.removeprefix("vacant_")
                mask[chosen] = True
                if col.removeprefix("vacant_") in DURATION_KEYS.values():
                    keep = list(DURATION_KEYS.values()).index(col.removeprefix("vacant_"))
                    mask[:, [d for d in range(n_dur) if d != keep]] = False
                rows.append(mask.ravel().astype(float))
                v = int(cell[col])
                lo.append(max(v - base // 2, min_count))
                # Published also means at least min_count of its addresses are not vacant (complement rule).
                hi.append(min(v + base - 1 - base // 2, int(chosen.sum()) - min_count))
    constraints = [LinearConstraint(one, 0, 1)]
    if rows:
        constraints.append(LinearConstraint(np.array(rows), lo, hi))
    out = []
    for group in groups:
        c = np.zeros(n * n_dur)
        for a in group:
            c[a * n_dur:(a + 1) * n_dur] = 1
        res = milp(c, constraints=constraints, integrality=np.ones(n * n_dur), bounds=Bounds(0, 1))
        assert res.status == 0, res.message
        out.append(round(res.fun))
    return out


def _groups(addresses: gpd.GeoDataFrame, public: dict[str, gpd.GeoDataFrame]) -> tuple[list[np.ndarray], list[int]]:
    """Every single address in use, and every piece (square x buurt, per use group) with its population."""
    in_use = addresses[addresses["status"].isin(IN_USE_STATUSES)].reset_index(drop=True)
    groups = [np.array([a]) for a in range(len(in_use))]
    pops = [1] * len(in_use)
    uses = np.array([use_group(u) for u in in_use["use"]])
    for square in public["grid"].geometry:
        for buurt in public["buurten"].geometry:
            piece = square.intersection(buurt)
            inside = np.flatnonzero(shapely.covers(piece, in_use.geometry.values)) if not piece.is_empty else []
            for use in (None, *set(uses)):
                members = np.array([a for a in inside if use is None or uses[a] == use], dtype=np.int64)
                if len(members):
                    groups.append(members)
                    pops.append(len(members))
    return groups, pops


def test_no_vacant_address_can_be_located_from_the_public_layer(public: dict[str, gpd.GeoDataFrame],
                                                                region: dict[str, pd.DataFrame]) -> None:
    groups, pops = _groups(region["addresses"], public)
    lowers = attacker_lower_bounds(public, region["addresses"], groups)
    singles = lowers[:len(region["addresses"]) - 2]
    assert max(singles) == 0, "an address is proven vacant"
    for lower, pop in zip(lowers, pops, strict=True):
        assert lower == 0 or pop - lower >= 5, (lower, pop)


def test_without_secondary_suppression_both_attacks_succeed(monkeypatch: pytest.MonkeyPatch,
                                                             region: dict[str, pd.DataFrame]) -> None:
    """The test above has teeth: with rounding and primary suppression only, the attacker wins."""
    monkeypatch.setattr(vacancy_tables, "secondary_suppression", lambda *args, **kwargs: 0)
    weak = run_in_memory(vacancy.LAYER, region, BOUNDS, crs=CRS, params=PARAMS, name="Proefstad").vectors
    in_use = region["addresses"][region["addresses"]["status"].isin(IN_USE_STATUSES)].reset_index(drop=True)
    sliver = np.flatnonzero(in_use.geometry.x.between(200_100, 200_150).to_numpy())
    shops = np.flatnonzero((in_use["use"] == "winkelfunctie").to_numpy())
    assert attacker_lower_bounds(weak, region["addresses"], [sliver, shops]) == [1, 1]


def test_the_public_metadata_says_only_what_the_tables_show(region: dict[str, pd.DataFrame]) -> None:
    result = run_in_memory(vacancy.LAYER, region, BOUNDS, crs=CRS, params=PARAMS, name="Proefstad")
    counts = result.metadata["counts"]
    cells = sum(frame[list(COUNT_COLUMNS)].size for frame in result.vectors.values())
    nulls = sum(int(frame[list(COUNT_COLUMNS)].isna().to_numpy().sum()) for frame in result.vectors.values())
    assert counts == {"addresses": 83, "addresses_outside_neighbourhoods": 0, "cells_published": cells - nulls,
                      "cells_suppressed": nulls}  # no exact total, and not why a cell is null
    assert result.metadata["reference_date"] == "2025-06-15"


def test_numeric_address_ids_get_their_leading_zero_back(tmp_path: Path) -> None:
    """A GeoPackage storing BAG ids as integers drops Amsterdam's 0363: the check pads them to 16 digits."""
    path = tmp_path / "bewoning.gpkg"
    frame = pd.DataFrame({"address_id": [363010000000001, 9999010000000001], "registration": ["resident", "user"],
                          "since": ["2010-01-01", "2012-05-01"]})
    gpd.GeoDataFrame(frame).to_file(path, layer="occupancy", driver="GPKG")
    occ = read_vector_source("occupancy", path, CRS)
    assert list(occ["address_id"]) == ["0363010000000001", "9999010000000001"]
