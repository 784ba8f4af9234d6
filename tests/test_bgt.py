"""Tests of the BGT IMGeo CityGML adapter (geo.bgt) on the real Otterlo extract and hand-built GML."""

from __future__ import annotations

import math
import re
import time
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from pyproj import CRS, Transformer

from geo.bgt import read_bgt
from geo.bgt_mapping import LANDCOVER_TYPES, classify, mapping_rows
from geo.canonical import LANDCOVER_CLASSES
from geo.errors import CRSError, SourceError
from geo.report import AdapterResult

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
OTTERLO = DATA / "bgt-otterlo" / "otterlo.zip"
DOC = Path(__file__).resolve().parents[1] / "docs" / "bgt-mapping.md"
#: Extent of the Otterlo extract from the data README (RD metres).
EXTENT = shapely.box(179_600, 455_500, 183_000, 459_500)
MAX_READ_SECONDS = 30
USED_TYPES = (*LANDCOVER_TYPES, "vegetatieobject")


# --- an independent reading of the sample: plain ElementTree and simple rules --------------------


@dataclass
class Truth:
    members: dict[str, int] = field(default_factory=dict)  # byte count of <cityObjectMember>
    ended: dict[str, int] = field(default_factory=dict)
    plan: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)
    landcover_area: float = 0.0


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _shoelace(ring: ET.Element) -> float:
    """Area of a ring from all its posLists in document order (arcs taken as their 3-point chords)."""
    xy = np.concatenate(
        [np.array((p.text or "").split(), float).reshape(-1, 2) for p in ring.iter() if _local(p.tag) == "posList"]
    )
    return 0.5 * abs(np.dot(xy[:-1, 0], xy[1:, 1]) - np.dot(xy[1:, 0], xy[:-1, 1]))


def _independent_truth() -> Truth:
    truth = Truth()
    with zipfile.ZipFile(OTTERLO) as zf:
        for name in zf.namelist():
            obj_type = name.removeprefix("bgt_").removesuffix(".gml")
            if obj_type not in USED_TYPES:
                continue
            raw = zf.read(name)
            truth.members[obj_type] = raw.count(b"<cityObjectMember>")
            ended = plan = kept = 0
            for member in ET.fromstring(raw):
                obj = member[0]
                values = {_local(c.tag): (c.text or "").strip() for c in obj if len(c) == 0}
                if values.get("eindRegistratie") or values.get("terminationDate"):
                    ended += 1
                    continue
                if "plan" in (values.get("bgt-status"), values.get("plus-status")):
                    plan += 1
                    continue
                geoms = [g for p in obj if not _local(p.tag).startswith("kruinlijn") for g in p.iter()]
                polygons = [g for g in geoms if _local(g.tag) == "Polygon"]
                if obj_type == "vegetatieobject":
                    kept += values.get("plus-type") == "boom" and any(_local(g.tag) == "Point" for g in geoms)
                elif obj_type == "pand":
                    kept += bool(polygons)
                elif polygons and values.get("relatieveHoogteligging", "0") == "0":
                    kept += 1
                if (
                    polygons
                    and values.get("relatieveHoogteligging", "0") == "0"
                    and obj_type != "vegetatieobject"
                ):
                    for poly in polygons:
                        for boundary in poly:
                            sign = 1 if _local(boundary.tag) == "exterior" else -1
                            truth.landcover_area += sign * _shoelace(boundary)
            truth.ended[obj_type], truth.plan[obj_type], truth.kept[obj_type] = ended, plan, kept
    return truth


@pytest.fixture(scope="module")
def truth() -> Truth:
    return _independent_truth()


@pytest.fixture(scope="module")
def otterlo() -> tuple[AdapterResult, float]:
    start = time.perf_counter()
    result = read_bgt(OTTERLO)
    return result, time.perf_counter() - start


# --- the real sample ---------------------------------------------------------------------------


def test_reads_otterlo_fast_enough(otterlo: tuple[AdapterResult, float]) -> None:
    _, seconds = otterlo
    assert seconds < MAX_READ_SECONDS


