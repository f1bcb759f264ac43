"""Samples' stacks as small integers in flat numpy arrays, made once and read by every view.

Big profiles have hundreds of thousands of samples of 10 to 30 frames: a Python loop over
every frame of every sample, once per view, was most of heapviz's time. Instead, each
distinct location is turned into frames once (FrameMapper), every frame's node gets a dense
integer id, and a sample's stack becomes a run of ids in one array shared by all samples
(`starts[i]:starts[i + 1]` is sample i, root first). flat, cum (each node once per sample),
edges and the flame tree's levels are then sums over these arrays.

Sums are exact for ints and, for floats (sampled profiles), made in sample order, the order a
Python loop over the samples would use, so the results are the same to the last bit. The
array helpers behind this (distinct values, first occurrences, sums by key) are in arrays.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from heapviz.graph.arrays import (BoolArray, IntArray, KeySums, distinct, hashing, index_of)
from heapviz.graph.nodes import FrameMapper, NodeInfo, NodeOptions
from heapviz.model import Sample, Value
from heapviz.sample_table import SampleTable

if TYPE_CHECKING:
    from heapviz.graph.untrimmed import NodeSums

try:
    from heapviz.graph import _groupby  # type: ignore[attr-defined]
except ImportError:  # built without a C compiler: hashing() is False and the numpy pass runs
    _groupby = None

_locations_of = attrgetter("locations")
_id_field_of = attrgetter("id")


@dataclass(frozen=True)
class FrameInfo:
    """What the flame tree shows of a frame: its node and, for the label, its full name and binary."""

    node: int
    full_name: str
    binary: str
    inline: bool


class StackTable:
    """Every sample's frames at a granularity, root first, as node ids (see the module doc)."""

    def __init__(self, samples: Sequence[Sample], options: NodeOptions, locations: SampleTable | None = None,
                 values: npt.NDArray[Any] | None = None) -> None:
        locs = locations if locations is not None else SampleTable.from_samples(samples)
        self.locations = locs
        self.samples = samples
        self.options = options
        self.values = values if values is not None else locs.values
        mapper = FrameMapper(options)
        self._mappers = {options: mapper}
        node_ids: dict[NodeInfo, int] = {}
        frame_ids: dict[tuple[int, str, str, bool], int] = {}  # FrameInfo's fields: a tuple hashes in C
        self.nodes: list[NodeInfo] = []
        self.frame_info: list[FrameInfo] = []
        self.full_names: list[set[str]] = []
        # per distinct location: its frame ids, root first (outer function, then what it inlined)
        loc_frames: list[int] = []
        counts: list[int] = []
        basenames: dict[int, str] = {}  # per mapping object
        for loc in locs.locations:
            m = loc.mapping
            binary = "" if m is None else basenames.get(id(m)) or basenames.setdefault(id(m), m.basename)
            of_loc = mapper.frames(loc)
            counts.append(len(of_loc))
            for fr in reversed(of_loc):
                node = node_ids.get(fr.node)
                if node is None:
                    node = node_ids[fr.node] = len(self.nodes)
                    self.nodes.append(fr.node)
                    self.full_names.append(set())
                self.full_names[node].add(fr.full_name)
                key = (node, fr.full_name, binary, fr.inline)
                fid = frame_ids.get(key)
                if fid is None:
                    fid = frame_ids[key] = len(self.frame_info)
                    self.frame_info.append(FrameInfo(*key))
                loc_frames.append(fid)
        self.node_index = node_ids
        loc_count = np.array(counts, dtype=np.int64)
        frame_node = np.array([f.node for f in self.frame_info], dtype=np.int32)
        frame_inline = np.array([f.inline for f in self.frame_info], dtype=np.bool_)
        loc_first = np.zeros(len(loc_count) + 1, dtype=np.int64)
        np.cumsum(loc_count, out=loc_first[1:])

        # the samples' locations root first: reverse each sample's run
        starts, lens = locs.starts, locs.lens
        last = (starts[:-1] + starts[1:] - 1).astype(np.int32)  # each sample's last position
        reversed_pos = np.repeat(last, lens)
        reversed_pos -= np.arange(len(locs.loc_index), dtype=np.int32)
        root_first = np.empty_like(locs.loc_index)
        root_first[reversed_pos] = locs.loc_index
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
        # no inlined frame (most profiles): zeros, which cost no pages until written
        self.inline: BoolArray = frame_inline[frames] if frame_inline.any() else np.zeros(len(frames), dtype=np.bool_)
        self.starts: IntArray = frame_starts
        # node_sums without a keep-set, by (sample index, first_only): made once per table
        self.untrimmed_sums: dict[tuple[int, bool], Sums] = {}
        # the same nodes' sums without the edges (untrimmed.untrimmed_nodes), by sample index
        self.untrimmed_nodes: dict[int, NodeSums] = {}
        # each sample's object size by Profile.size_pairs (graph/build.py's nodelets), made once
        self.block_sizes: dict[tuple[tuple[int, int], ...], IntArray] = {}

    @cached_property
    def sample_of(self) -> npt.NDArray[np.int32]:
        """Each frame's sample (made when first asked for: the compiled pass does without)."""
        return np.repeat(np.arange(len(self.samples), dtype=np.int32), np.diff(self.starts))

    def mapper(self, options: NodeOptions) -> FrameMapper:
        """A FrameMapper at `options` shared by the table's readers: each location is mapped once
        per granularity (the report's leak sites and their source lines both map every location)."""
        got = self._mappers.get(options)
        if got is None:
            got = self._mappers[options] = FrameMapper(options)
        return got

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


