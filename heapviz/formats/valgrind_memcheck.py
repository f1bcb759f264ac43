"""Valgrind memcheck's text log (`--leak-check=full`, `--log-file=F`, or a CI log holding it
between other lines): its loss records, one sample each, and the model both memcheck inputs
share (valgrind_memcheck_xml.py reads the XML into the same records).

Frames come symbolized by valgrind and are used as they are: no binary is read. Valgrind's
other errors (invalid reads, uninitialised values…) are not leaks and are left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from heapviz.kinds import MEMCHECK
from heapviz.model import UNKNOWN_STACK, Function, Line, Location, Profile, Sample, Value, ValueType
from heapviz.symbolize.demangle import demangle

if TYPE_CHECKING:
    from heapviz.formats import LineReader

NAME = "valgrind_memcheck"
DESCRIPTION = "Valgrind memcheck text logs (--leak-check=full --log-file=F, or a CI log holding one)"

# Memcheck's leak kinds, in the order of its LEAK SUMMARY, with the words its records use.
LEAK_KINDS = ("definite", "indirect", "possible", "reachable")
KIND_WORDS = {"definitely lost": "definite", "indirectly lost": "indirect", "possibly lost": "possible",
              "still reachable": "reachable"}
# "leaked" is what valgrind calls leaked: definitely + indirectly lost; the default view.
SAMPLE_TYPES = [ValueType(f"{k}_{what}", unit) for k in ("leaked", *LEAK_KINDS)
                for what, unit in (("bytes", "bytes"), ("blocks", "count"))]
# (blocks index, bytes index) for the object size shown in graphs: the first kind with blocks.
SIZE_PAIRS = tuple((2 * i + 1, 2 * i) for i in range(len(SAMPLE_TYPES) // 2))
NOT_LISTED = "[not listed by valgrind]"  # the part of a kind's summary total no loss record lists

# "480 (48 direct, 432 indirect) bytes in 1 blocks are definitely lost in loss record 4 of 10";
# a leak check that reports increases (VALGRIND_DO_ADDED_LEAK_CHECK) adds "(+N)" after numbers.
_NUM = r"\d[\d,]*"
_DELTA = r"(?: \([+-]" + _NUM + r"\))?"
RECORD = re.compile(
    rf"^({_NUM}){_DELTA}(?: \(({_NUM}) direct, ({_NUM}) indirect\))? bytes in ({_NUM}){_DELTA} blocks are "
    r"(definitely lost|indirectly lost|possibly lost|still reachable)\b.*? in loss record "
    rf"({_NUM}) of ({_NUM})\s*$")
_SUMMARY_LINE = re.compile(
    rf"^\s*(definitely lost|indirectly lost|possibly lost|still reachable|suppressed): ({_NUM}){_DELTA} "
    rf"bytes in ({_NUM}){_DELTA} blocks")
# Text log lines: "==PID== text", possibly after a CI runner's timestamp or step name.
_PREFIXED = re.compile(rb"==(\d+)== ?(.*)$")
_FRAME = re.compile(r"^\s+(?:at|by) 0x([0-9A-Fa-f]{1,16}): (.*?)\s*$")
# "fn (file:line)", "fn (in /path/obj)"; fn itself may hold parentheses ("lose_widget()").
_WHERE = re.compile(r"^(.*?) \(([^()]*)\)$")
_SNIFF = re.compile(
    rb"==\d+== (?:Memcheck, a memory error detector|HEAP SUMMARY:|LEAK SUMMARY:|"
    rb"[\d,]+ (?:\([\d,]+ direct, [\d,]+ indirect\) )?bytes in [\d,]+ blocks are )")


MAX_NUMBER = 1 << 50  # bytes or blocks in one record or summary line; beyond it the input is broken


def number(text: str) -> int:
    """Valgrind's numbers, with or without thousands separators ("1,000"); ValueError for
    anything else or a number too large to be real."""
    digits = text.replace(",", "")
    if not digits.isdecimal() or not digits.isascii():
        raise ValueError(f"not a number: {text[:40]!r}")
    n = int(digits)
    if n > MAX_NUMBER:
        raise ValueError(f"number too large: {text[:40]}")
    return n


@dataclass(frozen=True)
class Frame:
    ip: int
    fn: str  # "" when valgrind has no name for it
    file: str  # with its directory when valgrind gives one; "" when unknown
    line: int
    obj: str


@dataclass
class Record:
    """One loss record: what valgrind prints after "N bytes in M blocks are … lost"."""

    kind: str  # one of LEAK_KINDS
    bytes: int  # valgrind's leakedbytes: direct and indirect together
    blocks: int  # the record's own (direct) blocks
    indirect_bytes: int  # the "(D direct, I indirect)" part; 0 when the text has none
    number: int  # loss record X of Y
    total: int
    line_no: int
    frames: list[Frame] = field(default_factory=list)  # innermost first, as valgrind prints them


@dataclass
class LeakCheck:
    """What one input holds: the loss records of the last leak search and valgrind's statements."""

    records: list[Record] = field(default_factory=list)
    summary: dict[str, tuple[int, int]] | None = None  # kind (and "suppressed") -> (bytes, blocks)
    searches: int = 1  # leak searches seen; only the last one's records are kept
    other_errors: int = 0  # memcheck errors that are not leaks (XML)

    def add(self, record: Record) -> None:
        """Keep `record`; one numbered at or below the previous record starts a new leak search
        (a client's VALGRIND_DO_LEAK_CHECK, then the one at exit), which replaces the older one."""
        if self.records and record.number <= self.records[-1].number:
            self.new_search()
        self.records.append(record)

    def new_search(self) -> None:
        self.records = []
        self.summary = None
        self.searches += 1


