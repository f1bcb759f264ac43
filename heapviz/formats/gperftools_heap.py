"""gperftools heap profiles in text form: HEAPPROFILE dumps, heap-checker .heap files,
tcmalloc's sampled `heap_v2/R` dumps, `heap/N` and `growth` profiles.

Parses into the model with raw addresses; symbolization happens later.
"""

from __future__ import annotations

import array
import os
import re
from collections.abc import Callable
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Protocol, cast

import numpy as np
import numpy.typing as npt

from heapviz.formats import procmaps
from heapviz.formats.heap_values import MAX_STACK_DEPTH, SAMPLE_TYPES, unsample_v2
from heapviz.sample_table import SampleTable
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

try:
    from heapviz.formats import _heapscan  # type: ignore[attr-defined]
except ImportError:  # built without a C compiler: the pure Python path
    _heapscan = None

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
BLOCK_BYTES = 8 << 20  # read at a time; whole lines
USE_SCANNER = True  # the compiled scanner when it is built (tests turn it off to compare)
def uses_scanner() -> bool:
    """Whether sample lines go through the compiled scanner (built, and not turned off)."""
    return _heapscan is not None and USE_SCANNER


def sniff(head: bytes) -> bool:
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    return first.lstrip().startswith(b"heap profile:")


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

    samples = _Samples(rate)
    read_line = _line_reader(reader, samples)
    scanner = samples.scanner
    max_line = reader.limits.max_line_bytes
    end = _NEXT
    while end == _NEXT:
        block = reader.read_lines(BLOCK_BYTES)
        if not block:
            break
        pos, size = 0, len(block)
        if scanner is None:
            lines = block.split(b"\n")
            tail = lines.pop()  # b"" after a final newline, else the input's unterminated last line
            for line in lines:
                pos += len(line) + 1
                end = read_line(line, False)
                if end != _NEXT:
                    break
            else:
                if tail:
                    pos = size
                    end = read_line(tail, True)
        else:
            while pos < size:
                pos, n, groups, values, new = scanner.feed(block, pos, max_line)
                reader.line_no += n
                samples.add_scanned(groups, values, new)
                if pos >= size:
                    break
                # A line the scanner left: read here, where errors are worded.
                eol = block.find(b"\n", pos)
                if eol < 0:
                    eol = size
                line = block[pos:eol]
                pos = eol + 1
                end = read_line(line, eol == size)
                if end != _NEXT:
                    break
    in_maps = end == _MAPS
    map_lines: list[tuple[int, bytes]] = []
    if in_maps:
        reader.unread(block[pos:])
        # fast_lines keeps reader.line_no current as it yields each line
        map_lines = [(reader.line_no, ln) for ln in reader.fast_lines()]

    if end == _CUT:
        profile.warn(f"file is truncated at line {reader.line_no}: kept the {samples.count} complete sample lines "
                     "before it")
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


_NEXT, _MAPS, _CUT = 0, 1, 2  # what a sample line tells the loop: go on, memory map, truncated


