"""pprof's `disasm`: each instruction of the functions a regex names, with the flat and cum of
the samples whose frame is at it and its file:line. Instructions come from objdump on the
function's address range in the symbol table. No formatting here: render/listing.py prints it.
"""

from __future__ import annotations

import bisect
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

from heapviz.errors import ToolMissing
from heapviz.model import Mapping, Sample, Value
from heapviz.source import SourceReader, clean
from heapviz.symbolize import elf
from heapviz.symbolize.demangle import demangle_many, display_name, simplify

_INSN = re.compile(r"^\s*([0-9a-fA-F]+):\s+(.*)$")
_FILE_LINE = re.compile(r"^(.*):(\d+)(?: \(discriminator \d+\))?$")
_FUNCTION = re.compile(r"^(\S.*):$")
# objdump --inlines: the function above was inlined at FILE:LINE into CALLER (a linkage name)
_INLINED_BY = re.compile(r"^inlined by (.*):(\d+)(?: \(discriminator \d+\))? \((.*)\)$")


@dataclass
class InlinedInto:
    """One step out of inlined code: the caller it was inlined into, at its call's file:line."""

    function: str
    file: str
    line: int
    source: str | None = None  # the line's text, when --source found the file


@dataclass
class Instruction:
    address: int  # ELF virtual address, as objdump prints it
    text: str
    function: str = ""  # objdump's, for the line the instruction is on (innermost inlined function)
    file: str = ""
    line: int = 0
    flat: Value = 0
    cum: Value = 0
    # with --source: the callers the code was inlined into, innermost first, and the line's text
    inlined: list[InlinedInto] = field(default_factory=list)
    source: str | None = None


@dataclass
class Routine:
    name: str
    full_name: str
    binary: str
    start: int
    end: int
    flat: Value = 0
    cum: Value = 0
    instructions: list[Instruction] = field(default_factory=list)


@dataclass
class _Binary:
    path: str
    base: int  # runtime address - base = ELF virtual address
    flat: dict[int, Value] = field(default_factory=dict)  # by ELF virtual address
    cum: dict[int, Value] = field(default_factory=dict)


def _binaries(samples: Sequence[Sample], sample_index: int) -> list[_Binary]:
    """Per binary, the value at each sampled address: flat where the address is the leaf, cum
    once per sample (pprof's graph at address granularity without inline frames)."""
    found: dict[int, _Binary | None] = {}
    for s in samples:
        v = s.values[sample_index]
        if v == 0:
            continue
        seen: set[tuple[int, int]] = set()
        for i, loc in enumerate(s.locations):
            m = loc.mapping
            if m is None:
                continue
            if id(m) not in found:
                found[id(m)] = _open(m)
            b = found[id(m)]
            if b is None:
                continue
            vaddr = loc.address - b.base
            if i == 0:
                b.flat[vaddr] = b.flat.get(vaddr, 0) + v
            if (id(b), vaddr) not in seen:
                seen.add((id(b), vaddr))
                b.cum[vaddr] = b.cum.get(vaddr, 0) + v
    # several mappings of one file (text and data segments) are one binary
    merged: dict[str, _Binary] = {}
    for b in found.values():
        if b is None:
            continue
        into = merged.setdefault(b.path, _Binary(b.path, b.base))
        for d_from, d_to in ((b.flat, into.flat), (b.cum, into.cum)):
            for a, v in d_from.items():
                d_to[a] = d_to.get(a, 0) + v
    return list(merged.values())


def _open(m: Mapping) -> _Binary | None:
    path = m.symbol_file or m.file
    if not path:
        return None
    try:
        info = elf.read(path)
    except (OSError, elf.NotElf):
        return None
    base = elf.load_base(m, info)
    return None if base is None else _Binary(path, base)


def routines(samples: Sequence[Sample], sample_index: int, regex: re.Pattern[str], demangle: str,
             objdump: str | None = None, timeout_s: float = 120.0, inlines: bool = False) -> list[Routine]:
    """The functions with samples whose name matches `regex` (the name as `top` prints it, the
    full demangled name or the symbol), with their instructions and values, by name."""
    out: list[Routine] = []
    for b in _binaries(samples, sample_index):
        if not b.cum:
            continue
        try:
            syms = elf.function_symbols(b.path)
        except (OSError, elf.NotElf):
            continue
        addrs = sorted(b.cum)
        chosen = []
        for sym in syms:  # only functions with samples
            i = bisect.bisect_left(addrs, sym.start)
            if i < len(addrs) and addrs[i] < sym.start + sym.size:
                chosen.append(sym)
        fulls = demangle_many([s.name for s in chosen])
        for sym, full in zip(chosen, fulls, strict=True):
            short = display_name(full, sym.name, demangle)
            if not (regex.search(short) or regex.search(full) or regex.search(sym.name)):
                continue
            r = Routine(short, full, b.path, sym.start, sym.start + sym.size)
            r.instructions = disassemble(b.path, r.start, r.end, objdump, timeout_s, inlines)
            _annotate(r, b)
            out.append(r)
    return sorted(out, key=lambda r: (r.name, r.binary, r.start))


