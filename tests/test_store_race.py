"""The served catalog under concurrent first requests: nobody sees the empty catalog a store starts with."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from geo.errors import NotFoundError
from layers import catalog as cat
from services import store as store_module
from services.store import CatalogStore
from tests.test_server_support import catalog_copy

#: How long the test's catalog read takes: long enough for the other threads to arrive meanwhile.
SLOW_READ_S = 0.3
THREADS = 6


def test_requests_during_the_first_catalog_read_wait_for_it(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = catalog_copy(tmp_path_factory, "race")
    real_read = cat.read_catalog

    def slow_read(folder: Path) -> cat.Catalog:
        time.sleep(SLOW_READ_S)
        return real_read(folder)

    monkeypatch.setattr(store_module.cat, "read_catalog", slow_read)
    store = CatalogStore(root)
    found: list[str] = []
    missing: list[str] = []
    start = threading.Barrier(THREADS)

    def ask() -> None:
        start.wait()
        try:
            found.append(store.layer("landcover").id)
        except NotFoundError as exc:
            missing.append(str(exc))

    threads = [threading.Thread(target=ask) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert missing == [] and found == ["landcover"] * THREADS
