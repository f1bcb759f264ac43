"""Allocation wrappers: functions that only pass an allocation on (g_malloc, xmalloc, gmalloc).

After the allocator's own frames are dropped (prune.py), such a wrapper is the leaf of most
stacks, and "the function that leaked" would be `gmalloc` for every site. This module knows the
well-known wrappers, detects a program's own from the stacks, and finds where each stack's
wrapper frames end, so that leak sites and suspects are keyed by the first frame below them.
It never changes a profile: the call graph and `top` keep wrappers as nodes, as pprof does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from heapviz.graph.arrays import BoolArray, IntArray
from heapviz.graph.stacks import StackTable
from heapviz.model import Profile

# Well-known wrappers, by project, matched against a frame's whole short name (no parameters,
# no template arguments). Each passes its caller's request to malloc, its own pool or arena.
BUILTIN_WRAPPERS: tuple[tuple[str, str], ...] = (
    ("glib", r"g_(try_)?(malloc0?|realloc)(_n)?|g_slice_(alloc0?|copy)|g_memdup2?|g_strn?dup|g_strdupv"
             r"|g_strdup_v?printf|g_strconcat|g_new0?"),
    ("GNU xalloc/libiberty", r"xmalloc|xzalloc|xcalloc|xrealloc|xstrn?dup|xmemdup|xi?[mc]alloc|xirealloc|xnmalloc"
                             r"|xnrealloc|x2n?realloc|xcharalloc|xv?asprintf"),
    ("CPython", r"_?Py(Mem|Object)_(Raw)?(Malloc|Calloc|Realloc)|_PyMem_(Raw|Debug|DebugRaw)\w*|pymalloc_\w+"
                r"|_PyObject_GC_(Malloc|Calloc|New|NewVar|Link|Resize)|PyObject_GC_(New|NewVar)|gc_alloc"
                r"|_PyObject_(New|NewVar)|PyType_GenericAlloc|_PyType_AllocNoTrack|new_arena"),
    ("OpenSSL", r"CRYPTO_(malloc|zalloc|realloc|clear_realloc|strn?dup|memdup|secure_(malloc|zalloc))"),
    ("SQLite", r"sqlite3(Malloc|MallocZero|Realloc|MemMalloc|MemRealloc|DbMalloc(Raw|RawNN|Zero|Size)?"
               r"|DbRealloc|DbReallocOrFree|DbStrN?Dup)|sqlite3_(malloc|realloc)(64)?|mallocWithAlarm"
               r"|dbMallocRawFinish"),
    ("FFmpeg", r"av_(malloc|mallocz|calloc|realloc|realloc_f|reallocp|realloc_array|reallocp_array|malloc_array"
               r"|mallocz_array|strn?dup|memdup|fast_(malloc|mallocz|realloc)|dynarray2?_add|buffer_allocz?)"),
    ("Graphviz", r"gmalloc|zmalloc|gcalloc|zrealloc|grealloc|gv_(alloc|calloc|recalloc|realloc|strdup)"
                 r"|agalloc|agrealloc|agstrdup"),
    ("libxml2", r"xmlMalloc|xmlMallocAtomic|xmlRealloc|xmlStrn?dup|xmlMemMalloc|xmlMemRealloc"),
    ("arena and pool allocators", r"apr_(palloc|pcalloc|pstrn?dup|pmemdup|psprintf)|ngx_(p?n?alloc|pcalloc"
                                  r"|palloc_(small|large)|calloc)|_?talloc_\w+|_?obstack_\w+|palloc0?|repalloc"
                                  r"|MemoryContextAlloc\w*|AllocSetAlloc|google::protobuf::Arena::\w+"),
)

# What a wrapper's name looks like when it is a program's own: an allocating verb or an
# allocator's name in it (ngx_palloc, my_xmalloc, Pool::allocate, dup_string).
ALLOCATOR_NAME = re.compile(r"(?i)(alloc|strn?dup|memdup)")
NOT_ALLOCATOR_NAME = re.compile(r"(?i)(free|dealloc|release|destroy)")

# The detection rule's thresholds (README: "Allocation wrappers").
NAME_MIN_SHARE = 0.01  # a wrapper by name holds at least 1% of the bytes at its leaf
NAME_MIN_CALLERS = 3  # and is called from at least three functions
LEAF_MIN_SHARE = 0.05  # a wrapper by shape: the leaf of at least 5% of the bytes,
LEAF_MIN_CALLERS = 4  # called from at least four functions,
LEAF_MIN_SIZES = 3  # with at least three different object sizes, and calling nothing but the allocator
MAX_ROUNDS = 6  # wrappers of wrappers (gmalloc ← zmalloc) are found round by round

_UNNAMED = re.compile(r"^(\[.*\]|0x[0-9a-f]+|[^\s+]+\+0x[0-9a-f]+|\?\?|)$")


@dataclass(frozen=True)
class WrapperOptions:
    """--alloc-wrappers REGEX (added to the list) and --no-alloc-wrappers (no list, no detection)."""

    enabled: bool = True
    extra: tuple[str, ...] = ()
    builtin: bool = True  # the built-in list (off: detection alone, as for a program nobody listed)


@dataclass(frozen=True)
class Wrapper:
    """A wrapper seen in the profile and why it is one."""

    name: str
    reason: str  # "built-in list (glib)", "--alloc-wrappers", "detected: …"
    share: float  # of the bytes whose stacks pass through it at their leaf, 0 to 1
    callers: int  # distinct functions calling it at those stacks
    sizes: int  # distinct object sizes allocated through it
    detected: bool = False


@dataclass(frozen=True)
class Wrappers:
    """The wrappers of a profile: which names are wrappers, and the evidence for each found."""

    names: frozenset[str] = frozenset()
    found: tuple[Wrapper, ...] = ()  # largest share first
    pattern: re.Pattern[str] | None = None  # the built-in list and --alloc-wrappers
    _cache: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    def is_wrapper(self, name: str) -> bool:
        hit = self._cache.get(name)
        if hit is None:
            hit = self._cache[name] = name in self.names or bool(self.pattern and self.pattern.fullmatch(name))
        return hit

    @property
    def detected(self) -> tuple[Wrapper, ...]:
        return tuple(w for w in self.found if w.detected)

    def hide_regex(self, which: tuple[Wrapper, ...] | None = None) -> str:
        """The --hide regex that removes these wrappers' frames: `^(gmalloc|zmalloc)$`."""
        names = sorted(w.name for w in (self.found if which is None else which))
        return "^(" + "|".join(re.escape(n) for n in names) + ")$" if names else ""


