"""What happened while reading a source: counts and notes for the build log."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("kaartlaag")


@dataclass
class SourceReport:
    """Counts and notes collected while reading one source.

    Typical count keys: ``read``, ``kept``, ``ended_excluded`` (BGT/BAG history),
    ``repaired`` (invalid geometries made valid), ``outside_region``.
    """

    source: str
    counts: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def count(self, key: str, n: int = 1) -> None:
        """Add ``n`` to the counter ``key``."""
        if n:
            self.counts[key] += int(n)

    def note(self, message: str) -> None:
        """Record a message for a person reading the build log."""
        self.notes.append(message)
        log.info("%s: %s", self.source, message)

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (written into the catalog's build log)."""
        return {"source": self.source, "counts": dict(self.counts), "notes": list(self.notes)}


@dataclass
class AdapterResult:
    """What a registry adapter returns: canonical sources and a report.

    Attributes:
        sources: canonical name -> GeoDataFrame (vectors) or ``geo.raster.Raster``.
        report: counts and notes.
    """

    sources: dict[str, Any]
    report: SourceReport