class Sums:
    """flat and cum per node id, and caller -> callee edges, over the samples with a value.

    Edges are arrays (parent and child ids, one sum per edge, flags), in a fixed order: a big
    profile of a recursive program has a million distinct edges, and a view usually needs only
    those between a few kept nodes. The dicts edge_weight, edge_residual and edge_inline are
    made from them when first asked for."""

    def __init__(self, flat: dict[int, Value], cum: dict[int, Value], edge_parent: IntArray, edge_child: IntArray,
                 edge_values: npt.NDArray[Any] | Callable[[], npt.NDArray[Any]], residual: BoolArray,
                 inline: BoolArray, leaf_samples: IntArray, leaf_nodes: IntArray) -> None:
        self.flat = flat
        self.cum = cum
        self.edge_parent = edge_parent
        self.edge_child = edge_child
        self._edge_values = edge_values  # or what makes them, when first asked for
        self.residual = residual  # reached at least once across dropped frames
        self.inline = inline  # every contribution came through an inlined call
        self.leaf_samples = leaf_samples  # samples whose flat went to a kept leaf
        self.leaf_nodes = leaf_nodes  # ... and that leaf's node id

    @property
    def edge_values(self) -> npt.NDArray[Any]:
        """Each edge's weight: int64, or float64 for float samples."""
        v = self._edge_values
        if callable(v):
            v = self._edge_values = v()
        return v

    def edges(self, mask: BoolArray | slice = slice(None)) -> list[tuple[int, int]]:
        return list(zip(self.edge_parent[mask].tolist(), self.edge_child[mask].tolist(), strict=True))

    @cached_property
    def edge_weight(self) -> dict[tuple[int, int], Value]:
        return dict(zip(self.edges(), self.edge_values.tolist(), strict=True))

    @cached_property
    def edge_residual(self) -> set[tuple[int, int]]:
        return set(self.edges(self.residual))

    @cached_property
    def edge_inline(self) -> dict[tuple[int, int], bool]:
        return dict(zip(self.edges(), self.inline.tolist(), strict=True))


CHUNK_FRAMES = 1 << 20  # node_sums works on this many frames at a time, to bound its memory


def _chunks(t: StackTable) -> Iterator[tuple[int, int]]:
    """Ranges of samples with about CHUNK_FRAMES frames each (one sample may be more)."""
    n = len(t.samples)
    first = 0
    while first < n:
        end = int(np.searchsorted(t.starts, t.starts[first] + CHUNK_FRAMES, side="right")) - 1
        end = min(max(end, first + 1), n)
        yield first, end
        first = end


def node_sums(t: StackTable, index: int, kept: BoolArray | None = None, first_only: bool = True) -> Sums:
    """pprof's newGraph sums: cum and each edge once per sample, no self edges; frames whose
    node is not `kept` are skipped and make the next edge residual; flat goes to the leaf
    only if it is kept. An edge's inline flag is read at its first occurrence in each sample
    when `first_only` (as pprof's graph does), else at every occurrence; residual always at
    the first."""
    return node_sums_many(t, (index,), kept, first_only)[0]


