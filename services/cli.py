"""The ``kaartlaag`` command line: init, demo-data, build, layers, export, serve, assess, diff."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from geo.errors import ConfigError, KaartlaagError

app = typer.Typer(
    name="kaartlaag",
    help="Climate, green and housing layers from the Dutch key registers (BGT, BAG, AHN, CBS), "
    "published as COG/PMTiles in a versioned catalog and served to geo-portals.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
# Piped output (logs, CI) is not cut to 80 columns: tables stay one row per layer.
out = Console(width=None if sys.stdout.isatty() else 200)

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Region config file (YAML).")]


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to write kaartlaag.yaml into.")],
    force: Annotated[bool, typer.Option(help="Overwrite an existing kaartlaag.yaml.")] = False,
) -> None:
    """Write a commented example region config to DIRECTORY/kaartlaag.yaml."""
    from layers.config import EXAMPLE_CONFIG

    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "kaartlaag.yaml"
    if target.exists() and not force:
        raise ConfigError(f"{target}: exists already; use --force to overwrite")
    target.write_text(EXAMPLE_CONFIG, encoding="utf-8")
    out.print(f"wrote {target}")


@app.command("demo-data")
def demo_data(
    directory: Annotated[Path, typer.Argument(help="Folder for the demo region's sources and config.")],
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives identical files.")] = 2026,
) -> None:
    """Generate the synthetic demo region Eschveld (about 3 x 3 km) as canonical sources plus a config."""
    from rich.progress import Progress

    from geo.demo import generate_demo

    with Progress(console=err) as progress:
        task = progress.add_task("demo region", total=1.0)

        def report(step: str, fraction: float) -> None:
            progress.update(task, description=f"demo: {step}", completed=fraction)

        config = generate_demo(directory, seed=seed, progress=report)
    out.print(f"wrote demo region; config: {config}")


@app.command()
def build(
    layers: Annotated[
        list[str] | None, typer.Argument(help="Layer ids (default: every layer with its inputs).")
    ] = None,
    config: ConfigOpt = Path("kaartlaag.yaml"),
    workers: Annotated[int, typer.Option(help="Local worker threads for raster work.", min=1)] = 2,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address (tcp://host:8786) for raster work.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even when nothing changed.")] = False,
    window: Annotated[
        int,
        typer.Option(help="Window edge in cells for large rasters (heat-stress, cool-places, pet): peak memory "
                          "follows it. On a Dask cluster, pet spreads a window's SOLWEIG tiles of 1024 cells over "
                          "the workers: 4096 keeps 16 busy.", min=64),
    ] = 2048,
) -> None:
    """Build layers and publish them atomically to the catalog; unchanged layers are skipped."""
    from layers.base import BuildContext
    from layers.config import load_config
    from layers.engine import build as run_build

    cfg = load_config(config)
    summary = run_build(
        cfg, layers or None, ctx=BuildContext(workers=workers, scheduler=scheduler, window_cells=window), force=force,
        console=err,
    )
    for layer_id, version in summary.versions.items():
        out.print(f"published {layer_id} {version}")
    if not summary.built:
        out.print("nothing to build: every layer is up to date")
    out.print(f"inputs {summary.inputs_version}: {'published' if summary.inputs_published else 'up to date'}")


@app.command()
def check(config: ConfigOpt = Path("kaartlaag.yaml")) -> None:
    """Read and validate every configured source without building; print what was found."""
    from layers.config import load_config
    from layers.sources import SourceSet

    cfg = load_config(config)
    sources = SourceSet(cfg)
    table = Table("source", "provider", "features / cells", "crs")
    for name in sorted(sources.available()):
        data = sources.load(name)
        size = (
            f"{data.width} x {data.height} @ {float(data.resolution[0]):g} m"
            if hasattr(data, "band_names")
            else str(len(data))
        )
        table.add_row(name, sources.providers[name], size, cfg.region.crs)
    out.print(table)
    for report in sources.reports:
        counts = ", ".join(f"{k}: {int(v)}" for k, v in sorted(report.counts.items()))
        # One line each, however long: counts and notes are read (and grepped) line by line.
        out.print(f"{report.source}: {counts}", highlight=False, markup=False, soft_wrap=True)
        for note in report.notes:
            out.print(f"  {note}", highlight=False, markup=False, soft_wrap=True)
    bounds = ", ".join(f"{float(v):.1f}" for v in sources.extent().bounds)
    out.print(f"region {sources.context().name}: bounds ({bounds})", highlight=False)
    from services.monitor_cli import print_source_ages

    print_source_ages(cfg, sources.available(), out)


@app.command("layers")
def list_layers(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Region config (shows build status).")
    ] = None,
    catalog: Annotated[Path | None, typer.Option(help="Catalog folder (when no config is given).")] = None,
    params: Annotated[bool, typer.Option(help="Also list every parameter with unit and default.")] = False,
) -> None:
    """List layers with version, build time and status."""
    from layers import catalog as cat
    from layers.config import load_config
    from layers.engine import plan_build
    from layers.registry import LAYERS
    from layers.sources import SourceSet

    status: dict[str, str] = {}
    if config is not None:
        cfg = load_config(config)
        root = cfg.catalog_dir
        for plan in plan_build(cfg, SourceSet(cfg), None, force=False):
            status[plan.layer.id] = {"build": "outdated", "up-to-date": "up to date"}.get(
                plan.action, plan.reason
            )
    else:
        root = catalog or Path("catalog")
    published = cat.read_catalog(root).layers
    table = Table("layer", "title", "version", "built at", "access", "status")
    for column in table.columns:
        column.overflow = "fold"
    for layer_id, layer in LAYERS.items():
        entry = published.get(layer_id)
        state = status.get(layer_id, "published" if entry else "not built")
        if entry is None and state == "outdated":
            state = "not built"
        if entry is not None and entry.metadata.get("change_flags"):  # see the build report
            state += f"; {len(entry.metadata['change_flags'])} zone change(s) beyond bound"
        table.add_row(
            layer_id,
            layer.title["nl"],
            entry.version if entry else "-",
            entry.built_at if entry else "-",
            entry.access if entry else layer.access,
            state,
        )
    out.print(table)
    if params:
        ptable = Table("layer", "parameter", "default", "unit", "description", "source")
        for layer_id, layer in LAYERS.items():
            for p in layer.params:
                ptable.add_row(layer_id, p.name, str(p.default), p.unit, p.description, p.source)
        out.print(ptable)


@app.command()
def export(
    layer: Annotated[str, typer.Argument(help="Layer id.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="gpkg, parquet, geojson or tif.")],
    output_path: Annotated[Path, typer.Option("-o", "--output", help="File to write.")],
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="Region config (for its catalog).")
    ] = None,
    catalog: Annotated[Path | None, typer.Option(help="Catalog folder (when no config is given).")] = None,
    version: Annotated[str | None, typer.Option(help="A kept version (default: current).")] = None,
    part: Annotated[str | None, typer.Option(help="Which output of the layer (default: the first).")] = None,
) -> None:
    """Write a published layer to GeoPackage, GeoParquet, GeoJSON or GeoTIFF."""
    from layers.config import load_config
    from layers.export import export_layer

    if fmt not in ("gpkg", "parquet", "geojson", "tif"):
        raise ConfigError(f"--format: {fmt!r} is not one of gpkg, parquet, geojson, tif")
    root = load_config(config).catalog_dir if config else (catalog or Path("catalog"))
    path = export_layer(root, layer, fmt, output_path, version=version, output=part)  # type: ignore[arg-type]
    out.print(f"wrote {path}")


@app.command()
def serve(
    catalog: Annotated[Path, typer.Option(help="Catalog folder to serve.")] = Path("catalog"),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(help="Origin allowed to call the API from a browser (repeat; default: any)."),
    ] = None,
    server: Annotated[
        str, typer.Option(help="HTTP server: granian (Rust, about twice uvicorn's request rate) or uvicorn.")
    ] = "granian",
    public_url: Annotated[
        str | None,
        typer.Option(
            help="Public base URL of the server (https://geo.example.nl/kaartlaag) for absolute URLs in "
            "TileJSON, styles and WMTS; without it only loopback Host headers are used, others get relative URLs."
        ),
    ] = None,
) -> None:
    """Serve the catalog: overview page, JSON catalog, vector and raster tiles, WMTS, styles, downloads.

    Request limits and the worker memory ceiling come from KAARTLAAG_LIMIT_* (docs/serving.md).
    A worker that dies is started again; on SIGTERM workers stop within a few seconds.
    """
    import json
    import os

    from services.app import SHUTDOWN_GRACE_S
    from services.settings import ServerSettings

    if server not in ("granian", "uvicorn"):
        raise ConfigError(f"--server: {server!r} is not one of granian, uvicorn")
    os.environ["KAARTLAAG_CATALOG"] = str(catalog.resolve())
    if cors_origin:
        os.environ["KAARTLAAG_CORS_ORIGINS"] = json.dumps(cors_origin)
    if public_url:
        os.environ["KAARTLAAG_PUBLIC_URL"] = public_url
    try:
        settings = ServerSettings()  # checked here, so a bad setting is one line, not a worker traceback
    except ValueError as exc:
        raise ConfigError(f"server settings: {exc}") from None
    base = f"http://{host}:{port}"
    out.print(
        f"kaartlaag serving {catalog.resolve()}\n  layers:   {base}/\n  catalog:  {base}/layers\n"
        f"  WMTS:     {base}/wmts/WMTSCapabilities.xml\n  API docs: {base}/docs"
    )
    if server == "granian":
        from granian import Granian
        from granian.constants import HTTPModes, Interfaces, Loops, RuntimeModes
        from granian.log import LogLevels

        Granian(
            "services.app:create_worker_app",
            address=host,
            port=port,
            workers=workers,
            interface=Interfaces.ASGI,
            http=HTTPModes.http1,  # tile clients speak HTTP/1.1; skipping protocol detection is faster
            loop=Loops.uvloop,
            websockets=False,
            runtime_mode=RuntimeModes.st,
            factory=True,
            log_level=LogLevels.warning,
            respawn_failed_workers=True,
            workers_kill_timeout=SHUTDOWN_GRACE_S,
            workers_max_rss=settings.limits.worker_memory_mb or None,
        ).serve()
    else:
        import uvicorn

        uvicorn.run(
            "services.app:create_worker_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
        )


apikey_app = typer.Typer(help="API keys for internal layers (stored hashed in CATALOG/.apikeys.json).")
app.add_typer(apikey_app, name="apikey")
CatalogOpt = Annotated[Path, typer.Option(help="Catalog folder the keys belong to.")]


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Argument(help="Name of the key (who or what uses it).")],
    catalog: CatalogOpt = Path("catalog"),
    layers: Annotated[
        str | None,
        typer.Option(help="Comma-separated ids of the internal layers the key may see (default: every one)."),
    ] = None,
) -> None:
    """Create a key and print it once; only its hash (and its layer scope) is stored."""
    from services.access import create_key

    scope = None if layers is None else layers.split(",")
    key = create_key(catalog, name, scope)
    sees = "every internal layer" if scope is None else f"internal layers {layers}"
    err.print(
        f"API key {name!r} created for {sees}; it is shown only now. "
        "Send it as 'Authorization: Bearer KEY' or 'X-API-Key'."
    )
    print(key)


@apikey_app.command("revoke")
def apikey_revoke(
    name: Annotated[str, typer.Argument(help="Name of the key to revoke.")],
    catalog: CatalogOpt = Path("catalog"),
) -> None:
    """Revoke a key; a running server refuses it from the next request on."""
    from services.access import revoke_key

    revoke_key(catalog, name)
    out.print(f"API key {name!r} revoked")


@apikey_app.command("list")
def apikey_list(catalog: CatalogOpt = Path("catalog")) -> None:
    """List key names, creation times and layer scopes (the keys themselves are not stored)."""
    from services.access import list_keys

    table = Table("name", "created", "layers")
    for name, info in list_keys(catalog).items():
        table.add_row(name, info.created, "all internal layers" if info.layers is None else ", ".join(info.layers))
    out.print(table)


@app.command()
def assess(
    site: Annotated[Path, typer.Argument(help="The site: GeoJSON, GeoPackage or zipped shapefile.")],
    output_path: Annotated[Path, typer.Option("--out", "-o", help="Report to write: .pdf, .html or .json.")],
    edits: Annotated[Path | None, typer.Option(help="Scenario: a JSON file with a list of edits.")] = None,
    buffer_m: Annotated[float | None, typer.Option(help="Buffer around the site (m; default 300).")] = None,
    crs: Annotated[str | None, typer.Option(help="CRS of a GeoJSON site (default: its crs member, else "
                                                 "EPSG:28992).")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Region config (for its catalog).")] = None,
    catalog: Annotated[Path | None, typer.Option(help="Catalog folder (when no config is given).")] = None,
) -> None:
    """Assess a permit site (and a scenario) on the published catalog and write the Dutch report."""
    from services.assess_cli import run_assess

    root = _catalog_root(config, catalog)
    run_assess(root, site, output_path, edits_path=edits, buffer_m=buffer_m, crs=crs, console=err)
    out.print(f"wrote {output_path}")


@app.command()
def diff(
    layer: Annotated[str, typer.Argument(help="Layer id (see `kaartlaag layers`).")],
    version_from: Annotated[str, typer.Option("--from", help="Older version (a name, or `previous`).")] = "previous",
    version_to: Annotated[str, typer.Option("--to", help="Newer version (a name, or `current`).")] = "current",
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="Folder for the change tables (CSV, "
                                                  "GeoPackage) and difference COGs.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Region config (for its catalog).")] = None,
    catalog: Annotated[Path | None, typer.Option(help="Catalog folder (when no config is given).")] = None,
    publish: Annotated[bool, typer.Option(help="Also publish the change as the catalog layer LAYER-change "
                                               "(tiled, diverging legend).")] = False,
    figure: Annotated[str | None, typer.Option(help="Figure the change layer colours the zones by "
                                                    "(default: the layer's main figure).")] = None,
) -> None:
    """Compare two kept versions of a layer: per-zone changes and, for rasters, a difference COG."""
    from services.monitor_cli import run_diff

    run_diff(_catalog_root(config, catalog), layer, version_from, version_to, out_dir, out, publish=publish,
             figure=figure)


def _catalog_root(config: Path | None, catalog: Path | None) -> Path:
    from layers.config import load_config

    return load_config(config).catalog_dir if config else (catalog or Path("catalog"))


def main() -> None:
    """Console entry point: run the CLI, turning kaartlaag errors into one readable message."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except ConfigError as exc:
        err.print(f"[red]config error[/]: {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KaartlaagError as exc:
        err.print(f"[red]error[/]: {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
