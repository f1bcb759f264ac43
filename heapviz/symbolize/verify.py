"""Check that profile addresses fit a binary: every heap-profile frame is a return address,
so on x86-64 the bytes just before it must encode a call instruction.
"""

from __future__ import annotations

import mmap

from heapviz.symbolize.elf import ElfInfo


def _is_call_before(buf: bytes | mmap.mmap, r: int) -> bool:
    """Does an x86-64 call instruction end at offset r of buf?"""
    if r >= 5 and buf[r - 5] == 0xE8:  # call rel32
        return True
    # call r/m64: opcode ff with ModRM reg field 2, instruction 2..8 bytes long.
    for k in range(2, 9):
        if r >= k and buf[r - k] == 0xFF and (buf[r - k + 1] >> 3) & 7 == 2:
            return True
    return False


def count_non_call_sites(info: ElfInfo, vaddrs: list[int]) -> int | None:
    """How many of the (return address - 1) vaddrs do not follow a call; None if unknown."""
    if info.machine != "EM_X86_64" or not vaddrs:
        return None
    try:
        with open(info.path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            bad = 0
            for v in vaddrs:
                r = v + 1
                for seg in info.segments:
                    if seg.executable and seg.vaddr <= v < seg.vaddr + seg.filesz:
                        off = r - seg.vaddr + seg.offset
                        if off > len(mm) or not _is_call_before(mm, off):
                            bad += 1
                        break
            return bad
    except (OSError, ValueError):
        return None
