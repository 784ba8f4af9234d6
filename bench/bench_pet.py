"""Time and peak memory of the ``pet`` layer (PET at 1 m by SOLWEIG) beside a plain SOLWEIG run of one window.

Usage::

    PYTHONPATH=. .venv/bin/python bench/bench_pet.py                     # 1 km x 1 km, engine's window
    PYTHONPATH=. .venv/bin/python bench/bench_pet.py --size-m 300 --window 2048 --workers 8 16 32

What it measures, each part in a fresh child process:

1. **The layer**: ``kaartlaag build pet --force`` of a ``--size-m`` square of the demo region
   (``geo.demo.generate_demo``: AHN DSM + DTM GeoTIFFs at 0.5 m, BGT-like land cover, trees). The demo is
   never smaller than ``geo.demo.MIN_SIZE_M``; a smaller ``--size-m`` builds a centred square of it (its
   own boundary file), so the halo around it reads real surroundings. Wall time and peak RSS of the process
   tree (``bench/_measure.py``), imports included; the import time is measured on its own.
2. **The peer**: the same region, the same rasters (read from the build's sources with the layer's own
   reach, put on the grid by ``layers.pet.solweig_surface``: region + ``shadow_max_distance_m`` halo) handed
   to a plain SOLWEIG run, as its documentation shows it: ``solweig.SurfaceData(...)``, ``preprocess()``,
   ``compute_svf()``, ``calculate(..., outputs=["tmrt"])`` with the layer's time steps (spin-up and
   afternoon of the reference day, ``layers.pet._instants``), isotropic sky, CPU only. SVF and the time
   steps are timed apart. The same process times the layer's own steps around SOLWEIG (reading, the
   canopy and land-cover rasters, the PET tables from pythermalcomfort, PET per cell), and checks that
   PET from the peer's Tmrt equals the published ``pet_1500`` (so the peer ran on the same rasters).
3. **The projection** to a 100 km2 municipality (10 km x 10 km at 1 m): the layer's windows of
   ``--window`` cells are counted (``layers.windowed.windows``) with their halo, and the measured seconds
   per cell SOLWEIG runs on (build minus imports) scale to them. Serial on this machine, and on a Dask
   cluster of N workers like this machine: the engine runs the windows one after another and, with
   ``--scheduler``, spreads each window's SOLWEIG tiles (``layers.pet.CLUSTER_TILE_CELLS`` + the halo)
   over the workers, so a window of 2048 cells keeps at most four workers busy.
4. **The scenario** (``--scenario``, on by default): ``layers.extent.run_in_memory(layers.pet.LAYER, ...)``
   for a 100 m x 100 m site in the middle of the region on in-memory sources (SOLWEIG then runs on the site
   plus the 80 m halo), cold (first run in a process: PET tables solved) and warm (tables cached): the
   figure for the site assessment's 10 s budget.

SOLWEIG's SVF walks rays as far as the window's relief (highest DSM minus lowest), so a window with more
relief (hills, tall buildings) costs more per cell; the relief of the measured window is printed beside the
figures, and the projection assumes windows of the same relief.
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _measure import Measurement, measure

KAARTLAAG = [sys.executable, "-m", "services.cli"]
LAYER_ID = "pet"
#: Area (km2) of the municipality the projection is for, and the side (m) of its square.
PROJECT_KM2 = 100.0
#: An overnight run on one machine (h), and the cluster's budget (h), as the issue asks.
OVERNIGHT_H, CLUSTER_H = 12.0, 1.0
#: Side (m) of the scenario's site (1 ha).
SITE_M = 100.0
#: Modules the build imports before it computes anything (timed apart from the build).
_IMPORTS = "import services.cli, layers.registry, layers.pet, solweig, pythermalcomfort.models"


# -- region -------------------------------------------------------------------------------------------------
def make_region(work: Path, size_m: float) -> Path:
    """The demo region (at least ``MIN_SIZE_M``) and a config whose boundary is a centred ``size_m`` square."""
    import geopandas as gpd
    import shapely

    from geo.demo import MIN_SIZE_M, generate_demo

    config = generate_demo(work / "demo", size_m=max(float(size_m), MIN_SIZE_M))
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    ahn = doc["sources"].get("ahn") or {}
    if not (ahn.get("dsm") and ahn.get("dtm")):
        raise SystemExit(f"{config}: the demo's sources.ahn has no dsm and dtm GeoTIFFs; pet needs both")
    # The demo builds pet at 2 m to keep `make demo` short; the figures here are for the layer's 1 m.
    doc["layers"] = {**(doc.get("layers") or {}), LAYER_ID: {**(doc.get("layers") or {}).get(LAYER_ID, {}),
                                                               "resolution_m": 1.0}}
    if size_m >= MIN_SIZE_M:
        target = config.with_name("kaartlaag-bench.yaml")
        target.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        return target
    boundary = gpd.read_file(config.parent / doc["region"]["boundary"])
    minx, miny, maxx, maxy = boundary.total_bounds
    cx, cy = round((minx + maxx) / 2), round((miny + maxy) / 2)
    half = size_m / 2
    square = shapely.box(cx - half, cy - half, cx + half, cy + half)
    gpd.GeoDataFrame({"name": ["bench"]}, geometry=[square], crs=boundary.crs).to_file(
        config.parent / "bench_boundary.gpkg")
    doc["region"]["boundary"] = "bench_boundary.gpkg"
    doc["catalog"] = "./catalog-bench"
    target = config.with_name("kaartlaag-bench.yaml")
    target.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return target


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- child: the peer and the layer's own steps ----------------------------------------------------------------
def profile(config: Path) -> dict[str, Any]:
    """The peer SOLWEIG run and the layer's steps around it, on the region of ``config`` (one window)."""
    import numpy as np
    import rasterio
    import shapely
    import solweig

    from geo.grid import Grid
    from geo.pet import pet_grid
    from geo.solar import sun_position
    from geo.tmrt import CROWN_TRANSMISSIVITY, TRUNK_RATIO
    from layers import pet
    from layers.assess import snapshot
    from layers.base import BuildContext
    from layers.config import load_config
    from layers.extent import memory_inputs
    from layers.sources import SourceSet
    from layers.sun import region_centre_lat_lon

    cfg = load_config(config)
    params = pet.LAYER.resolve_params(cfg.layers.get(LAYER_ID, {}), f"layers.{LAYER_ID}")
    provider = SourceSet(cfg)
    extent, context = provider.extent(), provider.context()
    out: dict[str, Any] = {}

    t0 = time.perf_counter()
    sources = snapshot(provider, [LAYER_ID], {LAYER_ID: params}, extent)
    inputs = memory_inputs(pet.LAYER, sources, extent.bounds, crs=cfg.crs, params=params, name=context.name,
                           boundary=context.boundary)
    out["read_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    day = pet.weather_day(inputs, params)
    steps, afternoon, moment = pet._instants(day, params)
    tables = pet.pet_tables(day, afternoon, pet.person(params))
    out["tables_s"], out["tables"] = time.perf_counter() - t0, len(tables)

    res = params["resolution_m"]
    core = Grid.from_bounds(extent.bounds, res, cfg.crs)
    kgrid = core.grown(pet.halo_m(params), res)
    t0 = time.perf_counter()
    landcover = inputs.vector("landcover")
    landcover = landcover.iloc[np.sort(landcover.sindex.query(shapely.box(*kgrid.bounds)))]
    surface, roof, _ = pet.solweig_surface(inputs, kgrid, landcover.reset_index(drop=True), params,
                                           BuildContext().chunk_size)
    out["surface_s"] = time.perf_counter() - t0
    out["core_cells"], out["solweig_cells"] = core.width * core.height, kgrid.width * kgrid.height
    out["solweig_shape"] = list(kgrid.shape)
    out["relief_m"] = float(np.nanmax(surface.dsm_m) - np.nanmin(surface.dsm_m))
    out["mib_before_solweig"] = _peak_mib()

    # The peer: SOLWEIG as its documentation shows it, on the same rasters.
    lat, lon = region_centre_lat_lon(context)
    offset = steps[0].utcoffset()
    t0 = time.perf_counter()
    solweig.disable_gpu()
    dsm = np.where(np.isfinite(surface.dsm_m), surface.dsm_m, surface.dtm_m).astype(np.float32)
    dem = np.where(np.isfinite(surface.dtm_m), surface.dtm_m, dsm).astype(np.float32)
    data = solweig.SurfaceData(dsm=dsm, dem=dem, cdsm=np.nan_to_num(surface.canopy_m).astype(np.float32),
                               land_cover=surface.land_cover, pixel_size=float(res), trunk_ratio=TRUNK_RATIO,
                               cdsm_relative=True, smooth_quantized_dem=False)
    data.preprocess()
    out["prep_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    data.compute_svf()
    out["svf_s"] = time.perf_counter() - t0
    out["mib_after_svf"] = _peak_mib()
    weather = []
    for t in steps:
        hour, sun = day.at(t), sun_position(t, lat, lon)
        weather.append(solweig.Weather(datetime=t.replace(tzinfo=None), ta=hour.ta_c, rh=hour.rh_pct,
                                       global_rad=hour.global_w_m2, ws=max(hour.wind_m_s, 0.1),
                                       precomputed_sun_altitude=sun.elevation_deg,
                                       precomputed_sun_azimuth=sun.azimuth_deg))
    location = solweig.Location(latitude=lat, longitude=lon,
                                utc_offset=0.0 if offset is None else offset.total_seconds() / 3600)
    with tempfile.TemporaryDirectory(prefix="bench-solweig-") as tmp:
        t0 = time.perf_counter()
        solweig.calculate(data, weather, location, output_dir=tmp, outputs=["tmrt"], use_anisotropic_sky=False,
                          max_shadow_distance_m=float(params["shadow_max_distance_m"]),
                          progress_callback=lambda _done, _total: None)
        out["steps_s"], out["steps"] = time.perf_counter() - t0, len(steps)
        out["mib_after_steps"] = _peak_mib()
        tmrt = {}
        for t in afternoon:
            with rasterio.open(Path(tmp) / "tmrt" / f"tmrt_{t.strftime('%Y%m%d_%H%M')}.tif") as src:
                tmrt[t] = src.read(1)
    assert data.svf is not None
    sky = np.clip(np.asarray(data.svf.svf) - (1 - np.asarray(data.svf.svf_veg)) * (1 - CROWN_TRANSMISSIVITY), 0, 1)

    # PET per cell from the peer's Tmrt, as the layer does it, and the check against the build.
    inner = kgrid.slices_of(core)
    t0 = time.perf_counter()
    pets = {t: pet_grid(tables[t], tmrt[t][inner], pet.wind_at_person(day.at(t).wind_m_s, sky[inner], params))[0]
            for t in afternoon}
    out["pet_s"] = time.perf_counter() - t0
    published = sorted(glob.glob(str(cfg.catalog_dir / LAYER_ID / "**" / f"{pet.MOMENT}*.tif"), recursive=True))
    if published:
        with rasterio.open(published[-1]) as src:
            built = src.read(1)
        if built.shape == pets[moment].shape:
            keep = np.isfinite(built) & ~roof[inner]
            out["max_diff_c"] = float(np.abs(built[keep] - pets[moment][keep]).max()) if keep.any() else None
    return out


def scenario(config: Path) -> dict[str, Any]:
    """``run_in_memory`` of pet for a 1 ha site in the middle of the region, cold then warm."""
    import shapely

    from layers import pet
    from layers.assess import snapshot
    from layers.base import Extent
    from layers.config import load_config
    from layers.extent import run_in_memory
    from layers.sources import SourceSet

    cfg = load_config(config)
    params = pet.LAYER.resolve_params(cfg.layers.get(LAYER_ID, {}), f"layers.{LAYER_ID}")
    provider = SourceSet(cfg)
    minx, miny, maxx, maxy = provider.extent().bounds
    cx, cy, half = round((minx + maxx) / 2), round((miny + maxy) / 2), SITE_M / 2
    site = (cx - half, cy - half, cx + half, cy + half)
    t0 = time.perf_counter()
    sources = snapshot(provider, [LAYER_ID], {LAYER_ID: params}, Extent(site, shapely.box(*site)))
    out: dict[str, Any] = {"read_s": time.perf_counter() - t0}
    for run in ("cold_s", "warm_s"):
        t0 = time.perf_counter()
        run_in_memory(pet.LAYER, sources, site, crs=cfg.crs, params=params)
        out[run] = time.perf_counter() - t0
    side = SITE_M + 2 * pet.halo_m(params) / params["resolution_m"]
    out["solweig_cells"] = int(side * side)
    return out


def child(kind: str, config: Path) -> tuple[dict[str, Any], Measurement]:
    """Run :func:`profile` or :func:`scenario` in a fresh process; its figures and its wall time and peak."""
    with tempfile.NamedTemporaryFile(suffix=".json") as tmp:
        m = measure([sys.executable, __file__, "--child", kind, "--config", str(config), "--out", tmp.name])
        if m.returncode:
            raise SystemExit(f"the {kind} child failed (exit {m.returncode}); run: {sys.executable} {__file__} "
                             f"--child {kind} --config {config} --out figures.json")
        return json.loads(Path(tmp.name).read_text()), m


# -- projection -----------------------------------------------------------------------------------------------
def solweig_cells(side_cells: int, window: int, halo_cells: int) -> tuple[int, int, int]:
    """(windows, cells SOLWEIG runs on, cells of the largest window) of a square region of ``side_cells``."""
    from pyproj import CRS

    from geo.grid import Grid
    from layers.windowed import windows

    grid = Grid.from_bounds((0.0, 0.0, float(side_cells), float(side_cells)), 1.0, CRS.from_epsg(28992))
    sizes = [(w.width + 2 * halo_cells) * (w.height + 2 * halo_cells) for _, _, w in windows(grid, window)]
    return len(sizes), sum(sizes), max(sizes)


# -- report ---------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-m", type=float, default=1000.0, help="side of the built square region (m)")
    parser.add_argument("--window", type=int, default=None, help="window edge in cells (default: the engine's)")
    parser.add_argument("--workers", type=int, nargs="+", default=[8, 16, 32], help="Dask workers to project for")
    parser.add_argument("--scenario", action=argparse.BooleanOptionalAction, default=True,
                        help="also time run_in_memory of a 1 ha site, cold and warm")
    parser.add_argument("--workdir", type=Path, default=None, help="folder for the region (default: temporary)")
    parser.add_argument("--child", choices=["profile", "scenario"], help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        figures = profile(args.config) if args.child == "profile" else scenario(args.config)
        args.out.write_text(json.dumps(figures))
        return

    from layers.base import BuildContext
    from layers.pet import LAYER, halo_m

    window = args.window or BuildContext().window_cells
    params = LAYER.resolve_params({}, f"layers.{LAYER_ID}")
    res, halo = float(params["resolution_m"]), halo_m(params)
    console = Console(width=120)
    console.print(f"load average (1, 5, 15 min) at the start: {', '.join(f'{x:.2f}' for x in os.getloadavg())} "
                  f"on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        console.print(f"region: {args.size_m:g} m square of the demo, pet at {res:g} m, window {window} cells, "
                      f"halo {halo:g} m")
        config = make_region(work, args.size_m)
        imports = measure([sys.executable, "-c", _IMPORTS])
        build = measure([*KAARTLAAG, "build", LAYER_ID, "-c", str(config), "--window", str(window), "--force"])
        if build.returncode:
            raise SystemExit(f"the build failed (exit {build.returncode}); run: kaartlaag build {LAYER_ID} "
                             f"-c {config} --window {window} --force")
        peer, peer_m = child("profile", config)
        scen = child("scenario", config) if args.scenario else None

    km2 = (args.size_m / 1000.0) ** 2
    halo_cells = round(halo / res)
    side = round(args.size_m / res)
    n_win, cells, _ = solweig_cells(side, window, halo_cells)
    solweig_s = peer["prep_s"] + peer["svf_s"] + peer["steps_s"]

    table = Table(title=f"pet over {km2:g} km2 at {res:g} m beside a plain SOLWEIG run ({peer['steps']} hourly "
                  f"steps, isotropic sky, CPU)")
    for col in ("", "kaartlaag build pet", "plain SOLWEIG, one window"):
        table.add_column(col, justify="right" if col else "left")
    table.add_row("windows / cells SOLWEIG runs on", f"{n_win} / {cells:,}",
                  f"1 / {peer['solweig_cells']:,} ({peer['solweig_shape'][0]} x {peer['solweig_shape'][1]})")
    table.add_row("wall s", f"{build.seconds:.1f}", f"{solweig_s:.1f}")
    table.add_row("  of which SurfaceData + preprocess s", "", f"{peer['prep_s']:.1f}")
    table.add_row("  of which SVF s", "", f"{peer['svf_s']:.1f}")
    table.add_row(f"  of which {peer['steps']} time steps s", "", f"{peer['steps_s']:.1f}")
    table.add_row("s per km2 of output", f"{build.seconds / km2:.1f}", f"{solweig_s / km2:.1f}")
    table.add_row("peak MiB", f"{build.peak_mib:.0f}",
                  f"{peer['mib_after_steps'] - peer['mib_before_solweig']:.0f} over the rasters "
                  f"(process {peer_m.peak_mib:.0f})")
    table.add_row("relief of the window (DSM max - min) m", "", f"{peer['relief_m']:.1f}")
    if peer.get("max_diff_c") is not None:
        table.add_row("PET 15:00 from the peer's Tmrt vs published, max |diff| degC", "", f"{peer['max_diff_c']:.3f}")
    console.print(table)

    over = Table(title="what the layer adds to SOLWEIG (measured apart, same rasters)")
    over.add_column("step")
    over.add_column("s", justify="right")
    steps = [
        ("imports (kaartlaag, solweig, pythermalcomfort)", imports.seconds),
        ("reading the sources over the window + halo", peer["read_s"]),
        ("canopy, land cover and roof rasters (solweig_surface)", peer["surface_s"]),
        (f"PET tables, {peer['tables']} hours, cold (pythermalcomfort)", peer["tables_s"]),
        ("PET per cell (wind, table interpolation)", peer["pet_s"]),
    ]
    for name, seconds in steps:
        over.add_row(name, f"{seconds:.1f}")
    rest = build.seconds - solweig_s - sum(s for _, s in steps)
    over.add_row("rest: statistics, COG/catalog, publishing the inputs (the parts are timed in "
                 "other processes: on a loaded machine this can come out negative)", f"{rest:.1f}")
    over.add_row("overhead in all (build - plain SOLWEIG)", f"{build.seconds - solweig_s:.1f} "
                 f"({(build.seconds - solweig_s) / build.seconds:.0%})")
    console.print(over)

    p_side = round(math.sqrt(PROJECT_KM2) * 1000 / res)
    p_win, p_cells, p_largest = solweig_cells(p_side, window, halo_cells)
    per_cell = (build.seconds - imports.seconds) / cells
    serial_s = per_cell * p_cells + imports.seconds
    largest_measured = max(peer["solweig_cells"], cells // n_win)
    solweig_mib = peer["mib_after_steps"] - peer["mib_before_solweig"]
    window_gib = (build.peak_mib - solweig_mib + solweig_mib * p_largest / largest_measured) / 1024
    proj = Table(title=f"projection: {PROJECT_KM2:g} km2 ({p_side:,} x {p_side:,} cells at {res:g} m), "
                 f"{p_win} windows of <= {window} cells + {halo:g} m halo")
    proj.add_column("where")
    proj.add_column("hours", justify="right")
    proj.add_column("verdict", justify="left")
    proj.add_row(f"serial, this machine (2 cores), halo share {p_cells / p_side**2 - 1:.0%} "
                 f"(measured {cells / side**2 - 1:.0%})", f"{serial_s / 3600:.1f}",
                 "overnight" if serial_s / 3600 <= OVERNIGHT_H else f"MORE than {OVERNIGHT_H:g} h")
    # On a cluster the engine runs the windows one after another and spreads each window's SOLWEIG tiles
    # (layers.pet.CLUSTER_TILE_CELLS + the halo on each side) over the workers.
    from layers.pet import CLUSTER_TILE_CELLS

    h_cells = math.ceil(halo / res)
    kernel_side = window + 2 * h_cells
    tiles = math.ceil(kernel_side / CLUSTER_TILE_CELLS) ** 2
    tile_cells = (min(CLUSTER_TILE_CELLS, kernel_side) + 2 * h_cells) ** 2
    for n in args.workers:
        cluster_s = p_win * math.ceil(tiles / n) * per_cell * tile_cells + imports.seconds
        hours = cluster_s / 3600
        proj.add_row(f"Dask, {n} workers like this one ({tiles} tiles a window)", f"{hours:.2f}",
                     "under an hour" if hours <= CLUSTER_H else "over an hour")
    console.print(proj)
    need = math.ceil(serial_s / 3600 / CLUSTER_H)
    console.print(f"per window of {p_largest:,} cells a peak of about {window_gib:.1f} GiB (the build's peak with "
                  f"SOLWEIG's part of it scaled by cells). "
                  f"Assumes: seconds per cell SOLWEIG runs on as measured here (build minus imports), relief like "
                  f"the demo's; on a cluster the windows run one after another, each window's {tiles} SOLWEIG tiles of "
                  f"{CLUSTER_TILE_CELLS} cells + halo side by side on the workers (tiles are upper-bound full size; "
                  f"--window 4096 gives more tiles a window for larger clusters); serial time over {need} workers "
                  f"would be under {CLUSTER_H:g} h.")
    console.print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if scen is not None:
        figures, m = scen
        s = Table(title=f"scenario: run_in_memory(pet) of a {SITE_M:g} m x {SITE_M:g} m site on in-memory sources "
                  f"(SOLWEIG on {figures['solweig_cells']:,} cells)")
        s.add_column("run")
        s.add_column("s", justify="right")
        s.add_row("reading the sources (snapshot, not part of a scenario)", f"{figures['read_s']:.1f}")
        s.add_row("cold: first run in the process (PET tables solved)", f"{figures['cold_s']:.1f}")
        s.add_row("warm: PET tables cached", f"{figures['warm_s']:.1f}")
        s.add_row("the child process in all (imports included), peak MiB", f"{m.seconds:.1f}, {m.peak_mib:.0f}")
        console.print(s)


if __name__ == "__main__":
    main()
