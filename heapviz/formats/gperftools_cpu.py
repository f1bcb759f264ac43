"""gperftools CPU profiles (CPUPROFILE, ProfilerStart/ProfilerStop): binary machine words of the
writer's size and byte order, then the process's /proc/self/maps as text.

Parses into the model with raw addresses; symbolization happens later. The word size and byte
order are read off the header, as pprof reads them.
"""

from __future__ import annotations

import array
import struct
from typing import TYPE_CHECKING

import numpy as np

from heapviz.errors import InputError
from heapviz.formats import procmaps
from heapviz.kinds import CPU
from heapviz.model import UNKNOWN_STACK, Function, Line, Location, Mapping, Profile, Sample, ValueType

if TYPE_CHECKING:
    from heapviz.formats import LineReader

NAME = "gperftools_cpu"
DESCRIPTION = "gperftools CPU profiles (CPUPROFILE, binary)"

# pprof's order of trying: 32-bit little, 32-bit big, 64-bit little, 64-bit big endian. Only one
# can read a valid header: its first slot is 0 and its second is not, which fixes both.
_LAYOUTS = (("<", 4), (">", 4), ("<", 8), (">", 8))
_MAX_HEADER_WORDS = 64  # the header's own count of the slots after its second; gperftools writes 3
# A record claiming more frames than this and running past the end of the file is damage, not a
# file cut short: gperftools records at most 254 frames (64 before 2.1), Go's old writer 64.
_MAX_FRAMES = 1024
_MASK64 = (1 << 64) - 1
_MAX_VALUE = (1 << 63) - 1  # values are signed 64-bit numbers in profile.proto and in heapviz's tables
# The profiler's own frames, cut from the stacks as pprof does for legacy CPU profiles.
DROP_FRAMES = r"ProfileData::Add|ProfileData::prof_handler|CpuProfiler::prof_handler|__pthread_sighandler|__restore"
# pprof's guess at a signal-handler frame: a second frame shared by all records but one in this
# many is cut, up to twice (google/pprof profile/legacy_profile.go, cpuProfile).
_SIMILAR_RECORDS = 32


class _Layout:
    """How the file's words are written, and its header."""

    def __init__(self, order: str, size: int, header_words: int, period_us: int) -> None:
        self.order = order
        self.size = size
        self.header_words = header_words  # slots in the whole header
        self.period_us = period_us

    def describe(self) -> str:
        endian = "little" if self.order == "<" else "big"
        return f"{self.size * 8}-bit {endian}-endian"


def _layout(head: bytes) -> _Layout | None:
    """The one word size and byte order under which `head` starts with a valid header
    (0, n >= 3, version 0, period > 0, padding 0), or None."""
    for order, size in _LAYOUTS:
        if len(head) < 5 * size:
            continue
        w = struct.unpack_from(f"{order}5{'I' if size == 4 else 'Q'}", head)
        if w[0] == 0 and 3 <= w[1] <= _MAX_HEADER_WORDS and w[2] == 0 and w[3] > 0 and w[4] == 0:
            return _Layout(order, size, 2 + w[1], w[3])
    return None


def sniff(head: bytes) -> bool:
    return _layout(head) is not None


def parse(reader: LineReader) -> Profile:
    data = reader.read_bytes()
    layout = _layout(data)
    if layout is None:  # sniff() passed on the same bytes; kept for callers that skip it
        raise reader.error("not a gperftools CPU profile: no valid header", 0)
    size = layout.size
    if len(data) < layout.header_words * size:
        raise reader.error(f"file ends inside its {layout.header_words}-word header", 0)
    period_ns = layout.period_us * 1000
    profile = Profile(
        sample_types=[ValueType("samples", "count"), ValueType("cpu", "nanoseconds")],
        source=reader.path,
        kind="cpuprofile",
        profile_kind=CPU,
        header=f"gperftools CPU profile, {layout.describe()} words, sampling period {layout.period_us} us",
        default_sample_type="cpu",
        period_type=ValueType("cpu", "nanoseconds"),
        period=period_ns,
        drop_frames=DROP_FRAMES,
        sampling=f"one sample every {layout.period_us} us of CPU time ({1e6 / layout.period_us:g} Hz); "
                 "a function's time is its samples times the period",
    )
    if period_ns > _MAX_VALUE:
        raise reader.error(f"sampling period of {layout.period_us} us is too large", 0)
    words, records, whole, maps_at = _records(data, layout, reader)
    if not records and maps_at is None:
        raise reader.error(f"file is truncated at byte offset {len(data)} before its first complete record", 0)
    if maps_at is None:
        profile.warn(f"file is truncated at byte offset {len(data)}, before its end-of-data trailer (the "
                     f"profiler writes it at ProfilerStop or exit): read the {len(records)} whole records up to "
                     f"byte offset {whole}; no memory map")
        map_text = b""
    else:
        map_text = data[maps_at:]
    profile.mappings = _mappings(map_text, profile)
    if maps_at is not None and not profile.mappings:
        profile.warn("no memory map after the profile's trailer; only a non-PIE --binary can be symbolized")
    _build(profile, [(count, words[first:end]) for count, first, end in records])
    return profile


