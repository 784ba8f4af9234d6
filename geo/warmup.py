"""Load the compiled kernels once, on tiny arrays, so the first real request does not pay for it.

numba keeps the machine code of every kernel in its cache (``cache=True``), but
a fresh process still spends about half a second loading and linking it on
first use. Likewise dask's first ``compute`` imports ``distributed`` (to look for
a client; about 0.2 s), and the first GeoParquet read imports pyarrow's parquet
reader. A server worker calls :func:`load_kernels` as it starts, before its
memory ceiling applies, so the first assessment answers as fast as the next one.
"""

from __future__ import annotations

import importlib

import dask.array as da
import numpy as np
from affine import Affine
from pyproj import CRS

from geo.canopy import CANOPY_BAND
from geo.ground_view import ground_view
from geo.raster import Raster
from geo.shadow import shadow_fraction
from geo.svf import sky_view_factor
from geo.treetops import tree_tops

#: Edge (cells) of the warm-up arrays: big enough to run every loop of the kernels once.
_CELLS = 16
#: Cell size (m) of the warm-up arrays.
_RES_M = 1.0
#: A sun position (elevation, azimuth in degrees) for the shadow kernels.
_SUN = (45.0, 225.0)
#: Height (m) of the warm-up block and canopy.
_HEIGHT_M = 10.0
#: Modules the first assessment would otherwise import mid-request.
_LIBRARIES = ("pyarrow.parquet",)


def load_kernels() -> None:
    """Run every compiled kernel once on a few cells (person view, SVF, shadows, tree tops), and dask once."""
    for name in _LIBRARIES:
        importlib.import_module(name)
    da.zeros((_CELLS, _CELLS), chunks=_CELLS // 2).sum().compute(scheduler="threads")
    dtm = np.zeros((_CELLS, _CELLS), dtype=np.float32)
    dsm = dtm.copy()
    canopy = np.zeros(dtm.shape, dtype=bool)
    canopy[4:8, 4:8] = True
    dsm[canopy] = _HEIGHT_M
    ground_view(dsm, dtm, np.zeros(dtm.shape, dtype=bool), canopy, _RES_M, [[_SUN]], with_svf=True,
                max_svf_distance_m=4 * _RES_M, max_shadow_m=4 * _RES_M)
    sky_view_factor(dsm, _RES_M, max_distance_m=4 * _RES_M)
    shadow_fraction(dsm, _RES_M, [_SUN], max_distance_m=4 * _RES_M)
    height = Raster(np.where(canopy, _HEIGHT_M, 0.0).astype(np.float32), CRS.from_epsg(28992),
                    Affine(_RES_M, 0, 0, 0, -_RES_M, _CELLS * _RES_M), nodata=float("nan"),
                    band_names=(CANOPY_BAND,))
    tree_tops(height)
