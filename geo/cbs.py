"""CBS adapter: neighbourhoods (buurten) from the CBS "Wijk- en buurtkaart".

Statistics Netherlands (CBS) publishes the neighbourhood boundaries yearly as a
GeoPackage (recent years: layers ``gemeenten``, ``wijken``, ``buurten``; columns
``buurtcode``/``buurtnaam``) and formerly as shapefiles (``BU_CODE``/``BU_NAAM``).
Both carry polygons for the water-only parts of a buurt (column ``water`` =
``"JA"``), which are not neighbourhoods people live in and are excluded.
Any vector format GDAL reads is accepted; the layer is chosen by name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyogrio
from pyproj import CRS

from geo.canonical import validate_canonical
from geo.crs import RD_NEW, to_region_crs
from geo.errors import SourceError
from geo.report import AdapterResult, SourceReport
from geo.vector import repair_polygons

#: Preferred layer name in the CBS GeoPackage.
DEFAULT_LAYER = "buurten"
#: Substring of a layer name that marks a buurt layer when the default is absent.
BUURT_MARK = "buurt"
#: Column conventions, (code, name), tried in order, matched case-insensitively:
#: recent GeoPackages, shapefile era, CBS gebiedsindelingen.
COLUMN_CONVENTIONS: tuple[tuple[str, str], ...] = (
    ("buurtcode", "buurtnaam"),
    ("bu_code", "bu_naam"),
    ("statcode", "statnaam"),
)
#: Municipality columns (code, name), tried in order, matched case-insensitively: recent GeoPackages,
#: shapefile era. Kept as the canonical ``municipality_code``/``municipality_name``.
MUNICIPALITY_CONVENTIONS: tuple[tuple[str, str], ...] = (("gemeentecode", "gemeentenaam"), ("gm_code", "gm_naam"))
#: Column flagging water-only polygons, and its "yes" value.
WATER_COLUMN = "water"
WATER_YES = "JA"
_POLYGON_TYPES = ("Polygon", "MultiPolygon", "CurvePolygon", "MultiSurface")


def read_cbs(
    path: str | Path,
    region_crs: CRS = RD_NEW,
    report: SourceReport | None = None,
    layer: str | None = None,
    declared_crs: CRS | None = None,
) -> AdapterResult:
    """Read CBS buurten into the canonical ``neighbourhoods`` source.

    Layer choice: ``layer`` when given; else ``buurten``; else the only polygon
    layer whose name contains "buurt". Columns ``buurtcode``/``buurtnaam`` (or
    ``BU_CODE``/``BU_NAAM``, or ``statcode``/``statnaam``) become ``code``/``name``;
    ``gemeentecode``/``gemeentenaam`` (or ``GM_CODE``/``GM_NAAM``) become
    ``municipality_code``/``municipality_name`` when present.
    Polygons with ``water`` = "JA" are dropped (counted as ``water_excluded``);
    invalid polygons are repaired (counted as ``repaired``).

    Args:
        path: CBS wijk- en buurtkaart (GeoPackage, shapefile, ...).
        region_crs: CRS of the output (metres); CBS publishes in EPSG:28992.
        report: report to add counts to; a new one is made when None.
        layer: layer to read, overriding the automatic choice.
        declared_crs: CRS from the config, required when the file has none.

    Returns:
        ``AdapterResult`` with ``neighbourhoods`` (Polygon: code, name, municipality_code,
        municipality_name), sorted by code.

    Raises:
        SourceError: unreadable file, no (unique) buurt layer, missing columns,
            buurten without code.
        CRSError: the file has no CRS and none is declared, or they disagree.
    """
    path = Path(path)
    report = report if report is not None else SourceReport(f"CBS {path.name}")
    if not path.exists():
        raise SourceError(path, "file not found")
    try:
        layers = [(str(n), str(t)) for n, t in pyogrio.list_layers(path)]
    except (pyogrio.errors.DataSourceError, OSError) as exc:
        raise SourceError(path, f"cannot open as a vector file: {exc}") from None
    chosen = _choose_layer(path, layers, layer)
    where = f"{path}!{chosen}"
    fields = [str(f) for f in pyogrio.read_info(path, layer=chosen)["fields"]]
    by_lower = {f.lower(): f for f in fields}
    convention = next((c for c in COLUMN_CONVENTIONS if all(k in by_lower for k in c)), None)
    if convention is None:
        wanted = " or ".join("/".join(c) for c in COLUMN_CONVENTIONS)
        present = ", ".join(fields) or "none"
        raise SourceError(where, f"no buurt code/name columns ({wanted}); present: {present}")
    code_col, name_col = (by_lower[k] for k in convention)
    water_col = by_lower.get(WATER_COLUMN)
    gm = next((c for c in MUNICIPALITY_CONVENTIONS if all(k in by_lower for k in c)), None)
    gm_cols = [by_lower[k] for k in gm] if gm else []
    columns = [code_col, name_col, *gm_cols, *([water_col] if water_col else [])]
    frame = pyogrio.read_dataframe(path, layer=chosen, columns=columns)
    report.count("read", len(frame))
    if water_col is not None:
        water = frame[water_col].astype(object).map(
            lambda v: isinstance(v, str) and v.strip().upper() == WATER_YES
        ).to_numpy(dtype=bool)
        if water.any():
            n_water = int(water.sum())
            report.count("water_excluded", n_water)
            report.note(f"excluded {n_water} water-only buurt polygon(s) ({water_col} = {WATER_YES})")
        frame = frame.loc[~water]
    gm_names = ["municipality_code", "municipality_name"] if gm_cols else []
    renames = {code_col: "code", name_col: "name", **dict(zip(gm_cols, gm_names, strict=True))}
    kept = ["code", "name", *gm_names]
    frame = frame.rename(columns=renames)[[*kept, frame.geometry.name]]
    no_code = frame["code"].isna().to_numpy() | (frame["code"].astype(object).map(str).str.strip() == "")
    if no_code.any():
        row = int(np.flatnonzero(no_code)[0])
        raise SourceError(where, f"{int(no_code.sum())} buurt(en) without a code", feature=f"row {row + 1}")
    frame["code"] = frame["code"].astype(object).map(lambda v: str(v).strip())
    frame["name"] = frame["name"].astype(object).where(frame["name"].notna(), None)
    frame = to_region_crs(frame, region_crs, path, declared_crs)
    frame = repair_polygons(frame, report, where, id_column="code")
    frame = frame.sort_values("code", kind="stable").reset_index(drop=True)
    report.count("kept", len(frame))
    report.note(f"read {len(frame)} buurt(en) from layer {chosen!r} (columns {code_col}/{name_col})")
    return AdapterResult(sources={"neighbourhoods": validate_canonical("neighbourhoods", frame, where)},
                         report=report)


def _choose_layer(path: Path, layers: list[tuple[str, str]], layer: str | None) -> str:
    names = [n for n, _ in layers]
    listing = ", ".join(names) or "none"
    if layer is not None:
        if layer not in names:
            raise SourceError(path, f"no layer {layer!r}; layers: {listing}")
        return layer
    if DEFAULT_LAYER in names:
        return DEFAULT_LAYER
    candidates = [n for n, t in layers if BUURT_MARK in n.lower() and t.removesuffix(" Z") in _POLYGON_TYPES]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        hint = f"no polygon layer named like {BUURT_MARK!r} (set `layer:`)"
        raise SourceError(path, f"{hint}; layers: {listing}")
    raise SourceError(path, f"several buurt layers ({', '.join(candidates)}); choose one with `layer:`")
