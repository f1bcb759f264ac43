"""Samples' stacks as small integers in flat numpy arrays, made once and read by every view.

Big profiles have hundreds of thousands of samples of 10 to 30 frames: a Python loop over
every frame of every sample, once per view, was most of heapviz's time. Instead, each
distinct location is turned into frames once (FrameMapper), every frame's node gets a dense
integer id, and a sample's stack becomes a run of ids in one array shared by all samples
(`starts[i]:starts[i + 1]` is sample i, root first). flat, cum (each node once per sample),
edges and the flame tree's levels are then sums over these arrays.

Sums of integer values are made in float64 and turned back into ints, which is exact while
the sum of absolute values stays below 2**53 (8 PiB); above that numpy's exact integer
scatter-add is used. Float values (sampled profiles) are added in sample order, the order a
Python loop over the samples would use, so the results are the same to the last bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from heapviz.graph.nodes import FrameMapper, NodeInfo, NodeOptions
from heapviz.model import Location, Sample, Value

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
_EXACT = float(2**53)
_locations_of = attrgetter("locations")
_values_of = attrgetter("values")
_id_field_of = attrgetter("id")


def distinct(x: IntArray) -> IntArray:
    """The distinct values of x, sorted (numpy's own unique hashes, which is slower here)."""
    s = np.sort(x)
    return s[np.concatenate(([True], s[1:] != s[:-1]))] if len(s) else s


def first_of_each(x: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], IntArray]:
    """The distinct values of x, sorted, and where each first appears in x. Fast when x is
    nearly sorted already (keys that start with the sample number)."""
    order = np.argsort(x, kind="stable")
    s = x[order]
    start = np.concatenate(([True], s[1:] != s[:-1])) if len(s) else np.zeros(0, dtype=np.bool_)
    return s[start], order[start]


def index_of(x: IntArray, want_first: bool = True) -> tuple[IntArray, IntArray, npt.NDArray[Any]]:
    """(distinct values of x sorted, where each first appears (empty unless `want_first`), x as
    indices into the distinct values): numpy's unique with index and inverse, with a lookup
    table when x spans a small range."""
    n = len(x)
    if not n:
        return x, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lo, hi = int(x.min()), int(x.max())
    if hi - lo <= 4 * n + (1 << 20) and hi - lo < 2**31:
        shifted = x - lo if lo else x
        present = np.zeros(hi - lo + 1, dtype=np.bool_)
        present[shifted] = True
        values = np.flatnonzero(present) + lo
        lookup = np.cumsum(present, dtype=np.int32)
        del present
        lookup -= 1
        inverse: npt.NDArray[Any] = lookup[shifted]
        del lookup, shifted
    else:
        values = distinct(x)
        inverse = np.searchsorted(values, x)
    first = np.full(len(values) if want_first else 0, n, dtype=np.int64)
    if want_first:
        np.minimum.at(first, inverse, np.arange(n, dtype=np.int32))
    return values.astype(x.dtype, copy=False), first, inverse


def sums(keys: npt.NDArray[Any], weights: npt.NDArray[Any], size: int) -> list[Value]:
    """sum(weights[keys == k]) for k in range(size), as Python numbers (ints for int weights)."""
    if weights.dtype.kind == "f":
        out: list[Value] = np.bincount(keys, weights, minlength=size).tolist()
        return out
    if float(np.abs(weights).sum(dtype=np.float64)) < _EXACT:
        exact: list[Value] = np.bincount(keys, weights.astype(np.float64), minlength=size).astype(np.int64).tolist()
        return exact
    scattered = np.zeros(size, dtype=np.int64)
    np.add.at(scattered, keys, weights)
    big: list[Value] = list(scattered.tolist())
    return big


def sample_values(samples: Sequence[Sample]) -> npt.NDArray[Any]:
    """The samples' values as an (n, types) array: int64, or float64 if any value is a float."""
    if not samples:
        return np.zeros((0, 0), dtype=np.int64)
    values = np.array(list(map(_values_of, samples)))
    if values.dtype.kind not in "if" or values.ndim != 2:  # ints beyond int64, or ragged rows
        values = np.array(list(map(_values_of, samples)), dtype=np.float64)
    return values