def test_counts_per_type_match_an_independent_pass(
    otterlo: tuple[AdapterResult, float], truth: Truth
) -> None:
    counts = otterlo[0].report.counts
    for obj_type in USED_TYPES:
        assert counts[f"read_{obj_type}"] == truth.members.get(obj_type, 0), obj_type
        assert counts[f"ended_{obj_type}"] == truth.ended.get(obj_type, 0), obj_type
        assert counts[f"plan_{obj_type}"] == truth.plan.get(obj_type, 0), obj_type
        assert counts[f"kept_{obj_type}"] == truth.kept.get(obj_type, 0), obj_type
    assert counts["ended_excluded"] == sum(truth.ended.values())
    assert counts["read"] == sum(truth.members.values())


def test_counts_verified_with_grep(otterlo: tuple[AdapterResult, float]) -> None:
    # grep -c '<cityObjectMember>' / '<imgeo:eindRegistratie>' on the unzipped files.
    counts = otterlo[0].report.counts
    assert counts["read_wegdeel"] == 2444
    assert counts["ended_wegdeel"] == 1192
    assert counts["read_pand"] == 2273
    assert counts["ended_pand"] == 562
    assert counts["plan_excluded"] == 30  # 58 plan panden, 28 of them also ended
    assert counts["read_vegetatieobject"] == 2308
    assert counts["files_ignored"] == 35 - 13  # all 13 used types have a file (spoor, tunneldeel empty)


def test_ended_and_planned_objects_are_excluded(otterlo: tuple[AdapterResult, float]) -> None:
    src = otterlo[0].sources
    # every version of these has an end of registration
    assert "P0025.3e4ac17897c04432a9ae0393aa1c218a" not in set(src["landcover"].source_id)
    assert "G0228.fe246f2c6a8ad6d6e0400a0a35020533" not in set(src["buildings"].bgt_id)
    assert "G0228.fe246f2c6a8ad6d6e0400a0a35020533" not in set(src["landcover"].source_id)
    # a planned pand (plus-status plan) and its BAG id
    assert "G0228.42b9abe285d242cdaedfb1bcab9cb7d1" not in set(src["buildings"].bgt_id)
    assert "0228100000082620" not in set(src["buildings"].id)


def test_the_current_version_is_kept_not_the_history(otterlo: tuple[AdapterResult, float]) -> None:
    lc = otterlo[0].sources["landcover"]
    # this wegdeel has an ended version of 13.15 m² and a current one of 94.16 m² (shoelace, by hand)
    rows = lc[lc.source_id == "P0025.48c1b6cd18a84aa0bc12606a908c53b7"]
    assert len(rows) == 1
    assert rows.geometry.iloc[0].area == pytest.approx(94.16, rel=0.01)
    b = otterlo[0].sources["buildings"]
    rows = b[b.bgt_id == "G0228.fe246f2e4a39d6d6e0400a0a35020533"]  # ended 769.04 m², current 2079.14 m²
    assert len(rows) == 1
    assert rows.geometry.iloc[0].area == pytest.approx(2079.14, rel=0.01)
    assert lc.source_id.is_unique


@pytest.mark.parametrize(
    ("source_id", "cls", "source_class"),
    [
        ("P0025.0119231a737b430f8df99052fd4fe755", "road_paved", "wegdeel:open verharding"),
        ("G0228.fe246f2dd856d6d6e0400a0a35020533", "road_unpaved", "wegdeel:onverhard"),
        ("P0025.8a775407afac488595059256226496b9", "green_low", "ondersteunendwegdeel:groenvoorziening"),
        ("G0228.fe246f54ab5bd6d6e0400a0a35020533", "green_trees", "begroeidterreindeel:loofbos"),
        (
            "G0228.4f3d3dfd4ddd44ef8f3554af6f6dcd37",
            "green_shrub",
            "begroeidterreindeel:groenvoorziening/heesters",
        ),
        ("L0001.6c1bbe2e5f514e709ab7d1d6674ed370", "agriculture", "begroeidterreindeel:grasland agrarisch"),
        ("G0228.fe246f53cf62d6d6e0400a0a35020533", "paved_other", "onbegroeidterreindeel:erf"),
        ("G0228.fe246f54e372d6d6e0400a0a35020533", "water", "waterdeel:waterloop"),
        ("G0228.a4f2496dd1cf488997f5a64e624d0bd6", "building", "overigbouwwerk:bassin"),
        ("G0228.fe246f2e4755d6d6e0400a0a35020533", "building", "pand:*"),
    ],
)
def test_known_objects_get_their_class(
    otterlo: tuple[AdapterResult, float], source_id: str, cls: str, source_class: str
) -> None:
    lc = otterlo[0].sources["landcover"]
    row = lc[lc.source_id == source_id]
    assert len(row) == 1
    assert row["class"].iloc[0] == cls
    assert row["source_class"].iloc[0] == source_class


