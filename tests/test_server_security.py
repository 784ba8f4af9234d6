"""Robustness and security: traversal, injection, bad tile addresses answer 4xx, never 5xx or a foreign file.

Raw request paths are sent with ``http.client`` to a real uvicorn process, because
httpx (and so FastAPI's TestClient) normalise ``../`` before sending. The OpenAPI
fuzzing runs schemathesis against the ASGI app in-process.
"""

from __future__ import annotations

import http.client
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from services.access import create_key
from services.app import create_app
from services.limits import RequestLimits
from services.settings import ServerSettings
from tests.test_server_support import built_catalog, running_server

SECRET = "SECRET-OUTSIDE-THE-CATALOG"
#: Fuzzing budget per API operation (the whole run stays under two minutes on two cores).
FUZZ_EXAMPLES = 12
LIMITS = RequestLimits()
#: Largest answer body any request may produce: an RGBA image of the largest allowed side.
MAX_BODY = LIMITS.max_image_size**2 * 4


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("security")
    copy = root / "catalog"
    shutil.copytree(built_catalog(tmp_path_factory.mktemp("security-src")), copy)
    (root / "secret.txt").write_text(SECRET)
    (copy / "notes.txt").write_text(SECRET)  # inside the catalog folder but not a published file
    create_key(copy, "fuzz")
    return copy


@pytest.fixture(scope="module")
def server(catalog_dir: Path) -> Iterator[str]:
    with running_server(catalog_dir) as base:
        yield base


def _raw_get(base: str, path: str) -> tuple[int, bytes]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(str(parts.hostname), parts.port, timeout=30)
    try:
        conn.request("GET", path)  # sent verbatim: no normalisation of dot segments or escapes
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


TRAVERSALS = [
    "/layers/../catalog.json",
    "/layers/landcover/download/../../catalog.json",
    "/layers/landcover/download/..%2F..%2Fcatalog.json",
    "/layers/landcover/download/%2e%2e%2f%2e%2e%2fsecret.txt",
    "/layers/landcover/download/%252e%252e%252fsecret.txt",
    "/layers/landcover/download/..%5c..%5csecret.txt",
    "/layers/landcover/download/notes.txt",
    "/layers/landcover/download/.apikeys.json",
    "/layers/landcover/download/catalog.json",
    "/layers/landcover/download/%2Fetc%2Fpasswd",
    "/layers/landcover/download/landcover.tif%00.txt",
    "/layers/..%2F..%2Fetc/download/passwd",
    "/layers/%2Fetc%2Fpasswd/tiles/1/0/0.mvt",
    "/layers/landcover/v/..%2F..%2Fsecret.txt/download/landcover.tif",
    "/layers/landcover/v/20260101T000000Z-00000000/download/..%2F..%2F..%2Fsecret.txt",
    "/layers/landcover/qml/..%2F..%2Fsecret.txt",
    "/layers/landcover/qml/notes.txt",
    "/layers/landcover/tiles/..%2F..%2F..%2Fsecret.txt/1/0/0.png",
    "/../../secret.txt",
    "/%2e%2e/%2e%2e/secret.txt",
    "/titiler/info?layer=..%2F..%2Fsecret.txt",
    "/titiler/info?layer=landcover&output=..%2F..%2Fsecret",
    "/titiler/info?url=..%2Fsecret.txt",
    "/titiler/info?url=file:///etc/passwd",
    "/titiler/info?path=/etc/passwd",
    "/titiler/info?layer=/etc/passwd",
    "/titiler/point/0,0?url=https://example.org/x.tif",
    "/titiler/tiles/WebMercatorQuad/1/0/0.png?url=/etc/passwd",
    "/titiler/statistics?layer=%2Fetc%2Fpasswd",
    "/layers/landcover/legend.png?output=..%2F..%2Fsecret",
]


def test_traversal_and_injection_never_reach_a_file_outside_the_catalog(server: str) -> None:
    for path in TRAVERSALS:
        status, body = _raw_get(server, path)
        assert 400 <= status < 500, (path, status, body[:200])
        assert SECRET.encode() not in body and b"root:" not in body, path


