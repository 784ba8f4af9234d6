"""The ``occupancy`` source: registrations per address, checked and typed.

A municipal extract of the BRP (residents) and the trade register (businesses,
users) as a table ``address_id, registration, since, until`` (CSV or
GeoPackage; ``until`` empty means still registered). ``validate_canonical``
calls :func:`normalise_occupancy` on every ``occupancy`` frame, so each reader
(file source, demo, hand-made tests) gets the same checks and dtypes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from geo.bag import BAG_ID_DIGITS
from geo.errors import SourceError

#: Allowed values of ``occupancy.registration``.
REGISTRATIONS: tuple[str, ...] = ("resident", "business", "user")
#: Date format of ``since`` and ``until`` in a file (ISO 8601 calendar date).
DATE_FORMAT = "%Y-%m-%d"


def _where(path: str | Path, row: int) -> str:
    """'row N' (1-based data row), and the line for a CSV (its header is line 1)."""
    line = f", line {row + 2}" if str(path).lower().endswith(".csv") else ""
    return f"row {row + 1}{line}"


def _dates(frame: pd.DataFrame, column: str, path: str | Path, optional: bool) -> pd.Series:
    """``column`` as ``datetime64[ns]`` (day precision); a bad date names the file and the row."""
    raw = frame[column]
    if pd.api.types.is_datetime64_any_dtype(raw):
        values = pd.to_datetime(raw).dt.tz_localize(None) if getattr(raw.dt, "tz", None) else pd.to_datetime(raw)
        return values.dt.normalize()
    text = raw.astype("string").str.strip()
    empty = text.isna() | (text == "")
    parsed = pd.to_datetime(text.where(~empty), format=DATE_FORMAT, errors="coerce")
    # Objects such as datetime.date survive astype("string") as ISO text, so they parse above too.
    bad = parsed.isna() & ~empty
    if not optional:
        bad |= empty
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        shown = raw.iloc[i]
        raise SourceError(
            path,
            f"occupancy: {column} {shown!r} is not a date (YYYY-MM-DD)" if not empty.iloc[i]
            else f"occupancy: {column} is empty (required)",
            feature=_where(path, i),
        )
    return pd.Series(parsed.to_numpy(dtype="datetime64[ns]"), index=frame.index, name=column)


def normalise_occupancy(frame: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """Check and type an ``occupancy`` frame.

    Args:
        frame: at least ``address_id``, ``registration``, ``since``; ``until`` optional.
        path: the file it came from, named in every error.

    Returns:
        a copy with ``address_id`` as text, ``registration`` lower-case, ``since`` and ``until``
        as ``datetime64[ns]`` dates (``until`` NaT: still registered).

    Raises:
        SourceError: naming the file and the row: an unknown registration, a missing address id,
            a date that is not YYYY-MM-DD, or ``until`` before ``since``.
    """
    out = frame.copy()
    if "until" not in out.columns:
        out["until"] = pd.NA
    raw_ids = out["address_id"]
    if pd.api.types.is_integer_dtype(raw_ids) or pd.api.types.is_float_dtype(raw_ids):
        # A GeoPackage or spreadsheet may store BAG ids as numbers, dropping the leading zero of
        # municipalities below 1000 (0363 Amsterdam): give them their 16 digits back.
        raw_ids = raw_ids.map(lambda v: None if pd.isna(v) else f"{int(v):0{BAG_ID_DIGITS}d}")
    ids = raw_ids.astype("string").str.strip()
    missing = ids.isna() | (ids == "")
    if missing.any():
        i = int(np.flatnonzero(missing.to_numpy())[0])
        raise SourceError(path, "occupancy: address_id is empty", feature=_where(path, i))
    out["address_id"] = ids.astype(object)
    reg = out["registration"].astype("string").str.strip().str.lower()
    unknown = ~reg.isin(REGISTRATIONS).fillna(False).to_numpy(dtype=bool)
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise SourceError(
            path,
            f"occupancy: unknown registration {out['registration'].iloc[i]!r}; allowed: {', '.join(REGISTRATIONS)}",
            feature=_where(path, i),
        )
    out["registration"] = reg.astype(object)
    out["since"] = _dates(out, "since", path, optional=False)
    out["until"] = _dates(out, "until", path, optional=True)
    backwards = (out["until"] < out["since"]).to_numpy(dtype=bool)
    if backwards.any():
        i = int(np.flatnonzero(backwards)[0])
        raise SourceError(
            path,
            f"occupancy: until {out['until'].iloc[i].date()} is before since {out['since'].iloc[i].date()}",
            feature=_where(path, i),
        )
    return out
