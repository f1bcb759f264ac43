"""The stderr log of gperftools' heap checker (`HEAPCHECK=normal|strict|draconian`): its
"Leak of N bytes in M objects allocated from:" blocks, one sample each.

The log has no memory map. Frames the checker already named (it runs pprof when it finds
it: PPROF_PATH) keep that name and are not symbolized again, so they have no inline frames or
lines; frames without a name get one from `--binary` when that is a non-PIE program, and are
shown as `0x…` otherwise. For PIE programs without names use the checker's `.heap` file.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from heapviz.formats.heap_values import MAX_STACK_DEPTH, SAMPLE_TYPES
from heapviz.model import TRUNCATED_STACK, UNKNOWN_STACK, Function, Line, Location, Profile, Sample, Value, ValueType
from heapviz.symbolize.demangle import demangle

if TYPE_CHECKING:
    from heapviz.formats import LineReader

NAME = "heapcheck_log"
DESCRIPTION = "gperftools heap-checker logs (stderr of a HEAPCHECK=normal run)"

_BANNER = rb"WARNING: Perftools heap leak checker is active"
_CHECK = re.compile(rb"Leak check (.+?) detected leaks of (\d+) bytes in (\d+) objects")
_NO_LEAKS = re.compile(rb'No leaks found for check "(.*?)"')
_LEAK = re.compile(rb"^\s*Leak of (\d+) bytes in (\d+) objects allocated from:\s*$")
_FRAME = re.compile(rb"^\s*@\s")
_FRAME_FULL = re.compile(rb"^\s*@\s+([0-9a-fA-F]{1,16})(?:\s+(.*?))?\s*$")
_SKIPPED = re.compile(rb"Skipping leaks numbered (\d+)\.\.(\d+)")
_MAX_U64 = (1 << 64) - 1


def sniff(head: bytes) -> bool:
    """The checker's start-up banner, a leak summary or a leak block within the first bytes.

    The banner is printed before main() runs, so it precedes the program's own output; a log
    whose first 4 KiB hold none of these lines (banner cut off, long output) is not recognized.
    """
    if head.lstrip().startswith((b"heap profile:", b"heap_v2/")):
        return False
    return (_BANNER in head or _CHECK.search(head) is not None or _NO_LEAKS.search(head) is not None
            or re.search(rb"(?m)^\s*Leak of \d+ bytes in \d+ objects allocated from:", head) is not None)


class _Block:
    def __init__(self, size: int, count: int, line_no: int) -> None:
        self.size = size
        self.count = count
        self.line_no = line_no
        self.frames: list[tuple[int, str]] = []  # (return address, symbol or "") leaf first


def parse(reader: LineReader) -> Profile:
    profile = Profile(
        sample_types=list(SAMPLE_TYPES),
        source=reader.path,
        kind="heapcheck_log",
        default_sample_type="inuse_space",
        period_type=ValueType("space", "bytes"),
        period=1,
        size_pairs=((0, 1), (2, 3)),
    )
    blocks: list[_Block] = []
    current: _Block | None = None
    stated_bytes = stated_objects = 0
    checks: list[str] = []
    clean: list[str] = []
    skipped = 0
    for line in reader:
        if current is not None and _FRAME.match(line):
            m = _FRAME_FULL.match(line)
            if not m:
                shown = line[:60].decode("utf-8", "replace")
                raise reader.error(f"malformed stack frame line in a leak report: {shown!r}")
            symbol = (m.group(2) or b"").decode("utf-8", "surrogateescape")
            current.frames.append((int(m.group(1), 16), symbol))
            continue
        current = None
        m = _LEAK.match(line)
        if m:
            size, count = int(m.group(1)), int(m.group(2))
            if count == 0 and size != 0:
                raise reader.error("leak of bytes in 0 objects")
            current = _Block(size, count, reader.line_no)
            blocks.append(current)
            continue
        m = _CHECK.search(line)
        if m:
            checks.append(m.group(1).decode("utf-8", "replace"))
            stated_bytes += int(m.group(2))
            stated_objects += int(m.group(3))
            if not profile.header:
                profile.header = line.strip().decode("utf-8", "replace")
            continue
        m = _NO_LEAKS.search(line)
        if m:
            clean.append(m.group(1).decode("utf-8", "replace"))
            continue
        m = _SKIPPED.search(line)
        if m:
            skipped += int(m.group(2)) - int(m.group(1)) + 1
    if not blocks and not checks and not clean:
        raise reader.error("no heap-checker leak report in this log (no 'Leak check … detected leaks' "
                           "and no 'No leaks found' line)", 0)
    if checks:
        profile.comments.append(f"heap check {', '.join(checks)}: {stated_bytes} bytes leaked in "
                                f"{stated_objects} objects")
    for name in clean:
        profile.comments.append(f"heap check {name}: no leaks found")
    profile.comments.append("leaked objects only: alloc values equal in-use values")
    if checks:
        for vt, v in zip(SAMPLE_TYPES, (stated_objects, stated_bytes) * 2, strict=True):
            profile.header_totals[vt.type] = v
    _build(profile, blocks)
    _check_totals(profile, stated_bytes, stated_objects, bool(checks), skipped)
    return profile


def _build(profile: Profile, blocks: list[_Block]) -> None:
    # Named frames are keyed by (address, name); unnamed ones by address alone.
    by_key: dict[tuple[int, str], Location] = {}
    functions: dict[str, Function] = {}
    pseudo: dict[str, Location] = {}
    n_unnamed = n_truncated = 0

    def pseudo_location(name: str) -> Location:
        loc = pseudo.get(name)
        if loc is None:
            fn = Function(id=len(profile.functions) + 1, name=name, system_name=name)
            profile.functions.append(fn)
            loc = Location(id=len(profile.locations) + 1, address=0, lines=(Line(fn),))
            profile.locations.append(loc)
            pseudo[name] = loc
        return loc

    for b in blocks:
        values: list[Value] = [b.count, b.size, b.count, b.size]
        if not b.frames:
            profile.add(Sample(values, (pseudo_location(UNKNOWN_STACK),)))
            continue
        stack: list[Location] = []
        for addr, symbol in b.frames:
            # A return address: one byte back lands on the call instruction.
            address = max(addr - 1, 0)
            loc = by_key.get((address, symbol))
            if loc is None:
                loc = Location(id=len(profile.locations) + 1, address=address)
                if symbol:
                    fn = functions.get(symbol)
                    if fn is None:
                        fn = Function(id=len(profile.functions) + 1, name=demangle(symbol), system_name=symbol)
                        profile.functions.append(fn)
                        functions[symbol] = fn
                    loc.lines = (Line(fn),)
                else:
                    n_unnamed += 1
                by_key[(address, symbol)] = loc
                profile.locations.append(loc)
            stack.append(loc)
        if len(b.frames) >= MAX_STACK_DEPTH:
            stack.append(pseudo_location(TRUNCATED_STACK))
            n_truncated += 1
        profile.add(Sample(values, tuple(stack)))
    if n_unnamed:
        profile.warn(f"{n_unnamed} addresses in the heap-checker log have no symbol (the checker did not "
                     "find pprof: set PPROF_PATH=/usr/bin/google-pprof when running the program) and the log "
                     "has no memory map: they can be named only with --binary for a non-PIE program; "
                     "otherwise read the checker's .heap file instead")
    if n_truncated:
        profile.warn(f"{n_truncated} leak stacks reached the checker's limit of {MAX_STACK_DEPTH} frames; "
                     f"their missing callers are shown as {TRUNCATED_STACK}")


def _check_totals(profile: Profile, stated_bytes: int, stated_objects: int, have_checks: bool,
                  skipped: int) -> None:
    """The checker lists only its largest leaks (heap_check_max_leaks); its summary line is the total."""
    listed_bytes = sum(s.values[1] for s in profile.samples)
    listed_objects = sum(s.values[0] for s in profile.samples)
    if not have_checks:
        if profile.samples:
            profile.warn("the log has leak blocks but no 'Leak check … detected leaks' summary line; "
                         "the totals are those of the listed leaks only")
        return
    if listed_bytes < stated_bytes or listed_objects < stated_objects:
        why = f" ({skipped} leaks were skipped by the checker)" if skipped else ""
        profile.warn(f"the heap checker states leaks of {stated_bytes} bytes in {stated_objects} objects but "
                     f"lists only {listed_bytes} bytes in {listed_objects} objects{why}; it prints only the "
                     "largest leaks: read its .heap file for all of them")
    elif listed_bytes > stated_bytes or listed_objects > stated_objects:
        profile.warn(f"the listed leaks ({listed_bytes} bytes in {listed_objects} objects) exceed the "
                     f"stated total of {stated_bytes} bytes in {stated_objects} objects; is this the log of "
                     "several runs?")
