"""Go's legacy text heap profiles (`pprof.Lookup("heap").WriteTo(w, 1)`, `/debug/pprof/heap?debug=1`).

Like gperftools' `@ heap/N` (unsampled as v2 with rate N/2, as pprof does), plus Go's frame
comments (`#\t0xPC\tpkg.Func+0xOFF\tfile:line`), which make the stacks symbolized without the
binary, and the `# runtime.MemStats` trailer. Go has no memory map in this form.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from heapviz.formats.heap_values import SAMPLE_TYPES, unsample_v2
from heapviz.model import UNKNOWN_STACK, Function, Line, Location, Profile, Sample, Value, ValueType

if TYPE_CHECKING:
    from heapviz.formats import LineReader

NAME = "go_heap"
DESCRIPTION = "Go heap profiles in text form (debug=1)"

_HEADER = re.compile(rb"^heap profile: (\d+): (\d+) \[(\d+): (\d+)\] @ heap/(\d+)\s*$")
_SAMPLE = re.compile(rb"^\s*(\d+): (\d+) \[(\d+): (\d+)\] @((?: 0x[0-9a-fA-F]+)*)\s*$")
_MEMSTATS = b"# runtime.MemStats"
# MemStats lines kept as comments (the rest describe the GC, not the heap's contents).
_KEPT_STATS = ("HeapAlloc", "HeapInuse", "HeapObjects", "TotalAlloc", "Sys", "NumGC")
_MAX_U64 = (1 << 64) - 1


def sniff(head: bytes) -> bool:
    first = head.partition(b"\n")[0]
    if not _HEADER.match(first.rstrip(b"\r")):
        return False
    return b"\n#\t0x" in head or _MEMSTATS in head


# One frame from a comment line: (function, file, line), innermost first for one PC.
_Frame = tuple[str, str, int]


def _frame(line: bytes, reader: LineReader) -> tuple[int, _Frame | None]:
    """`#\t0x4b411c\tmain.leaky+0x5c\t/src/main.go:12` (tabs repeated by Go's tabwriter)."""
    parts = [p for p in line[1:].split(b"\t") if p.strip()]
    try:
        pc = int(parts[0].strip(), 16)
    except (IndexError, ValueError):
        shown = line[:60].decode("utf-8", "replace")
        raise reader.error(f"malformed frame comment: {shown!r}") from None
    if len(parts) < 2:
        return pc, None  # a PC Go could not name
    name = parts[1].strip().decode("utf-8", "replace")
    name = re.sub(r"\+0x[0-9a-f]+$", "", name)
    file, line_no = "", 0
    if len(parts) > 2:
        where = parts[2].strip().decode("utf-8", "replace")
        path, sep, num = where.rpartition(":")
        if sep and num.isdigit():
            file, line_no = path, int(num)
        else:
            file = where
    return pc, (name, file, line_no)


def parse(reader: LineReader) -> Profile:
    header = next(reader, b"")
    m = _HEADER.match(header)
    if not m:
        shown = header[:80].decode("utf-8", "replace")
        raise reader.error(f"expected a Go 'heap profile: … @ heap/N' header, got {shown!r}")
    rate_n = int(m.group(5))
    rate = rate_n / 2  # Go writes 2*MemProfileRate; pprof reads it as v2 with rate N/2
    profile = Profile(
        sample_types=list(SAMPLE_TYPES), source=reader.path, kind="heap", header=header.decode(),
        default_sample_type="inuse_space", period_type=ValueType("space", "bytes"), period=max(int(rate), 1),
        size_pairs=((0, 1), (2, 3)),
    )
    if rate > 1:
        profile.scaled = True
        profile.sampling = (f"Go's MemProfileRate: sampled every {int(rate)} bytes on average; values are "
                            "estimates scaled by 1/(1-exp(-avg_size/rate)) per sample")

    # Each sample: values, stack return addresses, and the frames its comments name per PC.
    raw: list[tuple[list[Value], list[int], dict[int, list[_Frame]]]] = []
    in_stats = False
    for line in reader:
        if in_stats:
            key, sep, value = line.removeprefix(b"# ").partition(b" = ")
            if sep and key.decode("ascii", "replace") in _KEPT_STATS:
                profile.comments.append(f"runtime.MemStats {key.decode()} = {value.decode('utf-8', 'replace')}")
            continue
        if not line.strip():
            continue
        if line.startswith(_MEMSTATS):
            in_stats = True
            continue
        if line.startswith(b"#"):
            if not raw:
                raise reader.error("frame comment before the first sample line")
            pc, frame = _frame(line, reader)
            if frame is not None:
                raw[-1][2].setdefault(pc, []).append(frame)
            else:
                raw[-1][2].setdefault(pc, [])
            continue
        sm = _SAMPLE.match(line)
        if not sm:
            if reader.missing_final_newline and raw:
                profile.warn(f"file is truncated at line {reader.line_no}: kept the samples before it")
                break
            shown = line[:60].decode("utf-8", "replace")
            raise reader.error(f"malformed sample line: {shown!r}")
        counts = [int(g) for g in sm.group(1, 2, 3, 4)]
        if any(c > _MAX_U64 for c in counts):
            raise reader.error("count does not fit in 64 bits")
        ic, ib, ac, ab = counts
        if (ic == 0 and ib != 0) or (ac == 0 and ab != 0):
            raise reader.error("count is zero but bytes are not")
        values: list[Value] = [*unsample_v2(ic, ib, rate), *unsample_v2(ac, ab, rate)]
        addrs = [int(a, 16) for a in sm.group(5).split()]
        if any(a == 0 or a > _MAX_U64 for a in addrs):
            raise reader.error("stack address out of range")
        raw.append((values, addrs, {}))
    _build(profile, raw)
    return profile


def _build(profile: Profile, raw: list[tuple[list[Value], list[int], dict[int, list[_Frame]]]]) -> None:
    functions: dict[tuple[str, str], Function] = {}
    locations: dict[int, Location] = {}
    unknown: Location | None = None

    def function(name: str, file: str) -> Function:
        fn = functions.get((name, file))
        if fn is None:
            fn = functions[(name, file)] = Function(len(profile.functions) + 1, name, name, file)
            profile.functions.append(fn)
        return fn

    def location(address: int, frames: list[_Frame]) -> Location:
        loc = locations.get(address)
        if loc is None:
            lines = tuple(Line(function(name, file), line) for name, file, line in frames)
            loc = locations[address] = Location(len(profile.locations) + 1, address, None, lines)
            profile.locations.append(loc)
        return loc

    for values, addrs, comments in raw:
        stack: list[Location] = []
        for a in addrs:
            # Go names each frame by its return address minus one, the call instruction.
            frames = comments.get(a - 1, comments.get(a))
            if frames is not None:
                stack.append(location(a - 1, frames))
        if addrs and not stack and not comments:
            # No comments at all: raw addresses for --binary to symbolize.
            stack = [location(a - 1, []) for a in addrs]
        # Otherwise addresses without a comment are frames Go hid on purpose: the runtime's own
        # frames at the leaf and runtime.goexit at the root; its protobuf writer omits them too.
        if not stack:
            if unknown is None:
                fn = function(UNKNOWN_STACK, "")
                unknown = Location(len(profile.locations) + 1, 0, None, (Line(fn),))
                profile.locations.append(unknown)
            stack = [unknown]
        profile.add(Sample(values, tuple(stack)))
