"""Streaming reader of BAG 2.0 Extract XML (Kadaster LV BAG, "stand" delivery).

A BAG 2.0 Extract is delivered as XML files, usually zipped, often as zips
inside zips (the national and municipal "BAGNLDL"/"BAGGEM" deliveries). Each
``sl:stand/sl-bag-extract:bagObject`` holds one *voorkomen* (version) of one
object, e.g. ``Objecten:Pand`` or ``Objecten:Verblijfsobject``, with its own
history dates (``Historie:Voorkomen``). This module walks files, folders and
nested zips, recognises object types by their XML element, streams every file
with ``lxml.etree.iterparse`` (memory stays flat) and keeps per object only the
voorkomen that is current at the extract date (``StandTechnischeDatum``).

Reference: Kadaster, "Catalogus Basisregistratie Adressen en Gebouwen 2018" and
"Productbeschrijving BAG 2.0 Extract" (XSD ``BagvsExtractDeelbestandExtractLvc``).
"""

from __future__ import annotations

import io
import re
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import shapely
from lxml import etree
from shapely.errors import GEOSException

from geo.errors import SourceError
from geo.report import SourceReport

#: Separator between an archive and a member in the paths named in errors.
MEMBER_SEP = "!"
#: Object elements of BAG 2.0 and their delivery codes (``sl:objectType``).
OBJECT_TYPES: dict[str, str] = {
    "Pand": "PND",
    "Verblijfsobject": "VBO",
    "Ligplaats": "LIG",
    "Standplaats": "STA",
    "Nummeraanduiding": "NUM",
    "OpenbareRuimte": "OPR",
    "Woonplaats": "WPL",
}
#: Object types this reader turns into canonical sources.
WANTED_TYPES = ("PND", "VBO")
#: Object types read for the names of addresses: nummeraanduiding (postcode, house number) and openbare
#: ruimte (street name), joined to a verblijfsobject through its ``heeftAlsHoofdadres``.
NAMING_TYPES = ("NUM", "OPR")
#: Members that hold no current BAG objects: inactive voorkomens (IA), "niet-BAG"
#: objects (NB), in-research markers (IO) and the municipality/woonplaats table.
#: Matched on the member's own name, e.g. ``9999Inactief15092020.zip`` or
#: ``0221IAPND15092020.zip``; they must not be read as current objects.
_SKIP_MEMBER = re.compile(
    r"(Inactief|NietBag|InOnderzoek|GEM-WPL-RELATIE|^\d{4}(IA|NB|IO)[A-Z]{3}\d{8})", re.IGNORECASE
)
#: Junk that macOS adds to zips (resource forks, folder settings).
_JUNK_MEMBER = re.compile(r"(^|/)(__MACOSX/|\._|\.DS_Store$)")
#: Inner zips up to this size are unpacked in memory, larger ones to a temporary file,
#: because a zip inside a compressed zip cannot be seeked cheaply.
_IN_MEMORY_ZIP_BYTES = 256 * 1024**2
_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError)
_VOORKOMEN_ID = "voorkomenidentificatie"
_TAGS = ("{*}StandTechnischeDatum", "{*}objectTypen", *(f"{{*}}{t}" for t in OBJECT_TYPES))


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


@dataclass
class BagObject:
    """The current voorkomen of one BAG object, as read from the XML.

    Attributes:
        kind: ``PND`` or ``VBO``.
        id: 16-digit identificatie.
        voorkomen: voorkomenidentificatie (version number), to break ties.
        status: BAG status text.
        geometry: 2D shapely geometry in the file's CRS (Z dropped).
        srs: the ``srsName`` of the geometry, or None.
        year: oorspronkelijkBouwjaar (panden).
        uses: gebruiksdoel values (verblijfsobjecten).
        pand_refs: maaktDeelUitVan pand identificaties (verblijfsobjecten).
        area: oppervlakte in m² (verblijfsobjecten).
        main_address: heeftAlsHoofdadres nummeraanduiding identificatie (verblijfsobjecten).
        where: file (and zip members) the voorkomen came from.
    """

    kind: str
    id: str
    voorkomen: int
    status: str | None
    geometry: shapely.Geometry | None
    srs: str | None
    year: int | None = None
    uses: list[str] = field(default_factory=list)
    pand_refs: list[str] = field(default_factory=list)
    area: float | None = None
    main_address: str | None = None
    where: str = ""


