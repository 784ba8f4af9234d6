"""Running neighbourhood kernels over large rasters in chunks with a halo, through Dask.

A kernel such as the sky view factor or a shadow cast reads every cell within
a fixed distance of the cell it computes. Split into chunks, each chunk must
therefore see a *halo* of that many cells of its neighbours; with
:func:`dask.array.map_overlap` the halo is added, the kernel runs per
extended chunk and the halo is trimmed again. The outer edge of the raster
gets no padding (``boundary="none"``): the kernel sees the true edge of the
map there, exactly as in an unchunked run, so a chunked result is
bit-for-bit identical to the unchunked one as long as the kernel reads no
further than the halo (the kernels in ``geo.svf`` and ``geo.shadow`` stop at
their search distance, and their per-chunk shortcuts are exact).

The work runs under whatever Dask scheduler is active when the result is
computed: the engine's local thread pool, or a ``distributed.Client`` when a
build was started with ``--scheduler``. Kernels are handed over as
module-level functions (optionally wrapped in :func:`functools.partial`) so
they pickle by reference and workers import and compile them themselves.

This module also holds :func:`kernel_jit` and :func:`helper_jit`, the one
place that decides how the numba kernels are compiled and cached, and the
compiled helpers the kernels share.
"""

from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import dask
import dask.array as da
import numba
import numpy as np

from geo.kernel_memo import current_memo
from geo.raster import Raster

F = TypeVar("F", bound=Callable[..., Any])

#: Default chunk edge in cells (the engine's ``BuildContext.chunk_size`` default).
DEFAULT_CHUNK_SIZE = 2048


def kernel_jit(func: F) -> F:
    """Compile ``func`` with ``numba.njit(parallel=True, cache=True)``.

    Caching keeps the warm-up of a new process (a build, a Dask worker) to
    a fraction of a second after the first compilation. numba writes its
    cache next to the module or in the user cache directory
    (``NUMBA_CACHE_DIR``); when neither is writable (a read-only install),
    numba refuses ``cache=True`` at decoration time, and the kernel is then
    compiled without a cache instead of failing to import.
    """
    return _njit(func, parallel=True)


def helper_jit(func: F) -> F:
    """Compile ``func`` with ``numba.njit(cache=True)``: a serial helper called from the kernels.

    Same cache fallback as :func:`kernel_jit`. numba does not notice when a
    helper in another module changes, so a change to a helper must also touch
    (or bump) the kernels that call it, or their cache be cleared.
    """
    return _njit(func, parallel=False)


def _njit(func: F, *, parallel: bool) -> F:
    try:
        return numba.njit(parallel=parallel, cache=True)(func)  # type: ignore[return-value]
    except RuntimeError as exc:  # "cannot cache function ...: no locator available"
        warnings.warn(f"numba cache unavailable for {func.__qualname__} ({exc}); compiling without cache",
                      stacklevel=3)
        return numba.njit(parallel=parallel, cache=False)(func)  # type: ignore[return-value]


@helper_jit
def highest_cell(values: np.ndarray) -> np.float32:  # pragma: no cover - compiled
    """Largest value of a flat float32 array, skipping NaN; ``-inf`` when all are NaN (or it is empty).

    The kernels of ``geo.svf`` and ``geo.shadow`` bound their searches with the
    highest cell of their NaN-padded surface model (m).
    """
    hmax = np.float32(-np.inf)
    for i in range(values.shape[0]):
        # False for NaN: holes never raise the maximum.
        if values[i] > hmax:
            hmax = values[i]
    return hmax


#: numba's fallback threading layer (used when neither TBB nor OpenMP is present) must not
#: launch parallel kernels from several threads at once, as Dask's threaded scheduler does.
_UNSAFE_LAYERS = frozenset({"workqueue"})
_LAUNCH_LOCK = threading.Lock()


