"""Physiological equivalent temperature (PET, degC) per cell, from Tmrt, air temperature, humidity and wind.

PET is the air temperature of a standard indoor room (Tmrt = air temperature,
0.1 m/s, 12 hPa vapour pressure) in which a standard person has the same core
and skin temperature as outdoors (Hoppe 1999, the Munich Energy-balance Model for
Individuals, MEMI). It is computed with ``pythermalcomfort.models.pet_steady``
(Walther & Goestchel 2018's correction of MEMI), the implementation the tests
compare with.

Per hour air temperature and humidity are one value for the whole region, so PET
varies only with Tmrt and the wind at the cell. :func:`pet_table` solves MEMI on a
grid of (Tmrt, wind) for the hour: Tmrt every :data:`TMRT_STEP_C` from
``ta - 15`` to ``ta + 65`` degC, wind at :data:`WIND_NODES` nodes evenly spaced in
sqrt(v) from :data:`WIND_MIN_M_S` to :data:`WIND_MAX_M_S`; :func:`pet_grid`
interpolates it bilinearly (in Tmrt and sqrt(v)) for every cell. Against the
direct solution the interpolation stays within 0.05 degC over the table
(tests/test_pet_physics.py checks 0.1 degC); values outside the table are clamped
to its edge and counted.

The standard person (:data:`STANDARD_PERSON`) is PET's: 35 years, male, 75 kg,
1.75 m, 80 W of activity on top of the basal metabolism, 0.9 clo, standing
(Hoppe 1999; VDI 3787 Part 2). pythermalcomfort takes the activity as ``met``
times 58.2 W, so 80 W is ``met = 80 / 58.2``.

The heat-stress classes (:data:`PET_CLASSES`) are the thermal perception classes
of PET for western/central Europe (Matzarakis & Mayer 1996) that the
Klimaateffectatlas heat map and Koopmans et al. (2020) use: below 23 degC no heat
stress, 23-29 slight, 29-35 moderate, 35-41 strong, 41 and above extreme.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

HOPPE_1999 = (
    "Hoppe, P. (1999): The physiological equivalent temperature - a universal index for the biometeorological "
    "assessment of the thermal environment. Int. J. Biometeorol. 43:71-75"
)
WALTHER_2018 = (
    "Walther, E., Goestchel, Q. (2018): The P.E.T. comfort index: Questioning the model. Building and "
    "Environment 137:1-10 (pythermalcomfort.models.pet_steady)"
)
MATZARAKIS_1996 = (
    "Matzarakis, A., Mayer, H. (1996): Another kind of environmental stress: thermal stress. WHO Newsletter 18:"
    "7-10 (PET classes for western/central Europe, used by the Klimaateffectatlas heat map)"
)

#: pythermalcomfort's unit of activity: 1 met = 58.2 W (it multiplies ``met`` by this to get watts).
W_PER_MET = 58.2
#: Tmrt spacing of the table (degC).
TMRT_STEP_C = 2.5
#: Tmrt range of the table around the hour's air temperature (degC below, above).
TMRT_BELOW_TA_C = 15.0
TMRT_ABOVE_TA_C = 65.0
#: Wind range and nodes of the table (m/s at 1.1 m; nodes evenly spaced in sqrt(v)).
WIND_MIN_M_S = 0.5
WIND_MAX_M_S = 6.0
WIND_NODES = 14


@dataclass(frozen=True)
class Person:
    """The person PET is computed for.

    Attributes:
        age: years.
        sex: ``male`` or ``female``.
        weight_kg: body mass (kg).
        height_m: body height (m).
        activity_w: activity on top of the basal metabolism (W).
        clothing_clo: clothing insulation (clo).
        position: ``standing`` or ``sitting``.
    """

    age: float = 35.0
    sex: str = "male"
    weight_kg: float = 75.0
    height_m: float = 1.75
    activity_w: float = 80.0
    clothing_clo: float = 0.9
    position: str = "standing"

    def describe(self) -> dict[str, Any]:
        """For the layer metadata."""
        return {"age": self.age, "sex": self.sex, "weight_kg": self.weight_kg, "height_m": self.height_m,
                "activity_w": self.activity_w, "clothing_clo": self.clothing_clo, "position": self.position,
                "reference": HOPPE_1999}


#: PET's standard person (Hoppe 1999).
STANDARD_PERSON = Person()


@dataclass(frozen=True)
class PetClass:
    """One heat-stress class of PET: ``lower <= PET < upper`` (degC)."""

    key: str
    lower: float
    upper: float
    label_nl: str


#: The classes of the Klimaateffectatlas heat map (Matzarakis & Mayer 1996), coolest first.
PET_CLASSES: tuple[PetClass, ...] = (
    PetClass("geen", -np.inf, 23.0, "geen hittestress"),
    PetClass("licht", 23.0, 29.0, "lichte hittestress"),
    PetClass("matig", 29.0, 35.0, "matige hittestress"),
    PetClass("sterk", 35.0, 41.0, "sterke hittestress"),
    PetClass("extreem", 41.0, np.inf, "extreme hittestress"),
)
#: Lower bound of "sterke hittestress" (degC): the share of cells at or above it is the assessment's figure.
STRONG_HEAT_STRESS_C = next(c.lower for c in PET_CLASSES if c.key == "sterk")


def pet_class_index(pet: np.ndarray) -> np.ndarray:
    """Index in :data:`PET_CLASSES` of every value (int8; -1 where NaN)."""
    bounds = np.array([c.lower for c in PET_CLASSES[1:]], dtype=np.float64)
    index = np.searchsorted(bounds, np.asarray(pet, dtype=np.float64), side="right").astype(np.int8)
    return np.where(np.isfinite(pet), index, np.int8(-1)).astype(np.int8)


def pet_exact(
    ta_c: float, rh_pct: float, tmrt_c: np.ndarray, wind_m_s: np.ndarray, person: Person = STANDARD_PERSON,
    pressure_hpa: float = 1013.25,
) -> np.ndarray:
    """PET (degC) solved directly by pythermalcomfort for every (Tmrt, wind) pair (slow: a few ms a value).

    Args:
        ta_c: air temperature (degC).
        rh_pct: relative humidity (%).
        tmrt_c: mean radiant temperature (degC), any shape.
        wind_m_s: wind speed at the person (m/s), broadcastable to ``tmrt_c``.
        person: the person.
        pressure_hpa: air pressure (hPa).
    """
    from pythermalcomfort.models import pet_steady  # imported here: it compiles numba code on import

    tmrt = np.atleast_1d(np.asarray(tmrt_c, dtype=np.float64))
    wind = np.broadcast_to(np.asarray(wind_m_s, dtype=np.float64), tmrt.shape)
    flat = tmrt.ravel()
    result = pet_steady(
        tdb=np.full(flat.shape, float(ta_c)), tr=flat, v=wind.ravel(), rh=np.full(flat.shape, float(rh_pct)),
        met=person.activity_w / W_PER_MET, clo=person.clothing_clo, p_atm=pressure_hpa, position=person.position,
        age=person.age, sex=person.sex, weight=person.weight_kg, height=person.height_m,
    )
    return np.asarray(result.pet, dtype=np.float64).reshape(tmrt.shape)


@dataclass(frozen=True)
class PetTable:
    """PET of one hour on a grid of Tmrt (degC) and sqrt(wind) (sqrt(m/s)).

    Attributes:
        ta_c: the hour's air temperature (degC).
        rh_pct: the hour's relative humidity (%).
        tmrt0_c: first Tmrt node (degC); nodes every ``tmrt_step_c``.
        tmrt_step_c: Tmrt spacing (degC).
        sqrt_wind0: first sqrt(wind) node; nodes every ``sqrt_wind_step``.
        sqrt_wind_step: spacing in sqrt(m/s).
        values: PET (degC), shape (Tmrt nodes, wind nodes).
    """

    ta_c: float
    rh_pct: float
    tmrt0_c: float
    tmrt_step_c: float
    sqrt_wind0: float
    sqrt_wind_step: float
    values: np.ndarray

    def to_json(self) -> dict[str, Any]:
        """The table as plain numbers (published with the layer, so an assessment need not solve it again)."""
        return {"ta_c": self.ta_c, "rh_pct": self.rh_pct, "tmrt0_c": self.tmrt0_c, "tmrt_step_c": self.tmrt_step_c,
                "sqrt_wind0": self.sqrt_wind0, "sqrt_wind_step": self.sqrt_wind_step,
                "values": np.round(self.values, 3).tolist()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PetTable:
        """The inverse of :meth:`to_json`."""
        return cls(float(data["ta_c"]), float(data["rh_pct"]), float(data["tmrt0_c"]), float(data["tmrt_step_c"]),
                   float(data["sqrt_wind0"]), float(data["sqrt_wind_step"]),
                   np.asarray(data["values"], dtype=np.float64))


#: Tables solved or handed in (:func:`remember_table`) in this process, by (ta, rh, person).
_TABLES: dict[tuple[float, float, Person], PetTable] = {}
#: Tables kept at most (a build needs one per afternoon hour; the oldest go first).
_MAX_TABLES = 64


def remember_table(table: PetTable, person: Person = STANDARD_PERSON) -> None:
    """Keep ``table`` (e.g. one published with the layer) so :func:`pet_table` of its hour need not solve it."""
    if len(_TABLES) >= _MAX_TABLES:
        _TABLES.pop(next(iter(_TABLES)))
    _TABLES[(table.ta_c, table.rh_pct, person)] = table


def pet_table(ta_c: float, rh_pct: float, person: Person = STANDARD_PERSON) -> PetTable:
    """Solve PET for one hour on the (Tmrt, wind) grid of the module docstring (about a second; kept).

    Args:
        ta_c: air temperature (degC).
        rh_pct: relative humidity (%).
        person: the person.
    """
    known = _TABLES.get((float(ta_c), float(rh_pct), person))
    if known is not None:
        return known
    table = _solve_table(float(ta_c), float(rh_pct), person)
    remember_table(table, person)
    return table


def _solve_table(ta_c: float, rh_pct: float, person: Person) -> PetTable:
    tmrt = np.arange(ta_c - TMRT_BELOW_TA_C, ta_c + TMRT_ABOVE_TA_C + TMRT_STEP_C / 2, TMRT_STEP_C)
    sqrt_wind = np.linspace(np.sqrt(WIND_MIN_M_S), np.sqrt(WIND_MAX_M_S), WIND_NODES)
    grid_t, grid_s = np.meshgrid(tmrt, sqrt_wind, indexing="ij")
    values = pet_exact(ta_c, rh_pct, grid_t, grid_s**2, person)
    return PetTable(float(ta_c), float(rh_pct), float(tmrt[0]), TMRT_STEP_C, float(sqrt_wind[0]),
                    float(sqrt_wind[1] - sqrt_wind[0]), values)


@numba.njit(cache=True, nogil=True)
def _bilinear(values: np.ndarray, x0: float, dx: float, y0: float, dy: float,
              xs: np.ndarray, ys: np.ndarray, out: np.ndarray) -> int:  # pragma: no cover - numba
    nx, ny = values.shape
    clamped = 0
    for i in range(xs.size):
        x, y = xs.flat[i], ys.flat[i]
        if not (np.isfinite(x) and np.isfinite(y)):
            out.flat[i] = np.nan
            continue
        fx = (x - x0) / dx
        fy = (y - y0) / dy
        if fx < 0.0 or fx > nx - 1 or fy < 0.0 or fy > ny - 1:
            clamped += 1
        fx = min(max(fx, 0.0), nx - 1.0)
        fy = min(max(fy, 0.0), ny - 1.0)
        ix = min(int(fx), nx - 2)
        iy = min(int(fy), ny - 2)
        wx = fx - ix
        wy = fy - iy
        out.flat[i] = ((1 - wx) * (1 - wy) * values[ix, iy] + wx * (1 - wy) * values[ix + 1, iy]
                       + (1 - wx) * wy * values[ix, iy + 1] + wx * wy * values[ix + 1, iy + 1])
    return clamped


def pet_grid(table: PetTable, tmrt_c: np.ndarray, wind_m_s: np.ndarray) -> tuple[np.ndarray, int]:
    """PET (degC, float32) of every cell from its Tmrt and wind, by the hour's table.

    Args:
        table: the hour's :class:`PetTable`.
        tmrt_c: Tmrt per cell (degC); NaN gives NaN.
        wind_m_s: wind at the person per cell (m/s), same shape (or a scalar).

    Returns:
        PET per cell, and the number of cells outside the table (clamped to its edge).
    """
    tmrt = np.ascontiguousarray(tmrt_c, dtype=np.float64)
    sqrt_wind = np.ascontiguousarray(np.sqrt(np.broadcast_to(np.asarray(wind_m_s, dtype=np.float64), tmrt.shape)))
    out = np.empty(tmrt.shape, dtype=np.float64)
    clamped = _bilinear(table.values, table.tmrt0_c, table.tmrt_step_c, table.sqrt_wind0, table.sqrt_wind_step,
                        tmrt, sqrt_wind, out)
    return out.astype(np.float32), int(clamped)