@dataclass
class BagName:
    """The current voorkomen of a nummeraanduiding (``NUM``) or openbare ruimte (``OPR``).

    Attributes:
        kind: ``NUM`` or ``OPR``.
        id: 16-digit identificatie.
        voorkomen: voorkomenidentificatie, to break ties.
        postcode: postcode (``6981AB``; NUM).
        house_number: huisnummer (NUM).
        house_letter: huisletter (NUM).
        addition: huisnummertoevoeging (NUM).
        street_ref: ligtAan openbare ruimte identificatie (NUM).
        name: naam (OPR).
    """

    kind: str
    id: str
    voorkomen: int
    postcode: str | None = None
    house_number: int | None = None
    house_letter: str | None = None
    addition: str | None = None
    street_ref: str | None = None
    name: str | None = None


class BagXmlReader:
    """Collects current panden and verblijfsobjecten from BAG 2.0 Extract XML.

    Call :meth:`read` for each input path, then use :attr:`current` (kind ->
    id -> :class:`BagObject`). Counts go to ``report``: ``read`` (voorkomens of
    panden and verblijfsobjecten), ``superseded`` (voorkomens that are not
    current), ``not_yet_valid`` (voorkomens starting after the extract date),
    ``duplicate_current`` (several current voorkomens of one object; the highest
    voorkomenidentificatie wins), ``other_objects`` (other BAG object types).
    Nummeraanduidingen and openbare ruimten go to :attr:`names` (kind -> id ->
    :class:`BagName`, current voorkomens only), counted apart as ``names_read``
    and ``names_not_current``.
    """

    def __init__(self, report: SourceReport) -> None:
        self.report = report
        self.current: dict[str, dict[str, BagObject]] = {k: {} for k in WANTED_TYPES}
        self.seen: dict[str, set[str]] = {k: set() for k in WANTED_TYPES}
        self.names: dict[str, dict[str, BagName]] = {k: {} for k in NAMING_TYPES}
        self.xml_files = 0

    # -- walking files, folders and zips ---------------------------------------------------------

    def read(self, path: Path) -> None:
        """Read a folder, a zip (nested zips included) or a single XML file."""
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                name = child.relative_to(path).as_posix()
                if _JUNK_MEMBER.search(name):
                    continue
                if _SKIP_MEMBER.search(child.name):
                    self.report.count("skipped_members")
                    self.report.note(f"skipped {child}: inactive, niet-BAG, in-onderzoek or relation data")
                    continue
                if child.suffix.lower() in (".zip", ".xml"):
                    self.read(child)
            return
        with path.open("rb") as fh:
            magic = fh.read(len(_ZIP_MAGIC))
        if magic in (_ZIP_MAGIC, _EMPTY_ZIP_MAGIC):
            try:
                archive = zipfile.ZipFile(path)
            except _READ_ERRORS as exc:
                raise SourceError(path, f"not a readable zip (truncated or corrupt?): {exc}") from None
            with archive:
                self._walk_zip(archive, str(path))
        else:
            with path.open("rb") as fh:
                self._parse_xml(fh, str(path))

    def _walk_zip(self, archive: zipfile.ZipFile, label: str) -> None:
        for info in archive.infolist():
            name = info.filename
            base = name.rstrip("/").rpartition("/")[2]
            if info.is_dir() or _JUNK_MEMBER.search(name):
                continue
            where = f"{label}{MEMBER_SEP}{name}"
            if _SKIP_MEMBER.search(base):
                self.report.count("skipped_members")
                self.report.note(f"skipped {where}: inactive, niet-BAG, in-onderzoek or relation data")
                continue
            lower = base.lower()
            if lower.endswith(".zip"):
                with self._open_inner_zip(archive, info, where) as inner:
                    self._walk_zip(inner, where)
            elif lower.endswith(".xml"):
                try:
                    with archive.open(info) as stream:
                        self._parse_xml(stream, where)
                except _READ_ERRORS as exc:
                    raise SourceError(where, f"corrupt or truncated zip member: {exc}") from None

    @contextmanager
    def _open_inner_zip(
        self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str
    ) -> Iterator[zipfile.ZipFile]:
        with ExitStack() as stack:
            try:
                with archive.open(info) as src:
                    if info.file_size <= _IN_MEMORY_ZIP_BYTES:
                        buffer: IO[bytes] = stack.enter_context(io.BytesIO(src.read()))
                    else:
                        buffer = stack.enter_context(tempfile.TemporaryFile())
                        shutil.copyfileobj(src, buffer)
                        buffer.seek(0)
                inner = stack.enter_context(zipfile.ZipFile(buffer))
            except _READ_ERRORS as exc:
                raise SourceError(where, f"not a readable zip (truncated or corrupt?): {exc}") from None
            yield inner

    # -- parsing one XML document ----------------------------------------------------------------

    def _parse_xml(self, stream: IO[bytes], where: str) -> None:
        self.xml_files += 1
        ref_date: str | None = None
        events = etree.iterparse(
            stream, events=("end",), tag=_TAGS, resolve_entities=False, no_network=True, huge_tree=True
        )
        try:
            for _, el in events:
                name = _local(el.tag)
                if name == "StandTechnischeDatum":
                    ref_date = (el.text or "").strip() or None
                    continue
                if name == "objectTypen":
                    declared = {(c.text or "").strip().upper() for c in el}
                    if declared and not declared & {*WANTED_TYPES, *NAMING_TYPES}:
                        # The header says this file holds only other object types: skip the rest.
                        self.report.count("other_object_files")
                        return
                    continue
                if "objecten" not in (etree.QName(el).namespace or "").lower():
                    continue  # e.g. an element of the same name in another vocabulary
                kind = OBJECT_TYPES[name]
                if kind in WANTED_TYPES:
                    self._take(el, kind, ref_date, where)
                elif kind in NAMING_TYPES:
                    self._take_name(el, kind, ref_date, where)
                else:
                    self.report.count("other_objects")
                _release(el)
        except etree.XMLSyntaxError as exc:
            line = exc.lineno if exc.lineno is not None else "?"
            raise SourceError(where, f"malformed XML at line {line}: {exc.msg}") from None

    def _take(self, el: Any, kind: str, ref_date: str | None, where: str) -> None:
        fields: dict[str, Any] = {"uses": [], "pand_refs": []}
        hist: dict[str, str] = {}
        geom_el = None
        for child in el:
            name = _local(child.tag)
            if name == "voorkomen":
                for item in child.iter():
                    hist[_local(item.tag)] = (item.text or "").strip()
            elif name == "geometrie":
                geom_el = child
            elif name == "gebruiksdoel":
                fields["uses"].append((child.text or "").strip())
            elif name == "maaktDeelUitVan":
                fields["pand_refs"].extend((r.text or "").strip() for r in child if isinstance(r.tag, str))
            elif name == "heeftAlsHoofdadres":
                fields["main_address"] = next(((r.text or "").strip() for r in child if isinstance(r.tag, str)), None)
            elif name in ("identificatie", "status", "oorspronkelijkBouwjaar", "oppervlakte"):
                fields[name] = (child.text or "").strip()
        ident = fields.get("identificatie")
        if not ident:
            raise SourceError(where, f"a {_type_name(kind)} without identificatie")
        self.report.count("read")
        self.seen[kind].add(ident)
        state = _voorkomen_state(hist, ref_date)
        if state != "current":
            self.report.count(state)
            return
        geometry, srs = (None, None) if geom_el is None else _parse_geometry(geom_el, where, ident)
        obj = BagObject(
            kind=kind,
            id=ident,
            voorkomen=_to_int(hist.get(_VOORKOMEN_ID), where, ident, _VOORKOMEN_ID) or 0,
            status=fields.get("status") or None,
            geometry=geometry,
            srs=srs,
            year=_to_int(fields.get("oorspronkelijkBouwjaar"), where, ident, "oorspronkelijkBouwjaar"),
            uses=[u for u in fields["uses"] if u],
            pand_refs=[r for r in fields["pand_refs"] if r],
            area=_to_float(fields.get("oppervlakte"), where, ident),
            main_address=fields.get("main_address") or None,
            where=where,
        )
        known = self.current[kind].get(ident)
        if known is not None:
            self.report.count("duplicate_current")
            if known.voorkomen > obj.voorkomen:
                return
        self.current[kind][ident] = obj


    def _take_name(self, el: Any, kind: str, ref_date: str | None, where: str) -> None:
        fields: dict[str, str] = {}
        hist: dict[str, str] = {}
        for child in el:
            name = _local(child.tag)
            if name == "voorkomen":
                for item in child.iter():
                    hist[_local(item.tag)] = (item.text or "").strip()
            elif name == "ligtAan":
                fields["ligtAan"] = next(((r.text or "").strip() for r in child if isinstance(r.tag, str)), "")
            elif name in ("identificatie", "postcode", "huisnummer", "huisletter", "huisnummertoevoeging", "naam"):
                fields[name] = (child.text or "").strip()
        ident = fields.get("identificatie")
        if not ident:
            raise SourceError(where, f"a {_type_name(kind)} without identificatie")
        self.report.count("names_read")
        if _voorkomen_state(hist, ref_date) != "current":
            self.report.count("names_not_current")
            return
        obj = BagName(
            kind=kind,
            id=ident,
            voorkomen=_to_int(hist.get(_VOORKOMEN_ID), where, ident, _VOORKOMEN_ID) or 0,
            postcode=fields.get("postcode") or None,
            house_number=_to_int(fields.get("huisnummer"), where, ident, "huisnummer"),
            house_letter=fields.get("huisletter") or None,
            addition=fields.get("huisnummertoevoeging") or None,
            street_ref=fields.get("ligtAan") or None,
            name=fields.get("naam") or None,
        )
        known = self.names[kind].get(ident)
        if known is None or known.voorkomen <= obj.voorkomen:
            self.names[kind][ident] = obj