NO_WRAPPERS = Wrappers()


def known_pattern(options: WrapperOptions) -> re.Pattern[str] | None:
    """The built-in list and --alloc-wrappers as one regex (only --alloc-wrappers when disabled)."""
    parts = [rx for _, rx in BUILTIN_WRAPPERS] if options.enabled and options.builtin else []
    parts += list(options.extra)
    return re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None


def _reason_known(name: str, options: WrapperOptions) -> str:
    for rx in options.extra:
        if re.fullmatch(rx, name):
            return "--alloc-wrappers"
    for project, rx in BUILTIN_WRAPPERS:
        if re.fullmatch(rx, name):
            return f"built-in list ({project})"
    return "built-in list"


def leaf_cut(wrapper: BoolArray, unnamed: BoolArray, starts: IntArray) -> IntArray:
    """Per row `starts[r]:starts[r + 1]` of frames, leaf first: how many leading frames are
    wrappers, counting unnamed frames (a stripped library's static helpers) only when a wrapper
    follows them. 0 when every frame of the row would go: a stack is never cut to nothing."""
    rows = len(starts) - 1
    if rows <= 0:
        return np.zeros(max(rows, 0), dtype=np.int64)
    begin, end = starts[:-1], starts[1:]
    breaks = np.flatnonzero(~(wrapper | unnamed))
    k = np.searchsorted(breaks, begin)
    first_break = np.where(k < len(breaks), breaks[np.minimum(k, len(breaks) - 1)] if len(breaks) else 0, end)
    first_break = np.minimum(first_break, end)
    wpos = np.flatnonzero(wrapper)
    j = np.searchsorted(wpos, first_break) - 1
    last_wrapper = wpos[np.maximum(j, 0)] if len(wpos) else np.full(rows, -1)
    has = (j >= 0) & (last_wrapper >= begin) if len(wpos) else np.zeros(rows, dtype=np.bool_)
    cut = np.where(has, last_wrapper - begin + 1, 0)
    return np.where(cut >= end - begin, 0, cut).astype(np.int64)


