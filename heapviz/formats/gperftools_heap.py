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
    # 1 - exp(-x) as -expm1(-x): exact for tiny x, where the plain form rounds to 0.
    scale = 1.0 / -math.expm1(-(size / count) / rate)
    return count * scale, size * scale


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

    samples = _Samples()
    map_lines: list[tuple[int, bytes]] = []
    in_maps = False
    cut_at = 0
    lines = reader.fast_lines()
    for line in lines:
        counts, at, stack = line.partition(b"@")
        if not at:
            if any(sentinel in line for sentinel in _MAPS_SENTINELS):
                in_maps = True
                break
            if not line.strip():
                continue
        try:
            if not at:
                raise ValueError
            vals = list(map(int, counts.translate(_SPLIT).split()))
            if len(vals) == 2:
                vals += vals  # no alloc pair: alloc values are the in-use ones
            elif len(vals) != 4:
                raise ValueError
        except ValueError:
            if reader.missing_final_newline and samples.count:
                cut_at = reader.line_no
                break
            shown = line[:60].decode("utf-8", "replace")
            raise reader.error(f"malformed sample line: {shown!r}") from None
        if min(vals) < 0:
            raise reader.error(f"negative count or size: {min(vals)}")
        if max(vals) > _MAX_U64:
            raise reader.error(f"count or size does not fit in 64 bits: {max(vals)}")
        ic, ib, ac, ab = vals
        if (ic == 0 and ib != 0) or (ac == 0 and ab != 0):
            raise reader.error("count is zero but bytes are not")
        try:
            key = samples.stack_key(stack)
        except ValueError as e:
            if reader.missing_final_newline and samples.count:
                cut_at = reader.line_no
                break
            raise reader.error(str(e)) from None
        if rate > 1:
            values: list[Value] = [*unsample_v2(ic, ib, rate), *unsample_v2(ac, ab, rate)]
        else:
            values = list(vals)
        samples.add(key, ib // ic if ic else (ab // ac if ac else 0), values)
    if in_maps:
        # fast_lines keeps reader.line_no current as it yields each line
        map_lines = [(reader.line_no, ln) for ln in lines]

    if cut_at:
        profile.warn(f"file is truncated at line {cut_at}: kept the {samples.count} complete sample lines before it")
    elif reader.missing_final_newline and not in_maps:
        profile.warn(f"file ends at line {reader.line_no} without a memory map")
    if not samples.count and not in_maps and reader.missing_final_newline:
        raise reader.error("file is truncated before its first complete sample line")

    profile.mappings = procmaps.parse_lines(map_lines, reader.path)
    if not in_maps:
        profile.warn("no memory map (MAPPED_LIBRARIES:) in the profile; only a non-PIE --binary can be symbolized")
    samples.build(profile)
    _check_totals(profile)
    return profile


def _pseudo(profile: Profile, name: str) -> Location:
    fn = Function(id=len(profile.functions) + 1, name=name, system_name=name)
    profile.functions.append(fn)
    loc = Location(id=len(profile.locations) + 1, address=0, lines=(Line(fn),))
    profile.locations.append(loc)
    return loc


class _Samples:
    """Sample lines as they are read: address tokens interned (only new ones are converted to
    integers), and lines with the same stack and object size summed (the heap checker writes one
    line per leaked object)."""

    def __init__(self) -> None:
        self.tokens: dict[bytes, int] = {}
        self.addresses: list[int] = []
        self.sums: dict[tuple[tuple[int, ...], int], list[Value]] = {}
        self.count = 0  # sample lines read

    def stack_key(self, stack: bytes) -> tuple[int, ...]:
        toks = stack.split()
        idx = tuple(map(self.tokens.get, toks))
        if None in idx:
            idx = tuple(self._token(t) for t in toks)
        return idx  # type: ignore[return-value]

    def _token(self, tok: bytes) -> int:
        got = self.tokens.get(tok)
        if got is not None:
            return got
        try:
            # Return addresses move back one byte, onto the call instruction.
            addr = int(tok, 16) - 1
        except ValueError:
            raise ValueError(f"malformed address in stack: {tok[:40]!r}") from None
        if not 0 <= addr <= _MAX_U64:
            raise ValueError(f"stack address out of range: {tok[:40]!r}")
        self.tokens[tok] = got = len(self.addresses)
        self.addresses.append(addr)
        return got

    def add(self, stack: tuple[int, ...], object_size: int, values: list[Value]) -> None:
        self.count += 1
        key = (stack, object_size)
        acc = self.sums.get(key)
        if acc is None:
            self.sums[key] = values
        else:
            for k, v in enumerate(values):
                acc[k] += v

    def build(self, profile: Profile) -> None:
        index = procmaps.MappingIndex(profile.mappings)
        locs = [Location(id=k + 1, address=a, mapping=index.find(a)) for k, a in enumerate(self.addresses)]
        profile.locations.extend(locs)
        pick = locs.__getitem__
        unknown: Location | None = None
        truncated: Location | None = None
        n_truncated = 0
        for (key, _size), values in self.sums.items():
            stack = tuple(map(pick, key))
            if not stack:
                # Kept, not dropped: its bytes are real even if nobody knows who allocated them.
                unknown = unknown or _pseudo(profile, UNKNOWN_STACK)
                stack = (unknown,)
            elif len(stack) >= MAX_STACK_DEPTH:
                # The unwinder stopped at the depth limit: the callers above are unknown, and
                # the graph shows that as an explicit root instead of a misleading one.
                truncated = truncated or _pseudo(profile, TRUNCATED_STACK)
                stack = (*stack, truncated)
                n_truncated += 1
            profile.samples.append(Sample(values, stack))
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