def launch(kernel: Callable[..., Any], *args: Any) -> Any:
    """Call a parallel numba kernel, one at a time if numba's threading layer is not thread-safe.

    With the OpenMP or TBB layer kernels launched from several Dask threads run
    side by side; with the ``workqueue`` layer (or before the first launch has
    chosen a layer) launches are serialised instead of crashing.
    """
    try:
        layer: str | None = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet in this process
        layer = None
    if layer is None or layer in _UNSAFE_LAYERS:
        with _LAUNCH_LOCK:
            return kernel(*args)
    return kernel(*args)


def halo_cells(distance_m: float, resolution_m: float) -> int:
    """Halo in whole cells that covers ``distance_m`` on a grid of ``resolution_m`` (both in metres)."""
    if resolution_m <= 0:
        raise ValueError(f"resolution_m must be positive, got {resolution_m}")
    if distance_m < 0:
        raise ValueError(f"halo distance must not be negative, got {distance_m}")
    # The small tolerance keeps 100 m / 0.5 m at 200 cells despite float rounding.
    return math.ceil(distance_m / resolution_m - 1e-9)


def lazy_chunked(
    kernel: Callable[..., np.ndarray],
    data: np.ndarray | da.Array,
    *,
    halo: int,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    dtype: Any = np.float32,
) -> da.Array:
    """Lazy dask array of ``kernel`` applied chunk by chunk with ``halo`` cells of overlap.

    Args:
        kernel: function of one 2-D array returning an array of the same shape;
            it must not read further than ``halo`` cells from a cell it computes.
        data: 2-D input (numpy or dask).
        halo: overlap in cells on each side of a chunk.
        chunk_size: chunk edge in cells (before the halo is added).
        dtype: dtype of the kernel's output.

    Returns:
        A dask array of the shape of ``data``.
    """
    if data.ndim != 2:
        raise ValueError(f"chunked kernels take 2-D arrays, got shape {data.shape}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1 cell, got {chunk_size}")
    if halo < 0:
        raise ValueError(f"halo must not be negative, got {halo}")
    arr = data if isinstance(data, da.Array) else da.from_array(data, chunks=chunk_size)
    arr = arr.rechunk(chunk_size)
    return arr.map_overlap(
        kernel,
        depth=halo,
        boundary="none",
        trim=True,
        dtype=dtype,
        meta=np.empty((0, 0), dtype=dtype),
    )


def run_chunked(
    kernel: Callable[..., np.ndarray],
    data: np.ndarray,
    *,
    halo: int,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    dtype: Any = np.float32,
) -> np.ndarray:
    """Compute ``kernel`` over ``data`` in chunks under the active Dask scheduler.

    A raster that fits in one chunk is computed directly, without Dask: the
    result is the same and small rasters (a permit site) skip the overhead.

    Returns:
        A numpy array identical to ``kernel(data)``.
    """
    if data.ndim == 2 and max(data.shape) <= chunk_size:
        return np.asarray(kernel(data), dtype=dtype)
    (result,) = dask.compute(lazy_chunked(kernel, data, halo=halo, chunk_size=chunk_size, dtype=dtype))
    return np.asarray(result)


def chunked_raster(
    kernel: Callable[..., np.ndarray],
    raster: Raster,
    *,
    halo_m: float,
    band_name: str,
    unit: str,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    band: str | None = None,
) -> Raster:
    """Run a kernel over one band of ``raster`` in chunks; the result keeps the grid.

    Args:
        kernel: function of one 2-D float array (see :func:`lazy_chunked`).
        raster: input raster; its cells must be square.
        halo_m: how far (metres, in the raster CRS) the kernel reads around a cell.
        band_name: name of the output band.
        unit: unit of the output band.
        chunk_size: chunk edge in cells.
        band: input band name (default: the first band).

    Returns:
        A one-band float32 ``Raster`` with NaN as nodata, on the grid of ``raster``.
    """
    xres, yres = raster.resolution
    if not math.isclose(xres, yres, rel_tol=1e-9):
        raise ValueError(f"kernels need square cells, the raster has {xres} x {yres}")
    values = raster.data[0] if band is None else raster.band(band)
    out = run_chunked(kernel, values, halo=halo_cells(halo_m, xres), chunk_size=chunk_size)
    return Raster(out, raster.crs, raster.transform, nodata=float("nan"), band_names=(band_name,), units=(unit,))