def test_building_is_the_footprint_with_its_bag_id(otterlo: tuple[AdapterResult, float]) -> None:
    b = otterlo[0].sources["buildings"]
    row = b[b.bgt_id == "G0228.fe246f2e4755d6d6e0400a0a35020533"]
    assert row.id.iloc[0] == "0228100000031255"
    assert row.status.iloc[0] == "bestaand"
    # footprint copied from bgt_pand.gml (the same pand also has a label point at 180084 457065)
    footprint = shapely.Polygon(
        [
            (180082.097, 457067.236),
            (180081.171, 457064.286),
            (180085.107, 457063.050),
            (180085.356, 457063.845),
            (180086.033, 457066.001),
        ]
    )
    assert row.geometry.iloc[0].equals_exact(footprint, tolerance=1e-6)
    assert set(b.status) == {"bestaand"}
    assert b.year.isna().all() and b.height_m.isna().all()
    assert not b.id.str.endswith("9999999999").any()  # placeholder BAG ids fall back to the lokaalID


def test_crs_extent_classes_and_geometry_types(otterlo: tuple[AdapterResult, float]) -> None:
    src = otterlo[0].sources
    for frame in src.values():
        assert frame.crs.to_epsg() == 28992
    lc, b, t = src["landcover"], src["buildings"], src["trees"]
    assert set(lc["class"]) <= set(LANDCOVER_CLASSES)
    assert lc["public"].isna().all()
    assert set(lc.geom_type) <= {"Polygon", "MultiPolygon"}
    assert set(b.geom_type) <= {"Polygon", "MultiPolygon"}
    assert set(t.geom_type) == {"Point"}
    assert b.within(EXTENT).all() and t.within(EXTENT).all()
    # an extract holds every object that intersects the extent, so big fields and roads reach beyond it
    assert lc.intersects(EXTENT).all()
    assert lc.is_valid.all() and b.is_valid.all()
    assert t.id.is_unique and t.crown_diameter_m.isna().all()


def test_landcover_area_is_the_sum_of_current_polygons_without_overlap(
    otterlo: tuple[AdapterResult, float], truth: Truth
) -> None:
    lc = otterlo[0].sources["landcover"]
    total = lc.area.sum()
    # the independent pass takes arcs as chords, hence the small tolerance
    assert total == pytest.approx(truth.landcover_area, rel=1e-3)
    # a planar partition: including history versions would make the polygons overlap
    assert shapely.union_all(lc.geometry.values).area == pytest.approx(total, rel=1e-6)


def test_crs_of_the_pand_file_is_inherited_from_the_delivery(otterlo: tuple[AdapterResult, float]) -> None:
    report = otterlo[0].report
    assert report.counts["crs_inherited"] == report.counts["kept_pand"]
    assert any("bgt_pand.gml" in n and "srsName" in n for n in report.notes)