def _voorkomen_state(hist: dict[str, str], ref_date: str | None) -> str:
    """Classify one voorkomen as ``current``, ``superseded`` or ``not_yet_valid``.

    A voorkomen with ``eindRegistratie`` was replaced by a correction; one with
    ``eindGeldigheid`` on or before the extract date was replaced by a later
    version or ended the object. Dates are ISO strings, so they compare as text.
    Without an extract date any end date means "not current".
    """
    if hist.get("eindRegistratie"):
        return "superseded"
    begin, end = hist.get("beginGeldigheid"), hist.get("eindGeldigheid")
    if ref_date and begin and begin[:10] > ref_date:
        return "not_yet_valid"
    if end and (ref_date is None or end[:10] <= ref_date):
        return "superseded"
    return "current"


def _release(el: Any) -> None:
    """Free a processed element and everything parsed before it (flat memory)."""
    el.clear(keep_tail=True)
    for ancestor in el.iterancestors():
        while ancestor.getprevious() is not None:
            del ancestor.getparent()[0]


def _type_name(kind: str) -> str:
    return next(k for k, v in OBJECT_TYPES.items() if v == kind)


def _to_int(text: str | None, where: str, ident: str | None, what: str) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise SourceError(where, f"{what} is not a whole number: {text!r}", feature=ident) from None