def _records(data: bytes, layout: _Layout,
             reader: LineReader) -> tuple[list[int], list[tuple[int, int, int]], int, int | None]:
    """The file's words (as this machine's integers, widened to 64 bits); each record as (count,
    first and end word of its program counters, leaf first); the byte offset where the last whole
    record ends; and where the memory map starts after the trailer (None when the file ends
    before the trailer: the profiler was stopped before writing it)."""
    size = layout.size
    n_words = len(data) // size
    words = np.frombuffer(data, dtype=np.dtype(f"{layout.order}u{size}"), count=n_words).astype(np.uint64)
    records: list[tuple[int, int, int]] = []
    period_ns = layout.period_us * 1000
    # Each record's count and number of frames, hopping from record to record.
    w = array.array("Q", words.tobytes())
    pos = layout.header_words
    maps_at: int | None = None
    while pos + 2 <= n_words:
        count, n = w[pos], w[pos + 1]
        end = pos + 2 + n
        if end > n_words:
            if n > _MAX_FRAMES:
                raise reader.error(f"record at byte offset {pos * size} has {n} frames, which run past the end "
                                   f"of the file ({len(data)} bytes)", 0)
            break  # cut inside a record
        if count == 0 and n == 1 and w[pos + 2] == 0:
            maps_at = end * size
            break
        if count * period_ns > _MAX_VALUE:
            raise reader.error(f"record at byte offset {pos * size} counts {count} samples, whose time does not "
                               "fit in 64 bits", 0)
        records.append((count, pos + 2, end))
        pos = end
    return _adjusted(words, records), records, pos * size, maps_at


def _adjusted(words: np.ndarray, records: list[tuple[int, int, int]]) -> list[int]:
    """The words with every non-leaf program counter moved back by one, onto its call
    instruction (wrapping around 64 bits as pprof's do); the leaf is where the signal hit."""
    if not records:
        return []
    span = records[-1][2] + 1
    marks = np.zeros(span, dtype=np.int64)
    # +1 after each record's leaf, -1 after its last frame: the running sum is 1 on its callers.
    firsts = np.fromiter((s + 1 for _, s, e in records if e > s), dtype=np.int64)
    ends = np.fromiter((e for _, s, e in records if e > s), dtype=np.int64)
    np.add.at(marks, firsts, 1)
    np.add.at(marks, ends, -1)
    callers = np.cumsum(marks[:-1]) > 0
    adjusted: list[int] = (words[:span - 1] - callers.astype(np.uint64)).tolist()
    return adjusted


def _mappings(text: bytes, profile: Profile) -> list[Mapping]:
    """The executable mappings of the /proc/self/maps text; lines that are not mappings are
    skipped (pprof ignores them too), with one warning."""
    good: list[tuple[int, bytes]] = []
    skipped = 0
    for k, line in enumerate(text.split(b"\n"), 1):
        line = line.rstrip(b"\r")
        if not line.strip():
            continue
        try:
            procmaps.parse_lines([(k, line)], profile.source)
        except InputError:
            skipped += 1
            continue
        good.append((k, line))
    if skipped:
        profile.warn(f"skipped {skipped} lines of the memory map that are not mappings")
    return procmaps.parse_lines(good, profile.source)


def _build(profile: Profile, records: list[tuple[int, list[int]]]) -> None:
    """Locations and samples from the records (count, addresses looked up, leaf first), with
    pprof's clean-ups of the stacks. Locations are keyed by the address looked up, as pprof's
    are: one address can be a leaf in one stack and a caller's return address - 1 in another."""
    stacks = [st for _, st in records]
    cut = _cut_signal_frames(stacks)
    for addr in cut:
        profile.warn(f"dropped frame 0x{addr:x} from the stacks: it is the second frame of nearly every record, "
                     "which pprof takes for the signal handler's and drops too")
    for st in stacks:
        # The leaf again, as a caller (from the signal context and the unwinder both).
        if len(st) > 1 and st[0] == (st[1] + 1) & _MASK64:
            del st[1]
    counts: dict[tuple[int, ...], int] = {}
    for (count, _), st in zip(records, stacks, strict=True):
        if count:  # a record of no samples adds nothing (pprof's graph skips it too)
            key = tuple(st)
            # A stack is written again each time the profiler evicts it from its table: summed.
            counts[key] = counts.get(key, 0) + count
    addresses: set[int] = set()
    for key in counts:
        addresses.update(key)
    index = procmaps.MappingIndex(profile.mappings)
    locations = {a: Location(id=k, address=a, mapping=index.find(a)) for k, a in enumerate(sorted(addresses), 1)}
    profile.locations.extend(locations.values())
    if sum(counts.values()) * profile.period > _MAX_VALUE:
        raise InputError(profile.source, "the profile's total time does not fit in 64 bits")
    unknown: tuple[Location, ...] = ()
    if () in counts:  # records without frames: kept, their time is real
        fn = Function(id=len(profile.functions) + 1, name=UNKNOWN_STACK, system_name=UNKNOWN_STACK)
        profile.functions.append(fn)
        unknown = (Location(id=len(profile.locations) + 1, address=0, lines=(Line(fn),)),)
        profile.locations.append(unknown[0])
    period = profile.period
    profile.samples = [Sample([count, count * period], tuple(map(locations.__getitem__, key)) if key else unknown)
                       for key, count in counts.items()]


def _cut_signal_frames(stacks: list[list[int]]) -> list[int]:
    """pprof's rule for legacy CPU profiles: when all records but one in 32 (or all, below 32
    records) share their second frame, it is taken for a frame the signal handler pushed and cut
    from every stack; at most twice. Returns the addresses cut."""
    cut: list[int] = []
    margin = len(stacks) // _SIMILAR_RECORDS
    for _ in range(2):
        seen: dict[int, int] = {}
        for st in stacks:
            if len(st) > 1:
                seen[st[1]] = seen.get(st[1], 0) + 1
        found = next((a for a, n in seen.items() if n >= len(stacks) - margin), None)
        if found is None:
            break
        for st in stacks:
            if len(st) > 1 and st[1] == found:
                del st[1]
        cut.append(found)
    return cut
