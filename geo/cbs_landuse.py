"""CBS Bestand Bodemgebruik (BBG) adapter: the recreational green of the land-use map -> ``parks``.

The BBG (CBS, land use of the Netherlands at 1:10,000, editions 1996-2017) gives every
piece of land one use class. CBS delivers it as a GeoPackage or shapefile with the
class code in a column named after the edition (``BG2015``, ``bg2017``, ...) and, in
most editions, its description (``Omschrijving``; ``Omschrijvi`` in a shapefile).

Parks are the polygons of the classes in :data:`DEFAULT_PARK_CODES` (BBG 2015 class
list, CBS "Bestand Bodemgebruik: productbeschrijving"):

* 40 *Park en plantsoen*: public parks and plantsoenen;
* 43 *Dagrecreatief terrein*: public day-recreation grounds (recreatiegebieden,
  speelweiden, openluchtzwembaden terrain).

Left out by default: 41 *Sportterrein* (sports fields, mostly fenced club grounds),
42 *Volkstuin* (allotments, private plots), 44 *Verblijfsrecreatief terrein*
(campsites, holiday parks) and 60 *Bos* (woods are not all open to the public);
``codes:`` in the config chooses other classes, e.g. ``[40, 43, 60]``. Touching
polygons of the chosen classes are not merged: the BBG already draws one polygon
per contiguous area of one class.

Without a code column the description is matched (case-insensitive) against
:data:`PARK_DESCRIPTIONS`. Output: canonical ``parks`` (``id`` = ``bbg-<row>``,
``name`` = the class description), in the region CRS.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
from pyproj import CRS

from geo.canonical import validate_canonical
from geo.crs import RD_NEW, to_region_crs
from geo.errors import SourceError
from geo.report import AdapterResult, SourceReport
from geo.vector import repair_polygons

#: BBG classes read as parks: 40 Park en plantsoen, 43 Dagrecreatief terrein.
DEFAULT_PARK_CODES: tuple[int, ...] = (40, 43)
#: BBG 2015 descriptions of the recreational classes (hoofdgroep 4, Recreatie) and of woods.
BBG_DESCRIPTIONS: dict[int, str] = {
    40: "Park en plantsoen",
    41: "Sportterrein",
    42: "Volkstuin",
    43: "Dagrecreatief terrein",
    44: "Verblijfsrecreatief terrein",
    60: "Bos",
}
#: Descriptions matched when the file has no code column.
PARK_DESCRIPTIONS: tuple[str, ...] = tuple(BBG_DESCRIPTIONS[c].lower() for c in DEFAULT_PARK_CODES)
#: Code columns are named after the edition: ``BG`` + year (case-insensitive); the latest edition wins.
CODE_COLUMN_RE = re.compile(r"^bg(\d{4})$", re.IGNORECASE)
#: Description columns (``Omschrijvi``: a shapefile's 10-character field name).
DESCRIPTION_COLUMNS: tuple[str, ...] = ("omschrijving", "omschrijvi", "omschr")


def read_cbs_landuse(
    path: str | Path,
    region_crs: CRS = RD_NEW,
    report: SourceReport | None = None,
    *,
    layer: str | None = None,
    codes: Sequence[int] = DEFAULT_PARK_CODES,
    declared_crs: CRS | None = None,
) -> AdapterResult:
    """Read the park classes of a CBS Bestand Bodemgebruik file as the canonical ``parks`` source.

    Args:
        path: BBG GeoPackage or shapefile (as CBS delivers it).
        region_crs: CRS of the result (the BBG is in EPSG:28992, metres).
        report: report to add counts and notes to; a new one when None.
        layer: layer of a multi-layer file (default: the only, or first polygon, layer).
        codes: BBG class codes that are parks (default 40 and 43, see the module doc).
        declared_crs: CRS from the config, for a file without one.

    Returns:
        ``AdapterResult`` with ``parks`` (id, name) in ``region_crs``.

    Raises:
        SourceError: the file cannot be read, has no BBG code or description column, or a
            polygon cannot be repaired.
        CRSError: no CRS in the file and none declared, or they disagree.
    """
    path = Path(path)
    report = report if report is not None else SourceReport("cbs_landuse")
    if not path.exists():
        raise SourceError(path, "file not found")
    try:
        layers = [str(n) for n, _ in pyogrio.list_layers(path)]
        chosen = layer if layer is not None else layers[0]
        if chosen not in layers:
            raise SourceError(path, f"no layer {layer!r}; layers: {', '.join(layers)}")
        fields = [str(f) for f in pyogrio.read_info(path, layer=chosen)["fields"]]
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError, IndexError) as exc:
        raise SourceError(path, f"cannot open as a vector file: {exc}") from None
    where = f"{path}!{chosen}"
    editions = sorted((int(m.group(1)), f) for f in fields if (m := CODE_COLUMN_RE.match(f)))
    code_col = editions[-1][1] if editions else None
    desc_col = next((f for f in fields if f.lower() in DESCRIPTION_COLUMNS), None)
    if code_col is None and desc_col is None:
        raise SourceError(where, "no BBG class column: expected a code column BG<year> (BG2015, bg2017) or "
                          f"Omschrijving; present: {', '.join(fields) or 'none'}")
    frame = pyogrio.read_dataframe(path, layer=chosen, columns=[c for c in (code_col, desc_col) if c])
    report.count("read", len(frame))
    if code_col is not None:
        code = pd.to_numeric(frame[code_col], errors="coerce")
        if code.isna().all() and len(frame):
            raise SourceError(where, f"column {code_col} holds no numeric BBG codes", feature="row 1")
        keep = code.isin([int(c) for c in codes]).to_numpy(dtype=bool)
        names = code.map(BBG_DESCRIPTIONS)
        if desc_col is not None:
            names = frame[desc_col].where(frame[desc_col].notna(), names)
        rule = f"{code_col} in {', '.join(str(int(c)) for c in codes)}"
    else:
        text = frame[desc_col].astype("string").str.strip().str.lower()
        wanted = [BBG_DESCRIPTIONS[c].lower() for c in codes if c in BBG_DESCRIPTIONS] or list(PARK_DESCRIPTIONS)
        keep = text.isin(wanted).fillna(False).to_numpy(dtype=bool)
        names = frame[desc_col]
        rule = f"{desc_col} in {', '.join(wanted)}"
    rows = np.flatnonzero(keep)
    parks = frame.iloc[rows][[frame.geometry.name]].copy()
    parks.insert(0, "id", [f"bbg-{i + 1}" for i in rows])
    parks.insert(1, "name", pd.array(names.to_numpy(dtype=object)[rows], dtype="string"))
    parks = parks[~(parks.geometry.isna() | parks.geometry.is_empty)]
    report.count("not_park", len(frame) - len(rows))
    parks = to_region_crs(parks, region_crs, path, declared_crs)
    parks = repair_polygons(parks, report, where, id_column="id").reset_index(drop=True)
    report.count("kept", len(parks))
    report.note(f"{len(parks)} park polygon(s) of {len(frame)} BBG polygons ({rule})")
    return AdapterResult(sources={"parks": validate_canonical("parks", parks, where)}, report=report)