def is_unnamed(name: str) -> bool:
    """A frame without a function name: `[libfoo.so]`, `libfoo.so+0x1f00`, `0x4005d0`."""
    return bool(_UNNAMED.match(name))


def table_cut(t: StackTable, wrappers: Wrappers) -> IntArray:
    """Per sample of a stack table: how many of its frames, from the leaf, are wrapper frames."""
    names = [n.name for n in t.nodes]
    w_node = np.array([wrappers.is_wrapper(n) for n in names], dtype=np.bool_)
    u_node = np.array([is_unnamed(n) for n in names], dtype=np.bool_)
    return _cut_root_first(t.ids, t.starts, w_node, u_node)


def _cut_root_first(ids: npt.NDArray[np.int32], starts: IntArray, w_node: BoolArray, u_node: BoolArray) -> IntArray:
    if not len(ids) or not w_node.any():  # unnamed frames are cut only on the way to a wrapper
        return np.zeros(len(starts) - 1, dtype=np.int64)
    rev = ids[::-1]  # leaf first, samples in reverse order
    total = int(starts[-1])
    rstarts = (total - starts[::-1]).astype(np.int64)
    return leaf_cut(w_node[rev], u_node[rev], rstarts)[::-1].copy()


def cut_rows(values: IntArray, starts: IntArray, names_of: Sequence[tuple[str, ...]], wrappers: Wrappers,
             trim: Callable[[int, int], int]) -> tuple[IntArray, IntArray, IntArray]:
    """Rows of ids, leaf first (`values[starts[r]:starts[r + 1]]`), where id k stands for the
    frames named `names_of[k]`, leaf first (a location and what was inlined into it): the rows
    with their leading wrapper frames cut, an id cut partway replaced by `trim(id, frames cut
    from it)`; also how many frames each row lost."""
    rows = len(starts) - 1
    nfr = np.array([len(x) for x in names_of], dtype=np.int64)
    offs = np.zeros(len(names_of) + 1, dtype=np.int64)
    np.cumsum(nfr, out=offs[1:])
    flat = [n for x in names_of for n in x]
    w_flat = np.array([wrappers.is_wrapper(n) for n in flat], dtype=np.bool_)
    if not w_flat.any() or not len(values):
        return values, starts, np.zeros(max(rows, 0), dtype=np.int64)
    u_flat = np.array([is_unnamed(n) for n in flat], dtype=np.bool_)
    values = np.asarray(values, dtype=np.int64)
    per = nfr[values]  # frames at each position
    at = np.zeros(len(values) + 1, dtype=np.int64)  # where each position's frames begin
    np.cumsum(per, out=at[1:])
    total = int(at[-1])
    frame = np.repeat(offs[:-1][values], per) + (np.arange(total) - np.repeat(at[:-1], per))
    row_at = at[starts]
    cut = leaf_cut(w_flat[frame], u_flat[frame], row_at)
    if not cut.any():
        return values, starts, cut
    begin = starts[:-1]
    target = row_at[:-1] + cut  # the first frame kept
    q = np.searchsorted(at, target, side="right") - 1  # the position holding it
    q = np.where(cut > 0, q, begin)
    skip = q - begin  # positions dropped whole
    partial = np.flatnonzero((cut > 0) & (target > at[np.minimum(q, len(values) - 1)]))
    out = values.copy()
    made: dict[tuple[int, int], int] = {}
    for r in partial.tolist():
        pos = int(q[r])
        key = (int(values[pos]), int(target[r] - at[pos]))
        got = made.get(key)
        if got is None:
            got = made[key] = trim(*key)
        out[pos] = got
    lens = np.diff(starts) - skip
    keep = np.arange(len(values)) >= np.repeat(q, np.diff(starts))
    new_starts = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(lens, out=new_starts[1:])
    return out[keep], new_starts, cut


