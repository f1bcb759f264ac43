"""Leak suspects over a series of dumps: which stacks keep growing.

A suspect is one distinct stack at function granularity (allocator frames already dropped).
Its in-use bytes per dump are scored by how steadily they grow: the share of steps that grow,
how well a straight line fits them, and its share of the series' total growth; a stack that
shrank at some step is discounted by the share of such steps. In-use values only: alloc values
are not monotonic between gperftools dumps. A stack's allocation wrappers (wrappers.py) are cut
from its leaf first, so a suspect is named after the wrapper's caller. When the last dump
collapses (gperftools' dump at exit, after the program freed its heap), growth up to the dump
before it counts as well.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

from heapviz.graph.nodes import NodeOptions
from heapviz.graph.arrays import IntArray, group_part_rows, key_sums
from heapviz.graph.stacks import StackTable
from heapviz.model import Profile, Value
from heapviz.wrappers import NO_WRAPPERS, Wrappers, table_cut

# Weights of the score's parts; they sum to 1 so that a perfect steady grower scores 1.
W_STEPS, W_LINEAR, W_SHARE = 0.45, 0.25, 0.30

# The last dump of a series "collapses" when it holds at most half of the dump before it and no
# more than the first dump: the program freed what it had grown (gperftools' dump at exit). A
# spike freed before the last dump leaves the steady growth above the first dump: no collapse.
COLLAPSE_FRACTION = 0.5


@dataclass(frozen=True)
class Collapse:
    """The last dump fell sharply (most often gperftools' dump at exit, after the heap was freed)."""

    drop_fraction: float  # how much the last dump fell from the one before it, 0 to 1
    before: int  # the dump before the last: its in-use bytes
    last: int  # the last dump's
    growth_before: int  # from the first dump to the one before the last


def collapse_of(totals: Sequence[Value]) -> Collapse | None:
    """Whether a series of three dumps or more ends in a collapse: the last dump holds at most
    COLLAPSE_FRACTION of the one before it, which grew since the first, and no more than the first."""
    if len(totals) < 3:
        return None
    before, last, first = float(totals[-2]), float(totals[-1]), float(totals[0])
    if before <= 0 or before <= first or last > COLLAPSE_FRACTION * before or last > first:
        return None
    return Collapse(round(1 - last / before, 4), round(before), round(last), round(before - first))


@dataclass(frozen=True)
class Suspect:
    rank: int
    function: str  # the leaf user function
    stack: tuple[str, ...]  # function names, leaf first
    full_stack: tuple[str, ...]  # complete demangled names, leaf first
    inuse_space: tuple[int, ...]  # one value per dump, of the kind's growth type (heap: inuse_space)
    inuse_objects: tuple[int, ...]  # and of its count (heap: inuse_objects)
    growth_bytes: int  # last minus first
    score: float  # 0 to 1
    steady: bool  # over three dumps or more: grew at most steps and is still there in the last dump
    wrappers: tuple[str, ...] = ()  # the allocation wrappers cut from the leaf of its stack, leaf first
    growth_before_collapse: int | None = None  # when the last dump collapsed: first to the one before it


def _r_squared(ys: list[float]) -> float:
    n = len(ys)
    if n < 3:
        return 1.0 if n == 2 and ys[1] > ys[0] else 0.0
    xs = range(n)
    mx, my = (n - 1) / 2, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    syy = sum((y - my) ** 2 for y in ys)
    if syy == 0 or sxy <= 0:
        return 0.0
    return (sxy * sxy) / (sxx * syy)


def score_series(values: list[float], total_growth: float) -> float:
    """0 for anything that did not grow from first to last dump; 1 for a perfectly steady
    grower that accounts for all of the series' growth."""
    growth = values[-1] - values[0]
    if growth <= 0 or len(values) < 2:
        return 0.0
    steps = [b - a for a, b in pairwise(values)]
    grew = sum(1 for d in steps if d > 0) / len(steps)
    shrank = sum(1 for d in steps if d < 0) / len(steps)
    share = min(1.0, growth / total_growth) if total_growth > 0 else 0.0
    score = W_STEPS * grew + W_LINEAR * _r_squared(values) + W_SHARE * share
    return round(max(0.0, min(1.0, score * (1 - shrank))), 4)


def _group_stacks(tables: list[tuple[npt.NDArray[Any], IntArray, IntArray]]) -> tuple[Callable[[int], tuple[int, ...]],
                                                                              list[IntArray], IntArray, IntArray]:
    """The distinct stacks of several dumps, each given as (frame ids root first, sample starts,
    code of each id): (each stack's key, leaf first, with frames coded, made when asked for;
    each dump's samples as stack numbers; where each stack first appears, as a dump and a sample
    in it). Stacks are numbered in order of first appearance, dump by dump."""
    if len(tables) == 1 and len(np.unique(tables[0][2])) == len(tables[0][2]):
        # one dump whose ids are coded one to one: its stacks are grouped as they are, and coded
        # when their key is made
        ids, _, code = tables[0]
        rows = group_part_rows(ids, [tables[0][1]])
        first_start, first_end = rows.starts[rows.first_row], rows.starts[rows.first_row + 1]

        def coded_key_of(g: int) -> tuple[int, ...]:
            return tuple(reversed(code[ids[first_start[g]:first_end[g]]].tolist()))

        return coded_key_of, rows.per_part, rows.first_part, rows.first_in_part
    if len(tables) == 1:
        ids, _, of_node = tables[0]
        values = of_node[ids]
    else:
        ends = np.cumsum([0] + [len(ids) for ids, _, _ in tables])
        values = np.empty(int(ends[-1]), dtype=np.int64)
        for (ids, _, of_node), a, b in zip(tables, ends, ends[1:], strict=False):
            # in place: no second copy of every frame; "clip" as "raise" would buffer the output (ids are valid)
            np.take(of_node, ids, out=values[a:b], mode="clip")
    rows = group_part_rows(values, [starts for _, starts, _ in tables])
    first_start, first_end = rows.starts[rows.first_row], rows.starts[rows.first_row + 1]  # arrays: 250k ints

    def key_of(g: int) -> tuple[int, ...]:
        return tuple(reversed(values[first_start[g]:first_end[g]].tolist()))

    return key_of, rows.per_part, rows.first_part, rows.first_in_part


def _may_rank_first(rest: Sequence[int] | IntArray, space: Any, wanted: int) -> list[int]:
    """Of the stacks that did not grow, those that can be among the first `wanted` by (least
    shrinking, largest): a superset, as their values compare in floats, which may round ties
    together but never swap two values. `space`: [stack][dump] values (a matrix, or lists)."""
    if not wanted:
        return []
    values = np.asarray(space)[np.asarray(rest, dtype=np.int64)]
    shrink = (values[:, 0] - values[:, -1]).astype(np.float64)
    largest = -values.max(axis=1).astype(np.float64)
    # the wanted-th by (shrink, largest), as a lexsort would put it, found by two partitions
    cut_shrink = np.partition(shrink, wanted - 1)[wanted - 1]
    tie = shrink == cut_shrink
    left = wanted - int(np.count_nonzero(shrink < cut_shrink))
    cut_largest = np.partition(largest[tie], left - 1)[left - 1]
    keep = (shrink < cut_shrink) | (tie & (largest <= cut_largest))
    kept: list[int] = np.asarray(rest, dtype=np.int64)[keep].tolist()
    return kept


def _matrix(columns: list[npt.NDArray[Any] | None], rows: int) -> npt.NDArray[Any]:
    """Per-dump value columns (None: the dump holds nothing) as one [stack][dump] matrix: int64
    or float64 when they agree, else Python numbers (object), as a loop over lists would hold them."""
    kinds = {c.dtype for c in columns if c is not None}
    dtype = kinds.pop() if len(kinds) == 1 else np.dtype(np.int64) if not kinds else np.dtype(object)
    out = np.zeros((rows, len(columns)), dtype=dtype)
    for d, c in enumerate(columns):
        if c is not None:
            out[:, d] = c if dtype.kind != "O" else c.tolist()
    return out


def _total(values: npt.NDArray[Any]) -> Value:
    """sum(values) as Python adds them, one after another (exact ints; floats in that order)."""
    if values.dtype.kind == "O" or not len(values):
        total: Value = sum(values.tolist())
        return total
    if values.dtype.kind == "f":
        return float(np.add.accumulate(values)[-1])
    return int(values.sum())


def suspect_options(options: NodeOptions) -> NodeOptions:
    """The granularity suspects are told apart at: functions, with the view's other options."""
    return NodeOptions(granularity="functions", demangle=options.demangle, inlines=options.inlines)


def _without_wrappers(t: StackTable, wrappers: Wrappers) -> tuple[npt.NDArray[Any], IntArray, IntArray]:
    """The table's frame ids and sample starts with each sample's wrapper frames cut from its
    leaf (the end: frames are root first), and how many were cut per sample."""
    cut = table_cut(t, wrappers) if (wrappers.names or wrappers.pattern) else np.zeros(len(t.starts) - 1, np.int64)
    if not cut.any():
        return t.ids, t.starts, cut
    lens = np.diff(t.starts) - cut
    keep = np.arange(len(t.ids)) < np.repeat(t.starts[1:] - cut, np.diff(t.starts))
    starts = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(lens, out=starts[1:])
    return t.ids[keep], starts, cut


def _score(vals: list[Value], total_growth: float, collapse: Collapse | None,
           growth_before: float) -> tuple[float, bool]:
    """A stack's score and whether the score is the one up to the dump before a collapse."""
    full = score_series([float(x) for x in vals], total_growth)
    if collapse is None:
        return full, False
    before = score_series([float(x) for x in vals[:-1]], growth_before)
    return (before, True) if before > full else (full, False)


def suspects(dumps: list[Profile], options: NodeOptions = NodeOptions(),
             stacks: Sequence[StackTable | None] = (), limit: int = 0,
             wrappers: Wrappers = NO_WRAPPERS) -> tuple[list[Suspect], int]:
    """Every stack that holds memory in some dump, ranked (steady growers first), and how many
    there are. With `limit`, only the first `limit` and those that grew are returned.
    `stacks[i]`: dump i's stack table at suspect_options(options), when the caller has one.
    Stacks are told apart below their allocation `wrappers`."""
    n = len(dumps)
    node_options = suspect_options(options)
    tables: list[tuple[StackTable, int, int] | None] = []
    for i, p in enumerate(dumps):
        try:
            value_type, count_type = p.profile_kind.growth_types
            i_space, i_objs = p.sample_index(value_type), p.sample_index(count_type)
        except KeyError:
            tables.append(None)
            continue
        given = stacks[i] if i < len(stacks) else None
        tables.append((given if given is not None else StackTable(p.samples, node_options), i_space, i_objs))
    # A stack is a tuple of name numbers, leaf first, numbered in name order: comparing two
    # such tuples compares the names, and equal names in different dumps are equal keys.
    names = sorted({node.name for entry in tables if entry is not None for node in entry[0].nodes})
    number = {name: k for k, name in enumerate(names)}
    present = [(i, entry) for i, entry in enumerate(tables) if entry is not None]
    cut_tables = [_without_wrappers(t, wrappers) for _, (t, _, _) in present]
    stacks_of = [(ids, starts, np.array([number[node.name] for node in t.nodes], dtype=np.int64))
                 for (ids, starts, _), (_, (t, _, _)) in zip(cut_tables, present, strict=True)]
    key_of, group, first_dump, first_sample = _group_stacks(stacks_of)
    n_groups = len(first_dump)
    space_cols: list[npt.NDArray[Any] | None] = [None] * n  # [dump][group]
    objects_cols: list[npt.NDArray[Any] | None] = [None] * n
    for rows, (i, (t, i_space, i_objs)) in zip(group, present, strict=True):
        if len(rows):
            space_cols[i], objects_cols[i] = (key_sums(rows, t.values[:, j], n_groups) for j in (i_space, i_objs))
    space, objects = _matrix(space_cols, n_groups), _matrix(objects_cols, n_groups)  # [group][dump]
    del space_cols, objects_cols
    zero = np.zeros(1, dtype=space.dtype)
    total_growth = _total(np.maximum(space[:, -1] - space[:, 0], zero))
    collapse = collapse_of([_total(space[:, d]) for d in range(n)]) if n_groups else None
    growth_before = float(_total(np.maximum(space[:, -2] - space[:, 0], zero))) if collapse is not None else 0.0
    grew = (space[:, -1] > space[:, 0]).astype(np.bool_)
    if collapse is not None:
        grew |= (space[:, -2] > space[:, 0]).astype(np.bool_)

    # Growers score above 0 and rank first; the rest follow by size, ties by stack names. With a
    # limit only the first few of the rest are needed, and only those that can make the cut get
    # their key made.
    scored: dict[int, tuple[float, bool]] = {}
    growers = []
    for g in np.flatnonzero(grew).tolist():
        v = space[g].tolist()
        scored[g] = _score(v, float(total_growth), collapse, growth_before)
        growers.append((-scored[g][0], -max(v[-1] - v[0], v[-2] - v[0] if scored[g][1] else 0), -max(v), key_of(g), g))
    growers.sort()
    rest_of = np.flatnonzero(~grew & (space != 0).astype(np.bool_).any(axis=1))
    n_rest = len(rest_of)
    wanted = max(0, limit - len(growers)) if limit else n_rest
    rest = _may_rank_first(rest_of, space, wanted) if wanted < n_rest else rest_of.tolist()
    others = []
    for g in rest:
        v = space[g].tolist()
        others.append((0.0, -(v[-1] - v[0]), -max(v), key_of(g), g))
    ranked = growers + (heapq.nsmallest(wanted, others) if wanted < len(others) else sorted(others))
    out = []
    for rank, (neg_score, _, _, key, g) in enumerate(ranked, 1):
        vals = space[g].tolist()
        before = g in scored and scored[g][1]
        trend = vals[:-1] if before else vals  # up to the collapse, when that is what scored
        steps = [b - a for a, b in pairwise(trend)]
        score = -neg_score + 0.0
        # two points are not a trend: a comparison with a base says "grew", never "steady"
        steady = (len(trend) >= 3 and score > 0 and trend[-1] > 0
                  and sum(1 for d in steps if d > 0) * 2 >= len(steps))
        d, k = int(first_dump[g]), int(first_sample[g])
        t = present[d][1][0]
        cut = int(cut_tables[d][2][k])
        end = int(t.starts[k + 1]) - cut
        frames = t.frames[t.starts[k]:end].tolist()
        cut_names = tuple(t.nodes[x].name for x in reversed(t.ids[end:end + cut].tolist()))
        stack = tuple(names[x] for x in key)
        out.append(Suspect(
            rank=rank, function=stack[0] if stack else "", stack=stack,
            full_stack=tuple(t.frame_info[f].full_name for f in reversed(frames)),
            inuse_space=tuple(round(v) for v in vals), inuse_objects=tuple(round(v) for v in objects[g].tolist()),
            growth_bytes=round(vals[-1] - vals[0]), score=score, steady=steady, wrappers=cut_names,
            growth_before_collapse=round(vals[-2] - vals[0]) if collapse is not None else None,
        ))
    return out, len(growers) + n_rest
