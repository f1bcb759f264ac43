"""The stack table the HTML report's explorer recomputes graphs from: small fields as JSON, the
large arrays (the tree, the samples' stacks and values) as one gzip+base64 binary block.

The explorer (templates/explore.js) redoes in the browser what `heapviz graph` does: nodes at a
granularity, --focus/--ignore/--hide/--show, pprof's pruning. It needs the unfiltered samples of
the shown profile with everything those steps read, and no more:

  strings     every name once; the fields below hold indices into it
  functions   per function four string indices, flat: [display, short, full, file, …]: the node
              name at the report's --demangle, the short name and the full name the filters
              search, and the source file
  locations   per distinct location: its binary (mapping file, searched by focus/ignore/hide)
              in `loc_binary`, and its lines from `loc_lines[k]` to `loc_lines[k + 1]` in
              `line_function` / `line_number`, outermost first (a location's frames root first;
              every frame after the first is inlined into the one before it: that is each
              frame's inline flag)
  stacks      a prefix tree: tree node j is location `tree_location[j]` called from tree node
              `tree_parent[j]` (-1: a root frame). Nodes are numbered level by level with the
              parents of a level ascending, so `tree_parent` is stored as differences from the
              previous entry (mostly 0 or 1); `tree_location` is stored as transitions
              (`tree_code`, `pair_count`, `pair_child`: see explorer_pack)
  samples     `sample_stack[i]`: sample i's leaf tree node (-1: no frames), in profile order;
              `values_t[i]`: its value for sample type t (`same_as[t]`: a column equal to an
              earlier one is stored once)
  binary      the block holding the arrays above: {arrays: [[name, typed array, length]…],
              crc32 of the uncompressed bytes, gzip_base64} (explorer_pack; the page decodes
              it with DecompressionStream in templates/explore_data.js)

  widths      with --base (`widths_from` >= 0): samples `widths_from`… are the new profile's, whose
              values (in the same sample-type order, totals in `widths_totals`) give the flame
              graph its widths; the samples before them are the difference every other view shows
  growth_types, words, command
              the profile kind's (value, count) types and words, and the profiles of the command
              line that writes a view (`heapviz graph … PROFILE`)

With `max_bytes`, the smallest samples (by their largest |value|) lose their leaf frame, and
so move onto their caller's stack, until the table fits; `trimmed` says how many moved and
`trimmed_share[t]` their share of sample type t (of the sum of |value|). Values, totals and every
sum above the moved frames stay the same.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import pairwise
from dataclasses import dataclass
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from heapviz.graph.filters import FilterOptions
from heapviz.graph.nodes import NodeOptions
from heapviz.report import explorer_pack
from heapviz.model import Profile, Sample, Value, profile_title
from heapviz.sample_table import SampleTable
from heapviz.symbolize.demangle import display_name, simplify

FORMAT = "heapviz-explorer/1"
Ints = npt.NDArray[np.signedinteger[Any]]
DEFAULT_MAX_BYTES = 6 << 20


@dataclass(frozen=True)
class ExplorerSettings:
    """What the explorer starts from: the report's own options."""

    sample_index: int
    node_options: NodeOptions
    filters: FilterOptions
    node_count: int
    node_fraction: float
    edge_fraction: float
    drop_negative: bool
    unit: str  # the report's unit (report_unit(--unit))
    # per sample type, the call graph legend's first lines (program, profile, type), without the filters
    legend_headers: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True)
class ExplorerInput:
    """What the HTML writer needs to embed the table: made by the command line, turned into JSON
    by write_html, which alone knows how much of the page's budget is left."""

    profile: Profile
    settings: ExplorerSettings
    # with --base: the new profile, whose samples give the flame graph its widths (filtered in the page)
    widths: Profile | None = None
    # prepare() of the above under way on a thread (None: write_html prepares it itself)
    preparation: Future[Prepared] | None = None

    def prepared(self) -> Prepared:
        return self.preparation.result() if self.preparation is not None else prepare(self.profile, self.settings,
                                                                                        self.widths)


class _Strings:
    def __init__(self) -> None:
        self.index: dict[str, int] = {"": 0}
        self.items: list[str] = [""]

    def __call__(self, s: str) -> int:
        i = self.index.get(s)
        if i is None:
            i = self.index[s] = len(self.items)
            self.items.append(s)
        return i