def sniff(head: bytes) -> bool:
    return _SNIFF.search(head) is not None


def parse_frame(ip: str, what: str) -> Frame:
    """A text frame after "at 0xIP: ": "fn (file:line)", "fn (in /obj)", "??? (in /obj)", "fn"."""
    fn, file, line, obj = what, "", 0, ""
    m = _WHERE.match(what)
    if m:
        fn, where = m.group(1), m.group(2)
        if where.startswith("in "):
            obj = where[3:]
        else:
            path, _, n = where.rpartition(":")
            if path and n.isdecimal() and n.isascii():
                file, line = path, int(n)
            else:
                file = where
    return Frame(int(ip, 16), "" if fn == "???" else fn, file, line, obj)


class _Process:
    """The state of one process's lines in a log (a log may interleave several PIDs)."""

    def __init__(self) -> None:
        self.check = LeakCheck()
        self.current: Record | None = None
        self.in_summary = False
        self.ended = False  # a LEAK SUMMARY or "no leaks are possible" was read
        self.command = ""


def parse(reader: LineReader) -> Profile:
    profile = new_profile(reader.path, "memcheck_log")
    processes: dict[int, _Process] = {}
    version = ""
    for raw in reader:
        m = _PREFIXED.search(raw)
        if m is None:
            continue  # the CI log's own lines
        proc = processes.setdefault(int(m.group(1)), _Process())
        text = m.group(2).decode("utf-8", "surrogateescape")
        if proc.current is not None:
            f = _FRAME.match(text)
            if f:
                proc.current.frames.append(parse_frame(f.group(1), f.group(2)))
                continue
            proc.current = None
        r = RECORD.match(text)
        if r:
            if proc.ended:  # a leak search after the previous one's summary
                proc.check.new_search()
                proc.ended = False
            try:
                proc.current = record_from_match(r, reader.line_no)
            except ValueError as e:
                raise reader.error(f"bad loss record line: {e}") from None
            proc.check.add(proc.current)
            proc.in_summary = False
            continue
        stripped = text.strip()
        if stripped == "LEAK SUMMARY:":
            if proc.ended:  # a second summary with no record between them
                proc.check.new_search()
            proc.in_summary, proc.ended = True, True
            proc.check.summary = {}
        elif stripped == "HEAP SUMMARY:":
            proc.in_summary = False
        elif stripped.startswith("All heap blocks were freed -- no leaks are possible"):
            proc.ended = True
            proc.check.summary = dict.fromkeys((*LEAK_KINDS, "suppressed"), (0, 0))
        elif proc.in_summary and (s := _SUMMARY_LINE.match(text)) is not None:
            assert proc.check.summary is not None
            try:
                proc.check.summary[KIND_WORDS.get(s.group(1), s.group(1))] = (number(s.group(2)),
                                                                              number(s.group(3)))
            except ValueError as e:
                raise reader.error(f"bad LEAK SUMMARY line: {e}") from None
        elif stripped.startswith("Command: ") and not proc.command:
            proc.command = stripped
        elif stripped.startswith("Using Valgrind-") and not version:
            version = stripped.split(" and ", 1)[0].removeprefix("Using ")
    if not processes or not any(p.check.records or p.check.summary is not None for p in processes.values()):
        raise reader.error("no memcheck leak report in this log (no loss record and no LEAK SUMMARY: was "
                           "valgrind run with --leak-check=full, and did the program exit?)", 0)
    if version:
        profile.comments.append(f"valgrind {version.removeprefix('Valgrind-')}")
    for pid, proc in processes.items():
        if proc.command and not profile.header:
            profile.header = proc.command
        if proc.check.records and proc.check.summary is None:
            profile.warn(f"process {pid}: the log has loss records but no LEAK SUMMARY (valgrind killed before "
                         "its leak check ended, or the log was cut): its totals are those of the listed records")
    checks = [p.check for p in processes.values() if p.check.records or p.check.summary is not None]
    if len(checks) > 1:
        profile.comments.append(f"leak reports of {len(checks)} processes, summed")
    build(profile, checks)
    return profile


