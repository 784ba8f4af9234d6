"""Tile serving speed: kaartlaag against stock TiTiler (raster) and nginx (vector), in one run, plus a soak test.

Usage::

    .venv/bin/python -m bench.bench_tiles                 # both comparisons, 10 s per run
    .venv/bin/python -m bench.bench_tiles --seconds 5     # shorter runs
    .venv/bin/python -m bench.bench_tiles --soak          # 60 s at 32 connections, a publish halfway

Data: the demo region Eschveld (``geo.demo.generate_demo``), layers ``landcover``
(classified 0.5 m raster plus vector tiles) and ``basemap`` (vector tiles), built
into ``--workdir`` once and reused.

Peers, on the same machine in the same run, with the same load tool (wrk, one Lua
script cycling through one shared URL list) and the same tile list:

(a) default-style raster tiles: ``/layers/landcover/tiles/WebMercatorQuad/z/x/y.png``
    from kaartlaag against stock ``titiler.application`` serving the same COG
    (``/cog/tiles/WebMercatorQuad/z/x/y.png?url=...``; TiTiler applies the colour
    table embedded in the COG, which is the landcover style). Random tiles z12-z17
    intersecting the region. Target: at least 20 times TiTiler's requests/s.
(b) vector tiles: ``/layers/basemap/tiles/z/x/y.mvt`` against nginx serving the same
    tiles, extracted from the PMTiles archive as static files (gzip-compressed as
    stored, sent with ``Content-Encoding: gzip`` by both). Random tiles z12-z16 that
    exist in the archive (it stops at z16; clients overzoom). Target: at least 0.35
    times nginx's requests/s.

Both servers get the same number of worker processes (``--workers``, default 2 =
cores). wrk uses 2 threads and runs on the same 2 cores, so absolute figures are
lower than on a dedicated load machine; the ratios are what the targets are about.
Reported: requests/s, p50/p99 latency at 8 and 32 connections, errors (connect,
read, write, timeout and HTTP status >= 400).

Soak (``--soak``): 60 s at 32 connections of a mixed raster/vector tile list
against kaartlaag while ``landcover`` is rebuilt and published with ``--force``
(started ``--publish-lead`` s before the load, so the catalog switch lands near the middle);
reports errors (must be 0), the resident memory of the server processes every 10 s,
when the new version went live and whether it was served.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import morecantile
from rasterio.warp import transform_bounds

from bench._servers import kaartlaag_command, nginx_command, rss_mb, server, titiler_command, wait_idle
from layers import catalog as cat
from services.archive import TileArchive
from tiles.prerender import tile_range

WEB_MERCATOR = morecantile.tms.get("WebMercatorQuad")
RASTER_ZOOMS = range(12, 18)
VECTOR_ZOOMS = range(12, 17)
CONNECTIONS = (8, 32)
WRK_THREADS = 2
TILES_PER_LIST = 2000
RASTER_TARGET = 20.0
VECTOR_TARGET = 0.35
SOAK_SECONDS = 60
SOAK_CONNECTIONS = 32
WARMUP_S = 3
#: wrk's per-request timeout: generous, so slow answers count as slow rather than as errors.
REQUEST_TIMEOUT_S = 30
SEED = 20260101

WRK_SCRIPT = textwrap.dedent(
    """\
    local urls = {}
    local i = 0
    local threads = 0
    setup = function(thread)
      thread:set("offset", threads * 7919)
      threads = threads + 1
    end
    init = function(args)
      for line in io.lines(args[1]) do urls[#urls + 1] = line end
      i = offset % #urls
    end
    request = function()
      i = i % #urls + 1
      return wrk.format("GET", urls[i])
    end
    done = function(summary, latency, requests)
      local e = summary.errors
      io.write(string.format(
        'RESULT {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
        '"timeout":%d,"p50_us":%d,"p99_us":%d}\\n',
        summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
        latency:percentile(50), latency:percentile(99)))
    end
    """
)


def prepare(workdir: Path) -> Path:
    """Generate the demo region and build landcover and basemap once; return the catalog folder."""
    from rich.console import Console

    from geo.demo import generate_demo
    from layers.config import load_config
    from layers.engine import build

    config = workdir / "demo" / "kaartlaag.yaml"
    if not config.exists():
        print("generating the demo region ...", flush=True)
        generate_demo(workdir / "demo", seed=2026)
    started = time.perf_counter()
    summary = build(load_config(config), ["landcover", "basemap"], console=Console(quiet=True))
    if summary.built:
        print(f"built {', '.join(summary.versions)} in {time.perf_counter() - started:.0f} s", flush=True)
    return workdir / "demo" / "catalog"


def _file(root: Path, entry: cat.LayerEntry, name: str) -> Path:
    return root / next(f.path for f in entry.files if f.name == name)


def raster_tiles(root: Path, rng: random.Random) -> list[tuple[int, int, int]]:
    """Random WebMercatorQuad tiles z12-z17 intersecting the landcover raster (as rio-tiler sees it)."""
    from rio_tiler.io import Reader

    entry = cat.read_catalog(root).layers["landcover"]
    bounds = transform_bounds(entry.crs, "EPSG:3857", *entry.bounds[entry.crs], densify_pts=21)
    tiles = []
    with Reader(str(_file(root, entry, "landcover.tif")), tms=WEB_MERCATOR) as reader:
        for z in RASTER_ZOOMS:
            c0, c1, r0, r1 = tile_range(WEB_MERCATOR, bounds, z)  # type: ignore[misc]
            # rio-tiler answers 404 for tiles it finds outside the COG; keep only tiles both servers draw.
            tiles += [(z, x, y) for x in range(c0, c1 + 1) for y in range(r0, r1 + 1) if reader.tile_exists(x, y, z)]
    return [rng.choice(tiles) for _ in range(TILES_PER_LIST)]


def vector_tiles(root: Path, rng: random.Random) -> tuple[list[tuple[int, int, int]], Path]:
    """Random tiles z12-z16 present in the basemap archive, and the archive."""
    entry = cat.read_catalog(root).layers["basemap"]
    path = _file(root, entry, "basemap.pmtiles")
    archive = TileArchive(path)
    bounds = transform_bounds(entry.crs, "EPSG:3857", *entry.bounds[entry.crs], densify_pts=21)
    present = []
    for z in VECTOR_ZOOMS:
        c0, c1, r0, r1 = tile_range(WEB_MERCATOR, bounds, z)  # type: ignore[misc]
        present += [(z, x, y) for x in range(c0, c1 + 1) for y in range(r0, r1 + 1) if archive.get(z, x, y)]
    return [rng.choice(present) for _ in range(TILES_PER_LIST)], path


def write_urls(path: Path, urls: list[str]) -> Path:
    path.write_text("\n".join(urls) + "\n")
    return path


def wrk_command(base: str, url_file: Path, connections: int, seconds: float, script: Path) -> list[str]:
    """The wrk command line: ``connections`` connections for ``seconds`` cycling through ``url_file``."""
    return [
        "wrk",
        f"-t{WRK_THREADS}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        f"{REQUEST_TIMEOUT_S}s",
        "-s",
        str(script),
        base,
        "--",
        str(url_file),
    ]


def wrk_result(out: str) -> dict[str, Any]:
    """The figures wrk's Lua ``done`` printed as JSON, with requests/s and the error total added."""
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["errors"] = sum(result[k] for k in ("connect", "read", "write", "status", "timeout"))
    return result


def wrk(base: str, url_file: Path, connections: int, seconds: float, script: Path) -> dict[str, Any]:
    """One wrk run."""
    command = wrk_command(base, url_file, connections, seconds, script)
    return wrk_result(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median requests/s and latencies over interleaved rounds; errors and requests summed."""
    return {
        "rps": statistics.median(r["rps"] for r in runs),
        "p50_us": statistics.median(r["p50_us"] for r in runs),
        "p99_us": statistics.median(r["p99_us"] for r in runs),
        "errors": sum(r["errors"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
        "rounds": runs,
    }


def show(name: str, c: int, r: dict[str, Any]) -> None:
    print(
        f"  {name:<24} c={c:<3} {r['rps']:>9.0f} req/s  p50 {r['p50_us'] / 1000:>8.2f} ms  "
        f"p99 {r['p99_us'] / 1000:>8.2f} ms  errors {r['errors']}  ({r['requests']} requests)",
        flush=True,
    )


def extract_static(archive: Path, tiles: list[tuple[int, int, int]], root: Path) -> None:
    """Write the listed tiles of a PMTiles archive as ``root/z/x/y.mvt`` (bytes as stored, gzip)."""
    reader = TileArchive(archive)
    for z, x, y in set(tiles):
        target = root / str(z) / str(x) / f"{y}.mvt"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(bytes(reader.get(z, x, y) or b""))


def compare(workdir: Path, root: Path, seconds: float, workers: int, rounds: int) -> bool:
    rng = random.Random(SEED)
    script = workdir / "urls.lua"
    script.write_text(WRK_SCRIPT)
    landcover = cat.read_catalog(root).layers["landcover"]
    cog = _file(root, landcover, "landcover.tif")
    rtiles = raster_tiles(root, rng)
    vtiles, archive = vector_tiles(root, rng)
    ours_raster = write_urls(
        workdir / "ours-raster.txt", [f"/layers/landcover/tiles/WebMercatorQuad/{z}/{x}/{y}.png" for z, x, y in rtiles]
    )
    titiler_raster = write_urls(
        workdir / "titiler-raster.txt", [f"/cog/tiles/WebMercatorQuad/{z}/{x}/{y}.png?url={cog}" for z, x, y in rtiles]
    )
    vector_urls = write_urls(workdir / "vector.txt", [f"/layers/basemap/tiles/{z}/{x}/{y}.mvt" for z, x, y in vtiles])
    static = workdir / "static"
    shutil.rmtree(static, ignore_errors=True)
    extract_static(archive, vtiles, static)
    (workdir / "nginx-tmp").mkdir(exist_ok=True)
    print(
        f"tiles: {len(set(rtiles))} distinct raster (z12-z17), {len(set(vtiles))} distinct vector (z12-z16); "
        f"{workers} server workers each; wrk {WRK_THREADS} threads; {rounds} interleaved rounds of "
        f"{seconds:.0f} s per contender and connection count (medians)",
        flush=True,
    )
    z0, x0, y0 = vtiles[0]
    runs: dict[str, dict[int, list[dict[str, Any]]]] = {
        key: {c: [] for c in CONNECTIONS} for key in ("ours-raster", "titiler", "ours-vector", "nginx")
    }
    # All servers run at once (an idle one costs nothing) and the runs are interleaved round by round,
    # so load from other work on the machine falls on every contender alike; medians are reported.
    with (
        server(kaartlaag_command(root, workers), "/healthz", workdir / "ours.log") as (ours, p1),
        server(titiler_command(workers), "/healthz", workdir / "titiler.log") as (titiler, p2),
        server(
            nginx_command(workdir, static, workers), f"/layers/basemap/tiles/{z0}/{x0}/{y0}.mvt", workdir / "nginx.log"
        ) as (nginx, p3),
    ):
        plan = [
            ("ours-raster", "kaartlaag raster", ours, ours_raster),
            ("titiler", "titiler.application", titiler, titiler_raster),
            ("ours-vector", "kaartlaag vector", ours, vector_urls),
            ("nginx", "nginx static files", nginx, vector_urls),
        ]
        pids = [p1, p2, p3]
        for _key, _name, base, urls in plan:
            wrk(base, urls, CONNECTIONS[0], WARMUP_S, script)  # warm-up: lazy opens, caches
            wait_idle(pids)
        for c in CONNECTIONS:
            for _round in range(rounds):
                for key, _name, base, urls in plan:
                    runs[key][c].append(wrk(base, urls, c, seconds, script))
                    wait_idle(pids)
            for key, name, *_ in plan:
                show(name, c, summarise(runs[key][c]))
    results = {key: {c: summarise(runs[key][c]) for c in CONNECTIONS} for key in runs}
    ok = True
    print("\nsummary (requests/s, same run)")
    for c in CONNECTIONS:
        raster_ratio = results["ours-raster"][c]["rps"] / max(results["titiler"][c]["rps"], 1e-9)
        vector_ratio = results["ours-vector"][c]["rps"] / max(results["nginx"][c]["rps"], 1e-9)
        print(
            f"  c={c:<3} raster: kaartlaag {results['ours-raster'][c]['rps']:.0f} vs titiler "
            f"{results['titiler'][c]['rps']:.0f} = {raster_ratio:.1f}x (target >= {RASTER_TARGET:.0f}x)"
        )
        print(
            f"        vector: kaartlaag {results['ours-vector'][c]['rps']:.0f} vs nginx "
            f"{results['nginx'][c]['rps']:.0f} = {vector_ratio:.2f}x (target >= {VECTOR_TARGET}x)"
        )
        ok &= raster_ratio >= RASTER_TARGET and vector_ratio >= VECTOR_TARGET
    errors = {k: sum(r["errors"] for r in v.values()) for k, v in results.items()}
    print(f"  errors: {errors}")
    (workdir / "results.json").write_text(json.dumps(results, indent=1))
    return ok and not any(errors.values())


def soak(workdir: Path, root: Path, workers: int, lead: float) -> bool:
    rng = random.Random(SEED + 1)
    script = workdir / "urls.lua"
    script.write_text(WRK_SCRIPT)
    rtiles = raster_tiles(root, rng)
    vtiles, _ = vector_tiles(root, rng)
    urls = [f"/layers/landcover/tiles/WebMercatorQuad/{z}/{x}/{y}.png" for z, x, y in rtiles]
    urls += [f"/layers/landcover/tiles/{z}/{x}/{y}.mvt" for z, x, y in vtiles]
    urls += [f"/layers/basemap/tiles/{z}/{x}/{y}.mvt" for z, x, y in vtiles]
    rng.shuffle(urls)
    url_file = write_urls(workdir / "soak.txt", urls)
    before = cat.read_catalog(root).layers["landcover"].version
    config = workdir / "demo" / "kaartlaag.yaml"
    with server(kaartlaag_command(root, workers), "/healthz", workdir / "soak-server.log") as (base, pid):
        # The build gets little CPU once the load saturates both cores, so it starts ``lead`` seconds
        # before the load: its heavy part overlaps the load and the catalog switch lands mid-run.
        publisher = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "build", "landcover", "--config", str(config), "--force"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        print(f"  t={-lead:.0f} s: publishing a new landcover version", flush=True)
        time.sleep(lead)
        load = subprocess.Popen(
            wrk_command(base, url_file, SOAK_CONNECTIONS, SOAK_SECONDS, script), stdout=subprocess.PIPE, text=True
        )
        started = time.monotonic()
        samples = [(0.0, rss_mb(pid))]
        published_at = None
        while load.poll() is None:
            time.sleep(1)
            elapsed = time.monotonic() - started
            if published_at is None and cat.read_catalog(root).layers["landcover"].version != before:
                published_at = elapsed
                print(f"  t={elapsed:.0f} s: the new version is in the catalog (served from now on)", flush=True)
            if int(elapsed) % 10 == 0:
                samples.append((elapsed, rss_mb(pid)))
        out = load.stdout.read() if load.stdout else ""
        publisher.wait()
        after = cat.read_catalog(root).layers["landcover"].version
        served = httpx.get(f"{base}/layers/landcover").json()["version"]
    r = wrk_result(out)
    errors = r["errors"]
    seconds = r["duration_us"] / 1e6
    print(
        f"  {r['requests']} requests in {seconds:.0f} s = {r['rps']:.0f} req/s, "
        f"p50 {r['p50_us'] / 1000:.2f} ms, p99 {r['p99_us'] / 1000:.2f} ms, errors {errors} {r}"
    )
    print("  server RSS (MB): " + ", ".join(f"t={t:.0f}s {m:.0f}" for t, m in samples))
    print(
        f"  landcover version {before} -> {after}; served after the run: {served}"
        f"; new version live at t={published_at} s"
    )
    return errors == 0 and after != before and served == after and published_at is not None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "kaartlaag-bench-tiles")
    parser.add_argument("--seconds", type=float, default=8.0, help="duration of each measured wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per contender (medians reported)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of every server")
    parser.add_argument("--soak", action="store_true", help="run the 60 s soak test with a publish halfway")
    parser.add_argument(
        "--publish-lead",
        type=float,
        default=22.0,
        help="seconds the publish starts before the soak load; it takes about 30 s alone, longer on cores "
        "saturated by the load, so the new version goes live near the middle of the 60 s run",
    )
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt-get install wrk nginx")
    args.workdir.mkdir(parents=True, exist_ok=True)
    root = prepare(args.workdir)
    ok = (
        soak(args.workdir, root, args.workers, args.publish_lead)
        if args.soak
        else compare(args.workdir, root, args.seconds, args.workers, args.rounds)
    )
    print("PASS" if ok else "TARGETS NOT MET")


if __name__ == "__main__":
    main()
