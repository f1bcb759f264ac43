"""What a profile measures, set by each parser: heap memory, CPU time, or something else.

A kind says which sample type is shown by default, whether the allocator's frames are dropped,
whether leaf addresses are return addresses, which sample types growth is measured in, and the
words a report uses. Views ask the kind instead of assuming a heap profile. How a value prints
follows its sample type's unit (units.py), one unit family per dimension.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Words:
    """The words every view uses for one kind of profile. Heap's are the report's original
    wording; each field says where it is used, with heap's text as the example."""

    title: str  # "Heap profile of app"
    sites: str  # the section of whole stacks, largest first: "Leak sites"
    site: str  # one of them: "leak site" ("All 50 leak sites with their stacks")
    site_verb: str  # "<value> allocated from <function>"
    flat: str  # what a function's flat value is, in a tooltip: "allocated here: 12kB"
    holds: str  # headline: "Holds the most inuse_space: f"
    suspects: str  # the section of stacks ranked by growth over a series: "Leak suspects"
    grows: str  # what growth is measured in, for people: "in-use bytes"
    objects: str  # the noun of the count sample type: "object" ("3 objects")
    counts: str  # the count sample type's totals, for people: "in-use objects"
    answer: str  # the link to a single profile's answer: "Leaks"
    largest: str  # the HTML headline: "Largest leak: f holds 12kB"
    largest_site: str  # the PDF headline: "Largest leak site: f, 12kB (40%)"
    largest_sites: str  # the PDF's table of them: "Largest leak sites"
    site_holds: str  # "f holds 12kB"
    nothing: str  # the HTML headline of an empty profile
    no_values: str  # the PDF headline of an empty profile
    top_function: str  # "Function holding the most inuse_space: f"
    flat_self: str  # "12kB (40%) allocated in the function itself"
    by: str  # the column of a stack's leaf function: "Allocated by"
    value_column: str  # the column of a stack's value: "Bytes"
    count_column: str  # the column of a stack's count: "Objects"
    measure: str  # a dump's value, for people: "in use 1MB → 2MB" ("In use" as a column)
    in_use: str  # after a profile's total: "12kB in 3 objects in use"
    ranked_by: str  # how suspects are ranked: "how steadily their in-use bytes grow"
    flat_cum: str  # what flat and cum mean, above the top tables
    flame_width: str  # what a flame frame's width is: "the value held under a frame"
    outline: str  # what a flame frame's dark outline says: "allocates itself"
    outline_plural: str  # "Frames with a dark outline allocate themselves"
    growth_limit: str  # the --fail-if-growth threshold: "in-use growth"


def upper_first(text: str) -> str:
    """`text` with its first letter upper case and the rest as is ("in-use bytes" -> "In-use
    bytes", "CPU time" stays)."""
    return text[:1].upper() + text[1:]


# The sections of a report, in the order both writers give them; each kind selects its own.
SECTIONS: dict[str, str] = {
    "sites": "the largest stacks, by their first frame in the user's code (leak sites, hot paths)",
    "wrappers": "allocation wrappers found at the stacks' leaves, which sites and suspects are keyed below",
    "hidden": "notes on programs known to allocate past the profiler (CPython's small objects)",
    "suspects": "over several dumps: the stacks ranked by how steadily they grow",
    "growth_graph": "over several dumps: the call graph of the last dump minus the first",
    "timeline": "the run's totals at every point the producer measured (massif)",
    "graph": "the call graph",
    "tables": "top functions by flat and by cum, in the shown and the growth sample types",
    "flame": "the flame graph",
    "peek": "callers and callees of the top functions",
    "source": "the annotated code of the top sites",
    "binaries": "the binaries and libraries the stacks ran in, and how they were symbolized",
}
_EVERY = frozenset(SECTIONS)


@dataclass(frozen=True)
class ProfileKind:
    name: str  # "heap", "cpu" or "other"
    default_sample_type: str  # when the file names none
    drop_allocator_frames: bool  # the allocator's own frames are cut from each stack (prune.py)
    # Non-leaf addresses are return addresses (looked up at address - 1); the leaf's too for
    # heap profiles, whose leaf is a call into the allocator, but not for CPU samples.
    leaf_is_return_address: bool
    # The sample types growth (series, suspects, --fail-if-*) is measured in: (value, count).
    growth_types: tuple[str, str]
    words: Words
    # The report sections this kind's reports have (see SECTIONS); collect() computes no other.
    sections: frozenset[str] = frozenset()

    def shows(self, section: str) -> bool:
        if section not in SECTIONS:
            raise KeyError(f"no report section {section!r}")
        return section in self.sections


