"""numpy helpers for grouping and summing by integer keys, as the stack table needs them:
distinct values, where each first appears, keys as indices, exact sums by key, and rows of a
flat array as tuples.

Sums of integer values are made in float64 and turned back into ints, which is exact while
the sum of absolute values stays below 2**53 (8 PiB); above that numpy's exact integer
scatter-add is used. numpy's own unique() hashes, which is several times slower than sorting
for the keys here, so these sort or use a lookup table.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

from heapviz.model import Value

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
try:
    from heapviz.graph import _groupby  # type: ignore[attr-defined]
except ImportError:  # built without a C compiler: numpy sorts instead
    _groupby = None

# How index_of groups keys: a lookup table for keys in a small range, else the compiled hash
# table when it is built, else sorting. Tests turn the first two off to compare all three.
USE_LOOKUP_TABLE = True
USE_HASHING = True
EXACT_FLOAT_LIMIT = float(2**53)  # integer sums made in float64 are exact below this
_CHUNK = 1 << 20  # index_of's scatter works on this many values at a time


def distinct(x: IntArray) -> IntArray:
    """The distinct values of x, sorted (numpy's own unique hashes, which is slower here)."""
    s = np.sort(x)
    return s[np.concatenate(([True], s[1:] != s[:-1]))] if len(s) else s


def index_of(x: IntArray, want_first: bool = True) -> tuple[IntArray, IntArray, npt.NDArray[Any]]:
    """(distinct values of x sorted, where each first appears (empty unless `want_first`), x as
    indices into the distinct values): numpy's unique with index and inverse, with a lookup
    table when x spans a small range."""
    n = len(x)
    if not n:
        return x, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lo, hi = int(x.min()), int(x.max())
    if lo >= 0 and hi <= 4 * n + (1 << 20) and hi < 2**31:
        lo = 0  # small non-negative numbers (location ids, edge keys): index them as they are
    if USE_LOOKUP_TABLE and hi - lo <= 4 * n + (1 << 20) and hi - lo < 2**31:
        shifted = x - lo if lo else x
        present = np.zeros(hi - lo + 1, dtype=np.bool_)
        present[shifted] = True
        values = np.flatnonzero(present) + lo
        lookup = np.cumsum(present, dtype=np.int32)
        del present
        lookup -= 1
        inverse: npt.NDArray[Any] = lookup[shifted]
        del lookup, shifted
    elif hashing() and x.dtype.kind in "iu":
        return _hashed_index_of(x, want_first)
    else:
        values = distinct(x)
        inverse = np.searchsorted(values, x)
    first = np.full(len(values) if want_first else 0, n, dtype=np.int64)
    if want_first:
        for k in range(0, n, _CHUNK):
            np.minimum.at(first, inverse[k:k + _CHUNK], np.arange(k, min(n, k + _CHUNK), dtype=np.int64))
    return values.astype(x.dtype, copy=False), first, inverse


def hashing() -> bool:
    """Whether keys are grouped by the compiled hash table (built, and not turned off)."""
    return _groupby is not None and USE_HASHING


def first_seen(x: IntArray) -> tuple[IntArray, IntArray]:
    """(x's values numbered in order of first appearance, where each first appears)."""
    if hashing():
        inverse = np.empty(len(x), dtype=np.int64)
        _, first = _groupby.factorize(np.ascontiguousarray(x, dtype=np.int64), inverse)
        return inverse, np.frombuffer(first, dtype=np.int64).copy()
    _, first, inverse = index_of(x)
    return in_order_of_appearance(first, inverse)


def in_order_of_appearance(first: IntArray, inverse: npt.NDArray[Any]) -> tuple[IntArray, IntArray]:
    """A grouping (where each group first appears, each value's group) renumbered so that groups
    are numbered as they first appear: (each value's new group, where each new group first appears)."""
    order = np.argsort(first, kind="stable")
    return _ranks(order)[inverse], first[order]


def _ranks(order: IntArray) -> IntArray:
    """The inverse permutation of order: where each position goes."""
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    return rank


def _hashed_index_of(x: npt.NDArray[Any], want_first: bool) -> tuple[IntArray, IntArray, npt.NDArray[Any]]:
    """index_of by the compiled hash table: keys numbered in order of first appearance, then
    renumbered in order of value (only the distinct keys are sorted)."""
    keys = np.ascontiguousarray(x if x.dtype.itemsize == 8 else x.astype(np.int64))
    inverse = np.empty(len(keys), dtype=np.int64)
    raw_values, raw_first = _groupby.factorize(keys.view(np.int64), inverse)
    seen = np.frombuffer(raw_values, dtype=np.int64).view(keys.dtype)
    order = np.argsort(seen, kind="stable")
    first = np.frombuffer(raw_first, dtype=np.int64)[order] if want_first else np.zeros(0, dtype=np.int64)
    return seen[order].astype(x.dtype, copy=False), first, _ranks(order)[inverse]


def factorize_rows(values: npt.NDArray[Any], starts: IntArray) -> tuple[IntArray, IntArray]:
    """(each row's number, the first row of each number): the rows values[starts[r]:starts[r + 1]]
    numbered in order of first appearance, equal rows alike."""
    rows = len(starts) - 1
    inverse = np.empty(max(rows, 0), dtype=np.int64)
    if rows <= 0:
        return inverse, np.zeros(0, dtype=np.int64)
    if hashing():
        # 32-bit values as they are (a profile's frames: no 64-bit copy of millions of them)
        by_32 = values.dtype == np.int32
        first = (_groupby.factorize_rows32 if by_32 else _groupby.factorize_rows)(
            np.ascontiguousarray(values, dtype=np.int32 if by_32 else np.int64),
            np.ascontiguousarray(starts, dtype=np.int64), inverse)
        return inverse, np.frombuffer(first, dtype=np.int64).copy()
    number: dict[tuple[int, ...], int] = {}
    firsts: list[int] = []
    for r, row in enumerate(row_tuples(values, starts)):
        g = number.setdefault(row, len(number))
        if g == len(firsts):
            firsts.append(r)
        inverse[r] = g
    return inverse, np.asarray(firsts, dtype=np.int64)


@dataclass
class PartRows:
    """Rows of several parts numbered together (see group_part_rows)."""

    starts: IntArray  # where each row starts in the values, all parts one after another (one entry more)
    first_row: IntArray  # per number, the row where it first appears (counted over all parts)
    per_part: list[IntArray]  # each part's rows as numbers
    first_part: IntArray  # per number, the part where it first appears
    first_in_part: IntArray  # ... and its row in that part

    @property
    def first_at(self) -> list[tuple[int, int]]:
        """Per number, where it first appears as (part, row in that part)."""
        return list(zip(self.first_part.tolist(), self.first_in_part.tolist(), strict=True))


def group_part_rows(values: npt.NDArray[Any], part_starts: Sequence[IntArray]) -> PartRows:
    """Rows of several parts numbered together in order of first appearance, part by part:
    part k's rows are values[o + part_starts[k][r]:o + part_starts[k][r + 1]], where o is where
    the part begins in `values` (the parts lie one after another, each from its own 0)."""
    ends = np.cumsum([0] + [int(st[-1]) for st in part_starts])
    starts = np.concatenate([st[:-1] + off for st, off in zip(part_starts, ends, strict=False)]
                            + [ends[-1:]]).astype(np.int64)
    number, first_row = factorize_rows(values, starts)
    bounds = np.cumsum([0] + [len(st) - 1 for st in part_starts])
    part_of = np.searchsorted(bounds, first_row, side="right") - 1
    per_part = [number[a:b] for a, b in pairwise(bounds.tolist())]
    return PartRows(starts, first_row, per_part, part_of, first_row - bounds[part_of])


class KeySums:
    """Sums by key that grow as keys arrive, added in arrival order: exact for ints, and for
    floats the same additions in the same order as a loop over the samples."""

    def __init__(self, weights: npt.NDArray[Any], size: int = 0) -> None:
        self.float = weights.dtype.kind == "f"
        self.exact = self.float or float(np.abs(weights).sum(dtype=np.float64)) < EXACT_FLOAT_LIMIT
        self.values = np.zeros(size, dtype=np.float64 if self.float else np.int64)

    def add(self, keys: npt.NDArray[Any], weights: npt.NDArray[Any], size: int) -> None:
        if size > len(self.values):
            self.values = np.concatenate((self.values, np.zeros(size - len(self.values), dtype=self.values.dtype)))
        if self.float or not self.exact:
            np.add.at(self.values, keys, weights)
        else:
            self.values += np.bincount(keys, weights.astype(np.float64), minlength=len(self.values)).astype(np.int64)

    def tolist(self) -> list[Value]:
        out: list[Value] = self.values.tolist()
        return out


def once_sums(ids: npt.NDArray[Any], starts: IntArray, weights: npt.NDArray[Any], size: int) -> list[Value]:
    """Per id in range(size): the sum of the weights of the samples (ids[starts[i]:starts[i + 1]]
    is sample i's) holding it, each sample once; ids < 0 are skipped. Added in sample order."""
    if hashing() and weights.dtype in (np.int64, np.float64) and len(starts) > 1:
        out = np.zeros(size, dtype=weights.dtype)
        _groupby.once_sums(np.ascontiguousarray(ids, dtype=np.int32), np.ascontiguousarray(starts, dtype=np.int64),
                           np.ascontiguousarray(weights), weights.dtype == np.float64, out)
        values: list[Value] = out.tolist()
        return values
    pos = np.flatnonzero(ids >= 0)
    sample = np.searchsorted(starts, pos, side="right") - 1
    pair = distinct(sample * max(size, 1) + ids[pos])
    acc = KeySums(weights, size)
    acc.add(pair % max(size, 1), weights[pair // max(size, 1)], size)
    return acc.tolist()


def key_sums(keys: npt.NDArray[Any], weights: npt.NDArray[Any], size: int) -> npt.NDArray[Any]:
    """sum(weights[keys == k]) for k in range(size), as an array (int64 for int weights)."""
    acc = KeySums(weights, size)
    acc.add(keys, weights, size)
    return acc.values


def sums(keys: npt.NDArray[Any], weights: npt.NDArray[Any], size: int) -> list[Value]:
    """key_sums as Python numbers (ints for int weights)."""
    out: list[Value] = key_sums(keys, weights, size).tolist()
    return out


ROWS_PER_CHUNK = 1 << 16


def row_tuples(values: npt.NDArray[Any], starts: IntArray, reverse: bool = False) -> Iterator[tuple[int, ...]]:
    """values[starts[i]:starts[i + 1]] (reversed with `reverse`) as a tuple for each i. The values
    are small non-negative ints; equal values share one int object, so that a few hundred
    thousand tuples cost their pointers, not millions of ints."""
    shared = list(range(int(values.max()) + 1)) if len(values) else []
    get = shared.__getitem__
    n = len(starts) - 1
    for first in range(0, n, ROWS_PER_CHUNK):
        last = min(n, first + ROWS_PER_CHUNK)
        lo = int(starts[first])
        chunk = list(map(get, values[lo:int(starts[last])].tolist()))
        bounds = (starts[first:last + 1] - lo).tolist()
        for k in range(last - first):
            row = chunk[bounds[k]:bounds[k + 1]]
            yield tuple(reversed(row)) if reverse else tuple(row)
