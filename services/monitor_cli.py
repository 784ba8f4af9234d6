"""The monitoring parts of the CLI: ``kaartlaag diff`` (change between two kept versions of a layer) and the
source ages of ``kaartlaag check``."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from layers import catalog as cat
from layers.config import RegionConfig
from layers.diff import diff_versions, summary, write_diff
from layers.registry import get_layer

#: Zones listed per figure in the console summary.
TOP_ZONES = 3


def run_diff(root: Path, layer_id: str, version_from: str, version_to: str, out_dir: Path | None,
             console: Console, *, publish: bool = False, figure: str | None = None) -> list[Path]:
    """Compare two versions of ``layer_id`` in the catalog at ``root``; print a summary, write files to ``out_dir``.

    With ``publish`` the change is also published as the catalog layer ``<layer>-change``, its zones
    classed by ``figure`` (``layers.change_layer``).

    Raises:
        NotFoundError: unknown layer, a layer not built yet, or a version that is not kept.
    """
    from geo.errors import NotFoundError

    get_layer(layer_id)
    entry = cat.read_catalog(root).layers.get(layer_id)
    if entry is None:
        raise NotFoundError(f"layer {layer_id} is not in the catalog at {root}; build it first")
    diff = diff_versions(root, entry, version_from, version_to, rasters=out_dir is not None or publish)
    console.print(f"{layer_id}: {diff.version_from} -> {diff.version_to}")
    for name, figures in summary(diff, TOP_ZONES).items():
        if name.startswith("raster:"):
            console.print(f"  {name}: {figures['cells_changed']} cells changed, largest |delta| "
                          f"{figures['max_abs_delta']}")
            continue
        table = Table(f"{name}: figure", "zones changed", "largest changes (code: delta)")
        for fig, info in figures.items():
            if info["zones_changed"]:
                largest = ", ".join(f"{z['code']}: {z['delta']:+.2f}" for z in info["largest"])
                table.add_row(fig, str(info["zones_changed"]), largest)
        console.print(table)
    for note in diff.notes:
        console.print(f"  note: {note}")
    written = write_diff(diff, out_dir) if out_dir is not None else []
    for path in written:
        console.print(f"wrote {path}")
    if publish:
        from layers.change_layer import change_layer_id, publish_change_layer

        version = publish_change_layer(root, entry, diff, figure)
        console.print(f"published {change_layer_id(layer_id)} {version}")
    return written


def print_source_ages(cfg: RegionConfig, sources: set[str], console: Console) -> None:
    """A table of each source's registry date, age and whether it is stale (``layers.source_ages``)."""
    from layers.source_ages import oldest, source_dates

    dates = source_dates(cfg, sources)
    table = Table("source", "provider", "registry date", "age (days)", "limit", "status", "from")
    for source, d in dates.items():
        status = "stale" if d["stale"] else ("ok" if d["date"] else "unknown")
        version = f" ({d['version']})" if d.get("version") else ""
        table.add_row(source, d["provider"], (d["date"] or "-") + version,
                      "-" if d["age_days"] is None else str(d["age_days"]), str(d["stale_after_days"]),
                      f"[red]{status}[/]" if d["stale"] else status, d["what"])
    console.print(table)
    first = oldest(dates)
    if first is not None:
        console.print(f"oldest source: {first['source']} ({first['provider']}, {first['date']}, "
                      f"{first['age_days']} days)", highlight=False)
