"""Valgrind massif's output (`valgrind --tool=massif`, `massif.out.PID`): one profile per
detailed snapshot (and the peak), in order, a series in one file; a node's own bytes (its bytes
less its children's) are one sample with the node's path as the stack.

Frames come symbolized by valgrind, as in its memcheck log, and are used as they are.
Snapshots without a tree (heap_tree=empty) only state totals and are not profiles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from heapviz.formats.valgrind_memcheck import Frame, Stacks, parse_frame
from heapviz.kinds import MASSIF
from heapviz.model import Profile, Sample, Timeline, ValueType

if TYPE_CHECKING:
    from heapviz.formats import LineReader

NAME = "valgrind_massif"
DESCRIPTION = "Valgrind massif output (massif.out.PID: each detailed snapshot, a series)"

SAMPLE_TYPES = [ValueType("inuse_space", "bytes"), ValueType("places", "count")]
BELOW_THRESHOLD = "[below massif's threshold]"
_NODE = re.compile(r"^( *)n(\d+): (\d+) (.*)$")
_FRAME = re.compile(r"^0x([0-9A-Fa-f]{1,16}): (.*?)\s*$")
_BELOW = re.compile(r"^in (\d+) places?, (?:all )?below (?:massif's )?threshold")
_FIELDS = ("time", "mem_heap_B", "mem_heap_extra_B", "mem_stacks_B")
MAX_NUMBER = 1 << 62


def sniff(head: bytes) -> bool:
    return head.startswith(b"desc:") and b"\ncmd:" in head and b"\ntime_unit:" in head


@dataclass
class _Node:
    depth: int
    children: int  # as announced by `nK:`
    bytes: int
    frame: Frame | None  # None for the root and for a below-threshold entry
    places: int = 1
    seen: list[_Node] = field(default_factory=list)


@dataclass
class _Snapshot:
    number: int
    line_no: int
    fields: dict[str, int] = field(default_factory=dict)
    tree: str = ""  # empty, detailed or peak
    root: _Node | None = None
    open: list[_Node] = field(default_factory=list)  # the path to the node read last

    def complete(self) -> bool:
        return self.root is not None and all(len(n.seen) == n.children for n in self.open)


def parse(reader: LineReader) -> Profile:
    """The file's last detailed snapshot (commands that show one profile take the last)."""
    return parse_series(reader)[-1]


def parse_series(reader: LineReader) -> list[Profile]:
    header: dict[str, str] = {}
    snapshots: list[_Snapshot] = []
    snap: _Snapshot | None = None
    for raw in reader:
        line = raw.decode("utf-8", "surrogateescape")
        if snap is None and not line.startswith(("#", "snapshot=")):
            key, sep, value = line.partition(":")
            if not sep:
                raise reader.error(f"expected a 'key: value' header line, got {line[:60]!r}")
            header[key.strip()] = value.strip()
            continue
        if line.startswith("#"):
            continue
        if line.startswith("snapshot="):
            _close(reader, snap)
            snap = _Snapshot(_number(reader, line.partition("=")[2]), reader.line_no)
            snapshots.append(snap)
            continue
        if snap is None:
            raise reader.error(f"unexpected line before the first snapshot: {line[:60]!r}")
        if snap.tree in ("detailed", "peak"):
            if line.strip():
                _tree_line(reader, snap, line)
            continue
        key, sep, value = line.partition("=")
        if not sep:
            if not line.strip():
                continue
            raise reader.error(f"expected 'key=value' in snapshot {snap.number}, got {line[:60]!r}")
        if key == "heap_tree":
            if value not in ("empty", "detailed", "peak"):
                raise reader.error(f"unknown heap_tree={value[:20]!r}")
            snap.tree = value
        elif key in _FIELDS:
            snap.fields[key] = _number(reader, value)
    if not header.get("time_unit") or "cmd" not in header:
        raise reader.error("not a massif file: no 'cmd:' and 'time_unit:' header", 0)
    profiles: list[Profile] = []
    cut = ""
    if snap is not None and snap.tree in ("detailed", "peak") and not snap.complete():
        cut = f"snapshot {snap.number}'s tree is incomplete"
        snapshots.pop()
    detailed = [s for s in snapshots if s.tree in ("detailed", "peak") and s.root is not None]
    if not detailed:
        raise reader.error("no detailed snapshot in this massif file (run massif with --detailed-freq=N; "
                           "the peak is detailed unless nothing was allocated)", 0)
    peak = next((s.number for s in detailed if s.tree == "peak"), None)
    for s in detailed:
        profiles.append(_profile(reader.path, header, s, len(snapshots), len(detailed)))
    if cut:
        profiles[-1].warn(f"the file ends early ({cut}: the file was cut): the {len(detailed)} complete detailed "
                          "snapshots are shown")
    timeline = _timeline(header, snapshots)
    for p in profiles:
        p.timeline = timeline
        if peak is not None:
            p.comments.append(f"the peak is snapshot {peak}")
    return profiles


_TIME_UNITS = {"i": "instructions", "ms": "ms", "B": "bytes allocated and freed"}