def _line_reader(reader: LineReader, samples: _Samples) -> Callable[[bytes, bool], int]:
    """The Python reading of one sample line (the scanner leaves it the lines it does not
    take): adds it to `samples`, or tells that the memory map starts there (_MAPS) or that the
    input is cut inside its unterminated last line (_CUT), or raises the input error."""
    max_line = reader.limits.max_line_bytes

    def read_line(line: bytes, unterminated: bool) -> int:
        reader.line_no += 1
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > max_line:
            raise reader.error(f"line longer than the limit of {max_line} bytes")
        counts, at, stack = line.partition(b"@")
        if not at:
            if any(sentinel in line for sentinel in _MAPS_SENTINELS):
                return _MAPS
            if not line.strip():
                return _NEXT
        try:
            if not at:
                raise ValueError
            vals = list(map(int, counts.translate(_SPLIT).split()))
            if len(vals) == 2:
                vals += vals  # no alloc pair: alloc values are the in-use ones
            elif len(vals) != 4:
                raise ValueError
        except ValueError:
            if unterminated and samples.count:
                return _CUT
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
            samples.add_line(stack.split(), ib // ic if ic else (ab // ac if ac else 0), cast("list[Value]", vals))
        except ValueError as e:
            if unterminated and samples.count:
                return _CUT
            raise reader.error(str(e)) from None
        return _NEXT

    return read_line


def _pseudo(profile: Profile, name: str) -> Location:
    fn = Function(id=len(profile.functions) + 1, name=name, system_name=name)
    profile.functions.append(fn)
    loc = Location(id=len(profile.locations) + 1, address=0, lines=(Line(fn),))
    profile.locations.append(loc)
    return loc


class _Samples:
    """Sample lines as they are read: addresses and stacks interned by a stack table (the C
    scanner's or _PyStacks), and the values of lines with the same stack and object size summed
    (the heap checker writes one line per leaked object). Values are unsampled line by line,
    before they are summed."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        # Without the compiled scanner the Python parser reads every line, and _PyStacks interns.
        self.scanner: Any = _heapscan.Scanner() if uses_scanner() else None
        self._py_stacks = _PyStacks()
        self.values: list[list[Value]] = []  # per group
        # Groups after those of self.values, each one line's counts as the scanner read them: a
        # heap-checker dump's lines are each a new group, kept as arrays (a list per line cost
        # 0.1 s at 250k lines); made lists as soon as a line adds to an earlier group.
        self.blocks: list[npt.NDArray[np.uint64]] = []
        self.count = 0  # sample lines read

    def add_scanned(self, groups: bytes, values: bytes, new: int) -> None:
        """Lines the scanner read: their groups (int32 bytes) and counts (uint64 bytes, [ic, ib, ac,
        ab] per line)."""
        counts = np.frombuffer(values, dtype=np.uint64).reshape(-1, 4)
        self.count += len(counts)
        rate = self.rate
        if rate <= 1 and new == len(counts):  # every line a new group, numbered in order
            self.blocks.append(counts)
            return
        self._lists()
        rows: list[list[Value]] = cast("list[list[Value]]", counts.tolist())
        if rate > 1:
            rows = [[*unsample_v2(ic, ib, rate), *unsample_v2(ac, ab, rate)]
                    for ic, ib, ac, ab in cast("list[list[int]]", rows)]
        if new == len(rows):
            self.values.extend(rows)
            return
        for g, vals in zip(memoryview(groups).cast("i").tolist(), rows, strict=True):
            self._add(g, vals)

    def _lists(self) -> None:
        """The groups kept as arrays made lists, after those of self.values (as numbered)."""
        for block in self.blocks:
            self.values.extend(block.tolist())
        self.blocks = []

    def _values(self, n_types: int) -> npt.NDArray[Any]:
        """Every group's values as a matrix: int64, float64 for sampled profiles, or (counts
        beyond int64) what numpy makes of the lists."""
        if self.blocks and not self.values:
            counts = np.concatenate(self.blocks)  # a copy: the blocks are views of the scanner's bytes
            if not len(counts) or int(counts.max()) < 2**63:
                return counts.view(np.int64)
        self._lists()
        return np.array(self.values) if self.values else np.zeros((0, n_types), dtype=np.int64)

    def add_line(self, tokens: list[bytes], object_size: int, vals: list[Value]) -> None:
        """A line read by the Python parser: its address tokens, object size and counts."""
        if self.scanner is None:
            g = self._py_stacks.group_tokens(tokens, object_size)
        else:
            g, _new = self.scanner.group(_addresses(tokens), object_size)
        self._lists()
        self.count += 1
        if self.rate > 1:
            ic, ib, ac, ab = vals
            vals = [*unsample_v2(ic, ib, self.rate), *unsample_v2(ac, ab, self.rate)]
        self._add(g, vals)

    def _add(self, g: int, vals: list[Value]) -> None:
        if g == len(self.values):
            self.values.append(vals)
        else:
            acc = self.values[g]
            for k, v in enumerate(vals):
                acc[k] += v

    def build(self, profile: Profile) -> None:
        """The profile's locations and its samples as a SampleTable: each group a sample, its
        stack the group's address ids; an empty stack gets [unknown stack] and one cut at the
        unwinder's depth limit a [truncated stack] root."""
        index = procmaps.MappingIndex(profile.mappings)
        table: _StackTable = self._py_stacks if self.scanner is None else self.scanner
        addresses = memoryview(table.addresses()).cast("Q").tolist()
        locs = [Location(id=k + 1, address=a, mapping=index.find(a)) for k, a in enumerate(addresses)]
        profile.locations.extend(locs)
        raw_frames, raw_starts = table.table()
        frames = np.frombuffer(raw_frames or b"", dtype=np.int32)
        starts = np.frombuffer(raw_starts, dtype=np.int64)
        lens = np.diff(starts)
        empty, deep = lens == 0, lens >= MAX_STACK_DEPTH
        n_truncated = int(deep.sum())
        if empty.any() or n_truncated:
            # Kept, not dropped: their bytes are real even if nobody knows who allocated them. A
            # stack cut at the depth limit gets an explicit root instead of a misleading one.
            pseudo = np.where(empty, len(locs), len(locs) + 1).astype(np.int32)
            locs.append(_pseudo(profile, UNKNOWN_STACK) if empty.any() else locs[0])
            locs.append(_pseudo(profile, TRUNCATED_STACK) if n_truncated else locs[0])
            extra = (empty | deep).astype(np.int64)
            new_starts = np.zeros(len(starts), dtype=np.int64)
            np.cumsum(lens + extra, out=new_starts[1:])
            out = np.empty(int(new_starts[-1]), dtype=np.int32)
            out[np.repeat(new_starts[:-1] - starts[:-1], lens) + np.arange(len(frames), dtype=np.int64)] = frames
            odd = np.flatnonzero(extra)
            out[new_starts[odd] + lens[odd]] = pseudo[odd]
            frames, starts = out, new_starts
        values = self._values(len(profile.sample_types))
        if values.dtype.kind in "if" and values.ndim == 2:
            # The scanner numbers addresses as they first appear, line by line and leaf first, and
            # a line adds a sample only when its stack is new: the ids are already the table's
            # order of first appearance over every location, unless pseudo frames went in above
            # (renumbering 250k stacks to find that out took 0.19 s).
            ordered = self.scanner is not None and not (empty.any() or n_truncated)
            profile.samples = SampleTable(locs, frames, starts, values, ordered=ordered)
        else:  # counts beyond int64: sample objects, which hold any int
            stacks = [tuple(locs[k] for k in frames[a:b].tolist()) for a, b in pairwise(starts.tolist())]
            profile.samples = list(map(Sample, self.values, stacks))
        if n_truncated:
            profile.warn(f"{n_truncated} stacks reached gperftools' limit of {MAX_STACK_DEPTH} frames; their "
                         f"missing callers are shown as {TRUNCATED_STACK}")


