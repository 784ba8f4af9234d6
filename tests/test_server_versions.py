"""Versioned style, legend, preview and QGIS-style URLs: immutable, and still the old answer after a new publish."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from geo.raster import Raster
from layers import catalog as cat
from services.access import create_key
from services.app import create_app
from services.settings import ServerSettings
from services.store import CHECK_INTERVAL_S
from tests.conftest import ORIGIN
from tests.test_server_support import add_raster_layer, built_catalog, decode_png, height_raster, pixel_in_tile
from tiles.tms import NETHERLANDS_RD_NEW_QUAD, get_tms

IMMUTABLE = "public, max-age=31536000, immutable"
UNKNOWN_VERSION = "20000101T000000Z-00000000"
#: A default-style tile of ``hoogte`` (pre-rendered level 12 of RD New, covering the test region).
_TILE, _, _ = pixel_in_tile(get_tms(NETHERLANDS_RD_NEW_QUAD), ORIGIN[0] + 50, ORIGIN[1] + 50, 12)
TILE = f"/layers/hoogte/tiles/{NETHERLANDS_RD_NEW_QUAD}/12/{_TILE.x}/{_TILE.y}.png"
#: Factor applied to the test heights for the second publish of ``hoogte``: another value range, another legend.
SECOND_SCALE = 3.0


def _scaled(raster: Raster, factor: float) -> Raster:
    return Raster(
        raster.data * np.float32(factor),
        raster.crs,
        raster.transform,
        nodata=raster.nodata,
        band_names=raster.band_names,
        units=raster.units,
    )


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A catalog copy whose ``hoogte`` is published twice; the first version's answers fetched before the second."""
    root = tmp_path_factory.mktemp("versions") / "catalog"
    shutil.copytree(built_catalog(tmp_path_factory.mktemp("versions-src")), root)
    client = TestClient(create_app(ServerSettings(catalog=root, max_age=30, trusted_hosts=["testserver"])))
    first = cat.read_catalog(root).layers["hoogte"].version
    before = {name: client.get(f"/layers/hoogte/{name}").content for name in ("legend.json", "legend.png")}
    tile = client.get(TILE)  # the fast path keeps this answer ...
    assert tile.status_code == 200 and first in tile.headers["etag"]
    second = add_raster_layer(root, "hoogte", _scaled(height_raster(), SECOND_SCALE), title="Hoogte").version
    time.sleep(CHECK_INTERVAL_S * 2)  # ... until the server sees the new catalog
    return {"client": client, "root": root, "first": first, "second": second, "before": before, "tile": tile}


def _versioned_urls(root: Path, layer: str, version: str) -> list[str]:
    entry = cat.read_catalog(root).layers[layer]
    qml = next(f.name for f in entry.files if f.format in ("cog", "parquet"))
    return [
        f"/layers/{layer}/v/{version}/{name}"
        for name in ("style.json", "legend.json", "legend.png", "preview.png", f"qml/{qml}", "tilejson.json")
    ]


@pytest.mark.parametrize("layer", ["basemap", "landcover", "hoogte"])
def test_versioned_styles_and_legends_are_immutable(published: dict[str, Any], layer: str) -> None:
    client, root = published["client"], published["root"]
    version = cat.read_catalog(root).layers[layer].version
    for url in _versioned_urls(root, layer, version):
        resp = client.get(url)
        assert resp.status_code == 200, (url, resp.status_code, resp.text[:200])
        assert resp.headers["cache-control"] == IMMUTABLE, url
        again = client.get(url, headers={"If-None-Match": resp.headers["etag"]})
        assert again.status_code == 304 and again.headers["cache-control"] == IMMUTABLE, url
        unversioned = client.get(url.replace(f"/v/{version}", ""))
        assert unversioned.status_code == 200 and unversioned.headers["cache-control"] == "public, max-age=30", url
        missing = client.get(url.replace(version, UNKNOWN_VERSION))
        assert missing.status_code == 404, url
        assert client.get(url.replace(version, "not-a-version")).status_code in (404, 422), url


def test_versioned_style_names_versioned_sources(published: dict[str, Any]) -> None:
    client, root = published["client"], published["root"]
    catalog = cat.read_catalog(root).layers
    base = catalog["basemap"].version
    style = client.get(f"/layers/basemap/v/{base}/style.json").json()
    url = style["sources"]["basemap"]["url"]
    assert url == f"http://testserver/layers/basemap/v/{base}/tilejson.json"
    tilejson = client.get(url.removeprefix("http://testserver"))
    assert tilejson.headers["cache-control"] == IMMUTABLE
    assert tilejson.json()["tiles"] == [f"http://testserver/layers/basemap/v/{base}/tiles/{{z}}/{{x}}/{{y}}.mvt"]
    # The unversioned style keeps the stable (unversioned) TileJSON URL.
    assert (
        client.get("/layers/basemap/style.json")
        .json()["sources"]["basemap"]["url"]
        .endswith("/layers/basemap/tilejson.json")
    )
    first = published["first"]
    raster = client.get(f"/layers/hoogte/v/{first}/style.json").json()["sources"]["hoogte"]["tiles"][0]
    assert f"/layers/hoogte/v/{first}/tiles/WebMercatorQuad/" in raster
    assert client.get(f"/layers/hoogte/v/{first}/style.json").json()["metadata"]["kaartlaag:version"] == first


def test_an_old_version_keeps_its_legend_after_a_new_publish(published: dict[str, Any]) -> None:
    client, first, second = published["client"], published["first"], published["second"]
    assert first != second
    old = client.get(f"/layers/hoogte/v/{first}/legend.json")
    assert old.content == published["before"]["legend.json"]
    assert client.get(f"/layers/hoogte/v/{first}/legend.png").content == published["before"]["legend.png"]
    new = client.get("/layers/hoogte/legend.json").json()
    assert client.get(f"/layers/hoogte/v/{second}/legend.json").json() == new
    # The second publish spans three times the heights: its legend's top class ends three times higher.
    assert new["items"][-1]["upper"] == pytest.approx(SECOND_SCALE * old.json()["items"][-1]["upper"])
    png = decode_png(client.get(f"/layers/hoogte/v/{first}/legend.png").content)
    assert png.shape[0] > 0 and png[..., 3].max() == 255


def test_kept_tile_answers_follow_a_new_publish(published: dict[str, Any]) -> None:
    client, first, second = published["client"], published["first"], published["second"]
    now = client.get(TILE)
    assert now.status_code == 200 and second in now.headers["etag"]
    assert now.content != published["tile"].content  # three times the heights: other classes, other colours
    old = client.get(TILE.replace("/tiles/", f"/v/{first}/tiles/"))
    assert old.content == published["tile"].content and old.headers["cache-control"] == IMMUTABLE


def test_kept_tile_answers_follow_access_changes(tmp_path: Path) -> None:
    root = tmp_path / "catalog"
    shutil.copytree(built_catalog(tmp_path / "src"), root)
    client = TestClient(create_app(ServerSettings(catalog=root)))
    first = client.get(TILE)
    assert first.status_code == 200 and client.get(TILE).content == first.content
    catalog = cat.read_catalog(root)
    catalog.layers["hoogte"].access = "internal"
    cat.write_catalog(root, catalog)
    time.sleep(CHECK_INTERVAL_S * 2)
    assert client.get(TILE).status_code == 404  # no kept answer outlives the catalog it came from
    key = create_key(root, "k")
    with_key = client.get(TILE, headers={"X-API-Key": key})
    assert with_key.status_code == 200 and with_key.headers["cache-control"].startswith("private")
    assert client.get(TILE).status_code == 404  # an answer for a key holder is never kept for others