def node_sums_many(t: StackTable, indices: Sequence[int], kept: BoolArray | None = None,
                   first_only: bool = True) -> list[Sums]:
    """node_sums for several sample types; those with the same non-zero samples share one pass.
    Without `kept`, a pass sums every sample type with those non-zero samples and the table
    keeps the result: the report's graph and tables both start from these sums."""
    out: dict[int, Sums] = {}
    todo = [i for i in indices if kept is not None or (i, first_only) not in t.untrimmed_sums]
    while todo:
        active = t.weights(todo[0]) != 0
        candidates = range(t.values.shape[1]) if kept is None and len(t.samples) else todo
        same = [i for i in candidates if np.array_equal(t.weights(i) != 0, active)]
        # those asked for first: the others' edge sums are made only if they are read
        asked = [i for i in same if i in todo]
        same = asked + [i for i in same if i not in todo]
        for i, (by_first, by_all) in zip(same, _sums_pass(t, same, active, kept, len(asked)), strict=True):
            out[i] = by_first if first_only else by_all
            if kept is None:
                t.untrimmed_sums[(i, True)], t.untrimmed_sums[(i, False)] = by_first, by_all
        todo = [i for i in todo if i not in same]
    return [out[i] if i in out else t.untrimmed_sums[(i, first_only)] for i in indices]


@dataclass
class _EdgePass:
    """A pass's edges, numbered in their final order: chunk by chunk (see _chunks), each chunk's
    new edges by key (parent * nodes + child)."""

    keys: IntArray
    sums: list[KeySums]
    residual: BoolArray
    direct_first: BoolArray
    direct_all: BoolArray


def _sums_pass(t: StackTable, indices: list[int], active: BoolArray, kept: BoolArray | None,
               with_edges: int | None = None, record: BoolArray | None = None) -> list[tuple[Sums, Sums]]:
    """Each sample type's sums with edge inline flags read at first occurrences, and at all. The
    edge sums of the types after the first `with_edges` are made by another pass when read (the
    same edges in the same order: the same samples and nodes)."""
    n_nodes = max(len(t.nodes), 1)
    weights = [t.weights(i) for i in indices]
    cum = [KeySums(w, n_nodes) for w in weights]
    has_cum = np.zeros(n_nodes, dtype=np.bool_)
    if hashing() and len(t.samples) and t.values.dtype in (np.int64, np.float64):
        e = _compiled_pass(t, indices, active, kept, cum, has_cum, max(1, min(with_edges or len(indices),
                                                                            len(indices))), record)
    else:
        e = _numpy_pass(t, weights, active, kept, cum, has_cum)
        if record is not None:  # the same edges, those with an end among `record`'s nodes
            parent_of, child_of = np.divmod(e.keys, n_nodes)
            mine = record[parent_of] | record[child_of]
            e = _EdgePass(e.keys[mine], [_picked(acc, mine) for acc in e.sums], e.residual[mine],
                          e.direct_first[mine], e.direct_all[mine])
    leaf_samples, leaf_nodes, dicts = node_dicts(t, weights, active, kept, cum, has_cum)
    parent, child = np.divmod(e.keys, n_nodes)
    inline_first, inline_all = ~e.direct_first, ~e.direct_all
    out = []
    for j, (flat_of, cum_of) in enumerate(dicts):
        values: npt.NDArray[Any] | Callable[[], npt.NDArray[Any]] = (
            e.sums[j].values if j < len(e.sums) else _EdgeValues(t, indices[j], active, kept))
        out.append((Sums(flat_of, cum_of, parent, child, values, e.residual, inline_first, leaf_samples, leaf_nodes),
                    Sums(flat_of, cum_of, parent, child, values, e.residual, inline_all, leaf_samples, leaf_nodes)))
    return out


def _picked(acc: KeySums, mine: BoolArray) -> KeySums:
    out = KeySums(acc.values)
    out.values = acc.values[mine]
    return out


def node_sums_touching(t: StackTable, index: int, record: BoolArray) -> Sums:
    """node_sums without a keep-set (first_only), but only the edges with an end among the nodes
    of `record`: the peek view's few functions' callers and callees, without hashing the other
    edges of a recursive program's million (the same edges, sums, flags and order as the full
    pass's, fewer of them). Uses the full pass's sums when they are made already."""
    made = t.untrimmed_sums.get((index, True))
    if made is not None:
        return made
    active = t.weights(index) != 0
    return _sums_pass(t, [index], active, None, 1, record)[0][0]


