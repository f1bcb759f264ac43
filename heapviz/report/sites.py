"""The report's leak sites: the distinct symbolized stacks (function, file and line of every frame)
holding the most, each named below its allocation wrappers, and the wrapper detection behind that.
"""

from __future__ import annotations

from collections.abc import Sequence

import heapq
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from heapviz.graph.nodes import NodeOptions
from heapviz.graph.arrays import IntArray, factorize_rows, index_of, sums
from heapviz.graph.stacks import StackTable
from heapviz.growth import suspect_options
from heapviz.model import Profile, Sample, Value
from heapviz.sample_table import SampleTable
from heapviz.units import count_text, format_value, percentage, report_unit
from heapviz.wrappers import NO_WRAPPERS, Wrappers, cut_rows, detect

if TYPE_CHECKING:
    from heapviz.report.data import ReportOptions

MAX_LEAK_SITES = 50


# Where code that is not the user's own lives: the C/C++ runtime's headers and system libraries.
_SYSTEM_DIRS = ("/usr/", "/lib/", "/lib64/", "/lib32/")
_RUNTIME_PREFIXES = ("std::", "__gnu_cxx::", "__cxxabiv1::", "__libc_", "__GI_", "_dl_", "_start")


def is_user_code(function: str, file: str, mapping_path: str) -> bool:
    """Whether a frame is in the user's own code: symbolized to a file and line, not in a system
    library, a system header or the C/C++ runtime (glibc's own sources have relative paths)."""
    if not file or function.startswith(_RUNTIME_PREFIXES):
        return False
    if mapping_path.startswith(_SYSTEM_DIRS) or file.startswith(_SYSTEM_DIRS):
        return False
    return not file.startswith(("./", "../"))


@dataclass(frozen=True)
class Frame:
    function: str
    full_name: str
    file: str
    line: int
    inline: bool
    binary: str
    user: bool = False  # in the user's own code (is_user_code)

    @property
    def location(self) -> str:
        if self.file:
            return f"{self.file}:{self.line}" if self.line else self.file
        return f"[{self.binary}]" if self.binary else ""


@dataclass(frozen=True)
class LeakSite:
    rank: int
    value: int  # of the report's sample type
    value_text: str
    pct: str
    bytes: int | None
    objects: int | None
    frames: list[Frame]  # leaf first
    objects_text: str = ""  # "1 object", "3 objects"
    bytes_text: str = ""  # in the report's unit
    wrappers: tuple[Frame, ...] = ()  # the allocation wrapper frames cut from the leaf, leaf first

    @property
    def user_frame(self) -> Frame | None:
        """The first frame, from the leaf, in the user's own code: where to start reading."""
        return next((f for f in self.frames if f.user), None)




