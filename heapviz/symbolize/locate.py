"""Find the ELF file to symbolize a mapping with, and its separate debug file.

Searches like pprof's PPROF_BINARY_PATH: --symbol-path directories (build-id layouts,
basename, full path, .debug files), then the path recorded in the profile; debug files via
build id, .gnu_debuglink (with its CRC) and /usr/lib/debug.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator, Sequence

from heapviz.symbolize import elf

SYSTEM_DEBUG_DIRS = ("/usr/lib/debug",)


def _binary_candidates(file: str, build_id: str, dirs: Sequence[str]) -> Iterator[str]:
    base = os.path.basename(file)
    rel = file.lstrip("/")
    for d in dirs:
        if build_id:
            yield os.path.join(d, build_id, base)
            yield os.path.join(d, base, build_id)
            yield os.path.join(d, build_id[:2], build_id[2:] + ".debug")
            yield os.path.join(d, ".build-id", build_id[:2], build_id[2:] + ".debug")
        if base:
            yield os.path.join(d, base)
        if rel:
            yield os.path.join(d, rel)
            yield os.path.join(d, rel + ".debug")
    if file:
        yield file


def find_binary(
    file: str, build_id: str, dirs: Sequence[str]
) -> tuple[elf.ElfInfo | None, list[str]]:
    """The first readable ELF candidate whose build id (when both are known) matches.

    Returns (info, problems): problems says what was wrong with candidates that exist.
    """
    problems: list[str] = []
    seen: set[str] = set()
    for cand in _binary_candidates(file, build_id, dirs):
        if cand in seen or not os.path.isfile(cand):
            continue
        seen.add(cand)
        try:
            info = elf.read(cand)
        except elf.NotElf as e:
            problems.append(str(e))
            continue
        except OSError as e:
            problems.append(f"{cand}: cannot read ({e.strerror or e})")
            continue
        if build_id and info.build_id and info.build_id != build_id:
            problems.append(f"{cand}: build id {info.build_id} differs from the profile's {build_id}")
            continue
        return info, problems
    return None, problems


def find_debug_file(info: elf.ElfInfo, dirs: Sequence[str]) -> tuple[elf.ElfInfo | None, list[str]]:
    """A separate debug file for a binary without DWARF, or None; and what was wrong with the
    candidates that exist. Looked up as gdb does: by build id (`DIR/.build-id/xx/yyyy.debug`, and
    `DIR/xx/yyyy.debug`) in the --symbol-path directories and /usr/lib/debug, then by the name in
    .gnu_debuglink beside the binary, in its `.debug/` directory and under those directories. A
    file found by name must have the binary's build id or, when either has none, the CRC that
    .gnu_debuglink records."""
    if info.has_debug_info:
        return None, []
    cands: list[tuple[str, bool]] = []  # (path, found by name)
    all_dirs = [*dirs, *SYSTEM_DEBUG_DIRS]
    if info.build_id:
        bid = info.build_id
        for d in all_dirs:
            cands.append((os.path.join(d, ".build-id", bid[:2], bid[2:] + ".debug"), False))
            cands.append((os.path.join(d, bid[:2], bid[2:] + ".debug"), False))
    if info.debuglink:
        here = os.path.dirname(os.path.abspath(info.path))
        cands.append((os.path.join(here, info.debuglink), True))
        cands.append((os.path.join(here, ".debug", info.debuglink), True))
        for d in all_dirs:
            cands.append((os.path.join(d, here.lstrip("/"), info.debuglink), True))
            cands.append((os.path.join(d, info.debuglink), True))
    problems: list[str] = []
    seen: set[str] = set()
    for cand, by_name in cands:
        if cand in seen or not os.path.isfile(cand) or os.path.abspath(cand) == os.path.abspath(info.path):
            continue
        seen.add(cand)
        dbg, problem = check_debug_file(info, cand, by_name)
        if dbg is not None:
            return dbg, problems
        if problem:
            problems.append(problem)
    return None, problems


def check_debug_file(info: elf.ElfInfo, path: str, by_name: bool = False) -> tuple[elf.ElfInfo | None, str]:
    """The debug file at path when it belongs to the binary `info` and has symbols; else None and
    why not ("" when it is not worth saying)."""
    try:
        dbg = elf.read(path)
    except elf.NotElf as e:
        return None, str(e)
    except OSError as e:
        return None, f"{path}: cannot read ({e.strerror or e})"
    if info.build_id and dbg.build_id:
        if dbg.build_id != info.build_id:
            return None, f"{path}: build id {dbg.build_id} differs from {os.path.basename(info.path)}'s {info.build_id}"
    elif by_name and info.debuglink_crc is not None:
        try:
            crc = file_crc(path)
        except OSError as e:
            return None, f"{path}: cannot read ({e.strerror or e})"
        if crc != info.debuglink_crc:
            return None, (f"{path}: its CRC {crc:08x} differs from the {info.debuglink_crc:08x} that "
                          f"{os.path.basename(info.path)}'s .gnu_debuglink records: it is another build's")
    if not (dbg.has_debug_info or dbg.has_symtab):
        return None, f"{path} has neither debug info nor a symbol table"
    return dbg, ""


def file_crc(path: str) -> int:
    """The CRC-32 of a file's contents, as .gnu_debuglink records it (zlib's polynomial)."""
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc
