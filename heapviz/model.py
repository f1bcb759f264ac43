"""The one profile model every format parses into and every view reads.

Shaped like pprof's profile.proto: sample types, samples whose stacks are locations (leaf
first), locations with one or more lines (inline frames, innermost first), functions and
mappings. It holds data only; parsing, symbolization and views live elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from heapviz.kinds import HEAP, ProfileKind

# Sampled (scaled) values stay exact floats in the model; unscaled ones are ints.
Value = int | float

UNKNOWN_STACK = "[unknown stack]"  # a sample recorded without any frame
TRUNCATED_STACK = "[truncated stack]"  # the root of a stack cut at the producer's depth limit


@dataclass(frozen=True)
class ValueType:
    type: str
    unit: str


@dataclass
class Mapping:
    id: int
    start: int
    limit: int
    offset: int
    file: str
    build_id: str = ""
    # Set by the symbolizer: the ELF file actually used and whether it yielded names.
    symbol_file: str = ""
    has_functions: bool = False

    @property
    def basename(self) -> str:
        return self.file.rsplit("/", 1)[-1] if self.file else ""

    def file_offset(self, address: int) -> int:
        """The address as an offset into the mapped file (ASLR-independent)."""
        return address - self.start + self.offset


@dataclass(frozen=True)
class Function:
    id: int
    name: str  # demangled, as shown
    system_name: str  # as found in the binary (mangled for C++)
    filename: str = ""
    start_line: int = 0


@dataclass(frozen=True)
class Line:
    function: Function
    line: int = 0
    column: int = 0


@dataclass
class Location:
    id: int
    address: int  # already moved back by one byte onto the call instruction
    mapping: Mapping | None = None
    lines: tuple[Line, ...] = ()  # innermost (inlined) first, outermost last


# A sample's labels, as pprof's: (key, text) or (key, number, unit), in the file's order.
Label = tuple[str, str] | tuple[str, int, str]


@dataclass
class Sample:
    values: list[Value]
    locations: tuple[Location, ...]  # leaf first, root last
    labels: tuple[Label, ...] = ()  # e.g. Go's pprof labels; samples with different labels stay apart


@dataclass(frozen=True)
class Timeline:
    """Totals over the whole run a series comes from, at every point the producer measured
    (massif's every snapshot, detailed or not), in the producer's own time unit."""

    unit: str  # "instructions", "ms", "bytes allocated and freed"
    times: tuple[int, ...]
    series: tuple[tuple[str, tuple[int, ...]], ...]  # (name, bytes at each time), e.g. ("heap", …)


@dataclass
class Profile:
    sample_types: list[ValueType]
    # Parsers append Sample objects; formats.load turns them into a SampleTable (sample_table.py),
    # the columnar form every view reads.
    samples: Sequence[Sample] = field(default_factory=list)
    locations: list[Location] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    mappings: list[Mapping] = field(default_factory=list)
    default_sample_type: str = ""
    period_type: ValueType | None = None
    period: int = 0
    source: str = ""  # path as given by the user, "-" for stdin
    kind: str = ""  # the producer's variant, e.g. "heapprofile", "heap_v2", "heap", "growth", "proto"
    # What the values measure (heap, CPU, other): words, default sample type, frames to drop.
    profile_kind: ProfileKind = HEAP
    header: str = ""  # the first line of the file, verbatim
    # Totals stated by the producer, per sample type name (gperftools header); may exceed
    # the sum of the samples when the producer dropped small buckets.
    header_totals: dict[str, Value] = field(default_factory=dict)
    scaled: bool = False  # values are estimates undone from sampling
    sampling: str = ""  # how values were unsampled, for reports
    comments: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Regexes (pprof's drop_frames/keep_frames) set by the format, or "" for none.
    drop_frames: str = ""
    keep_frames: str = ""
    # (count index, bytes index) pairs from which an object's size is count/bytes; the first
    # pair with a non-zero count wins (pprof's `bytes` label; shown as nodelets in graphs).
    size_pairs: tuple[tuple[int, int], ...] = ()
    symbolized: bool = False
    base_source: str = ""  # set on a difference profile (NEW minus this base)
    # Where the profile sits in a series, as its producer numbers dumps (gperftools' file names:
    # app.0003.heap is 3), with the words for it ("dump #3"); and when it was taken (0: unknown).
    sequence: int | None = None
    sequence_text: str = ""
    peak: bool = False  # the producer marked this snapshot of a series as its peak (massif)
    timeline: Timeline | None = None  # the run's totals over time, when the producer measured them
    time_ns: int = 0

    def __reduce__(self) -> tuple[object, ...]:
        """Pickled as columns (packed.py): a fleet's partial sums travel between processes."""
        from heapviz.packed import pack, unpack

        return unpack, (pack(self),)

    def add(self, sample: Sample) -> None:
        """Add a sample while parsing (formats.load then makes the samples a SampleTable)."""
        cast("list[Sample]", self.samples).append(sample)

    def sample_index(self, name: str) -> int:
        for i, vt in enumerate(self.sample_types):
            if vt.type == name:
                return i
        raise KeyError(name)

    def total(self, index: int) -> Value:
        """pprof's total: the sum of |value| over samples."""
        table_total = getattr(self.samples, "total", None)  # a SampleTable sums its column
        if table_total is not None:
            return cast(Value, table_total(index))
        return sum(abs(s.values[index]) for s in self.samples)

    def total_of(self, name: str) -> Value:
        """The total of the sample type called name, 0 when the profile has no such type."""
        for i, vt in enumerate(self.sample_types):
            if vt.type == name:
                return self.total(i)
        return 0

    def warn(self, what: str) -> None:
        """Record a warning about this profile, once."""
        text = f"{self.source or '-'}: {what}"
        if text not in self.warnings:
            self.warnings.append(text)

    def validate(self) -> None:
        """Check internal consistency; a failure here is a heapviz bug, not bad input.

        Every sample is checked for its number of values; stacks are checked in full for
        profiles up to 20,000 samples and on an even spread of 20,000 samples beyond that
        (a full check costs about a microsecond per sample, a third of a fast parse).
        """
        n = len(self.sample_types)
        known = set(map(id, self.locations))
        table_locations = getattr(self.samples, "locations", None)  # a SampleTable's, each used
        if table_locations is not None:
            values = getattr(self.samples, "values")  # noqa: B009 (not a Sample list's attribute)
            if len(self.samples) and values.shape[1] != n:
                raise ValueError(f"a sample does not have {n} values")
            if not known.issuperset(map(id, table_locations)):
                raise ValueError("a sample refers to a location missing from the profile")
        else:
            if any(len(s.values) != n for s in self.samples):
                raise ValueError(f"a sample does not have {n} values")
            step = max(1, len(self.samples) // 20_000)
            for s in self.samples[::step]:
                if not known.issuperset(map(id, s.locations)):
                    raise ValueError("a sample refers to a location missing from the profile")
        mappings = {id(m) for m in self.mappings}
        for loc in self.locations:
            if loc.mapping is not None and id(loc.mapping) not in mappings:
                raise ValueError(f"location {loc.id} refers to unknown mapping")


# A value exactly divisible by its count can come out a hair below the integer in floats
# (sampled values are scaled floats); this keeps 300/3 at 100, not 99.
SIZE_EPSILON = 1e-9


def object_size(count: Value, size: Value) -> int:
    """pprof's `bytes` label: the size of one object, size / count truncated toward zero as
    pprof's integer division does (101 bytes in 2 objects: 50). graph/build.py's _block_sizes
    applies the same rule to arrays."""
    return math.trunc(size / count + SIZE_EPSILON) if count else 0


def main_mapping(profile: Profile) -> Mapping | None:
    """The mapping of the main program: the first that is not a shared object or pseudo file."""
    for m in profile.mappings:
        name = m.basename
        if not name or m.file.startswith("["):
            continue
        if is_shared_object(name):
            continue
        return m
    return None


def profile_title(profile: Profile) -> str:
    """What a graph or report is titled: the main program's name, else the (first) profile's."""
    main = main_mapping(profile)
    if main is not None:
        return main.basename
    return profile.source.split(", ")[0].rsplit("/", 1)[-1]


def is_shared_object(name: str) -> bool:
    base = name.rsplit("/", 1)[-1]
    if base.endswith(".so"):
        return True
    parts = base.split(".so.")
    return len(parts) > 1 and all(p.isdigit() for p in parts[-1].split(".") if p)
