"""Where a relative source path in a binary's DWARF is relative to: its compilation units'
DW_AT_comp_dir. A build that records `-fdebug-prefix-map=$PWD=.` (reproducible builds) leaves the
symbolizer with paths such as `./../src/a.c`; joined to the compilation directory, and that to the
binary's own directory when it is relative too, they name the file again.
"""

from __future__ import annotations

import functools
import os

MAX_DIRS = 16  # distinct compilation directories tried per binary


@functools.lru_cache(maxsize=64)
def comp_dirs(binary: str) -> tuple[str, ...]:
    """The distinct DW_AT_comp_dir of the binary's compilation units, in their order; () when it
    has no DWARF or cannot be read. Only each unit's top DIE is parsed."""
    try:
        from elftools.common.exceptions import ELFError
        from elftools.elf.elffile import ELFFile
    except ImportError:  # pyelftools is a dependency; a broken install only loses this lookup
        return ()
    found: list[str] = []
    try:
        with open(binary, "rb") as f:
            elf = ELFFile(f)
            if not elf.has_dwarf_info():
                return ()
            for cu in elf.get_dwarf_info().iter_CUs():
                attr = cu.get_top_DIE().attributes.get("DW_AT_comp_dir")
                if attr is None:
                    continue
                value = attr.value.decode("utf-8", "surrogateescape") if isinstance(attr.value, bytes) \
                    else str(attr.value)
                if value and value not in found:
                    found.append(value)
                    if len(found) >= MAX_DIRS:
                        break
    except (OSError, ELFError, ValueError, KeyError, AssertionError, IndexError):
        return tuple(found)
    return tuple(found)


def candidates(recorded: str, binaries: set[str] | frozenset[str] | tuple[str, ...]) -> list[str]:
    """Where a relative recorded source path may be: under each compilation directory of each
    binary its frames came from; a relative compilation directory taken from the binary's own
    directory (where such builds usually leave it). Absolute paths have no candidates."""
    if not recorded or os.path.isabs(recorded):
        return []
    out: list[str] = []
    for binary in sorted(binaries):
        for d in comp_dirs(binary):
            base = d if os.path.isabs(d) else os.path.join(os.path.dirname(os.path.abspath(binary)), d)
            cand = os.path.normpath(os.path.join(base, recorded))
            if cand not in out:
                out.append(cand)
    return out