def _to_float(text: str | None, where: str, ident: str) -> float | None:
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise SourceError(where, f"oppervlakte is not a number: {text!r}", feature=ident) from None


# -- GML geometry -----------------------------------------------------------------------------------

#: GML geometry elements in order of preference (a verblijfsobject's punt before its vlak).
_GML_KINDS = ("Point", "Polygon", "MultiSurface", "MultiPolygon")


def _parse_geometry(geom_el: Any, where: str, ident: str) -> tuple[shapely.Geometry | None, str | None]:
    """Parse the GML 3.2 geometry under ``Objecten:geometrie`` into a 2D shapely geometry.

    Panden carry a ``gml:Polygon`` (3D, Z = 0); verblijfsobjecten a ``punt``
    (``gml:Point``) and/or a ``vlak`` (``gml:Polygon``). When both are given the
    point wins, as it is the official location of the address.
    """
    found: dict[str, Any] = {}
    for node in geom_el.iter():
        name = _local(node.tag)
        if name in _GML_KINDS and name not in found:
            found[name] = node
    # lxml elements are falsy when childless, so pick with an explicit test, not `or`.
    node = next((found[k] for k in _GML_KINDS if k in found), None)
    if node is None:
        return None, None
    srs = node.get("srsName")
    name = _local(node.tag)
    try:
        if name == "Point":
            pos = next((n for n in node.iter() if _local(n.tag) in ("pos", "coordinates")), None)
            xy = _coords(pos, node, where, ident)
            return shapely.Point(xy[0]), srs
        if name == "Polygon":
            return _polygon(node, node, where, ident), srs
        parts = [_polygon(p, node, where, ident) for p in node.iter() if _local(p.tag) == "Polygon"]
        return shapely.MultiPolygon(parts), srs
    except (ValueError, GEOSException) as exc:
        raise SourceError(where, f"unreadable {name} geometry: {exc}", feature=ident) from None


