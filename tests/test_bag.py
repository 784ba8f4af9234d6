"""Tests of the BAG adapter (geo.bag, geo.bag_xml) on the real Doesburg extract and hand-built cases."""

from __future__ import annotations

import io
import re
import zipfile
from collections import Counter
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import CRS

from geo.bag import read_bag
from geo.crs import RD_NEW
from geo.errors import CRSError, SourceError

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "bag-doesburg"
PND_ZIP = DATA / "0221PND15092020.zip"
VBO_XML = DATA / "0221VBO15092020-000001.xml"
NESTED = DATA / "BAGNLDL-15092020-small.zip"

# Counted with grep/regex on the unzipped XML (see _plain_scan): 13,098 voorkomens of 7,797 panden,
# 5,301 of them ended (all with eindGeldigheid and eindRegistratie), every pand has one current voorkomen.
DOESBURG_RECORDS = 13_098
DOESBURG_CURRENT = 7_797
DOESBURG_GESLOOPT = 389
DOESBURG_NIET_GEREALISEERD = 12
# Doesburg's extent; the README's 205.1-209.1 / 445.6-450.1 km is rounded, the data reach 205,078-209,126.
DOESBURG_X = (205_000, 209_200)
DOESBURG_Y = (445_500, 450_200)


def _first(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match is not None, pattern
    return match.group(1)


def _plain_scan(zip_path: Path) -> list[dict[str, object]]:
    """Independent reading of every Pand voorkomen with regular expressions (no lxml, no adapter)."""
    records: list[dict[str, object]] = []
    with zipfile.ZipFile(zip_path) as archive:
        for name in archive.namelist():
            text = archive.read(name).decode("utf-8")
            for block in re.findall(r"<Objecten:Pand>(.*?)</Objecten:Pand>", text, re.S):
                records.append(
                    {
                        "id": _first(r"<Objecten:identificatie[^>]*>(\d+)<", block),
                        "status": _first(r"<Objecten:status>([^<]*)<", block),
                        "ended": "eindGeldigheid" in block or "<Historie:eindRegistratie>" in block,
                    }
                )
    return records


@pytest.fixture(scope="module")
def doesburg():
    return read_bag(PND_ZIP)


def test_doesburg_counts_match_independent_scan(doesburg):
    records = _plain_scan(PND_ZIP)
    current = [r for r in records if not r["ended"]]
    assert len(records) == DOESBURG_RECORDS
    assert len(current) == DOESBURG_CURRENT == len({r["id"] for r in current})
    buildings = doesburg.sources["buildings"]
    assert "addresses" not in doesburg.sources
    assert len(buildings) == DOESBURG_CURRENT
    assert set(buildings["id"]) == {r["id"] for r in current}
    counts = doesburg.report.counts
    assert counts["read"] == DOESBURG_RECORDS
    assert counts["superseded"] == DOESBURG_RECORDS - DOESBURG_CURRENT
    assert counts["ended_excluded"] == 0
    by_status = Counter(r["status"] for r in current)
    assert by_status["Pand gesloopt"] == DOESBURG_GESLOOPT
    assert by_status["Niet gerealiseerd pand"] == DOESBURG_NIET_GEREALISEERD
    assert counts["buildings_status:Pand gesloopt"] == DOESBURG_GESLOOPT
    assert counts["buildings_status:Niet gerealiseerd pand"] == DOESBURG_NIET_GEREALISEERD
    assert Counter(buildings["status"]) == by_status


def test_doesburg_known_panden(doesburg):
    b = doesburg.sources["buildings"].set_index("id")
    # Voorkomen 1 of this pand says bouwjaar 9999 (ended 2011); voorkomen 2, current, says 1992.
    assert b.loc["0221100000311191", "year"] == 1992
    assert b.loc["0221100000311191", "status"] == "Pand in gebruik"
    assert b.loc["0221100000311191", "geometry"].equals_exact(
        shapely.Polygon([(206289.94, 447355.96), (206292.3, 447361.12), (206288.92, 447362.66),
                         (206286.73, 447357.72)]), tolerance=1e-6)
    assert b.loc["0221100000311538", "status"] == "Pand gesloopt"
    assert b.loc["0221100000311538", "year"] == 1965
    assert b.loc["0221100000315424", "year"] == 9999  # placeholder kept as given
    assert len(b.loc["0221100000315006", "geometry"].interiors) == 2  # courtyard holes survive
    assert pd.isna(b["height_m"]).all()


def test_doesburg_geometries_valid_and_inside_extent(doesburg):
    b = doesburg.sources["buildings"]
    assert b.crs.equals(RD_NEW)
    assert set(b.geom_type) == {"Polygon"}
    assert shapely.is_valid(b.geometry.values).all()
    assert not shapely.has_z(b.geometry.values).any()
    xmin, ymin, xmax, ymax = b.total_bounds
    assert DOESBURG_X[0] <= xmin < xmax <= DOESBURG_X[1]
    assert DOESBURG_Y[0] <= ymin < ymax <= DOESBURG_Y[1]
    assert (b.geometry.area > 0).all()


def test_vbo_xml_addresses():
    result = read_bag(VBO_XML)
    assert "buildings" not in result.sources
    a = result.sources["addresses"].set_index("id")
    # 5 voorkomens of 2 verblijfsobjecten; only voorkomen 4 of ...0226 is current.
    assert list(a.index) == ["0221010000330226", "0221010000330999"]
    row = a.loc["0221010000330226"]
    assert row["use"] == "woonfunctie"
    assert row["status"] == "Verbouwing verblijfsobject"
    assert row["floor_area_m2"] == 223
    assert row["building_id"] == "0221100000312938"
    assert row["geometry"].equals_exact(shapely.Point(206335.699, 447529.842), tolerance=1e-9)
    other = a.loc["0221010000330999"]
    assert (other["use"], other["floor_area_m2"], other["building_id"]) == (
        "overige gebruiksfunctie", 18, "0221100000311191")
    assert result.report.counts["read"] == 5
    assert result.report.counts["superseded"] == 3


def test_nested_delivery_reads_inner_zips():
    result = read_bag(NESTED)
    b, a = result.sources["buildings"], result.sources["addresses"]
    # 9999PND...zip holds 6 voorkomens of 2 panden, 9999VBO...zip the VBO sample (grep-counted).
    assert list(b["id"]) == ["0221100000311191", "0221100000312938"]
    assert list(b["year"]) == [1992, 1585]
    assert list(a["id"]) == ["0221010000330226", "0221010000330999"]
    counts = result.report.counts
    assert counts["read"] == 6 + 5
    # Inactief, NietBag, InOnderzoek and GEM-WPL-RELATIE are not read as current objects.
    assert counts["skipped_members"] == 4
    # LIG, STA, WPL files are recognised from their header and skipped (NUM and OPR name the addresses).
    assert counts["other_object_files"] == 3
    # Every address points into a pand of the same delivery.
    assert set(a["building_id"]) <= set(b["id"])


# -- hand-built BAG 2.0 XML ------------------------------------------------------------------------

_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<sl-bag-extract:bagStand xmlns:Objecten="www.kadaster.nl/schemas/lvbag/imbag/objecten/v20200601"
 xmlns:gml="http://www.opengis.net/gml/3.2"
 xmlns:Historie="www.kadaster.nl/schemas/lvbag/imbag/historie/v20200601"
 xmlns:Objecten-ref="www.kadaster.nl/schemas/lvbag/imbag/objecten-ref/v20200601"
 xmlns:selecties-extract="http://www.kadaster.nl/schemas/lvbag/extract-selecties/v20200601"
 xmlns:sl-bag-extract="http://www.kadaster.nl/schemas/lvbag/extract-deelbestand-lvc/v20200601"
 xmlns:sl="http://www.kadaster.nl/schemas/standlevering-generiek/1.0">
<sl-bag-extract:bagInfo><selecties-extract:LVC-Extract>
<selecties-extract:StandTechnischeDatum>2020-09-15</selecties-extract:StandTechnischeDatum>
</selecties-extract:LVC-Extract></sl-bag-extract:bagInfo>
<sl:standBestand>
"""
_TAIL = "</sl:standBestand>\n</sl-bag-extract:bagStand>\n"
RD_SRS = "urn:ogc:def:crs:EPSG::28992"


def _history(n: int, begin: str, end: str | None, end_reg: str | None) -> str:
    parts = [f"<Historie:voorkomenidentificatie>{n}</Historie:voorkomenidentificatie>",
             f"<Historie:beginGeldigheid>{begin}</Historie:beginGeldigheid>"]
    if end:
        parts.append(f"<Historie:eindGeldigheid>{end}</Historie:eindGeldigheid>")
    parts.append(f"<Historie:tijdstipRegistratie>{begin}T10:00:00.000</Historie:tijdstipRegistratie>")
    if end_reg:
        parts.append(f"<Historie:eindRegistratie>{end_reg}</Historie:eindRegistratie>")
    inner = "".join(parts)
    return f"<Objecten:voorkomen><Historie:Voorkomen>{inner}</Historie:Voorkomen></Objecten:voorkomen>"


def _ring(coords: list[tuple[float, float]]) -> str:
    pos = " ".join(f"{x} {y} 0.0" for x, y in [*coords, coords[0]])
    return f"<gml:LinearRing><gml:posList>{pos}</gml:posList></gml:LinearRing>"


def pand(ident: str, n: int = 1, begin: str = "2010-01-01", end: str | None = None,
         end_reg: str | None = None, status: str = "Pand in gebruik", year: int = 1990,
         ring: list | None = None, srs: str = RD_SRS) -> str:
    ring = ring or [(0, 0), (10, 0), (10, 10), (0, 10)]
    return (f"<sl:stand><sl-bag-extract:bagObject><Objecten:Pand>"
            f"<Objecten:identificatie domein=\"NL.IMBAG.Pand\">{ident}</Objecten:identificatie>"
            f"<Objecten:geometrie><gml:Polygon srsName=\"{srs}\" srsDimension=\"3\">"
            f"<gml:exterior>{_ring(ring)}</gml:exterior></gml:Polygon></Objecten:geometrie>"
            f"<Objecten:oorspronkelijkBouwjaar>{year}</Objecten:oorspronkelijkBouwjaar>"
            f"<Objecten:status>{status}</Objecten:status>{_history(n, begin, end, end_reg)}"
            f"</Objecten:Pand></sl-bag-extract:bagObject></sl:stand>\n")


def vbo(ident: str, uses: list[str], panden: list[str], point: tuple[float, float] | None = (5, 5),
        ring: list | None = None, area: int = 80, status: str = "Verblijfsobject in gebruik") -> str:
    if point is not None:
        geom = (f"<Objecten:punt><gml:Point srsName=\"{RD_SRS}\" srsDimension=\"3\">"
                f"<gml:pos>{point[0]} {point[1]} 0.0</gml:pos></gml:Point></Objecten:punt>")
    else:
        geom = (f"<Objecten:vlak><gml:Polygon srsName=\"{RD_SRS}\" srsDimension=\"3\">"
                f"<gml:exterior>{_ring(ring or [])}</gml:exterior></gml:Polygon></Objecten:vlak>")
    refs = "".join(f"<Objecten-ref:PandRef>{p}</Objecten-ref:PandRef>" for p in panden)
    history = _history(1, "2010-01-01", None, None)
    return (f"<sl:stand><sl-bag-extract:bagObject><Objecten:Verblijfsobject>{history}"
            f"<Objecten:identificatie domein=\"NL.IMBAG.Verblijfsobject\">{ident}</Objecten:identificatie>"
            f"<Objecten:geometrie>{geom}</Objecten:geometrie>"
            + "".join(f"<Objecten:gebruiksdoel>{u}</Objecten:gebruiksdoel>" for u in uses)
            + f"<Objecten:oppervlakte>{area}</Objecten:oppervlakte>"
            f"<Objecten:status>{status}</Objecten:status>"
            f"<Objecten:maaktDeelUitVan>{refs}</Objecten:maaktDeelUitVan>"
            f"</Objecten:Verblijfsobject></sl-bag-extract:bagObject></sl:stand>\n")


def _write(path: Path, *objects: str) -> Path:
    path.write_text(_HEAD + "".join(objects) + _TAIL, encoding="utf-8")
    return path


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


P = "0001100000000001"


def test_history_keeps_the_current_voorkomen(tmp_path):
    src = _write(
        tmp_path / "a.xml",
        pand("0001100000000001", 1, "2010-01-01", end="2015-01-01", end_reg="2015-01-02", year=9999),
        pand("0001100000000001", 2, "2015-01-01", year=1990),
        # ended: the only voorkomen has eindGeldigheid (object ended), no correction
        pand("0001100000000002", 1, "2010-01-01", end="2019-06-01"),
        # corrected: voorkomen 1 withdrawn by eindRegistratie, voorkomen 2 replaces it
        pand("0001100000000003", 1, "2010-01-01", end_reg="2011-01-01", status="Bouwvergunning verleend"),
        pand("0001100000000003", 2, "2010-01-01", status="Pand in gebruik"),
        # valid only from after the extract date (2020-09-15)
        pand("0001100000000004", 1, "2021-01-01"),
        # status kept, not filtered
        pand("0001100000000005", 1, "2012-01-01", status="Pand gesloopt"),
    )
    result = read_bag(src)
    b = result.sources["buildings"].set_index("id")
    assert list(b.index) == ["0001100000000001", "0001100000000003", "0001100000000005"]
    assert b.loc["0001100000000001", "year"] == 1990
    assert b.loc["0001100000000003", "status"] == "Pand in gebruik"
    assert b.loc["0001100000000005", "status"] == "Pand gesloopt"
    counts = result.report.counts
    assert (counts["read"], counts["superseded"], counts["not_yet_valid"]) == (7, 3, 1)
    assert counts["ended_excluded"] == 2
    assert counts["buildings_status:Pand gesloopt"] == 1


def test_vbo_uses_refs_and_polygon_fallback(tmp_path):
    src = _write(
        tmp_path / "v.xml",
        vbo("0001010000000001", ["woonfunctie", "winkelfunctie"], [P, "0001100000000009"], point=(3, 4)),
        vbo("0001010000000002", ["kantoorfunctie"], [P], point=None, ring=[(0, 0), (4, 0), (4, 2), (0, 2)]),
    )
    result = read_bag(src)
    a = result.sources["addresses"].set_index("id")
    assert a.loc["0001010000000001", "use"] == "winkelfunctie,woonfunctie"
    assert a.loc["0001010000000001", "building_id"] == P
    assert a.loc["0001010000000002", "geometry"].equals(shapely.Point(2, 1))
    assert a.geom_type.tolist() == ["Point", "Point"]
    assert result.report.counts["multiple_buildings"] == 1
    assert result.report.counts["point_from_polygon"] == 1


def test_invalid_polygon_repaired(tmp_path):
    bowtie = [(0, 0), (10, 10), (10, 0), (0, 10)]
    result = read_bag(_write(tmp_path / "b.xml", pand(P, ring=bowtie)))
    geom = result.sources["buildings"].geometry.iloc[0]
    assert geom.is_valid
    assert geom.area == pytest.approx(50.0)
    assert result.report.counts["repaired"] == 1


def test_reprojects_to_region_crs(tmp_path):
    square = [(155000, 463000), (155010, 463000), (155010, 463010), (155000, 463010)]
    webm = CRS.from_epsg(3857)
    result = read_bag(_write(tmp_path / "r.xml", pand(P, ring=square)), region_crs=webm)
    b = result.sources["buildings"]
    assert b.crs.equals(webm)
    back = b.to_crs(RD_NEW).geometry.iloc[0]
    assert back.equals_exact(shapely.Polygon(square), tolerance=1e-3)


def test_mixed_srs_is_an_error(tmp_path):
    src = _write(tmp_path / "m.xml", pand(P), pand("0001100000000002", srs="urn:ogc:def:crs:EPSG::4258"))
    with pytest.raises(CRSError, match="different CRSs"):
        read_bag(src)


def test_detects_objects_by_element_and_skips_inactive(tmp_path):
    xml_active = (_HEAD + pand(P) + _TAIL).encode()
    xml_inactive = (_HEAD + pand("0001100000000002") + _TAIL).encode()
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("whatever-name.xml", xml_active)
    inactive = io.BytesIO()
    with zipfile.ZipFile(inactive, "w") as z:
        z.writestr("0001IAPND15092020-000001.xml", xml_inactive)
    outer = _zip(tmp_path / "delivery.zip", {
        "stuff.zip": inner.getvalue(),
        "9999Inactief15092020.zip": inactive.getvalue(),
        "__MACOSX/._stuff.zip": b"\x00\x05\x16\x07 not xml",
        ".DS_Store": b"\x00\x00\x00\x01Bud1",
    })
    result = read_bag(outer)
    assert list(result.sources["buildings"]["id"]) == [P]
    assert result.report.counts["skipped_members"] == 1


# -- errors ----------------------------------------------------------------------------------------


def test_truncated_zip(tmp_path):
    data = PND_ZIP.read_bytes()
    bad = tmp_path / "0221PND15092020.zip"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match=r"0221PND15092020\.zip: not a readable zip"):
        read_bag(bad)


def test_corrupt_inner_zip_named_with_member_path(tmp_path):
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("x.xml", _HEAD + pand(P) + _TAIL)
    outer = _zip(tmp_path / "outer.zip", {"inner.zip": inner.getvalue()[:40]})
    with pytest.raises(SourceError, match=r"outer\.zip!inner\.zip: not a readable zip"):
        read_bag(outer)


def test_malformed_xml_names_member_and_line(tmp_path):
    broken = _HEAD + pand(P) + "<sl:stand><Objecten:Pand>\n</sl:stand>\n" + _TAIL
    # the mismatched end tag sits on the line after the unclosed <Objecten:Pand>
    line = broken[: broken.index("<Objecten:Pand>\n")].count("\n") + 2
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("file.xml", broken)
    outer = _zip(tmp_path / "outer.zip", {"inner.zip": inner.getvalue()})
    expected = rf"outer\.zip!inner\.zip!file\.xml: malformed XML at line {line}\b"
    with pytest.raises(SourceError, match=expected):
        read_bag(outer)


def test_not_a_bag_extract(tmp_path):
    other = tmp_path / "other.xml"
    other.write_text("<?xml version='1.0'?><root><a/></root>")
    with pytest.raises(SourceError, match="no Pand or Verblijfsobject"):
        read_bag(other)
    with pytest.raises(SourceError, match="not found"):
        read_bag(tmp_path / "missing.zip")


# -- PDOK BAG GeoPackage ---------------------------------------------------------------------------


def _bag_light(path: Path, buildings: gpd.GeoDataFrame, addresses: gpd.GeoDataFrame | None,
               crs: CRS | None = RD_NEW, pand_layer: str = "pand") -> Path:
    """A GeoPackage with the PDOK bag-light schema, made from canonical frames."""
    pand_frame = gpd.GeoDataFrame(
        {"identificatie": buildings["id"], "rdf_seealso": "http://bag.basisregistraties.overheid.nl/",
         "bouwjaar": buildings["year"].astype("float64"), "status": buildings["status"],
         "gebruiksdoel": None, "aantal_verblijfsobjecten": 0},
        geometry=buildings.geometry.values, crs=crs)
    pand_frame.to_file(path, layer=pand_layer, engine="pyogrio")
    if addresses is not None:
        vbo_frame = gpd.GeoDataFrame(
            {"identificatie": addresses["id"], "oppervlakte": addresses["floor_area_m2"],
             "status": addresses["status"], "gebruiksdoel": addresses["use"],
             "pand_identificatie": addresses["building_id"], "postcode": "6981AA"},
            geometry=shapely.force_3d(addresses.geometry.values), crs=crs)
        vbo_frame.to_file(path, layer="verblijfsobject", engine="pyogrio")
    return path


def test_geopackage_round_trip_equals_xml(tmp_path, doesburg):
    xml_b = doesburg.sources["buildings"]
    xml_a = read_bag(VBO_XML).sources["addresses"]
    gpkg = _bag_light(tmp_path / "bag-light.gpkg", xml_b, xml_a)
    result = read_bag(gpkg)
    # The helper's GeoPackage gives every address postcode 6981AA; the VBO-only XML has no nummeraanduiding.
    assert (result.sources["addresses"]["postcode"] == "6981AA").all()
    for name, expected in (("buildings", xml_b), ("addresses", xml_a)):
        got = result.sources[name].drop(columns=["postcode"], errors="ignore")
        pd.testing.assert_frame_equal(got.drop(columns="geometry"),
                                      expected.drop(columns=["geometry", "postcode"], errors="ignore"))
        assert shapely.equals_exact(got.geometry.values, expected.geometry.values, tolerance=1e-9).all()
        assert got.crs.equals(RD_NEW)
    assert result.report.counts["buildings_status:Pand gesloopt"] == DOESBURG_GESLOOPT


def test_geopackage_reprojected_and_integer_ids(tmp_path):
    square = shapely.Polygon([(206000, 447000), (206010, 447000), (206010, 447010), (206000, 447010)])
    canon = gpd.GeoDataFrame({"id": ["0221100000311191"], "status": ["Pand in gebruik"],
                              "year": pd.array([1992], dtype="Int64")}, geometry=[square], crs=RD_NEW)
    gpkg = tmp_path / "wgs.gpkg"
    frame = gpd.GeoDataFrame({"identificatie": [221100000311191], "bouwjaar": [1992],
                              "status": ["Pand in gebruik"]}, geometry=canon.to_crs(4326).geometry.values,
                             crs="EPSG:4326")
    frame.to_file(gpkg, layer="pand", engine="pyogrio")
    b = read_bag(gpkg).sources["buildings"]
    assert b.loc[0, "id"] == "0221100000311191"
    assert b.geometry.iloc[0].equals_exact(square, tolerance=1e-3)


def test_geopackage_errors(tmp_path):
    b = gpd.GeoDataFrame({"id": [P], "status": ["Pand in gebruik"], "year": pd.array([2000], dtype="Int64")},
                         geometry=[shapely.box(0, 0, 1, 1)], crs=RD_NEW)
    wrong_layer = _bag_light(tmp_path / "l.gpkg", b, None, pand_layer="gebouwen")
    with pytest.raises(SourceError, match=r"no layer 'pand' or 'verblijfsobject'.*gebouwen"):
        read_bag(wrong_layer)
    assert len(read_bag(wrong_layer, layer_buildings="gebouwen").sources["buildings"]) == 1
    with pytest.raises(SourceError, match="no layer 'panden'"):
        read_bag(wrong_layer, layer_buildings="panden")
    no_status = tmp_path / "c.gpkg"
    gpd.GeoDataFrame({"identificatie": [P]}, geometry=[shapely.box(0, 0, 1, 1)], crs=RD_NEW).to_file(
        no_status, layer="pand", engine="pyogrio")
    with pytest.raises(SourceError, match=r"lacks column.*status"):
        read_bag(no_status)


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_geopackage_without_crs(tmp_path):
    b = gpd.GeoDataFrame({"id": [P], "status": ["Pand in gebruik"], "year": pd.array([2000], dtype="Int64")},
                         geometry=[shapely.box(0, 0, 1, 1)])
    gpkg = _bag_light(tmp_path / "nocrs.gpkg", b, None, crs=None)
    with pytest.raises(CRSError, match="no CRS"):
        read_bag(gpkg)
    result = read_bag(gpkg, declared_crs=RD_NEW)
    assert result.sources["buildings"].crs.equals(RD_NEW)
    assert np.allclose(result.sources["buildings"].total_bounds, [0, 0, 1, 1])
