"""Leak suspects over a series of dumps: which stacks keep growing.

A suspect is one distinct stack at function granularity (allocator frames already dropped).
Its in-use bytes per dump are scored by how steadily they grow: the share of steps that grow,
how well a straight line fits them, and its share of the series' total growth; a stack that
shrank at some step is discounted by the share of such steps. In-use values only: alloc values
are not monotonic between gperftools dumps.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from heapviz.graph.nodes import NodeOptions
from heapviz.graph.arrays import row_tuples, sums
from heapviz.graph.stacks import StackTable
from heapviz.model import Profile, Value

# Weights of the score's parts; they sum to 1 so that a perfect steady grower scores 1.
W_STEPS, W_LINEAR, W_SHARE = 0.45, 0.25, 0.30


@dataclass(frozen=True)
class Suspect:
    rank: int
    function: str  # the leaf user function
    stack: tuple[str, ...]  # function names, leaf first
    full_stack: tuple[str, ...]  # complete demangled names, leaf first
    inuse_space: tuple[int, ...]  # one value per dump
    inuse_objects: tuple[int, ...]
    growth_bytes: int  # last minus first
    score: float  # 0 to 1
    steady: bool  # grew at most steps and is still there in the last dump


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


def suspect_options(options: NodeOptions) -> NodeOptions:
    """The granularity suspects are told apart at: functions, with the view's other options."""
    return NodeOptions(granularity="functions", demangle=options.demangle, inlines=options.inlines)


def suspects(dumps: list[Profile], options: NodeOptions = NodeOptions(),
             stacks: Sequence[StackTable | None] = (), limit: int = 0) -> tuple[list[Suspect], int]:
    """Every stack that holds memory in some dump, ranked (steady growers first), and how many
    there are. With `limit`, only the first `limit` and those that grew are returned.
    `stacks[i]`: dump i's stack table at suspect_options(options), when the caller has one."""
    n = len(dumps)
    node_options = suspect_options(options)
    tables: list[tuple[StackTable, int, int] | None] = []
    for i, p in enumerate(dumps):
        try:
            i_space, i_objs = p.sample_index("inuse_space"), p.sample_index("inuse_objects")
        except KeyError:
            tables.append(None)
            continue
        given = stacks[i] if i < len(stacks) else None
        tables.append((given if given is not None else StackTable(p.samples, node_options), i_space, i_objs))
    # A stack is a tuple of name numbers, leaf first, numbered in name order: comparing two
    # such tuples compares the names, and equal names in different dumps are equal keys.
    names = sorted({node.name for entry in tables if entry is not None for node in entry[0].nodes})
    number = {name: k for k, name in enumerate(names)}
    space: dict[tuple[int, ...], list[Value]] = defaultdict(lambda: [0] * n)
    objects: dict[tuple[int, ...], list[Value]] = defaultdict(lambda: [0] * n)
    first_seen: dict[tuple[int, ...], tuple[StackTable, int]] = {}  # for the full names
    for i, entry in enumerate(tables):
        if entry is None:
            continue
        t, i_space, i_objs = entry
        of_node = np.array([number[node.name] for node in t.nodes], dtype=np.int64)
        group_of: dict[tuple[int, ...], int] = {}
        first: list[int] = []
        groups = []
        for k, key in enumerate(row_tuples(of_node[t.ids], t.starts, reverse=True)):
            g = group_of.get(key)
            if g is None:
                g = group_of[key] = len(first)
                first.append(k)
            groups.append(g)
        keys = np.asarray(groups, dtype=np.int64)
        group_space = sums(keys, t.values[:, i_space], len(first)) if len(keys) else []
        group_objects = sums(keys, t.values[:, i_objs], len(first)) if len(keys) else []
        for g, key in enumerate(group_of):  # in order of first appearance
            space[key][i] += group_space[g]
            objects[key][i] += group_objects[g]
            if key not in first_seen:
                first_seen[key] = (t, first[g])
    total_growth = sum(max(0, v[-1] - v[0]) for v in space.values())
    # Growers score above 0 and rank first; the rest follow by size, and with a limit only the
    # first few of them are needed.
    growers = []
    others = []
    for key, vals in space.items():
        if vals[-1] > vals[0]:
            growers.append((-score_series([float(v) for v in vals], float(total_growth)), -(vals[-1] - vals[0]),
                            -max(vals), key))
        elif any(vals):
            others.append((0.0, -(vals[-1] - vals[0]), -max(vals), key))
    growers.sort()
    wanted = max(0, limit - len(growers)) if limit else len(others)
    ranked = growers + (heapq.nsmallest(wanted, others) if wanted < len(others) else sorted(others))
    out = []
    for rank, (neg_score, _, _, key) in enumerate(ranked, 1):
        vals = space[key]
        steps = [b - a for a, b in pairwise(vals)]
        score = -neg_score + 0.0
        steady = score > 0 and vals[-1] > 0 and sum(1 for d in steps if d > 0) * 2 >= len(steps)
        t, k = first_seen[key]
        frames = t.frames[t.starts[k]:t.starts[k + 1]].tolist()
        stack = tuple(names[x] for x in key)
        out.append(Suspect(
            rank=rank, function=stack[0] if stack else "", stack=stack,
            full_stack=tuple(t.frame_info[f].full_name for f in reversed(frames)),
            inuse_space=tuple(round(v) for v in vals), inuse_objects=tuple(round(v) for v in objects[key]),
            growth_bytes=round(vals[-1] - vals[0]), score=score, steady=steady,
        ))
    return out, len(growers) + len(others)
