"""Registry dates read from the deliveries themselves: how fresh is each source?

* **BAG 2.0 Extract**: ``StandTechnischeDatum`` (the date the extract's state
  refers to), read from the ``Leveringsdocument-BAG-Extract.xml`` of a
  delivery or from the ``bagInfo`` header of an extract XML, inside nested zips
  as Kadaster delivers them; else the ``DDMMYYYY`` in the file name
  (``0221PND15092020.zip``).
* **BGT extract** (PDOK, IMGeo CityGML): PDOK writes no stand date into the
  extract; its date is the time the extract's ``bgt_*.gml`` members were
  written (the zip's member times). The latest ``LV-publicatiedatum`` of the
  objects (the last change the extract holds) is recorded too, and is the date
  of a folder of GML files.
* **AHN**: the version (``AHN3``, ``AHN4``, ... from the file names) and the
  year (the LAS header's creation date; else the last acquisition year of
  that version).
* **CBS wijk- en buurtkaart**: the year in the file or layer name
  (``wijkenbuurten_2023.gpkg``); the boundaries are those of 1 January.

Nothing here knows about layers or configs; ``layers.source_ages`` maps
canonical sources to these dates.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

#: Bytes read from the start of an XML file looking for its header (the BAG bagInfo is in the first few KB).
HEADER_BYTES = 64 * 1024
#: Bytes read per step when scanning GML for publication dates.
SCAN_CHUNK = 1 << 22
_BAG_STAND = re.compile(rb"<(?:[\w-]+:)?StandTechnischeDatum>\s*(\d{4}-\d{2}-\d{2})\s*<")
_BAG_NAME_DATE = re.compile(r"(\d{2})(\d{2})(\d{4})")
_BGT_PUBLICATION = re.compile(rb"<imgeo:LV-publicatiedatum>\s*(\d{4}-\d{2}-\d{2})")
_AHN_VERSION = re.compile(r"ahn\s*_?(\d)", re.IGNORECASE)
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
#: Suffixes of BGT databases (SpatiaLite/SQLite files, GeoPackage).
_DB_SUFFIXES = (".sqlite", ".db", ".gpkg")
#: Last acquisition year of each AHN version (the year used when a file carries none).
AHN_LAST_YEAR = {"AHN1": 2003, "AHN2": 2012, "AHN3": 2019, "AHN4": 2022, "AHN5": 2025}
#: Nested zips opened at most this deep (a Kadaster delivery nests one level).
MAX_ZIP_DEPTH = 3


@dataclass(frozen=True)
class RegistryDate:
    """The registry date of one delivery.

    Attributes:
        provider: the register (``bgt``, ``bag``, ``ahn``, ``cbs``).
        date: the date the delivery's data refers to, or None when the delivery does not say.
        what: where the date comes from (for people).
        version: the register's version where it has one (``AHN4``).
        year: the year of the data (AHN acquisition, CBS edition).
        latest_change: the most recent object change the delivery holds (BGT), if known.
    """

    provider: str
    date: dt.date | None
    what: str
    version: str | None = None
    year: int | None = None
    latest_change: dt.date | None = None

    def age_days(self, today: dt.date) -> int | None:
        """Days from the registry date to ``today`` (None without a date)."""
        return None if self.date is None else (today - self.date).days

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly form (dates as ISO strings)."""
        return {
            "provider": self.provider, "date": self.date.isoformat() if self.date else None, "what": self.what,
            "version": self.version, "year": self.year,
            "latest_change": self.latest_change.isoformat() if self.latest_change else None,
        }


def _iso(text: bytes | str) -> dt.date:
    return dt.date.fromisoformat(text.decode() if isinstance(text, bytes) else text)


def _members(archive: zipfile.ZipFile, depth: int = 0) -> Iterator[tuple[zipfile.ZipInfo, zipfile.ZipFile]]:
    """Every member of a zip, descending into nested zips."""
    for info in archive.infolist():
        if info.is_dir():
            continue
        if info.filename.lower().endswith(".zip") and depth < MAX_ZIP_DEPTH:
            with archive.open(info) as fh, zipfile.ZipFile(io.BytesIO(fh.read())) as inner:
                yield from _members(inner, depth + 1)
        else:
            yield info, archive


def _head(fh: IO[bytes]) -> bytes:
    return fh.read(HEADER_BYTES)


def _bag_stand_in_zip(archive: zipfile.ZipFile, where: str, depth: int = 0) -> tuple[dt.date, str] | None:
    """The first StandTechnischeDatum in a zip: its delivery document first, then XML headers, then nested zips
    (one at a time, stopping at the first date, so a national delivery is not unpacked)."""
    infos = [i for i in archive.infolist() if not i.is_dir()]
    infos.sort(key=lambda i: (0 if "leveringsdocument" in i.filename.lower() else
                              1 if i.filename.lower().endswith(".xml") else 2))
    for info in infos:
        name = info.filename.lower()
        if name.endswith(".xml"):
            with archive.open(info) as fh:
                match = _BAG_STAND.search(_head(fh))
            if match:
                return _iso(match.group(1)), f"{where}!{info.filename}"
        elif name.endswith(".zip") and depth < MAX_ZIP_DEPTH:
            with archive.open(info) as fh, zipfile.ZipFile(io.BytesIO(fh.read())) as inner:
                found = _bag_stand_in_zip(inner, f"{where}!{info.filename}", depth + 1)
            if found:
                return found
    return None


def bag_extract_date(path: str | Path) -> RegistryDate:
    """The ``StandTechnischeDatum`` of a BAG 2.0 Extract (zip, nested zips, XML or a folder of them).

    The delivery document is read first, then the header of the extract XML files; a PDOK BAG
    GeoPackage or an extract without either gives the date in the file name, or None.
    """
    path = Path(path)
    files = sorted(path.rglob("*")) if path.is_dir() else [path]
    files.sort(key=lambda f: 0 if "leveringsdocument" in f.name.lower() else 1)
    for file in files:
        found: tuple[dt.date, str] | None = None
        if file.suffix.lower() == ".zip":
            with zipfile.ZipFile(file) as archive:
                found = _bag_stand_in_zip(archive, file.name)
        elif file.suffix.lower() == ".xml":
            with open(file, "rb") as fh:
                match = _BAG_STAND.search(_head(fh))
            found = (_iso(match.group(1)), file.name) if match else None
        if found:
            return RegistryDate("bag", found[0], f"StandTechnischeDatum in {found[1]}")
    named = _BAG_NAME_DATE.search(path.stem)
    if named:
        day, month, year = (int(g) for g in named.groups())
        try:
            return RegistryDate("bag", dt.date(year, month, day), f"date in the file name {path.name}")
        except ValueError:
            pass
    return RegistryDate("bag", None, f"{path.name}: no StandTechnischeDatum and no date in the name")


def _latest_publication(stream: IO[bytes]) -> dt.date | None:
    latest: bytes | None = None
    tail = b""
    while chunk := stream.read(SCAN_CHUNK):
        block = tail + chunk
        for m in _BGT_PUBLICATION.finditer(block):
            if latest is None or m.group(1) > latest:
                latest = m.group(1)
        tail = block[-128:]
    return None if latest is None else _iso(latest)


def bgt_extract_date(path: str | Path) -> RegistryDate:
    """The date of a PDOK BGT extract: the time its GML members were written, and the latest object change.

    A folder of GML files has no member times: its date is the latest ``LV-publicatiedatum``. A BGT
    database (SQLite/GeoPackage) gives None (its loader keeps no delivery date).
    """
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".zip":
        written: list[dt.datetime] = []
        latest: dt.date | None = None
        with zipfile.ZipFile(path) as archive:
            for info, owner in _members(archive):
                if not info.filename.lower().endswith(".gml"):
                    continue
                written.append(dt.datetime(*info.date_time))
                with owner.open(info) as fh:
                    change = _latest_publication(fh)
                latest = change if latest is None or (change is not None and change > latest) else latest
        if written:
            return RegistryDate("bgt", max(written).date(), f"time the extract's GML files were written ({path.name})",
                                latest_change=latest)
        return RegistryDate("bgt", None, f"{path.name}: no bgt_*.gml members")
    gml = sorted(path.rglob("*.gml")) if path.is_dir() else ([path] if path.suffix.lower() == ".gml" else [])
    if gml:
        changes = []
        for file in gml:
            with open(file, "rb") as fh:
                changes.append(_latest_publication(fh))
        known = [c for c in changes if c is not None]
        latest = max(known) if known else None
        return RegistryDate("bgt", latest, "latest LV-publicatiedatum of the objects", latest_change=latest)
    databases = (sorted(p for p in path.iterdir() if p.suffix.lower() in _DB_SUFFIXES) if path.is_dir()
                 else [path] if path.suffix.lower() in _DB_SUFFIXES else [])
    latest = _latest_in_databases(databases)
    if latest is not None:
        return RegistryDate("bgt", latest, "latest lv_publicatiedatum in the BGT database", latest_change=latest)
    return RegistryDate("bgt", None, f"{path.name}: no delivery date and no lv_publicatiedatum")


def _latest_in_databases(files: Sequence[Path]) -> dt.date | None:
    """The latest ``lv_publicatiedatum`` of every table of SQLite/GeoPackage files (as ogr2ogr loads a BGT)."""
    import sqlite3

    latest: str | None = None
    for file in files:
        con = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
        try:
            tables = [r[0] for r in con.execute("select name from sqlite_master where type = 'table'")]
            for table in tables:
                cols = [r[1] for r in con.execute(f'pragma table_info("{table}")')]
                col = next((c for c in cols if c.lower().replace("-", "_") == "lv_publicatiedatum"), None)
                if col is None:
                    continue
                (value,) = con.execute(f'select max("{col}") from "{table}"').fetchone()
                if value and (latest is None or str(value) > latest):
                    latest = str(value)
        except sqlite3.DatabaseError:
            continue
        finally:
            con.close()
    return None if latest is None else _iso(latest[:10])


def ahn_version(paths: Sequence[str | Path]) -> RegistryDate:
    """The AHN version (from the file names) and year (LAS header creation date, else the version's last year)."""
    names = " ".join(Path(p).name for p in paths)
    match = _AHN_VERSION.search(names)
    version = f"AHN{match.group(1)}" if match else None
    created: dt.date | None = None
    for p in paths:
        if Path(p).suffix.lower() in (".laz", ".las"):
            import laspy

            with laspy.open(str(p)) as reader:
                day = reader.header.creation_date
            if day is not None and (created is None or day > created):
                created = day
    if created is not None:
        return RegistryDate("ahn", created, "creation date in the LAS header", version, created.year)
    if version in AHN_LAST_YEAR:
        year = AHN_LAST_YEAR[version]
        return RegistryDate("ahn", dt.date(year, 12, 31), f"end of the {version} acquisition (no date in the files)",
                            version, year)
    return RegistryDate("ahn", None, "no AHN version in the file names and no LAS header date", version)


def cbs_year(path: str | Path, layer: str | None = None) -> RegistryDate:
    """The edition of a CBS wijk- en buurtkaart from the year in its file or layer name (1 January of it)."""
    text = f"{Path(path).name} {layer or ''}"
    years = [int(y) for y in _YEAR.findall(text)]
    if not years:
        return RegistryDate("cbs", None, f"{Path(path).name}: no year in the file or layer name")
    year = max(years)
    return RegistryDate("cbs", dt.date(year, 1, 1), "edition year in the file or layer name", year=year)