BAD_TILES = [
    "/layers/landcover/tiles/NoSuchTMS/1/0/0.png",
    "/layers/landcover/tiles/-1/0/0.mvt",
    "/layers/landcover/tiles/1/-1/0.mvt",
    "/layers/landcover/tiles/1/0/-1.mvt",
    "/layers/landcover/tiles/25/0/0.mvt",
    "/layers/landcover/tiles/99999999999999999999999/0/0.mvt",
    "/layers/landcover/tiles/5/99999999999999999999999/0.mvt",
    "/layers/landcover/tiles/5/0/99999999999999999999999.mvt",
    "/layers/landcover/tiles/5/32/0.mvt",
    "/layers/landcover/tiles/WebMercatorQuad/-1/0/0.png",
    "/layers/landcover/tiles/WebMercatorQuad/3/8/0.png",
    "/layers/landcover/tiles/WebMercatorQuad/3/0/99999999999.png",
    "/layers/landcover/tiles/NetherlandsRDNewQuad/17/0/0.png",
    "/layers/landcover/tiles/NetherlandsRDNewQuad/24/0/0.png",
    "/layers/landcover/tiles/NetherlandsRDNewQuad/1.5/0/0.png",
    "/layers/landcover/tiles/WebMercatorQuad/a/b/c.png",
    "/layers/landcover/v/19990101T000000Z-deadbeef/tiles/WebMercatorQuad/1/0/0.png",
    "/layers/landcover/v/not-a-version/tiles/1/0/0.mvt",
    "/titiler/tiles/NoSuchTMS/1/0/0.png?layer=landcover",
    "/titiler/tiles/WebMercatorQuad/99/0/0.png?layer=landcover",
    "/titiler/tiles/WebMercatorQuad/1/0/0.png?layer=landcover&tilesize=100000",
    "/titiler/tiles/WebMercatorQuad/1/0/0.png?layer=landcover&buffer=1e9",
    "/titiler/statistics?layer=landcover&max_size=1000000",
    "/titiler/tiles/WebMercatorQuad/1/0/0.png?layer=landcover&rescale=1,2,3",
    "/titiler/tiles/WebMercatorQuad/1/0/0.png?layer=landcover&colormap=%5B1%5D",
    "/titiler/point/999,999?layer=landcover",
    "/titiler/tiles/WebMercatorQuad?layer=landcover&maxzoom=4096",
    "/titiler/tiles/NetherlandsRDNewQuad?layer=landcover&minzoom=-5",
    "/layers/landcover/tiles/WebMercatorQuad/tilejson.json?output=nope",
    "/layers/landcover/tiles/NetherlandsRDNewQuad/tilejson.json",
]


def test_bad_tile_addresses_are_4xx(server: str) -> None:
    for path in BAD_TILES:
        status, body = _raw_get(server, path)
        assert 400 <= status < 500, (path, status, body[:300])


class _AppProxy:
    """ASGI app forwarding to the app under test, set by a fixture once the catalog is built.

    schemathesis loads the OpenAPI document when this module is imported (it does not
    depend on the catalog), and ``schemathesis.pytest.from_fixture`` does not run under
    pytest 9, so the cases are sent through this proxy instead.
    """

    def __init__(self) -> None:
        self.target: Any = create_app(ServerSettings(catalog=Path("/nonexistent/kaartlaag-catalog")))

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.target(scope, receive, send)


_PROXY = _AppProxy()
fuzzed = schemathesis.openapi.from_asgi("/openapi.json", _PROXY)


#: What the fuzzing saw: cases sent, 5xx answers, the slowest case (s, operation).
FUZZ_STATS: dict[str, Any] = {"cases": 0, "server_errors": 0, "slowest": (0.0, "")}


@pytest.fixture(scope="module")
def fuzz_target(catalog_dir: Path) -> Iterator[None]:
    previous = _PROXY.target
    _PROXY.target = create_app(ServerSettings(catalog=catalog_dir, cache_dir=catalog_dir.parent / "cache"))
    yield
    _PROXY.target = previous
    slowest = FUZZ_STATS["slowest"]
    print(
        f"\nschemathesis: {FUZZ_STATS['cases']} cases, {FUZZ_STATS['server_errors']} answers 5xx, "
        f"slowest {slowest[0]:.2f} s ({slowest[1]})"
    )


@pytest.mark.slow
@fuzzed.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_openapi_fuzzing_finds_no_server_error(case: schemathesis.Case, fuzz_target: None) -> None:
    """Every operation of ``/openapi.json`` (examples, coverage and fuzzing phases): no 5xx, bounded answers."""
    started = time.monotonic()
    response = case.call()
    elapsed = time.monotonic() - started
    FUZZ_STATS["cases"] += 1
    FUZZ_STATS["server_errors"] += response.status_code >= 500
    FUZZ_STATS["slowest"] = max(FUZZ_STATS["slowest"], (elapsed, f"{case.method} {case.formatted_path}"))
    assert response.status_code < 500, (case.method, case.formatted_path, case.query, response.text[:300])
    assert len(response.content) <= MAX_BODY, (case.method, case.formatted_path, case.query)
    assert elapsed < LIMITS.request_budget_s, (case.method, case.formatted_path, case.query, elapsed)


BAD_POLYGONS = [
    ([[[0, 0], [0, 0], [0, 0], [0, 0]]], {"coord_crs": "EPSG:28992"}),  # no area: GDAL cannot invert the grid
    ([[[200, 100], [300, 100], [300, 200], [200, 100]]], {}),  # outside the globe
    ([[[1e308, 1e308], [-1e308, 1e308], [0, -1e308], [1e308, 1e308]]], {"dst_crs": "EPSG:3857"}),
    ([[[1e20, 0], [0, 0], [0, 1], [1e20, 0]]], {"coord_crs": "EPSG:28992"}),
    ([[["NaN", 0], [0, 0], [0, 1], ["NaN", 0]]], {}),
]


def test_statistics_refuse_polygons_proj_cannot_transform(catalog_dir: Path) -> None:
    from fastapi.testclient import TestClient

    client = TestClient(create_app(ServerSettings(catalog=catalog_dir)))
    for rings, params in BAD_POLYGONS:
        coordinates = str(rings).replace("'NaN'", "NaN")  # JSON as Python's json module writes NaN
        body = '{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":' + coordinates + "}}"
        resp = client.post(
            "/titiler/statistics",
            params={"layer": "hoogte", **params},
            content=body,
            headers={"content-type": "application/json"},
        )
        assert 400 <= resp.status_code < 500, (rings, params, resp.status_code, resp.text[:200])