HEAP = ProfileKind(
    name="heap", default_sample_type="inuse_space", drop_allocator_frames=True, leaf_is_return_address=True,
    growth_types=("inuse_space", "inuse_objects"),
    words=Words(title="Heap profile", sites="Leak sites", site="leak site", site_verb="allocated from",
                flat="allocated here", holds="Holds the most", suspects="Leak suspects",
                grows="in-use bytes", objects="object", counts="in-use objects", answer="Leaks",
                largest="Largest leak", largest_site="Largest leak site", largest_sites="Largest leak sites",
                site_holds="holds", nothing="Nothing is in use in this profile.",
                no_values="No allocations in this profile.", top_function="Function holding the most",
                flat_self="allocated in the function itself", by="Allocated by", value_column="Bytes",
                count_column="Objects", measure="in use", in_use="in use",
                ranked_by="how steadily their in-use bytes grow",
                flat_cum="flat: held by allocations made in the function itself; cum: by it and everything it "
                         "called.",
                flame_width="the value held under a frame", outline="allocates itself",
                outline_plural="allocate themselves", growth_limit="in-use growth"),
    sections=_EVERY - {"timeline"},
)

CPU = ProfileKind(
    name="cpu", default_sample_type="cpu", drop_allocator_frames=False, leaf_is_return_address=False,
    growth_types=("cpu", "samples"),
    words=Words(title="CPU profile", sites="Hot paths", site="hot path", site_verb="spent in",
                flat="runs here", holds="Takes the most", suspects="Growing paths",
                grows="CPU time", objects="sample", counts="samples", answer="Hottest",
                largest="Hottest path", largest_site="Hottest path", largest_sites="Hottest paths",
                site_holds="takes", nothing="No samples in this profile.", no_values="No samples in this profile.",
                top_function="Function taking the most", flat_self="spent in the function itself", by="Function",
                value_column="Time", count_column="Samples", measure="CPU time", in_use="of CPU time",
                ranked_by="how steadily their CPU time grows",
                flat_cum="flat: time spent in the function itself; cum: in it and everything it called.",
                flame_width="the time spent under a frame", outline="spends time itself",
                outline_plural="spend time themselves", growth_limit="CPU time growth"),
    sections=_EVERY - {"timeline", "wrappers", "hidden"},
)

OTHER = ProfileKind(
    name="other", default_sample_type="", drop_allocator_frames=False, leaf_is_return_address=True,
    growth_types=("", ""),
    words=Words(title="Profile", sites="Largest stacks", site="stack", site_verb="at",
                flat="here", holds="The most", suspects="Growing stacks", grows="value", objects="sample",
                counts="samples", answer="Largest", largest="Largest stack", largest_site="Largest stack",
                largest_sites="Largest stacks", site_holds="has", nothing="Nothing in this profile.",
                no_values="No values in this profile.", top_function="Function with the most",
                flat_self="in the function itself", by="Function", value_column="Value", count_column="Samples",
                measure="value", in_use="in all", ranked_by="how steadily their values grow",
                flat_cum="flat: in the function itself; cum: in it and everything it called.",
                flame_width="the value under a frame", outline="has a value itself",
                outline_plural="have a value themselves", growth_limit="growth"),
    sections=_EVERY - {"timeline", "wrappers", "hidden"},  # values of unknown meaning: no allocation wrappers
)

HEAP_TYPES = ("inuse_objects", "inuse_space", "alloc_objects", "alloc_space")
_TIME_UNITS = ("nanoseconds", "microseconds", "milliseconds", "seconds", "ns", "us", "ms", "s")


def classify(sample_types: list[tuple[str, str]], period_type: tuple[str, str] | None) -> ProfileKind:
    """The kind of a profile from its sample types (type, unit) and period type, as a pprof
    profile.proto states them: heap when it has heap sample types (Go's and gperftools'), CPU
    when it measures time (Go's `samples/count, cpu/nanoseconds`), else other."""
    names = {t for t, _ in sample_types}
    if names & set(HEAP_TYPES) or names & {"space", "objects"}:
        return HEAP
    units = {u for _, u in sample_types}
    if "cpu" in names or (period_type is not None and period_type[0] == "cpu") or units & set(_TIME_UNITS):
        return CPU
    return OTHER


# Valgrind memcheck's leak reports (formats/valgrind_memcheck.py): a heap kind with heap's words,
# shown and measured by default in what valgrind calls leaked (definitely + indirectly lost).
MEMCHECK = replace(HEAP, name="memcheck", default_sample_type="leaked_bytes",
                   growth_types=("leaked_bytes", "leaked_blocks"),
                   sections=HEAP.sections - {"binaries"})  # valgrind names no mappings

# Valgrind massif's snapshots (formats/valgrind_massif.py): heap bytes, counted in allocation
# places (massif's word: each tree leaf is one, a below-threshold entry N), not objects.
MASSIF = replace(HEAP, name="massif", growth_types=("inuse_space", "places"),
                 words=replace(HEAP.words, objects="place", counts="allocation places", count_column="Places"),
                 sections=(HEAP.sections | {"timeline"}) - {"binaries"})