def _timeline(header: dict[str, str], snapshots: list[_Snapshot]) -> Timeline:
    """Heap, extra heap and stacks bytes at every snapshot, detailed or not, as ms_print charts
    them (a snapshot cut short by the end of the file is left out)."""
    whole = [s for s in snapshots if all(k in s.fields for k in _FIELDS)]
    return Timeline(
        unit=_TIME_UNITS.get(header["time_unit"], header["time_unit"]),
        times=tuple(s.fields["time"] for s in whole),
        series=tuple((name, tuple(s.fields[key] for s in whole))
                     for name, key in (("heap", "mem_heap_B"), ("heap extra", "mem_heap_extra_B"),
                                       ("stacks", "mem_stacks_B"))),
    )


def _number(reader: LineReader, text: str) -> int:
    text = text.strip()
    if not text.isdecimal() or not text.isascii() or int(text) > MAX_NUMBER:
        raise reader.error(f"expected a number, got {text[:40]!r}")
    return int(text)


def _close(reader: LineReader, snap: _Snapshot | None) -> None:
    if snap is not None and snap.tree in ("detailed", "peak") and not snap.complete():
        raise reader.error(f"snapshot {snap.number}'s heap tree has fewer nodes than it announces")


def _tree_line(reader: LineReader, snap: _Snapshot, line: str) -> None:
    m = _NODE.match(line)
    if m is None:
        raise reader.error(f"malformed heap tree line: {line[:60]!r}")
    depth, children, nbytes, rest = len(m.group(1)), int(m.group(2)), _number(reader, m.group(3)), m.group(4)
    places, frame = 1, None
    if snap.root is not None:
        below = _BELOW.match(rest)
        if below:
            places = _number(reader, below.group(1))
        else:
            f = _FRAME.match(rest)
            if f is None:
                raise reader.error(f"malformed heap tree entry: {rest[:60]!r}")
            frame = parse_frame(f.group(1), f.group(2))
    node = _Node(depth, children, nbytes, frame, places)
    if snap.root is None:
        if depth != 0:
            raise reader.error("a heap tree's first line must be its root, not indented")
        snap.root, snap.open = node, [node]
        return
    # The parent is the nearest open node one level up that still expects children.
    while snap.open and snap.open[-1].depth >= depth:
        done = snap.open.pop()
        if len(done.seen) != done.children:
            raise reader.error(f"a heap tree node announces {done.children} children but has {len(done.seen)}")
    if not snap.open or snap.open[-1].depth != depth - 1 or len(snap.open[-1].seen) >= snap.open[-1].children:
        raise reader.error("heap tree line at an unexpected depth or beyond its parent's children")
    parent = snap.open[-1]
    if sum(c.bytes for c in parent.seen) + node.bytes > parent.bytes:
        raise reader.error(f"a heap tree node's children hold more than its {parent.bytes} bytes")
    parent.seen.append(node)
    snap.open.append(node)


def _profile(path: str, header: dict[str, str], snap: _Snapshot, n_snapshots: int, n_detailed: int) -> Profile:
    assert snap.root is not None
    peak = " (peak)" if snap.tree == "peak" else ""
    profile = Profile(sample_types=list(SAMPLE_TYPES), source=path, kind="massif", default_sample_type="inuse_space",
                      profile_kind=MASSIF, period_type=ValueType("space", "bytes"), period=1, symbolized=True,
                      header=f"cmd: {header.get('cmd', '')}", sequence=snap.number,
                      sequence_text=f"snapshot {snap.number}{peak}", peak=snap.tree == "peak")
    time_unit = _TIME_UNITS.get(header["time_unit"], header["time_unit"])
    f = snap.fields
    profile.comments.append(f"massif snapshot {snap.number}{peak} of {n_snapshots} ({n_detailed} detailed), "
                            f"time {f.get('time', 0)} ({time_unit})")
    profile.comments.append(f"heap {f.get('mem_heap_B', 0)} B useful, {f.get('mem_heap_extra_B', 0)} B extra "
                            f"(allocator overhead and alignment), stacks {f.get('mem_stacks_B', 0)} B")
    if header.get("desc"):
        profile.comments.append(f"massif options: {header['desc']}")
    profile.header_totals["inuse_space"] = f.get("mem_heap_B", snap.root.bytes)
    stacks = Stacks(profile)
    todo: list[tuple[_Node, tuple[Frame, ...]]] = [(snap.root, ())]
    while todo:  # depth first, children in the file's order (massif's: largest first)
        node, frames = todo.pop()
        own = node.bytes - sum(c.bytes for c in node.seen)  # never negative: checked when read
        if own:
            if node.frame is None and node is not snap.root:
                stack = (*(stacks.stack(list(frames)) if frames else ()), stacks.pseudo(BELOW_THRESHOLD))
            else:
                stack = stacks.stack(list(frames)) if frames else (stacks.pseudo("[massif: no stack]"),)
            profile.add(Sample([own, node.places], stack))
        todo.extend((c, (*frames, c.frame) if c.frame is not None else frames) for c in reversed(node.seen))
    return profile
