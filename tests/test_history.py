"""``GET /layers/{id}/history``: a zone's values across the kept versions (two builds changed by hand)."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient

from services.app import create_app
from services.settings import ServerSettings


@pytest.fixture(scope="module")
def client(two_versions: Path) -> TestClient:
    return TestClient(create_app(ServerSettings(catalog=two_versions.parent / "catalog")))


def test_zone_values_across_versions(client: TestClient) -> None:
    versions = [v["version"] for v in client.get("/layers/green-paved").json()["versions"]]
    answer = client.get("/layers/green-paved/history", params={"zone": "BU00010001"})
    assert answer.status_code == 200
    data = answer.json()
    assert data["zone"] == {"code": "BU00010001", "name": "West"}
    assert [v["version"] for v in data["versions"]] == versions
    assert [v["figures"]["green_pct"] for v in data["versions"]] == pytest.approx([50.0, 0.0])
    assert [v["figures"]["paved_pct"] for v in data["versions"]] == pytest.approx([0.0, 50.0])
    east = client.get("/layers/green-paved/history", params={"zone": "BU00020001"}).json()
    assert [v["figures"]["paved_pct"] for v in east["versions"]] == pytest.approx([66.67, 66.67])


def test_municipality_history(client: TestClient) -> None:
    data = client.get("/layers/green-paved/history", params={"zone": "GM0001"}).json()
    assert data["output"] == "municipalities" and data["zone"]["name"] == "Aalst"
    assert [v["figures"]["green_pct"] for v in data["versions"]] == pytest.approx([40.0, 0.0])


def test_chart(client: TestClient) -> None:
    answer = client.get("/layers/green-paved/history",
                        params={"zone": "BU00010001", "format": "svg", "figure": ["green_pct", "paved_pct"]})
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/svg+xml"
    root = ElementTree.fromstring(answer.content)
    assert root.tag.endswith("svg")
    assert "green_pct" in answer.text and "paved_pct" in answer.text
    png = client.get("/layers/green-paved/history", params={"zone": "BU00010001", "format": "png"})
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_zone_and_figure_are_404(client: TestClient) -> None:
    answer = client.get("/layers/green-paved/history", params={"zone": "BU99999999"})
    assert answer.status_code == 404 and "BU99999999" in answer.text
    answer = client.get("/layers/green-paved/history",
                        params={"zone": "BU00010001", "format": "svg", "figure": "nope_pct"})
    assert answer.status_code == 404 and "nope_pct" in answer.text
    assert client.get("/layers/nope/history", params={"zone": "BU00010001"}).status_code == 404
    assert client.get("/layers/green-paved/history").status_code in (400, 422)