def detect(t: StackTable, space: int, objects: int | None, options: WrapperOptions = WrapperOptions()) -> Wrappers:
    """The wrappers of the profile whose stacks are `t` (any granularity; frames are told apart by
    function name), with `space` and `objects` the indices of its byte and object sample types.
    The built-in list and --alloc-wrappers are kept where they occur; a program's own wrappers
    are found round by round (a wrapper of a wrapper shows once the inner one is cut): a
    function at the leaf of many stacks, called from several functions, whose name looks like an
    allocator, or that calls nothing but the allocator and allocates objects of many sizes."""
    pattern = known_pattern(options)
    if not len(t.samples):
        return Wrappers(pattern=pattern)
    names = [n.name for n in t.nodes]
    known = np.array([bool(pattern and pattern.fullmatch(n)) for n in names], dtype=np.bool_)
    unnamed = np.array([is_unnamed(n) for n in names], dtype=np.bool_)
    weights = np.abs(t.weights(space).astype(np.float64))
    counts = np.abs(t.weights(objects).astype(np.float64)) if objects is not None else np.zeros_like(weights)
    total = float(weights.sum()) or 1.0
    wrapper = known.copy()
    reasons: dict[int, str] = {}
    evidence: dict[int, tuple[float, int, int]] = {}
    lens = np.diff(t.starts)
    for _ in range(MAX_ROUNDS if options.enabled else 1):
        cut = _cut_root_first(t.ids, t.starts, wrapper, unnamed)
        leaf_pos = t.starts[1:] - 1 - cut  # the first frame below the wrappers (root first: from the end)
        alive = lens > 0
        leaf = np.where(alive, t.ids[np.maximum(leaf_pos, 0)], -1)
        caller = np.where(alive & (leaf_pos > t.starts[:-1]), t.ids[np.maximum(leaf_pos - 1, 0)], -1)
        # the evidence for the wrappers cut (their share, callers, sizes), kept from the round that found them
        _record(evidence, t, cut, weights, counts, total, wrapper)
        if not options.enabled:
            break
        # functions that call something kept, so not leaf-only: those at any position rootward of
        # a sample's new leaf (frames from the new leaf to the sample's end marked by a running sum)
        marks = np.zeros(len(t.ids) + 1, dtype=np.int8)
        marks[np.maximum(leaf_pos, t.starts[:-1])[alive]] += 1
        marks[t.starts[1:][alive]] -= 1
        inner = np.zeros(len(names), dtype=np.bool_)
        inner[t.ids[np.cumsum(marks[:-1], dtype=np.int8) == 0]] = True
        found = _candidates(names, leaf, caller, weights, counts, total, wrapper | unnamed, inner)
        if not found:
            break
        for node, (reason, ev) in found.items():
            wrapper[node] = True
            reasons[node] = reason
            evidence[node] = ev
    out: dict[str, Wrapper] = {}
    for node, (share, callers, sizes) in evidence.items():
        if not wrapper[node] or share <= 0:
            continue
        name = names[node]
        reason = reasons.get(node) or _reason_known(name, options)
        prev = out.get(name)
        if prev is None or share > prev.share:
            out[name] = Wrapper(name, reason, share, callers, sizes, detected=node in reasons)
    found_list = tuple(sorted(out.values(), key=lambda w: (-w.share, w.name)))
    return Wrappers(frozenset(names[n] for n in reasons), found_list, pattern)


