"""A derived change layer in the catalog: ``<layer>-change``, tiled and styled with a diverging legend.

Made when asked for (``kaartlaag diff LAYER --publish``) from a :class:`layers.diff.LayerDiff`: the
change tables of the zones (``neighbourhoods``, ``municipalities``) as GeoParquet and one PMTiles
archive, each zone classed by the change of one figure (``change_class``, ``styles.change``), and the
difference raster of one raster band as a COG pre-rendered in the diverging style. It is published
like any layer version (staged, renamed into place, ``catalog.json`` replaced atomically), with the
access of the layer it compares, and names both versions in its metadata. It is not rebuilt by
``kaartlaag build``: ask again after the next build.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from geo.errors import NotFoundError
from geo.raster import Raster
from layers import catalog as cat
from layers.base import LayerDef, LayerResult, Output
from layers.build_report import MAIN_FIGURE
from layers.diff import DELTA, LayerDiff
from layers.municipalities import ZONE_OUTPUT
from layers.publish import MEDIA_TYPES, write_result
from styles.change import CLASS_FIELD, change_class, change_raster_style, change_step
from tiles.cog import write_cog
from tiles.prerender import prerender_raster

#: Suffix of a change layer's id, and its style id.
CHANGE_SUFFIX = "-change"
CHANGE_STYLE = "change"
#: The raster output of a change layer.
DELTA_OUTPUT = "delta"


def change_layer_id(layer_id: str) -> str:
    """The id of the change layer of ``layer_id``."""
    return f"{layer_id}{CHANGE_SUFFIX}"


def _never(*_args: Any) -> LayerResult:
    raise NotFoundError("a change layer is derived from a diff, not computed")


def _definition(entry: cat.LayerEntry, diff: LayerDiff, figure: str) -> LayerDef:
    title = entry.title.get("nl", entry.id)
    return LayerDef(
        id=change_layer_id(entry.id),
        title={"nl": f"Verandering {title}", "en": f"Change of {entry.title.get('en', entry.id)}"},
        description={
            "nl": f"Verandering van {figure} per buurt tussen versie {diff.version_from} en {diff.version_to}.",
            "en": f"Change of {figure} per zone from version {diff.version_from} to {diff.version_to}.",
        },
        kind="vector", inputs=(), params=(), outputs=(Output(ZONE_OUTPUT, "vector", "change per zone"),),
        style_id=CHANGE_STYLE, code_version="1", compute=_never, access=entry.access,
        minzoom=entry.minzoom, maxzoom=entry.maxzoom,
    )


def _file(path: Path, rel_dir: str, output: str, kind: str, fmt: str) -> cat.FileEntry:
    data = path.read_bytes()
    return cat.FileEntry(name=path.name, output=output, kind=kind, format=fmt,  # type: ignore[arg-type]
                         media_type=MEDIA_TYPES[fmt], path=f"{rel_dir}/{path.name}", bytes=len(data),
                         sha256=hashlib.sha256(data).hexdigest())


def _classed(diff: LayerDiff, figure: str) -> tuple[dict[str, Any], float]:
    """The change tables with ``change_class`` of ``figure``, and the class step (shared by all tables)."""
    deltas = np.concatenate([t[figure + DELTA].to_numpy(dtype=np.float64) for t in diff.tables.values()
                             if figure + DELTA in t.columns] or [np.zeros(0)])
    finite = np.abs(deltas[np.isfinite(deltas)])
    step = change_step(float(finite.max()) if finite.size else 0.0)
    tables = {}
    for name, table in diff.tables.items():
        out = table.copy()
        if figure + DELTA in out.columns:
            out[CLASS_FIELD] = [change_class(float(v), step) for v in out[figure + DELTA]]
            out[CLASS_FIELD] = out[CLASS_FIELD].astype("Int64")
        tables[name] = out
    return tables, step


def _raster(diff: LayerDiff, figure: str) -> tuple[str, Raster] | None:
    """The difference band to publish: the one named ``<figure>_delta``, else the first band of the first raster."""
    for name, raster in diff.rasters.items():
        if figure + DELTA in raster.band_names:
            band = raster.band_names.index(figure + DELTA)
            return name, Raster(raster.data[band:band + 1], raster.crs, raster.transform, nodata=raster.nodata,
                                band_names=(figure + DELTA,), units=(raster.units[band],))
    for name, raster in diff.rasters.items():
        return name, Raster(raster.data[:1], raster.crs, raster.transform, nodata=raster.nodata,
                            band_names=raster.band_names[:1], units=raster.units[:1])
    return None


def publish_change_layer(root: Path, entry: cat.LayerEntry, diff: LayerDiff, chosen: str | None = None) -> str:
    """Publish ``diff`` of layer ``entry`` as the catalog layer ``<id>-change``; returns its version.

    Args:
        root: the catalog folder.
        entry: the compared layer's current catalog record.
        diff: the change (with its rasters, see ``diff_versions``).
        chosen: the figure the zones are classed by (default: the layer's main figure).

    Raises:
        NotFoundError: the figure is not in the change tables.
    """
    zones = diff.tables.get(ZONE_OUTPUT)
    columns = [c[: -len(DELTA)] for c in (zones.columns if zones is not None else []) if c.endswith(DELTA)]
    if chosen is None:
        preferred = MAIN_FIGURE.get(entry.id, "")
        figure: str = preferred if preferred in columns else next((c for c in columns if c.endswith("_pct")),
                                                                  columns[0] if columns else "")
    elif chosen not in columns:
        raise NotFoundError(f"layer {entry.id} has no figure {chosen!r}; figures: {', '.join(columns) or 'none'}")
    else:
        figure = chosen
    layer = _definition(entry, diff, figure)
    tables, step = _classed(diff, figure)
    now = datetime.now(UTC)
    digest = hashlib.sha256(f"{entry.id}:{diff.version_from}:{diff.version_to}:{figure}".encode()).hexdigest()
    version = f"{now.strftime('%Y%m%dT%H%M%SZ')}-{digest[:8]}"
    with cat.catalog_lock(root):
        catalog = cat.read_catalog(root)
        previous = catalog.layers.get(layer.id)
        n = 1
        while (Path(root) / layer.id / version).exists():
            n += 1
            version = f"{now.strftime('%Y%m%dT%H%M%SZ')}-{digest[:8]}-{n}"
        rel_dir = f"{layer.id}/{version}"
        with cat.staging_dir(root, layer.id) as staged:
            files = write_result(layer, LayerResult(vectors=tables), staged, rel_dir,
                                 entry.metadata.get("attribution", ""))
            picked = _raster(diff, figure)
            if picked is not None:
                source, raster = picked
                path = write_cog(raster, staged / f"{DELTA_OUTPUT}.tif", resampling="average",
                                 tags={"layer": layer.id, "output": DELTA_OUTPUT, "from": diff.version_from,
                                       "to": diff.version_to, "source_output": source})
                files.append(_file(path, rel_dir, DELTA_OUTPUT, "raster", "cog"))
                finite = np.abs(raster.data[np.isfinite(raster.data)])
                style = change_raster_style(change_step(float(finite.max()) if finite.size else 0.0),
                                            raster.units[0] if raster.units else "", layer.title["nl"])
                for archive in prerender_raster(path, DELTA_OUTPUT, style.colormap(), name=layer.title["nl"],
                                                style=json.loads(style.to_json())):
                    files.append(_file(archive, rel_dir, DELTA_OUTPUT, "raster", "pmtiles"))
            built = now.strftime("%Y-%m-%dT%H:%M:%SZ")
            record = cat.LayerEntry(
                id=layer.id, title=dict(layer.title), description=dict(layer.description), kind="vector",
                version=version, built_at=built, key=digest, code_version=layer.code_version, inputs={},
                depends={entry.id: diff.version_to}, parameters={"figure": figure}, bounds=entry.bounds,
                crs=entry.crs, access=entry.access, style_id=CHANGE_STYLE, minzoom=layer.minzoom,
                maxzoom=layer.maxzoom, references=[], files=files,
                metadata={"change_of": entry.id, "from": diff.version_from, "to": diff.version_to,
                          "figure": figure, "class_step": step, "class_field": CLASS_FIELD,
                          "attribution": entry.metadata.get("attribution", ""), "notes": diff.notes},
                versions=[*(previous.versions if previous else []),
                          cat.VersionEntry(version=version, built_at=built, key=digest, path=rel_dir)],
            )
            cat.write_json(staged / cat.METADATA_FILE, record.model_dump(mode="json", exclude={"versions"}))
            cat.move_into_place(root, staged, layer.id, version)
        catalog.layers[layer.id] = record
        cat.write_catalog(root, catalog)
    return version


def change_layers(catalog: cat.Catalog) -> Mapping[str, cat.LayerEntry]:
    """The change layers in a catalog, by id."""
    return {k: e for k, e in catalog.layers.items() if e.style_id == CHANGE_STYLE}
