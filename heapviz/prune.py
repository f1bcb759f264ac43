"""Drop the allocator's own frames so that each stack's leaf is the user's code.

pprof's rule, applied per location and then per sample: scanning a stack from the root,
the first allocator frame after a user frame is cut together with everything leafward.
heapviz's list extends pprof's with the libstdc++ wrappers current GCC inlines, and frames
inside an allocator library's mapping are dropped even when that library is stripped.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from heapviz.graph.arrays import BoolArray, IntArray
from heapviz.model import Location, Profile
from heapviz.sample_table import SampleTable
from heapviz.symbolize.demangle import simplify

# Matched against the whole short name (no parameters, no template arguments).
ALLOCATOR_FRAMES: tuple[str, ...] = (
    # C allocation functions and glibc internals
    r"calloc|cfree|malloc|free|memalign|do_memalign|(__)?posix_memalign|pvalloc|valloc|realloc",
    r"aligned_alloc|reallocarray|__libc_(malloc|calloc|realloc|memalign|valloc|pvalloc|free)",
    r"(__GI_)?(__)?(strn?dup|wcsdup|v?asprintf|vasprintf_internal)|__libc_scratch_buffer_.*",
    r"_int_malloc|_int_memalign|_int_realloc|tcache_init|malloc_hook_ini|__malloc_alloc_template::allocate",
    # C++ operators
    r"operator new(\[\])?|operator delete(\[\])?|__builtin_(vec_)?(new|delete)|cpp_alloc",
    # tcmalloc / gperftools
    r"tcmalloc::.*|tc_[a-z_]+|(::)?do_malloc(_no_errno|_pages|_or_cpp_alloc)?|DoSampledAllocation",
    r"MallocedMemBlock::MallocedMemBlock|BaseArena::.*|simple_alloc::allocate|MallocHook::.*",
    r"\(anonymous namespace\)::(do_|nop_)(malloc|free|memalign|calloc|realloc)\w*",
    # jemalloc
    r"je_.*|newImpl|mallocx|rallocx|xallocx|dallocx|sdallocx|sdallocx_noflags|imalloc(_body)?|ialloc(_body)?",
    # libstdc++ allocator plumbing that GCC inlines into user frames
    r"std::__new_allocator::allocate|__gnu_cxx::new_allocator::allocate|std::allocator::allocate",
    r"std::allocator_traits::allocate|std::__allocate_guarded|std::__allocate_guarded_obj",
    r"std::_Vector_base::_M_allocate|std::_Deque_base::_M_allocate_(node|map)",
    r"std::_Rb_tree::_M_get_node|std::_Rb_tree::_M_create_node|std::_List_base::_M_get_node",
    r"std::_List_node::.*|std::__detail::_Hashtable_alloc::_M_allocate_(node|buckets)",
    r"std::_Hashtable::_M_allocate_buckets|std::_Fwd_list_base::_M_get_node",
    r"std::__cxx11::basic_string::_M_create|std::basic_string::_M_create|std::basic_string::_Rep::_S_create",
    r"std::__cxx11::basic_string::_S_allocate|std::basic_string::_S_allocate",
    r"std::_Sp_counted_ptr_inplace::.*|std::__shared_count::__shared_count",
    # Go runtime (pprof's list)
    r"runtime\..*",
)

KEEP_FRAMES = r"runtime\.panic|runtime\.reflectcall|runtime\.call[0-9]*"

# Standard-library frames left at the leaf after the cut (std::vector::reserve,
# std::_Rb_tree::_Auto_node…) are dropped too, so that the leaf is the user's function.
STDLIB_PREFIXES = ("std::", "__gnu_cxx::", "__cxxabiv1::", "__gnu_debug::", "__cxa_")

# Libraries whose own frames are never user code, matched on the mapping's file name.
ALLOCATOR_LIBRARIES = re.compile(r"^lib(tcmalloc|jemalloc)[\w-]*\.so")


@dataclass(frozen=True)
class PruneOptions:
    all_frames: bool = False
    drop_frames: tuple[str, ...] = ()  # extra regexes, e.g. a project's own allocator wrappers


def _compile(parts: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("^(?:" + "|".join(f"(?:{p})" for p in parts) + ")$")


@dataclass(frozen=True)
class Pruned:
    """What dropping frames made: a new profile, and what was decided, for the user to see."""

    profile: Profile
    changed: int = 0  # samples whose stacks were cut
    functions: tuple[str, ...] = ()  # the names of the frames that matched, sorted


def drop_allocator_frames(profile: Profile, options: PruneOptions = PruneOptions()) -> Pruned:
    """The profile with allocator frames cut from every sample (the input is not changed)."""
    if options.all_frames:
        return Pruned(profile)
    if not profile.profile_kind.drop_allocator_frames:
        # CPU and other profiles: only the user's --drop-frames and the file's own drop_frames
        if not options.drop_frames and not profile.drop_frames:
            return Pruned(profile)
        return _drop(profile, options.drop_frames + ((profile.drop_frames,) if profile.drop_frames else ()), False)
    parts = ALLOCATOR_FRAMES + options.drop_frames
    if profile.drop_frames:
        parts += (profile.drop_frames,)
    return _drop(profile, parts, True)


def _drop(profile: Profile, parts: tuple[str, ...], allocator: bool) -> Pruned:
    """Cut frames matching `parts` by pprof's rule; with `allocator`, also strip what is left of
    the allocator and the standard library at each stack's leaf. Decided once per location,
    then applied to every sample's stack at once over the sample table's arrays."""
    drop = _compile(parts)
    keep_rx = profile.keep_frames or (KEEP_FRAMES if allocator else "")
    keep = re.compile(f"^(?:{keep_rx})$") if keep_rx else None
    cache: dict[str, bool] = {}

    def matches(name: str) -> bool:
        hit = cache.get(name)
        if hit is None:
            short = simplify(name)
            hit = bool(drop.match(short)) and not (keep is not None and keep.match(short))
            cache[name] = hit
        return hit

    prune: set[int] = set()
    prune_beneath: set[int] = set()
    locations = list(profile.locations)  # the result's: copies replace the locations cut inside
    replaced: dict[int, Location] = {}  # id(location) -> its copy without the inner frames cut
    for k, loc in enumerate(profile.locations):
        # From the outermost inline frame inward: the first allocator frame found cuts it
        # and the frames inlined into it.
        for i in range(len(loc.lines) - 1, -1, -1):
            if matches(loc.lines[i].function.name):
                prune_beneath.add(loc.id)
                if i == len(loc.lines) - 1:
                    prune.add(loc.id)
                else:
                    copy = Location(loc.id, loc.address, loc.mapping, loc.lines[i + 1 :])
                    replaced[id(loc)] = locations[k] = copy
                break
    table = SampleTable.from_samples(profile.samples)
    # the result's locations: the table's, the copies cut inside, then the leaves trimmed of std lines
    candidates = list(table.locations)
    loc_map = np.arange(len(candidates), dtype=np.int32)
    for k, loc in enumerate(table.locations):
        inside = replaced.get(id(loc))
        if inside is not None:
            loc_map[k] = len(candidates)
            candidates.append(inside)
    flags = _LocationFlags(candidates, prune, prune_beneath, allocator)
    hits = tuple(sorted(name for name, hit in cache.items() if hit))
    if not (flags.marked.any() or flags.library.any() or flags.std_lines.any()):
        return Pruned(dataclasses.replace(profile, locations=locations), 0, hits)  # no stack has a frame to cut
    lens = table.lens
    sample_of = np.repeat(np.arange(len(table), dtype=np.int64), lens)
    pos = np.arange(len(table.loc_index), dtype=np.int64)
    pos -= table.starts[sample_of]
    index = loc_map[table.loc_index]  # each frame's location in the result, before trimming
    start, trimmed = _cuts(table, index, flags, allocator, sample_of, pos)
    leaf_pos = table.starts[:-1] + start
    trim_of = np.full(len(candidates), -1, dtype=np.int32)
    if trimmed.any():
        rows = np.flatnonzero(trimmed)
        trim_locs = index[leaf_pos[rows]]
        _, first = np.unique(trim_locs, return_index=True)
        for k in trim_locs[np.sort(first)].tolist():  # in order of the first sample needing it
            loc = candidates[k]
            copy = Location(id=len(locations) + 1, address=loc.address, mapping=loc.mapping,
                            lines=loc.lines[int(flags.std_lines[k]):])
            locations.append(copy)
            trim_of[k] = len(candidates)
            candidates.append(copy)
    kept = pos >= start[sample_of]
    touched = np.zeros(len(table), dtype=np.bool_)
    if replaced:
        moved = np.flatnonzero(kept & (index != table.loc_index))
        touched[sample_of[moved]] = True
    if trimmed.any():
        rows = np.flatnonzero(trimmed)
        index[leaf_pos[rows]] = trim_of[index[leaf_pos[rows]]]
    changed_rows = (start > 0) | trimmed | touched
    changed = int(changed_rows.sum())
    if not changed:
        out = dataclasses.replace(profile, locations=locations)
    else:
        new_lens = lens - start
        new_starts = np.zeros(len(table) + 1, dtype=np.int64)
        np.cumsum(new_lens, out=new_starts[1:])
        samples = SampleTable(candidates, index[kept], new_starts, table.values, table.labels, table.label_of)
        # Locations not cut are shared with the input, which stays as it was.
        out = dataclasses.replace(profile, samples=samples, locations=locations)
    return Pruned(out, changed, hits)


class _LocationFlags:
    """Per location of a sample table, what the cut and the leaf stripping need to know."""

    def __init__(self, locations: Sequence[Location], prune: set[int], beneath: set[int], allocator: bool) -> None:
        n = len(locations)
        self.prune = np.fromiter((loc.id in prune for loc in locations), dtype=np.bool_, count=n)
        self.marked = self.prune | np.fromiter((loc.id in beneath for loc in locations), dtype=np.bool_, count=n)
        self.library = np.zeros(n, dtype=np.bool_)
        self.std_lines = np.zeros(n, dtype=np.int32)  # leading (innermost) standard-library lines
        self.all_std = np.zeros(n, dtype=np.bool_)  # every line is the standard library's
        if not allocator:
            return
        std_cache: dict[str, bool] = {}

        def is_std(name: str) -> bool:
            hit = std_cache.get(name)
            if hit is None:
                hit = std_cache[name] = simplify(name).startswith(STDLIB_PREFIXES)
            return hit

        for k, loc in enumerate(locations):
            self.library[k] = loc.mapping is not None and bool(ALLOCATOR_LIBRARIES.match(loc.mapping.basename))
            j = 0
            while j < len(loc.lines) and is_std(loc.lines[j].function.name):
                j += 1
            self.std_lines[k] = j
            self.all_std[k] = j > 0 and j == len(loc.lines)


def _cuts(table: SampleTable, index: npt.NDArray[np.int32], flags: _LocationFlags, allocator: bool,
          sample_of: IntArray, pos: IntArray) -> tuple[IntArray, BoolArray]:
    """Per sample, where its stack now starts (leaf first positions cut away), and whether the
    new leaf is a copy without its standard-library lines.

    pprof's cut, scanning from the root: the first marked frame below the rootmost unmarked
    one is cut with everything leafward (kept itself when only frames inlined into it matched).
    Then, for heap profiles, allocator-library frames at the leaf go (keeping the last frame),
    and standard-library frames at the leaf go while whole locations are the standard
    library's (a location partly so loses those lines), unless nothing else is left. `index`:
    each frame's location among `flags`' (a location cut inside is its copy); `sample_of` and
    `pos`: each frame's sample and position in it."""
    n = len(table)
    lens = table.lens
    loc = index
    marked = flags.marked[loc]
    rootmost_user = _last_where(~marked, table.starts, pos)
    cut = _last_where(marked & (pos < rootmost_user[sample_of]), table.starts, pos)
    has_cut = cut >= 0
    start = np.zeros(n, dtype=np.int64)
    cut_loc = loc[table.starts[:-1][has_cut] + cut[has_cut]]
    start[has_cut] = cut[has_cut] + flags.prune[cut_loc]
    trimmed = np.zeros(n, dtype=np.bool_)
    if not allocator:
        return start, trimmed
    after = pos >= start[sample_of]
    first_own = _first_where(~flags.library[loc] & after, table.starts, pos)
    start = np.where(first_own >= 0, first_own, np.maximum(lens - 1, 0))
    not_std = _first_where(~flags.all_std[loc] & (pos >= start[sample_of]), table.starts, pos)
    found = not_std >= 0
    start = np.where(found, not_std, start)
    leaf = loc[table.starts[:-1][found] + start[found]]
    trimmed[found] = flags.std_lines[leaf] > 0
    return start, trimmed


def _last_where(cond: BoolArray, starts: IntArray, pos: IntArray) -> IntArray:
    """Per sample (stacks at `starts`), the last position where cond holds, or -1."""
    return _per_sample(np.where(cond, pos, -1), starts, np.maximum, -1)


def _first_where(cond: BoolArray, starts: IntArray, pos: IntArray) -> IntArray:
    """Per sample (stacks at `starts`), the first position where cond holds, or -1."""
    none = np.iinfo(np.int64).max
    first = _per_sample(np.where(cond, pos, none), starts, np.minimum, none)
    first[first == none] = -1
    return first


def _per_sample(values: IntArray, starts: IntArray, op: np.ufunc, empty: int) -> IntArray:
    """op reduced over each sample's run of values (`empty` for a sample without frames)."""
    out = np.full(len(starts) - 1, empty, dtype=np.int64)
    nonempty = np.flatnonzero(np.diff(starts) > 0)
    if len(nonempty):
        out[nonempty] = op.reduceat(values, starts[nonempty])
    return out
