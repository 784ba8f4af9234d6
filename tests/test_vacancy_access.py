"""Access to the vacancy layers after a real build: ``vacancy-addresses`` answers 404 on every route without a
key for it, and 200 with one; the public ``vacancy`` carries no address ids; no published input holds the
occupancy extract; the default reference date (the build date) keeps the cache key fixed within a day.
"""

from __future__ import annotations

import datetime as dt
import io
import textwrap
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from rich.console import Console

from layers import catalog as cat
from layers.config import load_config
from layers.engine import build
from services.access import create_key
from services.app import create_app
from services.settings import ServerSettings
from tests.test_vacancy import hand_region

LAYERS = ["vacancy", "vacancy-addresses"]
HIDDEN = "vacancy-addresses"


def write_region(folder: Path) -> Path:
    """The hand-built vacancy region (tests.test_vacancy) as files plus a config; returns the config."""
    folder.mkdir(parents=True, exist_ok=True)
    region = hand_region()
    region["addresses"].to_file(folder / "addresses.gpkg", driver="GPKG")
    region["neighbourhoods"].to_file(folder / "buurten.gpkg", driver="GPKG")
    region["occupancy"].to_csv(folder / "bewoning.csv", index=False)
    config = folder / "kaartlaag.yaml"
    config.write_text(textwrap.dedent("""\
        region: {name: Proefstad, crs: "EPSG:28992"}
        catalog: ./catalog
        sources:
          addresses: {path: addresses.gpkg}
          neighbourhoods: {path: buurten.gpkg}
          occupancy: {path: bewoning.csv}
        layers:
          vacancy: {reference_date: 2025-06-15}
        """))
    return config


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = write_region(tmp_path_factory.mktemp("vacancy") / "region")
    summary = build(load_config(config), LAYERS, console=Console(quiet=True))
    assert sorted(summary.built) == sorted(LAYERS)
    return config


@pytest.fixture(scope="module")
def catalog_dir(built: Path) -> Path:
    return built.parent / "catalog"


@pytest.fixture(scope="module")
def client(catalog_dir: Path) -> TestClient:
    return TestClient(create_app(ServerSettings(catalog=catalog_dir)))


@pytest.fixture(scope="module")
def key(catalog_dir: Path) -> str:
    return create_key(catalog_dir, "toezicht", layers=[HIDDEN])


def _urls(catalog_dir: Path, layer: str) -> list[str]:
    entry = cat.read_catalog(catalog_dir).layers[layer]
    parquet = next(f.name for f in entry.files if f.format == "parquet")
    return [
        f"/layers/{layer}",
        f"/layers/{layer}/v/{entry.version}",
        f"/layers/{layer}/tilejson.json",
        f"/layers/{layer}/v/{entry.version}/tilejson.json",
        f"/layers/{layer}/tiles/16/33868/21636.mvt",
        f"/layers/{layer}/v/{entry.version}/tiles/16/33868/21636.mvt",
        f"/layers/{layer}.pmtiles",
        f"/layers/{layer}/style.json",
        f"/layers/{layer}/legend.json",
        f"/layers/{layer}/legend.png",
        f"/layers/{layer}/preview.png",
        f"/layers/{layer}/download/{parquet}",
        f"/layers/{layer}/qml/{parquet}",
        f"/layers/{layer}/export.gpkg",
    ]


def _listed(client: TestClient, headers: dict[str, str]) -> dict[str, bool]:
    return {
        "layers": HIDDEN in {e["id"] for e in client.get("/layers", headers=headers).json()},
        "wmts": f">{HIDDEN}<" in client.get("/wmts/WMTSCapabilities.xml", headers=headers).text,
        "page": f'id="{HIDDEN}"' in client.get("/", headers=headers).text,
        "public style": HIDDEN in client.get("/layers/vacancy/style.json", headers=headers).text,
        "public tilejson": HIDDEN in client.get("/layers/vacancy/tilejson.json", headers=headers).text,
    }