class LocationTable:
    """The samples' locations as dense indices: `locations[k]` is a distinct location object and
    `index[loc_starts[i]:loc_starts[i + 1]]` are sample i's locations, leaf first. Per-frame
    arrays are int32 (frames and distinct locations fit) to keep big profiles small."""

    def __init__(self, samples: Sequence[Sample]) -> None:
        n = len(samples)
        lens = np.fromiter(map(len, map(_locations_of, samples)), dtype=np.int64, count=n)
        self.loc_starts: IntArray = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lens, out=self.loc_starts[1:])
        count = int(self.loc_starts[-1])
        chained = chain.from_iterable
        # Parsers number their locations densely: group by that number, then check that each
        # number is one object. Where it is not (filters may copy a location, with fewer
        # inline frames, keeping its number), group by object.
        numbers = np.fromiter(map(_id_field_of, chained(map(_locations_of, samples))), dtype=np.int64, count=count)
        _, first, inverse = index_of(numbers)
        del numbers
        objects = np.fromiter(map(id, chained(map(_locations_of, samples))), dtype=np.int64, count=count)
        if not np.array_equal(objects[first][inverse], objects):
            _, first, inverse = index_of(objects)
        del objects
        # numbered in order of first appearance, so that nothing depends on memory addresses
        order = np.argsort(first, kind="stable")
        rank = np.empty(len(order), dtype=np.int32)
        rank[order] = np.arange(len(order), dtype=np.int32)
        first = first[order]
        self.index: npt.NDArray[np.int32] = rank[inverse]
        del inverse
        owner = np.searchsorted(self.loc_starts, first, side="right") - 1
        starts = self.loc_starts
        self.locations: list[Location] = [samples[s].locations[p - starts[s]]
                                          for s, p in zip(owner.tolist(), first.tolist(), strict=True)]
        self.lens = lens
        self.samples = samples

    def __len__(self) -> int:
        return len(self.samples)

    def keys(self, of_location: Sequence[int]) -> list[tuple[int, ...]]:
        """Each sample's stack as a tuple of `of_location[k]` values, leaf first: equal stacks,
        equal keys (hashing small tuples of ints is cheap)."""
        ids = np.asarray(of_location, dtype=np.int64)[self.index].tolist() if len(self.index) else []
        b = self.loc_starts.tolist()
        return [tuple(ids[b[i]:b[i + 1]]) for i in range(len(self.samples))]


@dataclass(frozen=True)
class FrameInfo:
    """What the flame tree shows of a frame: its node and, for the label, its full name and binary."""

    node: int
    full_name: str
    binary: str
    inline: bool


class StackTable:
    """Every sample's frames at a granularity, root first, as node ids (see the module doc)."""

    def __init__(self, samples: Sequence[Sample], options: NodeOptions, locations: LocationTable | None = None,
                 values: npt.NDArray[Any] | None = None) -> None:
        locs = locations if locations is not None else LocationTable(samples)
        self.locations = locs
        self.samples = samples
        self.options = options
        self.values = values if values is not None else sample_values(samples)
        mapper = FrameMapper(options)
        node_ids: dict[NodeInfo, int] = {}
        frame_ids: dict[FrameInfo, int] = {}
        self.nodes: list[NodeInfo] = []
        self.frame_info: list[FrameInfo] = []
        self.full_names: list[set[str]] = []
        # per distinct location: its frame ids, root first (outer function, then what it inlined)
        loc_frames: list[int] = []
        loc_count = np.zeros(len(locs.locations), dtype=np.int64)
        for k, loc in enumerate(locs.locations):
            binary = loc.mapping.basename if loc.mapping is not None else ""
            of_loc = mapper.frames(loc)
            loc_count[k] = len(of_loc)
            for fr in reversed(of_loc):
                node = node_ids.get(fr.node)
                if node is None:
                    node = node_ids[fr.node] = len(self.nodes)
                    self.nodes.append(fr.node)
                    self.full_names.append(set())
                self.full_names[node].add(fr.full_name)
                info = FrameInfo(node, fr.full_name, binary, fr.inline)
                fid = frame_ids.get(info)
                if fid is None:
                    fid = frame_ids[info] = len(self.frame_info)
                    self.frame_info.append(info)
                loc_frames.append(fid)
        self.node_index = node_ids
        frame_node = np.array([f.node for f in self.frame_info], dtype=np.int32)
        frame_inline = np.array([f.inline for f in self.frame_info], dtype=np.bool_)
        loc_first = np.zeros(len(loc_count) + 1, dtype=np.int64)
        np.cumsum(loc_count, out=loc_first[1:])

        # the samples' locations root first: reverse each sample's run
        starts, lens = locs.loc_starts, locs.lens
        last = (starts[:-1] + starts[1:] - 1).astype(np.int32)  # each sample's last position
        reversed_pos = np.repeat(last, lens)
        reversed_pos -= np.arange(len(locs.index), dtype=np.int32)
        root_first = np.empty_like(locs.index)
        root_first[reversed_pos] = locs.index
        del reversed_pos
        loc_frames_array = np.asarray(loc_frames, dtype=np.int32)
        if len(loc_count) and int(loc_count.max()) == 1 and int(loc_count.min()) == 1:
            # no inline frames: one frame per location
            frames = loc_frames_array[root_first]
            frame_starts = starts
        else:
            # each location's frames in its place
            per = loc_count[root_first]
            before = np.zeros(len(per) + 1, dtype=np.int64)
            np.cumsum(per, out=before[1:])
            total = int(before[-1])
            where = np.repeat(loc_first[:-1][root_first].astype(np.int32), per)
            where += np.arange(total, dtype=np.int32)
            where -= np.repeat(before[:-1].astype(np.int32), per)
            frames = loc_frames_array[where] if total else np.zeros(0, dtype=np.int32)
            frame_starts = before[starts]
        del root_first
        self.frames: npt.NDArray[np.int32] = frames
        self.ids: npt.NDArray[np.int32] = frame_node[frames]
        self.inline: BoolArray = frame_inline[frames]
        self.starts: IntArray = frame_starts
        self.sample_of: npt.NDArray[np.int32] = np.repeat(np.arange(len(samples), dtype=np.int32),
                                                          np.diff(self.starts))

    def weights(self, index: int) -> npt.NDArray[Any]:
        if not len(self.samples):
            return np.zeros(0, dtype=np.int64)
        column: npt.NDArray[Any] = self.values[:, index]
        return column

    def node_mask(self, nodes: set[NodeInfo]) -> BoolArray:
        mask = np.zeros(len(self.nodes), dtype=np.bool_)
        ids = [self.node_index[n] for n in nodes if n in self.node_index]
        mask[ids] = True
        return mask


