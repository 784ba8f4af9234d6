"""Each canonical source's registry date and age, and each layer's oldest source.

The dates come from the deliveries (``geo.freshness``): the BGT extract's
date, the BAG ``StandTechnischeDatum``, the AHN version and year, the CBS
edition. A source older than its limit (``monitoring.stale_after_days``, or
``monitoring.stale_after.<adapter or source>``) is stale. The engine stores the
dates in every layer's metadata (``source_dates``, ``oldest_source``), so the
overview page can show the ages on the day it is looked at (:func:`ages_now`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from geo.freshness import RegistryDate, ahn_version, bag_extract_date, bgt_extract_date, cbs_year
from layers.config import RegionConfig


def today_utc() -> date:
    """Today's date in UTC."""
    return datetime.now(UTC).date()


@lru_cache(maxsize=32)
def _read(provider: str, paths: tuple[str, ...], layer: str | None, stamp: tuple[tuple[int, int], ...]) -> RegistryDate:
    """The registry date of one delivery (cached while its files are unchanged: ``stamp`` is their mtimes/sizes)."""
    del stamp
    if provider == "bgt":
        return bgt_extract_date(paths[0])
    if provider == "bag":
        return bag_extract_date(paths[0])
    if provider == "ahn":
        return ahn_version(list(paths))
    if provider in ("cbs", "cbs_landuse"):
        found = cbs_year(paths[0], layer)
        return RegistryDate(provider, found.date, found.what, year=found.year)
    return RegistryDate(provider, None, "no registry date (own file)")


def _stamp(paths: Iterable[str]) -> tuple[tuple[int, int], ...]:
    out = []
    for p in paths:
        try:
            st = Path(p).stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((0, 0))
    return tuple(out)


def provider_date(cfg: RegionConfig, provider: str) -> RegistryDate:
    """The registry date of what ``provider`` (an adapter or a canonical file source) delivers."""
    spec = getattr(cfg.sources, provider, None)
    if spec is None:
        return RegistryDate(provider, None, "not configured")
    fields = spec.model_dump()
    if provider == "ahn":
        paths = [str(cfg.resolve(Path(p))) for p in (fields.get("laz") or [])]
        paths += [str(cfg.resolve(Path(fields[k]))) for k in ("dsm", "dtm") if fields.get(k)]
    elif fields.get("path") is not None:
        paths = [str(cfg.resolve(Path(fields["path"])))]
    else:
        return RegistryDate(provider, None, "derived from other sources (no registry date of its own)")
    return _read(provider, tuple(paths), fields.get("layer"), _stamp(paths))


def limit_days(cfg: RegionConfig, source: str, provider: str) -> int:
    """The age limit (days) of ``source`` delivered by ``provider``."""
    stale = cfg.monitoring.stale_after
    return stale.get(provider, stale.get(source, cfg.monitoring.stale_after_days))


def source_dates(cfg: RegionConfig, sources: Iterable[str], today: date | None = None) -> dict[str, dict[str, Any]]:
    """Per canonical source: its provider, registry date, what the date is, age (days), limit and whether stale."""
    today = today or today_utc()
    providers = cfg.source_providers()
    out: dict[str, dict[str, Any]] = {}
    for source in sorted(sources):
        provider = providers.get(source, source)
        found = provider_date(cfg, provider)
        age = found.age_days(today)
        limit = limit_days(cfg, source, provider)
        out[source] = {**found.as_dict(), "provider": provider, "age_days": age, "stale_after_days": limit,
                       "stale": age is not None and age > limit}
    return out


def oldest(dates: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """The source with the earliest registry date (None when no source has one)."""
    dated = [(d["date"], s) for s, d in dates.items() if d.get("date")]
    if not dated:
        return None
    _day, source = min(dated)
    return {"source": source, **dates[source]}


def freshness_metadata(cfg: RegionConfig, sources: Iterable[str]) -> dict[str, Any]:
    """``source_dates`` and ``oldest_source`` for a layer's catalog metadata."""
    dates = source_dates(cfg, sources)
    return {"source_dates": dates, "oldest_source": oldest(dates)}


def ages_now(dates: Mapping[str, Mapping[str, Any]], today: date | None = None) -> dict[str, dict[str, Any]]:
    """The stored ``source_dates`` with age and staleness recomputed for ``today`` (the overview page)."""
    today = today or today_utc()
    out = {}
    for source, d in dates.items():
        age = (today - date.fromisoformat(d["date"])).days if d.get("date") else None
        limit = d.get("stale_after_days")
        out[source] = {**d, "age_days": age, "stale": age is not None and limit is not None and age > limit}
    return out
