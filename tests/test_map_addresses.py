"""Addresses with postcode, house number and street (for the map's search) from the real BAG sample and the demo."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest

from geo.bag import read_bag
from geo.canonical import ADDRESS_PARTS
from geo.demo.registers import STREET_NAMES
from tests.test_bag import NESTED


def _plain_current(zip_path: Path, kind: str) -> dict[str, str]:
    """Independent read (regular expressions): id -> block of the voorkomen without an end, highest voorkomen."""
    found: dict[str, tuple[int, str]] = {}

    def walk(archive: zipfile.ZipFile) -> None:
        for info in archive.infolist():
            if "__MACOSX" in info.filename or re.search(r"\d{4}(IA|NB|IO)", info.filename):
                continue
            if info.filename.endswith(".zip"):
                walk(zipfile.ZipFile(io.BytesIO(archive.read(info))))
            elif info.filename.endswith(".xml"):
                text = archive.read(info).decode("utf-8")
                for block in re.findall(rf"<Objecten:{kind}>(.*?)</Objecten:{kind}>", text, re.S):
                    if "eindGeldigheid" in block or "eindRegistratie>" in block:
                        continue
                    ident = re.search(r"<Objecten:identificatie[^>]*>(\d+)<", block).group(1)  # type: ignore[union-attr]
                    number = int(re.search(r"voorkomenidentificatie>(\d+)<", block).group(1))  # type: ignore[union-attr]
                    if ident not in found or found[ident][0] < number:
                        found[ident] = (number, block)

    with zipfile.ZipFile(zip_path) as archive:
        walk(archive)
    return {k: v[1] for k, v in found.items()}


def _field(block: str, name: str) -> str | None:
    match = re.search(rf"<[\w-]+:{name}[^>]*>([^<]*)<", block)
    return match.group(1) if match else None


def test_real_bag_extract_gives_postcode_number_and_street() -> None:
    a = read_bag(NESTED).sources["addresses"].set_index("id")
    vbos = _plain_current(NESTED, "Verblijfsobject")
    nums = _plain_current(NESTED, "Nummeraanduiding")
    oprs = _plain_current(NESTED, "OpenbareRuimte")
    assert set(a.index) == set(vbos)
    checked = 0
    for vbo_id, block in vbos.items():
        main = re.search(r"heeftAlsHoofdadres>\s*<[^>]*NummeraanduidingRef[^>]*>(\d+)<", block).group(1)  # type: ignore[union-attr]
        num = nums[main]
        row = a.loc[vbo_id]
        assert row["postcode"] == _field(num, "postcode")
        assert row["house_number"] == int(_field(num, "huisnummer") or 0)
        assert row["house_letter"] == _field(num, "huisletter")
        street = _field(num, "OpenbareRuimteRef")
        assert row["street"] == _field(oprs[street], "naam")
        checked += 1
    assert checked == 2
    # Known by reading the XML by hand: Kosterstraat 4, 6981 CH Doesburg.
    row = a.loc["0221010000330226"]
    assert (row["street"], row["house_number"], row["postcode"]) == ("Kosterstraat", 4, "6981CH")


def test_an_extract_without_nummeraanduidingen_leaves_the_parts_empty() -> None:
    from tests.test_bag import VBO_XML

    a = read_bag(VBO_XML).sources["addresses"]
    for column in ADDRESS_PARTS:
        assert column in a.columns
        assert a[column].isna().all(), column


@pytest.fixture(scope="module")
def demo_addresses(demo_catalog: Path):  # type: ignore[no-untyped-def]
    """The addresses the demo generator wrote for the session's 1 km demo (``tests.demo_catalog``)."""
    import geopandas as gpd

    return gpd.read_file(demo_catalog.parent / "addresses.gpkg")


def test_demo_addresses_have_unique_postcode_and_number(demo_addresses) -> None:  # type: ignore[no-untyped-def]
    a = demo_addresses
    assert a["postcode"].str.fullmatch(r"\d{4}[A-Z]{2}").all()
    assert (a["house_number"] >= 1).all()
    assert set(a["street"]) <= set(STREET_NAMES)
    key = (a["postcode"] + " " + a["house_number"].astype(str) + a["house_letter"].fillna("") + "-"
           + a["house_number_addition"].fillna(""))
    assert not key.duplicated().any()
    # One postcode never spans two streets (as in the PTT's postcode system).
    assert (a.groupby("postcode")["street"].nunique() == 1).all()
