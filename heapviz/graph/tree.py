"""The call tree behind flame graphs: stacks merged by their path from the root, so recursion
stays as nested frames (unlike the graph, which has one node per function). No drawing here.

With a base (NEW minus BASE), widths come from the new profile's samples and each node also
carries the change on its path from the difference samples, for colouring growth and shrinkage.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from heapviz.graph.arrays import KeySums, index_of, sums
from heapviz.graph.nodes import FrameMapper, NodeInfo, NodeOptions
from heapviz.graph.stacks import StackTable
from heapviz.kinds import HEAP, Words
from heapviz.model import Sample, Value


@dataclass(slots=True)  # a report's tree can have millions of nodes
class TreeNode:
    name: str  # printable node name at the chosen granularity
    full_name: str  # complete demangled name, for tooltips
    package: str  # binary basename or C++ top-level namespace: picks the colour
    inline: bool  # every contribution came through an inlined call
    cum: Value = 0
    self_value: Value = 0  # allocated by this frame itself (it was the leaf)
    delta: Value = 0  # with a base: NEW minus BASE on this path (cum of the difference)
    delta_self: Value = 0
    children: dict[NodeInfo, TreeNode] = field(default_factory=dict)
    pruned: int = 0  # children too narrow to draw, left out of the tree
    pruned_value: Value = 0  # their cum

    def sorted_children(self) -> list[TreeNode]:
        """Children in a stable order: by name, then the inlined variant after the outer one."""
        return sorted(self.children.values(), key=lambda c: (c.name, c.full_name, c.inline))

    def walk(self, depth: int = 0) -> Iterator[tuple[int, TreeNode]]:
        """(depth, node) in pre-order; iterative, as stacks can be thousands of frames deep."""
        stack = [(depth, self)]
        while stack:
            d, node = stack.pop()
            yield d, node
            stack.extend((d + 1, c) for c in reversed(node.sorted_children()))


@dataclass
class FlameTree:
    root: TreeNode
    total: Value  # percentages are of this (pprof's total of the unfiltered profile)
    sample_type: str
    sample_unit: str
    diff: bool = False  # root.delta and friends are meaningful
    title: str = ""
    words: Words = HEAP.words  # the profile kind's words for tooltips and legends ("allocated here")

    def depth(self) -> int:
        return max((d for d, _ in self.root.walk()), default=0)


@functools.lru_cache(maxsize=1 << 16)
def package_of(name: str, binary: str) -> str:
    """The C++ top-level namespace of a qualified name, else the binary the code is in."""
    depth = 0
    for i, c in enumerate(name):
        if c in "<(":
            depth += 1
        elif c in ">)" and depth:
            depth -= 1
        elif depth == 0 and name.startswith("::", i) and i > 0:
            return name[:i]
        elif depth == 0 and c == " ":
            break  # `void f()` style return types: no namespace before the blank
    return binary


def _path(sample: Sample, mapper: FrameMapper) -> Iterator[tuple[NodeInfo, str, str, bool]]:
    """(node, full name, binary, inline) of each frame, root first, inlined callees after their caller."""
    for loc in reversed(sample.locations):
        binary = loc.mapping.basename if loc.mapping is not None else ""
        for fr in reversed(mapper.frames(loc)):
            yield fr.node, fr.full_name, binary, fr.inline


def _add(root: TreeNode, t: StackTable, index: int, min_fraction: float) -> None:
    """The tree, one level at a time: at depth d, the samples still in the tree are grouped by
    (their node at depth d - 1, their frame's node at depth d). Groups lighter than
    `min_fraction` of the root are left out (counted in their parent's `pruned`), and so are
    their samples from then on: a report's tree keeps only what can be drawn."""
    w_all = t.weights(index)
    pos = np.flatnonzero(w_all > 0)  # widths: a difference profile is never drawn by its own values
    w = w_all[pos]
    root.cum = sums(np.zeros(len(pos), dtype=np.int64), w, 1)[0] if len(pos) else 0
    min_value = root.cum * min_fraction
    start, length = t.starts[pos], np.diff(t.starts)[pos]
    group = np.zeros(len(pos), dtype=np.int64)
    parents = [root]
    labels: dict[int, str] = {}
    n_nodes = max(len(t.nodes), 1)
    depth = 0
    while len(pos):
        ends = length == depth
        if depth and ends.any():
            ended = np.flatnonzero(ends)
            values = sums(group[ended], w[ended], len(parents))
            for g in np.unique(group[ended]).tolist():
                parents[g].self_value += values[g]
        if ends.any():
            going = ~ends
            pos, w, start, length, group = pos[going], w[going], start[going], length[going], group[going]
            if not len(pos):
                break
        at = start + depth
        keys, first, member = index_of(group * n_nodes + t.ids[at])
        acc = KeySums(w, len(keys))
        acc.add(member, w, len(keys))
        alive = acc.values >= min_value
        parent_of = keys // n_nodes
        # the groups too narrow to draw, counted (and summed, in order) in their parents
        narrow = np.flatnonzero(~alive)
        if len(narrow):
            count = np.bincount(parent_of[narrow], minlength=len(parents))
            left_out = sums(parent_of[narrow], acc.values[narrow], len(parents))
            for p in np.flatnonzero(count).tolist():
                parents[p].pruned += int(count[p])
                parents[p].pruned_value += left_out[p]
        kept = np.flatnonzero(alive)
        direct = (np.bincount(member, weights=~t.inline[at], minlength=len(keys)) > 0)[kept].tolist()
        frames = t.frames[at[first[kept]]].tolist()
        cums = acc.values[kept].tolist()
        children: list[TreeNode] = []
        for g, p in enumerate(parent_of[kept].tolist()):
            parent = parents[p]
            info = t.frame_info[frames[g]]
            label = labels.get(info.node)
            if label is None:
                label = labels[info.node] = t.nodes[info.node].printable()
            child = TreeNode(label, info.full_name, package_of(info.full_name, info.binary), not direct[g],
                             cum=cums[g])
            parent.children[t.nodes[info.node]] = child
            children.append(child)
        renumber = np.cumsum(alive) - 1
        stay = alive[member]
        pos, w, start, length = pos[stay], w[stay], start[stay], length[stay]
        group = renumber[member[stay]]
        parents = children
        depth += 1


def _add_delta(root: TreeNode, samples: Sequence[Sample], index: int, mapper: FrameMapper) -> None:
    for s in samples:
        v = s.values[index]
        if v == 0:
            continue
        root.delta += v
        node: TreeNode | None = root
        for key, *_ in _path(s, mapper):
            node = node.children.get(key) if node is not None else None
            if node is None:
                break  # a path only the base had: there is no width to show it with
            node.delta += v
        else:
            if node is not root and node is not None:
                node.delta_self += v


def draw_fraction(width: float, min_width: float) -> float:
    """The smallest share of the root a frame needs to be drawn `min_width` wide in `width`,
    halved for safety: what build_tree may leave out."""
    return min_width / width / 2 if width > 0 else 0.0


def build_tree(samples: Sequence[Sample], index: int, options: NodeOptions, total: Value, sample_type: str,
               sample_unit: str, delta_samples: Sequence[Sample] | None = None, delta_index: int = 0,
               title: str = "", min_fraction: float = 0.0, stacks: StackTable | None = None,
               words: Words = HEAP.words) -> FlameTree:
    """The call tree of `samples` (widths); with `delta_samples`, each node's change as well.
    Subtrees narrower than `min_fraction` of the root are left out (see draw_fraction);
    `stacks`: the samples' stack table at `options`, when the caller has made it already."""
    root = TreeNode("all", "all", "", False)
    _add(root, stacks if stacks is not None else StackTable(samples, options), index, min_fraction)
    if delta_samples is not None:
        _add_delta(root, delta_samples, delta_index, FrameMapper(options))
    return FlameTree(root, total, sample_type, sample_unit, diff=delta_samples is not None, title=title,
                     words=words)