def _polygon(poly: Any, geom: Any, where: str, ident: str) -> shapely.Polygon:
    shell = None
    holes = []
    for ring_holder in poly:
        role = _local(ring_holder.tag)
        if role not in ("exterior", "interior"):
            continue
        ring = next((n for n in ring_holder.iter() if _local(n.tag) == "LinearRing"), None)
        if ring is None:
            raise SourceError(where, f"polygon {role} without a LinearRing", feature=ident)
        coords = _ring_coords(ring, geom, where, ident)
        if role == "exterior":
            shell = coords
        else:
            holes.append(coords)
    if shell is None:
        raise SourceError(where, "polygon without exterior ring", feature=ident)
    return shapely.Polygon(shell, holes)


def _ring_coords(ring: Any, geom: Any, where: str, ident: str) -> np.ndarray:
    pos_list = next((n for n in ring if _local(n.tag) == "posList"), None)
    if pos_list is not None:
        return _coords(pos_list, geom, where, ident)
    points = [_coords(p, geom, where, ident) for p in ring if _local(p.tag) == "pos"]
    if not points:
        raise SourceError(where, "ring without coordinates (posList or pos)", feature=ident)
    return np.vstack(points)


def _coords(node: Any, geom: Any, where: str, ident: str) -> np.ndarray:
    """Coordinates of a ``posList``/``pos`` as an (n, 2) array, Z dropped."""
    if node is None or not (node.text or "").strip():
        raise SourceError(where, "geometry without coordinates", feature=ident)
    values = np.array(node.text.split(), dtype=float)
    dim_text = node.get("srsDimension") or geom.get("srsDimension")
    count = node.get("count")
    if dim_text:
        dim = int(dim_text)
    elif count:
        dim = len(values) // int(count)
    else:
        dim = 2  # the GML default when nothing says otherwise
    if dim < 2 or len(values) % dim:
        raise SourceError(where, f"{len(values)} coordinate values do not fit dimension {dim}", feature=ident)
    return values.reshape(-1, dim)[:, :2]
