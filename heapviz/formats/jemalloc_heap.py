"""jemalloc heap profiles (`prof:true`; `heap_v2/<2^lg_prof_sample>`, per-thread counts and a
/proc/self/maps copy), unsampled as jeprof does. `--thread N` reads one thread's values.

Parses into the model with raw addresses; symbolization and dropping jemalloc's own frames
happen later (by name and, for a stripped libjemalloc, by mapping: heapviz.prune).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from heapviz.formats import procmaps
from heapviz.formats.heap_values import SAMPLE_TYPES, unsample_v2
from heapviz.model import UNKNOWN_STACK, Function, Line, Location, Profile, Sample, Value, ValueType

if TYPE_CHECKING:
    from heapviz.formats import LineReader

NAME = "jemalloc_heap"
DESCRIPTION = "jemalloc heap profiles (heap_v2/N with per-thread counts)"
SUPPORTS_THREAD = True  # honours ReadLimits.thread

_HEADER = re.compile(rb"^heap_v2/(\d+)\s*$")
# `  t*: 5: 92032 [5: 92032]` (all threads) or `  t3: …` (thread 3)
_COUNTS = re.compile(rb"^\s*t(\*|\d+):\s*(\d+):\s*(\d+)\s*\[\s*(\d+):\s*(\d+)\s*\]\s*$")
_MAPS_SENTINELS = (b"MAPPED_LIBRARIES:", b"--- Memory map: ---")
_MAX_U64 = (1 << 64) - 1

# jemalloc's internal frames, for an unstripped libjemalloc or a static link (je_-prefixed
# public names, the allocation fast/slow paths and the profiler's own backtrace code).
DROP_FRAMES = (
    r"je_.*|imalloc.*|ialloc.*|iralloc.*|ipalloc.*|prof_backtrace.*|prof_alloc_prep|prof_tctx_.*"
    r"|prof_malloc_sample_object|malloc_default|do_rallocx|newImpl|handleOOM"
)


def sniff(head: bytes) -> bool:
    return head.startswith(b"heap_v2/")


def _pair_values(m: re.Match[bytes], reader: LineReader, rate: float) -> list[Value]:
    ic, ib, ac, ab = (int(g) for g in m.group(2, 3, 4, 5))
    if any(v > _MAX_U64 for v in (ic, ib, ac, ab)):
        raise reader.error("count does not fit in 64 bits")
    if (ic == 0 and ib != 0) or (ac == 0 and ab != 0):
        raise reader.error("count is zero but bytes are not")
    return [*unsample_v2(ic, ib, rate), *unsample_v2(ac, ab, rate)]


def parse(reader: LineReader) -> Profile:
    header_line = next(reader, b"")
    m = _HEADER.match(header_line)
    if not m:
        shown = header_line[:80].decode("utf-8", "replace")
        raise reader.error(f"expected a jemalloc 'heap_v2/RATE' header, got {shown!r}")
    rate_n = int(m.group(1))
    if rate_n < 1:
        raise reader.error("sampling rate 0 in header")
    rate = float(rate_n)
    want = reader.limits.thread
    thread_key = b"*" if want is None else str(want).encode()
    profile = Profile(
        sample_types=list(SAMPLE_TYPES),
        source=reader.path,
        kind="jemalloc",
        header=header_line.decode("utf-8", "replace"),
        default_sample_type="inuse_space",
        period_type=ValueType("space", "bytes"),
        period=rate_n,
        size_pairs=((0, 1), (2, 3)),
        drop_frames=DROP_FRAMES,
    )
    if rate > 1:
        profile.scaled = True
        profile.sampling = (f"jemalloc samples every {rate_n} bytes on average (lg_prof_sample); values are "
                            "estimates scaled by 1/(1-exp(-avg_size/rate)) per stack, as jeprof does")
    if want is not None:
        profile.comments.append(f"thread {want} only (--thread)")

    threads: set[bytes] = set()
    header_values: list[Value] | None = None
    raw: list[tuple[list[Value], list[int]]] = []
    stack: list[int] | None = None
    stack_values: list[Value] | None = None
    map_lines: list[tuple[int, bytes]] = []
    in_maps = False
    saw_alloc = False

    def close() -> None:
        if stack is not None and stack_values is not None and any(stack_values):
            raw.append((stack_values, stack))

    for line in reader:
        if in_maps:
            map_lines.append((reader.line_no, line))
            continue
        if any(s in line for s in _MAPS_SENTINELS):
            in_maps = True
            continue
        if not line.strip():
            continue
        if line.startswith(b"@"):
            close()
            try:
                addrs = [int(a, 16) - 1 for a in line[1:].split()]
            except ValueError:
                raise reader.error("malformed address in stack") from None
            if any(a < 0 or a > _MAX_U64 for a in addrs):
                raise reader.error("stack address out of range")
            stack, stack_values = addrs, None
            continue
        c = _COUNTS.match(line)
        if not c:
            shown = line[:60].decode("utf-8", "replace")
            raise reader.error(f"malformed line, expected '@ ADDRESSES' or 'tN: count: bytes [count: bytes]': "
                               f"{shown!r}")
        values = _pair_values(c, reader, rate)
        if c.group(4) != b"0":
            saw_alloc = True
        key = c.group(1)
        if stack is None:
            # Before the first stack: the profile's totals, for all threads and per thread.
            if key != b"*":
                threads.add(key)
            if key == thread_key:
                header_values = values
            continue
        if key == thread_key:
            if stack_values is not None:
                raise reader.error(f"second 't{key.decode()}:' line for one stack")
            stack_values = values
    close()

    if want is not None and thread_key not in threads:
        shown = ", ".join(sorted((t.decode() for t in threads), key=int)) or "none"
        raise reader.error(f"thread {want} is not in this profile (its threads: {shown})", 0)
    if header_values is None:
        raise reader.error("no 't*:' totals line after the header", 2)
    if not saw_alloc:
        profile.comments.append("alloc values were not recorded (jemalloc runs without prof_accum:true); "
                                "alloc_space and alloc_objects are 0")
    for vt, v in zip(SAMPLE_TYPES, header_values, strict=True):
        profile.header_totals[vt.type] = v
    if reader.missing_final_newline and not in_maps:
        profile.warn(f"file ends at line {reader.line_no} without a memory map: it may be truncated")
    profile.mappings = procmaps.parse_lines(map_lines, reader.path)
    if not in_maps:
        profile.warn("no memory map (MAPPED_LIBRARIES:) in the profile; only a non-PIE --binary can be symbolized")
    _build(profile, raw)
    if rate <= 1:
        _check_totals(profile)
    return profile


def _build(profile: Profile, raw: list[tuple[list[Value], list[int]]]) -> None:
    index = procmaps.MappingIndex(profile.mappings)
    by_addr: dict[int, Location] = {}
    unknown: Location | None = None
    for values, addrs in raw:
        if not addrs:
            if unknown is None:
                fn = Function(id=len(profile.functions) + 1, name=UNKNOWN_STACK, system_name=UNKNOWN_STACK)
                profile.functions.append(fn)
                unknown = Location(id=len(profile.locations) + 1, address=0, lines=(Line(fn),))
                profile.locations.append(unknown)
            profile.add(Sample(values, (unknown,)))
            continue
        stack = []
        for a in addrs:
            loc = by_addr.get(a)
            if loc is None:
                loc = Location(id=len(profile.locations) + 1, address=a, mapping=index.find(a))
                by_addr[a] = loc
                profile.locations.append(loc)
            stack.append(loc)
        profile.add(Sample(values, tuple(stack)))


def _check_totals(profile: Profile) -> None:
    """Unsampled (rate 1) profiles: the stacks must add up to the header's totals."""
    for i, vt in enumerate(profile.sample_types):
        stated = profile.header_totals.get(vt.type, 0)
        summed = sum(s.values[i] for s in profile.samples)
        if stated != summed:
            profile.warn(f"header states {vt.type} {stated} but the stacks sum to {summed}")
            return