def leak_sites(profile: Profile, stacks: StackTable, index: int, opts: ReportOptions, total: Value,
               unit: str, wrappers: Wrappers = NO_WRAPPERS) -> tuple[list[LeakSite], int]:
    unit_bytes = report_unit(opts.unit)
    words = profile.profile_kind.words
    """Distinct symbolized stacks (function, file, line of every frame), largest first."""
    mapper = stacks.mapper(NodeOptions(granularity="lines", demangle=opts.node_options.demangle,
                                       inlines=opts.node_options.inlines))
    names = [vt.type for vt in profile.sample_types]
    value_type, count_type = profile.profile_kind.growth_types
    i_bytes = names.index(value_type) if value_type in names else None
    i_objs = names.index(count_type) if count_type in names else None
    # Each distinct location's frames are interned as a small int (equal frames, equal ids), so
    # that a stack is a tuple of ints: cheap to hash on profiles with hundreds of thousands of samples.
    # Locations with the same node frames (the mapper makes each once) in the same mapping get
    # the same frames: made once per such pair, not per location.
    frame_ids: dict[tuple[Frame, ...], int] = {}
    made: dict[tuple[int, ...], int] = {}
    of_location = []
    for loc in stacks.locations.locations:
        node_frames = mapper.frames(loc)
        key = (id(loc.mapping), *map(id, node_frames))
        k = made.get(key)
        if k is None:
            binary = loc.mapping.basename if loc.mapping is not None else ""
            path = loc.mapping.file if loc.mapping is not None else ""
            frames = tuple(Frame(fr.node.name, fr.full_name, fr.node.file, fr.node.line, fr.inline, binary,
                                 is_user_code(fr.full_name, fr.node.file, path))
                           for fr in node_frames)
            k = made[key] = frame_ids.setdefault(frames, len(frame_ids))
        of_location.append(k)
    # each sample's stack of frame ids (leaf first), numbered; then the stacks of counted samples
    table = stacks.locations
    frame_rows = np.asarray(of_location, dtype=np.int32 if len(frame_ids) < 2**31 else np.int64)[table.loc_index]
    starts = table.starts
    # keyed below the allocation wrappers: a location cut partway stands for its frames left
    frame_rows, starts, cut = _below_wrappers(frame_rows, starts, frame_ids, wrappers)
    frames_by_id = list(frame_ids)
    stack_of, _ = factorize_rows(frame_rows, starts)
    w = stacks.weights(index)
    wanted = np.flatnonzero(w != 0)
    _, first, groups = index_of(stack_of[wanted])
    n = len(first)
    value = sums(groups, w[wanted], n) if n else []
    space = sums(groups, stacks.weights(i_bytes)[wanted], n) if n and i_bytes is not None else [0] * n
    objects = sums(groups, stacks.weights(i_objs)[wanted], n) if n and i_objs is not None else [0] * n
    vt = profile.sample_types[index]
    vt_space = profile.sample_types[i_bytes] if i_bytes is not None else vt
    # the largest, ties broken by the stack's frame ids: only stacks that can make the cut need
    # their ids as a tuple (in floats a few more may look tied: still only candidates)
    candidates: list[int] | range = range(n)
    if n > MAX_LEAK_SITES:
        size = np.abs(np.asarray(value, dtype=np.float64))
        candidates = np.flatnonzero(size >= np.partition(size, n - MAX_LEAK_SITES)[n - MAX_LEAK_SITES]).tolist()

    def key_of(g: int) -> tuple[int, ...]:
        s = int(wanted[first[g]])
        return tuple(frame_rows[starts[s]:starts[s + 1]].tolist())

    ordered = heapq.nsmallest(MAX_LEAK_SITES, ((abs(value[g]), key_of(g), g) for g in candidates),
                              key=lambda vkg: (-vkg[0], vkg[1]))
    sites = []
    for rank, (_, key, g) in enumerate(ordered, 1):
        v = value[g]
        sites.append(LeakSite(
            rank=rank, value=round(v), value_text=format_value(v, vt.unit, unit),
            pct=percentage(v, total).strip(), bytes=round(space[g]) if i_bytes is not None else None,
            objects=round(objects[g]) if i_objs is not None else None,
            frames=[f for k in key for f in frames_by_id[k]],
            objects_text=count_text(objects[g], words.objects) if i_objs is not None else "",
            bytes_text=format_value(space[g], vt_space.unit, unit_bytes) if i_bytes is not None else "",
            wrappers=_cut_frames(table, of_location, frames_by_id, int(wanted[first[g]]), int(cut[wanted[first[g]]])),
        ))
    return sites, n


def _below_wrappers(rows: npt.NDArray[Any], starts: IntArray, frame_ids: dict[tuple[Frame, ...], int],
                    wrappers: Wrappers) -> tuple[npt.NDArray[Any], IntArray, IntArray]:
    """Stacks of interned frame tuples with their leading wrapper frames cut (wrappers.cut_rows);
    a tuple cut partway is interned as what is left of it."""
    if not wrappers.found and not wrappers.names:
        return rows, starts, np.zeros(len(starts) - 1, dtype=np.int64)
    tuples = list(frame_ids)

    def trim(k: int, drop: int) -> int:
        return frame_ids.setdefault(tuples[k][drop:], len(frame_ids))

    return cut_rows(rows, starts, [tuple(f.function for f in t) for t in tuples], wrappers, trim)


def _cut_frames(table: SampleTable, of_location: list[int], frames_by_id: list[tuple[Frame, ...]],
                sample: int, cut: int) -> tuple[Frame, ...]:
    """The `cut` wrapper frames of a sample, leaf first."""
    if not cut:
        return ()
    ids = table.loc_index[table.starts[sample]:table.starts[sample + 1]].tolist()
    return tuple(f for k in ids for f in frames_by_id[of_location[k]])[:cut]

def report_wrappers(profile: Profile, samples: Sequence[Sample], stacks: StackTable | None, dumps: list[Profile],
                    totals: list[int], opts: ReportOptions) -> Wrappers:
    """The allocation wrappers of a heap profile's stacks, found in the shown samples, or in a
    series' largest dump by `totals` (a collapsed last dump holds little)."""
    value_type, count_type = profile.profile_kind.growth_types
    largest = dumps[max(range(len(dumps)), key=lambda i: (abs(totals[i]), -i))]
    if largest is not profile and len(dumps) > 1:
        profile, samples, stacks = largest, largest.samples, None
    names = [t.type for t in profile.sample_types]
    if value_type not in names:
        return NO_WRAPPERS
    table = stacks if stacks is not None else StackTable(samples, suspect_options(opts.node_options))
    return detect(table, names.index(value_type), names.index(count_type) if count_type in names else None,
                  opts.wrappers)