def test_folder_gives_the_same_result_as_the_zip(
    tmp_path: Path, otterlo: tuple[AdapterResult, float]
) -> None:
    name = "bgt_overigbouwwerk.gml"
    with zipfile.ZipFile(OTTERLO) as zf:
        data = zf.read(name)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / name).write_bytes(data)
    with zipfile.ZipFile(tmp_path / "one.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, data)
    from_folder = read_bgt(folder)
    from_zip = read_bgt(tmp_path / "one.zip")
    for key in ("landcover", "buildings", "trees"):
        assert_geodataframe_equal(from_folder.sources[key], from_zip.sources[key])
    assert len(from_folder.sources["landcover"]) == 24
    full = otterlo[0].sources["landcover"]
    full = full[full.source_class.str.startswith("overigbouwwerk:")]
    assert sorted(full.source_id) == sorted(from_folder.sources["landcover"].source_id)


def test_every_mapping_rule_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    rows = {
        tuple(c.strip() for c in line.strip().strip("|").split("|"))
        for line in text.splitlines()
        if line.startswith("|")
    }
    missing = [r for r in mapping_rows() if r not in rows]
    assert not missing
    assert len(list(mapping_rows())) > len(LANDCOVER_TYPES)


def test_classify_uses_plus_then_value_then_type_default() -> None:
    assert classify(
        "begroeidterreindeel", {"class": "groenvoorziening", "plus-fysiekVoorkomen": "heesters"}
    ) == ("green_shrub", "begroeidterreindeel:groenvoorziening/heesters", True)
    assert classify(
        "begroeidterreindeel", {"class": "groenvoorziening", "plus-fysiekVoorkomen": "waardeOnbekend"}
    ) == ("green_low", "begroeidterreindeel:groenvoorziening", True)
    assert classify("wegdeel", {"surfaceMaterial": "kunstgras"}) == ("road_paved", "wegdeel:kunstgras", False)
    assert classify("pand", {}) == ("building", "pand:*", True)


# --- hand-built GML with the real IMGeo 2.1 CityGML structure -------------------------------------

RD = 'srsName="urn:ogc:def:crs:EPSG::28992"'
X0, Y0 = 181_000.0, 457_000.0


def _city_model(*members: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<CityModel xmlns:gml="http://www.opengis.net/gml" '
        'xmlns:imgeo="http://www.geostandaarden.nl/imgeo/2.1" '
        'xmlns="http://www.opengis.net/citygml/2.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        + "\n".join(members)
        + "\n</CityModel>\n"
    )


def _wegdeel(lokaal_id: str, geometry: str, surface: str = "gesloten verharding") -> str:
    return f"""<cityObjectMember>
  <TrafficArea xmlns="http://www.opengis.net/citygml/transportation/2.0" gml:id="b{lokaal_id}">
    <creationDate xmlns="http://www.opengis.net/citygml/2.0">2014-11-21</creationDate>
    <imgeo:relatieveHoogteligging>0</imgeo:relatieveHoogteligging>
    <imgeo:identificatie><imgeo:NEN3610ID><imgeo:namespace>NL.IMGeo</imgeo:namespace>
      <imgeo:lokaalID>{lokaal_id}</imgeo:lokaalID></imgeo:NEN3610ID></imgeo:identificatie>
    <imgeo:bgt-status codeSpace="http://www.geostandaarden.nl/imgeo/def/2.1#Status">bestaand</imgeo:bgt-status>
    <imgeo:plus-status>geenWaarde</imgeo:plus-status>
    <function>rijbaan lokale weg</function>
    <surfaceMaterial>{surface}</surfaceMaterial>
    <imgeo:kruinlijnWegdeel xsi:nil="true" nilReason="waardeOnbekend" />
    <imgeo:geometrie2dWegdeel>{geometry}</imgeo:geometrie2dWegdeel>
    <imgeo:plus-fysiekVoorkomenWegdeel>waardeOnbekend</imgeo:plus-fysiekVoorkomenWegdeel>
  </TrafficArea>
</cityObjectMember>"""


def _pos(points: Sequence[tuple[float, float]], dim: int = 2) -> str:
    extra = " 12.5" if dim == 3 else ""
    coords = " ".join(f"{X0 + x:.3f} {Y0 + y:.3f}{extra}" for x, y in points)
    return f'<gml:posList srsDimension="{dim}">{coords}</gml:posList>'


def _polygon(points: Sequence[tuple[float, float]], srs: str = RD) -> str:
    ring = f"<gml:LinearRing>{_pos(points)}</gml:LinearRing>"
    return f"<gml:Polygon {srs}><gml:exterior>{ring}</gml:exterior></gml:Polygon>"


def _write(folder: Path, obj_type: str, *members: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / f"bgt_{obj_type}.gml").write_text(_city_model(*members), encoding="utf-8")
    return folder


def _area_of(result: AdapterResult, source_id: str) -> float:
    lc = result.sources["landcover"]
    return float(lc[lc.source_id == source_id].geometry.iloc[0].area)


def test_bow_tie_is_repaired_and_counted(tmp_path: Path) -> None:
    bow_tie = [(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)]
    folder = _write(
        tmp_path / "bgt",
        "wegdeel",
        _wegdeel("T.bowtie", _polygon(bow_tie)),
        _wegdeel("T.square", _polygon([(20, 0), (30, 0), (30, 10), (20, 10), (20, 0)])),
    )
    result = read_bgt(folder)
    assert result.report.counts["repaired"] == 1
    lc = result.sources["landcover"]
    assert lc.is_valid.all()
    assert _area_of(result, "T.bowtie") == pytest.approx(50.0)  # two triangles of 25 m²
    assert _area_of(result, "T.square") == pytest.approx(100.0)


def test_unrepairable_polygon_names_zip_member_and_feature(tmp_path: Path) -> None:
    flat = [(0, 0), (10, 10), (20, 20), (0, 0)]  # collinear: no area to recover
    gml = _city_model(_wegdeel("T.flat", _polygon(flat)))
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as zf:
        zf.writestr("bgt_wegdeel.gml", gml)
    with pytest.raises(SourceError) as err:
        read_bgt(tmp_path / "bad.zip")
    assert "bad.zip!bgt_wegdeel.gml" in str(err.value)
    assert err.value.feature == "T.flat"


def test_ring_with_too_few_positions_is_skipped_and_named(tmp_path: Path) -> None:
    # Closed, but only two distinct positions: no area. The object is skipped, counted and named.
    square = [(0, 0), (10, 0), (10, 10), (0, 10), (0, 0)]
    folder = _write(tmp_path / "bgt", "wegdeel", _wegdeel("T.short", _polygon([(0, 0), (10, 0), (0, 0)])),
                    _wegdeel("T.fine", _polygon(square)))
    result = read_bgt(folder)
    counts = result.report.counts
    assert result.sources["landcover"]["source_id"].tolist() == ["T.fine"]
    assert (counts["rings_degenerate"], counts["degenerate_skipped"], counts["kept"]) == (1, 1, 1)
    assert counts["rings_unclosed"] == 0
    note = next(n for n in result.report.notes if "T.short" in n)
    assert "bgt_wegdeel.gml" in note and "exterior ring with 3 positions" in note and "skipped" in note


def test_unclosed_and_two_position_rings_are_counted_with_their_real_size(tmp_path: Path) -> None:
    open_square = [(0, 0), (10, 0), (10, 10), (0, 10)]  # the closing (0, 0) is missing
    folder = _write(tmp_path / "bgt", "wegdeel", _wegdeel("T.open", _polygon(open_square)),
                    _wegdeel("T.two", _polygon([(20, 0), (30, 0)])))
    result = read_bgt(folder)
    counts = result.report.counts
    lc = result.sources["landcover"]
    assert lc["source_id"].tolist() == ["T.open"]
    assert lc.geometry.iloc[0].area == pytest.approx(100.0)  # closed by repeating (0, 0)
    assert (counts["rings_unclosed"], counts["rings_unclosed_wegdeel"]) == (1, 1)
    assert (counts["rings_degenerate"], counts["degenerate_skipped_wegdeel"]) == (1, 1)
    notes = result.report.notes
    assert any("T.open" in n and "exterior ring with 4 positions, not closed" in n for n in notes)
    # Counted as written (2 positions), not after closing (3).
    assert any("T.two" in n and "exterior ring with 2 positions" in n for n in notes)
    assert not any("3 positions" in n for n in notes)


def test_degenerate_hole_is_dropped_and_the_polygon_kept(tmp_path: Path) -> None:
    shell = _pos([(0, 0), (10, 0), (10, 10), (0, 10), (0, 0)])
    hole = _pos([(2, 2), (4, 4), (2, 2)])
    polygon = (f"<gml:Polygon {RD}><gml:exterior><gml:LinearRing>{shell}</gml:LinearRing></gml:exterior>"
               f"<gml:interior><gml:LinearRing>{hole}</gml:LinearRing></gml:interior></gml:Polygon>")
    result = read_bgt(_write(tmp_path / "bgt", "wegdeel", _wegdeel("T.hole", polygon)))
    assert result.sources["landcover"].geometry.iloc[0].area == pytest.approx(100.0)
    assert result.report.counts["rings_degenerate"] == 1 and result.report.counts["degenerate_skipped"] == 0
    assert any("T.hole" in n and "interior ring with 3 positions" in n and "dropped" in n
               for n in result.report.notes)


@pytest.mark.parametrize("token", ["NaN", "inf", "abc"])
def test_non_finite_coordinate_is_an_error_naming_the_feature(tmp_path: Path, token: str) -> None:
    ring = _pos([(0, 0), (10, 0), (10, 10), (0, 0)]).replace(f"{X0 + 10:.3f}", token, 1)
    polygon = f"<gml:Polygon {RD}><gml:exterior><gml:LinearRing>{ring}</gml:LinearRing></gml:exterior></gml:Polygon>"
    with pytest.raises(SourceError) as err:
        read_bgt(_write(tmp_path / "bgt", "wegdeel", _wegdeel("T.nan", polygon)))
    assert err.value.feature == "T.nan" and "bgt_wegdeel.gml" in err.value.path
    assert f"holds '{token}' at number 3 of 8" in err.value.problem


def test_curves_arcs_circles_composites_and_3d(tmp_path: Path) -> None:
    half_disc = (  # line (0,0)->(20,0), then 3D arc through (10,10) back to (0,0): radius 10
        f"<gml:Polygon {RD}><gml:exterior><gml:Ring><gml:curveMember><gml:Curve><gml:segments>"
        f"<gml:LineStringSegment>{_pos([(0, 0), (20, 0)])}</gml:LineStringSegment>"
        f"<gml:Arc>{_pos([(20, 0), (10, 10), (0, 0)], dim=3)}</gml:Arc>"
        "</gml:segments></gml:Curve></gml:curveMember></gml:Ring></gml:exterior></gml:Polygon>"
    )
    clockwise = (  # the same half disc, drawn the other way round
        f"<gml:Polygon {RD}><gml:exterior><gml:Ring><gml:curveMember><gml:Curve><gml:segments>"
        f"<gml:Arc>{_pos([(0, 0), (10, 10), (20, 0)])}</gml:Arc>"
        f"<gml:LineStringSegment>{_pos([(20, 0), (0, 0)])}</gml:LineStringSegment>"
        "</gml:segments></gml:Curve></gml:curveMember></gml:Ring></gml:exterior></gml:Polygon>"
    )
    square_with_round_hole = (  # 40 x 40 minus a circle of radius 5
        f"<gml:Polygon {RD}><gml:exterior><gml:LinearRing>"
        f"{_pos([(0, 0), (40, 0), (40, 40), (0, 40), (0, 0)])}"
        "</gml:LinearRing></gml:exterior><gml:interior><gml:Ring><gml:curveMember><gml:Curve><gml:segments>"
        f"<gml:Circle>{_pos([(25, 20), (20, 25), (15, 20)])}</gml:Circle>"
        "</gml:segments></gml:Curve></gml:curveMember></gml:Ring></gml:interior></gml:Polygon>"
    )
    left = [(0, 0), (10, 0), (10, 10), (0, 10), (0, 0)]
    right = [(10, 0), (20, 0), (20, 10), (10, 10), (10, 0)]
    composite = (  # two 10 x 10 squares sharing an edge: one 20 x 10 surface
        f"<gml:CompositeSurface {RD}>"
        f"<gml:surfaceMember>{_polygon(left, srs='')}</gml:surfaceMember>"
        f"<gml:surfaceMember>{_polygon(right, srs='')}</gml:surfaceMember>"
        "</gml:CompositeSurface>"
    )
    patch = (
        f"<gml:Surface {RD}><gml:patches><gml:PolygonPatch><gml:exterior><gml:LinearRing>"
        f"{_pos([(0, 0), (5, 0), (5, 4), (0, 0)])}</gml:LinearRing></gml:exterior></gml:PolygonPatch>"
        "</gml:patches>"
        "</gml:Surface>"
    )
    multi = (
        f"<gml:MultiSurface {RD}>"
        f"<gml:surfaceMember>{_polygon([(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)], srs='')}</gml:surfaceMember>"
        f"<gml:surfaceMember>{_polygon([(5, 5), (7, 5), (7, 7), (5, 7), (5, 5)], srs='')}</gml:surfaceMember>"
        "</gml:MultiSurface>"
    )
    folder = _write(
        tmp_path / "bgt",
        "wegdeel",
        *(
            _wegdeel(i, g)
            for i, g in [
                ("T.half", half_disc),
                ("T.cw", clockwise),
                ("T.hole", square_with_round_hole),
                ("T.comp", composite),
                ("T.patch", patch),
                ("T.multi", multi),
            ]
        ),
    )
    result = read_bgt(folder)
    half = math.pi * 10**2 / 2
    # densified within 1 cm of the circle: far closer than the 3-point chord (area 100)
    assert _area_of(result, "T.half") == pytest.approx(half, rel=2e-3)
    assert _area_of(result, "T.cw") == pytest.approx(half, rel=2e-3)
    assert _area_of(result, "T.hole") == pytest.approx(1600 - math.pi * 25, rel=1e-3)
    lc = result.sources["landcover"].set_index("source_id")
    assert lc.geometry["T.half"].bounds[3] == pytest.approx(Y0 + 10, abs=0.01)
    assert lc.geometry["T.comp"].geom_type == "Polygon" and lc.geometry["T.comp"].area == pytest.approx(200)
    assert lc.geometry["T.patch"].area == pytest.approx(10)
    assert lc.geometry["T.multi"].geom_type == "MultiPolygon" and lc.geometry[
        "T.multi"
    ].area == pytest.approx(5)
    assert result.report.counts["repaired"] == 0


def test_unmapped_value_uses_the_type_default_and_is_counted(tmp_path: Path) -> None:
    square = _polygon([(0, 0), (10, 0), (10, 10), (0, 10), (0, 0)])
    folder = _write(tmp_path / "bgt", "wegdeel", _wegdeel("T.odd", square, surface="kunstgras"))
    result = read_bgt(folder)
    assert result.report.counts["unmapped_wegdeel"] == 1
    row = result.sources["landcover"].iloc[0]
    assert (row["class"], row["source_class"]) == ("road_paved", "wegdeel:kunstgras")


def test_other_srs_is_transformed_and_missing_srs_is_an_error(tmp_path: Path) -> None:
    # a WGS84 URN lists latitude first
    lat, lon = 52.1, 5.77
    d = 0.0001
    ring = " ".join(f"{la} {lo}" for la, lo in [(lat, lon), (lat, lon + d), (lat + d, lon + d), (lat, lon)])
    wgs = (
        f'<gml:Polygon srsName="urn:ogc:def:crs:EPSG::4326"><gml:exterior><gml:LinearRing>'
        f'<gml:posList srsDimension="2">{ring}</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>'
    )
    result = read_bgt(_write(tmp_path / "wgs", "wegdeel", _wegdeel("T.wgs", wgs)))
    x, y = Transformer.from_crs(4326, 28992, always_xy=True).transform(lon, lat)
    first = shapely.get_coordinates(result.sources["landcover"].geometry.iloc[0])[0]
    assert first == pytest.approx([x, y], abs=0.01)
    assert result.sources["landcover"].crs.to_epsg() == 28992

    # the same RD data asked for in Web Mercator
    square = [(0, 0), (10, 0), (10, 10), (0, 10), (0, 0)]
    folder = _write(tmp_path / "rd", "wegdeel", _wegdeel("T.rd", _polygon(square)))
    merc = read_bgt(folder, region_crs=CRS.from_epsg(3857))
    mx, my = Transformer.from_crs(28992, 3857, always_xy=True).transform(X0, Y0)
    assert shapely.get_coordinates(merc.sources["landcover"].geometry.iloc[0])[0] == pytest.approx(
        [mx, my], abs=0.01
    )

    no_srs = _write(tmp_path / "none", "wegdeel", _wegdeel("T.nosrs", _polygon(square, srs="")))
    with pytest.raises(CRSError) as err:
        read_bgt(no_srs)
    assert "bgt_wegdeel.gml" in str(err.value)


# --- bad input ---------------------------------------------------------------------------------


def test_truncated_zip_is_a_source_error_naming_it(tmp_path: Path) -> None:
    data = OTTERLO.read_bytes()
    half = tmp_path / "otterlo_half.zip"
    half.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError) as err:
        read_bgt(half)
    assert "otterlo_half.zip" in str(err.value)