def test_the_internal_layer_is_invisible_and_404_without_a_key(client: TestClient, catalog_dir: Path) -> None:
    for headers in ({}, {"Authorization": "Bearer kl_wrong"}, {"X-API-Key": "kl_wrong"}):
        assert not any(_listed(client, headers).values()), headers
        for url in _urls(catalog_dir, HIDDEN):
            resp = client.get(url, headers=headers)
            assert resp.status_code == 404, (url, headers, resp.status_code)
        assert client.get("/layers/vacancy", headers=headers).status_code == 200


def test_a_key_for_it_serves_every_route(client: TestClient, catalog_dir: Path, key: str) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    listed = _listed(client, headers)
    assert listed["layers"] and listed["page"]  # WMTS lists raster layers only: never a vector layer
    assert not listed["public style"] and not listed["public tilejson"]  # the public layer never pulls it in
    for url in _urls(catalog_dir, HIDDEN):
        resp = client.get(url, headers=headers)
        assert resp.status_code in (200, 204), (url, resp.status_code, resp.text[:200])
        if "/tiles/" in url or url.endswith(".pmtiles"):
            assert resp.headers["cache-control"].startswith("private"), url
    legend = client.get(f"/layers/{HIDDEN}/legend.json", headers=headers).text
    assert "Leeg, langer dan 3 jaar (structureel)" in legend and "Leeg, duur onbekend" in legend
    assert "Buurtgrens" in client.get("/layers/vacancy/legend.json").text
    frame = gpd.read_parquet(io.BytesIO(client.get(_urls(catalog_dir, HIDDEN)[11], headers=headers).content))
    # On the build date (its default reference date) the 5 vacant addresses moved into on 2025-09-01 count as
    # occupied: 21 - 5.
    assert len(frame) == 16 and {"id", "duration_class", "vacant_since"} <= set(frame.columns)


def test_the_public_layer_carries_no_address_ids(client: TestClient, catalog_dir: Path) -> None:
    ids = set(hand_region()["addresses"]["id"])
    body = client.get("/layers/vacancy").text
    assert not any(i in body for i in ids)
    entry = cat.read_catalog(catalog_dir).layers["vacancy"]
    for f in entry.files:
        resp = client.get(f"/layers/vacancy/download/{f.name}")
        assert resp.status_code == 200
        assert not any(i.encode() in resp.content for i in ids), f.name
        if f.format == "parquet":
            frame = gpd.read_parquet(io.BytesIO(resp.content))
            assert not {"id", "address_id", "building_id"} & set(frame.columns)


def test_the_occupancy_extract_is_not_published_as_an_input(catalog_dir: Path) -> None:
    names = [p.name for p in catalog_dir.rglob("*") if p.is_file()]
    assert not any("occupancy" in n or "bewoning" in n for n in names), names
    inputs = cat.read_catalog(catalog_dir).inputs
    assert inputs is None or "occupancy" not in inputs.digests


def test_the_build_date_is_the_default_reference_date_and_the_key_is_fixed(built: Path,
                                                                         catalog_dir: Path) -> None:
    entries = cat.read_catalog(catalog_dir).layers
    assert entries["vacancy"].parameters["reference_date"] == "2025-06-15"
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert entries[HIDDEN].parameters["reference_date"] == today
    assert entries[HIDDEN].metadata["reference_date"] == today
    again = build(load_config(built), LAYERS, console=Console(quiet=True))
    assert sorted(again.up_to_date) == sorted(LAYERS) and again.built == []


def test_config_cannot_make_the_addresses_public(tmp_path: Path) -> None:
    config = write_region(tmp_path / "region")
    config.write_text(config.read_text() + "  vacancy-addresses: {access: public}\n")
    with pytest.raises(Exception, match="personal data and is always internal"):
        load_config(config)
    assert pd.read_csv(config.parent / "bewoning.csv").shape[0] > 0
