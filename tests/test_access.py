"""Internal layers: invisible and 404 without a key, served with one, gone at once when the key is revoked."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from geo.errors import ConfigError
from layers import catalog as cat
from services.access import KEYS_FILE, create_key, hash_key, key_from_headers, revoke_key
from services.app import create_app
from services.settings import ServerSettings
from tests.conftest import ORIGIN
from tests.test_server_support import add_raster_layer, built_catalog, height_raster, pixel_in_tile, running_server
from tiles.tms import NETHERLANDS_RD_NEW_QUAD, get_tms


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the built catalog where landcover (vector + raster) and a raster layer ``geheim`` are internal."""
    copy = tmp_path_factory.mktemp("access") / "catalog"
    shutil.copytree(built_catalog(tmp_path_factory.mktemp("access-src")), copy)
    catalog = cat.read_catalog(copy)
    catalog.layers["landcover"].access = "internal"
    cat.write_catalog(copy, catalog)
    add_raster_layer(copy, "geheim", height_raster(), title="Geheim", access="internal")
    return copy


@pytest.fixture(scope="module")
def client(catalog_dir: Path) -> TestClient:
    return TestClient(create_app(ServerSettings(catalog=catalog_dir)))


@pytest.fixture(scope="module")
def key(catalog_dir: Path) -> str:
    return create_key(catalog_dir, "portaal-intern")


def _urls(catalog_dir: Path, layer: str) -> list[str]:
    entry = cat.read_catalog(catalog_dir).layers[layer]
    tile, _, _ = pixel_in_tile(get_tms(NETHERLANDS_RD_NEW_QUAD), ORIGIN[0] + 50, ORIGIN[1] + 50, 12)
    png = f"tiles/{NETHERLANDS_RD_NEW_QUAD}/12/{tile.x}/{tile.y}.png"
    urls = [
        f"/layers/{layer}",
        f"/layers/{layer}/{png}",
        f"/layers/{layer}/v/{entry.version}/{png}",
        f"/layers/{layer}/v/{entry.version}",
        f"/layers/{layer}/tilejson.json",
        f"/layers/{layer}/style.json",
        f"/layers/{layer}/legend.json",
        f"/layers/{layer}/legend.png",
        f"/layers/{layer}/preview.png",
        f"/layers/{layer}/download/{entry.files[0].name}",
        f"/titiler/info?layer={layer}",
        f"/layers/{layer}/qml/{entry.files[0].name}",
        f"/layers/{layer}/tiles/WebMercatorQuad/tilejson.json",
    ]
    if layer == "landcover":
        urls += [
            f"/layers/{layer}/tiles/16/33868/21636.mvt",
            f"/layers/{layer}.pmtiles",
            f"/layers/{layer}/export.gpkg",
        ]
    return urls


def _listed(client: TestClient, headers: dict[str, str]) -> dict[str, set[str]]:
    wmts = client.get("/wmts/WMTSCapabilities.xml", headers=headers).text
    return {
        "layers": {entry["id"] for entry in client.get("/layers", headers=headers).json()},
        "wmts": {lid for lid in ("landcover", "hoogte", "geheim") if f"<ows:Identifier>{lid}<" in wmts},
        "page": {
            lid
            for lid in ("landcover", "hoogte", "geheim", "basemap")
            if f'id="{lid}"' in client.get("/", headers=headers).text
        },
    }


def test_internal_layers_do_not_exist_without_a_valid_key(client: TestClient, catalog_dir: Path) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer kl_wrong"},
        {"X-API-Key": "kl_wrong"},
        {"Authorization": "Basic eDp5"},
    ):
        listed = _listed(client, headers)
        assert listed == {"layers": {"basemap", "hoogte"}, "wmts": {"hoogte"}, "page": {"basemap", "hoogte"}}, headers
        assert client.get("/healthz", headers=headers).json()["layers"] == 2
        unknown = client.get("/layers/onbekend", headers=headers)
        for layer in ("landcover", "geheim"):
            for url in _urls(catalog_dir, layer):
                resp = client.get(url, headers=headers)
                assert resp.status_code == 404, (url, headers, resp.status_code)
                if url == f"/layers/{layer}":  # the same answer as for an unknown layer
                    assert resp.json()["detail"] == unknown.json()["detail"].replace("onbekend", layer)
    # The base map's style must not pull in an internal layer either.
    assert "landcover" not in client.get("/layers/basemap/style.json").text


