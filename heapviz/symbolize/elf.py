"""ELF headers heapviz needs: type, PT_LOAD segments, build id, debug link, debug info, and
function symbols (.symtab, .dynsym, and the MiniDebugInfo `.gnu_debugdata` section).

Uses pyelftools for headers and symbols only; DWARF is left to the external symbolizer.
"""

from __future__ import annotations

import io
import lzma
import os
from dataclasses import dataclass, field

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from heapviz.model import Mapping

PF_X = 1


@dataclass(frozen=True)
class Segment:
    offset: int
    vaddr: int
    filesz: int
    memsz: int
    executable: bool


@dataclass
class ElfInfo:
    path: str
    e_type: str  # ET_EXEC, ET_DYN, ET_REL
    machine: str
    segments: list[Segment] = field(default_factory=list)
    build_id: str = ""
    debuglink: str = ""
    debuglink_crc: int | None = None  # the CRC-32 of the debug file, as .gnu_debuglink records it
    has_debugdata: bool = False  # a .gnu_debugdata section (MiniDebugInfo: an xz-compressed .symtab)
    has_debug_info: bool = False
    has_symtab: bool = False
    size: int = 0
    mtime: float = 0.0


class NotElf(Exception):
    pass


_read_before: dict[tuple[str, int, int, int, int], ElfInfo] = {}  # a series' dumps share their binaries