def node_dicts(t: StackTable, weights: list[npt.NDArray[Any]], active: BoolArray, kept: BoolArray | None,
                cum: list[KeySums], has_cum: BoolArray) -> tuple[IntArray, IntArray, list[tuple[dict[int, Value],
                                                                                              dict[int, Value]]]]:
    """The leaves (samples whose flat went to a kept leaf, and that leaf's node) and each sample
    type's (flat, cum) dicts: flat is each sample's last frame, if it is kept; cum the pass's."""
    n_nodes = max(len(t.nodes), 1)
    n = len(t.samples)
    leaf_samples = np.flatnonzero(active[:n] & (np.diff(t.starts) > 0))
    leaf_pos = t.starts[leaf_samples + 1] - 1
    if kept is not None:
        ok = kept[t.ids[leaf_pos]]
        leaf_samples, leaf_pos = leaf_samples[ok], leaf_pos[ok]
    leaf_nodes = t.ids[leaf_pos].astype(np.int64)
    flat = [KeySums(w, n_nodes) for w in weights]
    for acc, w in zip(flat, weights, strict=True):
        acc.add(leaf_nodes, w[leaf_samples], n_nodes)
    cum_nodes = np.flatnonzero(has_cum).tolist()
    flat_nodes = np.flatnonzero(np.bincount(leaf_nodes, minlength=n_nodes)).tolist()
    out = []
    for c, f in zip(cum, flat, strict=True):
        cum_values, flat_values = c.tolist(), f.tolist()
        out.append(({i: flat_values[i] for i in flat_nodes}, {i: cum_values[i] for i in cum_nodes}))
    return leaf_samples, leaf_nodes, out


class _EdgeValues:
    """A sample type's edge sums, made by a pass of their own when first read (and then kept)."""

    def __init__(self, t: StackTable, index: int, active: BoolArray, kept: BoolArray | None) -> None:
        self.args: tuple[StackTable, int, BoolArray, BoolArray | None] | None = (t, index, active, kept)
        self.values: npt.NDArray[Any] | None = None

    def __call__(self) -> npt.NDArray[Any]:
        if self.values is None:
            assert self.args is not None
            t, index, active, kept = self.args
            self.values, self.args = _sums_pass(t, [index], active, kept)[0][0].edge_values, None
        return self.values


def _compiled_pass(t: StackTable, indices: list[int], active: BoolArray, kept: BoolArray | None,
                   cum: list[KeySums], has_cum: BoolArray, with_edges: int,
                   record: BoolArray | None = None) -> _EdgePass:
    """The pass as one walk over the frames in C (_groupby.stack_pass): a stamp per node and per
    edge instead of sorting, edges numbered by a hash table and then put in _EdgePass's order,
    sums added there in sample order (the same additions, in the same order, as _numpy_pass).
    Edge sums of the first `with_edges` sample types only."""
    n_nodes = max(len(t.nodes), 1)
    k = len(indices)
    weights = np.ascontiguousarray(t.values[:, indices])
    floats = weights.dtype == np.float64
    node_sums = np.zeros((n_nodes, k), dtype=weights.dtype)
    keep = b"" if kept is None else np.ascontiguousarray(kept, dtype=np.bool_).view(np.uint8)
    raw_keys, raw_first, raw_sums, *flags, raw_counted = _groupby.stack_pass(
        np.ascontiguousarray(t.ids, dtype=np.int32), np.ascontiguousarray(t.starts, dtype=np.int64),
        np.ascontiguousarray(active, dtype=np.bool_).view(np.uint8), keep,
        np.ascontiguousarray(t.inline, dtype=np.bool_).view(np.uint8), n_nodes, weights, k, floats, node_sums,
        with_edges, *(() if record is None else (np.ascontiguousarray(record, dtype=np.bool_).view(np.uint8),)))
    for j, acc in enumerate(cum):
        acc.values = node_sums[:, j].copy()
    # a node has a cum if a frame of it was counted: a kept node in an active sample
    has_cum |= np.frombuffer(raw_counted, dtype=np.bool_)
    keys, first = np.frombuffer(raw_keys, dtype=np.int64), np.frombuffer(raw_first, dtype=np.int64)
    edge_sums = np.frombuffer(raw_sums, dtype=weights.dtype).reshape(len(keys), with_edges)
    residual, direct_first, direct_all = (np.frombuffer(b, dtype=np.bool_) for b in flags)
    # the edges in the order the chunked numpy pass numbers them
    chunk_starts = np.array([a for a, _ in _chunks(t)], dtype=np.int64)
    chunk = np.searchsorted(chunk_starts, np.searchsorted(t.starts, first, side="right") - 1, side="right")
    # by (chunk, key) as one int64 (keys < nodes**2, chunks < frames): distinct, so any sort will do
    order = np.argsort(chunk * (n_nodes * n_nodes) + keys) if n_nodes < 2**20 else np.lexsort((keys, chunk))
    sums = []
    for j, i in enumerate(indices[:with_edges]):
        acc = KeySums(t.weights(i))
        acc.values = edge_sums[order, j]
        sums.append(acc)
    return _EdgePass(keys[order], sums, residual[order], direct_first[order], direct_all[order])


