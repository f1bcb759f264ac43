"""gperftools heap profiles in text form: HEAPPROFILE dumps, heap-checker .heap files,
tcmalloc's sampled `heap_v2/R` dumps, `heap/N` and `growth` profiles.

Parses into the model with raw addresses; symbolization happens later.
"""

from __future__ import annotations

import math
import os
import re
from typing import TYPE_CHECKING

from heapviz.formats import procmaps
from heapviz.model import (
    TRUNCATED_STACK,
    UNKNOWN_STACK,
    Function,
    Line,
    Location,
    Profile,
    Sample,
    Value,
    ValueType,
)

if TYPE_CHECKING:
    from heapviz.formats import LineReader

NAME = "gperftools_heap"
DESCRIPTION = "gperftools heap profiles (heapprofile, heap_v2, heap, growth)"

_HEADER = re.compile(
    rb"^\s*heap profile:\s*(-?\d+):\s*(-?\d+)\s*\[\s*(-?\d+):\s*(-?\d+)\s*\]\s*@\s*"
    rb"(heapprofile|heapz?_v2|heap|growthz?)(?:/(-?\d+))?\s*$"
)
_MAPS_SENTINELS = (b"MAPPED_LIBRARIES:", b"--- Memory map: ---")
_SPLIT = bytes.maketrans(b"[]:", b"   ")
_MAX_U64 = (1 << 64) - 1
MAX_STACK_DEPTH = 32  # gperftools records at most this many frames (heap-profile-stats.h)

SAMPLE_TYPES = [
    ValueType("inuse_objects", "count"),
    ValueType("inuse_space", "bytes"),
    ValueType("alloc_objects", "count"),
    ValueType("alloc_space", "bytes"),
]


def sniff(head: bytes) -> bool:
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    return first.lstrip().startswith(b"heap profile:")


def unsample_v2(count: int, size: int, rate: float) -> tuple[Value, Value]:
    """Undo tcmalloc's Poisson sampling for one (count, bytes) pair.

    An allocation of s bytes is sampled with probability 1-exp(-s/rate), so each sampled
    object stands for 1/(1-exp(-avg/rate)) objects. Kept exact (float), unlike Go's pprof,
    which truncates every sample to an integer.
    """
    if count == 0 or size == 0:
        return 0, 0
    if rate <= 1:
        return count, size
    scale = 1.0 / (1.0 - math.exp(-(size / count) / rate))
    return count * scale, size * scale


def _int(tok: bytes, reader: LineReader, what: str) -> int:
    try:
        v = int(tok)
    except ValueError:
        raise reader.error(f"expected a number for {what}, got {tok[:40]!r}") from None
    if v < 0:
        raise reader.error(f"negative {what}: {v}")
    if v > _MAX_U64:
        raise reader.error(f"{what} does not fit in 64 bits: {v}")
    return v


def parse(reader: LineReader) -> Profile:
    header_line = next(reader, b"")
    m = _HEADER.match(header_line)
    if not m:
        shown = header_line[:80].decode("utf-8", "replace")
        raise reader.error(f"expected a gperftools 'heap profile: … @ heapprofile' header, got {shown!r}")
    kind = m.group(5).decode()
    rate_tok = m.group(6)
    totals = [int(g) for g in m.group(1, 2, 3, 4)]
    if any(t < 0 for t in totals):
        raise reader.error("negative total in header")
    profile = Profile(
        sample_types=list(SAMPLE_TYPES),
        source=reader.path,
        kind=kind,
        header=header_line.decode("utf-8", "replace"),
        default_sample_type="inuse_space",
        period_type=ValueType("space", "bytes"),
        size_pairs=((0, 1), (2, 3)),
    )
    rate = 0.0
    if kind in ("heap_v2", "heapz_v2", "heap"):
        if rate_tok is None:
            raise reader.error(f"'@ {kind}' header without a sampling rate")
        rate_n = int(rate_tok)
        # Go's pprof reads heap/N as v2 with rate N/2; so do we.
        rate = rate_n / 2 if kind == "heap" else float(rate_n)
        if rate < 1:
            raise reader.error(f"sampling rate {rate_n} is below 1")
        profile.period = int(rate)
        if rate > 1:
            profile.scaled = True
            profile.sampling = (
                f"Poisson sampling every {int(rate)} bytes on average; values are estimates "
                "scaled by 1/(1-exp(-avg_size/rate)) per sample"
            )
    else:
        profile.period = 1

    if rate > 1:
        hdr = [*unsample_v2(totals[0], totals[1], rate), *unsample_v2(totals[2], totals[3], rate)]
    else:
        hdr = list(totals)
    for vt, v in zip(SAMPLE_TYPES, hdr, strict=True):
        profile.header_totals[vt.type] = v
    if (totals[2], totals[3]) in ((0, 0), (totals[0], totals[1])):
        profile.comments.append("alloc values equal in-use values in this dump (no frees recorded)")

    raw_samples: list[tuple[list[Value], list[int], int]] = []
    map_lines: list[tuple[int, bytes]] = []
    in_maps = False
    cut_at = 0
    for line in reader:
        if in_maps:
            map_lines.append((reader.line_no, line))
            continue
        if any(s in line for s in _MAPS_SENTINELS):
            in_maps = True
            continue
        if not line.strip():
            continue
        counts, at, stack = line.partition(b"@")
        toks = counts.translate(_SPLIT).split()
        if not at or len(toks) not in (2, 4):
            if reader.missing_final_newline and raw_samples:
                cut_at = reader.line_no
                break
            shown = line[:60].decode("utf-8", "replace")
            raise reader.error(f"malformed sample line: {shown!r}")
        try:
            addrs = [int(a, 16) - 1 for a in stack.split()]
        except ValueError:
            if reader.missing_final_newline and raw_samples:
                cut_at = reader.line_no
                break
            raise reader.error("malformed address in stack") from None
        if any(a < 0 or a > _MAX_U64 for a in addrs):
            raise reader.error("stack address out of range")
        ic = _int(toks[0], reader, "in-use count")
        ib = _int(toks[1], reader, "in-use bytes")
        if len(toks) == 4:
            ac = _int(toks[2], reader, "alloc count")
            ab = _int(toks[3], reader, "alloc bytes")
        else:
            ac, ab = ic, ib
        if (ic == 0 and ib != 0) or (ac == 0 and ab != 0):
            raise reader.error("count is zero but bytes are not")
        if rate > 1:
            values: list[Value] = [*unsample_v2(ic, ib, rate), *unsample_v2(ac, ab, rate)]
        else:
            values = [ic, ib, ac, ab]
        raw_samples.append((values, addrs, reader.line_no))

    if cut_at:
        profile.warn(f"file is truncated at line {cut_at}: kept the {len(raw_samples)} complete sample lines before it")
    elif reader.missing_final_newline and not in_maps:
        profile.warn(f"file ends at line {reader.line_no} without a memory map")
    if not raw_samples and not in_maps and reader.missing_final_newline:
        raise reader.error("file is truncated before its first complete sample line")

    profile.mappings = procmaps.parse_lines(map_lines, reader.path)
    if not in_maps:
        profile.warn("no memory map (MAPPED_LIBRARIES:) in the profile; only a non-PIE --binary can be symbolized")
    _build(profile, raw_samples)
    _check_totals(profile)
    return profile