def _record(evidence: dict[int, tuple[float, int, int]], t: StackTable, cut: IntArray,
            weights: npt.NDArray[np.float64], counts: npt.NDArray[np.float64], total: float,
            wrapper: BoolArray) -> None:
    """For each wrapper node in the cut part of some stack, where not recorded yet: the share of
    the bytes of those stacks, its distinct callers there and their object sizes."""
    has = np.flatnonzero(cut > 0)
    if not len(has):
        return
    begin = np.repeat(t.starts[1:][has] - cut[has], cut[has])  # the cut frames, sample by sample
    pos = begin + (np.arange(len(begin)) - np.repeat(np.cumsum(cut[has]) - cut[has], cut[has]))
    sample = np.repeat(has, cut[has])
    node_of = t.ids[pos]
    callers = np.where(pos > t.starts[:-1][sample], t.ids[np.maximum(pos - 1, 0)], -1)
    for node in np.unique(node_of).tolist():
        if node in evidence or not wrapper[node]:  # unnamed frames between wrappers: no evidence of their own
            continue
        at = node_of == node
        rows = np.unique(sample[at])
        share = float(weights[rows].sum()) / total
        who = callers[at]
        evidence[node] = (share, len(set(who[who >= 0].tolist())), _sizes(weights[rows], counts[rows]))


def _sizes(w: npt.NDArray[np.float64], c: npt.NDArray[np.float64]) -> int:
    ok = c > 0
    return len(set(np.round(w[ok] / c[ok]).astype(np.int64).tolist()))


def _candidates(names: list[str], leaf: IntArray, caller: IntArray, weights: npt.NDArray[np.float64],
                counts: npt.NDArray[np.float64], total: float, excluded: BoolArray,
                inner: BoolArray) -> dict[int, tuple[str, tuple[float, int, int]]]:
    """This round's new wrappers: leaves that meet the rule (see detect)."""
    out: dict[int, tuple[str, tuple[float, int, int]]] = {}
    ok = leaf >= 0
    # only leaves near the smallest share the rule takes are looked at one by one (a big profile
    # has thousands of leaves); each one's share is then summed exactly as before
    rough = np.bincount(leaf[ok], weights=weights[ok], minlength=len(names)) / total
    for node in np.flatnonzero(rough >= NAME_MIN_SHARE * (1 - 1e-6)).tolist():
        if excluded[node]:
            continue
        rows = np.flatnonzero(leaf == node)
        share = float(weights[rows].sum()) / total
        if share < NAME_MIN_SHARE:
            continue
        who = caller[rows]
        callers = len(set(who[who >= 0].tolist()))
        sizes = _sizes(weights[rows], counts[rows])
        name = names[node]
        short = name.rsplit("::", 1)[-1]
        if (callers >= NAME_MIN_CALLERS and ALLOCATOR_NAME.search(short)
                and not NOT_ALLOCATOR_NAME.search(short)):
            out[node] = (f"detected: its name looks like an allocator, {callers} callers", (share, callers, sizes))
        elif (share >= LEAF_MIN_SHARE and callers >= LEAF_MIN_CALLERS and sizes >= LEAF_MIN_SIZES
              and not inner[node] and name != "main"):
            out[node] = (f"detected: calls only the allocator, {callers} callers, {sizes} object sizes",
                         (share, callers, sizes))
    return out


def warning(found: Sequence[Wrapper], hide: str) -> str:
    """The `heapviz: warning:` text naming the wrappers found (built-in or detected) and the
    --hide regex that removes them from the graph too."""
    names = ", ".join(w.name + (" (detected)" if w.detected else "") for w in found[:12])
    more = f" and {len(found) - 12} more" if len(found) > 12 else ""
    return (f"allocation wrappers: {names}{more}: leak sites and suspects are named after their callers; "
            f"to remove them from the call graph too: --hide '{hide}'; to turn this off: --no-alloc-wrappers")


# Programs whose own allocator hides allocations from malloc's profiler: matched on the file
# names of the profile's mappings, with what the report says about them.
HIDING_ALLOCATORS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^(lib)?python[23](\.\d+)?[a-z]*(\.so.*)?$"),
     "CPython serves objects of 512 bytes or less from its own arenas (pymalloc): the profiler sees "
     "256 KiB arenas where those objects are, not the objects themselves; run the program with "
     "PYTHONMALLOC=malloc to show each object to the profiler."),
)


def hidden_allocations(profile: Profile) -> list[str]:
    """Notes on programs known to allocate past the profiler (CPython's small objects)."""
    names = {m.basename for m in profile.mappings}
    return [note for rx, note in HIDING_ALLOCATORS if any(rx.match(n) for n in names)]