def _prefix_tree(table: SampleTable) -> tuple[Ints, Ints, Ints,
                                                list[int]]:
    """The samples' root-first location stacks as a prefix tree: (tree_parent, tree_location, each
    sample's leaf node, where each depth's nodes start), all 32-bit. Nodes are numbered depth by
    depth, and within a depth by (parent, location) ascending. By the compiled walk when it is
    built (explorer_pack.compiled), else numpy's sort of each depth's keys (_prefix_tree_numpy)."""
    c = explorer_pack.compiled()
    if c is None:
        return _prefix_tree_numpy(table)
    n_frames = len(table.loc_index)
    # room for one node per frame, cut to the tree's size below: the untouched tail of a large
    # array costs no memory, and shrinking it in place (realloc) copies nothing
    parent = np.empty(max(n_frames, 1), dtype=np.int32)
    location = np.empty(max(n_frames, 1), dtype=np.int32)
    leaf = np.empty(len(table.starts) - 1, dtype=np.int32)
    levels = c.prefix_tree(np.ascontiguousarray(table.loc_index, dtype=np.int32), table.starts,
                           max(len(table.locations), 1), parent, location, leaf)
    parent.resize(levels[-1], refcheck=False)
    location.resize(levels[-1], refcheck=False)
    return parent, location, leaf, levels


