"""Short load test: a real server under concurrent tile requests while a new version is published.

The full-length version (60 s at 32 connections with wrk) is ``bench/bench_tiles.py --soak``.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import morecantile
import pytest
from pyproj import Transformer
from rich.console import Console

from bench._servers import rss_mb
from layers import catalog as cat
from layers.config import load_config
from layers.engine import build
from tests.conftest import ORIGIN, SIZE_M
from tests.test_server_support import built_catalog, running_server

#: Load duration (s), concurrent clients, and when (s) the publish starts.
DURATION_S = 10.0
CLIENTS = 8
PUBLISH_AT_S = 2.0
#: Resident memory the server may gain under this load (MB): caches are bounded, handles are shared.
RSS_SLACK_MB = 150.0


def _tile_urls() -> list[str]:
    to_wgs = Transformer.from_crs(28992, 4326, always_xy=True)
    west, south = to_wgs.transform(*ORIGIN)
    east, north = to_wgs.transform(ORIGIN[0] + SIZE_M, ORIGIN[1] + SIZE_M)
    urls = []
    for t in morecantile.tms.get("WebMercatorQuad").tiles(west, south, east, north, zooms=[15, 16, 17]):
        urls.append(f"/layers/landcover/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png")
        urls.append(f"/layers/landcover/tiles/{t.z}/{t.x}/{t.y}.mvt")
        urls.append(f"/layers/basemap/tiles/{t.z}/{t.x}/{t.y}.mvt")
    return [*urls, "/layers/landcover/tilejson.json", "/layers", "/wmts/WMTSCapabilities.xml"]


def _server_pid(port: int) -> int:
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"serve" in cmd and str(port).encode() in cmd:
                return int(proc.name)
    raise AssertionError("server process not found")


@pytest.fixture
def region(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Path:
    """A private copy of the built region (sources, config and catalog): this test publishes into it."""
    source = built_catalog(tmp_path_factory.mktemp("load-src")).parent
    copy = tmp_path / "region"
    shutil.copytree(source, copy)
    return copy


def test_no_request_fails_while_a_new_version_is_published(region: Path) -> None:
    root = region / "catalog"
    before = cat.read_catalog(root).layers["landcover"].version
    urls = _tile_urls()
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    versions_seen: set[str] = set()
    lock = threading.Lock()
    with running_server(root, "--workers", "2") as base:
        pid = _server_pid(int(base.rsplit(":", 1)[1]))
        stop = time.monotonic() + DURATION_S

        def client(offset: int) -> None:
            with httpx.Client(base_url=base, timeout=30) as http:
                i = offset
                while time.monotonic() < stop:
                    url = urls[i % len(urls)]
                    i += 1
                    try:
                        resp = http.get(url)
                    except httpx.HTTPError as exc:
                        with lock:
                            errors.append(f"{url}: {exc!r}")
                        continue
                    with lock:
                        statuses[resp.status_code] += 1
                        if url.endswith(".png") and resp.status_code == 200:
                            versions_seen.add(resp.headers["etag"].strip('"').split("-landcover-")[0])

        threads = [threading.Thread(target=client, args=(k * 17,)) for k in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        rss_start = rss_mb(pid)
        time.sleep(PUBLISH_AT_S - 1.0)
        build(load_config(region / "kaartlaag.yaml"), ["landcover"], force=True, console=Console(quiet=True))
        for t in threads:
            t.join()
        rss_end = rss_mb(pid)
        after = cat.read_catalog(root).layers["landcover"].version
        served = httpx.get(f"{base}/layers/landcover").json()["version"]
    assert not errors, errors[:5]
    assert set(statuses) <= {200, 204}, statuses
    assert sum(statuses.values()) > 100 * DURATION_S / 10  # the load really ran
    assert after != before and served == after
    assert {before, after} <= versions_seen  # tiles of both versions were served during the run
    assert rss_end - rss_start < RSS_SLACK_MB, (rss_start, rss_end)
