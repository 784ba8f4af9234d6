"""The registry of layer definitions, keyed by layer id."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from graphlib import CycleError, TopologicalSorter
from types import MappingProxyType
from typing import Any

from geo.errors import ConfigError, NotFoundError
from layers import (
    basemap,
    cool_places,
    green_paved,
    heat_stress,
    housing_opportunities,
    housing_sites,
    landcover,
    pet,
    projects_map,
    tree_3_30_300,
    vacancy,
)
from layers.base import LayerDef

_ALL: tuple[LayerDef, ...] = (
    landcover.LAYER, basemap.LAYER, green_paved.LAYER, tree_3_30_300.LAYER, heat_stress.LAYER, cool_places.LAYER,
    housing_sites.LAYER, projects_map.LAYER, housing_opportunities.PLOTS_LAYER, housing_opportunities.VACANT_LAYER,
    vacancy.ADDRESSES_LAYER, vacancy.LAYER, pet.LAYER,
)



def _checked(defs: tuple[LayerDef, ...]) -> tuple[LayerDef, ...]:
    """The definitions, once every input of each has a declared reach (the runner reads by it)."""
    for d in defs:
        declared = {r.source for r in d.reach}
        missing = [s for s in (*d.inputs, *d.optional_inputs) if s not in declared]
        if missing:
            raise ConfigError(f"layer {d.id} declares no reach for its input(s) {', '.join(missing)}")
    return defs


#: Immutable id -> definition map of every known layer.
LAYERS: Mapping[str, LayerDef] = MappingProxyType({d.id: d for d in _checked(_ALL)})


def get_layer(layer_id: str) -> LayerDef:
    """Return the definition of ``layer_id`` or raise ``NotFoundError`` listing the known ids."""
    try:
        return LAYERS[layer_id]
    except KeyError:
        raise NotFoundError(f"unknown layer {layer_id!r}; known layers: {', '.join(LAYERS)}") from None


def validate_layer_config(layers: Mapping[str, Mapping[str, Any]], origin: str) -> None:
    """Check ``layers:`` of a config: known ids, known parameters, valid values."""
    for layer_id, given in layers.items():
        if layer_id not in LAYERS:
            raise ConfigError(f"{origin}:\nlayers.{layer_id}: unknown layer; known: {', '.join(LAYERS)}")
        if not isinstance(given, Mapping):
            raise ConfigError(f"{origin}:\nlayers.{layer_id}: expected a mapping of parameters")
        try:
            LAYERS[layer_id].resolve_params(given, f"layers.{layer_id}")
            LAYERS[layer_id].resolve_access(given, f"layers.{layer_id}")
        except ConfigError as exc:
            raise ConfigError(f"{origin}:\n{exc}") from None


def build_order(selected: Iterable[str] | None = None) -> list[str]:
    """Layer ids to build in dependency order: the selection plus everything it depends on."""
    wanted = list(LAYERS) if not selected else [get_layer(i).id for i in selected]
    graph: dict[str, set[str]] = {}
    stack = list(wanted)
    while stack:
        layer_id = stack.pop()
        if layer_id in graph:
            continue
        deps = set(get_layer(layer_id).all_depends)
        graph[layer_id] = deps
        stack.extend(deps)
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise ConfigError(f"layer dependencies form a cycle: {exc.args[1]}") from None


def dependents(layer_id: str) -> set[str]:
    """Every layer that (transitively) reads ``layer_id``."""
    out: set[str] = set()
    frontier = {layer_id}
    while frontier:
        nxt = {d.id for d in LAYERS.values() if set(d.all_depends) & frontier} - out
        out |= nxt
        frontier = nxt
    return out
