"""Find the ELF file to symbolize a mapping with, and its separate debug file.

Searches like pprof's PPROF_BINARY_PATH: --symbol-path directories (build-id layouts,
basename, full path, .debug files), then the path recorded in the profile; debug files via
build id, .gnu_debuglink and /usr/lib/debug.
"""

from __future__ import annotations

import os
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


def find_debug_file(info: elf.ElfInfo, dirs: Sequence[str]) -> elf.ElfInfo | None:
    """A separate debug file for a binary without DWARF, or None."""
    if info.has_debug_info:
        return None
    cands: list[str] = []
    all_dirs = [*dirs, *SYSTEM_DEBUG_DIRS]
    if info.build_id:
        bid = info.build_id
        for d in all_dirs:
            cands.append(os.path.join(d, ".build-id", bid[:2], bid[2:] + ".debug"))
            cands.append(os.path.join(d, bid[:2], bid[2:] + ".debug"))
    if info.debuglink:
        here = os.path.dirname(os.path.abspath(info.path))
        cands.append(os.path.join(here, info.debuglink))
        cands.append(os.path.join(here, ".debug", info.debuglink))
        for d in all_dirs:
            cands.append(os.path.join(d, here.lstrip("/"), info.debuglink))
            cands.append(os.path.join(d, info.debuglink))
    for cand in cands:
        if not os.path.isfile(cand) or os.path.abspath(cand) == os.path.abspath(info.path):
            continue
        try:
            dbg = elf.read(cand)
        except (elf.NotElf, OSError):
            continue
        if info.build_id and dbg.build_id and dbg.build_id != info.build_id:
            continue
        if dbg.has_debug_info or dbg.has_symtab:
            return dbg
    return None
