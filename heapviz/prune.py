"""Drop the allocator's own frames so that each stack's leaf is the user's code.

pprof's rule, applied per location and then per sample: scanning a stack from the root,
the first allocator frame after a user frame is cut together with everything leafward.
heapviz's list extends pprof's with the libstdc++ wrappers current GCC inlines, and frames
inside an allocator library's mapping are dropped even when that library is stripped.
"""

from __future__ import annotations

import dataclasses
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from heapviz.model import Location, Profile, Sample
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
    the allocator and the standard library at each stack's leaf."""
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
    std_cache: dict[str, bool] = {}

    def is_std(name: str) -> bool:
        hit = std_cache.get(name)
        if hit is None:
            hit = std_cache[name] = simplify(name).startswith(STDLIB_PREFIXES)
        return hit

    trimmed: dict[tuple[int, int], Location] = {}

    def trim(loc: Location, k: int) -> Location:
        """A copy of loc without its k innermost (standard-library) lines."""
        got = trimmed.get((loc.id, k))
        if got is None:
            got = Location(id=len(locations) + 1, address=loc.address, mapping=loc.mapping, lines=loc.lines[k:])
            locations.append(got)
            trimmed[(loc.id, k)] = got
        return got

    # Only a stack with a marked location can be cut, and only one whose leaf is in an allocator
    # library or the standard library can be stripped (locations by object: every sample's are
    # in the profile's list). Most stacks of a big profile are neither and are passed over.
    marked = {id(loc) for loc in profile.locations if loc.id in prune or loc.id in prune_beneath}
    leaves = {id(loc) for loc in profile.locations
              if (loc.mapping is not None and ALLOCATOR_LIBRARIES.match(loc.mapping.basename))
              or (loc.lines and is_std(loc.lines[0].function.name))} if allocator else set()
    changed = 0
    samples = []
    for sample in profile.samples:
        locs = sample.locations
        if marked.isdisjoint(map(id, locs)):
            if not locs or id(locs[0]) not in leaves:
                samples.append(sample)
                continue
            new = locs
        else:
            new = _cut(locs, prune, prune_beneath)
            if replaced:
                new = tuple(replaced.get(id(loc), loc) for loc in new)
        if allocator:
            new = _strip_library_leaves(new)
            new = _strip_std_leaves(new, is_std, trim)
        if len(new) == len(locs) and all(map(operator.is_, new, locs)):
            samples.append(sample)
        else:
            changed += 1
            samples.append(Sample(sample.values, new, sample.labels))
    # Samples and locations not cut are shared with the input, which stays as it was.
    out = dataclasses.replace(profile, samples=samples, locations=locations)
    return Pruned(out, changed, tuple(sorted(name for name, hit in cache.items() if hit)))


def _cut(locs: tuple[Location, ...], prune: set[int], beneath: set[int]) -> tuple[Location, ...]:
    found_user = False
    for i in range(len(locs) - 1, -1, -1):
        lid = locs[i].id
        if lid not in prune and lid not in beneath:
            found_user = True
            continue
        if not found_user:
            continue
        if lid in prune:
            return locs[i + 1 :]
        return locs[i:]
    return locs


def _strip_std_leaves(
    locs: tuple[Location, ...], is_std: Callable[[str], bool], trim: Callable[[Location, int], Location]
) -> tuple[Location, ...]:
    for i, loc in enumerate(locs):
        k = 0
        while k < len(loc.lines) and is_std(loc.lines[k].function.name):
            k += 1
        if k == 0:
            return locs[i:] if i else locs
        if k < len(loc.lines):
            return (trim(loc, k), *locs[i + 1 :])
    return locs  # nothing but the standard library: keep it all


def _strip_library_leaves(locs: tuple[Location, ...]) -> tuple[Location, ...]:
    i = 0
    while i < len(locs) - 1:
        m = locs[i].mapping
        if m is None or not ALLOCATOR_LIBRARIES.match(m.basename):
            break
        i += 1
    return locs[i:] if i else locs