def _addresses(tokens: list[bytes]) -> list[int]:
    """Address tokens as integers, each moved back one byte onto the call instruction."""
    out = []
    for tok in tokens:
        try:
            addr = int(tok, 16) - 1
        except ValueError:
            raise ValueError(f"malformed address in stack: {tok[:40]!r}") from None
        if not 0 <= addr <= _MAX_U64:
            raise ValueError(f"stack address out of range: {tok[:40]!r}")
        out.append(addr)
    return out


class _StackTable(Protocol):
    """What _Samples needs of a stack table: _heapscan.Scanner, or _PyStacks without it."""

    def addresses(self) -> bytes:
        ...

    def table(self) -> tuple[bytes, bytes]:
        ...


class _PyStacks:
    """The C scanner's tables in Python, for installs without the compiled module; interns
    address tokens, converting each distinct token once."""

    def __init__(self) -> None:
        self._ids: dict[int, int] = {}  # address -> id
        self._token_ids: dict[bytes, int] = {}
        self._groups: dict[tuple[tuple[int, ...], int], int] = {}  # (stack, object size) -> group
        self._stacks: list[tuple[int, ...]] = []

    def group_tokens(self, tokens: list[bytes], size: int) -> int:
        stack = tuple(map(self._token_ids.get, tokens))
        if None in stack:
            ids = self._ids
            stack = tuple(ids.setdefault(a, len(ids)) for a in _addresses(tokens))
            self._token_ids.update(zip(tokens, cast("tuple[int, ...]", stack), strict=True))
        key = (cast("tuple[int, ...]", stack), size)
        g = self._groups.get(key)
        if g is None:
            self._groups[key] = g = len(self._stacks)
            self._stacks.append(stack)  # type: ignore[arg-type]
        return g

    def addresses(self) -> bytes:
        return array.array("Q", self._ids).tobytes()

    def table(self) -> tuple[bytes, bytes]:
        frames = array.array("i", (k for st in self._stacks for k in st))
        starts = array.array("q", [0])
        for st in self._stacks:
            starts.append(starts[-1] + len(st))
        return frames.tobytes(), starts.tobytes()


def _check_totals(profile: Profile) -> None:
    """gperftools caps a dump near 1 MiB and drops the smallest buckets, keeping header totals."""
    order = sorted(enumerate(profile.sample_types), key=lambda iv: iv[1].type != "inuse_space")
    for i, vt in order:
        stated = profile.header_totals.get(vt.type)
        if stated is None:
            continue
        column = getattr(profile.samples, "column", None)
        summed = column(i).sum().item() if column is not None else sum(s.values[i] for s in profile.samples)
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