def _annotate(r: Routine, b: _Binary) -> None:
    """Each sampled address's values on the instruction that holds it (an address inside an
    instruction counts for it, as pprof does)."""
    insts = r.instructions
    for addr in sorted(a for a in b.cum if r.start <= a < r.end):
        flat, cum = b.flat.get(addr, 0), b.cum[addr]
        r.flat += flat
        r.cum += cum
        holder = None
        for inst in insts:
            if inst.address > addr:
                break
            holder = inst
        if holder is None:
            holder = Instruction(addr, "")
            insts.insert(0, holder)
        holder.flat += flat
        holder.cum += cum


def find_objdump() -> str:
    path = shutil.which("objdump")
    if path is None:
        raise ToolMissing("objdump", "binutils")
    return path


def disassemble(path: str, start: int, end: int, objdump: str | None = None,
                timeout_s: float = 120.0, inlines: bool = False) -> list[Instruction]:
    """objdump's instructions in [start, end), each with the function and file:line objdump
    gives for it (--line-numbers); with `inlines`, also the callers inlined code sits in."""
    cmd = [objdump or find_objdump(), "--disassemble", "--demangle", "--no-show-raw-insn", "--line-numbers",
           *(["--inlines"] if inlines else []), f"--start-address={start:#x}", f"--stop-address={end:#x}", path]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, errors="surrogateescape", timeout=timeout_s,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return parse_objdump(proc.stdout)


def parse_objdump(text: str) -> list[Instruction]:
    insts: list[Instruction] = []
    function, file, line = "", "", 0
    chain: list[InlinedInto] = []  # objdump repeats the `inlined by` lines before each instruction
    after_insn = False
    for raw in text.splitlines():
        s = raw.strip()
        m = _INSN.match(s)
        if m:
            insts.append(Instruction(int(m.group(1), 16), m.group(2).strip(), function, file, line, inlined=chain))
            after_insn = True
            continue
        m = _INLINED_BY.match(s)
        if m:
            if after_insn:
                chain, after_insn = [], False
            chain.append(InlinedInto(m.group(3), m.group(1), int(m.group(2))))
            continue
        after_insn = False
        chain = []
        m = _FILE_LINE.match(s)
        if m and not s.endswith(">:"):
            file, line = m.group(1), int(m.group(2))
            continue
        if s.endswith(">:") or not s:
            continue  # the symbol's own header (`0000000000001760 <hv::grow_string()>:`), blank lines
        m = _FUNCTION.match(s)
        if m:  # `hv::grow_string():`, the function (maybe inlined) the next lines belong to
            function = simplify(m.group(1))
            continue
        function, file, line = "", "", 0
    _name_callers(insts)
    return insts


def _name_callers(insts: list[Instruction]) -> None:
    """The linkage names objdump gives for the callers of inlined code, as the functions' names
    are shown (demangled, simplified)."""
    raw = sorted({c.function for inst in insts for c in inst.inlined})
    names = dict(zip(raw, (simplify(n) for n in demangle_many(raw)), strict=True)) if raw else {}
    for chain in {id(inst.inlined): inst.inlined for inst in insts}.values():  # shared by an instruction group
        for c in chain:
            c.function = names.get(c.function, c.function)


def attach_source(routines: list[Routine], reader: SourceReader) -> None:
    """Each instruction's source line and each of its inlining callers' lines, where the file is
    found (source.py's search, relative paths also under the binary's compilation directories)."""
    for r in routines:
        for inst in r.instructions:
            inst.source = _line_text(reader, inst.file, inst.line, r.binary)
            for c in inst.inlined:
                if c.source is None:
                    c.source = _line_text(reader, c.file, c.line, r.binary)


def _line_text(reader: SourceReader, file: str, line: int, binary: str) -> str | None:
    if not file or line <= 0:
        return None
    _, lines, _ = reader.get(clean(file), (binary,))
    return lines[line - 1] if lines is not None and line <= len(lines) else None