def _pseudo(profile: Profile, name: str) -> Location:
    fn = Function(id=len(profile.functions) + 1, name=name, system_name=name)
    profile.functions.append(fn)
    loc = Location(id=len(profile.locations) + 1, address=0, lines=(Line(fn),))
    profile.locations.append(loc)
    return loc


def _build(profile: Profile, raw_samples: list[tuple[list[Value], list[int], int]]) -> None:
    index = procmaps.MappingIndex(profile.mappings)
    by_addr: dict[int, Location] = {}
    unknown: Location | None = None
    truncated: Location | None = None
    n_truncated = 0
    locations = profile.locations
    for values, addrs, _line in raw_samples:
        if not addrs:
            # Kept, not dropped: its bytes are real even if nobody knows who allocated them.
            unknown = unknown or _pseudo(profile, UNKNOWN_STACK)
            profile.samples.append(Sample(values, (unknown,)))
            continue
        stack = []
        for a in addrs:
            loc = by_addr.get(a)
            if loc is None:
                loc = Location(id=len(locations) + 1, address=a, mapping=index.find(a))
                by_addr[a] = loc
                locations.append(loc)
            stack.append(loc)
        if len(addrs) >= MAX_STACK_DEPTH:
            # The unwinder stopped at the depth limit: the callers above are unknown, and
            # the graph shows that as an explicit root instead of a misleading one.
            truncated = truncated or _pseudo(profile, TRUNCATED_STACK)
            stack.append(truncated)
            n_truncated += 1
        profile.samples.append(Sample(values, tuple(stack)))
    if n_truncated:
        profile.warn(f"{n_truncated} stacks reached gperftools' limit of {MAX_STACK_DEPTH} frames; their "
                     f"missing callers are shown as {TRUNCATED_STACK}")


def _check_totals(profile: Profile) -> None:
    """gperftools caps a dump near 1 MiB and drops the smallest buckets, keeping header totals."""
    order = sorted(enumerate(profile.sample_types), key=lambda iv: iv[1].type != "inuse_space")
    for i, vt in order:
        stated = profile.header_totals.get(vt.type)
        if stated is None:
            continue
        summed = sum(s.values[i] for s in profile.samples)
        if stated - summed > max(1e-6 * abs(stated), 0.5):
            profile.warn(
                f"header states {vt.type} {_fmt(stated)} but the sample lines sum to {_fmt(summed)}; "
                "the producer dropped the smallest buckets (gperftools caps a dump near 1 MiB)"
            )
            break


def _fmt(v: Value) -> str:
    return str(round(v)) if isinstance(v, float) else str(v)


_SEQUENCE = re.compile(r"\.(\d{4,})\.heap(?:\.gz)?$")
_CHECK = re.compile(r"\.(\d+)\.(.+)-end\.heap(?:\.gz)?$")


def dump_sequence(path: str) -> tuple[int | None, str]:
    """The dump number gperftools puts in file names (`app.0003.heap`), or the heap check's name."""
    base = os.path.basename(path)
    m = _SEQUENCE.search(base)
    if m:
        return int(m.group(1)), f"dump #{int(m.group(1))}"
    m = _CHECK.search(base)
    if m:
        return None, f"heap check '{m.group(2)}' at exit (pid {m.group(1)})"
    return None, ""