@pytest.mark.parametrize("scheme", ["bearer", "x-api-key"])
def test_a_valid_key_shows_and_serves_internal_layers(
    client: TestClient, catalog_dir: Path, key: str, scheme: str
) -> None:
    headers = {"Authorization": f"Bearer {key}"} if scheme == "bearer" else {"X-API-Key": key}
    listed = _listed(client, headers)
    assert listed["layers"] == {"basemap", "hoogte", "landcover", "geheim"}
    assert listed["wmts"] == {"landcover", "hoogte", "geheim"}
    assert listed["page"] == {"basemap", "hoogte", "landcover", "geheim"}
    for layer in ("landcover", "geheim"):
        for url in _urls(catalog_dir, layer):
            resp = client.get(url, headers=headers)
            assert resp.status_code in (200, 204), (url, resp.status_code, resp.text[:200])
            if resp.status_code == 200 and "/tiles/" in url:
                # A shared cache must never hand an internal tile to someone without the key.
                assert resp.headers["cache-control"].startswith("private") and "Authorization" in resp.headers["vary"]


def test_keys_are_stored_hashed(catalog_dir: Path, key: str) -> None:
    stored = (catalog_dir / KEYS_FILE).read_text()
    assert key not in stored and hash_key(key) in stored
    assert (catalog_dir / KEYS_FILE).stat().st_mode & 0o777 == 0o600
    assert key_from_headers({"authorization": f"bearer  {key} "}) == key
    assert key_from_headers({"x-api-key": key}) == key and key_from_headers({}) is None


