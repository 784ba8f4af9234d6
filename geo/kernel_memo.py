"""Incremental kernels: a second run on edited inputs recomputes only the cells an edit can reach.

A scenario runs the same layers twice, on the inputs and on the edited inputs,
on the same grids. Inside :func:`kernel_memo`, a tiled kernel
(``geo.chunked.run_tiled`` with a ``memo_key``) remembers its inputs and
outputs; called again with the same key and shape, it finds the cells whose
inputs differ, and recomputes only the outputs within the kernel's ``halo`` of
them: it runs the kernel on that box grown by one more halo (clipped to the
array, as the full run is) and pastes the box into the previous outputs.
Because the kernel reads no further than ``halo``, the result equals a full
run exactly (tested in ``tests/test_kernel_memo.py``). Unchanged inputs return
the previous outputs at once.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field

import numpy as np

Compute = Callable[[Sequence[np.ndarray]], list[np.ndarray]]
#: A kernel that computes only the ``core`` cells of its inputs (the rest is context).
ComputeCore = Callable[[Sequence[np.ndarray], tuple[slice, slice]], list[np.ndarray]]


@dataclass
class _Entry:
    inputs: list[np.ndarray]
    outputs: list[np.ndarray]


@dataclass
class KernelMemo:
    """Inputs and outputs of the tiled kernels of one assessment, by key.

    Attributes:
        hits: calls answered from unchanged inputs.
        partial: calls that recomputed only a box around changed cells.
        full: calls computed in full.
        recomputed_cells: output cells recomputed by partial calls.
    """

    entries: dict[tuple[object, ...], _Entry] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    hits: int = 0
    partial: int = 0
    full: int = 0
    recomputed_cells: int = 0

    def run(self, key: str, arrays: Sequence[np.ndarray], halo: int, compute: Compute,
            compute_core: ComputeCore | None = None) -> list[np.ndarray]:
        """``compute(arrays)``, reusing the previous call with ``key`` where the inputs did not change.

        ``compute_core``, when given, computes a patch's box only (reading its margin as context) instead
        of the box and its margin.
        """
        shape = arrays[0].shape
        full_key = (key, shape, halo, tuple(a.dtype.str for a in arrays))
        with self.lock:  # layers of one assessment run in threads; each key belongs to one of them
            previous = self.entries.get(full_key)
        if previous is None:
            outputs = compute(arrays)
            with self.lock:
                self.full += 1
        else:
            changed = np.zeros(shape, dtype=bool)
            for now, was in zip(arrays, previous.inputs, strict=True):
                changed |= _differs(now, was)
            if not changed.any():
                outputs = [o.copy() for o in previous.outputs]
                with self.lock:
                    self.hits += 1
            else:
                outputs, cells = self._patch(arrays, previous, changed, halo, compute, compute_core)
                with self.lock:
                    self.partial += 1
                    self.recomputed_cells += cells
        entry = _Entry([a.copy() for a in arrays], [o.copy() for o in outputs])
        with self.lock:
            self.entries[full_key] = entry
        return outputs

    def _patch(self, arrays: Sequence[np.ndarray], previous: _Entry, changed: np.ndarray, halo: int,
               compute: Compute, compute_core: ComputeCore | None) -> tuple[list[np.ndarray], int]:
        """The previous outputs with the box within ``halo`` of changed cells recomputed, and its cell count."""
        rows = np.flatnonzero(changed.any(axis=1))
        cols = np.flatnonzero(changed.any(axis=0))
        n_rows, n_cols = changed.shape
        box = (slice(max(0, rows[0] - halo), min(n_rows, rows[-1] + 1 + halo)),
               slice(max(0, cols[0] - halo), min(n_cols, cols[-1] + 1 + halo)))
        outer = (slice(max(0, box[0].start - halo), min(n_rows, box[0].stop + halo)),
                 slice(max(0, box[1].start - halo), min(n_cols, box[1].stop + halo)))
        inner = (slice(box[0].start - outer[0].start, box[0].stop - outer[0].start),
                 slice(box[1].start - outer[1].start, box[1].stop - outer[1].start))
        # Contiguous copies: the compiled kernels are specialised (and fastest) for C-ordered arrays.
        parts = [np.ascontiguousarray(a[outer]) for a in arrays]
        sub = compute(parts) if compute_core is None else compute_core(parts, inner)
        outputs = [o.copy() for o in previous.outputs]
        for target, part in zip(outputs, sub, strict=True):
            target[box] = part if compute_core is not None else part[inner]
        return outputs, int((box[0].stop - box[0].start) * (box[1].stop - box[1].start))


def _differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cells where ``a`` and ``b`` differ (NaN equals NaN)."""
    if np.issubdtype(a.dtype, np.floating):
        return ~((a == b) | (np.isnan(a) & np.isnan(b)))
    return np.asarray(a != b)


_CURRENT: ContextVar[KernelMemo | None] = ContextVar("kaartlaag_kernel_memo", default=None)


def current_memo() -> KernelMemo | None:
    """The memo of the enclosing :func:`kernel_memo` block, or None."""
    return _CURRENT.get()


@contextlib.contextmanager
def kernel_memo() -> Iterator[KernelMemo]:
    """A block in which tiled kernels with a ``memo_key`` reuse their previous run (see the module doc)."""
    memo = KernelMemo()
    token = _CURRENT.set(memo)
    try:
        yield memo
    finally:
        _CURRENT.reset(token)
