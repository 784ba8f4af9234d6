"""The extent-aware layer contract: declared reaches, one runner for any extent, the code part of the cache key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import shapely

from geo.errors import ConfigError
from layers import code_key
from layers.base import BuildContext, Extent, Reach, RegionContext, fixed
from layers.extent import MemoryInputs, read_bounds, run_in_memory, zones_of
from layers.registry import LAYERS, _checked
from layers.tree_3_30_300 import LAYER as TREE_RULE
from tests.test_tree_3_30_300 import RD, SIZE, X0, Y0, scene


def test_every_input_of_every_layer_has_a_reach() -> None:
    for layer in LAYERS.values():
        for source in (*layer.inputs, *layer.optional_inputs):
            assert layer.reach_m(source, layer.resolve_params({}, layer.id)) >= 0, (layer.id, source)


def test_a_layer_without_a_reach_for_an_input_is_refused() -> None:
    from dataclasses import replace

    broken = replace(TREE_RULE, reach=tuple(r for r in TREE_RULE.reach if r.source != "trees"))
    with pytest.raises(ConfigError, match=r"declares no reach for its input.*trees"):
        _checked((broken,))


def test_reach_of_the_3_30_300_rule() -> None:
    """Trees 30 m, the walk 300 m (+ access), the '30' over the dwellings' whole buurten."""
    params = TREE_RULE.resolve_params({}, "t")
    assert TREE_RULE.reach_m("trees", params) == pytest.approx(30.0)
    assert TREE_RULE.reach_m("streets", params) == pytest.approx(params["max_park_distance_m"]
                                                                 + params["park_access_m"])
    assert TREE_RULE.reach_of("neighbourhoods").kind == "neighbourhood"
    # A small extent inside buurt BU01 reads the dsm over the whole of BU01 (plus 30 m).
    sources = scene()
    provider = MemoryInputs(sources, RD)
    extent = Extent((X0 + 40, Y0 + 80, X0 + 60, Y0 + 100))
    bu = sources["neighbourhoods"]
    touching = bu[bu.geometry.intersects(extent.polygon())].total_bounds
    got = read_bounds(TREE_RULE, "dsm", params, extent, provider)
    assert got == pytest.approx((touching[0] - 30, touching[1] - 30, touching[2] + 30, touching[3] + 30))


def test_a_window_gives_the_dwellings_the_answers_of_the_whole_run() -> None:
    """The reach is what makes a window (or a permit site) exact: every dwelling inside it is measured as in
    the whole run, including the '30' of its whole buurt and trees beyond the window's edge."""
    sources = scene()
    whole = run_in_memory(TREE_RULE, sources, (X0, Y0, X0 + SIZE, Y0 + SIZE), crs=RD, ctx=BuildContext(workers=1))
    window = shapely.box(X0 + 20, Y0 + 80, X0 + 170, Y0 + 100)  # dwellings A, A2 and C; trees 8-20 m beyond it
    part = run_in_memory(TREE_RULE, sources, window.bounds, crs=RD, boundary=window, ctx=BuildContext(workers=1))
    a = whole.vectors["dwellings"].set_index("dwelling_id")
    b = part.vectors["dwellings"].set_index("dwelling_id")
    assert len(b) >= 2 and set(b.index) <= set(a.index)
    cols = ["trees_visible", "meets_3", "canopy_pct", "meets_30", "park_distance_m", "meets_300", "score"]
    assert b[cols].equals(a.loc[b.index, cols])


def test_a_site_and_its_buffer_are_zones() -> None:
    sources = scene()
    site = shapely.box(X0 + 20, Y0 + 60, X0 + 170, Y0 + 120)
    ring = site.buffer(50).difference(site)
    ctx_region = RegionContext("Proefdorp", RD, shapely.box(X0, Y0, X0 + SIZE, Y0 + SIZE))
    zones = zones_of({"site": site, "buffer": ring}, ctx_region)
    area = shapely.union(site, ring)
    out = run_in_memory(TREE_RULE, sources, area.bounds, crs=RD, boundary=area, zones=zones,
                        ctx=BuildContext(workers=1))
    table = out.vectors["neighbourhoods"].set_index("code")
    dwellings = out.vectors["dwellings"]
    in_site = int(shapely.intersects(site, dwellings.geometry.values).sum())
    assert list(table.index) == ["site", "buffer"]
    assert table.loc["site", "dwellings"] == in_site and in_site >= 2
    # The dwelling's buurt_code is still its CBS buurt (the 30 is a buurt figure), not the zone.
    assert set(dwellings["buurt_code"].dropna()) <= set(sources["neighbourhoods"]["code"])


def test_the_code_key_covers_the_geo_modules_a_layer_uses(tmp_path: Path, monkeypatch: Any) -> None:
    assert "geo.svf" in code_key.module_closure("layers.heat_stress")
    assert "geo.svf" not in code_key.module_closure("layers.landcover")
    assert "layers.dwellings" in code_key.module_closure("layers.cool_places")
    before = code_key.code_digest("layers.heat_stress")
    landcover = code_key.code_digest("layers.landcover")
    changed = tmp_path / "svf.py"
    real = code_key._module_file("geo.svf")
    assert real is not None
    changed.write_text(Path(real).read_text() + "\n# a change to the kernel\n")
    original = code_key._module_file
    monkeypatch.setattr(code_key, "_module_file", lambda name: str(changed) if name == "geo.svf" else original(name))
    assert code_key.code_digest("layers.heat_stress") != before
    assert code_key.code_digest("layers.landcover") == landcover


def test_reach_helpers() -> None:
    assert Reach("x", fixed(12.0), "why").metres({}) == 12.0