def _apikey_cli(catalog_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``kaartlaag apikey ARGS --catalog DIR`` in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "apikey", *args, "--catalog", str(catalog_dir)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_create_and_revoke_stop_a_running_server_at_once(catalog_dir: Path) -> None:
    cli = functools.partial(_apikey_cli, catalog_dir)

    created = cli("create", "gis-team")
    assert created.returncode == 0, created.stderr
    new_key = created.stdout.strip()
    assert new_key.startswith("kl_") and len(new_key) > 40
    assert cli("create", "gis-team").returncode == 2  # names are unique
    assert "gis-team" in cli("list").stdout
    with running_server(catalog_dir) as base:
        headers = {"Authorization": f"Bearer {new_key}"}
        assert httpx.get(f"{base}/layers/geheim", headers=headers).status_code == 200
        revoked = cli("revoke", "gis-team")
        assert revoked.returncode == 0, revoked.stderr
        assert httpx.get(f"{base}/layers/geheim", headers=headers).status_code == 404
        assert cli("revoke", "gis-team").returncode == 1  # unknown key now


def test_a_broken_key_file_grants_nothing(tmp_path: Path) -> None:
    root = tmp_path / "catalog"
    key = create_key(root, "a")
    (root / KEYS_FILE).write_text("{not json")
    from services.access import KeyRing

    assert KeyRing(root).caller(key).internal is False
    (root / KEYS_FILE).unlink()
    key = create_key(root, "a")
    assert KeyRing(root).caller(key).internal is True
    revoke_key(root, "a")
    assert KeyRing(root).caller(key).internal is False
    assert json.loads((root / KEYS_FILE).read_text()) == {"keys": {}}


@pytest.fixture(scope="module")
def scoped_key(catalog_dir: Path) -> str:
    """A key that may see the internal layer ``geheim`` only."""
    return create_key(catalog_dir, "alleen-geheim", ["geheim"])


@pytest.mark.parametrize("scheme", ["bearer", "x-api-key"])
def test_a_scoped_key_sees_only_its_internal_layers(
    client: TestClient, catalog_dir: Path, scoped_key: str, scheme: str
) -> None:
    headers = {"Authorization": f"Bearer {scoped_key}"} if scheme == "bearer" else {"X-API-Key": scoped_key}
    assert _listed(client, headers) == {
        "layers": {"basemap", "hoogte", "geheim"},
        "wmts": {"hoogte", "geheim"},
        "page": {"basemap", "hoogte", "geheim"},
    }
    assert client.get("/healthz", headers=headers).json()["layers"] == 3
    unknown = client.get("/layers/onbekend", headers=headers).json()["detail"]
    for url in _urls(catalog_dir, "geheim"):
        resp = client.get(url, headers=headers)
        assert resp.status_code in (200, 204), (url, resp.status_code, resp.text[:200])
    # landcover (internal, outside the scope): every URL answers as for an unknown layer, tiles too.
    for url in _urls(catalog_dir, "landcover"):
        resp = client.get(url, headers=headers)
        assert resp.status_code == 404, (url, resp.status_code)
        if url == "/layers/landcover":
            assert resp.json()["detail"] == unknown.replace("onbekend", "landcover")
    assert "/layers/landcover" not in client.get("/layers/basemap/style.json", headers=headers).text


def test_scopes_are_checked_and_stored_with_the_hash(catalog_dir: Path, scoped_key: str) -> None:
    from services.access import KeyRing, list_keys

    stored = json.loads((catalog_dir / KEYS_FILE).read_text())["keys"]["alleen-geheim"]
    assert stored["layers"] == ["geheim"] and stored["sha256"] == hash_key(scoped_key)
    info = list_keys(catalog_dir)
    assert info["alleen-geheim"].layers == ("geheim",) and info["portaal-intern"].layers is None
    caller = KeyRing(catalog_dir).caller(scoped_key)
    assert caller.may_see("internal", "geheim") and not caller.may_see("internal", "landcover")
    assert caller.may_see("public", "hoogte")
    for bad, message in (
        (["landcovr"], "landcovr not in the catalog"),
        ([], "at least one layer"),
        ([" ", ""], "at least one layer"),
        (["../etc"], "not a layer id"),
    ):
        with pytest.raises(ConfigError, match=message):
            create_key(catalog_dir, "fout", bad)
    assert "fout" not in list_keys(catalog_dir)


def test_a_malformed_scope_grants_no_internal_layer(tmp_path: Path) -> None:
    from services.access import KeyRing

    root = tmp_path / "catalog"
    key = create_key(root, "a")
    path = root / KEYS_FILE
    data = json.loads(path.read_text())
    data["keys"]["a"]["layers"] = "geheim"  # not a list: fail closed
    path.write_text(json.dumps(data))
    caller = KeyRing(root).caller(key)
    assert caller.internal and not caller.may_see("internal", "geheim")


def test_cli_scoped_key_on_a_running_server(catalog_dir: Path) -> None:
    cli = functools.partial(_apikey_cli, catalog_dir)

    created = cli("create", "viewer-geheim", "--layers", "geheim")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    bad = cli("create", "viewer-fout", "--layers", "geheim,bestaatniet")
    assert bad.returncode == 2 and "bestaatniet" in bad.stderr
    listing = cli("list").stdout
    row = next(line for line in listing.splitlines() if "viewer-geheim" in line)
    assert "geheim" in row.replace("viewer-geheim", "")
    assert "all internal layers" in next(line for line in listing.splitlines() if "portaal-intern" in line)
    entry = cat.read_catalog(catalog_dir).layers["landcover"]
    with running_server(catalog_dir) as base:
        headers = {"X-API-Key": key}
        assert httpx.get(f"{base}/layers/geheim", headers=headers).status_code == 200
        # The tile fast path applies the scope too (no query string: FastAPI is not involved).
        tile = f"{base}/layers/landcover/v/{entry.version}/tiles/{NETHERLANDS_RD_NEW_QUAD}/12/0/0.png"
        assert httpx.get(tile, headers=headers).status_code == 404
        assert httpx.get(f"{base}/layers/landcover/tiles/16/33868/21636.mvt", headers=headers).status_code == 404
        assert httpx.get(f"{base}/titiler/info?layer=landcover", headers=headers).status_code == 404
        assert httpx.get(f"{base}/titiler/info?layer=geheim", headers=headers).status_code == 200
    assert cli("revoke", "viewer-geheim").returncode == 0