def test_corrupt_zip_member_is_named(tmp_path: Path) -> None:
    square = _polygon([(0, 0), (10, 0), (10, 10), (0, 10), (0, 0)])
    gml = _city_model(*(_wegdeel(f"T.{i}", square) for i in range(50))).encode()
    path = tmp_path / "corrupt.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bgt_wegdeel.gml", gml)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("bgt_wegdeel.gml")
    raw = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename)  # local header + name, no extra field
    for i in range(start + info.compress_size // 3, start + info.compress_size // 3 + 16):
        raw[i] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(SourceError) as err:
        read_bgt(path)
    assert "corrupt.zip!bgt_wegdeel.gml" in str(err.value)


def test_zip_without_bgt_files_is_an_error(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("readme.txt", "no gml here")
    with pytest.raises(SourceError, match=r"other\.zip.*no bgt_\*\.gml"):
        read_bgt(tmp_path / "other.zip")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no bgt_"):
        read_bgt(tmp_path / "empty")


def test_malformed_xml_names_file_and_line(tmp_path: Path) -> None:
    square = _polygon([(0, 0), (10, 0), (10, 10), (0, 10), (0, 0)])
    text = _city_model(_wegdeel("T.ok", square))
    lines = text.splitlines()
    broken_line = next(i for i, line in enumerate(lines, start=1) if "</creationDate>" in line)
    lines[broken_line - 1] = lines[broken_line - 1].replace("</creationDate>", "</creationDat>")
    folder = tmp_path / "bgt"
    folder.mkdir()
    (folder / "bgt_wegdeel.gml").write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(SourceError) as err:
        read_bgt(folder)
    assert "bgt_wegdeel.gml" in err.value.path
    assert re.search(rf"line {broken_line}\b", err.value.problem)


def test_road_parts_carry_their_bgt_function(otterlo: tuple[AdapterResult, float]) -> None:
    result, _ = otterlo
    lc = result.sources["landcover"]
    road = lc["source_class"].str.startswith("wegdeel:")
    # The first TrafficArea of bgt_wegdeel.gml: an `inrit` (driveway) paved with open verharding.
    first = lc[lc["source_id"].str.endswith("0119231a737b430f8df99052fd4fe755")]
    assert first["function"].tolist() == ["inrit"]
    functions = set(lc.loc[road, "function"].dropna())
    assert {"voetpad", "fietspad", "rijbaan regionale weg", "rijbaan lokale weg"} <= functions
    assert functions <= {"rijbaan regionale weg", "inrit", "rijbaan lokale weg", "voetpad", "fietspad",
                         "parkeervlak", "OV-baan", "voetpad op trap", "voetgangersgebied"}  # as grep counts them
    assert lc.loc[~road & ~lc["source_class"].str.startswith("ondersteunendwegdeel:"), "function"].isna().all()