def record_from_match(m: re.Match[str], line_no: int) -> Record:
    """The record a header line starts; ValueError when its numbers make no sense."""
    record = Record(kind=KIND_WORDS[m.group(5)], bytes=number(m.group(1)), blocks=number(m.group(4)),
                    indirect_bytes=number(m.group(3)) if m.group(3) else 0, number=number(m.group(6)),
                    total=number(m.group(7)), line_no=line_no)
    check_record(record)
    return record


def check_record(record: Record) -> None:
    if record.indirect_bytes > record.bytes:
        raise ValueError(f"{record.indirect_bytes} indirect bytes in a record of {record.bytes} bytes")
    if record.bytes and not record.blocks:
        raise ValueError(f"{record.bytes} bytes in 0 blocks")


def new_profile(path: str, kind: str) -> Profile:
    return Profile(sample_types=list(SAMPLE_TYPES), source=path, kind=kind, default_sample_type="leaked_bytes",
                   profile_kind=MEMCHECK, period_type=ValueType("space", "bytes"), period=1,
                   size_pairs=SIZE_PAIRS, symbolized=True)


class Stacks:
    """Locations and functions interned over all records of a profile."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.functions: dict[tuple[str, str], Function] = {}
        self.locations: dict[tuple[int, tuple[Frame, ...]], Location] = {}

    def function(self, frame: Frame) -> Function:
        if frame.fn:
            name, system_name, file = demangle(frame.fn), frame.fn, frame.file
        else:
            # Valgrind gives no load address, so no offset into the object: its address as run.
            obj = frame.obj.rsplit("/", 1)[-1]
            name = system_name = f"{obj}@0x{frame.ip:x}" if obj else f"0x{frame.ip:x}"
            file = ""
        key = (system_name, file)
        fn = self.functions.get(key)
        if fn is None:
            fn = Function(id=len(self.profile.functions) + 1, name=name, system_name=system_name, filename=file)
            self.profile.functions.append(fn)
            self.functions[key] = fn
        return fn

    def location(self, group: tuple[Frame, ...]) -> Location:
        key = (group[0].ip, group)
        loc = self.locations.get(key)
        if loc is None:
            lines = tuple(Line(self.function(f), f.line) for f in group)
            loc = Location(id=len(self.profile.locations) + 1, address=group[0].ip, lines=lines)
            self.profile.locations.append(loc)
            self.locations[key] = loc
        return loc

    def stack(self, frames: list[Frame]) -> tuple[Location, ...]:
        """Valgrind prints an inlined function as its own frame with its caller's address: frames
        in a row with one address are one location's inline frames, innermost first. A frame
        equal to one already in the group (recursion through one call site) starts a new one."""
        if not frames:
            return (self.pseudo(UNKNOWN_STACK),)
        out: list[Location] = []
        group: list[Frame] = [frames[0]]
        for f in frames[1:]:
            if f.ip == group[0].ip and f not in group:
                group.append(f)
            else:
                out.append(self.location(tuple(group)))
                group = [f]
        out.append(self.location(tuple(group)))
        return tuple(out)

    def pseudo(self, name: str) -> Location:
        return self.location((Frame(0, name, "", 0, ""),))


def _split(total: int, weights: list[int]) -> list[int]:
    """`total` split in proportion to `weights` (largest remainders first), summing to `total`."""
    whole = sum(weights)
    if not whole:
        return [0] * len(weights)
    shares = [total * w // whole for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in order[: total - sum(shares)]:
        shares[i] += 1
    return shares


def build(profile: Profile, checks: list[LeakCheck]) -> None:
    """Samples from the records of every check: one per loss record, its values under its kind.

    The double count: a definitely-lost record "480 (48 direct, 432 indirect) bytes" has
    leakedbytes 480, but its 432 indirect bytes have records of their own when indirect leaks are
    shown (--show-leak-kinds=all): then only the 48 direct bytes count, under definitely lost.
    When the input lists no indirectly-lost record (valgrind's default kinds), the indirect part
    goes under indirectly lost with the record's stack; valgrind states no block count for it,
    so the summary's indirect blocks are split over those records by their indirect bytes.
    """
    stacks = Stacks(profile)
    index = {k: 2 * (i + 1) for i, k in enumerate(LEAK_KINDS)}
    stated: dict[str, list[int]] = {k: [0, 0] for k in (*LEAK_KINDS, "suppressed")}
    have_summary = False
    for check in checks:
        if check.searches > 1:
            profile.warn(f"{check.searches} leak searches in one run: only the last one's loss records are shown")
        listed = {k: [0, 0] for k in LEAK_KINDS}
        shows_indirect = any(r.kind == "indirect" for r in check.records)
        owners = [r for r in check.records if r.indirect_bytes and not shows_indirect]
        unlisted_blocks = 0
        if check.summary is not None:
            unlisted_blocks = check.summary.get("indirect", (0, 0))[1]
        owner_blocks = dict(zip(map(id, owners), _split(unlisted_blocks, [r.indirect_bytes for r in owners]),
                                strict=True))
        numbered = max((r.total for r in check.records), default=0)
        if check.summary is None and len(check.records) < numbered:
            profile.warn(f"valgrind counted {numbered} loss records but this input lists {len(check.records)}: "
                         "it shows only the kinds --show-leak-kinds names (definite and possible by default) and "
                         "this input has no LEAK SUMMARY, so the other kinds' totals are short; run valgrind with "
                         "--show-leak-kinds=all")
        if owners and check.summary is None:
            profile.warn("the indirectly lost blocks of records such as '480 (48 direct, 432 indirect) bytes' are "
                         "not counted: valgrind states their number only in its LEAK SUMMARY, which this input "
                         "lacks (indirect_blocks and leaked_blocks are short by them)")
        for r in check.records:
            values: list[Value] = [0] * len(SAMPLE_TYPES)
            direct = r.bytes - r.indirect_bytes
            values[index[r.kind]] += direct
            values[index[r.kind] + 1] += r.blocks
            if r.indirect_bytes and not shows_indirect:
                values[index["indirect"]] += r.indirect_bytes
                values[index["indirect"] + 1] += owner_blocks[id(r)]
            for k in LEAK_KINDS:
                listed[k][0] += int(values[index[k]])
                listed[k][1] += int(values[index[k] + 1])
            values[0] = values[index["definite"]] + values[index["indirect"]]
            values[1] = values[index["definite"] + 1] + values[index["indirect"] + 1]
            profile.add(Sample(values, stacks.stack(r.frames)))
        if check.summary is not None:
            have_summary = True
            for k, (b, n) in check.summary.items():
                if k in stated:
                    stated[k][0] += b
                    stated[k][1] += n
            _unlisted(profile, stacks, check.summary, listed, index)
    if have_summary:
        for k in LEAK_KINDS:
            profile.header_totals[f"{k}_bytes"] = stated[k][0]
            profile.header_totals[f"{k}_blocks"] = stated[k][1]
        profile.header_totals["leaked_bytes"] = stated["definite"][0] + stated["indirect"][0]
        profile.header_totals["leaked_blocks"] = stated["definite"][1] + stated["indirect"][1]
        words = {v: k for k, v in KIND_WORDS.items()}
        profile.comments.append("valgrind's LEAK SUMMARY: " + ", ".join(
            f"{words.get(k, k)} {b} bytes in {n} blocks" for k, (b, n) in stated.items()))
        if stated["suppressed"][0]:
            profile.comments.append("suppressed leaks are not shown (valgrind counts them apart)")


def _unlisted(profile: Profile, stacks: Stacks, summary: dict[str, tuple[int, int]],
              listed: dict[str, list[int]], index: dict[str, int]) -> None:
    """Valgrind lists only the kinds --show-leak-kinds names (definite and possible by default),
    but its LEAK SUMMARY has them all: what no record lists becomes one NOT_LISTED sample, so that
    every kind's total equals the summary's."""
    values: list[Value] = [0] * len(SAMPLE_TYPES)
    missing = []
    for k in LEAK_KINDS:
        b, n = summary.get(k, (0, 0))
        lb, ln = listed[k]
        if lb > b or ln > n:
            profile.warn(f"the loss records list {lb} bytes in {ln} blocks as {k} but valgrind's LEAK SUMMARY "
                         f"states {b} bytes in {n} blocks; is this the log of several runs?")
            continue
        if b > lb or n > ln:
            values[index[k]], values[index[k] + 1] = b - lb, n - ln
            missing.append(f"{b - lb} bytes in {n - ln} blocks {k}")
    if missing:
        values[0] = values[index["definite"]] + values[index["indirect"]]
        values[1] = values[index["definite"] + 1] + values[index["indirect"] + 1]
        profile.add(Sample(values, (stacks.pseudo(NOT_LISTED),)))
        profile.warn("valgrind's LEAK SUMMARY counts " + ", ".join(missing) + " that no loss record lists "
                     f"(run valgrind with --show-leak-kinds=all to see their stacks); shown as {NOT_LISTED}")
