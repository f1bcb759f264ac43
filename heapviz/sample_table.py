"""The samples as one interned, columnar table: what parsing hands to every view.

A profile's samples are, in the end, a values matrix and stacks of locations. Holding them as a
Python object per sample (a list of values, a tuple of locations) costs a few hundred bytes
each and a loop per view; big profiles have hundreds of thousands. A SampleTable holds them as
arrays over the profile's interned locations (which carry the interned functions and
mappings):

- `locations`: the distinct locations the stacks use, numbered in order of first appearance
  (sample by sample, leaf first), so that nothing downstream depends on memory addresses;
- `loc_index` (int32) and `starts` (int64, one entry more than samples): sample i's stack is
  `locations[loc_index[starts[i]:starts[i + 1]]]`, leaf first;
- `values`: an (n, sample types) matrix, int64, or float64 for sampled (scaled) profiles;
- `labels`: the distinct label sets, `label_of` (int32) each sample's, or None when no sample
  has labels (pprof labels, Valgrind leak kinds).

It is also a Sequence[Sample], so code written against sample objects keeps working; the
objects are made once, on first use, and the arrays stay the truth. formats.load turns every
parser's samples into a table; graph/stacks.py, combine, prune and the filters read the arrays.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import pairwise
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from heapviz.graph.arrays import first_seen
from heapviz.model import Label, Location, Sample, Value

Int32Array = npt.NDArray[np.int32]
IntArray = npt.NDArray[np.int64]


class SampleTable(Sequence[Sample]):
    """Samples as arrays over interned locations (see the module doc)."""

    def __init__(self, locations: Sequence[Location], index: npt.NDArray[Any], starts: npt.NDArray[Any],
                 values: npt.NDArray[Any], labels: Sequence[tuple[Label, ...]] = ((),),
                 label_of: npt.NDArray[Any] | None = None, ordered: bool = False) -> None:
        """`index` may refer to `locations` in any order, and need not use all of them, unless
        `ordered` says it is already numbered by first appearance over exactly these."""
        index = np.ascontiguousarray(index, dtype=np.int32)
        if not ordered and len(index):
            inverse, first = first_seen(index.astype(np.int64))
            used = index[first]
            locations = [locations[k] for k in used.tolist()]
            index = inverse.astype(np.int32)
        elif not ordered:
            locations = []
        self.locations: list[Location] = list(locations)
        self.loc_index: Int32Array = index
        self.starts: IntArray = np.ascontiguousarray(starts, dtype=np.int64)
        n = len(self.starts) - 1
        if values.ndim != 2 or values.shape[0] != n:
            raise ValueError(f"values of shape {values.shape} for {n} samples")
        self.values = values
        self.labels: list[tuple[Label, ...]] = list(labels)
        self.label_of = None if label_of is None else np.ascontiguousarray(label_of, dtype=np.int32)
        self._objects: list[Sample] | None = None

    @classmethod
    def from_samples(cls, samples: Sequence[Sample]) -> SampleTable:
        """The table of sample objects (a table is returned as it is)."""
        if isinstance(samples, SampleTable):
            return samples
        n = len(samples)
        lens = np.fromiter((len(s.locations) for s in samples), dtype=np.int64, count=n)
        starts = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lens, out=starts[1:])
        count = int(starts[-1])
        objects = np.fromiter((id(loc) for s in samples for loc in s.locations), dtype=np.int64, count=count)
        inverse, first = first_seen(objects)
        del objects
        owner = np.searchsorted(starts, first, side="right") - 1
        locations = [samples[s].locations[p - int(starts[s])] for s, p in zip(owner.tolist(), first.tolist(),
                                                                               strict=True)]
        label_numbers: dict[tuple[Label, ...], int] = {(): 0}
        label_of = None
        if any(s.labels for s in samples):
            label_of = np.fromiter((label_numbers.setdefault(s.labels, len(label_numbers)) for s in samples),
                                   dtype=np.int32, count=n)
        table = cls(locations, inverse, starts, values_matrix(samples), list(label_numbers), label_of, ordered=True)
        table._objects = list(samples)
        return table

    # -- as a sequence of samples ---------------------------------------------------------

    def __len__(self) -> int:
        return len(self.starts) - 1

    @overload
    def __getitem__(self, i: int) -> Sample: ...

    @overload
    def __getitem__(self, i: slice) -> list[Sample]: ...

    def __getitem__(self, i: int | slice) -> Sample | list[Sample]:
        return self.objects()[i]

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.objects())

    def objects(self) -> list[Sample]:
        """The samples as objects, made once (values as Python ints or floats)."""
        if self._objects is None:
            locs = self.locations
            starts = self.starts.tolist()
            index = self.loc_index.tolist()
            rows: list[list[Value]] = self.values.tolist()
            stacks = [tuple(locs[k] for k in index[a:b]) for a, b in pairwise(starts)]
            if self.label_of is None:
                self._objects = list(map(Sample, rows, stacks))
            else:
                labels = [self.labels[k] for k in self.label_of.tolist()]
                self._objects = list(map(Sample, rows, stacks, labels))
        return self._objects

    # -- columns ------------------------------------------------------------------------------

    @property
    def lens(self) -> IntArray:
        return np.diff(self.starts)

    def column(self, i: int) -> npt.NDArray[Any]:
        col: npt.NDArray[Any] = self.values[:, i]
        return col

    def total(self, i: int) -> Value:
        """pprof's total of sample type i: the sum of |value| over samples."""
        if not len(self):
            return 0
        col = self.column(i)
        if col.dtype.kind == "f":
            # the order a Python loop adds in, so that the figure equals one to the last bit
            return float(sum(np.abs(col).tolist()))
        return int(np.abs(col).sum())

    def has_labels(self) -> bool:
        return self.label_of is not None and bool(self.label_of.any())

    def sample_labels(self) -> npt.NDArray[np.int32]:
        """Each sample's label set number (0: none)."""
        if self.label_of is None:
            return np.zeros(len(self), dtype=np.int32)
        return self.label_of

    def stacks_of(self, rows: npt.NDArray[Any]) -> tuple[Int32Array, IntArray]:
        """The stacks of the samples at `rows`, one after another, as indices into this table's
        locations, and where each starts (one entry more)."""
        rows = np.asarray(rows, dtype=np.int64)
        lens = self.lens[rows]
        starts = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lens, out=starts[1:])
        pos = np.repeat(self.starts[:-1][rows] - starts[:-1], lens) + np.arange(int(starts[-1]), dtype=np.int64)
        return self.loc_index[pos], starts


def values_matrix(samples: Sequence[Sample]) -> npt.NDArray[Any]:
    """The samples' values as an (n, types) array: int64, or float64 if any value is a float."""
    if isinstance(samples, SampleTable):
        return samples.values
    if not samples:
        return np.zeros((0, 0), dtype=np.int64)
    values = np.array([s.values for s in samples])
    if values.dtype.kind not in "if" or values.ndim != 2:  # ints beyond int64, or ragged rows
        values = np.array([s.values for s in samples], dtype=np.float64)
    return values


def fits(samples: Sequence[Sample]) -> bool:
    """Whether a table holds these samples exactly: every value an int within int64 or a float,
    and not both kinds in one profile (a table's values are all one or the other)."""
    kinds = set()
    for s in samples:
        for v in s.values:
            kinds.add(type(v))
            if type(v) is int and not -2**63 <= v < 2**63:
                return False
        if len(kinds) > 1:
            return False
    return kinds <= {int} or kinds <= {float}


def as_table(samples: Sequence[Sample]) -> Sequence[Sample]:
    """Samples as a table when one holds them exactly (see fits), else as they are."""
    if isinstance(samples, SampleTable) or not fits(samples):
        return samples
    return SampleTable.from_samples(samples)