@dataclass
class Sums:
    """flat and cum per node id, and caller -> callee edges, over the samples with a value."""

    flat: dict[int, Value]
    cum: dict[int, Value]
    edge_weight: dict[tuple[int, int], Value]
    edge_residual: set[tuple[int, int]]  # reached at least once across dropped frames
    edge_inline: dict[tuple[int, int], bool]  # every contribution came through an inlined call
    leaf_samples: npt.NDArray[np.int64]  # samples whose flat went to a kept leaf
    leaf_nodes: npt.NDArray[np.int64]  # ... and that leaf's node id


@dataclass
class _Shape:
    """What node_sums needs that depends only on which samples count and which nodes are kept,
    not on the values: shared by sample types with the same non-zero samples."""

    pair_sample: npt.NDArray[np.int32]  # (sample, node) pairs, each once, sorted by sample: cum
    pair_node: npt.NDArray[np.int32]
    cum_nodes: list[int]
    leaf_samples: IntArray
    leaf_nodes: IntArray
    flat_nodes: list[int]
    edges: list[tuple[int, int]]
    edge_sample: npt.NDArray[np.int32]  # (sample, edge) pairs, each once, sorted by sample
    edge_index: npt.NDArray[np.int32]
    residual: list[bool]
    inline_first: list[bool]  # flags read at each edge's first occurrence in a sample
    inline_all: list[bool]  # ... at every occurrence