def run_tiled(
    kernel: Callable[..., Sequence[np.ndarray]],
    arrays: Sequence[np.ndarray],
    *,
    halo: int,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    memo_key: str | None = None,
    cores: bool = False,
) -> list[np.ndarray]:
    """Run a kernel of several 2-D inputs and several 2-D outputs in tiles with a halo (active Dask scheduler).

    The many-input, many-output counterpart of :func:`run_chunked`: every tile of
    ``chunk_size`` cells is extended by ``halo`` cells (never beyond the array edge,
    like ``boundary="none"``), the kernel runs on the extended tile of every input,
    and its outputs are cropped back to the tile. With a kernel that reads no further
    than ``halo`` the result is identical to one call on the whole arrays, which is
    also what an array of at most one tile gets (no Dask overhead).

    Args:
        kernel: function of the input tiles returning output tiles of the same shape.
        arrays: 2-D inputs, all of one shape.
        halo: overlap in cells on each side of a tile.
        chunk_size: tile edge in cells.
        memo_key: what the kernel computes, with every parameter that changes its result; inside
            ``geo.kernel_memo.kernel_memo`` a second call with the same key recomputes only the cells
            within ``halo`` of changed inputs (exactly).
        cores: the kernel takes a keyword ``core`` (row and column slices of its inputs) and returns
            outputs for those cells only, reading the rest as context: a tile's halo (and the margin of a
            memo's patch) is then read but not computed.

    Returns:
        The kernel's outputs on the whole arrays (float32).
    """
    memo = current_memo() if memo_key is not None else None
    if memo is not None and memo_key is not None:
        in_core = None
        if cores:
            def in_core(parts: Sequence[np.ndarray], core: tuple[slice, slice]) -> list[np.ndarray]:
                return [np.asarray(out, dtype=np.float32) for out in kernel(*parts, core=core)]
        return memo.run(memo_key, arrays, halo, lambda parts: _run_tiled(kernel, parts, halo, chunk_size, cores),
                        compute_core=in_core)
    return _run_tiled(kernel, arrays, halo, chunk_size, cores)


def _run_tiled(
    kernel: Callable[..., Sequence[np.ndarray]], arrays: Sequence[np.ndarray], halo: int, chunk_size: int,
    cores: bool = False,
) -> list[np.ndarray]:
    """Tiles of ``chunk_size`` over the arrays, each read with ``halo``; one tile runs without Dask."""
    shape = arrays[0].shape
    if any(a.shape != shape for a in arrays) or len(shape) != 2:
        raise ValueError(f"tiled kernels take 2-D arrays of one shape, got {[a.shape for a in arrays]}")
    if chunk_size < 1 or halo < 0:
        raise ValueError(f"chunk_size must be at least 1 and halo not negative, got {chunk_size}, {halo}")
    rows, cols = shape
    if max(shape) <= chunk_size:
        return [np.asarray(out, dtype=np.float32) for out in kernel(*arrays)]
    tiles = []
    for r0 in range(0, rows, chunk_size):
        for c0 in range(0, cols, chunk_size):
            r1, c1 = min(r0 + chunk_size, rows), min(c0 + chunk_size, cols)
            outer = (slice(max(0, r0 - halo), min(rows, r1 + halo)), slice(max(0, c0 - halo), min(cols, c1 + halo)))
            inner = (slice(r0 - outer[0].start, r1 - outer[0].start), slice(c0 - outer[1].start, c1 - outer[1].start))
            tiles.append(((slice(r0, r1), slice(c0, c1)), inner, [a[outer] for a in arrays]))
    if cores:
        results = dask.compute(*(dask.delayed(kernel)(*t[2], core=t[1]) for t in tiles))
    else:
        results = dask.compute(*(dask.delayed(kernel)(*t[2]) for t in tiles))
    outputs: list[np.ndarray] = []
    for (where, inner, _), result in zip(tiles, results, strict=True):
        if not outputs:
            outputs = [np.empty(shape, dtype=np.float32) for _ in result]
        for target, tile in zip(outputs, result, strict=True):
            target[where] = tile if cores else tile[inner]
    return outputs
