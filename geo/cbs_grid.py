"""The CBS square grid ("vierkanten") in RD New: cell of a point, cell code, cell polygon.

CBS, *Statistische gegevens per vierkant en postcode 2022-2021-2020-2019*, sections
2 "Technische gegevens" and 3 "Codering vierkant" (2023): a square's lower-left
corner is a whole multiple of its size in RD New (EPSG:28992), with the origin of
RD as a corner; its code is built from that corner as ``E`` + the x coordinate and
``N`` + the y coordinate, each in whole hectometres written with four digits
(leading zeros below 100 km), e.g. ``E2050N4490`` for the 100 m square with its
lower-left corner at RD (205000, 449000). The full name adds the projection and
size in front: ``CRS28992RES100M`` + that code.
"""

from __future__ import annotations

import re

import numpy as np
import shapely

#: Edge of the CBS squares this module makes by default (m); CBS also publishes 500 m squares.
CELL_M = 100
#: Coordinates in a code are whole hectometres.
_HECTOMETRE = 100
_CODE = re.compile(r"^E(\d{4})N(\d{4})$")


def cell_corners(x: np.ndarray, y: np.ndarray, size_m: int = CELL_M) -> tuple[np.ndarray, np.ndarray]:
    """Lower-left corners (RD metres) of the squares containing points ``(x, y)`` (RD New).

    A point on a square's left or lower edge belongs to that square (floor).
    """
    xs = np.floor(np.asarray(x, dtype=float) / size_m).astype(np.int64) * size_m
    ys = np.floor(np.asarray(y, dtype=float) / size_m).astype(np.int64) * size_m
    return xs, ys


def cell_codes(x0: np.ndarray, y0: np.ndarray) -> list[str]:
    """CBS codes (``E....N....``) of squares with lower-left corners ``(x0, y0)`` (RD metres)."""
    if (np.asarray(x0) < 0).any() or (np.asarray(y0) < 0).any():
        raise ValueError("CBS square codes exist for RD coordinates >= 0 only")
    return [f"E{int(a) // _HECTOMETRE:04d}N{int(b) // _HECTOMETRE:04d}" for a, b in zip(x0, y0, strict=True)]


def full_name(code: str, size_m: int = CELL_M) -> str:
    """The code with projection and size in front, ``CRS28992RES100ME2050N4490``."""
    return f"CRS28992RES{size_m}M{code}"


def parse_code(code: str) -> tuple[int, int]:
    """Lower-left corner (RD metres) of the square with CBS code ``code``."""
    m = _CODE.match(code)
    if m is None:
        raise ValueError(f"{code!r} is not a CBS square code (E....N....)")
    return int(m.group(1)) * _HECTOMETRE, int(m.group(2)) * _HECTOMETRE


def cell_polygons(x0: np.ndarray, y0: np.ndarray, size_m: int = CELL_M) -> np.ndarray:
    """The squares with lower-left corners ``(x0, y0)`` as polygons (RD New)."""
    x0 = np.asarray(x0, dtype=float)
    y0 = np.asarray(y0, dtype=float)
    return shapely.box(x0, y0, x0 + size_m, y0 + size_m)