def _numpy_pass(t: StackTable, weights: list[npt.NDArray[Any]], active: BoolArray, kept: BoolArray | None,
                cum: list[KeySums], has_cum: BoolArray) -> _EdgePass:
    """The pass in numpy, CHUNK_FRAMES frames at a time, grouping by sorting."""
    n_nodes = max(len(t.nodes), 1)
    edge_weight = [KeySums(w) for w in weights]
    edge_number: dict[int, int] = {}  # parent * nodes + child -> edge
    residual = np.zeros(0, dtype=np.bool_)
    direct_first = np.zeros(0, dtype=np.bool_)
    direct_all = np.zeros(0, dtype=np.bool_)
    for first_sample, end_sample in _chunks(t):
        f0, f1 = int(t.starts[first_sample]), int(t.starts[end_sample])
        elements = active[t.sample_of[f0:f1]]
        if kept is not None:
            elements &= kept[t.ids[f0:f1]]
        sel = np.flatnonzero(elements)
        sel += f0
        samp = t.sample_of[sel]
        node = t.ids[sel]
        # cum: each (sample, node) once; sorted by sample, so sums run in sample order
        pair = samp.astype(np.int64)
        pair *= n_nodes
        pair += node
        pair = distinct(pair)
        pair_node = pair % n_nodes
        pair //= n_nodes
        for acc, w in zip(cum, weights, strict=True):
            acc.add(pair_node, w[pair], n_nodes)
        has_cum[pair_node] = True
        del pair, pair_node
        # edges between consecutive kept frames of a sample, no self edges
        is_edge = (samp[1:] == samp[:-1]) & (node[1:] != node[:-1])
        parent_pos, child_pos = sel[:-1][is_edge], sel[1:][is_edge]
        del samp, node, sel, is_edge
        key = t.ids[parent_pos].astype(np.int64)
        key *= n_nodes
        key += t.ids[child_pos]
        local_keys, _, local_of = index_of(key, want_first=False)
        del key
        # this chunk's edges numbered for the whole pass, in order of their keys
        numbers = np.array([edge_number.setdefault(k, len(edge_number)) for k in local_keys.tolist()],
                           dtype=np.int64)
        n_edges = len(edge_number)
        edge_of = numbers[local_of] if len(local_of) else np.zeros(0, dtype=np.int64)
        del local_of
        # each edge once per sample
        per = t.sample_of[child_pos].astype(np.int64)
        per *= max(n_edges, 1)
        per += edge_of
        ordered = np.sort(per)
        new = ordered[1:] != ordered[:-1]
        repeated = ordered[1:][~new]  # an edge seen again in the same sample (recursion)
        once = ordered[np.concatenate(([True], new))] if len(ordered) else ordered
        del ordered, new
        once_edge = once % max(n_edges, 1)
        once //= max(n_edges, 1)
        for acc, w in zip(edge_weight, weights, strict=True):
            acc.add(once_edge, w[once], n_edges)
        del once, once_edge
        # pprof reads an edge's flags at its first occurrence in a sample
        first: BoolArray | slice = slice(None)
        if len(repeated):
            again = np.flatnonzero(np.isin(per, distinct(repeated)))
            first = np.ones(len(per), dtype=np.bool_)
            first[again] = False
            first[again[index_of(per[again])[1]]] = True
        del per, repeated
        grow = n_edges - len(residual)
        residual, direct_first, direct_all = (np.concatenate((a, np.zeros(grow, dtype=np.bool_)))
                                              for a in (residual, direct_first, direct_all))
        residual[edge_of[first][(child_pos - parent_pos > 1)[first]]] = True
        direct = ~t.inline[child_pos]
        direct_first[edge_of[first][direct[first]]] = True
        direct_all[edge_of[direct]] = True
    keys = np.fromiter(edge_number, dtype=np.int64, count=len(edge_number))
    return _EdgePass(keys, edge_weight, residual, direct_first, direct_all)