def _shape(t: StackTable, active: BoolArray, kept: BoolArray | None) -> _Shape:
    n_nodes = max(len(t.nodes), 1)
    elements = active[t.sample_of] if len(t.ids) else np.zeros(0, dtype=np.bool_)
    if kept is not None and len(t.ids):
        elements &= kept[t.ids]
    sel = np.flatnonzero(elements).astype(np.int32)
    del elements
    samp = t.sample_of[sel]
    node = t.ids[sel]
    # cum: each (sample, node) once; sorted by sample, so sums run in sample order
    pair = samp.astype(np.int64)
    pair *= n_nodes
    pair += node
    pair.sort()
    pair = pair[np.concatenate(([True], pair[1:] != pair[:-1]))] if len(pair) else pair
    pair_node = (pair % n_nodes).astype(np.int32)
    pair //= n_nodes
    pair_sample = pair.astype(np.int32)
    del pair
    cum_nodes = np.flatnonzero(np.bincount(pair_node, minlength=n_nodes)).tolist()
    # flat: the sample's last frame, if it is kept
    leaf_samples = np.flatnonzero(active & (np.diff(t.starts) > 0))
    leaf_pos = t.starts[leaf_samples + 1] - 1
    if kept is not None:
        ok = kept[t.ids[leaf_pos]]
        leaf_samples, leaf_pos = leaf_samples[ok], leaf_pos[ok]
    leaf_nodes = t.ids[leaf_pos].astype(np.int64)
    flat_nodes = np.flatnonzero(np.bincount(leaf_nodes, minlength=n_nodes)).tolist()
    # edges between consecutive kept frames of a sample, no self edges
    edge = (samp[1:] == samp[:-1]) & (node[1:] != node[:-1])
    del samp, node
    parent_pos, child_pos = sel[:-1][edge], sel[1:][edge]
    del sel, edge
    key = t.ids[parent_pos].astype(np.int64)
    key *= n_nodes
    key += t.ids[child_pos]
    edge_keys, _, edge_of64 = index_of(key, want_first=False)
    edge_of = edge_of64.astype(np.int32)
    del key, edge_of64
    n_edges = max(len(edge_keys), 1)
    # each edge once per sample
    key = t.sample_of[child_pos].astype(np.int64)
    key *= n_edges
    key += edge_of
    ordered = np.sort(key)
    new = ordered[1:] != ordered[:-1]
    repeated = ordered[1:][~new]  # an edge seen again in the same sample (recursion)
    per_sample = ordered[np.concatenate(([True], new))] if len(ordered) else ordered
    del ordered, new
    edge_index = (per_sample % n_edges).astype(np.int32)
    per_sample //= n_edges
    edge_sample = per_sample.astype(np.int32)
    del per_sample
    # pprof reads an edge's flags at its first occurrence in a sample
    first: BoolArray | slice = slice(None)
    if len(repeated):
        again = np.flatnonzero(np.isin(key, distinct(repeated)))
        first = np.ones(len(key), dtype=np.bool_)
        first[again] = False
        first[again[first_of_each(key[again])[1]]] = True
    del key, repeated
    residual = np.bincount(edge_of[first], weights=(child_pos - parent_pos > 1)[first], minlength=n_edges) > 0
    direct = ~t.inline[child_pos]
    direct_first = np.bincount(edge_of[first], weights=direct[first], minlength=n_edges) > 0
    direct_all = np.bincount(edge_of, weights=direct, minlength=n_edges) > 0
    edges = [divmod(k, n_nodes) for k in edge_keys.tolist()]
    m = len(edges)
    return _Shape(pair_sample, pair_node, cum_nodes, leaf_samples, leaf_nodes, flat_nodes, edges, edge_sample,
                  edge_index, residual[:m].tolist(), (~direct_first[:m]).tolist(), (~direct_all[:m]).tolist())


def node_sums(t: StackTable, index: int, kept: BoolArray | None = None, first_only: bool = True) -> Sums:
    """pprof's newGraph sums: cum and each edge once per sample, no self edges; frames whose
    node is not `kept` are skipped and make the next edge residual; flat goes to the leaf
    only if it is kept. An edge's inline flag is read at its first occurrence in each sample
    when `first_only` (as pprof's graph does), else at every occurrence; residual always at
    the first."""
    return node_sums_many(t, (index,), kept, first_only)[0]


def node_sums_many(t: StackTable, indices: Sequence[int], kept: BoolArray | None = None,
                   first_only: bool = True) -> list[Sums]:
    """node_sums for several sample types; those with the same non-zero samples share the work."""
    n_nodes = max(len(t.nodes), 1)
    out: list[Sums] = []
    shape: _Shape | None = None
    shape_of: BoolArray | None = None
    for index in indices:
        w = t.weights(index)
        active = w != 0
        if shape is None or shape_of is None or not np.array_equal(active, shape_of):
            shape = None  # let the previous one go before making the next
            shape, shape_of = _shape(t, active, kept), active
        cum_values = sums(shape.pair_node, w[shape.pair_sample], n_nodes)
        flat_values = sums(shape.leaf_nodes, w[shape.leaf_samples], n_nodes)
        edges = shape.edges
        weights = sums(shape.edge_index, w[shape.edge_sample], max(len(edges), 1))
        inline = shape.inline_first if first_only else shape.inline_all
        out.append(Sums(
            flat={i: flat_values[i] for i in shape.flat_nodes},
            cum={i: cum_values[i] for i in shape.cum_nodes},
            edge_weight=dict(zip(edges, weights, strict=False)),
            edge_residual={e for e, r in zip(edges, shape.residual, strict=True) if r},
            edge_inline=dict(zip(edges, inline, strict=True)),
            leaf_samples=shape.leaf_samples, leaf_nodes=shape.leaf_nodes,
        ))
    return out
