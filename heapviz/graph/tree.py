"""The call tree behind flame graphs: stacks merged by their path from the root, so recursion
stays as nested frames (unlike the graph, which has one node per function). No drawing here.

With a base (NEW minus BASE), widths come from the new profile's samples and each node also
carries the change on its path from the difference samples, for colouring growth and shrinkage.
"""

from __future__ import annotations

import functools

from collections.abc import Iterator
from dataclasses import dataclass, field

from heapviz.graph.filters import apply as apply_filters
from heapviz.graph.nodes import FrameMapper, NodeInfo, NodeOptions
from heapviz.model import Sample, Value
from heapviz.pipeline import Subject, View


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


def _add(root: TreeNode, samples: list[Sample], index: int, mapper: FrameMapper) -> None:
    per_loc: dict[int, list[tuple[NodeInfo, str, str, bool]]] = {}
    labels: dict[NodeInfo, str] = {}
    for s in samples:
        v = s.values[index]
        if v <= 0:  # widths: a difference profile is never drawn by its own values
            continue
        root.cum += v
        node = root
        for loc in reversed(s.locations):
            frames = per_loc.get(id(loc))
            if frames is None:
                binary = loc.mapping.basename if loc.mapping is not None else ""
                frames = per_loc[id(loc)] = [(fr.node, fr.full_name, binary, fr.inline)
                                             for fr in reversed(mapper.frames(loc))]
            for key, full_name, binary, inline in frames:
                child = node.children.get(key)
                if child is None:
                    label = labels.get(key)
                    if label is None:
                        label = labels[key] = key.printable()
                    child = node.children[key] = TreeNode(label, full_name, package_of(full_name, binary), inline)
                elif not inline:
                    child.inline = False
                child.cum += v
                node = child
        if node is not root:
            node.self_value += v


def _add_delta(root: TreeNode, samples: list[Sample], index: int, mapper: FrameMapper) -> None:
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


def build_tree(samples: list[Sample], index: int, options: NodeOptions, total: Value, sample_type: str,
               sample_unit: str, delta_samples: list[Sample] | None = None, delta_index: int = 0,
               title: str = "") -> FlameTree:
    """The call tree of `samples` (widths); with `delta_samples`, each node's change as well."""
    mapper = FrameMapper(options)
    root = TreeNode("all", "all", "", False)
    _add(root, samples, index, mapper)
    if delta_samples is not None:
        _add_delta(root, delta_samples, delta_index, mapper)
    return FlameTree(root, total, sample_type, sample_unit, diff=delta_samples is not None, title=title)


def view_tree(subj: Subject, view: View, title: str = "") -> FlameTree:
    """The tree a command shows for a view: with --base, widths from the new profile (filtered
    the same way) and colours from the difference."""
    vt = view.profile.sample_types[view.sample_index]
    if subj.mode == "base":
        new = subj.dumps[-1]
        new_index = new.sample_index(vt.type)
        new_samples = apply_filters(new.samples, view.filters).samples
        return build_tree(new_samples, new_index, view.node_options, new.total(new_index), vt.type, vt.unit,
                          view.samples, view.sample_index, title)
    return build_tree(view.samples, view.sample_index, view.node_options, view.total, vt.type, vt.unit,
                      title=title)