def _prefix_tree_numpy(table: SampleTable) -> tuple[Ints, Ints, Ints, list[int]]:
    """_prefix_tree by numpy: one np.unique of (parent, location) keys per depth."""
    lens = table.lens.astype(np.int64)
    ends = table.starts[1:].astype(np.int64)  # one past each sample's leaf-first run
    n_locs = max(len(table.locations), 1)
    leaf = np.full(len(lens), -1, dtype=np.int64)
    parents: list[Ints] = []
    locations: list[Ints] = []
    current = np.full(len(lens), -1, dtype=np.int64)  # each sample's tree node at the depth before
    count = 0
    level_starts = [0]
    depth = 0
    while True:
        active = np.flatnonzero(lens > depth)
        if not len(active):
            break
        loc = table.loc_index[ends[active] - 1 - depth].astype(np.int64)  # root first: from the run's end
        key = (current[active] + 1) * n_locs + loc
        distinct, inverse = np.unique(key, return_inverse=True)
        parents.append((distinct // n_locs - 1).astype(np.int32))
        locations.append((distinct % n_locs).astype(np.int32))
        current[active] = inverse.reshape(-1) + count
        count += len(distinct)
        level_starts.append(count)
        depth += 1
    has = lens > 0
    leaf[has] = current[has]
    empty = np.zeros(0, dtype=np.int32)
    # in 32 bits: the tree is held until the page's data is written (3 million nodes at 250k stacks)
    return (np.concatenate(parents) if parents else empty, np.concatenate(locations) if locations else empty,
            leaf.astype(np.int32), level_starts)


def _encode(parent: Ints, location: Ints, leaf: Ints,
            levels: list[int], alive: npt.NDArray[np.bool_]) -> tuple[Ints, ...]:
    """The live tree (closed under ancestors) renumbered in its order: (parents, locations, each
    sample's leaf: its own tree node's nearest live ancestor). Nothing cut: the tree's own arrays."""
    if alive.all():
        return parent, location, leaf
    # in 32 bits, as the tree: a few arrays of one entry per node (millions) at the page's peak
    new_id = np.cumsum(alive, dtype=np.int32) - 1
    live_parent = parent[alive]
    renumbered = np.where(live_parent >= 0, new_id[np.maximum(live_parent, 0)], np.int32(-1))
    del live_parent
    nearest = np.arange(len(parent), dtype=np.int32)
    for a, b in pairwise(levels):  # parents first: a cut node takes its parent's nearest live node
        cut = np.flatnonzero(~alive[a:b]) + a
        nearest[cut] = nearest[parent[cut]]
    sample_leaf = np.where(leaf >= 0, new_id[nearest[np.maximum(leaf, 0)]], -1)
    return renumbered, location[alive], sample_leaf


FIRST_STEP_SLOPE = 0.85


def _fit(parent: Ints, location: Ints, leaf: Ints, levels: list[int], budget: int,
         measure: Callable[[tuple[Ints, ...]], int], whole: tuple[Ints, ...],
         cut_order: Callable[[], Ints]) -> tuple[tuple[Ints, ...], npt.NDArray[np.bool_]]:
    """The tree encoded in at most `budget` bytes as `measure` counts them, and which samples
    moved. While it is over, the lightest leaf is cut and its samples move onto its caller (root
    frames stay): that cuts nodes in the order of the weight of the samples below them, lightest
    first and deepest first among equals, so the cut is made in one step once its size is found.
    `whole` is the whole tree's encoding, which the caller has already made, and `cut_order()`
    gives _cut_order's order."""
    n = len(parent)
    alive = np.ones(n, dtype=np.bool_)
    enc = whole  # _encode of the whole tree
    size = measure(enc)
    if size <= budget or not n:
        return enc, np.zeros(len(leaf), dtype=np.bool_)
    ends = leaf >= 0
    order = cut_order()
    k = 0
    steps = 0
    target = budget - budget // 50  # aimed 2% under: each step compresses the whole block again
    # bytes per node cut: first a little under the average (the lightest nodes cut first are
    # leaves, whose encoding compresses better than the average node's: on the recursive bench
    # profile a node cut saved 0.87 of the average), so that one step usually lands under the
    # budget; then the slope of the last step
    per_node = FIRST_STEP_SLOPE * size / n
    while size > budget and k < len(order):
        # the size is close to linear in the nodes cut: secant steps, then (where the compressed
        # size falls more slowly than that) steps that grow, so the loop always ends
        last_k, last_size = k, size
        k = min(len(order), k + max(1, int((size - target) / per_node) + 1, (len(order) - k) * steps // 40))
        steps += 1
        alive[:] = True
        alive[order[:k]] = False
        enc = _encode(parent, location, leaf, levels, alive)
        size = measure(enc)
        if size < last_size:
            per_node = (last_size - size) / (k - last_k)
    return enc, ends & ~alive[np.maximum(leaf, 0)]


def _cut_order(parent: Ints, leaf: Ints, levels: list[int], weights: npt.NDArray[np.float64]) -> Ints:
    """The tree's nodes but its root frames in the order trimming cuts them: by the weight of the
    samples below them, lightest first, deepest (numbered last) first among equals. Compiled when
    built (the same sums, ranked by a counting sort), else _cut_order_numpy."""
    c = explorer_pack.compiled()
    if c is None:
        return _cut_order_numpy(parent, leaf, levels, weights)
    order = np.empty(len(parent), dtype=np.int32)
    count = c.cut_order(np.ascontiguousarray(parent, dtype=np.int32), np.ascontiguousarray(leaf, dtype=np.int32),
                        np.ascontiguousarray(weights, dtype=np.float64), np.asarray(levels, dtype=np.int64), order)
    order.resize(count, refcheck=False)
    return order


def _cut_order_numpy(parent: Ints, leaf: Ints, levels: list[int], weights: npt.NDArray[np.float64]) -> Ints:
    """_cut_order by numpy: the weights below each node by np.add.at, ordered by a stable sort."""
    n = len(parent)
    ends = leaf >= 0
    below = np.bincount(leaf[ends], weights=weights[ends], minlength=n)
    for a, b in reversed(list(pairwise(levels))[1:]):
        np.add.at(below, parent[a:b], below[a:b])
    # lightest first, and among equals the last numbered first: a stable sort of the reversed
    # weights, numbered back (lexsort with a reversed index held three arrays of 8 bytes per node)
    reversed_below = np.ascontiguousarray(below[::-1])
    del below
    sorted_at = np.argsort(reversed_below, kind="stable")
    del reversed_below
    np.subtract(n - 1, sorted_at, out=sorted_at)  # in place: each array here is 8 bytes per node
    order = sorted_at.astype(np.int32)
    del sorted_at
    return order[parent[order] >= 0]  # root frames stay


def _with_widths(profile: Profile, widths: Profile | None) -> tuple[Sequence[Sample], int, list[Value]]:
    """The samples to embed: the shown profile's, then (with --base) the new profile's with their
    values in the shown profile's order of sample types; where those start (-1: none); and the
    new profile's totals."""
    if widths is None:
        return profile.samples, -1, []
    order = [widths.sample_index(vt.type) for vt in profile.sample_types]
    more = [Sample([s.values[i] for i in order], s.locations, s.labels) for s in widths.samples]
    return list(profile.samples) + more, len(profile.samples), [widths.total(i) for i in order]


def prepare(profile: Profile, settings: ExplorerSettings, widths: Profile | None = None) -> Prepared:
    """Everything of the explorer's data that does not depend on the page's budget (stack_table's
    first part, the expensive one: the prefix tree and its whole block packed)."""
    samples, widths_from, widths_totals = _with_widths(profile, widths)
    table = SampleTable.from_samples(samples)
    values = table.values
    strings = _Strings()
    fn_index: dict[int, int] = {}
    functions: list[int] = []
    loc_binary: list[int] = []
    loc_lines = [0]
    line_function: list[int] = []
    line_number: list[int] = []
    demangle = settings.node_options.demangle
    for loc in table.locations:
        loc_binary.append(strings(loc.mapping.file if loc.mapping is not None else ""))
        for ln in reversed(loc.lines):  # outermost first
            fn = ln.function
            k = fn_index.get(id(fn))
            if k is None:
                k = fn_index[id(fn)] = len(functions) // 4
                functions += [strings(display_name(fn.name, fn.system_name, demangle)), strings(simplify(fn.name)),
                              strings(fn.name), strings(fn.filename or "")]
            line_function.append(k)
            line_number.append(ln.line)
        loc_lines.append(len(line_function))
    columns = [values[:, t] if len(samples) else np.zeros(0) for t in range(len(profile.sample_types))]
    same_as = [next((j for j in range(t) if np.array_equal(columns[j], columns[t])), -1) for t in range(len(columns))]
    base: dict[str, Any] = {
        "format": FORMAT,
        "title": profile_title(profile),
        "strings": strings.items,
        "functions": functions,
        "loc_binary": loc_binary, "loc_lines": loc_lines, "line_function": line_function,
        "line_number": line_number,
        "sample_types": [{"type": vt.type, "unit": vt.unit} for vt in profile.sample_types],
        "totals": [profile.total(i) for i in range(len(profile.sample_types))],
        "size_pairs": [list(p) for p in profile.size_pairs],
        "same_as": same_as,
        "options": {
            "sample_index": settings.sample_index, "granularity": settings.node_options.granularity,
            "inlines": settings.node_options.inlines, "focus": settings.filters.focus,
            "ignore": settings.filters.ignore, "hide": settings.filters.hide, "show": settings.filters.show,
            "node_count": settings.node_count, "node_fraction": settings.node_fraction,
            "edge_fraction": settings.edge_fraction, "drop_negative": settings.drop_negative,
            "unit": settings.unit,
        },
        "legend_headers": [list(h) for h in settings.legend_headers],
        "widths_from": widths_from, "widths_totals": widths_totals,
        "growth_types": list(profile.profile_kind.growth_types),
        "words": {k: getattr(profile.profile_kind.words, k) for k in ("objects", "site_verb", "flat")},
        "command": {"profiles": profile.source.split(", ") if profile.source else [],
                    "base": profile.base_source.split(", ") if profile.base_source else []},
        "samples": len(samples),
        "trimmed": 0,
        "trimmed_share": [0.0] * len(columns),
    }
    parent, location, leaf, levels = _prefix_tree(table)
    # a sample's weight: its largest share of a sample type's total
    totals = np.array([t or 1 for t in base["totals"]], dtype=np.float64)
    weights = (np.abs(values) / totals).max(axis=1) if len(samples) and len(totals) else np.zeros(len(samples))
    prepared = Prepared(base, (parent, location, leaf, levels), len(table.locations), columns,
                        {f"values_{t}": columns[t] for t in range(len(columns)) if same_as[t] < 0}, weights,
                        _encode(parent, location, leaf, levels, np.ones(len(parent), np.bool_)))
    prepared.block(prepared.whole)  # the whole tree packed: most of the work, done here (see prepare_in_background)
    return prepared


def stack_table(profile: Profile, settings: ExplorerSettings, max_bytes: int = DEFAULT_MAX_BYTES,
                widths: Profile | None = None, prepared: Prepared | None = None) -> dict[str, Any]:
    """The explorer's data as plain JSON-ready data (see the module doc), in at most `max_bytes` of
    JSON; `prepared`: prepare()'s result for the same arguments, when the caller has it."""
    p = prepared if prepared is not None else prepare(profile, settings, widths)
    base, columns = p.base, p.columns
    # everything but the block, with the largest numbers the last fields can take
    probe = {**base, "binary": {"arrays": p.block(p.whole)[0], "crc32": 1 << 32, "gzip_base64": ""},
             "trimmed": base["samples"], "trimmed_share": [1 / 3] * len(columns), "bytes": max_bytes * 10}
    fixed = len(to_json(probe).encode("utf-8"))
    enc, moved = _fit(*p.tree, max(max_bytes - fixed, 0), p.measure, p.whole, p.cut_order)
    manifest, crc, gz = p.block(enc)
    share = []
    for t in range(len(columns)):
        whole = float(np.abs(columns[t]).sum())
        share.append(float(np.abs(columns[t][moved]).sum()) / whole if whole and moved.any() else 0.0)
    doc = {**base, "trimmed": int(np.count_nonzero(moved)), "trimmed_share": share,
           "binary": {"arrays": manifest, "crc32": crc,
                      "gzip_base64": explorer_pack.base64_text(gz)}}
    doc["bytes"] = 0
    for _ in range(3):  # the size of the JSON that includes its own size
        doc["bytes"] = len(to_json(doc).encode("utf-8"))
    return doc


Encoding = tuple[Ints, ...]  # _encode's (parents, locations, each sample's leaf)


@dataclass
class Prepared:
    """The explorer's data before it is fitted to the page: the JSON fields but the block's, the
    samples' prefix tree (parents, locations, leaves, level starts), the value columns, each
    sample's weight for trimming, the whole tree's encoding, and the last encoding packed."""

    base: dict[str, Any]
    tree: tuple[Ints, Ints, Ints, list[int]]
    n_locations: int
    columns: list[npt.NDArray[Any]]
    value_arrays: dict[str, npt.NDArray[Any]]
    weights: npt.NDArray[np.float64]
    whole: Encoding
    _packed: tuple[Encoding, tuple[list[list[Any]], int, bytes]] | None = None
    _order: Ints | None = None

    def cut_order(self) -> Ints:
        """_cut_order of the tree, made once."""
        if self._order is None:
            parent, _, leaf, levels = self.tree
            self._order = _cut_order(parent, leaf, levels, self.weights)
        return self._order

    def arrays(self, enc: Encoding) -> dict[str, npt.NDArray[Any]]:
        """The block's arrays for an encoding of the tree."""
        parents, locs, stacks = enc
        code, pair_count, pair_child = explorer_pack.transitions(parents, locs, self.n_locations)
        deltas = np.diff(parents, prepend=np.int32(-1)) if len(parents) else parents
        return {"tree_parent_delta": deltas, "tree_code": code, "pair_count": pair_count, "pair_child": pair_child,
                "sample_stack": stacks, **self.value_arrays}

    def block(self, enc: Encoding) -> tuple[list[list[Any]], int, bytes]:
        """(manifest, CRC-32 of the raw bytes, gzip) of an encoding, made once for the last one
        asked (the raw bytes are not kept: 15 MB on a recursive program's 250k stacks)."""
        if self._packed is None or self._packed[0] is not enc:  # held, so that no other tuple takes its id
            self._packed = None
            manifest, raw = explorer_pack.pack(self.arrays(enc))
            self._packed = (enc, (manifest, explorer_pack.checksum(raw), explorer_pack.compressed(raw)))
        return self._packed[1]

    def measure(self, enc: Encoding) -> int:
        """The block's size in base64 characters."""
        return 4 * ((len(self.block(enc)[2]) + 2) // 3)


def prepare_in_background(profile: Profile, settings: ExplorerSettings, widths: Profile | None) -> Future[Prepared]:
    """prepare() on a thread of its own, started before the report's other views are computed:
    most of its time is numpy's sorts and zlib, which release the GIL, so on two cores it runs
    beside them. The future's result() waits for it (and raises what it raised)."""
    pool = ThreadPoolExecutor(1, thread_name_prefix="heapviz-explorer-data")
    try:
        return pool.submit(prepare, profile, settings, widths)
    finally:
        pool.shutdown(wait=False)  # the thread ends with its one task


def to_json(doc: dict[str, Any]) -> str:
    """Compact JSON safe inside <script>: `<`, `>`, `&` and `'` escaped as jinja's tojson does."""
    text = json.dumps(doc, separators=(",", ":"), allow_nan=False)  # ASCII: names may hold lone surrogates
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace("'", "\\u0027")