def read(path: str) -> ElfInfo:
    """Read the headers of an ELF file (once per file and version of it in this process); raise
    NotElf (or OSError) when it is not one."""
    st = os.stat(path)
    key = (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    info = _read_before.get(key)
    if info is None:
        info = _read_before[key] = _read(path, st)
    return info


def _read(path: str, st: os.stat_result) -> ElfInfo:
    with open(path, "rb") as f:
        if f.read(4) != b"\x7fELF":
            raise NotElf(f"{path} is not an ELF file")
        f.seek(0)
        try:
            elf = ELFFile(f)
            info = ElfInfo(path=path, e_type=elf["e_type"], machine=elf["e_machine"], size=st.st_size,
                           mtime=st.st_mtime)
            for seg in elf.iter_segments():
                if seg["p_type"] == "PT_LOAD":
                    info.segments.append(
                        Segment(
                            offset=seg["p_offset"],
                            vaddr=seg["p_vaddr"],
                            filesz=seg["p_filesz"],
                            memsz=seg["p_memsz"],
                            executable=bool(seg["p_flags"] & PF_X),
                        )
                    )
            for sec in elf.iter_sections():
                name = sec.name
                if name == ".note.gnu.build-id":
                    for note in sec.iter_notes():  # type: ignore[attr-defined]
                        if note["n_type"] == "NT_GNU_BUILD_ID":
                            info.build_id = str(note["n_desc"])
                elif name == ".gnu_debuglink":
                    data = sec.data()
                    info.debuglink = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                    # the name, NUL-padded to 4 bytes, then the CRC in the file's byte order
                    at = (data.index(b"\0") // 4 + 1) * 4 if b"\0" in data else len(data)
                    if len(data) >= at + 4:
                        crc = data[at:at + 4]
                        info.debuglink_crc = int.from_bytes(crc, "little" if elf.little_endian else "big")
                elif name == ".gnu_debugdata" and sec["sh_type"] != "SHT_NOBITS":
                    info.has_debugdata = sec["sh_size"] > 0
                elif name in (".debug_info", ".zdebug_info") and sec["sh_type"] != "SHT_NOBITS":
                    info.has_debug_info = sec["sh_size"] > 0
                elif name == ".symtab":
                    info.has_symtab = True
        except (ELFError, ValueError, KeyError, IndexError, AssertionError) as e:
            raise NotElf(f"{path}: malformed ELF file ({e})") from e
        except Exception as e:  # pyelftools raises assorted errors on truncated files
            raise NotElf(f"{path}: malformed ELF file ({type(e).__name__}: {e})") from e
    return info


def load_base(mapping: Mapping, info: ElfInfo) -> int | None:
    """The value to subtract from a runtime address to get the ELF virtual address.

    The PT_LOAD segment holding the mapping's file offset gives
    base = start - offset + p_offset - p_vaddr; this one formula covers PIE, shared
    libraries, non-PIE executables and lld's non-zero executable offsets. None when no
    segment covers the mapping (a sign of a different build).
    """
    if info.e_type == "ET_REL":
        return mapping.start
    if mapping.start == 0 and mapping.offset == 0 and mapping.limit in (0, (1 << 64) - 1):
        return 0
    best: Segment | None = None
    for seg in info.segments:
        page_off = seg.offset & ~0xFFF
        if page_off <= mapping.offset < seg.offset + max(seg.filesz, 1):
            if best is None or (seg.executable and not best.executable):
                best = seg
    if best is None:
        if info.e_type == "ET_EXEC":
            return 0
        return None
    return mapping.start - mapping.offset + best.offset - best.vaddr


def in_executable_segment(vaddr: int, info: ElfInfo) -> bool:
    return any(s.executable and s.vaddr <= vaddr < s.vaddr + s.memsz for s in info.segments)


@dataclass(frozen=True)
class FunctionSymbol:
    name: str  # as in the symbol table (mangled for C++)
    start: int  # ELF virtual address
    size: int


def function_symbols(path: str) -> list[FunctionSymbol]:
    """The functions of an ELF file with their address ranges, from .symtab (or, when the file is
    stripped, .dynsym and the MiniDebugInfo symbols), in address order; functions of size 0 are
    left out."""
    out: dict[tuple[int, str], FunctionSymbol] = {}
    with open(path, "rb") as f:
        try:
            elf = ELFFile(f)
            has_symtab = _add_symbols(elf, out)
            debugdata = elf.get_section_by_name(".gnu_debugdata")
        except Exception as e:  # pyelftools raises assorted errors on truncated files
            raise NotElf(f"{path}: malformed ELF file ({type(e).__name__}: {e})") from e
        if not has_symtab and debugdata is not None and debugdata["sh_type"] != "SHT_NOBITS":
            for sym in minidebuginfo_symbols(path):
                out.setdefault((sym.start, sym.name), sym)
    return sorted(out.values(), key=lambda s: (s.start, s.name))


def _add_symbols(elf: ELFFile, out: dict[tuple[int, str], FunctionSymbol]) -> bool:
    """Add the defined, sized functions of .symtab (else .dynsym) to out; whether .symtab was there."""
    tables = [s for s in (elf.get_section_by_name(".symtab"), elf.get_section_by_name(".dynsym"))
              if s is not None and s["sh_type"] != "SHT_NOBITS"]
    for table in tables[:1]:
        for sym in table.iter_symbols():  # type: ignore[attr-defined]
            if sym["st_info"]["type"] == "STT_FUNC" and sym["st_size"] > 0 and sym["st_shndx"] != "SHN_UNDEF":
                out.setdefault((sym["st_value"], sym.name), FunctionSymbol(sym.name, sym["st_value"], sym["st_size"]))
    return bool(tables) and tables[0].name == ".symtab"


# MiniDebugInfo is small (Fedora's hold function names only); anything far larger is not one.
MAX_DEBUGDATA_BYTES = 256 << 20


class BadDebugData(Exception):
    pass


_mini_before: dict[tuple[str, int, int], list[FunctionSymbol]] = {}


def minidebuginfo_symbols(path: str) -> list[FunctionSymbol]:
    """The functions in the `.gnu_debugdata` section of an ELF file: an xz-compressed ELF file
    whose .symtab holds the names that stripping removed (Fedora keeps the functions that are not
    in .dynsym there). [] when there is no such section; BadDebugData when it cannot be read."""
    st = os.stat(path)
    key = (path, st.st_size, st.st_mtime_ns)
    got = _mini_before.get(key)
    if got is not None:
        return got
    with open(path, "rb") as f:
        try:
            sec = ELFFile(f).get_section_by_name(".gnu_debugdata")
            packed = sec.data() if sec is not None and sec["sh_type"] != "SHT_NOBITS" else b""
        except Exception as e:  # pyelftools raises assorted errors on truncated files
            raise NotElf(f"{path}: malformed ELF file ({type(e).__name__}: {e})") from e
    out: dict[tuple[int, str], FunctionSymbol] = {}
    if packed:
        try:
            dec = lzma.LZMADecompressor()
            data = dec.decompress(packed, max_length=MAX_DEBUGDATA_BYTES)
        except lzma.LZMAError as e:
            raise BadDebugData(f"{path}: its .gnu_debugdata section is not xz data ({e})") from e
        if not dec.eof:
            raise BadDebugData(f"{path}: its .gnu_debugdata section is truncated or larger than "
                               f"{MAX_DEBUGDATA_BYTES >> 20} MiB")
        if not data.startswith(b"\x7fELF"):
            raise BadDebugData(f"{path}: its .gnu_debugdata section does not hold an ELF file")
        try:
            _add_symbols(ELFFile(io.BytesIO(data)), out)
        except Exception as e:  # pyelftools raises assorted errors on truncated files
            raise BadDebugData(f"{path}: its .gnu_debugdata section holds a malformed ELF file "
                               f"({type(e).__name__}: {e})") from e
    syms = _mini_before[key] = sorted(out.values(), key=lambda s: (s.start, s.name))
    return syms
