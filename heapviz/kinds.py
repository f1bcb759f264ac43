"""What a profile measures, set by each parser: heap memory, CPU time, or something else.

A kind says which sample type is shown by default, whether the allocator's frames are dropped,
whether leaf addresses are return addresses, which sample types growth is measured in, and the
words a report uses. Views ask the kind instead of assuming a heap profile. How a value prints
follows its sample type's unit (units.py), one unit family per dimension.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Words:
    """The words a report uses for one kind of profile."""

    title: str  # "Heap profile of app"
    sites: str  # the section of whole stacks, largest first
    site: str  # one of them
    site_verb: str  # "<value> allocated from <function>"
    flat: str  # what a function's flat value is, in a tooltip: "allocated here: 12kB"
    holds: str  # headline: "Holds the most inuse_space: f"
    suspects: str  # the section of stacks ranked by growth over a series
    grows: str  # what growth is measured in, for people: "in-use bytes"
    objects: str  # the noun of the count sample type: "object" ("3 objects")


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


HEAP = ProfileKind(
    name="heap", default_sample_type="inuse_space", drop_allocator_frames=True, leaf_is_return_address=True,
    growth_types=("inuse_space", "inuse_objects"),
    words=Words(title="Heap profile", sites="Leak sites", site="leak site", site_verb="allocated from",
                flat="allocated here", holds="Holds the most", suspects="Leak suspects",
                grows="in-use bytes", objects="object"),
)

CPU = ProfileKind(
    name="cpu", default_sample_type="cpu", drop_allocator_frames=False, leaf_is_return_address=False,
    growth_types=("cpu", "samples"),
    words=Words(title="CPU profile", sites="Hot paths", site="hot path", site_verb="spent in",
                flat="runs here", holds="Takes the most", suspects="Growing paths",
                grows="CPU time", objects="sample"),
)

OTHER = ProfileKind(
    name="other", default_sample_type="", drop_allocator_frames=False, leaf_is_return_address=True,
    growth_types=("", ""),
    words=Words(title="Profile", sites="Largest stacks", site="stack", site_verb="at",
                flat="here", holds="The most", suspects="Growing stacks", grows="value", objects="sample"),
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
